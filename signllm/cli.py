"""The `signllm` command: a thin layer over the Python API.

Errors a user can fix (bad files, unknown options) print one line naming the file and line or
field, and exit with code 2; no traceback, no partial output.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from .errors import SignLLMError, UsageError
from .pose import Pose


def _read_opts(args: argparse.Namespace) -> dict:
    lang = getattr(args, "lang", None)
    if lang:
        from .languages import get_language

        lang = get_language(lang).code  # "DGS", "German Sign Language" -> "gsg"
    return {
        "scale": getattr(args, "scale", None),
        "fps": getattr(args, "fps", None),
        "language": lang,
        "variant": getattr(args, "variant", None),
    }


def _select(poses: Iterator[Pose], wanted: str | None) -> Iterator[Pose]:
    if wanted is None:
        yield from poses
        return
    found = False
    for n, pose in enumerate(poses, start=1):
        if wanted in (pose.meta.id, str(n)) or pose.meta.id.endswith("/" + wanted):
            found = True
            yield pose
    if not found:
        raise UsageError(f"no clip with id or number {wanted!r}")


def info_dict(pose: Pose) -> dict:
    return {
        "id": pose.meta.id,
        "frames": pose.num_frames,
        "fps": round(pose.fps, 3),
        "seconds": round(pose.duration, 3),
        "joints": pose.num_joints,
        "dims": pose.ndim,
        "missing_pct": round(100 * pose.missing_fraction, 2),
        "language": pose.meta.language,
        "text": pose.meta.text,
        "gloss": pose.meta.gloss,
        "split": pose.meta.split,
    }


def cmd_info(args: argparse.Namespace) -> int:
    from .data.formats import read_poses

    for path in args.files:
        fmt = args.format
        for pose in _select(read_poses(path, fmt=fmt, **_read_opts(args)), args.id):
            d = info_dict(pose)
            if args.json:
                print(json.dumps({"file": str(path), **d}, ensure_ascii=False))
                continue
            line = (
                f"{path} [{d['id']}]: {d['frames']} frames @ {d['fps']:g} fps "
                f"({d['seconds']:.2f} s), {d['joints']} joints, {d['dims']}D, "
                f"{d['missing_pct']:.1f}% missing"
            )
            if d["language"]:
                line += f", language {d['language']}"
            print(line)
            if d["text"]:
                print(f"  text:  {d['text']}")
            if d["gloss"]:
                print(f"  gloss: {d['gloss']}")
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    from .data.formats import read_poses, write_poses

    poses = _select(read_poses(args.input, fmt=args.from_format, **_read_opts(args)), args.id)
    out = write_poses(poses, args.output, fmt=args.to_format, scale=args.scale)
    print(f"wrote {out}")
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from .data.formats import read_poses
    from .render import render

    poses = list(_select(read_poses(args.input, **_read_opts(args)), args.id))
    if len(poses) != 1:
        raise UsageError(f"{args.input} holds {len(poses)} clips; pick one with --id")
    kw = {}
    if Path(args.output).suffix.lower() in (".mp4", ".gif"):
        kw = {"width": args.width, "height": args.height}
        if args.caption:
            kw["caption"] = poses[0].meta.text or None
    print(f"wrote {render(poses[0], args.output, **kw)}")
    return 0


def cmd_demo_corpus(args: argparse.Namespace) -> int:
    from .data.demo_corpus import build_demo_corpus
    from .data.fingerspell import load_lexicon

    lexicon = load_lexicon(args.lexicon) if args.lexicon else None
    summary = build_demo_corpus(
        args.output, workers=args.workers, lexicon=lexicon, seed=args.seed, progress=True
    )
    total = summary.get("total", {})
    print(
        f"demo corpus: {total.get('clips')} clips, {total.get('hours', 0):.2f} h in {args.output}"
    )
    return 0


def write_translation(t, out: str) -> Path:
    """One output file of a translation, chosen by its extension."""
    suffix = Path(out).suffix.lower()
    if suffix in (".pose", ".skels"):
        from .data.formats import write_poses

        return write_poses([t.pose], out)
    if suffix in (".mp4", ".gif", ".bvh"):
        from .render import render

        kw = {"caption": t.text} if suffix != ".bvh" else {}
        return render(t.pose, out, **kw)
    if suffix == ".json":
        from .fileio import atomic_write

        doc = {**t.to_dict(), "joints": list(t.pose.skel.joints),
               "frames_xyz": t.pose.data.round(4).tolist()}  # fmt: skip
        with atomic_write(out, encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False)
        return Path(out)
    raise UsageError(
        f"unknown output type {suffix!r}: use .pose, .skels, .mp4, .gif, .bvh or .json"
    )


def cmd_translate(args: argparse.Namespace) -> int:
    from .api import Translator

    outs = args.output or []
    for out in outs:  # fail on a bad extension before the model loads
        if Path(out).suffix.lower() not in (".pose", ".skels", ".mp4", ".gif", ".bvh", ".json"):
            raise UsageError(f"{out}: unknown output type; use .pose .skels .mp4 .gif .bvh .json")
    translator = Translator(args.model, lexicon=args.lexicon, max_frames=args.max_frames)
    t = translator.translate(" ".join(args.text), args.lang, mode=args.mode)
    print(
        f"{t.language} ({t.mode}): {t.pose.num_frames} frames @ {t.pose.fps:g} fps"
        + (f"; fingerspelled: {', '.join(t.fingerspelled)}" if t.fingerspelled else "")
        + (f"; skipped (unknown, no alphabet): {', '.join(t.skipped)}" if t.skipped else "")
    )
    for out in outs:
        print(f"wrote {write_translation(t, out)}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from .train.trainer import cmd_train as run

    return run(args)


def cmd_train_prompt(args: argparse.Namespace) -> int:
    from .train.prompt_text import train_prompt_text

    langs = args.languages.split(",") if args.languages else None
    out = train_prompt_text(args.data, args.out, split=args.split, languages=langs,
                            steps=args.steps, seed=args.seed)  # fmt: skip
    print(f"wrote {out}")
    return 0


def cmd_languages(args: argparse.Namespace) -> int:
    from .languages import all_languages

    for lang in all_languages():
        if args.json:
            print(json.dumps({"code": lang.code, "name": lang.name, "aliases": list(lang.aliases),
                              "spoken_languages": list(lang.spoken_languages),
                              "prompt2sign": lang.prompt2sign, "corpus": lang.corpus,
                              "fingerspelling": lang.fingerspelling}, ensure_ascii=False))  # fmt: skip
            continue
        tags = [t for t, on in (("Prompt2Sign", lang.prompt2sign),
                                ("fingerspelling", lang.fingerspelling)) if on]  # fmt: skip
        aliases = ", ".join(lang.aliases)
        print(f"{lang.code}  {lang.name}" + (f" ({aliases})" if aliases else "")
              + f"  spoken: {'/'.join(lang.spoken_languages)}"
              + (f"  [{', '.join(tags)}]" if tags else ""))  # fmt: skip
    return 0


def samples_dir() -> Path:
    """The real sample data shipped inside the package (see assets/samples/README.md)."""
    return Path(str(resources.files("signllm") / "assets" / "samples"))


def cmd_demo(args: argparse.Namespace) -> int:
    """Read each bundled sample format, print what it holds, and convert it both ways."""
    from .data.formats import read_poses, write_poses

    s = samples_dir()
    out = Path(args.output)
    jobs = [
        ("PHOENIX-2014T .skels (DGS, 3D)", s / "phoenix14t" / "dev.skels", "gsg", out / "phoenix_dev"),
        ("How2Sign OpenPose JSON (ASL, 2D)", s / "how2sign" / "openpose_json", "ase",
         out / "how2sign"),
        ("Swiss-German lexicon, MediaPipe .pose (DSGS)", s / "mediapipe_lexicon", "sgg",
         out / "dsgs_lexicon.skels"),
        ("pose-format OpenPose .pose", s / "pose_format" / "openpose.pose", "",
         out / "openpose_sample.skels"),
    ]  # fmt: skip
    for title, src, lang, dst in jobs:
        print(f"== {title}: {src}")
        poses = list(read_poses(src, language=lang))
        for pose in poses:
            d = info_dict(pose)
            print(
                f"  {d['id']}: {d['frames']} frames @ {d['fps']:g} fps, {d['dims']}D, "
                f"{d['missing_pct']:.1f}% missing" + (f" | {d['text']}" if d["text"] else "")
            )
        print(f"  -> {write_poses(poses, dst)}")
    print(f"outputs in {out}/ (open the .pose files with pose-format's visualize_pose)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="signllm", description="Sign language production: text in, signing skeleton out."
    )
    parser.add_argument("--version", action="version", version=f"signllm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def read_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--id", help="only the clip with this id (or 1-based number)")
        p.add_argument(
            "--scale",
            type=float,
            help=".skels value scale (default 3, Progressive Transformers; Prompt2Sign uses 9)",
        )
        p.add_argument("--fps", type=float, help="frame rate where the input has none")
        p.add_argument("--lang", help="sign language of the input (ISO 639-3), e.g. gsg")
        p.add_argument(
            "--variant",
            choices=["image", "world"],
            help="MediaPipe .pose: image landmarks (default) or world landmarks",
        )

    p = sub.add_parser("info", help="frames, fps, joints, dims, missing %%, text of pose files")
    p.add_argument("files", nargs="+", help=".skels, .pose, OpenPose JSON folder, lexicon folder")
    p.add_argument("--format", choices=["skels", "pose", "openpose", "lexicon"])
    p.add_argument("--json", action="store_true", help="one JSON object per clip")
    read_options(p)
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("convert", help="convert between .skels, .pose, OpenPose JSON, lexicons")
    p.add_argument("input")
    p.add_argument("output", help="OUT.skels, OUT.pose (one clip), or a folder (lexicon layout)")
    p.add_argument("--from", dest="from_format", choices=["skels", "pose", "openpose", "lexicon"])
    p.add_argument("--to", dest="to_format", choices=["skels", "pose", "lexicon"])
    read_options(p)
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("translate", help="sign a sentence or prompt: text in, skeleton out")
    p.add_argument("text", nargs="+", help="a sentence, or a prompt naming text and language")
    p.add_argument("--lang", "-l", help="sign language: code, name or alias (ase, DGS, ...)")
    p.add_argument("--mode", default="auto", choices=["auto", "mlsf", "prompt", "fingerspelling"])
    p.add_argument("-o", "--output", action="append",
                   help="OUT.pose / .skels / .mp4 / .gif / .bvh / .json (repeatable)")  # fmt: skip
    p.add_argument("--model", help="model folder (default: the model shipped in the package)")
    p.add_argument("--lexicon", help="fingerspelling lexicon folder (default: spoken-to-signed's)")
    p.add_argument("--max-frames", type=int, default=600)
    p.set_defaults(func=cmd_translate)

    from .train.config import add_train_arguments

    p = sub.add_parser("train", help="train a SignLLM model (MLSF or Prompt2LangGloss)")
    add_train_arguments(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("train-prompt", help="train the prompt -> gloss text model")
    p.add_argument("--data", required=True, help="dataset store (signllm data build)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--split", default="train")
    p.add_argument("--languages", help="comma-separated codes (default: every language)")
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_train_prompt)

    from .serve import add_serve_arguments, cmd_serve

    p = sub.add_parser("serve", help="HTTP API and web page (pip install 'signllm[serve]')")
    add_serve_arguments(p)
    p.set_defaults(func=cmd_serve)

    from .eval.bt_checkpoint import add_train_bt_arguments
    from .eval.runner import add_evaluate_arguments

    p = sub.add_parser("train-bt", help="train the back-translation model on ground-truth poses")
    add_train_bt_arguments(p)
    p = sub.add_parser("evaluate", help="back-translation and pose metrics on a held-out split")
    add_evaluate_arguments(p)

    p = sub.add_parser("render", help="draw a clip as a skeleton video (.mp4, .gif) or BVH")
    p.add_argument("input")
    p.add_argument("output", help="OUT.mp4, OUT.gif or OUT.bvh")
    p.add_argument("--width", type=int, default=512)
    p.add_argument("--height", type=int, default=512)
    p.add_argument("--caption", action="store_true", help="write the clip's text under it")
    read_options(p)
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("languages", help="the sign languages SignLLM knows, with their aliases")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_languages)

    data_parser = sub.add_parser(
        "data", help="data pipeline: extract keypoints from videos, build datasets"
    )
    data_sub = data_parser.add_subparsers(dest="data_command", metavar="DATA_COMMAND")
    data_parser.set_defaults(func=lambda _args: (data_parser.print_help(), 2)[1])
    from .data.extract import register_cli as register_extract

    register_extract(data_sub)
    from .data.build import register_cli as register_build

    register_build(data_sub)
    p = data_sub.add_parser(
        "demo", help="build the demo corpus (PHOENIX, How2Sign, DSGS signs, fingerspelling)"
    )
    p.add_argument("-o", "--output", default="data/demo", help="store folder")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--lexicon", help="a fingerspelling lexicon folder (default: spoken-to-signed's)"
    )
    p.set_defaults(func=cmd_demo_corpus)

    p = sub.add_parser("demo", help="read and convert the bundled real samples")
    p.add_argument("-o", "--output", default="signllm-demo", help="output folder")
    p.set_defaults(func=cmd_demo)

    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except SignLLMError as e:
        print(f"signllm: error: {e}", file=sys.stderr)
        return 2
    except (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError) as e:
        print(f"signllm: error: {e.filename}: {e.strerror}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `signllm info ... | head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("signllm: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

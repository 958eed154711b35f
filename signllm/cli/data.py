"""`signllm info | convert | render | samples` and `signllm data build | extract | demo-corpus`.

"demo" means one thing: signing a sentence with the default model (`bash run.sh demo`, the same
as `signllm demo`, in translate.py). The tour of the bundled sample files is `signllm samples`;
the corpus the default model is trained on is `signllm data demo-corpus` (`data demo` is kept as
an alias of it, for older scripts).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..pose import Pose
from .common import add_progress_flag, given

FORMATS = ["skels", "pose", "openpose", "lexicon"]


# --- reading options shared by info, convert and render ---------------------------------------
def add_input_output(p: argparse.ArgumentParser, output_help: str) -> None:
    """The positional INPUT (any pose source `read_poses` takes) and OUTPUT of a command that
    writes what it reads to one file or folder (convert, render)."""
    p.add_argument("input")
    p.add_argument("output", help=output_help)


def add_read_options(p: argparse.ArgumentParser) -> None:
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


def read_opts(args: argparse.Namespace) -> dict:
    """The `read_poses` keyword arguments of the reading options."""
    lang = getattr(args, "lang", None)
    if lang:
        from ..languages import get_language

        lang = get_language(lang).code  # "DGS", "German Sign Language" -> "gsg"
    return {
        "scale": getattr(args, "scale", None),
        "fps": getattr(args, "fps", None),
        "language": lang,
        "variant": getattr(args, "variant", None),
    }


def select(poses: Iterator[Pose], wanted: str | None) -> Iterator[Pose]:
    """The clips whose id (or id suffix, or 1-based number) is `wanted`; all when None."""
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


# --- info, convert, render --------------------------------------------------------------------
def cmd_info(args: argparse.Namespace) -> int:
    import json

    from ..data.formats import read_poses

    for path in args.files:
        fmt = args.format
        for pose in select(read_poses(path, fmt=fmt, **read_opts(args)), args.id):
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


def register_info(sub: Any) -> None:
    p = sub.add_parser("info", help="frames, fps, joints, dims, missing %%, text of pose files")
    p.add_argument("files", nargs="+", help=".skels, .pose, OpenPose JSON folder, lexicon folder")
    p.add_argument("--format", choices=FORMATS)
    p.add_argument("--json", action="store_true", help="one JSON object per clip")
    add_read_options(p)
    p.set_defaults(func=cmd_info)


def cmd_convert(args: argparse.Namespace) -> int:
    from ..data.formats import read_poses, write_poses

    poses = select(read_poses(args.input, fmt=args.from_format, **read_opts(args)), args.id)
    out = write_poses(poses, args.output, fmt=args.to_format, scale=args.scale)
    print(f"wrote {out}")
    return 0


def register_convert(sub: Any) -> None:
    p = sub.add_parser("convert", help="convert between .skels, .pose, OpenPose JSON, lexicons")
    add_input_output(p, "OUT.skels, OUT.pose (one clip), or a folder (lexicon layout)")
    p.add_argument("--from", dest="from_format", choices=FORMATS)
    p.add_argument("--to", dest="to_format", choices=["skels", "pose", "lexicon"])
    add_read_options(p)
    p.set_defaults(func=cmd_convert)


def cmd_render(args: argparse.Namespace) -> int:
    from ..data.formats import read_poses
    from ..render import render

    poses = list(select(read_poses(args.input, **read_opts(args)), args.id))
    if len(poses) != 1:
        raise UsageError(f"{args.input} holds {len(poses)} clips; pick one with --id")
    kw = {}
    if Path(args.output).suffix.lower() in (".mp4", ".gif"):
        kw = {"width": args.width, "height": args.height}
        if args.caption:
            kw["caption"] = poses[0].meta.text or None
    print(f"wrote {render(poses[0], args.output, **kw)}")
    return 0


def register_render(sub: Any) -> None:
    p = sub.add_parser("render", help="draw a clip as a skeleton video (.mp4, .gif) or BVH")
    add_input_output(p, "OUT.mp4, OUT.gif or OUT.bvh")
    p.add_argument("--width", type=int, default=512)
    p.add_argument("--height", type=int, default=512)
    p.add_argument("--caption", action="store_true", help="write the clip's text under it")
    add_read_options(p)
    p.set_defaults(func=cmd_render)


# --- samples: the bundled sample files -------------------------------------------------------
def cmd_samples(args: argparse.Namespace) -> int:
    """Read each bundled sample format, print what it holds, and convert it both ways."""
    from ..assets import samples_dir
    from ..data.formats import read_poses, write_poses

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


def register_samples(sub: Any) -> None:
    p = sub.add_parser("samples", help="read and convert the bundled real sample files")
    p.add_argument("-o", "--output", default="signllm-samples", help="output folder")
    p.set_defaults(func=cmd_samples)


# --- signllm data build -----------------------------------------------------------------------
def add_build_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of `signllm data build`; sets `func` to `cmd_build`."""
    p.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCE",
        help="a .skels, .pose, OpenPose JSON folder, lexicon folder or manifest (.csv/.tsv/.jsonl), "
        "optionally with options: PATH:lang=gsg,split=train,fps=25,scale=9",
    )
    p.add_argument("-o", "--output", required=True, help="store folder (rerun to resume a build)")
    p.add_argument("--workers", type=int, default=1, help="processes (default 1; 0 = one per CPU)")
    p.add_argument("--ray", dest="ray_address", metavar="ADDRESS",
                   help="run the clips on a Ray cluster ('auto', 'ray://host:10001', or 'local')")  # fmt: skip
    p.add_argument("--no-lift", action="store_true", help="keep 2D clips 2D")
    p.add_argument("--no-clean", action="store_true", help="no pruning, interpolation, normalising")
    p.add_argument("--lift-steps", type=int, help="lifting optimiser steps per clip (default 300)")
    p.add_argument("--seed", type=int, default=0, help="split and prompt-template seed (default 0)")
    p.add_argument("--split-ratios", default="0.8,0.1,0.1", metavar="TRAIN,DEV,TEST",
                   help="for clips without a split of their own (default 0.8,0.1,0.1)")  # fmt: skip
    p.add_argument("--lang", help="sign language of sources that name none (code, name or alias)")
    p.add_argument("--fps", type=float, help="frame rate of sources that store none")
    p.add_argument("--min-body-confidence", type=float, default=0.3,
                   help="drop 2D frames whose mean body confidence is below this (default 0.3)")  # fmt: skip
    p.add_argument("--no-resume", action="store_true", help="fail if the store already exists")
    p.add_argument("--skip-bad", action="store_true",
                   help="report and skip clips that fail to read instead of stopping")  # fmt: skip
    add_progress_flag(p)
    p.set_defaults(func=cmd_build)


def cmd_build(args: argparse.Namespace) -> int:
    from ..data.build import build_dataset, format_summary

    summary = build_dataset(
        args.sources,
        args.output,
        lift_2d=not args.no_lift,
        clean=not args.no_clean,
        resume=not args.no_resume,
        progress=args.progress,
        language=args.lang,
        **given(args, "workers", "ray_address", "seed", "split_ratios", "min_body_confidence"),
        **given(args, "fps", "lift_steps", "skip_bad"),
    )
    if not args.progress:
        print(format_summary(summary))
    return 0


def register_build(subparsers: Any) -> argparse.ArgumentParser:
    """Add `build` to a sub-command group (the one of `signllm data`)."""
    p = subparsers.add_parser("build", help="corpora -> cleaned, lifted, normalised training store")
    add_build_arguments(p)
    return p


# --- signllm data extract ---------------------------------------------------------------------
def add_extract_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of `signllm data extract`; sets `func` to `cmd_extract`."""
    from ..data.extract import ENV_VAR, SETUP_HINT, VENV_NAME, VIDEO_SUFFIXES

    p.add_argument("videos", nargs="+", metavar="VIDEO",
                   help=f"video files, or folders of them ({' '.join(VIDEO_SUFFIXES)})")  # fmt: skip
    p.add_argument("-o", "--output", required=True, metavar="DIR",
                   help="folder for the .pose files (one per video, named after it)")  # fmt: skip
    p.add_argument("--complexity", type=int, choices=[0, 1, 2], default=1,
                   help="Holistic model complexity (default 1, the only model that ships with "
                        "mediapipe 0.10.21; 0 and 2 are downloaded on first use)")  # fmt: skip
    p.add_argument("--refine-face", action="store_true",
                   help="478 face points (with irises) instead of 468")  # fmt: skip
    p.add_argument("--workers", type=int, default=1,
                   help="videos processed at once, each in its own process (default 1)")  # fmt: skip
    p.add_argument("--overwrite", action="store_true",
                   help="redo videos whose .pose exists (default: skip them, so a run resumes)")  # fmt: skip
    p.add_argument("--keep-going", action="store_true",
                   help="report a broken video and go on with the others (exit code 2 at the end)")  # fmt: skip
    p.add_argument("--python", metavar="PATH",
                   help=f"the mediapipe environment's python (default: ${ENV_VAR}, then "
                        f"{VENV_NAME}/bin/python; create it with: {SETUP_HINT})")  # fmt: skip
    p.set_defaults(func=cmd_extract)


def cmd_extract(args: argparse.Namespace) -> int:
    from ..data.extract import extract_videos

    report = extract_videos(
        args.videos,
        args.output,
        model_complexity=args.complexity,
        progress=sys.stderr.isatty(),
        **given(args, "workers", "python", "refine_face", "overwrite", "keep_going"),
    )
    for v, why in report.failed:
        print(f"signllm: error: {why}" if str(v) in why else f"signllm: error: {v}: {why}",
              file=sys.stderr)  # fmt: skip
    print(
        f"extracted {len(report.written)} video(s) in {report.seconds:.1f} s, "
        f"{len(report.skipped)} already done, {len(report.failed)} failed -> {args.output}"
    )
    return 2 if report.failed else 0


def register_extract(subparsers: Any) -> argparse.ArgumentParser:
    """Add `extract` to a sub-command group (e.g. the one of `signllm data`)."""
    p = subparsers.add_parser("extract", help="videos -> .pose files with MediaPipe Holistic")
    add_extract_arguments(p)
    return p


# --- signllm data demo-corpus -----------------------------------------------------------------
def cmd_demo_corpus(args: argparse.Namespace) -> int:
    from ..data.demo_corpus import build_demo_corpus
    from ..data.fingerspell import load_lexicon

    lexicon = load_lexicon(args.lexicon) if args.lexicon else None
    summary = build_demo_corpus(
        args.output, workers=args.workers, lexicon=lexicon, seed=args.seed, progress=True
    )
    total = summary.get("total", {})
    print(
        f"demo corpus: {total.get('clips')} clips, {total.get('hours', 0):.2f} h in {args.output}"
    )
    return 0


def register_data(sub: Any) -> None:
    """`signllm data` and its sub-commands."""
    data_parser = sub.add_parser(
        "data", help="data pipeline: extract keypoints from videos, build datasets"
    )
    data_sub = data_parser.add_subparsers(dest="data_command", metavar="DATA_COMMAND")
    data_parser.set_defaults(func=lambda _args: (data_parser.print_help(), 2)[1])
    register_extract(data_sub)
    register_build(data_sub)
    p = data_sub.add_parser(
        "demo-corpus",
        aliases=["demo"],
        help="build the demo corpus, the default model's training data, from the bundled "
        "samples (PHOENIX, How2Sign, DSGS signs, fingerspelling)",
    )
    p.add_argument("-o", "--output", default="data/demo", help="store folder")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--lexicon", help="a fingerspelling lexicon folder (default: spoken-to-signed's)"
    )
    p.set_defaults(func=cmd_demo_corpus)


__all__ = [
    "add_build_arguments",
    "add_extract_arguments",
    "add_read_options",
    "cmd_build",
    "cmd_convert",
    "cmd_demo_corpus",
    "cmd_extract",
    "cmd_info",
    "cmd_render",
    "cmd_samples",
    "info_dict",
    "read_opts",
    "register_build",
    "register_convert",
    "register_data",
    "register_extract",
    "register_info",
    "register_render",
    "register_samples",
    "select",
]

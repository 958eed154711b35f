"""`signllm translate`, `signllm demo`, `signllm serve` and `signllm languages`: the user side."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import UsageError

OUTPUT_TYPES = (".pose", ".skels", ".mp4", ".gif", ".bvh", ".json")


# --- signllm translate ------------------------------------------------------------------------
def write_translation(t: Any, out: str) -> Path:
    """One output file of a translation (`signllm.api.Translation`), chosen by its extension."""
    suffix = Path(out).suffix.lower()
    if suffix in (".pose", ".skels"):
        from ..data.formats import write_poses

        return write_poses([t.pose], out)
    if suffix in (".mp4", ".gif", ".bvh"):
        from ..render import render

        kw = {"caption": t.text} if suffix != ".bvh" else {}
        return render(t.pose, out, **kw)
    if suffix == ".json":
        from ..fileio import atomic_write

        doc = {**t.to_dict(), "joints": list(t.pose.skel.joints),
               "frames_xyz": t.pose.data.round(4).tolist()}  # fmt: skip
        with atomic_write(out, encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False)
        return Path(out)
    raise UsageError(
        f"unknown output type {suffix!r}: use .pose, .skels, .mp4, .gif, .bvh or .json"
    )


def cmd_translate(args: argparse.Namespace) -> int:
    from ..api import Translator

    outs = args.output or []
    for out in outs:  # fail on a bad extension before the model loads
        if Path(out).suffix.lower() not in OUTPUT_TYPES:
            raise UsageError(f"{out}: unknown output type; use .pose .skels .mp4 .gif .bvh .json")
    translator = Translator(args.model, lexicon=args.lexicon, fingerspelling=args.fingerspelling,
                            max_frames=args.max_frames)  # fmt: skip
    t = translator.translate(" ".join(args.text), args.lang, mode=args.mode)
    stage = f", {t.prompt_stage} prompt stage" if t.prompt_stage else ""
    frames = f"{t.pose.num_frames} of {t.frames_needed}" if t.truncated else t.pose.num_frames
    print(f"{t.language} ({t.mode}{stage}): {frames} frames @ {t.pose.fps:g} fps "
          f"({t.pose.duration:.1f} s)")  # fmt: skip
    for w in t.words:
        print("  " + describe_word(w))
    if t.truncated:
        print(f"cut at --max-frames {t.max_frames}: the whole text needs {t.frames_needed} "
              "frames; raise --max-frames or leave it out to sign all of it", file=sys.stderr)  # fmt: skip
    for out in outs:
        print(f"wrote {write_translation(t, out)}")
    if not outs:
        print("nothing written: add -o OUT.mp4 (or .gif .pose .skels .bvh .json) to save it")
    return 0


def describe_word(w: Any) -> str:
    """One line of the per-word report: `regen -> model (gloss fs-REGEN)`."""
    notes = [f"gloss {w.gloss}"] if w.gloss and w.gloss != w.word else []
    notes += [w.reason] if w.reason else []
    return f"{w.word or '(no word)'} -> {w.source}" + (f" ({'; '.join(notes)})" if notes else "")


def register_translate(sub: Any) -> None:
    p = sub.add_parser("translate", help="sign a sentence or prompt: text in, skeleton out")
    p.add_argument("text", nargs="+", help="a sentence, or a prompt naming text and language")
    p.add_argument("--lang", "-l", help="sign language: code, name or alias (ase, DGS, ...)")
    p.add_argument("--mode", default="auto", choices=["auto", "mlsf", "prompt", "fingerspelling"])
    p.add_argument("-o", "--output", action="append",
                   help="OUT.pose / .skels / .mp4 / .gif / .bvh / .json (repeatable)")  # fmt: skip
    p.add_argument("--model", help="model folder (default: the model shipped in the package)")
    add_lexicon_arguments(p)
    p.add_argument("--max-frames", type=int, default=None,
                   help="cut the output at this many frames, and say so (default: no cap)")  # fmt: skip
    p.set_defaults(func=cmd_translate)


def add_lexicon_arguments(p: argparse.ArgumentParser) -> None:
    """--lexicon (recorded signs) and --fingerspelling (letters), for translate and serve."""
    p.add_argument("--lexicon", action="append", metavar="DIR",
                   help="your recorded signs: a folder of .pose files + index.csv "
                   "(spoken-to-signed layout, any sign languages); words and glosses found there "
                   "are signed from the recordings (repeatable)")  # fmt: skip
    p.add_argument("--fingerspelling", metavar="DIR",
                   help="fingerspelling letters folder (index.csv layout; default: the 626 "
                   "letters of 20 sign languages shipped in the package)")  # fmt: skip


# --- signllm demo -----------------------------------------------------------------------------
DEMO_TEXT = "und nun die wettervorhersage für morgen"
DEMO_OUTPUTS = ("translation.mp4", "translation.gif", "translation.pose", "translation.bvh")


def cmd_demo(args: argparse.Namespace) -> int:
    """The demo (`bash run.sh demo` runs this): a German sentence signed by the default model."""
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    ns = argparse.Namespace(text=args.text or [DEMO_TEXT], lang="DGS", mode="auto", model=None,
                            lexicon=None, fingerspelling=None, max_frames=None,
                            output=[str(out / name) for name in DEMO_OUTPUTS])  # fmt: skip
    return cmd_translate(ns)


def register_demo(sub: Any) -> None:
    p = sub.add_parser("demo", help="sign a German sentence with the default model (the demo)")
    p.add_argument("text", nargs="*", help=f"DGS text (default: {DEMO_TEXT!r})")
    p.add_argument("-o", "--output", default="signllm-demo", help="output folder")
    p.set_defaults(func=cmd_demo)


# --- signllm serve ----------------------------------------------------------------------------
def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `signllm serve`; sets `func` to `cmd_serve`."""
    parser.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--checkpoint", help="checkpoint folder (default: the translator's own)")
    parser.add_argument("--device", default="cpu", help="torch device: cpu, cuda, mps")
    add_lexicon_arguments(parser)
    parser.add_argument("--max-text-chars", type=int, default=500, help="longest text accepted")
    parser.add_argument("--max-frames", type=int, default=1000,
                        help="most frames per output (a longer one is cut; the answer says so)")  # fmt: skip
    parser.add_argument(
        "--max-concurrent", type=int, default=4, help="requests in flight; others queue"
    )
    parser.add_argument(
        "--queue-timeout", type=float, default=10.0,
        help="seconds a request waits for a slot before 503 (default 10)",
    )  # fmt: skip
    parser.add_argument(
        "--cache-size", type=int, default=32, help="recent translations kept (0: none)"
    )
    parser.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    parser.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    """Load the model once and serve with uvicorn until interrupted."""
    from ..serve import INSTALL_HINT, create_app

    try:
        import uvicorn
    except ImportError as e:
        raise UsageError(f"{INSTALL_HINT} ({e})") from e
    for opt in ("port", "max_text_chars", "max_frames", "max_concurrent"):
        if getattr(args, opt) < (0 if opt == "port" else 1):
            raise UsageError(f"--{opt.replace('_', '-')} must be positive")
    app = create_app(
        checkpoint=args.checkpoint,
        lexicon=args.lexicon,
        fingerspelling=args.fingerspelling,
        device=args.device,
        max_text_chars=args.max_text_chars,
        max_frames=args.max_frames,
        max_concurrent=args.max_concurrent,
        queue_timeout=args.queue_timeout,
        cache_size=args.cache_size,
    )
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"signllm serve: listening on {args.host}: reachable from other machines",
              file=sys.stderr)  # fmt: skip
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


def register_serve(sub: Any) -> None:
    p = sub.add_parser("serve", help="HTTP API and web page (pip install 'signllm[serve]')")
    add_serve_arguments(p)


# --- signllm languages ------------------------------------------------------------------------
def cmd_languages(args: argparse.Namespace) -> int:
    from ..languages import all_languages

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


def register_languages(sub: Any) -> None:
    p = sub.add_parser("languages", help="the sign languages SignLLM knows, with their aliases")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_languages)


__all__ = [
    "add_lexicon_arguments",
    "add_serve_arguments",
    "cmd_demo",
    "cmd_languages",
    "cmd_serve",
    "cmd_translate",
    "describe_word",
    "register_demo",
    "register_languages",
    "register_serve",
    "register_translate",
    "write_translation",
]

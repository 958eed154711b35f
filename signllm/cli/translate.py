"""`signllm translate`, `signllm serve` and `signllm languages`: the user-facing side."""

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


def register_translate(sub: Any) -> None:
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


# --- signllm serve ----------------------------------------------------------------------------
def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `signllm serve`; sets `func` to `cmd_serve`."""
    parser.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--checkpoint", help="checkpoint folder (default: the translator's own)")
    parser.add_argument("--device", default="cpu", help="torch device: cpu, cuda, mps")
    parser.add_argument("--max-text-chars", type=int, default=500, help="longest text accepted")
    parser.add_argument("--max-frames", type=int, default=1000, help="most frames per output")
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
    "add_serve_arguments",
    "cmd_languages",
    "cmd_serve",
    "cmd_translate",
    "register_languages",
    "register_serve",
    "register_translate",
    "write_translation",
]

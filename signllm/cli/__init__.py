"""The `signllm` command: every command's arguments and dispatch, over the Python API.

One module per command group: `data` (info, convert, render, samples, data
build/extract/demo-corpus), `train` (train, train-prompt, train-bt, train-reader), `eval`
(evaluate), `translate` (translate, demo, serve, languages). The library below takes Python
arguments and returns values; nothing under it parses.

Errors a user can fix (bad files, unknown options) print one line naming the file and line or
field, and exit with code 2; no traceback, no partial output. Anything else is a bug: one line
that says where the full report was written (a file in the system temp folder), exit code 1.
That handling lives in `main` only.

    signllm info data.skels                       # or: python -m signllm info data.skels
    torchrun --standalone --nproc_per_node 2 -m signllm train --data store/ --out runs/ddp
"""

from __future__ import annotations

import argparse
import sys

from ..errors import SignLLMError
from . import data, train, translate
from .eval import register_evaluate  # the module name `eval` is kept out of this namespace


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="signllm", description="Sign language production: text in, signing skeleton out."
    )
    parser.add_argument("--version", action="version", version=f"signllm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    data.register_info(sub)
    data.register_convert(sub)
    translate.register_translate(sub)
    translate.register_demo(sub)
    train.register_train(sub)
    train.register_train_prompt(sub)
    translate.register_serve(sub)
    train.register_train_bt(sub)
    train.register_train_reader(sub)
    register_evaluate(sub)
    data.register_render(sub)
    translate.register_languages(sub)
    data.register_data(sub)
    data.register_samples(sub)
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
    except Exception as e:  # a bug, not the input: one line, the full report in a file
        report = write_crash_report(e, argv)
        print(
            f"signllm: internal error ({type(e).__name__}); this is a bug, not your input. "
            f"Full report: {report}",
            file=sys.stderr,
        )
        return 1


def write_crash_report(e: BaseException, argv: list[str] | None) -> str:
    """The traceback, command line and versions in a file under the temp folder; its path."""
    import platform
    import tempfile
    import time
    import traceback

    from .. import __version__

    text = (
        f"signllm {__version__}, Python {platform.python_version()}, {platform.platform()}\n"
        f"command: {sys.argv[0] if argv is None else 'signllm'} "
        f"{' '.join(sys.argv[1:] if argv is None else argv)}\n"
        f"time: {time.strftime('%Y-%m-%d %H:%M:%S')}\n\n"
        + "".join(traceback.format_exception(type(e), e, e.__traceback__))
    )
    try:
        fd, path = tempfile.mkstemp(prefix="signllm-crash-", suffix=".txt")
        with open(fd, "w", encoding="utf-8") as f:
            f.write(text)
        return path
    except OSError:
        return "(could not be written)"


__all__ = ["build_parser", "main", "write_crash_report"]

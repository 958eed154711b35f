"""`signllm serve`: the HTTP API and web page (FastAPI + uvicorn, the `serve` extra).

    signllm serve --checkpoint runs/mlsf            # http://127.0.0.1:8000/ (page), /docs (API)
    signllm serve --host 0.0.0.0 --port 8080        # listen on every interface

This module imports neither FastAPI nor uvicorn until a server is made, so the CLI can register
the command on machines without them and say how to install them when it is used.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from ..errors import UsageError

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["add_serve_arguments", "cmd_serve", "create_app", "main"]

_INSTALL_HINT = "the web server needs FastAPI and uvicorn: pip install 'signllm[serve]'"


def create_app(*args: Any, **kwargs: Any) -> FastAPI:
    """See `signllm.serve.app.create_app`; imported lazily (needs the `serve` extra)."""
    try:
        from .app import create_app as _create_app
    except ImportError as e:
        raise UsageError(f"{_INSTALL_HINT} ({e})") from e
    return _create_app(*args, **kwargs)


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `signllm serve`."""
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


def cmd_serve(args: argparse.Namespace) -> int:
    """Load the model once and serve until interrupted."""
    try:
        import uvicorn
    except ImportError as e:
        raise UsageError(f"{_INSTALL_HINT} ({e})") from e
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


def main(argv: list[str] | None = None) -> int:
    """`python -c 'from signllm.serve import main; main()' --port 8001` without the CLI."""
    parser = argparse.ArgumentParser(prog="signllm serve", description=__doc__.splitlines()[0])
    add_serve_arguments(parser)
    try:
        return cmd_serve(parser.parse_args(argv))
    except UsageError as e:
        print(f"signllm: error: {e}", file=sys.stderr)
        return 2

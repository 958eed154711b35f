"""The HTTP API and web page (FastAPI, the `serve` extra); `signllm serve` runs it with uvicorn.

    signllm serve --checkpoint runs/mlsf            # http://127.0.0.1:8000/ (page), /docs (API)
    signllm serve --host 0.0.0.0 --port 8080        # listen on every interface

    from signllm.serve import create_app            # an ASGI app for any server
    app = create_app(checkpoint="runs/mlsf", max_concurrent=4)

This module imports no FastAPI until an app is made, so the CLI can register the command on
machines without it and say how to install it when it is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import UsageError

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["INSTALL_HINT", "create_app"]

INSTALL_HINT = "the web server needs FastAPI and uvicorn: pip install 'signllm[serve]'"


def create_app(*args: Any, **kwargs: Any) -> FastAPI:
    """See `signllm.serve.app.create_app`; imported lazily (needs the `serve` extra)."""
    try:
        from .app import create_app as _create_app
    except ImportError as e:
        raise UsageError(f"{INSTALL_HINT} ({e})") from e
    return _create_app(*args, **kwargs)

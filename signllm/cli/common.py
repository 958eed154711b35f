"""Small helpers every command group uses to hand its parsed options to the Python API."""

from __future__ import annotations

import argparse
from typing import Any


def given(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    """The options `names` as keyword arguments: for the flags whose destination is spelled like
    the API parameter it feeds (renamed or derived ones are passed by hand beside it)."""
    return {name: getattr(args, name) for name in names}


def codes(value: str | list[str] | None) -> list[str] | None:
    """Language codes of a comma-separated option (or of several such values); None when the
    option was not given."""
    if not value:
        return None
    items = [value] if isinstance(value, str) else value
    return [c.strip() for item in items for c in item.split(",") if c.strip()]


def add_progress_flag(p: argparse.ArgumentParser, help: str = "no progress bar") -> None:
    """`--no-progress`, read as `args.progress` (True unless given): one spelling for every
    command that draws a bar, so scripts can pass it to any of them."""
    p.add_argument("--no-progress", dest="progress", action="store_false", help=help)

"""Reading files that may be hostile: every fault becomes a `DataError` naming the file and line.

Why: the readers take files from anywhere (downloads, other tools, half-copied disks). A byte
that is not UTF-8, JSON nested a hundred thousand levels deep, NaN where a number must be finite,
a folder where a file should be, or a relative path that climbs out of its folder must each end
as one line that says where, never as a Python exception from deep inside the standard library.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from .errors import DataError

# Real files nest at most ~6 levels (a checkpoint's normalisation stats: object, list, list);
# 64 leaves room for any honest file and stops a "[[[[..." bomb long before Python's recursion
# limit.
MAX_JSON_DEPTH = 64


def decode_utf8(data: bytes, path: str | Path, line: int | None = None) -> str:
    """bytes -> str, or a DataError naming the line (and column) of the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        head = data[: e.start]
        at = (line or 1) + head.count(b"\n")
        col = e.start - (head.rfind(b"\n") + 1) + 1
        raise DataError(f"not UTF-8 text (byte {data[e.start]:#04x} at column {col})", path,
                        at) from None  # fmt: skip


def read_bytes(path: str | Path, what: str = "file") -> bytes:
    """A file's bytes; a missing file, a folder or an unreadable file is a DataError."""
    p = Path(path)
    try:
        return p.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{what} not found", p) from None
    except IsADirectoryError:
        raise DataError(f"is a folder, expected a {what}", p) from None
    except OSError as e:
        raise DataError(f"cannot read {what}: {e.strerror or e}", p) from None


def read_text(path: str | Path, what: str = "file") -> str:
    """A UTF-8 text file (a leading BOM is dropped), DataError naming the line of a bad byte."""
    text = decode_utf8(read_bytes(path, what), path)
    return text[1:] if text.startswith("\ufeff") else text


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number (numbers here must be finite)")


def _finite_float(s: str) -> float:
    v = float(s)
    if not math.isfinite(v):
        raise ValueError(f"{s} is out of the range of a number (numbers here must be finite)")
    return v


def json_depth(doc: Any) -> int:
    """The nesting depth of a parsed JSON value (scalars 0), without recursion."""
    depth = 0
    stack = [(doc, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            depth = max(depth, d)
            stack.extend((x, d + 1) for x in v.values())
        elif isinstance(v, list):
            depth = max(depth, d)
            stack.extend((x, d + 1) for x in v)
    return depth


def loads(text: str | bytes, path: str | Path, line: int | None = None,
          finite: bool = True, label: str = "broken JSON") -> Any:  # fmt: skip
    """Parse JSON text. `line`: the file line the text starts on (JSONL rows).

    `finite`: refuse NaN/Infinity (not JSON, though Python writes and reads them).
    """
    if isinstance(text, bytes):
        text = decode_utf8(text, path, line)
    try:
        if finite:
            doc = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
        else:
            doc = json.loads(text)
    except json.JSONDecodeError as e:
        at = e.lineno if line is None else line + e.lineno - 1
        raise DataError(f"{label}: {e.msg} (column {e.colno})", path, at) from None
    except ValueError as e:  # parse_constant
        raise DataError(str(e), path, line) from None
    except RecursionError:
        raise DataError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels", path, line) from None
    if json_depth(doc) > MAX_JSON_DEPTH:
        raise DataError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels", path, line)
    return doc


def read_json(path: str | Path, what: str = "JSON file", finite: bool = True,
              label: str = "invalid JSON") -> Any:  # fmt: skip
    return loads(read_text(path, what), path, finite=finite, label=label)


def finite_number(value: Any, path: str | Path, field: str, line: int | None = None,
                  lo: float | None = None, hi: float | None = None) -> float:  # fmt: skip
    """A JSON number (not a bool) that is finite and within [lo, hi]."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DataError(f"expected a number, got {type(value).__name__}", path, line, field)
    if not math.isfinite(value):
        raise DataError(f"{value!r} is not a finite number", path, line, field)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise DataError(f"{value!r} is out of range [{lo}, {hi}]", path, line, field)
    return float(value)


def int_field(value: Any, path: str | Path, field: str, line: int | None = None,
              lo: int = 0, hi: int = 2**62) -> int:  # fmt: skip
    """A JSON integer (not a bool, not a float) within [lo, hi]."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise DataError(f"expected an integer, got {type(value).__name__}", path, line, field)
    if not lo <= value <= hi:
        raise DataError(f"{value} is out of range [{lo}, {hi}]", path, line, field)
    return value


def check_path_text(rel: str, where: str | Path, line: int | None, field: str) -> str:
    """A path as written in a file: no NUL byte, no name or path longer than the system takes
    (either would make the first `exists()` raise instead of answering)."""
    if "\x00" in rel:
        raise DataError("path holds a NUL byte", where, line, field)
    if len(rel.encode("utf-8", "surrogateescape")) > 4000 or any(
        len(part.encode("utf-8", "surrogateescape")) > 255 for part in Path(rel).parts
    ):
        raise DataError("path or one of its names is too long", where, line, field)
    return rel


def inside(folder: str | Path, rel: str, where: str | Path, line: int | None, field: str,
           allow_outside: bool = False) -> Path:  # fmt: skip
    """`folder / rel`, refused (DataError) if it resolves outside `folder` (absolute paths,
    `..`, symbolic links out) unless `allow_outside`: a file listing other files must not make
    a reader open the rest of the disk."""
    check_path_text(rel, where, line, field)
    base = Path(folder).resolve()
    try:
        target = (base / rel).resolve()
    except (OSError, RuntimeError) as e:  # a symbolic link loop
        raise DataError(f"cannot resolve {rel!r}: {e}", where, line, field) from None
    if not allow_outside and not (target == base or target.is_relative_to(base)):
        raise DataError(
            f"{rel!r} points outside {base} (allow it explicitly to read such paths)",
            where,
            line,
            field,
        )
    return target


def is_plain_name(name: str) -> bool:
    """A single file name (no folder part, not hidden, not . or ..)."""
    return (
        bool(name)
        and os.sep not in name
        and "/" not in name
        and "\\" not in name
        and (not name.startswith("."))
    )


__all__ = [
    "MAX_JSON_DEPTH",
    "check_path_text",
    "decode_utf8",
    "finite_number",
    "inside",
    "int_field",
    "is_plain_name",
    "json_depth",
    "loads",
    "read_bytes",
    "read_json",
    "read_text",
]

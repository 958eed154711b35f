"""Lexicon folders: `.pose` files listed in `index.csv` (spoken-to-signed layout).

Columns: path, spoken_language, signed_language, start, end, words, glosses, priority.
`start`/`end` are milliseconds into the file (end 0 = to the end). Writing a collection of clips
to a folder produces the same layout, so text, gloss and ids survive a trip through `.pose`.
"""

from __future__ import annotations

import csv
import io
import math
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import DataError
from ...fileio import atomic_write
from ...pose import Pose
from ...safeio import inside, read_text
from .poseformat import read_pose_file, write_pose_file

COLUMNS = ("path", "spoken_language", "signed_language", "start", "end", "words", "glosses",
           "priority")  # fmt: skip
# Our own additions, after the standard columns (other readers ignore them): they keep the clip
# id, split and signer through a round trip.
EXTRA_COLUMNS = ("id", "split", "signer")
INDEX = "index.csv"


def csv_rows(reader: Any, path: Path) -> Iterator[Any]:
    """A csv reader's rows, its errors (NUL bytes, a field past the size limit) as DataError."""
    rows = iter(reader)
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as e:
            raise DataError(f"broken CSV: {e}", path, reader.line_num) from None
        yield row


def is_lexicon_folder(path: Path) -> bool:
    return path.is_dir() and (path / INDEX).is_file()


def parse_ms(value: str | None, index: Path, line: int, field: str) -> float:
    """An index.csv `start`/`end` cell as milliseconds (empty or missing = 0), or a DataError
    naming the file, line and column: the one reading of these cells for every lexicon reader."""
    text = (value or "").strip()
    if not text:
        return 0.0
    try:
        v = float(text)
    except ValueError:
        raise DataError(f"{text!r} is not a number of milliseconds", index, line, field) from None
    if not (math.isfinite(v) and v >= 0):
        raise DataError(f"{text!r} must be a finite number >= 0", index, line, field)
    return v


@dataclass
class LexiconEntry:
    """One validated index.csv row; the clip itself is not read."""

    index: Path
    line: int
    path: Path  # resolved .pose file
    id: str
    language: str
    spoken_language: str
    text: str
    gloss: str
    start_ms: float  # 0 = from the start
    end_ms: float  # 0 = to the end
    split: str = ""
    signer: str = ""
    priority: str = ""


def iter_lexicon_entries(
    folder: str | Path, language: str | None = None, allow_outside: bool = False
) -> Iterator[LexiconEntry]:
    """The rows of a lexicon folder's index.csv, checked (file, line, field in every error).

    A row's path must stay inside the folder (no absolute path, no `..` out of it) unless
    `allow_outside`: a downloaded lexicon must not make the reader open the rest of the disk."""
    folder = Path(folder)
    index = folder / INDEX
    if not index.is_file():
        raise DataError(f"no {INDEX} in the lexicon folder", folder)
    text = read_text(index, INDEX)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = reader.fieldnames or []
    except csv.Error as e:
        raise DataError(f"broken CSV: {e}", index, 1) from None
    missing = [c for c in ("path", "signed_language", "words") if c not in header]
    if missing:
        raise DataError(f"missing column(s) {', '.join(missing)}", index, 1)
    for lineno, row in enumerate(csv_rows(reader, index), start=2):
        if None in row or any(v is None for v in row.values()):
            raise DataError(f"expected {len(header)} columns", index, lineno)
        if language and row["signed_language"] != language:
            continue
        rel = row["path"].strip()
        if not rel:
            raise DataError("empty path", index, lineno, "path")
        target = inside(folder, rel, index, lineno, "path", allow_outside)
        if not target.is_file():
            raise DataError(f"file {rel!r} does not exist", index, lineno, "path")
        start = parse_ms(row.get("start"), index, lineno, "start")
        end = parse_ms(row.get("end"), index, lineno, "end")
        if end and end <= start:
            raise DataError(f"end {end} <= start {start}", index, lineno, "end")
        lang = row["signed_language"].strip()
        cid = f"{lang}/{Path(rel).with_suffix('').as_posix()}" if lang else rel
        if rel.startswith(f"{lang}/"):
            cid = Path(rel).with_suffix("").as_posix()
        yield LexiconEntry(
            index=index,
            line=lineno,
            path=target,
            id=row.get("id") or cid,
            language=lang,
            spoken_language=(row.get("spoken_language") or "").strip(),
            text=row.get("words") or "",
            gloss=row.get("glosses") or "",
            start_ms=start,
            end_ms=end,
            split=row.get("split") or "",
            signer=row.get("signer") or "",
            priority=row.get("priority") or "",
        )


def iter_lexicon(
    folder: str | Path, language: str | None = None, allow_outside: bool = False
) -> Iterator[Pose]:
    """Clips of a lexicon folder, in index order (optionally one sign language only)."""
    for e in iter_lexicon_entries(folder, language, allow_outside):
        pose = read_pose_file(e.path)
        if e.start_ms or e.end_ms:
            a = round(e.start_ms / 1000 * pose.fps)
            b = round(e.end_ms / 1000 * pose.fps) if e.end_ms else pose.num_frames
            pose = pose.select_frames(slice(a, max(a + 1, min(b, pose.num_frames))))
        meta = pose.meta
        meta.id, meta.language, meta.spoken_language = e.id, e.language, e.spoken_language
        meta.text, meta.gloss, meta.split, meta.signer = e.text, e.gloss, e.split, e.signer
        meta.source = f"{e.index}:{e.line}"
        if e.priority:
            meta.extra["priority"] = e.priority
        yield pose


_SAFE = re.compile(r"[^A-Za-z0-9._\-/]+")


def _rel_path(pose: Pose, n: int, used: set[str]) -> str:
    base = _SAFE.sub("_", pose.meta.id or f"clip{n}").strip("/")
    parts = [p for p in base.split("/") if p not in ("", ".", "..")] or [f"clip{n}"]
    if len(parts) == 1 and pose.meta.language:
        parts.insert(0, pose.meta.language)
    rel = "/".join(parts) + ".pose"
    k = 1
    while rel in used:
        k += 1
        rel = "/".join(parts) + f"-{k}.pose"
    used.add(rel)
    return rel


def write_lexicon(poses: Iterable[Pose], folder: str | Path) -> Path:
    """Write clips as `.pose` files + index.csv. A new folder appears whole or not at all."""
    folder = Path(folder)
    fresh = not folder.exists()
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent)) if fresh else folder
    try:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(COLUMNS + EXTRA_COLUMNS)
        used: set[str] = set()
        n = 0
        for n, pose in enumerate(poses, start=1):
            rel = _rel_path(pose, n, used)
            write_pose_file(pose, work / rel)
            end_ms = round(pose.duration * 1000)
            w.writerow([rel, pose.meta.spoken_language, pose.meta.language, 0, end_ms,
                        pose.meta.text, pose.meta.gloss, pose.meta.extra.get("priority", 0),
                        pose.meta.id, pose.meta.split, pose.meta.signer])  # fmt: skip
        if n == 0:
            raise DataError("nothing to write: no clips", folder)
        with atomic_write(work / INDEX, encoding="utf-8", newline="") as f:
            f.write(buf.getvalue())
        if fresh:
            work.rename(folder)
    except BaseException:
        if fresh:
            shutil.rmtree(work, ignore_errors=True)
        raise
    return folder

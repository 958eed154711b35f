"""Manifests: a CSV, TSV or JSONL table that joins clips on disk to their labels.

Why: corpora rarely ship labels inside the keypoint files. How2Sign keeps its sentences in a CSV
beside the OpenPose folders, AUTSL its labels in another CSV, and a lab's own recordings come with a
spreadsheet. A manifest points at any path `read_poses` reads (a `.pose` file, an OpenPose clip
folder, a `.skels` file, a lexicon folder, ...) and says what each clip is, without converting
anything.

Columns (CSV/TSV header, or JSONL object keys; only `path` is required):

    path             the clip, relative to the manifest's folder (or absolute)
    language         sign language: code, name or alias (the registry resolves it, "DGS" -> gsg);
                     may be empty when the source gives a default (`clips.csv:lang=ase`)
    text, gloss, signer, spoken_language     strings
    split            train | dev | test ("val", "valid", "validation" mean dev); empty: the build
                     assigns one from a hash of the clip id
    id               clip id; default: the path as written, without a file's extension (only the
                     last name if the path is absolute or starts with "..")
    fps              frame rate of the clip (replaces the file's; OpenPose JSON stores none)
    start, end       seconds into the clip (decimals allowed; How2Sign's CSVs use seconds);
                     empty: from the start / to the end; `start_ms` / `end_ms` give milliseconds
                     (the unit of spoken-to-signed lexicons) instead
    mirror           1 (yes/true): the clip's left and right labels are the viewer's, swap them;
                     0 (no/false): never swap; empty or "auto": the build decides per clip
                     (data/space.py)

Any other column travels in `meta.extra` as a string. A row whose path holds several clips (a
`.skels` file, a folder of OpenPose clips, a lexicon) gives each clip the id `<row id>/<clip id>`;
a single clip (a `.pose` file, one OpenPose clip folder) gets the row id itself. Values the row
fills replace the clip's own; empty cells leave them. Frames kept by start/end: from
round(start * fps) to round(end * fps), at least one (the lexicon rule).

Every fault is a DataError naming the manifest, its line (the header is line 1 in a CSV) and the
field: an unknown language (with the registry's list of choices), a missing file, a bad number.

    for row in read_manifest("how2sign.csv"):            # validated rows, nothing loaded
        print(row.id, row.path, row.fields.get("text"))
    for pose in iter_manifest("how2sign.csv"): ...       # the clips, labelled
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataError, SignLLMError
from ..pose import Pose
from ..safeio import check_path_text, loads, read_text
from .formats.lexicon import csv_rows

MANIFEST_SUFFIXES = (".csv", ".tsv", ".jsonl")
TEXT_FIELDS = ("text", "gloss", "signer", "spoken_language")
KNOWN_COLUMNS = frozenset(
    ("path", "language", "split", "id", "fps", "start", "end", "start_ms", "end_ms", "mirror",
     *TEXT_FIELDS)
)  # fmt: skip
MIRROR_VALUES = {"1": True, "yes": True, "true": True, "0": False, "no": False, "false": False,
                 "auto": None, "": None}  # fmt: skip


def parse_mirror(value: Any, where: Path | str, line: int | None = None,
                 fld: str = "mirror") -> bool | None:  # fmt: skip
    """A mirror setting: True (swap left/right labels), False (never), None (auto)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    key = str(value).strip().lower()
    if key not in MIRROR_VALUES:
        raise DataError(f"{value!r} is not a mirror setting (1, 0 or auto)", where, line, fld)
    return MIRROR_VALUES[key]


SPLITS = ("train", "dev", "test")
SPLIT_ALIASES = {"val": "dev", "valid": "dev", "validation": "dev", "development": "dev"}


def is_manifest(path: str | Path) -> bool:
    """A manifest is named by its extension; a lexicon's own index.csv is not one."""
    p = Path(path)
    return p.suffix.lower() in MANIFEST_SUFFIXES and not _is_lexicon_index(p)


def _is_lexicon_index(p: Path) -> bool:
    if p.name != "index.csv" or not p.is_file():
        return False
    with p.open("rb") as f:
        first = f.readline(1 << 16).decode("utf-8", "replace")
    return "signed_language" in next(csv.reader([first]), [])


def normalize_split(value: str, path: str | Path, line: int | None, fld: str = "split") -> str:
    """'train' | 'dev' | 'test' ('' stays ''); aliases such as 'val' map to 'dev'."""
    v = value.strip().lower()
    v = SPLIT_ALIASES.get(v, v)
    if v and v not in SPLITS:
        raise DataError(
            f"unknown split {value!r}; use one of {', '.join(SPLITS)} "
            f"(or {', '.join(SPLIT_ALIASES)} for dev), or leave it empty",
            path,
            line,
            fld,
        )
    return v


def resolve_language(value: str, path: str | Path, line: int | None, fld: str = "language") -> str:
    """A registry code for a code, name or alias; the registry's message if it knows none."""
    from ..languages import get_language

    try:
        return get_language(value.strip()).code
    except SignLLMError as e:
        raise DataError(str(e), path, line, fld) from None


@dataclass
class ManifestRow:
    """One validated row: where the clip is and what the row says about it."""

    manifest: Path
    line: int
    path: Path  # resolved
    id: str  # row id, or the path relative to the manifest without its extension
    language: str = ""  # registry code ("" = not given)
    split: str = ""  # train | dev | test | ""
    fields: dict[str, str] = field(default_factory=dict)  # non-empty TEXT_FIELDS
    fps: float | None = None
    start: float | None = None  # seconds
    end: float | None = None  # seconds
    extra: dict[str, Any] = field(default_factory=dict)
    mirror: bool | None = None  # None: auto (data/space.py)

    @property
    def where(self) -> str:
        return f"{self.manifest}:{self.line}"


def default_id(rel: str, is_file: bool) -> str:
    """The path as written, without a file's extension; only the name when it is absolute or
    climbs out of the manifest's folder (ids should not carry one machine's folders)."""
    p = Path(rel)
    if is_file:
        p = p.with_suffix("")
    if p.is_absolute() or ".." in p.parts:
        return p.name
    return "/".join(part for part in p.parts if part not in ("", "."))


def _number(value: Any, manifest: Path, line: int, fld: str, unit: float = 1.0) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise DataError(f"{value!r} is not a number", manifest, line, fld)
    try:
        v = float(value)
    except ValueError:
        raise DataError(f"{value!r} is not a number", manifest, line, fld) from None
    if not math.isfinite(v):
        raise DataError(f"{value!r} is not a finite number", manifest, line, fld)
    if v < 0:
        raise DataError(f"{value!r} must be >= 0", manifest, line, fld)
    return v * unit


def _text(value: Any, manifest: Path, line: int, fld: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # JSONL: a numeric signer or id
    raise DataError(f"expected a string, got {type(value).__name__}", manifest, line, fld)


def _raw_rows(manifest: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, column -> value) of every data row, CSV/TSV or JSONL."""
    if not manifest.is_file():
        raise DataError("no such manifest file", manifest)
    if manifest.suffix.lower() == ".jsonl":
        with manifest.open("rb") as f:
            for lineno, raw in enumerate(f, 1):
                if not raw.strip():
                    continue
                row = loads(raw, manifest, lineno)
                if not isinstance(row, dict):
                    raise DataError("expected a JSON object per line", manifest, lineno)
                yield lineno, row
        return
    delimiter = "\t" if manifest.suffix.lower() == ".tsv" else ","
    with io.StringIO(read_text(manifest, "manifest"), newline="") as f:
        reader = csv.DictReader(f, delimiter=delimiter)
        try:
            header = reader.fieldnames or []
        except csv.Error as e:
            raise DataError(f"broken CSV: {e}", manifest, 1) from None
        if "path" not in header:
            raise DataError(f"no 'path' column (header: {', '.join(header)})", manifest, 1)
        for row in csv_rows(reader, manifest):
            lineno = reader.line_num
            if None in row or any(v is None for v in row.values()):
                raise DataError(f"expected {len(header)} columns", manifest, lineno)
            if not any(v.strip() for v in row.values()):
                continue  # a blank line of commas
            yield lineno, row


def read_manifest(path: str | Path, language: str | None = None) -> Iterator[ManifestRow]:
    """Stream the validated rows of a manifest; reads no clip.

    `language` is the default for rows without one (code, name or alias); a row with neither
    keeps language "" (the caller decides whether that is an error).
    """
    manifest = Path(path)
    default_lang = resolve_language(language, manifest, None) if language else ""
    base = manifest.parent
    for lineno, raw in _raw_rows(manifest):
        rel = _text(raw.get("path"), manifest, lineno, "path").strip()
        if not rel:
            raise DataError("empty path", manifest, lineno, "path")
        target = base / check_path_text(rel, manifest, lineno, "path")
        if not target.exists():
            raise DataError(
                f"{rel!r} does not exist (relative to {base})", manifest, lineno, "path"
            )
        lang = _text(raw.get("language"), manifest, lineno, "language").strip()
        lang = resolve_language(lang, manifest, lineno) if lang else default_lang
        split = normalize_split(
            _text(raw.get("split"), manifest, lineno, "split"), manifest, lineno
        )
        cid = _text(raw.get("id"), manifest, lineno, "id").strip()
        if not cid:
            cid = default_id(rel, target.is_file())
        fields = {}
        for k in TEXT_FIELDS:
            v = _text(raw.get(k), manifest, lineno, k).strip()
            if v:
                fields[k] = v
        fps = _number(raw.get("fps"), manifest, lineno, "fps")
        if fps is not None and fps <= 0:
            raise DataError(f"{raw.get('fps')!r} must be > 0", manifest, lineno, "fps")
        times = {}
        for name in ("start", "end"):
            sec = _number(raw.get(name), manifest, lineno, name)
            ms = _number(raw.get(f"{name}_ms"), manifest, lineno, f"{name}_ms", unit=1e-3)
            if sec is not None and ms is not None:
                raise DataError(
                    f"give {name} or {name}_ms, not both", manifest, lineno, f"{name}_ms"
                )
            times[name] = sec if sec is not None else ms
        start, end = times["start"], times["end"]
        if end is not None and end <= (start or 0.0):
            raise DataError(f"end {end:g} s <= start {start or 0:g} s", manifest, lineno, "end")
        extra = {
            k: _text(v, manifest, lineno, k)
            for k, v in raw.items()
            if k not in KNOWN_COLUMNS and k and v not in (None, "")
        }
        yield ManifestRow(
            manifest=manifest,
            line=lineno,
            path=target,
            id=cid,
            language=lang,
            split=split,
            fields=fields,
            fps=fps,
            start=start,
            end=end,
            extra=extra,
            mirror=parse_mirror(raw.get("mirror"), manifest, lineno),
        )


def lexicon_rows(folder: str | Path, language: str | None = None) -> Iterator[ManifestRow]:
    """A lexicon folder's index.csv as manifest rows, so one `.pose` entry loads alone.

    Ids, texts, trims and the language filter are those of `formats.lexicon.iter_lexicon`
    (start/end there are milliseconds; `end` 0 means to the end).
    """
    from .formats.lexicon import iter_lexicon_entries

    for e in iter_lexicon_entries(folder, language):
        fields = {"text": e.text, "gloss": e.gloss, "signer": e.signer,
                  "spoken_language": e.spoken_language}  # fmt: skip
        yield ManifestRow(
            manifest=e.index,
            line=e.line,
            path=e.path,
            id=e.id,
            language=resolve_language(e.language, e.index, e.line, "signed_language")
            if e.language
            else "",
            split=normalize_split(e.split, e.index, e.line),
            fields={k: v for k, v in fields.items() if v},
            start=e.start_ms / 1000 or None,
            end=e.end_ms / 1000 or None,
            extra={"priority": e.priority} if e.priority else {},
        )


def trim(pose: Pose, start: float | None, end: float | None, where: str | Path,
         line: int | None = None) -> Pose:  # fmt: skip
    """Frames round(start * fps) .. round(end * fps) (at least one); DataError if none are left."""
    if not start and end is None:
        return pose
    a = round((start or 0.0) * pose.fps)
    if a >= pose.num_frames:
        raise DataError(
            f"start {start:g} s is past the end of the {pose.num_frames}-frame clip "
            f"({pose.duration:.2f} s at {pose.fps:g} fps)",
            where,
            line,
            "start",
        )
    b = round(end * pose.fps) if end is not None else pose.num_frames
    return pose.select_frames(slice(a, max(a + 1, min(b, pose.num_frames))))


def single_clip_path(path: Path) -> bool:
    """Whether a path holds exactly one clip (a `.pose` file or one OpenPose clip folder)."""
    from .formats.openpose_json import is_openpose_folder

    return path.suffix == ".pose" or is_openpose_folder(path)


def apply_row(pose: Pose, row: ManifestRow, several: bool = False) -> Pose:
    """The clip as the row describes it: fps, trim, then metadata (filled cells win)."""
    if row.fps:
        pose = dataclasses.replace(pose, fps=row.fps)
    pose = trim(pose, row.start, row.end, row.manifest, row.line)
    meta = dataclasses.replace(pose.meta, extra={**pose.meta.extra, **row.extra})
    meta.id = f"{row.id}/{pose.meta.id}" if several else row.id
    if row.language:
        meta.language = row.language
    if row.split:
        meta.split = row.split
    for k, v in row.fields.items():
        setattr(meta, k, v)
    meta.source = row.where
    return dataclasses.replace(pose, meta=meta)


def iter_manifest(
    path: str | Path, language: str | None = None, **read_opts: Any
) -> Iterator[Pose]:
    """Every clip a manifest lists, labelled by its row (see the module doc); streamed."""
    from .formats import read_poses

    for row in read_manifest(path, language=language):
        if is_manifest(row.path):
            raise DataError("a manifest row cannot point to another manifest", row.manifest,
                            row.line, "path")  # fmt: skip
        several = not single_clip_path(row.path)
        for pose in read_poses(row.path, **read_opts):
            yield apply_row(pose, row, several)


__all__ = [
    "MANIFEST_SUFFIXES",
    "ManifestRow",
    "apply_row",
    "is_manifest",
    "iter_manifest",
    "lexicon_rows",
    "normalize_split",
    "read_manifest",
    "resolve_language",
    "trim",
]

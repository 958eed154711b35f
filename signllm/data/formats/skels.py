"""Progressive Transformers / Prompt2Sign `.skels` text files with line-aligned side files.

`<prefix>.skels` holds one clip per line: per frame 150 values (50 joints x xyz, our joint order)
then a counter (frame index / frame count). Values are divided by a scale before writing: 3 in
Progressive Transformers' PHOENIX files, 9 in Prompt2Sign's. Missing values are written as 0.016.
`<prefix>.text`, `.gloss` and `.files` hold the sentence, gloss and clip id of each line; `.files`
lines may carry a split prefix ("test/25October_2010_Monday_tagesschau-17").

Reading multiplies by the scale (default 3, Progressive Transformers' files, which are the ones
people have); pass `scale=9` for Prompt2Sign's. A joint whose three values all read 0.016 is
missing: a lone 0.016 is kept as a value, since real coordinates take that value too.

Sides: in Progressive Transformers' PHOENIX files the joints labelled `right_*` are on the viewer's
right (the coordinates are the camera's, the labels the viewer's; evidence in data/space.py). The
reader keeps the file's labels, so our own `.skels` round-trip unchanged; the build's default
`mirror=auto` swaps such clips' labels, and `read_poses(path, mirror=True)` does it by hand.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from ...errors import DataError
from ...fileio import atomic_paths
from ...pose import Pose, PoseMeta
from ...safeio import decode_utf8, read_bytes
from ...skeleton import NUM_JOINTS

PT_SCALE = 3.0
PROMPT2SIGN_SCALE = 9.0
DEFAULT_SCALE = PT_SCALE
PLACEHOLDER = 0.016
VALUES_PER_FRAME = NUM_JOINTS * 3 + 1  # 151
DEFAULT_FPS = 25.0  # PHOENIX-2014T
SIDE_FILES = ("text", "gloss", "files")


def skels_prefix(path: str | Path) -> Path:
    """`dir/train.skels` or `dir/train` -> `dir/train`."""
    path = Path(path)
    return path.with_suffix("") if path.suffix == ".skels" else path


def _read_side(prefix: Path, ext: str, n: int, required: bool) -> list[str]:
    p = prefix.with_suffix(f".{ext}")
    if not p.exists():
        if required:
            raise DataError(f"missing side file (needs one line per clip of {prefix}.skels)", p)
        return [""] * n
    lines = decode_utf8(read_bytes(p, f".{ext} file"), p).split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) != n:
        raise DataError(
            f"has {len(lines)} lines but {prefix.name}.skels has {n}: "
            f"line {min(len(lines), n) + 1} is missing in one of them",
            p,
        )
    return [line.rstrip("\r") for line in lines]


def _parse_line(line: str, path: Path, lineno: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    tokens = line.split()
    if not tokens:
        raise DataError("empty line (expected a clip of 151 values per frame)", path, lineno)
    if len(tokens) % VALUES_PER_FRAME:
        raise DataError(
            f"{len(tokens)} values is not a whole number of frames of {VALUES_PER_FRAME} "
            f"(150 coordinates + 1 counter); the line is truncated or has extra values",
            path,
            lineno,
        )
    try:
        values = np.array(tokens, dtype=np.float64)
    except ValueError:
        bad = next(i for i, tok in enumerate(tokens) if not _is_float(tok))
        raise DataError(
            f"{tokens[bad]!r} is not a number", path, lineno, field=_field_name(bad)
        ) from None
    if not np.isfinite(values).all():
        bad = int(np.argwhere(~np.isfinite(values))[0, 0])
        raise DataError(
            f"{tokens[bad]!r} is not a finite number (write missing values as {PLACEHOLDER})",
            path,
            lineno,
            field=_field_name(bad),
        )
    frames = values.reshape(-1, VALUES_PER_FRAME)
    coords = frames[:, :-1].reshape(-1, NUM_JOINTS, 3)  # (t, 50, 3)
    missing = (coords == PLACEHOLDER).all(axis=2)  # (t, 50)
    data = (coords * scale).astype(np.float32)
    data[missing] = 0.0
    if not np.isfinite(data).all():  # finite as float64, beyond float32 once scaled
        bad = int(np.argwhere(~np.isfinite(data.reshape(-1)))[0, 0])
        frame, k = divmod(bad, NUM_JOINTS * 3)
        raise DataError(
            f"a value times the scale {scale:g} is too large for a coordinate", path, lineno,
            field=_field_name(frame * VALUES_PER_FRAME + k),
        )  # fmt: skip
    conf = (~missing).astype(np.float32)
    return data, conf


def _is_float(tok: str) -> bool:
    try:
        float(tok)
    except ValueError:
        return False
    return True


def _field_name(index: int) -> str:
    frame, k = divmod(index, VALUES_PER_FRAME)
    if k == VALUES_PER_FRAME - 1:
        return f"frame {frame} counter (value {index})"
    joint, axis = divmod(k, 3)
    return f"frame {frame} joint {joint} {'xyz'[axis]} (value {index})"


def _split_and_id(files_line: str, lineno: int) -> tuple[str, str]:
    if not files_line:
        return "", f"line{lineno}"
    split, _, cid = files_line.rpartition("/")
    return split, cid


def iter_skels(
    path: str | Path,
    scale: float = DEFAULT_SCALE,
    fps: float = DEFAULT_FPS,
    language: str = "",
    require_text: bool = True,
) -> Iterable[Pose]:
    """Stream the clips of a `.skels` file, one line at a time."""
    prefix = skels_prefix(path)
    skels = prefix.with_suffix(".skels")
    if not skels.exists():
        raise DataError("no such .skels file", skels)
    if not skels.is_file():
        raise DataError("is a folder, expected a .skels file", skels)
    with skels.open("rb") as f:
        n = sum(1 for _ in f)
    side = {ext: _read_side(prefix, ext, n, required=require_text and ext == "text")
            for ext in SIDE_FILES}  # fmt: skip
    with skels.open("rb") as f:  # bytes: a bad byte is reported with its line
        for i, raw in enumerate(f):
            line = decode_utf8(raw, skels, i + 1)
            data, conf = _parse_line(line, skels, i + 1, scale)
            split, cid = _split_and_id(side["files"][i], i + 1)
            meta = PoseMeta(
                id=cid,
                language=language,
                text=side["text"][i],
                gloss=side["gloss"][i],
                split=split,
                source=f"{skels}:{i + 1}",
            )
            yield Pose(data=data, confidence=conf, fps=fps, meta=meta)


def read_skels(path: str | Path, **kwargs) -> list[Pose]:
    return list(iter_skels(path, **kwargs))


def format_line(pose: Pose, scale: float = DEFAULT_SCALE) -> str:
    if pose.num_joints != NUM_JOINTS:
        raise DataError(f"a .skels frame holds {NUM_JOINTS} joints, pose has {pose.num_joints}")
    t = pose.num_frames
    if t == 0:
        raise DataError(f"clip {pose.meta.id!r} has no frames; a .skels line needs at least one")
    values = pose.data.astype(np.float64) / scale
    values[~pose.mask] = PLACEHOLDER
    out = []
    # Progressive Transformers writes coordinates with 5 decimals and the counter with 4.
    for i, frame in enumerate(values.reshape(t, -1)):
        out.append(" ".join(f"{v:.5f}" for v in frame))
        out.append(f"{i / t:.4f}")
    return " ".join(out).replace("-0.00000", "0.00000")


def _one_line(s: str, what: str, pose: Pose) -> str:
    if "\n" in s or "\r" in s:
        raise DataError(f"clip {pose.meta.id!r}: {what} has a line break; .{what} is one per line")
    return s


def write_skels(poses: Sequence[Pose] | Iterable[Pose], path: str | Path,
                scale: float = DEFAULT_SCALE) -> Path:  # fmt: skip
    """Write `<prefix>.skels/.text/.gloss/.files`; all four appear together or not at all."""
    if not (math.isfinite(scale) and scale > 0):
        raise DataError(f"scale must be a positive number, got {scale}")
    prefix = skels_prefix(path)
    targets = [prefix.with_suffix(".skels")] + [prefix.with_suffix(f".{e}") for e in SIDE_FILES]
    with atomic_paths(targets) as tmps:
        handles = [open(t, "w", encoding="utf-8", newline="\n") for t in tmps]
        n = 0
        try:
            for pose in poses:
                n += 1
                cid = pose.meta.id
                if pose.meta.split:
                    cid = f"{pose.meta.split}/{cid}"
                handles[0].write(format_line(pose, scale) + "\n")
                handles[1].write(_one_line(pose.meta.text, "text", pose) + "\n")
                handles[2].write(_one_line(pose.meta.gloss, "gloss", pose) + "\n")
                handles[3].write(_one_line(cid, "files", pose) + "\n")
        finally:
            for h in handles:
                h.close()
        if n == 0:
            raise DataError("nothing to write: no clips", targets[0])
    return targets[0]

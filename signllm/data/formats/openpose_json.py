"""OpenPose per-frame JSON folders (How2Sign / Prompt2Sign layout).

A clip is a folder of `<name>_<frame>_keypoints.json`, one file per frame, each with a `people`
list holding flat `pose_keypoints_2d` (BODY_25, x y c) and `hand_left/right_keypoints_2d` (21 x 3).
Frames where nobody was detected (or whose file is absent from the numbering) become missing
frames: they are kept, with confidence 0, so the timeline stays true; cleaning decides later.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ...errors import DataError
from ...pose import Pose, PoseMeta
from ...safeio import loads, read_bytes
from ...skeleton import (
    LEFT_HAND_ROOT,
    LEFT_WRIST,
    NUM_JOINTS,
    OPENPOSE_BODY25_TO_BODY,
    RIGHT_HAND_ROOT,
    RIGHT_WRIST,
)
from .common import merge_wrists

_FRAME_RE = re.compile(r"_(\d+)_keypoints\.json$")
DEFAULT_FPS = 24.0  # How2Sign; OpenPose JSON carries no frame rate
# Frame numbers come from file names: a clip spans first..last, gaps become missing frames. A span
# past this (over an hour at 24 fps, 60 MB of keypoints) is a wrong name, not a recording.
MAX_FRAMES = 100_000
MAX_FRAME_FILE_BYTES = 64 << 20  # a real frame file is ~3.5 kB; one person per 5 kB


def is_openpose_folder(path: Path) -> bool:
    return path.is_dir() and any(_FRAME_RE.search(p.name) for p in path.iterdir())


def _keypoints(person: dict, key: str, count: int, path: Path) -> np.ndarray:
    values = person.get(key)
    if values is None or values == []:
        return np.zeros((count, 3), np.float32)
    if not isinstance(values, list) or len(values) != count * 3:
        n = len(values) if isinstance(values, list) else type(values).__name__
        raise DataError(
            f"expected {count * 3} numbers (x, y, c per point), got {n}", path, field=key
        )
    try:
        arr = np.asarray(values, dtype=np.float64).reshape(count, 3)
    except (TypeError, ValueError, OverflowError):
        bad = next(
            (i for i, v in enumerate(values) if not isinstance(v, int | float) or v is True), 0
        )
        raise DataError(f"value {bad} is not a number: {values[bad]!r}", path, field=key) from None
    if not np.isfinite(arr).all():
        bad = int(np.argwhere(~np.isfinite(arr.reshape(-1)))[0, 0])
        raise DataError(f"value {bad} is not finite ({arr.reshape(-1)[bad]})", path, field=key)
    return arr.astype(np.float32)


def _person_frame(person: dict, path: Path) -> tuple[np.ndarray, np.ndarray]:
    body = _keypoints(person, "pose_keypoints_2d", 25, path)
    left = _keypoints(person, "hand_left_keypoints_2d", 21, path)
    right = _keypoints(person, "hand_right_keypoints_2d", 21, path)
    pts = np.concatenate([body[list(OPENPOSE_BODY25_TO_BODY)], left, right])  # (50, 3)
    xy = np.zeros((NUM_JOINTS, 3), np.float32)
    xy[:, :2] = pts[:, :2]
    conf = pts[:, 2].clip(0.0, 1.0)
    # OpenPose writes (0, 0, 0) for undetected points.
    conf[(pts[:, 0] == 0) & (pts[:, 1] == 0)] = 0.0
    xy[conf == 0] = 0.0
    return xy, conf


def read_frame(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One frame file -> ((50, 3), (50,)); the most confident person if there are several."""
    if path.is_file() and path.stat().st_size > MAX_FRAME_FILE_BYTES:
        raise DataError(f"{path.stat().st_size} bytes is too large for one frame", path)
    raw = read_bytes(path, "OpenPose JSON frame file")
    if not raw.strip():
        raise DataError("empty file (expected OpenPose JSON)", path)
    doc = loads(raw, path, finite=False)  # NaN/inf: refused per field below, with its name
    if not isinstance(doc, dict) or not isinstance(doc.get("people"), list):
        raise DataError("no 'people' list: not an OpenPose keypoints file", path, field="people")
    best: tuple[np.ndarray, np.ndarray] | None = None
    for i, person in enumerate(doc["people"]):
        if not isinstance(person, dict):
            raise DataError("expected an object", path, field=f"people[{i}]")
        xy, conf = _person_frame(person, path)
        if best is None or conf[:8].sum() > best[1][:8].sum():
            best = (xy, conf)
    if best is None:
        return np.zeros((NUM_JOINTS, 3), np.float32), np.zeros(NUM_JOINTS, np.float32)
    return best


def read_openpose_folder(folder: str | Path, fps: float | None = None) -> Pose:
    """A clip folder -> 2D `Pose` in pixel coordinates (z = 0, ndim = 2)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError("not a folder of OpenPose JSON files", folder)
    numbered: list[tuple[int, Path]] = []
    for p in folder.iterdir():
        m = _FRAME_RE.search(p.name)
        if m:
            numbered.append((int(m.group(1)), p))
    if not numbered:
        raise DataError("no *_<frame>_keypoints.json files", folder)
    numbered.sort()
    first, last = numbered[0][0], numbered[-1][0]
    t = last - first + 1
    if t > MAX_FRAMES:
        raise DataError(
            f"frame numbers run from {first} to {last} ({t} frames, over {MAX_FRAMES}): "
            f"a misnamed file? ({numbered[-1][1].name})",
            folder,
        )
    data = np.zeros((t, NUM_JOINTS, 3), np.float32)
    conf = np.zeros((t, NUM_JOINTS), np.float32)
    for n, p in numbered:
        data[n - first], conf[n - first] = read_frame(p)
    merge_wrists(data, conf, ((LEFT_WRIST, LEFT_HAND_ROOT), (RIGHT_WRIST, RIGHT_HAND_ROOT)))
    missing_files = t - len(numbered)
    meta = PoseMeta(id=folder.name, source=str(folder))
    if missing_files:
        meta.extra["missing_frame_files"] = missing_files
    return Pose(data=data, confidence=conf, fps=fps or DEFAULT_FPS, meta=meta, ndim=2)

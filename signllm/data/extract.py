"""Video -> `.pose` (MediaPipe Holistic), the first step for users who bring their own videos.

    signllm data extract clips/*.mp4 -o poses/              # one .pose per video, same stem
    signllm data extract clips/ -o poses/ --workers 2       # a folder; two videos at a time

Only `mediapipe==0.10.21` runs Holistic offline (its wheel ships the models; newer releases do
not), and it needs numpy<2 while signllm needs numpy 2. So mediapipe lives in its own environment
(`bash scripts/setup_mediapipe.sh` makes `.venv-mediapipe`) and runs `_mediapipe_worker.py` as a
subprocess, which writes raw landmarks to a temporary `.npz`. This side turns that into a `.pose`
file laid out exactly as pose-format's `video_to_pose` writes it (components POSE_LANDMARKS 33,
FACE_LANDMARKS 468 or 478, LEFT_HAND_LANDMARKS 21, RIGHT_HAND_LANDMARKS 21, POSE_WORLD_LANDMARKS
33; XYZC; same point names, limbs and colours), so the file mixes with the field's MediaPipe
`.pose` corpora and `read_pose_file` maps it onto the 50-joint skeleton.

Coordinates follow pose-format's helper, quirks included, for that same reason: x * width and
y * height in pixels, z as MediaPipe returns it (not scaled); world landmarks also get x * width,
y * height. Confidence: the body's visibility, 1 for a detected face or hand, 0 where missing.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
import warnings
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError, UsageError
from ..fileio import atomic_write

ENV_VAR = "SIGNLLM_MEDIAPIPE_PYTHON"
SETUP_HINT = "bash scripts/setup_mediapipe.sh"
VENV_NAME = ".venv-mediapipe"
REPO_ROOT = Path(__file__).resolve().parents[2]  # the checkout, for an editable install
WORKER = Path(__file__).with_name("_mediapipe_worker.py")
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
DEFAULT_FPS = 25.0

# Must match _mediapipe_worker.py (which cannot import this module).
_PREFIX = "@@signllm"
_EXIT_BAD_VIDEO = 3
_EXIT_BAD_ENV = 4

# MediaPipe's POSE_CONNECTIONS and HAND_CONNECTIONS (sorted), used when an .npz carries no limbs.
POSE_LIMBS = (
    (0, 1), (0, 4), (1, 2), (2, 3), (3, 7), (4, 5), (5, 6), (6, 8), (9, 10), (11, 12), (11, 13),
    (11, 23), (12, 14), (12, 24), (13, 15), (14, 16), (15, 17), (15, 19), (15, 21), (16, 18),
    (16, 20), (16, 22), (17, 19), (18, 20), (23, 24), (23, 25), (24, 26), (25, 27), (26, 28),
    (27, 29), (27, 31), (28, 30), (28, 32), (29, 31), (30, 32),
)  # fmt: skip
HAND_LIMBS = (
    (0, 1), (0, 5), (0, 17), (1, 2), (2, 3), (3, 4), (5, 6), (5, 9), (6, 7), (7, 8), (9, 10),
    (9, 13), (10, 11), (11, 12), (13, 14), (13, 17), (14, 15), (15, 16), (17, 18), (18, 19),
    (19, 20),
)  # fmt: skip
POSE_POINTS = (
    "NOSE", "LEFT_EYE_INNER", "LEFT_EYE", "LEFT_EYE_OUTER", "RIGHT_EYE_INNER", "RIGHT_EYE",
    "RIGHT_EYE_OUTER", "LEFT_EAR", "RIGHT_EAR", "MOUTH_LEFT", "MOUTH_RIGHT", "LEFT_SHOULDER",
    "RIGHT_SHOULDER", "LEFT_ELBOW", "RIGHT_ELBOW", "LEFT_WRIST", "RIGHT_WRIST", "LEFT_PINKY",
    "RIGHT_PINKY", "LEFT_INDEX", "RIGHT_INDEX", "LEFT_THUMB", "RIGHT_THUMB", "LEFT_HIP",
    "RIGHT_HIP", "LEFT_KNEE", "RIGHT_KNEE", "LEFT_ANKLE", "RIGHT_ANKLE", "LEFT_HEEL",
    "RIGHT_HEEL", "LEFT_FOOT_INDEX", "RIGHT_FOOT_INDEX",
)  # fmt: skip
HAND_POINTS = (
    "WRIST", "THUMB_CMC", "THUMB_MCP", "THUMB_IP", "THUMB_TIP",
    "INDEX_FINGER_MCP", "INDEX_FINGER_PIP", "INDEX_FINGER_DIP", "INDEX_FINGER_TIP",
    "MIDDLE_FINGER_MCP", "MIDDLE_FINGER_PIP", "MIDDLE_FINGER_DIP", "MIDDLE_FINGER_TIP",
    "RING_FINGER_MCP", "RING_FINGER_PIP", "RING_FINGER_DIP", "RING_FINGER_TIP",
    "PINKY_MCP", "PINKY_PIP", "PINKY_DIP", "PINKY_TIP",
)  # fmt: skip


# ---------------------------------------------------------------- finding the environment
def _venv_python(root: Path) -> Path | None:
    for rel in ("bin/python", "Scripts/python.exe"):
        p = root / VENV_NAME / rel
        if p.is_file():
            return p
    return None


def find_mediapipe_python() -> Path:
    """The mediapipe environment's interpreter: $SIGNLLM_MEDIAPIPE_PYTHON, then .venv-mediapipe
    in the checkout, then in the current directory. Not resolved: a venv's python is a symlink
    whose target would lose the venv."""
    env = os.environ.get(ENV_VAR)
    if env:
        p = Path(env).expanduser()
        if not p.is_file():
            raise UsageError(f"{ENV_VAR}={env}: no such interpreter (to create one: {SETUP_HINT})")
        return p.absolute()
    for root in (REPO_ROOT, Path.cwd()):
        p = _venv_python(root)
        if p is not None:
            return p.absolute()
    raise UsageError(
        f"no mediapipe environment found (looked at ${ENV_VAR}, {REPO_ROOT / VENV_NAME} and "
        f"./{VENV_NAME}); video extraction needs mediapipe==0.10.21 in its own environment "
        f"(it needs numpy<2): run `{SETUP_HINT}` in the signllm checkout, or set {ENV_VAR}"
    )


# ---------------------------------------------------------------- npz -> .pose
def _limbs(npz: Mapping[str, Any], key: str, default: Sequence[tuple[int, int]]) -> list:
    if key in npz:
        return [(int(a), int(b)) for a, b in np.asarray(npz[key]).reshape(-1, 2)]
    return [tuple(limb) for limb in default]


def landmarks_to_pose(npz: Mapping[str, Any], source: str | Path = "<landmarks>"):
    """The worker's raw landmarks (an opened .npz or a dict of arrays) -> a pose-format `Pose`.

    `source` names the video in error messages. See the module docstring for the layout.
    """
    from pose_format import Pose as PFPose
    from pose_format.numpy import NumPyPoseBody
    from pose_format.pose_header import PoseHeader, PoseHeaderComponent, PoseHeaderDimensions
    from pose_format.utils.openpose import hand_colors

    try:
        width, height = int(npz["width"]), int(npz["height"])
        parts = {k: np.asarray(npz[k], np.float32) for k in
                 ("pose", "face", "left_hand", "right_hand", "pose_world")}  # fmt: skip
        found = {k: np.asarray(npz[f"{k}_found"], bool) for k in parts}
        fps = float(npz["fps"])
    except KeyError as e:
        raise DataError(f"landmarks lack {e.args[0]!r}", source) from None
    t = len(found["pose"])
    n_face = parts["face"].shape[1] if parts["face"].ndim == 3 else 0
    expected = {"pose": (t, 33, 4), "face": (t, n_face, 3), "left_hand": (t, 21, 3),
                "right_hand": (t, 21, 3), "pose_world": (t, 33, 4)}  # fmt: skip
    for k, shape in expected.items():
        if parts[k].shape != shape or found[k].shape != (t,):
            raise DataError(
                f"landmarks {k!r} have shape {parts[k].shape}, expected {shape}", source
            )
    if t == 0 or n_face not in (468, 478) or width <= 0 or height <= 0:
        raise DataError(f"no usable frames ({t} frames, {width}x{height}, {n_face} face points)",
                        source)  # fmt: skip
    if not (np.isfinite(fps) and fps > 0):
        warnings.warn(f"{source}: the video has no frame rate; assuming {DEFAULT_FPS:g} fps",
                      stacklevel=2)  # fmt: skip
        fps = DEFAULT_FPS

    scale = np.array([width, height, 1.0], np.float32)
    datas, confs = [], []
    for k in ("pose", "face", "left_hand", "right_hand", "pose_world"):
        xyz = parts[k][..., :3] * scale
        conf = parts[k][..., 3] if k in ("pose", "pose_world") else np.ones(xyz.shape[:2])
        conf = np.where(found[k][:, None], conf, 0.0).astype(np.float32)
        datas.append(np.where(found[k][:, None, None], xyz, 0.0))
        confs.append(conf)
    data = np.nan_to_num(np.concatenate(datas, axis=1)).astype(np.float32)[:, None]  # (t,1,n,3)
    conf = np.clip(np.nan_to_num(np.concatenate(confs, axis=1)), 0, 1)[:, None]  # (t, 1, n)

    pose_limbs = _limbs(npz, "pose_limbs", POSE_LIMBS)
    hand_limbs = _limbs(npz, "hand_limbs", HAND_LIMBS)
    face_limbs = [(a, b) for a, b in _limbs(npz, "face_limbs", ()) if max(a, b) < n_face]

    def comp(name, points, limbs, colors):
        return PoseHeaderComponent(name=name, points=list(points), limbs=limbs, colors=colors,
                                   point_format="XYZC")  # fmt: skip

    components = [
        comp("POSE_LANDMARKS", POSE_POINTS, pose_limbs, [(255, 0, 0)]),
        comp("FACE_LANDMARKS", [str(i) for i in range(n_face)], face_limbs, [(128, 0, 0)]),
        comp("LEFT_HAND_LANDMARKS", HAND_POINTS, hand_limbs, list(hand_colors)),
        comp("RIGHT_HAND_LANDMARKS", HAND_POINTS, hand_limbs, list(hand_colors)),
        comp("POSE_WORLD_LANDMARKS", POSE_POINTS, pose_limbs, [(255, 0, 0)]),
    ]
    header = PoseHeader(version=0.2, dimensions=PoseHeaderDimensions(width, height, 0),
                        components=components)  # fmt: skip
    mask = np.repeat((conf == 0)[..., None], 3, axis=-1)
    body = NumPyPoseBody(fps=fps, data=np.ma.masked_array(data, mask=mask), confidence=conf)
    return PFPose(header, body)


def write_landmarks_pose(
    npz_path: str | Path, out_pose: str | Path, source: str | Path = ""
) -> Path:
    """Convert a worker .npz into a .pose file, written atomically."""
    out_pose = Path(out_pose)
    with np.load(npz_path, allow_pickle=False) as npz:
        pf = landmarks_to_pose(npz, source or npz_path)
    with atomic_write(out_pose, "wb") as f:
        pf.write(f)
    return out_pose


# ---------------------------------------------------------------- running the worker
def _run_worker(cmd: list[str], video: Path, python: Path, bar: Any) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.setdefault("GLOG_minloglevel", "2")  # silence mediapipe's C++ INFO/WARNING lines
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    tail: deque[str] = deque(maxlen=15)
    error = None
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, errors="replace", env=env)  # fmt: skip
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            line = line.rstrip("\n")
            if not line.startswith(_PREFIX + " "):
                if line.strip():
                    tail.append(line)
                continue
            kind, _, text = line[len(_PREFIX) + 1 :].partition(" ")
            if kind == "progress" and bar is not None:
                done, total = (int(x) for x in text.split())
                if total and bar.total != total:
                    bar.total = total
                bar.update(done - bar.n)
            elif kind == "warning":
                warnings.warn(f"{video}: {text}", stacklevel=2)
            elif kind == "error":
                error = text
        rc = proc.wait()
    finally:
        if proc.poll() is None:  # interrupted (Ctrl-C) or an error here: leave no orphan
            proc.kill()
            proc.wait()
    if rc == 0:
        return
    if rc == _EXIT_BAD_VIDEO:
        raise DataError(error or "cannot read this video", video)
    if rc == _EXIT_BAD_ENV:
        raise UsageError(f"the mediapipe environment {python} is not usable: {error}; "
                         f"to (re)install it: {SETUP_HINT}")  # fmt: skip
    last = " | ".join(tail) or "no output"
    raise DataError(f"the mediapipe worker failed (exit code {rc}): {last}", video)


def extract_video(
    video: str | Path,
    out_pose: str | Path,
    python: str | Path | None = None,
    model_complexity: int = 1,
    refine_face: bool = False,
    progress: bool = True,
) -> Path:
    """One video -> one `.pose` file (written atomically); returns its path.

    `python`: the mediapipe environment's interpreter (default: `find_mediapipe_python()`).
    `model_complexity` 1 is the model in the wheel; 0 and 2 are downloaded on first use.
    `refine_face`: 478 face points (with irises) instead of 468.
    """
    video, out_pose = Path(video), Path(out_pose)
    if model_complexity not in (0, 1, 2):
        raise UsageError(f"model_complexity must be 0, 1 or 2, not {model_complexity!r}")
    if not video.is_file():
        raise DataError("no such file" if not video.exists() else "not a file", video)
    if video.stat().st_size == 0:
        raise DataError("empty file (expected a video)", video)
    py = Path(python) if python is not None else find_mediapipe_python()
    if not py.is_file():
        raise UsageError(f"{py}: no such interpreter (to create one: {SETUP_HINT})")
    from tqdm.auto import tqdm

    with tempfile.TemporaryDirectory(prefix="signllm-extract-") as tmp:
        npz = Path(tmp) / "landmarks.npz"
        cmd = [str(py), "-I", str(WORKER), str(video.absolute()), str(npz),
               "--model-complexity", str(model_complexity)]  # fmt: skip
        if refine_face:
            cmd.append("--refine-face")
        with tqdm(total=None, unit="frame", desc=video.name, disable=not progress,
                  leave=False) as bar:  # fmt: skip
            _run_worker(cmd, video, py, bar)
        if not npz.is_file():
            raise DataError("the mediapipe worker wrote no landmarks", video)
        return write_landmarks_pose(npz, out_pose, source=video)


# ---------------------------------------------------------------- many videos
def collect_videos(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given; folders expand to their video files (not recursive), sorted."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file()
                           and f.suffix.lower() in VIDEO_SUFFIXES)  # fmt: skip
            if not found:
                raise DataError(f"no video files ({', '.join(VIDEO_SUFFIXES)}) in this folder", p)
            out.extend(found)
        elif p.exists():
            out.append(p)
        else:
            raise DataError("no such file", p)
    return out


@dataclass
class ExtractReport:
    """What `extract_videos` did: outputs written, outputs already there, and failures."""

    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    seconds: float = 0.0


def extract_videos(
    videos: Iterable[str | Path],
    out_dir: str | Path,
    workers: int = 1,
    python: str | Path | None = None,
    model_complexity: int = 1,
    refine_face: bool = False,
    overwrite: bool = False,
    keep_going: bool = False,
    progress: bool = True,
) -> ExtractReport:
    """Videos (or folders of them) -> `out_dir/<stem>.pose`, `workers` videos at a time.

    Resumable: a video whose .pose exists is skipped (outputs are written atomically, so an
    existing file is complete) unless `overwrite`. A broken video raises DataError naming it,
    or with `keep_going` is recorded in the report's `failed` and the others go on.
    """
    from tqdm.auto import tqdm

    if workers < 1:
        raise UsageError(f"workers must be >= 1, not {workers}")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"output {out_dir} exists and is not a folder")
    vids = collect_videos(videos)
    targets: dict[Path, Path] = {}
    for v in vids:
        dst = out_dir / f"{v.stem}.pose"
        if dst in targets.values():
            other = next(k for k, d in targets.items() if d == dst)
            raise UsageError(f"{other} and {v} would both write {dst}; rename one")
        targets[v] = dst
    py = Path(python) if python is not None else find_mediapipe_python()
    report = ExtractReport()
    todo = []
    for v, dst in targets.items():
        (report.skipped if dst.exists() and not overwrite else todo).append(v)
    report.skipped = [targets[v] for v in report.skipped]
    start = time.perf_counter()

    def one(v: Path, show: bool) -> Path:
        return extract_video(v, targets[v], py, model_complexity, refine_face, progress=show)

    def failed(v: Path, e: Exception) -> None:
        if not keep_going:
            raise e
        report.failed.append((v, str(e)))

    if workers == 1 or len(todo) <= 1:
        for v in todo:  # one video at a time: a frame bar per video
            try:
                report.written.append(one(v, progress))
            except DataError as e:
                failed(v, e)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool, \
                tqdm(total=len(todo), unit="video", disable=not progress) as bar:  # fmt: skip
            futures = {pool.submit(one, v, False): v for v in todo}
            try:
                for fut in as_completed(futures):
                    bar.update(1)
                    try:
                        report.written.append(fut.result())
                    except DataError as e:
                        failed(futures[fut], e)
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
    report.seconds = time.perf_counter() - start
    return report

"""`.pose` files (pose-format): MediaPipe Holistic, OpenPose, and our own skeleton.

Readers map into the standard 50-joint skeleton (see signllm.skeleton):
- MediaPipe Holistic, full (33 body points) or pose-format's "reduced" (8 body points, 128 face
  points; the nose is then estimated from the face mesh), optionally with POSE_WORLD_LANDMARKS
  (`variant="world"`: the body from world landmarks, each hand scaled into that space and hung
  on its wrist). The neck is the mid-point of the shoulders. z is turned into the signing space's
  depth (data/space.py): multiplied by the frame width (image landmarks) and negated, so it grows
  towards the camera in the same units as x and y.
- OpenPose BODY_25 + hands as written by pose-format (components pose_keypoints_2d, ...).
- Our own skeleton (component PROMPT2SIGN50), as written by `write_pose_file`.
Only pose-format's reader is used: importing its holistic helpers would pull in mediapipe.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Literal

import numpy as np

from ...errors import DataError
from ...fileio import atomic_write
from ...pose import Pose, PoseMeta
from ...skeleton import (
    BODY_POINTS,
    LEFT_HAND_ROOT,
    LEFT_SHOULDER,
    LEFT_WRIST,
    MEDIAPIPE_HAND21,
    MEDIAPIPE_POSE33,
    NUM_JOINTS,
    OPENPOSE_BODY25_TO_BODY,
    PROMPT2SIGN50,
    REDUCED_NOSE_FROM_FACE,
    RIGHT_HAND_ROOT,
    RIGHT_SHOULDER,
    RIGHT_WRIST,
)
from .common import merge_wrists

COMPONENT = "PROMPT2SIGN50"
Variant = Literal["auto", "image", "world"]
_WRISTS = ((LEFT_WRIST, LEFT_HAND_ROOT), (RIGHT_WRIST, RIGHT_HAND_ROOT))


def _load(path: Path):
    from pose_format import Pose as PFPose

    try:
        buf = path.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read: {e.strerror}", path) from None
    if not buf:
        raise DataError("empty file (expected a .pose file)", path)
    try:
        pf = PFPose.read(buf)
    except Exception as e:  # pose-format raises struct.error, ValueError, IndexError...
        raise DataError(f"not a readable .pose file (truncated or corrupt): {e}", path) from None
    data = np.asarray(pf.body.data.data if hasattr(pf.body.data, "data") else pf.body.data)
    total = sum(len(c.points) for c in pf.header.components)
    if data.ndim != 4 or data.shape[2] != total:
        raise DataError(
            f"body has shape {data.shape}, header announces {total} points", path, field="body"
        )
    _check_v01_length(pf, buf, data, path)
    if not np.isfinite(data).all():
        raise DataError("body holds NaN or infinite coordinates", path, field="body")
    return pf, data


def _check_v01_length(pf, buf: bytes, data: np.ndarray, path: Path) -> None:
    """pose-format v0.1 infers the frame count from the bytes left, so a cut file reads "fine".

    The header also stores the count (as uint16): compare them, and the remainder must be 0.
    """
    if abs(pf.header.version - 0.1) > 1e-6:
        return
    header = io.BytesIO()
    pf.header.write(header)
    start = len(header.getvalue())
    _, people, points, dims = data.shape
    frame_bytes = people * points * (dims + 1) * 4
    body = len(buf) - start - 6  # fps, frames, people: three uint16
    stored = int(np.frombuffer(buf[start + 2 : start + 4], dtype="<u2")[0])
    if body < 0 or body % frame_bytes or stored != (body // frame_bytes) % 65536:
        raise DataError(
            f"file is cut short or padded: the header says {stored} frames, the body holds "
            f"{body / frame_bytes:.2f}",
            path,
            field="body",
        )


def _component_points(pf, data: np.ndarray, conf: np.ndarray) -> dict[str, tuple]:
    """name -> (points, data (t, n, d), conf (t, n)) for person 0's best candidate."""
    out = {}
    start = 0
    for c in pf.header.components:
        n = len(c.points)
        out[c.name] = (list(c.points), data[:, start : start + n], conf[:, start : start + n])
        start += n
    return out


def _pick_person(data: np.ndarray, conf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if data.shape[1] == 1:
        return data[:, 0], conf[:, 0]
    person = int(conf.sum(axis=(0, 2)).argmax())
    return data[:, person], conf[:, person]


def _take(comp: tuple, names: list[str], path: Path) -> tuple[np.ndarray, np.ndarray]:
    points, d, c = comp
    try:
        idx = [points.index(n) for n in names]
    except ValueError as e:
        raise DataError(f"missing point: {e}", path, field="header") from None
    return d[:, idx], c[:, idx]


def _xyz(d: np.ndarray) -> np.ndarray:
    if d.shape[-1] >= 3:
        return d[..., :3]
    return np.concatenate([d, np.zeros((*d.shape[:-1], 3 - d.shape[-1]), d.dtype)], axis=-1)


def _from_mediapipe(
    comps: dict, path: Path, variant: Variant, frame_width: float
) -> tuple[np.ndarray, np.ndarray]:
    _body_pts, body_d, _body_c = comps["POSE_LANDMARKS"]
    t = body_d.shape[0]
    data = np.zeros((t, NUM_JOINTS, 3), np.float32)
    conf = np.zeros((t, NUM_JOINTS), np.float32)
    use_world = variant == "world"
    if use_world and "POSE_WORLD_LANDMARKS" not in comps:
        raise DataError("variant 'world' asked, but the file has no POSE_WORLD_LANDMARKS", path)
    src = comps["POSE_WORLD_LANDMARKS"] if use_world else comps["POSE_LANDMARKS"]
    for j, name in enumerate(BODY_POINTS):
        if name == "neck" or (name == "nose" and "NOSE" not in src[0]):
            continue
        d, c = _take(src, [MEDIAPIPE_POSE33[name]], path)
        data[:, j], conf[:, j] = _xyz(d[:, 0]), c[:, 0]
    if "NOSE" not in src[0]:  # reduced holistic: estimate the nose from the face mesh
        if "FACE_LANDMARKS" not in comps:
            raise DataError("reduced holistic without FACE_LANDMARKS: no nose", path)
        names = [n for n, _ in REDUCED_NOSE_FROM_FACE]
        weights = np.array([w for _, w in REDUCED_NOSE_FROM_FACE], np.float32)
        d, c = _take(comps["FACE_LANDMARKS"], names, path)
        data[:, 0] = np.einsum("tnd,n->td", _xyz(d), weights)
        conf[:, 0] = c.min(axis=1)
    # Depth: MediaPipe's z is on the scale of normalised x (a fraction of the frame width) and
    # smaller is closer to the camera; ours grows towards the camera in x's units (data/space.py).
    # World landmarks share one unit on all axes: only the sign changes.
    z_scale = -1.0 if use_world else -float(frame_width)
    data[..., 2] *= z_scale
    if not use_world:
        data[..., 2] *= _body_depth_scale(data, conf)
    both = np.minimum(conf[:, LEFT_SHOULDER], conf[:, RIGHT_SHOULDER])
    data[:, 1] = (data[:, LEFT_SHOULDER] + data[:, RIGHT_SHOULDER]) / 2
    conf[:, 1] = both

    image_body = comps["POSE_LANDMARKS"]
    for side, offset, wrist in (("LEFT", LEFT_HAND_ROOT, LEFT_WRIST), ("RIGHT", RIGHT_HAND_ROOT,
                                                                         RIGHT_WRIST)):  # fmt: skip
        key = f"{side}_HAND_LANDMARKS"
        if key not in comps:
            continue
        hd, hc = _take(comps[key], list(MEDIAPIPE_HAND21), path)
        hd = _xyz(hd).astype(np.float32)  # (t, 21, 3)
        hd[..., 2] *= -float(frame_width)  # hand z: like the body's (relative to its wrist)
        seen = (hc[:, 0] > 0) & (conf[:, wrist] > 0)
        if use_world:
            # Hands have no world landmarks: scale each hand by the body's world/image ratio
            # (shoulder width) and hang it on the world wrist.
            iw, _ = _take(image_body, ["LEFT_SHOULDER", "RIGHT_SHOULDER"], path)
            img_w = np.linalg.norm(iw[:, 0, :2] - iw[:, 1, :2], axis=-1)
            world_w = np.linalg.norm(data[:, LEFT_SHOULDER] - data[:, RIGHT_SHOULDER], axis=-1)
            ratio = np.where(img_w > 0, world_w / np.maximum(img_w, 1e-6), 0.0)[:, None, None]
            hd = (hd - hd[:, :1]) * ratio + data[:, wrist][:, None]
        else:
            # MediaPipe's hand z is relative to the hand's own wrist: put it at the body's depth.
            dz = np.where(seen, data[:, wrist, 2] - hd[:, 0, 2], 0.0)
            hd[:, :, 2] += dz[:, None]
        data[:, offset : offset + 21] = hd
        conf[:, offset : offset + 21] = hc
    data[conf == 0] = 0.0
    merge_wrists(data, conf, _WRISTS)
    return data, conf


_ARM_BONES = ((2, 3), (3, 4), (5, 6), (6, 7))  # shoulder-elbow, elbow-wrist, right then left


def _body_depth_scale(data: np.ndarray, conf: np.ndarray) -> float:
    """Factor in [0, 1] for the body's image-landmark z, fitted so the arms keep their length.

    MediaPipe's body z is on x's scale only in name: on the bundled samples an elbow-to-wrist
    bone spans 1.5-5 shoulder widths in depth while it is 0.6-0.9 long. A bone of true length L
    seen with image length l has depth sqrt(L^2 - l^2); L is taken as the 95th percentile of the
    image length over the clip (the bone seen side-on; the lifting starts the same way), shared
    by left and right, and one k per clip minimises sum (l^2 + k^2 dz^2 - L^2)^2 over the arm
    bones' frames. The sign of every depth (which joint is closer) stays MediaPipe's.
    data (t, 50, 3), conf (t, 50); 1.0 when there is nothing to fit.
    """
    num = den = 0.0
    for k in (0, 1):  # upper arm, forearm: one length for both sides
        pairs = [_ARM_BONES[k], _ARM_BONES[k + 2]]
        parts = []
        for a, b in pairs:
            ok = (conf[:, a] > 0) & (conf[:, b] > 0)
            v = data[ok, b].astype(np.float64) - data[ok, a]
            parts.append(v)
        v = np.concatenate(parts)
        if len(v) < 2:
            continue
        l2 = (v[:, :2] ** 2).sum(-1)
        dz2 = v[:, 2] ** 2
        big = np.percentile(l2, 95)
        num += float((dz2 * (big - l2)).sum())
        den += float((dz2 * dz2).sum())
    if den <= 0:
        return 1.0
    return float(np.sqrt(np.clip(num / den, 0.0, 1.0)))


def _from_openpose(comps: dict, path: Path) -> tuple[np.ndarray, np.ndarray]:
    _, bd, bc = comps["pose_keypoints_2d"]
    parts_d = [bd[:, list(OPENPOSE_BODY25_TO_BODY)]]
    parts_c = [bc[:, list(OPENPOSE_BODY25_TO_BODY)]]
    for key in ("hand_left_keypoints_2d", "hand_right_keypoints_2d"):
        if key not in comps:
            raise DataError(f"OpenPose .pose without component {key}", path, field="header")
        _, d, c = comps[key]
        parts_d.append(d)
        parts_c.append(c)
    data = _xyz(np.concatenate(parts_d, axis=1)).astype(np.float32)
    conf = np.concatenate(parts_c, axis=1).astype(np.float32)
    data[conf == 0] = 0.0
    merge_wrists(data, conf, _WRISTS)
    return data, conf


def read_pose_file(path: str | Path, variant: Variant = "auto") -> Pose:
    """A `.pose` file -> `Pose` on the standard skeleton (person with the most confidence)."""
    path = Path(path)
    pf, raw = _load(path)
    conf_raw = np.asarray(pf.body.confidence, dtype=np.float32)
    d, c = _pick_person(raw.astype(np.float32), conf_raw)
    d, c = d[:, None], c[:, None]
    comps = _component_points(pf, d[:, 0], c[:, 0])
    names = set(comps)
    if COMPONENT in names:
        pts, data, conf = comps[COMPONENT]
        if pts != list(PROMPT2SIGN50.joints):
            raise DataError(f"{COMPONENT} component has unexpected points", path, field="header")
        ndim = 3 if data.shape[-1] >= 3 else 2
        data = _xyz(data).astype(np.float32)
    elif "POSE_LANDMARKS" in names:
        data, conf = _from_mediapipe(comps, path, variant, pf.header.dimensions.width or 1)
        ndim = 3
    elif "pose_keypoints_2d" in names:
        data, conf = _from_openpose(comps, path)
        ndim = 2
    else:
        raise DataError(
            f"unknown .pose layout (components: {', '.join(sorted(names))}); expected MediaPipe "
            "Holistic, OpenPose BODY_25 + hands, or PROMPT2SIGN50",
            path,
            field="header",
        )
    conf = np.clip(np.nan_to_num(conf), 0.0, 1.0).astype(np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        data = np.where(conf[..., None] > 0, data, 0.0).astype(np.float32)
    if not np.isfinite(data).all():  # finite in the file, not once scaled (e.g. a huge width)
        raise DataError(
            "coordinates overflow once mapped to the skeleton (a huge value or frame size)",
            path,
            field="header" if pf.header.dimensions.width > 1e6 else "body",
        )
    meta = PoseMeta(id=path.stem, source=str(path))
    dims = pf.header.dimensions
    meta.extra["frame_size"] = [int(dims.width), int(dims.height)]
    fps = float(pf.body.fps) if pf.body.fps and pf.body.fps > 0 else 25.0
    return Pose(data=data, confidence=conf, fps=fps, meta=meta, ndim=ndim)


def to_pose_format(pose: Pose):
    """Our `Pose` -> a pose-format `Pose` with one component on the standard skeleton."""
    from pose_format import Pose as PFPose
    from pose_format.numpy import NumPyPoseBody
    from pose_format.pose_header import PoseHeader, PoseHeaderComponent, PoseHeaderDimensions

    sk = pose.skel
    dims = 3 if pose.ndim == 3 else 2
    fmt = "XYZC" if dims == 3 else "XYC"
    component = PoseHeaderComponent(
        name=COMPONENT,
        points=list(sk.joints),
        limbs=[tuple(limb) for limb in sk.limbs],
        colors=[tuple(c) for c in sk.limb_colours],
        point_format=fmt,
    )
    observed = pose.data[pose.mask]
    size = pose.meta.extra.get("frame_size")
    if size:
        width, height = int(size[0]), int(size[1])
    else:  # fit the canvas to the data (drawing tools need a positive size)
        hi = observed.max(axis=0) if observed.size else np.ones(3)
        width, height = max(1, int(np.ceil(hi[0]))), max(1, int(np.ceil(hi[1])))
    header = PoseHeader(version=0.2, dimensions=PoseHeaderDimensions(width, height, 0),
                        components=[component])  # fmt: skip
    data = pose.data[:, None, :, :dims]  # (t, 1, j, d)
    conf = pose.confidence[:, None, :]  # (t, 1, j)
    mask = np.repeat((conf == 0)[..., None], dims, axis=-1)
    body = NumPyPoseBody(fps=pose.fps, data=np.ma.masked_array(data, mask=mask), confidence=conf)
    return PFPose(header, body)


def write_pose_file(pose: Pose, path: str | Path) -> Path:
    path = Path(path)
    pf = to_pose_format(pose)
    with atomic_write(path, "wb") as f:
        pf.write(f)
    return path

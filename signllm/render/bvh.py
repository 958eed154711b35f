"""BVH motion export, so a produced (or recorded) signing skeleton can drive an avatar.

Hierarchy. Our 50-joint tree is rooted at the nose (the lifter's choice); avatars expect a torso
root, so the BVH tree is re-rooted at the neck point. Every one of our 50 points is a JOINT of the
same name, plus 13 synthetic joints with zero offsets (63 in all; End Sites not counted):
- `root` (ROOT, at the neck): position channels and the torso's orientation (the shoulder line);
- `neck` turns the head (nose), `right_collar`/`left_collar` turn each shoulder (clavicles), so a
  shrug or a nod needs no compromise with the other branches;
- `<side>_hand_<finger>_metacarpal`, five per hand between the hand's wrist and each finger root:
  the palm bends (thumb opposition, cupping), and a rigid palm cannot follow real keypoints.
Depth-first order: root, neck, nose, right collar/arm/hand, left collar/arm/hand. The body wrist
and the hand's wrist (one physical point, stored twice by Prompt2Sign) stay two joints linked by
their measured (often zero-length) bone. Leaves (nose, fingertips) end in an `End Site` half their
bone long, so tools draw the last bone too.

Rest pose (OFFSETs) is T-pose-like: head up (+Y), arms and straight fingers along -X (right) and
+X (left), palms down. Bone lengths are the clip's median lengths. Where several bones leave one
point (neck -> shoulders, wrist -> finger roots) their layout cannot be invented: it is the
clip's mean shape (iterative Procrustes over the frames that see them all), turned as a block to
the T-pose. Bones never observed take the mirrored side's length, else a generic template in
shoulder widths.

Rotations (ZXY Euler, degrees, local to the parent, R = Rz @ Rx @ Ry as BVH composes the channels
in the order listed) are fitted per frame so forward kinematics reproduces every observed bone
direction exactly: a joint with one child takes the minimal rotation (swing) from its rest offset
to the observed bone, expressed in its parent's frame; the root and the hands' wrists take the
least-squares rigid fit (Kabsch) of their children, then each collar/metacarpal swings the rest.
Twist about a bone is unobservable from points: it is inherited from the parent (fingers twist
with the palm, whose orientation the five finger roots define). Positions therefore come back
exactly up to bone lengths, which BVH fixes (the medians). Missing joints hold the last observed
local rotation (the first observed one before it, the rest pose if never seen); a missing neck
holds the last root position.

Coordinates: ours are image-like (x right, y down, z away from the camera); BVH is Y up, so we
write (x, -y, -z) * scale (a rotation: handedness is kept), with the clip's median neck at the
origin. `scale=None` sizes the median shoulder width to 38 units (centimetres for an adult).
2D clips (z = 0) export flat; lift them first (signllm.data.lift).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import DataError, UsageError
from ..fileio import atomic_write
from ..pose import Pose
from ..skeleton import LEFT_SHOULDER, RIGHT_SHOULDER, Skeleton, median_parent_distances

SHOULDER_WIDTH_CM = 38.0
ROOT_NAME = "root"
ROOT_CHANNELS = ("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation")
JOINT_CHANNELS = ("Zrotation", "Xrotation", "Yrotation")
_FLIP = np.array([1.0, -1.0, -1.0])  # image (y down, z away) -> BVH (Y up, Z towards the viewer)
_X, _Y = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])

# Fallback bone lengths in shoulder widths, for bones a clip never shows (e.g. a hand kept out of
# frame in a lexicon video); rough adult proportions.
_BODY_TEMPLATE = {"nose": 0.45, "shoulder": 0.5, "elbow": 0.62, "wrist": 0.55}
_HAND_TEMPLATE = {  # hand point -> (length, palm-down T-pose direction; x = along the fingers)
    "thumb_cmc": (0.09, (0.5, -0.15, 0.85)),
    "thumb_mcp": (0.08, None), "thumb_ip": (0.06, None), "thumb_tip": (0.05, None),
    "index_mcp": (0.18, (1.0, 0.0, 0.25)),
    "index_pip": (0.08, None), "index_dip": (0.05, None), "index_tip": (0.045, None),
    "middle_mcp": (0.18, (1.0, 0.0, 0.08)),
    "middle_pip": (0.09, None), "middle_dip": (0.055, None), "middle_tip": (0.05, None),
    "ring_mcp": (0.17, (1.0, 0.0, -0.08)),
    "ring_pip": (0.08, None), "ring_dip": (0.05, None), "ring_tip": (0.045, None),
    "pinky_mcp": (0.16, (1.0, 0.0, -0.22)),
    "pinky_pip": (0.06, None), "pinky_dip": (0.04, None), "pinky_tip": (0.04, None),
}  # fmt: skip


class BvhData(NamedTuple):
    """A parsed BVH file; joints (not End Sites) in file order."""

    names: list[str]
    parents: list[int]  # -1 for the root
    offsets: np.ndarray  # (n, 3)
    channels: list[tuple[str, ...]]  # per joint, in file order
    frames: np.ndarray  # (t, c) all channels of a frame, in joint order
    frame_time: float  # seconds


@dataclass(frozen=True)
class BvhTransform:
    """How pose coordinates map to the written BVH: bvh = (x, -y, -z) * scale - origin."""

    scale: float
    origin: tuple[float, float, float]

    def apply(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) pose coordinates -> (..., 3) BVH coordinates."""
        return np.asarray(points, np.float64) * _FLIP * self.scale - np.asarray(self.origin)


# --- rotation helpers, all batched over leading axes -----------------------------------------
def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(n > 0, n, 1.0)


def _swing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Minimal rotation (..., 3, 3) taking unit a (..., 3) onto unit b (..., 3)."""
    a, b = np.broadcast_arrays(_unit(a), _unit(b))
    v = np.cross(a, b)  # (..., 3)
    c = np.sum(a * b, axis=-1)[..., None, None]
    k = np.zeros((*v.shape[:-1], 3, 3))
    k[..., 0, 1], k[..., 0, 2], k[..., 1, 2] = -v[..., 2], v[..., 1], -v[..., 0]
    k = k - np.swapaxes(k, -1, -2)
    eye = np.eye(3)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = eye + k + (k @ k) / (1.0 + c)
    opposite = (c[..., 0, 0] < -1.0 + 1e-9) | ~np.isfinite(r).all(axis=(-1, -2))
    if opposite.any():  # half turn about any axis perpendicular to a
        ao = a[opposite]
        axis = np.cross(ao, np.where(np.abs(ao[:, :1]) < 0.9, _X, _Y))
        axis = _unit(axis)
        r[opposite] = 2.0 * axis[:, :, None] * axis[:, None, :] - eye
    return r


def _kabsch(src: np.ndarray, dst: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Rotation (t, 3, 3) minimising sum_k w |R src_k - dst_k|^2; src (k, 3), dst (t, k, 3),
    w (t, k)."""
    h = np.einsum("tk,ki,tkj->tij", w, src, dst)  # (t, 3, 3) cross-covariance
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(np.swapaxes(vt, -1, -2) @ np.swapaxes(u, -1, -2)))
    d = np.where(d == 0, 1.0, d)
    fix = np.ones((len(h), 3))
    fix[:, 2] = d
    return np.swapaxes(vt, -1, -2) @ (fix[:, :, None] * np.swapaxes(u, -1, -2))


def _frame_align(a: np.ndarray, b: np.ndarray, a_to: np.ndarray, b_to: np.ndarray) -> np.ndarray:
    """Rotation taking direction a onto a_to and turning b (about a_to) towards b_to."""

    def basis(p: np.ndarray, q: np.ndarray) -> np.ndarray | None:
        e1 = _unit(p)
        q = q - np.dot(q, e1) * e1
        if np.linalg.norm(q) < 1e-6 * max(1.0, np.linalg.norm(p)):
            return None
        e2 = _unit(q)
        return np.stack([e1, e2, np.cross(e1, e2)], axis=1)  # columns

    src, dst = basis(a, b), basis(a_to, b_to)
    if src is None or dst is None:
        return _swing(a, a_to)
    return dst @ src.T


def _euler_zxy(r: np.ndarray) -> np.ndarray:
    """(t, 3, 3) rotations -> (t, 3) degrees (z, x, y) with R = Rz(z) @ Rx(x) @ Ry(y)."""
    x = np.arcsin(np.clip(r[:, 2, 1], -1.0, 1.0))
    z = np.arctan2(-r[:, 0, 1], r[:, 1, 1])
    y = np.arctan2(-r[:, 2, 0], r[:, 2, 2])
    lock = np.abs(r[:, 2, 1]) > 1.0 - 1e-9  # gimbal lock: put all of z and y into z
    z = np.where(lock, np.arctan2(r[:, 1, 0], r[:, 0, 0]), z)
    y = np.where(lock, 0.0, y)
    angles = np.unwrap(np.stack([z, x, y], axis=1), axis=0)  # no 360-degree jumps between frames
    return np.degrees(angles)


def _axis_rotation(axis: str, deg: np.ndarray) -> np.ndarray:
    """(t,) degrees -> (t, 3, 3) rotation about X, Y or Z."""
    a = np.radians(deg)
    c, s = np.cos(a), np.sin(a)
    r = np.zeros((len(a), 3, 3))
    i, j = {"X": (1, 2), "Y": (2, 0), "Z": (0, 1)}[axis]
    k = 3 - i - j
    r[:, k, k] = 1.0
    r[:, i, i], r[:, j, j], r[:, i, j], r[:, j, i] = c, c, -s, s
    return r


# --- the hierarchy -----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Node:
    name: str
    parent: int  # node index, -1 for the root
    point: int  # our joint whose position the node sits at
    joint: int  # our joint it stands for, -1 for the synthetic root and collars


def _hierarchy(sk: Skeleton) -> tuple[list[_Node], dict[int, int]]:
    """BVH nodes in depth-first (file) order, and each of our joints' point parent: the joint
    whose position its rest offset starts from (-1 for the neck, where the root sits)."""
    neck, nose = sk.index("neck"), sk.index("nose")
    point_parent = dict(enumerate(sk.parents))
    point_parent[nose], point_parent[neck] = neck, -1
    children: dict[int, list[int]] = {j: [] for j in range(sk.num_joints)}
    for j, p in enumerate(sk.parents):
        if p >= 0 and j != neck and p != neck:
            children[p].append(j)
    nodes: list[_Node] = []

    def add(name: str, parent: int, point: int, joint: int) -> int:
        nodes.append(_Node(name, parent, point, joint))
        return len(nodes) - 1

    def subtree(j: int, parent: int) -> None:
        me = add(sk.joints[j], parent, j, j)
        for c in children[j]:
            if len(children[j]) > 1:  # a hand's wrist: one metacarpal per finger, see module
                hand, point = sk.joints[c].split("_hand_")
                add(f"{hand}_hand_{point.split('_')[0]}_metacarpal", me, j, -1)
                subtree(c, len(nodes) - 1)
            else:
                subtree(c, me)

    root = add(ROOT_NAME, -1, neck, -1)
    subtree(nose, add("neck", root, neck, neck))
    for side, shoulder in (("right", RIGHT_SHOULDER), ("left", LEFT_SHOULDER)):
        subtree(shoulder, add(f"{side}_collar", root, neck, -1))
    return nodes, point_parent


def _median_lengths(
    pts: np.ndarray, mask: np.ndarray, point_parent: dict[int, int], sk: Skeleton, shoulder: float
) -> np.ndarray:
    """(j,) median length from each joint's point parent, with fallbacks (see module)."""
    n = sk.num_joints
    length = median_parent_distances(pts, mask, [point_parent[j] for j in range(n)])
    mirror = sk.mirror
    for j in range(n):
        if np.isnan(length[j]) and not np.isnan(length[mirror[j]]):
            length[j] = length[mirror[j]]
    for j in np.flatnonzero(np.isnan(length)):
        name = sk.joints[j]
        if "_hand_" in name:
            part = name.split("_hand_")[1]
            length[j] = 0.0 if part == "wrist" else _HAND_TEMPLATE[part][0] * shoulder
        else:
            length[j] = _BODY_TEMPLATE[name.split("_")[-1]] * shoulder
    return length


def _group_shape(pts: np.ndarray, mask: np.ndarray, at: int, kids: list[int]) -> np.ndarray | None:
    """Mean layout (k, 3) of the unit vectors at -> kids over the frames that see them all
    (iterative Procrustes), or None if no frame does."""
    full = mask[:, at] & mask[:, kids].all(axis=1)
    if not full.any():
        return None
    u = _unit(pts[full][:, kids] - pts[full][:, at : at + 1])  # (f, k, 3)
    mean = u[0]
    for _ in range(4):
        r = _kabsch(mean, u, np.ones(u.shape[:2]))  # (f, 3, 3): mean -> frame
        mean = _unit(np.einsum("fji,fkj->fki", r, u).mean(axis=0))  # frames turned onto the mean
    return mean


def _rest_vectors(
    sk: Skeleton, pts: np.ndarray, mask: np.ndarray, point_parent: dict[int, int], shoulder: float
) -> np.ndarray:
    """(j, 3) rest vector of each of our joints from its point parent, T-pose-like (see module)."""
    n = sk.num_joints
    length = _median_lengths(pts, mask, point_parent, sk, shoulder)
    direction = np.zeros((n, 3))
    kids = {j: [c for c in range(n) if point_parent[c] == j] for j in range(n)}
    # Shoulders as the clip holds them (below the neck), turned so left - right runs along +X.
    neck, shoulders = sk.index("neck"), [RIGHT_SHOULDER, LEFT_SHOULDER]
    shape = _group_shape(pts, mask, neck, shoulders)
    if shape is None:
        shape = _unit(np.array([[-1.0, -0.3, 0.0], [1.0, -0.3, 0.0]]))
    direction[shoulders] = shape @ _frame_align(shape[1] - shape[0], _Y, _X, _Y).T
    direction[sk.index("nose")] = _Y
    for side, sign in (("right", -1.0), ("left", 1.0)):
        for part in ("elbow", "wrist", "hand_wrist"):
            direction[sk.index(f"{side}_{part}")] = sign * _X
        wrist = sk.index(f"{side}_hand_wrist")
        fingers = kids[wrist]  # thumb_cmc, index_mcp, middle_mcp, ring_mcp, pinky_mcp
        names = [sk.joints[f].split("_hand_")[1] for f in fingers]
        shape = _group_shape(pts, mask, wrist, fingers)
        if shape is None:  # a hand never seen whole: the template's palm
            shape = _unit(np.array([_HAND_TEMPLATE[m][1] for m in names]) * [sign, 1.0, 1.0])
        else:  # fingers along the arm, palm down (index x pinky is the palm normal's side)
            mid, idx, pinky = (names.index(m) for m in ("middle_mcp", "index_mcp", "pinky_mcp"))
            normal = np.cross(shape[idx], shape[pinky])
            shape = shape @ _frame_align(shape[mid], normal, sign * _X, sign * _Y).T
        direction[fingers] = shape
        for f in fingers:  # straight fingers: every phalanx continues the one before
            j = f
            while kids[j]:
                (j,) = kids[j]
                direction[j] = direction[point_parent[j]]
    return direction * length[:, None]


def _fill_hold(valid: np.ndarray) -> np.ndarray:
    """(t,) bool -> (t,) index of the frame whose value to use: the last valid one before, the
    first valid one for leading gaps, -1 if none is valid."""
    t = len(valid)
    if not valid.any():
        return np.full(t, -1)
    idx = np.maximum.accumulate(np.where(valid, np.arange(t), -1))
    idx[idx < 0] = int(np.flatnonzero(valid)[0])
    return idx


def _hold(values: np.ndarray, valid: np.ndarray, default: np.ndarray) -> np.ndarray:
    """Replace invalid frames of values (t, ...) by the held valid ones (default if none)."""
    idx = _fill_hold(valid)
    if idx[0] < 0:
        return np.broadcast_to(default, values.shape).copy()
    return values[idx]


def _fit_rotations(
    nodes: list[_Node], offsets: np.ndarray, pts: np.ndarray, mask: np.ndarray
) -> np.ndarray:
    """Local rotation (t, nodes, 3, 3) of every node so that forward kinematics follows `pts`
    (t, j, 3) BVH coordinates with `mask` (t, j)."""
    t = len(pts)
    eye = np.broadcast_to(np.eye(3), (t, 3, 3))
    unit = float(np.abs(offsets).max()) or 1.0
    kids = [[c for c, m in enumerate(nodes) if m.parent == k] for k in range(len(nodes))]
    moving = [[c for c in kk if np.linalg.norm(offsets[c]) > 1e-6 * unit] for kk in kids]
    for k, kk in enumerate(kids):  # a joint with branch nodes fits the children of its branches
        if not moving[k] and any(nodes[c].joint < 0 for c in kk):
            moving[k] = [g for c in kk if nodes[c].joint < 0 for g in moving[c]]
    # The root (torso) turns with the shoulder line alone: the head has its own `neck` branch.
    moving[0] = [c for c, m in enumerate(nodes) if m.joint in (RIGHT_SHOULDER, LEFT_SHOULDER)]
    local = np.empty((t, len(nodes), 3, 3))
    glob = np.empty((t, len(nodes), 3, 3))
    for k, node in enumerate(nodes):
        par_g = glob[:, node.parent] if node.parent >= 0 else eye
        targets = moving[k]
        if not targets:
            local[:, k] = eye
            glob[:, k] = par_g
            continue
        at = node.point
        points = [nodes[c].point for c in targets]
        d = pts[:, points] - pts[:, at : at + 1]  # (t, k, 3)
        ok = mask[:, points] & mask[:, at : at + 1]
        ok &= np.linalg.norm(d, axis=-1) > 1e-9 * unit
        rest = offsets[targets]  # (k, 3)
        lengths = np.linalg.norm(rest, axis=-1)  # (k,)
        count = ok.sum(axis=1)  # (t,)
        loc = np.broadcast_to(np.eye(3), (t, 3, 3)).copy()
        one = count == 1
        if one.any():  # one child seen: minimal rotation in the parent's frame (twist inherited)
            first = np.argmax(ok, axis=1)  # (t,)
            seen = d[np.arange(t), first]  # (t, 3)
            in_parent = np.einsum("tji,tj->ti", par_g, seen)  # G_parent^T d
            loc[one] = _swing(rest[first], in_parent)[one]
        many = count >= 2
        if many.any():  # several: best rigid fit, each child weighted by its bone length^2
            w = ok * lengths**2
            target = _unit(d) * lengths[None, :, None]
            src = rest
            if k == 0:  # torso: a faint pull to stay upright when the shoulders are in line
                up = 0.1 * lengths.mean() * _Y
                src = np.vstack([rest, up])
                target = np.concatenate([target, np.broadcast_to(up, (t, 1, 3))], axis=1)
                w = np.concatenate([w, np.full((t, 1), 1e-2 * lengths.mean() ** 2)], axis=1)
            g = _kabsch(src, target[many], w[many])
            loc[many] = np.swapaxes(par_g[many], -1, -2) @ g
        local[:, k] = _hold(loc, count > 0, np.eye(3))
        glob[:, k] = par_g @ local[:, k]
    return local


def _hierarchy_text(nodes: list[_Node], offsets: np.ndarray, shoulder: float) -> list[str]:
    lines = ["HIERARCHY"]

    def fmt(v: np.ndarray) -> str:
        return " ".join(f"{round(float(x), 6) + 0.0:.6f}" for x in v)  # no "-0.000000"

    def emit(k: int, depth: int) -> None:
        pad, node = "  " * depth, nodes[k]
        kids = [c for c, m in enumerate(nodes) if m.parent == k]
        lines.append(f"{pad}{'ROOT' if node.parent < 0 else 'JOINT'} {node.name}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}  OFFSET {fmt(offsets[k])}")
        chans = ROOT_CHANNELS if node.parent < 0 else JOINT_CHANNELS
        lines.append(f"{pad}  CHANNELS {len(chans)} {' '.join(chans)}")
        for c in kids:
            emit(c, depth + 1)
        if not kids:  # a leaf: half its bone further on, so tools draw the last bone too
            end = offsets[k] * 0.5 if np.linalg.norm(offsets[k]) > 0 else _Y * 0.05 * shoulder
            lines.extend(
                [f"{pad}  End Site", f"{pad}  {{", f"{pad}    OFFSET {fmt(end)}", f"{pad}  }}"]
            )
        lines.append(f"{pad}}}")

    emit(0, 0)
    return lines


def write_bvh(
    pose: Pose, path: str | Path, scale: float | None = None, fps: float | None = None
) -> BvhTransform:
    """Write `pose` as BVH motion (see the module docstring); atomic. Returns the coordinate
    transform used, so BVH positions can be compared with the pose.

    `scale`: BVH units per pose unit; None sizes the median shoulder width to 38 (centimetres).
    `fps`: frame rate written as the Frame Time; defaults to the pose's.
    """
    path = Path(path)
    if path.suffix.lower() != ".bvh":
        raise UsageError(f"cannot write BVH to {path}: the extension must be .bvh")
    fps = float(fps if fps is not None else pose.fps)
    if not fps > 0:
        raise UsageError(f"fps must be positive, got {fps}")
    if scale is not None and not (np.isfinite(scale) and scale > 0):
        raise UsageError(f"scale must be a positive number, got {scale}")
    mask = pose.mask  # (t, j)
    if pose.num_frames == 0 or not mask.any():
        raise DataError(f"pose {pose.meta.id or '(no id)'} has no observed joint: no motion", path)
    sk = pose.skel
    nodes, point_parent = _hierarchy(sk)
    neck = sk.index("neck")

    raw = pose.data.astype(np.float64) * _FLIP  # (t, j, 3) BVH axes, pose units
    both = mask[:, RIGHT_SHOULDER] & mask[:, LEFT_SHOULDER]
    width = 0.0
    if both.any():
        width = float(
            np.median(np.linalg.norm(raw[both, RIGHT_SHOULDER] - raw[both, LEFT_SHOULDER], axis=-1))
        )
    if scale is None:  # without shoulders, the clip's extent stands in for the shoulder width
        extent = width or float(np.ptp(raw[mask], axis=0).max())
        scale = SHOULDER_WIDTH_CM / extent if extent > 0 else 1.0
    centre = raw[mask[:, neck], neck] if mask[:, neck].any() else raw[mask]
    origin = np.median(centre, axis=0) * scale
    tf = BvhTransform(float(scale), (float(origin[0]), float(origin[1]), float(origin[2])))
    pts = tf.apply(pose.data)  # (t, j, 3)
    shoulder = width * tf.scale if width > 0 else SHOULDER_WIDTH_CM

    rest = _rest_vectors(sk, pts, mask, point_parent, shoulder)  # (j, 3)
    offsets = np.array([rest[m.joint] if m.joint >= 0 else np.zeros(3) for m in nodes])
    local = _fit_rotations(nodes, offsets, pts, mask)  # (t, nodes, 3, 3)
    root_pos = _hold(pts[:, neck], mask[:, neck], np.zeros(3))  # (t, 3)
    euler = [_euler_zxy(local[:, k]) for k in range(len(nodes))]
    motion = np.concatenate([root_pos, *euler], axis=1)  # (t, 3 + 3 * nodes)

    lines = _hierarchy_text(nodes, offsets, shoulder)
    lines += ["MOTION", f"Frames: {len(motion)}", f"Frame Time: {1.0 / fps:.8f}"]
    with atomic_write(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")
        np.savetxt(f, np.round(motion, 6) + 0.0, fmt="%.6f")
    return tf


def read_bvh(path: str | Path) -> BvhData:
    """Parse a BVH file (any channel layout); End Sites are skipped."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError("no such file", path) from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read BVH: {e}", path) from None
    lines = text.splitlines()
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[tuple[str, ...]] = []
    stack: list[int] = []  # joint ids; -2 marks an End Site block
    pending: int | None = None
    i = 0

    def fail(msg: str) -> DataError:
        return DataError(msg, path, line=i + 1)

    if not lines or lines[0].strip() != "HIERARCHY":
        raise DataError("not a BVH file: first line must be HIERARCHY", path, line=1)
    i = 1
    while i < len(lines):
        tok = lines[i].split()
        if not tok:
            i += 1
            continue
        key = tok[0]
        if key in ("ROOT", "JOINT"):
            if (key == "ROOT") != (not stack) or len(tok) < 2:
                raise fail(f"unexpected {key}")
            names.append(" ".join(tok[1:]))
            parents.append(stack[-1] if stack else -1)
            offsets.append([0.0, 0.0, 0.0])
            channels.append(())
            pending = len(names) - 1
        elif key == "End":
            pending = -2
        elif key == "{":
            if pending is None:
                raise fail("'{' without a joint")
            stack.append(pending)
            pending = None
        elif key == "}":
            if not stack:
                raise fail("unbalanced '}'")
            stack.pop()
        elif key == "OFFSET":
            if not stack or len(tok) != 4:
                raise fail("OFFSET needs 3 numbers inside a joint")
            try:
                vals = [float(v) for v in tok[1:]]
            except ValueError:
                raise fail("OFFSET values must be numbers") from None
            if stack[-1] >= 0:
                offsets[stack[-1]] = vals
        elif key == "CHANNELS":
            if not stack or stack[-1] < 0:
                raise fail("CHANNELS outside a joint")
            try:
                count = int(tok[1])
            except (IndexError, ValueError):
                raise fail("CHANNELS needs a count") from None
            if len(tok) != count + 2:
                raise fail(f"CHANNELS says {count} but lists {len(tok) - 2}")
            known = {"Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation", "Zrotation"}
            if not set(tok[2:]) <= known:
                raise fail(f"unknown channel in {' '.join(tok[2:])}")
            channels[stack[-1]] = tuple(tok[2:])
        elif key == "MOTION":
            break
        else:
            raise fail(f"unexpected {key!r} in HIERARCHY")
        i += 1
    else:
        raise DataError("no MOTION section", path)
    if stack or not names:
        raise fail("HIERARCHY is incomplete (unbalanced braces or no joints)")
    frames, frame_time = _read_motion(lines, i + 1, sum(len(c) for c in channels), path)
    return BvhData(names, parents, np.asarray(offsets, np.float64), channels, frames, frame_time)


def _read_motion(lines: list[str], i: int, width: int, path: Path) -> tuple[np.ndarray, float]:
    """The MOTION section from line index `i` (just after MOTION): frames (t, width), one value
    per channel, and the frame time in seconds."""
    header: dict[str, str] = {}
    for key in ("Frames:", "Frame Time:"):
        while i < len(lines) and not lines[i].strip():
            i += 1
        if i >= len(lines) or not lines[i].strip().startswith(key):
            raise DataError(f"expected '{key}'", path, line=i + 1)
        header[key] = lines[i].strip()[len(key) :].strip()
        i += 1
    try:
        n_frames, frame_time = int(header["Frames:"]), float(header["Frame Time:"])
    except ValueError:
        raise DataError("Frames / Frame Time are not numbers", path) from None
    rows = [ln for ln in lines[i:] if ln.strip()]
    if len(rows) != n_frames:
        raise DataError(f"header says {n_frames} frames, file has {len(rows)}", path)
    try:
        frames = np.array([[float(v) for v in ln.split()] for ln in rows], dtype=np.float64)
    except ValueError:
        raise DataError("motion values must be numbers", path) from None
    frames = frames.reshape(n_frames, -1) if n_frames else np.zeros((0, width))
    if frames.shape[1] != width:
        raise DataError(f"each frame needs {width} values, found {frames.shape[1]}", path)
    return frames, frame_time


def bvh_forward_kinematics(bvh: BvhData) -> np.ndarray:
    """World positions (t, n, 3) of every joint: p = p_parent + G_parent (offset + translation
    channels); rotation channels compose in the order listed (ZXY: Rz @ Rx @ Ry)."""
    t = len(bvh.frames)
    n = len(bvh.names)
    pos = np.zeros((t, n, 3))
    glob = np.zeros((t, n, 3, 3))
    col = 0
    for j in range(n):
        trans = np.broadcast_to(bvh.offsets[j], (t, 3)).copy()
        rot = np.broadcast_to(np.eye(3), (t, 3, 3)).copy()
        for ch in bvh.channels[j]:
            v = bvh.frames[:, col]
            axis = ch[0]
            if ch.endswith("position"):
                trans[:, "XYZ".index(axis)] += v
            else:
                rot = rot @ _axis_rotation(axis, v)
            col += 1
        p = bvh.parents[j]
        if p < 0:
            pos[:, j], glob[:, j] = trans, rot
        else:
            pos[:, j] = pos[:, p] + np.einsum("tij,tj->ti", glob[:, p], trans)
            glob[:, j] = glob[:, p] @ rot
    return pos

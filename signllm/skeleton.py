"""The standard skeleton, and how other keypoint layouts map into it.

Prompt2Sign (and Progressive Transformers before it) keep 50 joints: the 8 upper-body points of
OpenPose BODY_25 (nose, neck, shoulders, elbows, wrists) followed by 21 points of the left hand and
21 of the right hand. The order below is exactly the column order of their `.skels` files, so a
`.skels` frame reshaped to (50, 3) is indexed by this table with no permutation.

Everything about joints lives here: names, the parent tree (rooted at the nose, as in the inverse
kinematics of Zelinka & Kanis), limbs and colours for drawing, left/right groups, and the index maps
from OpenPose BODY_25 + hands and from MediaPipe Holistic (full, reduced, world landmarks).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

# The 21 hand points, shared by OpenPose's hand model and MediaPipe Hands (same order).
HAND_POINTS: tuple[str, ...] = (
    "wrist",
    "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip",
    "index_mcp", "index_pip", "index_dip", "index_tip",
    "middle_mcp", "middle_pip", "middle_dip", "middle_tip",
    "ring_mcp", "ring_pip", "ring_dip", "ring_tip",
    "pinky_mcp", "pinky_pip", "pinky_dip", "pinky_tip",
)  # fmt: skip
# Parent of each hand point inside the hand (wrist is the hand's root: -1).
HAND_PARENTS: tuple[int, ...] = (
    -1, 0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11, 0, 13, 14, 15, 0, 17, 18, 19,
)  # fmt: skip
BODY_POINTS: tuple[str, ...] = (
    "nose", "neck",
    "right_shoulder", "right_elbow", "right_wrist",
    "left_shoulder", "left_elbow", "left_wrist",
)  # fmt: skip
BODY_PARENTS: tuple[int, ...] = (-1, 0, 1, 2, 3, 1, 5, 6)

_FINGER_COLOURS = {  # RGB per finger, shared by both hands; body limbs are grey.
    "thumb": (230, 80, 60),
    "index": (240, 180, 40),
    "middle": (80, 190, 80),
    "ring": (60, 140, 230),
    "pinky": (170, 90, 220),
}
_BODY_COLOUR = (160, 160, 160)
_LEFT_ARM_COLOUR = (60, 160, 220)
_RIGHT_ARM_COLOUR = (230, 120, 60)


@dataclass(frozen=True)
class Skeleton:
    """A named joint layout with a tree (parents) and limbs for drawing."""

    name: str
    joints: tuple[str, ...]
    parents: tuple[int, ...]  # -1 for the root
    limbs: tuple[tuple[int, int], ...]
    limb_colours: tuple[tuple[int, int, int], ...]
    groups: dict[str, tuple[int, ...]] = field(default_factory=dict)

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    def index(self, joint: str) -> int:
        return self.joints.index(joint)

    @property
    def bones(self) -> tuple[tuple[int, int], ...]:
        """(parent, child) for every non-root joint, in joint order (parents come first)."""
        return tuple((p, c) for c, p in enumerate(self.parents) if p >= 0)

    @property
    def mirror(self) -> np.ndarray:
        """Index permutation that swaps left and right (for augmentation and the shared bone lengths)."""
        perm = np.arange(self.num_joints)
        for i, name in enumerate(self.joints):
            for a, b in (("left_", "right_"), ("right_", "left_")):
                if name.startswith(a):
                    perm[i] = self.index(b + name[len(a) :])
        return perm


def _build_prompt2sign50() -> Skeleton:
    joints = list(BODY_POINTS)
    parents = list(BODY_PARENTS)
    limbs: list[tuple[int, int]] = []
    colours: list[tuple[int, int, int]] = []
    for child, parent in enumerate(BODY_PARENTS):
        if parent < 0:
            continue
        limbs.append((parent, child))
        name = BODY_POINTS[child]
        colours.append(
            _LEFT_ARM_COLOUR
            if name.startswith("left")
            else _RIGHT_ARM_COLOUR
            if name.startswith("right")
            else _BODY_COLOUR
        )
    groups: dict[str, tuple[int, ...]] = {"body": tuple(range(8))}
    for side in ("left", "right"):
        offset = len(joints)
        wrist_in_body = BODY_POINTS.index(f"{side}_wrist")
        joints += [f"{side}_hand_{p}" for p in HAND_POINTS]
        # The hand's wrist hangs off the body's wrist with a zero-length bone: both are the same
        # physical point, kept twice because every Prompt2Sign file stores it twice.
        parents += [wrist_in_body if p < 0 else p + offset for p in HAND_PARENTS]
        for child, parent in enumerate(HAND_PARENTS):
            if parent < 0:
                continue
            limbs.append((parent + offset, child + offset))
            colours.append(_FINGER_COLOURS[HAND_POINTS[child].split("_")[0]])
        groups[f"{side}_hand"] = tuple(range(offset, offset + 21))
    groups["hands"] = groups["left_hand"] + groups["right_hand"]
    groups["left"] = (5, 6, 7) + groups["left_hand"]
    groups["right"] = (2, 3, 4) + groups["right_hand"]
    return Skeleton(
        name="prompt2sign50",
        joints=tuple(joints),
        parents=tuple(parents),
        limbs=tuple(limbs),
        limb_colours=tuple(colours),
        groups=groups,
    )


PROMPT2SIGN50 = _build_prompt2sign50()
SKELETONS: dict[str, Skeleton] = {PROMPT2SIGN50.name: PROMPT2SIGN50}
NUM_JOINTS = PROMPT2SIGN50.num_joints  # 50
LEFT_WRIST = PROMPT2SIGN50.index("left_wrist")  # 7
RIGHT_WRIST = PROMPT2SIGN50.index("right_wrist")  # 4
LEFT_HAND_ROOT = PROMPT2SIGN50.index("left_hand_wrist")  # 8
RIGHT_HAND_ROOT = PROMPT2SIGN50.index("right_hand_wrist")  # 29
LEFT_SHOULDER = PROMPT2SIGN50.index("left_shoulder")  # 5
RIGHT_SHOULDER = PROMPT2SIGN50.index("right_shoulder")  # 2


def get_skeleton(name: str) -> Skeleton:
    try:
        return SKELETONS[name]
    except KeyError:
        raise KeyError(f"unknown skeleton {name!r}; known: {', '.join(SKELETONS)}") from None


# --- Source layouts -------------------------------------------------------------------------
# OpenPose BODY_25 indices of our 8 body joints (identical order: Nose, Neck, RShoulder, RElbow,
# RWrist, LShoulder, LElbow, LWrist). Hands: OpenPose hand index i -> our hand point i.
OPENPOSE_BODY25_TO_BODY: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 7)

# MediaPipe Pose (33 landmarks) indices, by our body joint name. The neck has no landmark: it is
# the midpoint of the shoulders.
MEDIAPIPE_POSE33 = {
    "nose": "NOSE",
    "right_shoulder": "RIGHT_SHOULDER",
    "right_elbow": "RIGHT_ELBOW",
    "right_wrist": "RIGHT_WRIST",
    "left_shoulder": "LEFT_SHOULDER",
    "left_elbow": "LEFT_ELBOW",
    "left_wrist": "LEFT_WRIST",
}
# pose-format's "reduced" holistic keeps 8 body points (shoulders, elbows, wrists, hips) and 128 of
# the 468 face-mesh points, none of them the nose tip. The nose is then estimated from the face mesh:
# 0.4 * (mid-point of the inner eye corners 133, 362) + 0.6 * (upper-lip centre 0); on the full mesh
# this lands within a few pixels of the nose tip (landmark 1).
REDUCED_NOSE_FROM_FACE: tuple[tuple[str, float], ...] = (("133", 0.2), ("362", 0.2), ("0", 0.6))
# MediaPipe hand landmark names (pose-format spells them this way) in our HAND_POINTS order: the
# same names in upper case, with FINGER after index, middle and ring (THUMB_TIP, INDEX_FINGER_TIP).
MEDIAPIPE_HAND21: tuple[str, ...] = tuple(
    re.sub(r"^(INDEX|MIDDLE|RING)_", r"\1_FINGER_", p.upper()) for p in HAND_POINTS
)


def neck_rooted_parents(skeleton: Skeleton | None = None) -> list[int]:
    """The skeleton's tree re-rooted at the neck (the canonical space's origin): nose -> neck."""
    skeleton = skeleton or PROMPT2SIGN50
    parents = list(skeleton.parents)
    root = skeleton.index("neck")
    old_root = parents.index(-1)
    if old_root != root:  # reverse the edge(s) between the old root and the neck
        chain = [root]
        while parents[chain[-1]] != -1:
            chain.append(parents[chain[-1]])
        for child, parent in zip(chain[1:], chain[:-1], strict=True):
            parents[child] = parent
        parents[root] = -1
    return parents


def fk_order(parents: Sequence[int]) -> list[int]:
    """Joints ordered so that every parent comes before its children (by depth below the root):
    the order forward kinematics places them in."""

    def depth(i: int) -> int:
        n = 0
        while parents[i] >= 0:
            i, n = parents[i], n + 1
        return n

    return sorted(range(len(parents)), key=depth)


def bone_lengths(
    frames: np.ndarray, skeleton: Skeleton | None = None, parents: Sequence[int] | None = None
) -> np.ndarray:
    """Per-frame bone lengths (T, B) for the neck-rooted tree's B bones (frames (T, J, 3))."""
    par = list(neck_rooted_parents(skeleton) if parents is None else parents)
    kids = [c for c, p in enumerate(par) if p >= 0]
    f = np.asarray(frames, np.float64)
    return np.linalg.norm(f[:, kids] - f[:, [par[c] for c in kids]], axis=-1)


def median_parent_distances(
    frames: np.ndarray, mask: np.ndarray, parents: Sequence[int]
) -> np.ndarray:
    """(J,) median distance of each joint from `parents[j]` over the frames (T, J, 3) where both
    are observed (`mask` (T, J)): 0 for a root (parent < 0), NaN where never seen together.
    Computed in `frames`' own dtype; the callers add their own fallbacks."""
    out = np.full(len(parents), np.nan)
    for c, p in enumerate(parents):
        if p < 0:
            out[c] = 0.0
            continue
        both = mask[:, c] & mask[:, p]
        if both.any():
            out[c] = float(np.median(np.linalg.norm(frames[both, c] - frames[both, p], axis=-1)))
    return out


def median_bone_lengths(
    frames: np.ndarray, mask: np.ndarray, skeleton: Skeleton | None = None
) -> np.ndarray:
    """(J,) per-bone median length of the neck-rooted tree over frames (T, J, 3) where both ends
    are observed (`mask` (T, J)), each left/right pair averaged so the limbs match; NaN for a
    bone never seen, 0 for the root."""
    skeleton = skeleton or PROMPT2SIGN50
    par = neck_rooted_parents(skeleton)
    f, ok = np.asarray(frames, np.float64), np.asarray(mask, bool)
    out = median_parent_distances(f, ok, par)
    mirror = skeleton.mirror
    for a in range(skeleton.num_joints):
        b = int(mirror[a])
        if a < b and np.isfinite(out[a]) and np.isfinite(out[b]):
            out[a] = out[b] = 0.5 * (out[a] + out[b])
    return out

"""Pose-side ratios of evaluation (1 is ideal).

`hand_distance_ratio` measures how much the hands travel (expressiveness: under-articulated
"average" motion, the known failure of regression models, scores well below 1); `duration_ratio`
measures prosody. Over a corpus the hand ratio is pooled (`travel_ratio`: summed travel over summed
travel), so long clips weigh by their motion rather than one per clip.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import UsageError
from ..pose import Pose


def shoulder_width(pose: Pose) -> float:
    """Median shoulder distance (NaN if never seen); see `Pose.shoulder_width`."""
    return pose.shoulder_width()


def hand_travel(pose: Pose, normalize: bool = True) -> float:
    """Total distance the hand joints (both hands, 42 joints) travel over the clip.

    Sums |x[t+1] - x[t]| over every hand joint observed in both frames; divided by the clip's
    shoulder width when `normalize` (NaN if the shoulders are never seen).
    """
    idx = np.asarray(pose.skel.groups["hands"])
    x, m = pose.data[:, idx].astype(np.float64), pose.mask[:, idx]  # (t, 42, 3), (t, 42)
    if len(x) < 2:
        return 0.0
    step = np.linalg.norm(x[1:] - x[:-1], axis=-1)  # (t-1, 42)
    total = float(step[m[1:] & m[:-1]].sum())
    return total / shoulder_width(pose) if normalize else total


def hand_distance_ratio(pred: Pose, true: Pose, normalize: bool = True) -> float:
    """Hand travel of the produced clip over that of the ground truth (1 is ideal).

    Below 1: damped, under-articulated signing; above 1: jitter or exaggeration. With `normalize`
    each clip is measured in its own shoulder widths, so the two may come in different units.
    NaN when the ground-truth hands never move (or are never seen).
    """
    if pred.skeleton != true.skeleton:
        raise UsageError(f"skeletons differ: {pred.skeleton} vs {true.skeleton}")
    return travel_ratio([hand_travel(pred, normalize)], [hand_travel(true, normalize)])


def travel_ratio(pred_travel: Sequence[float], true_travel: Sequence[float]) -> float:
    """Summed hand travel of produced clips over that of their ground truths (pooled ratio).

    Clips whose true hands never move, or whose travel is NaN on either side (shoulders never
    seen), are left out; NaN when none is left. One clip gives `hand_distance_ratio`.
    """
    pred = np.asarray(pred_travel, np.float64)  # (n,)
    true = np.asarray(true_travel, np.float64)  # (n,)
    if pred.shape != true.shape:
        raise UsageError(f"{pred.shape[0]} produced travels but {true.shape[0]} true ones")
    ok = np.isfinite(true) & np.isfinite(pred) & (true > 0)
    return float(pred[ok].sum() / true[ok].sum()) if ok.any() else math.nan


def duration_ratio(pred: Pose, true: Pose) -> float:
    """Duration (frames / fps) of the produced clip over the ground truth's (1 is ideal)."""
    return pred.duration / true.duration if true.duration > 0 else math.nan


def bone_variation(pose: Pose, min_length: float = 0.02) -> dict[str, Any]:
    """How well a clip keeps one body: bone-length variation over its frames.

    `bone_cv` (B,): per bone of the neck-rooted tree, std / mean of its length over the frames
    where both ends are observed (NaN for bones shorter than `min_length` shoulder widths, such
    as the zero-length hand-root bones, or never seen); `limb_mismatch`: mean over left/right bone
    pairs of |L - R| / mean(L, R) of their median lengths (0 = matching limbs);
    `shoulder_dev`: the largest |width / median width - 1| over the frames (0 = a rigid shoulder
    line). A recorded signer's bones vary too (tracking noise, 2D lifting): compare with ground
    truth measured the same way.
    """
    from ..skeleton import neck_rooted_parents

    skel = pose.skel
    par = neck_rooted_parents(skel)
    kids = [c for c, p in enumerate(par) if p >= 0]
    x, m = pose.data.astype(np.float64), pose.mask
    width = shoulder_width(pose)
    cv = np.full(len(kids), math.nan)
    med = np.full(len(kids), math.nan)
    for b, c in enumerate(kids):
        ok = m[:, c] & m[:, par[c]]
        if ok.sum() < 2:
            continue
        length = np.linalg.norm(x[ok, c] - x[ok, par[c]], axis=-1)
        med[b] = float(np.median(length))
        if np.isfinite(width) and length.mean() >= min_length * width:
            cv[b] = float(length.std() / length.mean())
    mirror = skel.mirror
    where = {c: b for b, c in enumerate(kids)}
    pairs = [(where[c], where[int(mirror[c])]) for c in kids if c < mirror[c]]
    rel = [abs(med[a] - med[b]) / (0.5 * (med[a] + med[b])) for a, b in pairs
           if np.isfinite(med[a]) and np.isfinite(med[b]) and med[a] + med[b] > 0]  # fmt: skip
    r, le = skel.index("right_shoulder"), skel.index("left_shoulder")
    ok = m[:, r] & m[:, le]
    sw = np.linalg.norm(x[ok, r] - x[ok, le], axis=-1)
    dev = float(np.abs(sw / np.median(sw) - 1).max()) if sw.size and np.median(sw) > 0 else math.nan
    return {
        "bone_cv": cv,
        "bones": [skel.joints[c] for c in kids],
        "limb_mismatch": float(np.mean(rel)) if rel else math.nan,
        "shoulder_dev": dev,
    }

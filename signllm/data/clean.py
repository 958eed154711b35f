"""Cleaning 2D keypoints before lifting, as in Prompt2Sign (after Zelinka & Kanis, WACV 2020).

OpenPose output is noisy: whole frames where the signer was badly detected, single points that
flicker to low confidence, hands that vanish for a few frames. The chain is

    prune_frames -> interpolate_missing -> normalize          (`clean` runs all three)

Each step takes a `Pose` and returns a new one (the input is never modified) and notes what it did
in `meta.extra`, so a manifest can say how much of a clip was repaired:

    pose = read_openpose_folder("clip/")             # 2D, pixels
    pose = clean(pose)                               # pruned, filled, normalised
    pixels = denormalize(pose)                       # back to pixels (stats read from meta.extra)

`normalize` (mean-centred, divided by the clip's pooled std) is the lifting's working unit, not the
training data's: a clip's spread depends on how much its hands move, so the build stores clips in
the signing space instead (`space.to_signing_space`: origin at the neck, unit the shoulder width),
whose `meta.extra["norm"]` has the same form, so `denormalize` undoes either.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import UsageError
from ..pose import Pose

DEFAULT_MIN_BODY_CONFIDENCE = 0.3  # paper / original code: mean over the 8 body joints
# Our choice (the paper gives none; the original code smooths every point until the summed
# confidence of a window reaches 0.99): points at or above this are trusted as they are, points
# below it are blended towards the interpolation between trusted frames. OpenPose hand points below
# ~0.3 are often wrong (the median hand confidence on How2Sign is about 0.5).
DEFAULT_MIN_CONFIDENCE = 0.3
# Confidence given to a point that was filled in: above 0, so it counts as present, but small, so it
# barely pulls the confidence-weighted reprojection loss of the lifting.
DEFAULT_FILL_CONFIDENCE = 0.05
NORM_KEY = "norm"  # meta.extra key holding NormStats.to_dict()


def _with(pose: Pose, data: np.ndarray, confidence: np.ndarray, **extra: Any) -> Pose:
    """A new Pose with new arrays and meta.extra updated; the input's meta is left alone."""
    meta = dataclasses.replace(pose.meta, extra={**pose.meta.extra, **extra})
    return dataclasses.replace(pose, data=data, confidence=confidence, meta=meta)


def prune_frames(
    pose: Pose,
    min_body_confidence: float = DEFAULT_MIN_BODY_CONFIDENCE,
    drop: bool = True,
) -> Pose:
    """Remove frames whose mean confidence over the body joints is below `min_body_confidence`.

    A frame where the upper body is barely seen has no reliable anchor for the hands either.
    `drop=False` keeps the timeline instead (the original code's behaviour): the frames stay, with
    confidence 0 everywhere, and `interpolate_missing` fills them. Either way
    `meta.extra["pruned_frames"]` counts them (added to any earlier count).
    """
    body = list(pose.skel.groups["body"])
    bad = pose.confidence[:, body].mean(axis=1, dtype=np.float64) < min_body_confidence  # (t,)
    n = int(bad.sum()) + int(pose.meta.extra.get("pruned_frames", 0))
    if drop:
        keep = ~bad
        return _with(pose, pose.data[keep].copy(), pose.confidence[keep].copy(), pruned_frames=n)
    data, conf = pose.data.copy(), pose.confidence.copy()
    data[bad] = 0.0
    conf[bad] = 0.0
    return _with(pose, data, conf, pruned_frames=n)


def interpolate_missing(
    pose: Pose,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    fill_confidence: float = DEFAULT_FILL_CONFIDENCE,
) -> Pose:
    """Fill missing and low-confidence points from the trusted frames around them.

    Per joint, frames with confidence >= `min_confidence` are anchors (if a joint has none, every
    frame where it was seen at all is). Between anchors the position is linear in time; before the
    first and after the last it is held. A point with confidence c below `min_confidence` becomes
    w * observed + (1 - w) * interpolated with w = c / min_confidence, so a missing point (c = 0)
    is pure interpolation and a nearly trusted one barely moves. Filled points get confidence
    max(c, fill_confidence); a joint never seen in the clip stays missing.
    `meta.extra["interpolated_points"]` counts the points that were missing and got filled.
    """
    if not 0 < min_confidence <= 1:
        raise UsageError(f"min_confidence must be in (0, 1], got {min_confidence}")
    data, conf = pose.data, pose.confidence  # (t, j, 3), (t, j)
    t = np.arange(pose.num_frames, dtype=np.float64)
    out, out_conf = data.copy(), conf.copy()
    w = np.clip(conf / min_confidence, 0.0, 1.0)  # (t, j): weight of the observation
    filled = 0
    for j in range(pose.num_joints):
        anchors = conf[:, j] >= min_confidence
        if not anchors.any():
            anchors = conf[:, j] > 0
            if not anchors.any():
                continue  # never seen: stays missing
        lo = w[:, j] < 1
        if not lo.any():
            continue
        ta = t[anchors]
        interp = np.stack(
            [np.interp(t[lo], ta, data[anchors, j, k]) for k in range(3)], axis=-1
        )  # (n, 3)
        wj = w[lo, j, None]
        out[lo, j] = wj * data[lo, j] + (1 - wj) * interp
        out_conf[lo, j] = np.maximum(conf[lo, j], fill_confidence)
        filled += int((conf[lo, j] == 0).sum())
    if pose.ndim == 2:
        out[..., 2] = 0.0
    n = filled + int(pose.meta.extra.get("interpolated_points", 0))
    return _with(pose, out, out_conf, interpolated_points=n)


@dataclass(frozen=True)
class NormStats:
    """What `normalize` subtracted and divided by, kept so outputs can be drawn back in pixels."""

    mean: tuple[float, float, float]  # per axis, over observed points
    std: float  # one pooled std of x and y, also applied to z

    def to_dict(self) -> dict[str, Any]:
        return {"mean": [float(v) for v in self.mean], "std": float(self.std)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NormStats:
        mean = tuple(float(v) for v in d["mean"])
        if len(mean) == 2:  # tolerate 2D stats written by other tools
            mean = (*mean, 0.0)
        if len(mean) != 3:
            raise ValueError(f"NormStats mean must have 2 or 3 values, got {len(mean)}")
        return cls(mean=mean, std=float(d["std"]))  # type: ignore[arg-type]

    @classmethod
    def of(cls, pose: Pose) -> NormStats:
        """The stats `normalize` would use for this pose (identity if nothing was observed)."""
        seen = pose.mask  # (t, j)
        if not seen.any():
            return cls(mean=(0.0, 0.0, 0.0), std=1.0)
        pts = pose.data[seen].astype(np.float64)  # (n, 3)
        mean = pts.mean(axis=0)
        if pose.ndim == 2:
            mean[2] = 0.0
        # Pooled over x and y only, so a 2D clip and its 3D lift get the same scale.
        std = float(np.sqrt(((pts[:, :2] - mean[:2]) ** 2).mean()))
        if not std > 1e-12:
            std = 1.0
        return cls(mean=(float(mean[0]), float(mean[1]), float(mean[2])), std=std)


def normalize(pose: Pose, stats: NormStats | None = None) -> tuple[Pose, NormStats]:
    """Centre the clip on its mean and divide by one pooled std (x, y and z alike).

    One std for both image axes keeps the aspect ratio (bone lengths stay comparable whatever their
    direction), and the same std on z keeps a 3D skeleton rigid. Missing points stay 0. Pass
    `stats` to apply someone else's (e.g. a corpus-wide) normalisation. Returns the stats of this
    step; `meta.extra["norm"]` gets the stats back to the original units (composed with any earlier
    normalisation) so `denormalize(pose)` can find them.
    """
    stats = stats or NormStats.of(pose)
    seen = pose.mask[..., None]  # (t, j, 1)
    mean = np.asarray(stats.mean, np.float64)  # (3,); float64 so a round trip loses nothing
    data = np.where(seen, (pose.data - mean) / stats.std, 0.0).astype(np.float32)
    if pose.ndim == 2:
        data[..., 2] = 0.0
    total = stats
    if NORM_KEY in pose.meta.extra:  # normalised twice: meta keeps the way back to the first units
        prev = NormStats.from_dict(pose.meta.extra[NORM_KEY])
        mean_px = tuple(a + prev.std * b for a, b in zip(prev.mean, stats.mean, strict=True))
        total = NormStats(mean=mean_px, std=prev.std * stats.std)  # type: ignore[arg-type]
    return _with(pose, data, pose.confidence.copy(), **{NORM_KEY: total.to_dict()}), stats


def denormalize(pose: Pose, stats: NormStats | None = None) -> Pose:
    """Undo `normalize` (stats from the argument or from `meta.extra["norm"]`); missing stay 0."""
    if stats is None:
        if NORM_KEY not in pose.meta.extra:
            raise UsageError(
                "denormalize needs NormStats: none given and none in meta.extra['norm']"
            )
        stats = NormStats.from_dict(pose.meta.extra[NORM_KEY])
    seen = pose.mask[..., None]
    mean = np.asarray(stats.mean, np.float64)
    data = np.where(seen, pose.data * stats.std + mean, 0.0).astype(np.float32)
    if pose.ndim == 2:
        data[..., 2] = 0.0
    out = _with(pose, data, pose.confidence.copy())
    out.meta.extra.pop(NORM_KEY, None)
    return out


def clean(
    pose: Pose,
    min_body_confidence: float = DEFAULT_MIN_BODY_CONFIDENCE,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    fill_confidence: float = DEFAULT_FILL_CONFIDENCE,
    drop_frames: bool = True,
    normalise: bool = True,
) -> Pose:
    """prune_frames -> interpolate_missing -> normalize, with the paper's defaults.

    Returns a Pose; when `normalise` (named so it does not hide the function), its NormStats are in
    `meta.extra["norm"]` (see `denormalize`). `drop_frames=False` keeps pruned frames as gaps that
    the interpolation fills, so the clip keeps its length (e.g. to stay aligned with its video).
    """
    pose = prune_frames(pose, min_body_confidence, drop=drop_frames)
    pose = interpolate_missing(pose, min_confidence, fill_confidence)
    if normalise:
        pose, _ = normalize(pose)
    return pose

"""Cleaning: pruning, confidence-weighted interpolation, normalisation (signllm.data.clean)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from signllm.data.clean import (
    NormStats,
    clean,
    denormalize,
    interpolate_missing,
    normalize,
    prune_frames,
)
from signllm.data.formats.openpose_json import read_openpose_folder
from signllm.errors import UsageError
from signllm.pose import Pose

SAMPLES = Path(__file__).resolve().parents[1] / "signllm/assets/samples/how2sign/openpose_json"
J = 50


def make_pose(t: int = 10, ndim: int = 2, seed: int = 0) -> Pose:
    rng = np.random.default_rng(seed)
    data = rng.uniform(100, 900, size=(t, J, 3)).astype(np.float32)
    if ndim == 2:
        data[..., 2] = 0
    conf = rng.uniform(0.5, 1.0, size=(t, J)).astype(np.float32)
    return Pose(data=data, confidence=conf, fps=25, ndim=ndim)


def frozen(pose: Pose) -> tuple[np.ndarray, np.ndarray, dict]:
    return pose.data.copy(), pose.confidence.copy(), json.loads(json.dumps(pose.meta.extra))


def assert_unchanged(pose: Pose, before: tuple[np.ndarray, np.ndarray, dict]) -> None:
    np.testing.assert_array_equal(pose.data, before[0])
    np.testing.assert_array_equal(pose.confidence, before[1])
    assert pose.meta.extra == before[2]


# --- prune ------------------------------------------------------------------------------------
def test_prune_drops_low_body_confidence_frames() -> None:
    pose = make_pose(8)
    pose.confidence[[2, 5], :8] = 0.2  # body mean 0.2 < 0.3
    pose.confidence[3, :8] = 0.3  # exactly at the threshold: kept
    pose.confidence[6, 8:] = 0.0  # hands gone, body fine: kept
    before = frozen(pose)
    out = prune_frames(pose)
    assert out.num_frames == 6
    np.testing.assert_array_equal(out.data, pose.data[[0, 1, 3, 4, 6, 7]])
    assert out.meta.extra["pruned_frames"] == 2
    assert_unchanged(pose, before)
    # Threshold is configurable; counts accumulate over calls.
    again = prune_frames(out, min_body_confidence=0.31)
    assert again.num_frames == 5 and again.meta.extra["pruned_frames"] == 3


def test_prune_keep_timeline_masks_instead() -> None:
    pose = make_pose(6)
    pose.confidence[1, :8] = 0.1
    out = prune_frames(pose, drop=False)
    assert out.num_frames == 6
    assert (out.confidence[1] == 0).all() and (out.data[1] == 0).all()
    np.testing.assert_array_equal(out.data[0], pose.data[0])
    assert out.meta.extra["pruned_frames"] == 1


# --- interpolate ------------------------------------------------------------------------------
def linear_pose(t: int = 12) -> Pose:
    """Every joint moves linearly in time, so linear interpolation is exact."""
    tt = np.arange(t, dtype=np.float32)[:, None, None]
    start = np.linspace(100, 600, J * 3, dtype=np.float32).reshape(1, J, 3)
    vel = np.linspace(-5, 5, J * 3, dtype=np.float32).reshape(1, J, 3)
    data = start + vel * tt
    data[..., 2] = 0
    return Pose(data=data, confidence=np.ones((t, J), np.float32), fps=25, ndim=2)


def test_interpolate_fills_gap_linearly() -> None:
    full = linear_pose()
    pose = full.copy()
    pose.confidence[3:7, 10] = 0
    pose.data[3:7, 10] = 0
    before = frozen(pose)
    out = interpolate_missing(pose, fill_confidence=0.05)
    np.testing.assert_allclose(out.data[:, 10], full.data[:, 10], atol=1e-3)
    np.testing.assert_allclose(out.confidence[3:7, 10], 0.05)
    np.testing.assert_array_equal(out.confidence[:3, 10], 1.0)
    assert out.meta.extra["interpolated_points"] == 4
    np.testing.assert_array_equal(out.data[:, 11], pose.data[:, 11])  # untouched joint
    assert_unchanged(pose, before)


def test_interpolate_holds_ends_and_leaves_unseen_joints_missing() -> None:
    pose = linear_pose()
    pose.confidence[:3, 20] = 0  # leading gap
    pose.confidence[9:, 21] = 0  # trailing gap
    pose.confidence[:, 22] = 0  # never seen
    pose.data[pose.confidence == 0] = 0
    out = interpolate_missing(pose)
    np.testing.assert_allclose(out.data[:3, 20], np.repeat(pose.data[3:4, 20], 3, 0))
    np.testing.assert_allclose(out.data[9:, 21], np.repeat(pose.data[8:9, 21], 3, 0))
    assert (out.confidence[:, 22] == 0).all() and (out.data[:, 22] == 0).all()
    assert out.meta.extra["interpolated_points"] == 6


def test_interpolate_blends_low_confidence_by_confidence() -> None:
    full = linear_pose()
    pose = full.copy()
    pose.data[5, 30, :2] += 40.0  # an outlier...
    pose.confidence[5, 30] = 0.15  # ...seen with half the trusted confidence
    out = interpolate_missing(pose, min_confidence=0.3)
    # Half observed, half interpolated (the interpolation is exact here).
    np.testing.assert_allclose(out.data[5, 30, :2], full.data[5, 30, :2] + 20.0, atol=1e-3)
    assert out.confidence[5, 30] == pytest.approx(0.15)
    assert out.meta.extra["interpolated_points"] == 0  # blended, not missing


def test_interpolate_uses_low_confidence_when_nothing_better() -> None:
    pose = linear_pose()
    pose.confidence[:, 40] = 0.1
    pose.confidence[4, 40] = 0
    out = interpolate_missing(pose, min_confidence=0.3)
    np.testing.assert_allclose(out.data[:, 40], linear_pose().data[:, 40], atol=1e-3)
    assert out.confidence[4, 40] > 0


def test_interpolate_rejects_bad_threshold() -> None:
    with pytest.raises(UsageError):
        interpolate_missing(linear_pose(), min_confidence=0)


# --- normalise --------------------------------------------------------------------------------
@pytest.mark.parametrize("ndim", [2, 3])
def test_normalize_roundtrip_and_stats(ndim: int) -> None:
    pose = make_pose(20, ndim=ndim, seed=3)
    pose.confidence[::3, ::4] = 0
    pose.data[pose.confidence == 0] = 0
    before = frozen(pose)
    norm, stats = normalize(pose)
    assert_unchanged(pose, before)
    seen = pose.mask
    pts = norm.data[seen].astype(np.float64)
    np.testing.assert_allclose(pts.mean(0)[:ndim], 0, atol=1e-5)
    assert np.sqrt((pts[:, :2] ** 2).mean()) == pytest.approx(1.0, abs=1e-5)  # one pooled std
    assert (norm.data[~seen] == 0).all()
    if ndim == 2:
        assert (norm.data[..., 2] == 0).all()
    # JSON round trip of the stats, and back to pixels within 1e-4.
    stats2 = NormStats.from_dict(json.loads(json.dumps(stats.to_dict())))
    assert stats2 == stats
    back = denormalize(norm, stats2)
    np.testing.assert_allclose(back.data, pose.data, atol=1e-4, rtol=0)
    back_meta = denormalize(norm)  # stats found in meta.extra["norm"]
    np.testing.assert_allclose(back_meta.data, pose.data, atol=1e-4, rtol=0)
    assert "norm" not in back_meta.meta.extra


def test_normalize_twice_still_denormalizes_to_original_units() -> None:
    pose = make_pose(10, seed=4)
    once, _ = normalize(pose)
    twice, _ = normalize(once, NormStats(mean=(0.5, -0.25, 0.0), std=2.0))
    np.testing.assert_allclose(denormalize(twice).data, pose.data, atol=1e-4, rtol=0)


def test_normalize_degenerate_inputs() -> None:
    empty = Pose(data=np.zeros((3, J, 3)), confidence=np.zeros((3, J)), fps=25, ndim=2)
    norm, stats = normalize(empty)
    assert stats == NormStats(mean=(0.0, 0.0, 0.0), std=1.0)
    assert (norm.data == 0).all()
    with pytest.raises(UsageError):
        denormalize(empty)
    assert NormStats.from_dict({"mean": [1, 2], "std": 3}).mean == (1.0, 2.0, 0.0)


# --- clean ------------------------------------------------------------------------------------
def test_clean_real_how2sign_clip() -> None:
    raw = read_openpose_folder(next(p for p in sorted(SAMPLES.iterdir()) if p.is_dir()))
    raw.confidence[10:14, 8:29] = 0  # the left hand vanishes for 4 frames
    raw.data[raw.confidence == 0] = 0
    raw.confidence[[0, 50], :8] = 0.1  # two badly detected frames
    out = clean(raw)
    assert out.num_frames == raw.num_frames - 2
    assert out.meta.extra["pruned_frames"] == 2
    assert out.meta.extra["interpolated_points"] == 4 * 21
    assert out.missing_fraction == 0
    assert out.ndim == 2 and np.isfinite(out.data).all()
    pixels = denormalize(out)
    keep = np.ones(raw.num_frames, bool)
    keep[[0, 50]] = False
    trusted = raw.confidence[keep] >= 0.3
    np.testing.assert_allclose(pixels.data[trusted], raw.data[keep][trusted], atol=1e-3)
    # The filled hand gets the fill confidence and stays where that hand was seen.
    filled = slice(10 - 1, 14 - 1)  # one frame was dropped before the gap
    np.testing.assert_allclose(out.confidence[filled, 8:29], 0.05)
    seen = raw.data[keep][:, 8:29, :2][trusted[:, 8:29]]
    assert (pixels.data[filled, 8:29, :2] >= seen.min(0) - 1e-3).all()
    assert (pixels.data[filled, 8:29, :2] <= seen.max(0) + 1e-3).all()

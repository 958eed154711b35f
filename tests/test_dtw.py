"""DTW-MJE: exact values on small cases, invariance to time stretching, masks, and dtaidistance."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from dtaidistance import dtw as dtai
from dtaidistance import dtw_ndim

from signllm.errors import DataError, UsageError
from signllm.metrics import HANDS, aggregate, dtw, dtw_mje, dtw_mje_pose, frame_costs
from signllm.pose import Pose


def _seq(n: int, j: int = 50, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, j, 3)).astype(np.float32)


def _xs(*xs: float) -> np.ndarray:
    """Frames of two joints: joint 0 moves along x, joint 1 sits still at the origin."""
    out = np.zeros((len(xs), 2, 3), dtype=np.float32)
    out[:, 0, 0] = xs
    return out


def test_identical_and_time_stretched_are_zero() -> None:
    x = _seq(40)
    assert dtw_mje(x, x) == 0.0
    assert dtw_mje(x, np.repeat(x, 2, axis=0)) == 0.0  # every frame shown twice
    assert dtw_mje(np.repeat(x, 3, axis=0), x) == 0.0
    assert dtw_mje(x, np.repeat(x, 2, axis=0), normalize="true") == 0.0
    assert dtw_mje(x, x + np.float32(0.5) * np.array([1, 0, 0], np.float32)) == pytest.approx(0.5)


def test_hand_computed_example() -> None:
    # pred x = [0, 2], true x = [0, 1, 2]; joint 1 never moves, so each frame cost is |dx| / 2.
    # costs [[0, .5, 1], [1, .5, 0]] -> best path (0,0) (0,1) (1,2), summed cost 0.5, length 3.
    pred, true = _xs(0, 2), _xs(0, 1, 2)
    np.testing.assert_allclose(frame_costs(pred, true), [[0, 0.5, 1], [1, 0.5, 0]])
    al = dtw(frame_costs(pred, true))
    assert al.cost == pytest.approx(0.5) and al.path.tolist() == [[0, 0], [0, 1], [1, 2]]
    assert dtw_mje(pred, true) == pytest.approx(0.5 / 3)
    # pred x = [0, 0, 0], true x = [0, 1]: summed cost 0.5 on a path of 3 cells; true length 2.
    pred, true = _xs(0, 0, 0), _xs(0, 1)
    assert dtw(frame_costs(pred, true)).path.tolist() == [[0, 0], [1, 0], [2, 1]]
    assert dtw_mje(pred, true) == pytest.approx(0.5 / 3)
    assert dtw_mje(pred, true, normalize="true") == pytest.approx(0.5 / 2)
    # one joint in 3D: distance is Euclidean, not L1 (3-4-5 triangle)
    a = np.array([[[0, 0, 0]]], np.float32)
    b = np.array([[[3, 4, 0]]], np.float32)
    assert dtw_mje(a, b) == pytest.approx(5.0)


def test_matches_dtaidistance_euclidean() -> None:
    rng = np.random.default_rng(1)
    for n, m, d in ((7, 9, 3), (12, 5, 1), (20, 20, 3), (1, 6, 3)):
        a, b = rng.normal(size=(n, 1, d)), rng.normal(size=(m, 1, d))
        al = dtw(frame_costs(a, b))
        ref = dtw_ndim.distance(a[:, 0], b[:, 0], inner_dist="euclidean")
        assert al.cost == pytest.approx(ref, rel=1e-5)
        path = dtw_ndim.warping_path(a[:, 0], b[:, 0], inner_dist="euclidean")
        assert al.path.tolist() == [list(p) for p in path]
        if d == 1:  # 1-D series: the cost is the absolute difference
            ref1 = dtai.distance(a[:, 0, 0], b[:, 0, 0], inner_dist="euclidean")
            assert al.cost == pytest.approx(ref1, rel=1e-5)


def test_matches_dtaidistance_squared_costs_and_window() -> None:
    # dtaidistance's default: squared differences summed along the path, square root at the end.
    rng = np.random.default_rng(2)
    for n, m in ((15, 15), (15, 19), (23, 11), (64, 90)):
        a, b = rng.normal(size=n), rng.normal(size=m)
        sq = (a[:, None] - b[None, :]) ** 2
        assert math.sqrt(dtw(sq).cost) == pytest.approx(dtai.distance(a, b))
        for w in (0, 1, 3):
            # our window w (extra shift allowed) is dtaidistance's window w + 1
            ours = math.sqrt(dtw(sq, window=w).cost)
            assert ours == pytest.approx(dtai.distance(a, b, window=w + 1))
        assert dtw(sq, window=0).cost >= dtw(sq, window=3).cost >= dtw(sq).cost


def test_masked_joints_are_ignored() -> None:
    pred, true = _seq(30, seed=3), _seq(25, seed=4)
    mask = np.ones((25, 50), dtype=bool)
    mask[:, 10:20] = False  # a hand never detected
    mask[5, :] = False  # a frame with nothing detected
    garbage = true.copy()
    garbage[~mask] = np.nan
    keep = [k for k in range(50) if not 10 <= k < 20]
    frames = [f for f in range(25) if f != 5]
    expected = dtw_mje(pred[:, keep], true[frames][:, keep])
    assert dtw_mje(pred, garbage, true_mask=mask) == pytest.approx(expected)
    assert dtw_mje(pred, garbage) == pytest.approx(expected)  # NaN coordinates count as missing
    noisy = true.copy()
    noisy[~mask] = 1e6  # values under the mask never matter
    assert dtw_mje(pred, noisy, true_mask=mask) == pytest.approx(expected)


def test_pred_mask_and_disjoint_frames() -> None:
    pred, true = _seq(6, j=2, seed=5), _seq(4, j=2, seed=6)
    pm = np.ones((6, 2), dtype=bool)
    tm = np.ones((4, 2), dtype=bool)
    pm[2] = [True, False]
    tm[1] = [False, True]
    cost = frame_costs(pred, true, pm, tm)
    assert np.isnan(cost[2, 1]) and np.isfinite(np.delete(cost.ravel(), 2 * 4 + 1)).all()
    # a pair sharing no joint gets the largest cost of the matrix: never a shortcut
    filled = np.where(np.isnan(cost), np.nanmax(cost), cost)
    al = dtw(filled)
    assert dtw_mje(pred, true, pm, tm) == pytest.approx(al.cost / al.length)
    assert math.isnan(dtw_mje(pred, true, true_mask=np.zeros((4, 2), dtype=bool)))
    only0, only1 = np.zeros((6, 2), dtype=bool), np.zeros((4, 2), dtype=bool)
    only0[:, 0], only1[:, 1] = True, True
    assert math.isnan(dtw_mje(pred, true, only0, only1))  # never a joint in common


def test_hands_only() -> None:
    assert HANDS == tuple(range(8, 50))
    pred, true = _seq(20, seed=7), _seq(20, seed=7)
    pred[:, :8] += 3.0  # body wrong, hands right
    assert dtw_mje(pred, true) > 0
    assert dtw_mje(pred, true, joints=HANDS) == 0.0
    assert dtw_mje(pred, true, joints="hands") == 0.0
    assert dtw_mje(pred, true, joints="body") == pytest.approx(3.0 * math.sqrt(3))
    with pytest.raises(UsageError, match="unknown joint group"):
        dtw_mje(pred, true, joints="face")
    with pytest.raises(UsageError, match="Prompt2Sign"):
        dtw_mje(pred[:, :10], true[:, :10], joints="hands")


def test_pose_wrapper() -> None:
    data = _seq(12, seed=8)
    conf = np.ones((12, 50), dtype=np.float32)
    conf[:, 30:] = 0  # right hand missing in the ground truth
    true = Pose(data=data, confidence=conf, fps=25)
    moved = data.copy()
    moved[:, 30:] += 1.0
    pred = Pose(data=moved, confidence=np.ones((12, 50), np.float32), fps=25)
    assert dtw_mje_pose(pred, true) == 0.0
    assert dtw_mje_pose(pred, true, joints="left_hand") == 0.0


def test_bad_input() -> None:
    x = _seq(5)
    with pytest.raises(DataError, match="field true"):
        dtw_mje(x, x[0])
    with pytest.raises(DataError, match="joints, dims"):
        dtw_mje(x, x[:, :10])
    with pytest.raises(DataError, match="field pred_mask"):
        dtw_mje(x, x, pred_mask=np.ones((5, 49), bool))
    with pytest.raises(UsageError, match="normalize"):
        dtw_mje(x, x, normalize="mean")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="window"):
        dtw_mje(x, x, window=-1)
    with pytest.raises(UsageError, match="NaN"):
        dtw(np.array([[np.nan]]))


def test_aggregate() -> None:
    res = aggregate([("ase", 1.0), ("ase", 3.0), ("gsg", 4.0), ("gsg", math.nan)])
    assert res["languages"]["ase"] == {"mean": 2.0, "std": 1.0, "n": 2, "skipped": 0}
    assert res["languages"]["gsg"] == {"mean": 4.0, "std": 0.0, "n": 1, "skipped": 1}
    assert res["overall"] == {"mean": pytest.approx(8 / 3), "std": pytest.approx(1.247219), "n": 3,
                              "skipped": 1}  # fmt: skip
    assert res["macro_mean"] == 3.0
    json.dumps(res, allow_nan=False)
    empty = aggregate([("slf", math.nan)])
    assert empty["overall"]["mean"] is None and empty["macro_mean"] is None
    with pytest.raises(UsageError):
        aggregate([1.0])  # type: ignore[list-item]

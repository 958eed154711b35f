"""DTW-MJE: mean joint error of produced poses after dynamic-time-warping them onto the truth.

A produced sequence rarely has the true length or timing, so frame-by-frame errors would mostly
measure tempo. DTW-MJE first aligns the two sequences with exact DTW, then reports the mean
per-joint Euclidean error along the alignment.

Definition used here (pred: n frames, true: m frames, j joints, d = 3 coordinates):

- frame cost ``c[a, b]`` = mean over joints k observed in true frame b (and in pred frame a, when a
  `pred_mask` is given) of ``||pred[a, k] - true[b, k]||_2``, in the data's own units. The mean over
  joints, not a sum or an L1 over flattened coordinates, keeps the number in "distance per joint"
  whatever the skeleton or joint subset (`joints=HANDS`).
- exact DTW (steps (1,1), (1,0), (0,1), no slope limit; optional Sakoe-Chiba `window`) minimises the
  summed cost ``S`` over warping paths from (0, 0) to (n-1, m-1).
- DTW-MJE = ``S / L`` with L the number of cells on that path (``normalize="path"``, the default):
  the average joint error over the aligned frame pairs. It is 0 exactly when every aligned pair
  matches (an identical or a time-stretched copy), and is a true mean, comparable across lengths.
  Among equally cheap paths the backtrack prefers diagonal steps (as dtaidistance does), so L is
  the shortest. ``normalize="true"`` divides by m instead: the convention of the Progressive
  Transformers code (its ``calculate_dtw`` divides by the reference length, but its frame cost is
  an L1 sum over all flattened coordinates, so its numbers are not on this scale either way).
  Published DTW-MJE values differ in these details; report which definition you used.

Missing joints (mask False, or non-finite coordinates) are handled so that missing data never
makes a prediction look better:

- joints missing in the ground truth carry no evidence and are left out of the frame's mean;
- a ground-truth frame with no observed joint at all is dropped before alignment (a zero cost
  there would let the path park arbitrary predicted frames on it for free);
- a model's output has every joint, so `pred_mask` is usually None; when given (comparing two
  recordings), pred frames with no observed joint are dropped too, and a frame pair that shares no
  observed joint gets the largest cost of the matrix (it can neither block nor shortcut the path);
- when nothing is left to compare, the result is NaN, which `aggregate` counts as skipped.

The DP runs along anti-diagonals with numpy (every cell of a diagonal depends only on the two
before it), so a 300 x 300 alignment takes a few milliseconds; dtaidistance cannot take a
precomputed cost matrix, so it serves as the reference in the tests instead.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..errors import DataError, UsageError
from ..pose import Pose
from ..skeleton import PROMPT2SIGN50

HANDS: tuple[int, ...] = PROMPT2SIGN50.groups["hands"]  # 8..49: both 21-point hands
_CHUNK = 1 << 21  # float32 elements per block of pairwise differences (8 MiB)


@dataclass(frozen=True)
class Alignment:
    """Result of `dtw`: the summed cost of the best path and the path itself ((L, 2) int rows)."""

    cost: float
    path: np.ndarray

    @property
    def length(self) -> int:
        return int(self.path.shape[0])


def frame_costs(
    pred: np.ndarray,
    true: np.ndarray,
    pred_mask: np.ndarray | None = None,
    true_mask: np.ndarray | None = None,
) -> np.ndarray:
    """(n, m) float64 matrix of mean per-joint Euclidean distances, over jointly observed joints.

    Pairs that share no observed joint are NaN (callers decide; `dtw_mje` fills them pessimistically).
    """
    pred, true, pm, tm = _prepare(pred, true, pred_mask, true_mask)
    return _costs(pred, true, pm, tm)


def dtw(cost: np.ndarray, window: int | None = None) -> Alignment:
    """Exact DTW over a precomputed (n, m) cost matrix.

    `window` (frames) is a Sakoe-Chiba band around the diagonals, widened by the length difference
    so a path always exists: 0 allows no warping beyond that difference. (dtaidistance's
    ``window=w + 1`` is the same band.) None means no band.
    """
    cost = np.asarray(cost, dtype=np.float64)
    if cost.ndim != 2 or 0 in cost.shape:
        raise UsageError(f"cost matrix must be 2-D and non-empty, got shape {cost.shape}")
    if np.isnan(cost).any() or (cost < 0).any():
        raise UsageError("cost matrix must be non-negative and free of NaN")
    n, m = cost.shape
    big = np.full((n + 1, m + 1), np.inf)
    big[1:, 1:] = cost
    if window is not None:
        if window < 0:
            raise UsageError(f"window must be >= 0 frames, got {window}")
        i = np.arange(n)[:, None]
        j = np.arange(m)[None, :]
        outside = (i - j > max(0, n - m) + window) | (j - i > max(0, m - n) + window)
        big[1:, 1:][outside] = np.inf
    c = big.ravel()
    acc = np.full(c.shape, np.inf)
    acc[0] = 0.0
    row = m + 1
    # Cell (i, j) (1-based) sits at flat index i * row + j; on the anti-diagonal s = i + j that is
    # i * m + s, so each diagonal and its three predecessors are strided slices with step m.
    for s in range(2, n + m + 1):
        lo, hi = max(1, s - m), min(n, s - 1)
        a, b = lo * m + s, hi * m + s
        best = np.minimum(
            np.minimum(acc[a - row - 1 : b - row : m], acc[a - row : b - row + 1 : m]),
            acc[a - 1 : b : m],
        )
        acc[a : b + 1 : m] = c[a : b + 1 : m] + best
    total = acc.reshape(n + 1, m + 1)
    if not math.isfinite(total[n, m]):
        raise UsageError("no finite warping path: the cost matrix or window blocks every path")
    return Alignment(float(total[n, m]), _backtrack(total))


def _backtrack(acc: np.ndarray) -> np.ndarray:
    """Walk back from the end; ties prefer the diagonal, then (i-1, j), then (i, j-1)."""
    i, j = acc.shape[0] - 1, acc.shape[1] - 1
    path = [(i - 1, j - 1)]
    while i > 1 or j > 1:
        d, u, left = acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1]
        if d <= u and d <= left:
            i, j = i - 1, j - 1
        elif u <= left:
            i -= 1
        else:
            j -= 1
        path.append((i - 1, j - 1))
    return np.array(path[::-1], dtype=np.int64)


def dtw_mje(
    pred: np.ndarray,
    true: np.ndarray,
    pred_mask: np.ndarray | None = None,
    true_mask: np.ndarray | None = None,
    joints: Sequence[int] | str | None = None,
    window: int | None = None,
    normalize: Literal["path", "true"] = "path",
) -> float:
    """DTW-MJE of `pred` (n, j, 3) against `true` (m, j, 3); see the module docstring.

    `joints` restricts the error to a subset: indices, or a group name of the Prompt2Sign skeleton
    (``"hands"`` = `HANDS`, ``"body"``, ...). Returns NaN when no frame has an observed joint.
    """
    if normalize not in ("path", "true"):
        raise UsageError(f"normalize must be 'path' or 'true', got {normalize!r}")
    pred, true, pm, tm = _prepare(pred, true, pred_mask, true_mask)
    if joints is not None:
        idx = _joint_index(joints, pred.shape[1])
        pred, true, pm, tm = pred[:, idx], true[:, idx], pm[:, idx], tm[:, idx]
    pred, pm = pred[pm.any(axis=1)], pm[pm.any(axis=1)]
    true, tm = true[tm.any(axis=1)], tm[tm.any(axis=1)]
    if len(pred) == 0 or len(true) == 0:
        return math.nan
    cost = _costs(pred, true, pm, tm)
    gaps = np.isnan(cost)
    if gaps.all():  # the two never observe a common joint
        return math.nan
    if gaps.any():
        cost[gaps] = cost[~gaps].max()
    al = dtw(cost, window)
    return al.cost / (al.length if normalize == "path" else len(true))


def dtw_mje_pose(
    pred: Pose,
    true: Pose,
    joints: Sequence[int] | str | None = None,
    window: int | None = None,
    normalize: Literal["path", "true"] = "path",
) -> float:
    """`dtw_mje` on two `Pose`s, taking the masks from their confidences (0 = missing)."""
    if pred.skeleton != true.skeleton:
        raise UsageError(f"skeletons differ: {pred.skeleton} vs {true.skeleton}")
    return dtw_mje(pred.data, true.data, pred.mask, true.mask, joints, window, normalize)


def aggregate(results: Iterable[tuple[str, float]]) -> dict[str, Any]:
    """Summarise per-clip scores given as (language, value) pairs.

    Returns ``{"overall": stats, "macro_mean": mean of the language means, "languages": {code:
    stats}}`` where stats = ``{"mean", "std", "n", "skipped"}``; NaN values (clips with nothing to
    compare) are counted in "skipped", never averaged. Empty groups have mean/std None, so the
    dict stays valid JSON.
    """
    per: dict[str, list[float]] = {}
    for item in results:
        try:
            lang, value = item
            value = float(value)
        except (TypeError, ValueError):
            raise UsageError(f"aggregate takes (language, value) pairs, got {item!r}") from None
        per.setdefault(str(lang), []).append(value)
    languages = {lang: _stats(vals) for lang, vals in sorted(per.items())}
    means = [s["mean"] for s in languages.values() if s["mean"] is not None]
    return {
        "overall": _stats([v for vals in per.values() for v in vals]),
        "macro_mean": float(np.mean(means)) if means else None,
        "languages": languages,
    }


def _stats(values: list[float]) -> dict[str, Any]:
    arr = np.asarray(values, dtype=np.float64)
    ok = arr[np.isfinite(arr)]
    return {
        "mean": float(ok.mean()) if ok.size else None,
        "std": float(ok.std()) if ok.size else None,
        "n": int(ok.size),
        "skipped": int(arr.size - ok.size),
    }


def _joint_index(joints: Sequence[int] | str, num_joints: int) -> np.ndarray:
    if isinstance(joints, str):
        if num_joints != PROMPT2SIGN50.num_joints:
            raise UsageError(
                f"joint group {joints!r} names Prompt2Sign joints, but the data has {num_joints}"
            )
        if joints not in PROMPT2SIGN50.groups:
            known = ", ".join(sorted(PROMPT2SIGN50.groups))
            raise UsageError(f"unknown joint group {joints!r} (known: {known})")
        joints = PROMPT2SIGN50.groups[joints]
    idx = np.asarray(joints, dtype=np.int64).reshape(-1)
    if idx.size == 0 or idx.min() < -num_joints or idx.max() >= num_joints:
        raise UsageError(f"joints must be a non-empty list of indices below {num_joints}")
    return idx


def _prepare(
    pred: np.ndarray,
    true: np.ndarray,
    pred_mask: np.ndarray | None,
    true_mask: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Check shapes; fold non-finite coordinates into the masks; zero the masked coordinates."""
    arrays = []
    for name, x, mask in (("pred", pred, pred_mask), ("true", true, true_mask)):
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 3 or x.shape[0] == 0 or x.shape[1] == 0:
            raise DataError(f"expected (frames, joints, dims) with frames > 0, got {x.shape}",
                            field=name)  # fmt: skip
        observed = np.isfinite(x).all(axis=2)
        if mask is not None:
            mask = np.asarray(mask)
            if mask.shape != x.shape[:2]:
                raise DataError(
                    f"mask shape {mask.shape} does not match (frames, joints) = {x.shape[:2]}",
                    field=f"{name}_mask",
                )
            observed &= mask.astype(bool)
        arrays.append((np.where(observed[..., None], x, np.float32(0)), observed))
    (p, pm), (t, tm) = arrays
    if p.shape[1:] != t.shape[1:]:
        raise DataError(
            f"pred has (joints, dims) {p.shape[1:]} but true has {t.shape[1:]}", field="pred"
        )
    return p, t, pm, tm


def _costs(p: np.ndarray, t: np.ndarray, pm: np.ndarray, tm: np.ndarray) -> np.ndarray:
    # Differences and norms in float32 (4x faster than float64, ~1e-7 relative error, and exact
    # zeros stay exact); sums over joints and along the path in float64.
    n, m = len(p), len(t)
    w, v = pm.astype(np.float32), tm.astype(np.float32)
    count = pm.astype(np.float64) @ tm.astype(np.float64).T  # (n, m) joints observed in both
    total = np.empty((n, m))
    full = bool(pm.all() and tm.all())
    pc = np.ascontiguousarray(p.transpose(2, 0, 1))  # (d, n, j): one coordinate at a time is
    tc = np.ascontiguousarray(t.transpose(2, 0, 1))  # (d, m, j)  2-3x faster than an einsum over d
    rows = max(1, _CHUNK // max(1, tc[0].size))
    for a in range(0, n, rows):
        sq = np.zeros((min(rows, n - a), m, p.shape[1]), dtype=np.float32)  # (r, m, j)
        for k in range(pc.shape[0]):
            dk = pc[k, a : a + rows, None, :] - tc[k][None]
            dk *= dk
            sq += dk
        dist = np.sqrt(sq, out=sq)
        if not full:
            dist *= w[a : a + rows, None, :]
            dist *= v[None, :, :]
        total[a : a + rows] = dist.sum(axis=2, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)

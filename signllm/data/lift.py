"""2D -> 3D lifting by inverse kinematics (Zelinka & Kanis, WACV 2020), batched and fast.

The skeleton is a tree of bones rooted at the nose (`PROMPT2SIGN50.parents`). Per clip we fit
- one log length per bone, shared by a left bone and its mirror (the `mirror` permutation), so the
  two arms and the two hands are the same size;
- per frame, the root position (3D) and every bone's direction, a free 3-vector normalised in the
  forward pass;
and joint positions follow by walking the tree: position = root + sum of (length x direction) over
the bones above the joint, which is one fixed matrix product (joints x bones ancestor matrix). The
camera is orthographic: a joint projects to its (x, y). The loss is the paper's:

    sum_tj c_tj |xy_tj - target_tj|^2 / (T J)         confidence-weighted reprojection
  + 0.001 * sum of bone lengths                       keeps unseen depth from inflating bones
  + 0.1 * sum_tj |p_tj - p_(t-1)j|^2 / ((T - 1) J)    frame-to-frame motion (smoothness)

minimised with Adam. What makes it ~100x cheaper than the original (plain gradient descent, 1000
steps, a TensorFlow graph per clip, ~36 s per clip on a GPU):
- the start already reprojects almost exactly: lengths from a high percentile of the 2D bone
  lengths, each bone's direction from its 2D vector with the missing depth sqrt(L^2 - d^2);
- coarse-in-time copies of the per-frame parameters (blocks of 4 and 16 frames) are added on top,
  so a change that spans many frames (the depth of a whole arm) moves at once instead of diffusing
  one frame per step through the motion term; the optimum is the same, it is only reached sooner
  (about twice as close to it at equal steps);
- forward kinematics is one matrix product, batched over clips and frames, and the gradient is
  written by hand (1.5x faster than autograd on a CPU core; `_objective` is the autograd reference
  it is tested against).
Measured on the bundled How2Sign clips (`python bench/lift.py`, one CPU core, 300 steps): ~0.13 s
per 100 frames; reprojection error 6.0 px mean over all observed points, 2.8% of the shoulder width
(confidence-weighted 3.4 px, over points of confidence >= 0.3 3.2 px; after clean's interpolation,
which pulls low-confidence points towards their neighbours, 4.3 px = 2.0%). The reprojection error
has converged after ~150 steps; the 3D pose keeps settling slowly (depth is weakly determined): at
300 steps it is within ~2.5% of the shoulder width of a 6000-step fit.

Known properties of the paper's loss (kept, since it defines the Prompt2Sign data):
- with the data term a mean over T*J, the 0.001 length penalty is not small: it shortens short
  bones (fingers) by ~10-25% below their true length, at the price of a few pixels of reprojection
  error. `length_weight=1e-5` recovers lengths within ~2% on synthetic data;
- a batch gives each clip the same optimum as lifting it alone, but float rounding differs and the
  flat directions of the loss amplify it: expect differences up to a few pixels, not bit equality.

Depth is ambiguous in sign per bone under orthographic projection; the start picks the sign from
anatomy (the neck behind the nose, shoulders about level with the neck, arms, forearms and fingers
reaching towards the camera) and the motion term keeps it, except where a bone passes through the
image plane: after that either side fits the data equally well.

Units: the fit runs in the clip's normalised units (`clean.NormStats`: mean-centred, divided by the
pooled std), so the regulariser weights mean the same whatever the input (pixels or normalised),
and the result is mapped back to the input's units; z uses the same scale as x and y and is centred
on its mean over observed points. Lifting an already normalised pose (from `clean.clean`) keeps its
`meta.extra["norm"]`, so `clean.denormalize` draws the 3D result back in pixels.

Axes: x right and y down as in the image; z grows towards the camera, so hands raised in front of
the body have larger z than the shoulders (the sign of the Progressive Transformers / Prompt2Sign
`.skels` data). x right, y down, z towards the viewer is a left-handed frame.

    from signllm.data.clean import clean
    from signllm.data.lift import lift, lift_batch
    pose3d = lift(clean(read_openpose_folder("clip/")))                 # one clip, CPU
    poses3d = lift_batch(clips, device="cuda", batch_size=256)         # many clips, padded, at once
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from ..errors import UsageError
from ..pose import Pose
from ..skeleton import Skeleton, get_skeleton
from .clean import NormStats, interpolate_missing

# 300 steps: reprojection error converged; 3D within ~2.5% of the shoulder width of a 6000-step fit
# (400: ~1.7%); ~0.13 s per 100 frames on one CPU core. Raise it for more settled depth.
DEFAULT_STEPS = 300
DEFAULT_LR = 0.02  # constant: decaying it measured slightly worse at equal steps
LENGTH_WEIGHT = 0.001  # paper
MOTION_WEIGHT = 0.1  # paper
TIME_SCALES = (4, 16)  # block sizes of the coarse-in-time parameters
# Start lengths at this percentile of the clip's 2D bone lengths: a bone is never shorter than its
# longest projection, so the median (the original code's choice) leaves many frames unreachable.
INIT_LENGTH_PERCENTILE = 90.0


@dataclass(frozen=True)
class _Tree:
    """The fixed structure of the fit for one skeleton (all numpy, built once)."""

    bones: np.ndarray  # (nb, 2) parent, child; the zero-length wrist links are left out
    length_class: np.ndarray  # (nb,) index of the shared length (a bone and its mirror: one)
    num_classes: int
    ancestors: np.ndarray  # (j, nb) 1 where the bone lies between the root and the joint
    depth_sign: np.ndarray  # (nb,) +1: the child starts in front of its parent (towards the camera)
    root: int
    same_point: tuple[tuple[int, int], ...]  # (parent, child) joints that are one physical point


@lru_cache(maxsize=8)
def _tree(skeleton: str) -> _Tree:
    sk: Skeleton = get_skeleton(skeleton)
    names = sk.joints
    root = sk.parents.index(-1)
    # A hand's wrist hangs off the body's wrist with a zero-length bone (same physical point):
    # it has no length to fit and no direction.
    same = tuple(
        (p, c)
        for p, c in sk.bones
        if names[c].endswith("_hand_wrist")
        and names[p] == names[c].replace("_hand_wrist", "_wrist")
    )
    bones = [(p, c) for p, c in sk.bones if (p, c) not in same]
    index = {b: i for i, b in enumerate(bones)}
    mirror = sk.mirror
    cls_of: dict[int, int] = {}
    length_class = np.zeros(len(bones), np.int64)
    for i, (p, c) in enumerate(bones):
        key = min(i, index.get((int(mirror[p]), int(mirror[c])), i))
        length_class[i] = cls_of.setdefault(key, len(cls_of))
    bone_of_child = {c: i for i, (_, c) in enumerate(bones)}
    anc = np.zeros((sk.num_joints, len(bones)), np.float32)
    for j in range(sk.num_joints):  # walk each joint up to the root
        k = j
        while sk.parents[k] >= 0:
            if k in bone_of_child:
                anc[j, bone_of_child[k]] = 1.0
            k = sk.parents[k]
    sign = np.array(
        [-1.0 if names[c] == "neck" or names[c].endswith("shoulder") else 1.0 for _, c in bones],
        np.float32,
    )
    return _Tree(
        bones=np.asarray(bones, np.int64),
        length_class=length_class,
        num_classes=len(cls_of),
        ancestors=anc,
        depth_sign=sign,
        root=root,
        same_point=same,
    )


def _init_clip(
    xy: np.ndarray, conf: np.ndarray, tree: _Tree
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Starting (log lengths (k,), root (t, 3), unit directions (t, nb, 3)) from normalised 2D.

    xy (t, j, 2) normalised with gaps filled by interpolation (so the start is whole even where the
    loss ignores the data), conf (t, j).
    """
    t, j = conf.shape
    nb = len(tree.bones)
    p, c = tree.bones[:, 0], tree.bones[:, 1]
    dlen = np.linalg.norm(xy[:, c] - xy[:, p], axis=-1)  # (t, nb)
    seen = np.minimum(conf[:, p], conf[:, c]) > 0  # (t, nb)
    fallback = float(np.percentile(dlen[seen], 25)) if seen.any() else 0.1
    loglen = np.zeros(tree.num_classes, np.float32)
    for k in range(tree.num_classes):
        sel = tree.length_class == k
        vals = dlen[:, sel][seen[:, sel]]
        # Never seen: a small bone; the length penalty decides its fate.
        val = float(np.percentile(vals, INIT_LENGTH_PERCENTILE)) if vals.size else fallback
        loglen[k] = np.log(max(val, 1e-3))
    length = np.exp(loglen)[tree.length_class]  # (nb,)
    # Walk the tree so each child starts where its projection best meets its 2D target.
    pos = np.zeros((t, j, 3), np.float32)
    pos[:, tree.root, :2] = xy[:, tree.root]
    dirs = np.zeros((t, nb, 3), np.float32)
    for i in range(nb):
        pi, ci = int(p[i]), int(c[i])
        v = xy[:, ci] - pos[:, pi, :2]  # (t, 2)
        L = length[i]
        z = tree.depth_sign[i] * (np.sqrt(np.maximum(L * L - (v**2).sum(-1), 0.0)) + 0.01 * L)
        u = np.concatenate([v, z[:, None]], axis=-1)  # (t, 3)
        u /= np.linalg.norm(u, axis=-1, keepdims=True) + 1e-12
        dirs[:, i] = u
        pos[:, ci] = pos[:, pi] + L * u
        for pp, cc in tree.same_point:  # a zero-length bone's child follows its parent
            if pp == ci:
                pos[:, cc] = pos[:, ci]
    return loglen, pos[:, tree.root].copy(), dirs


def _forward(
    loglen: torch.Tensor,
    root: torch.Tensor,
    dirs: torch.Tensor,
    length_class: torch.Tensor,
    ancestors: torch.Tensor,
) -> torch.Tensor:
    """Joint positions (j, b, t, 3) from log lengths (b, k), root (b, t, 3), dirs (nb, b, t, 3)."""
    nb, b, t, _ = dirs.shape
    u = dirs * torch.rsqrt((dirs * dirs).sum(-1, keepdim=True) + 1e-12)  # (nb, b, t, 3)
    length = torch.exp(loglen)[:, length_class]  # (b, nb)
    vec = u * length.t()[:, :, None, None]  # (nb, b, t, 3)
    pos = ancestors @ vec.reshape(nb, b * t * 3)  # (j, b*t*3): the tree walk as one matrix product
    return pos.reshape(-1, b, t, 3) + root  # (j, b, t, 3)


def _pad(arrays: Sequence[np.ndarray], t_max: int) -> np.ndarray:
    """Stack (t_i, ...) arrays into (b, t_max, ...), repeating each one's last frame."""
    out = []
    for a in arrays:
        if len(a) < t_max:
            a = np.concatenate([a, np.repeat(a[-1:], t_max - len(a), axis=0)])
        out.append(a)
    return np.stack(out)


def _upsample(coarse: torch.Tensor, scale: int, t: int, dim: int) -> torch.Tensor:
    """Repeat each block value `scale` times along `dim` (a view + one copy), cut to t frames."""
    shape = list(coarse.shape)
    expanded = coarse.unsqueeze(dim + 1).expand(*shape[: dim + 1], scale, *shape[dim + 1 :])
    shape[dim] *= scale
    return expanded.reshape(shape).narrow(dim, 0, t)


@dataclass(frozen=True)
class _Problem:
    """The constants of one batched fit, in (j, b, t, ...) layout (as `_forward` returns)."""

    target: torch.Tensor  # (j, b, t, 2) normalised 2D
    weight: torch.Tensor  # (j, b, t) confidence / (T_b J), 0 on padding
    pair: torch.Tensor  # (b, t-1) 1 / ((T_b - 1) J) where both frames are real, else 0
    length_class: torch.Tensor  # (nb,) long
    ancestors: torch.Tensor  # (j, nb)
    time_scales: tuple[int, ...]
    length_weight: float
    motion_weight: float


def _expand(params: Sequence[torch.Tensor], pr: _Problem) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-frame (root (b, t, 3), dirs (nb, b, t, 3)): own values + the coarse blocks above."""
    n = len(pr.time_scales)
    root, dirs, coarse_d, coarse_r = params[1], params[2], params[3 : 3 + n], params[3 + n :]
    t = dirs.shape[2]
    for s, cd, cr in zip(pr.time_scales, coarse_d, coarse_r, strict=True):
        dirs = dirs + _upsample(cd, s, t, 2)
        root = root + _upsample(cr, s, t, 1)
    return root, dirs


def _objective(params: Sequence[torch.Tensor], pr: _Problem) -> torch.Tensor:
    """The loss (module doc), summed over clips; written for autograd, it is the reference that
    `_loss_and_grads` must match (tested)."""
    root, dirs = _expand(params, pr)
    pos = _forward(params[0], root, dirs, pr.length_class, pr.ancestors)  # (j, b, t, 3)
    data = (pr.weight * ((pos[..., :2] - pr.target) ** 2).sum(-1)).sum()
    motion = (pr.pair * ((pos[:, :, 1:] - pos[:, :, :-1]) ** 2).sum((0, -1))).sum()
    return data + pr.length_weight * torch.exp(params[0]).sum() + pr.motion_weight * motion


def _loss_and_grads(
    params: Sequence[torch.Tensor], pr: _Problem
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """`_objective` and its gradient by hand: ~1.5x faster than autograd on a CPU core."""
    loglen = params[0]  # (b, k)
    root, d = _expand(params, pr)  # (b, t, 3), (nb, b, t, 3)
    nb, b, t, _ = d.shape
    j = pr.ancestors.shape[0]
    inv = torch.rsqrt((d * d).sum(-1, keepdim=True) + 1e-12)  # (nb, b, t, 1)
    u = d * inv
    lk = torch.exp(loglen)  # (b, k)
    lb = lk[:, pr.length_class].t()[:, :, None, None]  # (nb, b, 1, 1)
    pos = (pr.ancestors @ (u * lb).reshape(nb, -1)).reshape(j, b, t, 3) + root  # (j, b, t, 3)
    res = pos[..., :2] - pr.target  # (j, b, t, 2)
    step = pos[:, :, 1:] - pos[:, :, :-1]  # (j, b, t-1, 3)
    loss = (
        (pr.weight * (res * res).sum(-1)).sum()
        + pr.length_weight * lk.sum()
        + pr.motion_weight * (pr.pair * (step * step).sum((0, -1))).sum()
    )
    g_pos = torch.zeros_like(pos)
    g_pos[..., :2] = res * (2 * pr.weight)[..., None]
    m = step * (2 * pr.motion_weight * pr.pair)[None, :, :, None]
    g_pos[:, :, 1:] += m
    g_pos[:, :, :-1] -= m
    g_root = g_pos.sum(0)  # (b, t, 3)
    g_vec = (pr.ancestors.t() @ g_pos.reshape(j, -1)).reshape(nb, b, t, 3)
    g_len = torch.zeros_like(lk).index_add_(1, pr.length_class, (g_vec * u).sum((2, 3)).t())
    g_loglen = lk * (g_len + pr.length_weight)
    g_u = g_vec * lb
    g_dirs = inv * (g_u - u * (g_u * u).sum(-1, keepdim=True))
    g_cd, g_cr = [], []
    for s in pr.time_scales:
        n = -(-t // s)
        gd = torch.nn.functional.pad(g_dirs, (0, 0, 0, n * s - t))
        g_cd.append(gd.reshape(nb, b, n, s, 3).sum(3))
        gr = torch.nn.functional.pad(g_root, (0, 0, 0, n * s - t))
        g_cr.append(gr.reshape(b, n, s, 3).sum(2))
    return loss, [g_loglen, g_root, g_dirs, *g_cd, *g_cr]


def lift_batch(
    poses: Sequence[Pose],
    steps: int = DEFAULT_STEPS,
    lr: float = DEFAULT_LR,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    batch_size: int | None = None,
    length_weight: float = LENGTH_WEIGHT,
    motion_weight: float = MOTION_WEIGHT,
    time_scales: tuple[int, ...] = TIME_SCALES,
) -> list[Pose]:
    """Lift several 2D clips at once, padded to the longest and masked; see the module doc.

    Clips share only the optimiser's loop (the losses add up, Adam works per parameter), so a clip
    comes out as if lifted alone, up to float rounding (module doc). `batch_size` splits a long
    list into groups of similar length (less padding); results keep the input order. Only x and y
    of the input are read. Each output is a 3D Pose with the input's frames and confidence (a
    missing point stays missing, coordinates 0) and `meta.extra["lift"]`: the mean 2D reprojection
    error over observed points (input units), the same relative to the median shoulder width, and
    the steps.
    """
    if steps < 0:
        raise UsageError(f"steps must be >= 0, got {steps}")
    if batch_size is not None and batch_size < 1:
        raise UsageError(f"batch_size must be >= 1, got {batch_size}")
    if batch_size is not None and len(poses) > batch_size:
        order = sorted(range(len(poses)), key=lambda i: poses[i].num_frames)
        out: list[Pose | None] = [None] * len(poses)
        for start in range(0, len(order), batch_size):
            group = order[start : start + batch_size]
            lifted = lift_batch(
                [poses[i] for i in group], steps, lr, device, dtype, None,
                length_weight, motion_weight, time_scales,
            )  # fmt: skip
            for i, q in zip(group, lifted, strict=True):
                out[i] = q
        return out  # type: ignore[return-value]
    if not poses:
        return []
    skeleton = poses[0].skeleton
    for p in poses:
        if p.skeleton != skeleton:
            raise UsageError("lift_batch needs clips of one skeleton")
        if p.num_frames == 0:
            raise UsageError(f"cannot lift an empty clip ({p.meta.id or 'no id'})")
    tree = _tree(skeleton)
    dev = torch.device(device)

    # Normalise each clip and build its start by walking the tree.
    stats = [NormStats.of(p) for p in poses]
    xys, inits = [], []
    for p, s in zip(poses, stats, strict=True):
        mean = np.asarray(s.mean[:2], np.float32)
        xy = np.where(p.mask[..., None], (p.data[..., :2] - mean) / np.float32(s.std), 0.0)
        xy = xy.astype(np.float32)  # (t, j, 2)
        flat = np.concatenate([xy, np.zeros_like(xy[..., :1])], -1)
        filled = interpolate_missing(dataclasses.replace(p, data=flat, ndim=2))
        inits.append(_init_clip(filled.data[..., :2], filled.confidence, tree))
        xys.append(xy)
    lens = np.array([p.num_frames for p in poses])
    t_max = int(lens.max())
    b, j, nb = len(poses), poses[0].num_joints, len(tree.bones)
    valid = np.arange(t_max)[None, :] < lens[:, None]  # (b, t)

    def tens(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(a), dtype=dtype, device=dev)

    conf = _pad([p.confidence for p in poses], t_max) * valid[..., None]  # (b, t, j)
    pr = _Problem(
        target=tens(_pad(xys, t_max).transpose(2, 0, 1, 3)),
        # Per-clip normalisers as in the original (means over T*J and (T-1)*J), in the weights.
        weight=tens((conf / (lens * j)[:, None, None]).transpose(2, 0, 1)),
        pair=tens(valid[:, 1:] / (np.maximum(lens - 1, 1) * j)[:, None]),
        length_class=torch.as_tensor(tree.length_class, device=dev),
        ancestors=tens(tree.ancestors),
        time_scales=tuple(time_scales),
        length_weight=length_weight,
        motion_weight=motion_weight,
    )
    params = [
        tens(np.stack([i[0] for i in inits])),  # log lengths (b, k)
        tens(_pad([i[1] for i in inits], t_max)),  # root (b, t, 3)
        tens(_pad([i[2] for i in inits], t_max).transpose(2, 0, 1, 3)),  # dirs (nb, b, t, 3)
        # Coarse-in-time parameters added on top of the per-frame ones (see the module doc).
        *(torch.zeros(nb, b, -(-t_max // s), 3, dtype=dtype, device=dev) for s in time_scales),
        *(torch.zeros(b, -(-t_max // s), 3, dtype=dtype, device=dev) for s in time_scales),
    ]
    opt = torch.optim.Adam(params, lr=lr, fused=dev.type in ("cpu", "cuda"))
    with torch.no_grad():
        for _ in range(steps):
            _, grads = _loss_and_grads(params, pr)
            for p, g in zip(params, grads, strict=True):
                p.grad = g
            opt.step()
        root, dirs = _expand(params, pr)
        pos = _forward(params[0], root, dirs, pr.length_class, pr.ancestors)  # (j, b, t, 3)
        pos = pos.permute(1, 2, 0, 3).to(torch.float64).cpu().numpy()  # (b, t, j, 3)
    out = []
    for i, (p, s) in enumerate(zip(poses, stats, strict=True)):
        q = pos[i, : p.num_frames]  # (t, j, 3) normalised
        seen = p.mask  # (t, j)
        err = np.linalg.norm(q[..., :2] - xys[i], axis=-1)[seen] * s.std  # (n,) input units
        mean_err = float(err.mean()) if err.size else 0.0
        if seen.any():
            q[..., 2] -= q[..., 2][seen].mean()
        data = q * s.std
        data[..., :2] += np.asarray(s.mean[:2])
        data[~seen] = 0.0
        shoulder = shoulder_width(p)
        meta = dataclasses.replace(p.meta, extra=dict(p.meta.extra))
        meta.extra["lift"] = {
            "reprojection_error": mean_err,
            "reprojection_error_rel": mean_err / shoulder if shoulder > 0 else None,
            "steps": int(steps),
        }
        out.append(
            dataclasses.replace(
                p, data=data.astype(np.float32), confidence=p.confidence.copy(), meta=meta, ndim=3
            )
        )
    return out


def lift(
    pose: Pose,
    steps: int = DEFAULT_STEPS,
    lr: float = DEFAULT_LR,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    length_weight: float = LENGTH_WEIGHT,
    motion_weight: float = MOTION_WEIGHT,
    time_scales: tuple[int, ...] = TIME_SCALES,
) -> Pose:
    """Lift one 2D clip (pixels or normalised) to 3D; see the module doc and `lift_batch`."""
    return lift_batch(
        [pose], steps, lr, device, dtype, None, length_weight, motion_weight, time_scales
    )[0]


def shoulder_width(pose: Pose) -> float:
    """Median 2D shoulder distance (input units; 0 if never seen): the lift's error unit."""
    w = pose.shoulder_width(dims=2)
    return w if np.isfinite(w) else 0.0


def bone_lengths(pose: Pose) -> np.ndarray:
    """(t, nb) 3D lengths of the bones the lift fits (the zero-length wrist links left out).

    Meaningful only where both ends were observed (missing points are stored as 0).
    """
    tree = _tree(pose.skeleton)
    return np.linalg.norm(pose.data[:, tree.bones[:, 1]] - pose.data[:, tree.bones[:, 0]], axis=-1)


def bone_length_pairs(skeleton: str = "prompt2sign50") -> list[tuple[int, int]]:
    """Column pairs of `bone_lengths` (a bone and its mirror) that the lift ties to one length."""
    tree = _tree(skeleton)
    pairs = []
    for k in range(tree.num_classes):
        cols = np.flatnonzero(tree.length_class == k)
        if len(cols) == 2:
            pairs.append((int(cols[0]), int(cols[1])))
    return pairs

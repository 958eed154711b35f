"""Kinematic output head: a body with fixed proportions, by construction, in every frame.

A linear pose head predicts 150 free coordinates per frame, so nothing stops a bone from
stretching between frames or the shoulders from shrinking and swelling: the shipped model did
exactly that. This head predicts *how the body is posed*, not where its joints are:

- the root (the neck) position, as an offset from the rest pose;
- one torso rotation (the 6D representation of Zhou et al., CVPR 2019) that carries the rigid
  shoulder line, so the shoulder width is the body's at every frame;
- per bone a direction, as an offset from the rest pose's direction of that bone, normalised.

Forward kinematics then places every joint at its parent plus bone length x direction, with bone
lengths that are buffers fitted once on the training data (`fit_body`: per-bone medians, left
and right limbs averaged so that they match). Output = joints in the data's coordinates, divided
by the trainer's normalisation (`mean`, `std` buffers) so the rest of the model and the loss see
the same space as with a linear head.

The projection starts at zero, so an untrained model outputs the rest pose (the mean pose): it
learns offsets from the floor rather than absolute coordinates.

Body, rest pose and normalisation are buffers (saved with the weights); the config only says
`output_head="kinematic"`. Shapes: J joints, k future frames, d model width.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..skeleton import (
    LEFT_SHOULDER,
    PROMPT2SIGN50,
    RIGHT_SHOULDER,
    Skeleton,
    fk_order,
    median_bone_lengths,
    neck_rooted_parents,
)

NECK = PROMPT2SIGN50.index("neck")


def fit_body(
    frames: np.ndarray, mask: np.ndarray | None = None, skeleton: Skeleton = PROMPT2SIGN50
) -> dict[str, np.ndarray]:
    """Rest pose (J, 3) and bone lengths (J,) from training frames (N, J, 3).

    `mask` (N, J) marks observed joints. Rest = per-joint mean (the mean pose, the floor the
    model starts from); lengths = per-bone median of |child - parent| over frames where both are
    observed, averaged over each left/right pair; the shoulders' rest offsets from the neck are
    made mirror-symmetric.
    """
    frames = np.asarray(frames, np.float64)
    if frames.ndim != 3 or frames.shape[1:] != (skeleton.num_joints, 3):
        raise ValueError(f"frames must be (N, {skeleton.num_joints}, 3), got {frames.shape}")
    ok = np.ones(frames.shape[:2], bool) if mask is None else np.asarray(mask, bool)
    ok = ok & np.isfinite(frames).all(-1)
    parents = neck_rooted_parents(skeleton)
    j = skeleton.num_joints
    rest = np.zeros((j, 3))
    for i in range(j):
        rest[i] = frames[ok[:, i], i].mean(0) if ok[:, i].any() else 0.0
    lengths = median_bone_lengths(frames, ok, skeleton)
    for c, p in enumerate(parents):  # a bone never seen: its length in the mean pose
        if p >= 0 and not np.isfinite(lengths[c]):
            lengths[c] = float(np.linalg.norm(rest[c] - rest[p]))
    # a rigid, mirror-symmetric shoulder line around the neck
    r, left = rest[RIGHT_SHOULDER] - rest[NECK], rest[LEFT_SHOULDER] - rest[NECK]
    half = 0.5 * (np.abs(r[0]) + np.abs(left[0]))
    yz = 0.5 * (r[1:] + left[1:])
    sign = 1.0 if r[0] >= left[0] else -1.0
    rest[RIGHT_SHOULDER] = rest[NECK] + np.array([sign * half, *yz])
    rest[LEFT_SHOULDER] = rest[NECK] + np.array([-sign * half, *yz])
    for t in (RIGHT_SHOULDER, LEFT_SHOULDER):
        lengths[t] = float(np.linalg.norm(rest[t] - rest[NECK]))
    # the rest pose is the mean pose's bone directions at these lengths, so it is itself a body
    # (the head outputs it exactly before training)
    order = fk_order(parents)
    mean = rest.copy()
    for c in order:
        p = parents[c]
        if p < 0 or c in (RIGHT_SHOULDER, LEFT_SHOULDER):
            continue
        d = mean[c] - mean[p]
        n = np.linalg.norm(d)
        rest[c] = rest[p] + (lengths[c] * d / n if n > 1e-9 else 0.0)
    return {"rest": rest.astype(np.float32), "lengths": lengths.astype(np.float32)}


def rotation_6d(x: Tensor) -> Tensor:
    """(..., 6) -> rotation matrices (..., 3, 3) by Gram-Schmidt (Zhou et al. 2019)."""
    a, b = x[..., :3], x[..., 3:]
    e1 = F.normalize(a, dim=-1, eps=1e-6)
    e2 = F.normalize(b - (e1 * b).sum(-1, keepdim=True) * e1, dim=-1, eps=1e-6)
    e3 = torch.cross(e1, e2, dim=-1)
    return torch.stack([e1, e2, e3], -1)  # columns


class KinematicHead(nn.Module):
    """Decoder states (b, t, d) -> normalised joints (b, t, k * J * 3) of a fixed-size body."""

    def __init__(self, d_model: int, future_k: int = 1, skeleton: Skeleton = PROMPT2SIGN50):
        super().__init__()
        self.k, self.j = future_k, skeleton.num_joints
        parents = neck_rooted_parents(skeleton)
        self.root = parents.index(-1)
        self.torso = (RIGHT_SHOULDER, LEFT_SHOULDER)
        # per output frame: root offset (3) + torso rotation (6) + one direction offset per joint
        self.per_frame = 3 + 6 + 3 * self.j
        self.proj = nn.Linear(d_model, future_k * self.per_frame)
        # FK as one product: each joint = its anchor + the bones down to it
        anchors = [self.root, *self.torso]
        anchor_of, chain = [], torch.zeros(self.j, self.j)
        for i in range(self.j):
            c = i
            while c not in anchors:  # walk up to the root or a shoulder, summing the bones
                chain[i, c] = 1.0
                c = parents[c]
            anchor_of.append(anchors.index(c))
        # not in the state dict (derived from the skeleton): keys stay those of the saved models
        self.register_buffer("_chain", chain, persistent=False)  # (J, J) 0/1
        self.register_buffer("_anchor_of", torch.tensor(anchor_of), persistent=False)  # (J,)
        self.register_buffer("rest", torch.zeros(self.j, 3))
        self.register_buffer("lengths", torch.zeros(self.j))
        self.register_buffer("mean", torch.zeros(self.j, 3))
        self.register_buffer("std", torch.ones(self.j, 3))
        self.register_buffer("parents", torch.tensor(parents))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.zeros_(self.proj.weight)  # starts at the rest (mean) pose
        nn.init.zeros_(self.proj.bias)

    @torch.no_grad()
    def set_body(
        self,
        rest: np.ndarray | Tensor,
        lengths: np.ndarray | Tensor,
        mean: np.ndarray | Tensor | None = None,
        std: np.ndarray | Tensor | None = None,
    ) -> None:
        """Fix the body (from `fit_body`) and the normalisation the model's outputs live in."""
        self.rest.copy_(torch.as_tensor(np.asarray(rest), dtype=torch.float32).reshape(self.j, 3))
        self.lengths.copy_(torch.as_tensor(np.asarray(lengths), dtype=torch.float32))
        if mean is not None:
            self.mean.copy_(torch.as_tensor(np.asarray(mean), dtype=torch.float32).reshape(-1, 3))
        if std is not None:
            self.std.copy_(torch.as_tensor(np.asarray(std), dtype=torch.float32).reshape(-1, 3))

    def hand_size(self) -> Tensor:
        """Mean distance of the rest hands' joints from their wrists: the hand-shape loss's unit."""
        loc = torch.stack([self.rest[list(ix)] - self.rest[ix[0]] for ix in _HANDS])
        return loc[:, 1:].norm(dim=-1).mean()

    def hand_shape_loss(self, pred: Tensor, target: Tensor, w: Tensor) -> Tensor:
        """Per-sample (b,) hand-local error (fingers relative to the wrist), in hand sizes."""
        return _hand_shape_loss(self, pred, target, w)

    def rest_directions(self) -> Tensor:
        """Unit direction of each bone in the rest pose (J, 3); the root's is zero."""
        p = self.parents.clamp(min=0)
        return F.normalize(self.rest - self.rest[p], dim=-1, eps=1e-6)

    def joints(self, h: Tensor) -> Tensor:
        """Decoder states (..., d) -> joints in data coordinates (..., k, J, 3)."""
        return self.joints_from_params(self.proj(h).unflatten(-1, (self.k, self.per_frame)))

    def joints_from_params(self, y: Tensor) -> Tensor:
        """The projection's output per frame (..., per_frame) -> joints (..., J, 3).

        Forward kinematics in one product: a joint is its anchor (the root, or a shoulder of
        the rigid torso) plus length x direction of every bone on the way down to it.
        """
        root = self.rest[self.root] + y[..., :3]  # (..., 3)
        eye = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0], device=y.device, dtype=y.dtype)
        rot = rotation_6d(eye + y[..., 3:9])  # (..., 3, 3)
        dirs = F.normalize(
            self.rest_directions().to(y.dtype) + y[..., 9:].unflatten(-1, (self.j, 3)),
            dim=-1,
            eps=1e-6,
        )  # (..., J, 3)
        off = (self.rest[list(self.torso)] - self.rest[self.root]).to(y.dtype)  # (2, 3)
        torso = root[..., None, :] + off @ rot.transpose(-1, -2)  # (..., 2, 3): rot @ off
        anchors = torch.cat([root[..., None, :], torso], -2)  # (..., 3, 3)
        bones = self.lengths.to(y.dtype)[:, None] * dirs  # (..., J, 3)
        return anchors.index_select(-2, self._anchor_of) + self._chain.to(y.dtype) @ bones

    def normalised(self, y: Tensor) -> Tensor:
        """The projection's output per frame (..., per_frame) -> normalised joints (..., J * 3)."""
        return (
            (self.joints_from_params(y) - self.mean.to(y.dtype)) / self.std.to(y.dtype)
        ).flatten(-2)

    def normaliser(self) -> Callable[[Tensor], Tensor]:
        """`normalised` for inference (no autograd) with its constants computed once: the
        decoder calls it every step. (n, per_frame) -> (n, J * 3), equal within float rounding.
        """
        with torch.no_grad():
            j = self.j
            rest_root, dirs0 = self.rest[self.root], self.rest_directions()
            off_t = (self.rest[list(self.torso)] - self.rest[self.root]).t().contiguous()  # (3, 2)
            eye = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0], device=self.rest.device)
            # one product places every joint: [anchor selection | bone chain] (J, 3 + J)
            sel = F.one_hot(self._anchor_of, 3).to(self.rest.dtype)
            place = torch.cat([sel, self._chain * self.lengths[None, :]], 1)
            inv_std = 1.0 / self.std
            shift = -self.mean * inv_std

        def normalise(y: Tensor) -> Tensor:
            n = y.shape[0]
            r = y[:, 3:9] + eye
            e1 = F.normalize(r[:, :3], dim=-1, eps=1e-6)
            b = r[:, 3:]
            e2 = F.normalize(b - (e1 * b).sum(-1, keepdim=True) * e1, dim=-1, eps=1e-6)
            rot = torch.stack([e1, e2, torch.cross(e1, e2, dim=-1)], -1)  # (n, 3, 3) columns
            root = y[:, None, :3] + rest_root  # (n, 1, 3)
            torso = root + (rot @ off_t).transpose(1, 2)  # (n, 2, 3)
            dirs = F.normalize(dirs0 + y[:, 9:].view(n, j, 3), dim=-1, eps=1e-6)  # (n, J, 3)
            joints = place @ torch.cat([root, torso, dirs], 1)  # (n, J, 3)
            return torch.addcmul(shift, joints, inv_std).view(n, j * 3)

        return normalise

    def forward(self, h: Tensor) -> Tensor:
        """(b, t, d) -> normalised joints flattened as the linear head's (b, t, k * J * 3).

        Always in float32 (also under bf16 autocast): forward kinematics chains ~9 bones, and
        bf16's 8-bit mantissa would make the fixed bone lengths wobble by ~1%."""
        with torch.autocast(h.device.type, enabled=False):
            h = h.float()
            y = self.proj(h).unflatten(-1, (self.k, self.per_frame))
            return self.normalised(y).flatten(-2)


def _hand_local(x: Tensor, head: KinematicHead) -> Tensor:
    """Normalised (..., J*3) -> each hand's joints minus its wrist, data units (..., 2, 20, 3)."""
    j = head.j
    pos = x.unflatten(-1, (j, 3)) * head.std.to(x.dtype) + head.mean.to(x.dtype)
    hands = torch.stack([pos[..., list(ix), :] for ix in _HANDS], -3)  # (..., 2, 21, 3)
    return hands[..., 1:, :] - hands[..., :1, :]


_HANDS = (PROMPT2SIGN50.groups["left_hand"], PROMPT2SIGN50.groups["right_hand"])


def _hand_shape_loss(head: KinematicHead, pred: Tensor, target: Tensor, w: Tensor) -> Tensor:
    """Per-sample (b,) masked MSE of hand-local joints in hand sizes; w: the pose weights."""
    p, t = _hand_local(pred, head), _hand_local(target, head)
    wj = w.unflatten(-1, (head.j, 3))[..., 0]  # (..., J) joint weights
    hw = torch.stack([wj[..., list(ix)] for ix in _HANDS], -2)  # (..., 2, 21)
    hw = hw[..., 1:] * hw[..., :1]  # a joint counts where it and its wrist are observed
    size = head.hand_size().to(pred.dtype).clamp(min=1e-3)
    err = ((p - t) ** 2).sum(-1) / size**2 * hw  # (b, ..., 2, 20)
    dims = tuple(range(1, err.dim()))
    return err.sum(dims) / hw.sum(dims).clamp(min=1e-8)

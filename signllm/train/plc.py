"""The "RL loss" and the Priority Learning Channel (PLC) of SignLLM, with the paper's gaps filled.

What the paper says (Fang et al. 2024, arXiv 2405.10718, sec. 3):
  * reward of a sample r(i) = -(1/N) sum (y - y_hat)^2; training maximises the reward ("RL loss");
  * PLC: P(i) = r(i)^eta / sum_j r(j)^eta, and "a batch whose reward is below a threshold (50%)
    is skipped".
What it leaves undefined: eta; the reward's normalisation (r <= 0, so r^eta is undefined for a
non-integer eta and flips sign with the parity of an integer one; an MSE has no fixed scale and
falls ~100x during training); what "50%" is a percentage of; stale priorities; and whether the
sampling bias on the objective is corrected.

Our definitions (all configurable):
1. Reward and RL loss. r(i) = -MSE_i, MSE_i the masked mean over sample i's valid values (the
   model's `per_sample`). No action is sampled, so maximising E[r] is exactly minimising the mean
   per-sample MSE: `rl_loss` is that mean (each clip counts once, unlike the model's pooled
   `pose_loss`, where long clips count more). Under PLC the mean is taken under P, not uniformly;
   `importance_weights` (w_i = (N P(i))^-beta, clipped, normalised to mean 1 per batch, beta
   annealed to 1: prioritised experience replay, Schaul et al. 2016) undo that. With the weights
   off (beta = 0) PLC changes the objective to sum_i P(i) MSE_i: favour="hard" leans to worst-case
   fit, favour="easy" to giving up on hard clips.
2. Priority. Difficulty d_i = MSE_i / mean_j MSE_j over the samples seen so far (scale-free),
   clipped to [1/max_ratio, max_ratio] so one corrupt clip cannot take over;
   p_i = d_i^eta (favour="hard") or d_i^-eta (favour="easy"). The "easy" form is the paper's
   r^eta with the reward made positive and scale-free (relative reward mean/MSE); "hard" is its
   mirror. P(i) = (1 - epsilon) p_i / sum_j p_j + epsilon / N: a share epsilon of the draws is
   uniform, so no probability is 0 and stale low priorities get re-measured. Samples never seen get
   the largest priority; a sample's MSE is its latest measurement (ema_decay=0, as in PER) or an EMA.
   eta = 0 is exactly uniform, and the sampler then yields exactly the stream of
   `DistributedSampler(shuffle=True, seed=seed)`: a PLC run and its baseline differ only in eta.
   Defaults: favour="hard", eta=0.5, epsilon=0.1. p ~ sqrt(MSE) ~ RMSE, proportional to the size
   of a squared error's per-sample gradient, which is the variance-minimising importance-sampling
   distribution (Katharopoulos & Fleuret 2018; PER's alpha=0.6 on |error| is close). The paper's
   direction spends most draws on clips the model already fits (gradients near zero); it is kept
   as favour="easy" to reproduce the paper.
3. Sampling. An epoch is M draws (samples_per_epoch, default N). Counts come from systematic
   resampling: sample i gets floor(M P_i) or ceil(M P_i) draws, so each draw is i with probability
   exactly P_i, with far less noise than multinomial draws, and with M >= N every unseen sample is
   drawn. The draws are shuffled by `torch.randperm` seeded with seed + epoch, padded and sliced by
   rank as DistributedSampler does. P is frozen per epoch at `set_epoch` (and kept in the state
   dict, so a resumed epoch replays its draw); updates made during an epoch shape the next one
   (use a smaller samples_per_epoch to refresh more often). Deterministic given seed, epoch and
   the updates made before each `set_epoch`, however far a DataLoader prefetches; DDP ranks stay
   identical because `sync_updates` all-gathers the (index, MSE) pairs and applies them in rank
   order.
4. Batch skipping. "Reward below 50%" is read with the relative reward rho = ref / batch MSE, ref
   being the running mean (EMA) or median of earlier batch MSEs. skip="hard" (the paper's literal
   reading): skip when rho < threshold, i.e. batch MSE > ref / threshold, a loss-spike guard
   against corrupt clips. skip="easy": skip when batch MSE < threshold * ref, the model knows the
   batch already and its backward is saved (selective backprop, Jiang et al. 2019). Default off
   (threshold=None): a batch mean over many clips rarely crosses either bound, and we have no
   evidence yet that skipping speeds training. The reference takes in every batch, skipped or not,
   so a genuine level shift cannot lock training out. Under DDP `should_skip` all-reduces the batch
   MSE first, so every rank takes the same decision.

Usage (the dataset's items carry their index; `DataLoader` batches them):

    sampler = PrioritySampler(len(ds), eta=0.5, seed=0)  # rank/world from torch.distributed
    loader = DataLoader(ds, batch_size=32, sampler=sampler)
    skipper = BatchSkipper(threshold=None)  # off; 0.5 with skip="hard" is the paper's rule
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        for batch in loader:
            out = model.loss(...)
            w = sampler.importance_weights(batch["index"], beta=anneal_beta(step / total_steps))
            loss = rl_loss(out["per_sample"], w) + cw * rl_loss(out["per_sample_counter"], w)
            sampler.sync_updates(batch["index"], out["per_sample"])  # MSEs, not rewards
            if skipper.should_skip(out["per_sample"]):  # same answer on every rank
                continue
            loss.backward(); opt.step(); opt.zero_grad()
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Iterator
from typing import Any, Literal

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor
from torch.utils.data import Sampler

Favour = Literal["hard", "easy"]
Reference = Literal["running_mean", "median"]

__all__ = [
    "BatchSkipper",
    "PrioritySampler",
    "anneal_beta",
    "global_batch_mse",
    "importance_weights",
    "reward",
    "rl_loss",
]


# -- reward and loss ---------------------------------------------------------------------------


def reward(per_sample_mse: Tensor) -> Tensor:
    """The paper's reward r(i) = -MSE_i; `rl_loss` is minus its (weighted) mean."""
    return -per_sample_mse


def rl_loss(per_sample_mse: Tensor, weights: Tensor | None = None) -> Tensor:
    """Minus the expected reward = mean per-sample MSE, importance-weighted when `weights` is given.

    per_sample_mse (b,) with grad; weights (b,) from `importance_weights` (detached here, mean 1),
    so the loss keeps the scale of the unweighted one and the learning rate means the same.
    """
    if per_sample_mse.dim() != 1:
        raise ValueError(
            f"per_sample_mse must be 1-D (b,), got shape {tuple(per_sample_mse.shape)}"
        )
    if weights is None:
        return -reward(per_sample_mse).mean()
    w = torch.as_tensor(weights).detach().to(per_sample_mse)
    if w.shape != per_sample_mse.shape:
        raise ValueError(f"weights shape {tuple(w.shape)} != {tuple(per_sample_mse.shape)}")
    return -(w * reward(per_sample_mse)).mean()


def anneal_beta(progress: float, start: float = 0.4, end: float = 1.0) -> float:
    """Importance-weight exponent, linear from `start` to `end` over training (PER's schedule).

    Early on the bias matters little and full correction only adds variance; by the end the
    weights fully undo the sampling bias (progress = step / total_steps, clipped to [0, 1]).
    """
    p = min(max(float(progress), 0.0), 1.0)
    return start + (end - start) * p


def importance_weights(
    probs: Tensor, num_samples: int, beta: float = 1.0, max_weight: float | None = 10.0
) -> Tensor:
    """w_i = (N P_i)^-beta, clipped at `max_weight`, normalised to mean 1 over the batch.

    probs (b,): the draw probabilities of the batch's samples. Mean-1 (not PER's max-1)
    normalisation keeps the loss scale of uniform sampling, so PLC on/off compare at the same lr.
    """
    p = torch.as_tensor(probs, dtype=torch.float64)
    w = (num_samples * p).clamp(min=1e-300) ** (-float(beta))
    if max_weight is not None:
        w = w.clamp(max=max_weight)
    return (w / w.mean()).to(torch.float32)


# -- distributed helpers -----------------------------------------------------------------------


def _dist_world(group: Any = None) -> int:
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size(group)
    return 1


def _comm_device(group: Any = None) -> torch.device:
    """NCCL moves only CUDA tensors; every other backend here takes CPU ones."""
    if str(dist.get_backend(group)) == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def global_batch_mse(per_sample_mse: Tensor, group: Any = None) -> float:
    """Mean per-sample MSE over the batch of all ranks (sum and count all-reduced), as a float."""
    x = per_sample_mse.detach().reshape(-1).to(torch.float64)
    if _dist_world(group) > 1:
        buf = torch.stack([x.sum(), torch.tensor(float(x.numel()), dtype=torch.float64)])
        buf = buf.to(_comm_device(group))
        dist.all_reduce(buf, op=dist.ReduceOp.SUM, group=group)
        total, count = buf.tolist()
    else:
        total, count = x.sum().item(), float(x.numel())
    return total / count if count > 0 else math.nan


def _all_gather_pairs(idx: Tensor, val: Tensor, group: Any) -> tuple[Tensor, Tensor]:
    """All (index, value) pairs of every rank, concatenated in rank order; sizes may differ."""
    ws, device = dist.get_world_size(group), _comm_device(group)
    n = torch.tensor([idx.numel()], dtype=torch.int64, device=device)
    sizes = [torch.zeros_like(n) for _ in range(ws)]
    dist.all_gather(sizes, n, group=group)
    counts = [int(s.item()) for s in sizes]
    # indices as float64 are exact below 2^53: one collective instead of two
    buf = torch.zeros(max(counts), 2, dtype=torch.float64, device=device)
    buf[: idx.numel(), 0] = idx.to(device, torch.float64)
    buf[: idx.numel(), 1] = val.to(device, torch.float64)
    parts = [torch.empty_like(buf) for _ in range(ws)]
    dist.all_gather(parts, buf, group=group)
    pairs = torch.cat([p[:c] for p, c in zip(parts, counts, strict=True)]).cpu()
    return pairs[:, 0].to(torch.int64), pairs[:, 1]


# -- sampler -----------------------------------------------------------------------------------


class PrioritySampler(Sampler[int]):
    """Map-style sampler of clip indices drawn by priority (see the module docstring).

    num_samples: N clips (indices 0..N-1). eta: priority exponent (0 = uniform). favour: "hard"
    draws high-MSE clips more, "easy" low-MSE ones (the paper's direction). epsilon: share of
    uniform draws. rank/world_size: None takes them from torch.distributed when initialised.
    samples_per_epoch: draws per epoch over all ranks (default N). ema_decay: weight of a clip's
    previous MSE when a new one arrives (0 = keep the latest). max_ratio: difficulty clip.
    max_weight: importance-weight clip.
    """

    def __init__(
        self,
        num_samples: int,
        eta: float = 0.5,
        favour: Favour = "hard",
        epsilon: float = 0.1,
        seed: int = 0,
        rank: int | None = None,
        world_size: int | None = None,
        samples_per_epoch: int | None = None,
        *,
        ema_decay: float = 0.0,
        max_ratio: float = 10.0,
        max_weight: float | None = 10.0,
    ) -> None:
        if num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {num_samples}")
        if eta < 0:
            raise ValueError(f"eta must be >= 0 (use favour= for the direction), got {eta}")
        if favour not in ("hard", "easy"):
            raise ValueError(f"favour must be 'hard' or 'easy', got {favour!r}")
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
        if not 0.0 <= ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {ema_decay}")
        if max_ratio < 1.0:
            raise ValueError(f"max_ratio must be >= 1, got {max_ratio}")
        if world_size is None:
            world_size = _dist_world()
        if rank is None:
            rank = dist.get_rank() if _dist_world() > 1 else 0
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} not in [0, world_size={world_size})")
        if samples_per_epoch is not None and samples_per_epoch < 1:
            raise ValueError(f"samples_per_epoch must be >= 1, got {samples_per_epoch}")
        self.num_samples = int(num_samples)
        self.eta = float(eta)
        self.favour: Favour = favour
        self.epsilon = float(epsilon)
        self.seed = int(seed)
        self.rank = int(rank)
        self.world_size = int(world_size)
        self.samples_per_epoch = int(samples_per_epoch or num_samples)
        self.ema_decay = float(ema_decay)
        self.max_ratio = float(max_ratio)
        self.max_weight = max_weight
        self.epoch = 0
        self._mse = np.zeros(self.num_samples, dtype=np.float64)  # latest / EMA MSE per clip
        self._count = np.zeros(self.num_samples, dtype=np.int64)  # updates seen per clip
        # epoch -> P frozen for that epoch's draw (the two latest epochs) and the draw itself
        self._frozen: dict[int, Tensor] = {}
        self._draws: dict[int, Tensor] = {}

    # -- epochs and iteration --

    def set_epoch(self, epoch: int) -> None:
        """Start an epoch: seed = seed + epoch, and its draw is frozen now, from the priorities.

        Call it every epoch, as with DistributedSampler, at a fixed point of the training loop:
        updates made later shape the next epoch, however far ahead a DataLoader prefetches.
        """
        self.epoch = int(epoch)
        self._freeze(self.epoch)

    def _freeze(self, epoch: int) -> Tensor:
        if epoch not in self._frozen:
            self._frozen[epoch] = self.probabilities()
            for old in sorted(self._frozen)[:-2]:  # the current epoch and a prefetched next one
                del self._frozen[old]
                self._draws.pop(old, None)
        return self._frozen[epoch]

    def __len__(self) -> int:
        """Draws this rank yields per epoch (the epoch is padded to a multiple of world_size)."""
        return math.ceil(self.samples_per_epoch / self.world_size)

    def draw(self, epoch: int | None = None) -> Tensor:
        """An epoch's M draws over all ranks, before padding and rank slicing: (M,) int64.

        A function of (seed, epoch, the P frozen for the epoch): an epoch never `set_epoch`-ed
        freezes P at its first request. For trainers that batch and shard the stream themselves.
        """
        epoch = self.epoch if epoch is None else int(epoch)
        probs = self._freeze(epoch)
        if epoch not in self._draws:
            self._draws[epoch] = self._draw(probs, epoch)
        return self._draws[epoch]

    def _draw(self, probs: Tensor, epoch: int) -> Tensor:
        n, m = self.num_samples, self.samples_per_epoch
        g = torch.Generator().manual_seed(self.seed + epoch)
        perm = torch.randperm(m, generator=g)  # same call as DistributedSampler: eta=0 matches it
        if bool((probs == probs[0]).all()):
            # uniform: exactly m // n copies each, the rest distinct (no float rounding involved)
            pool = torch.arange(n).repeat(m // n)
            if m % n:
                extra = torch.randperm(n, generator=g)[: m % n].sort().values
                pool = torch.cat([pool, extra])
        else:
            # systematic resampling: a grid of m points, spacing 1/m, random offset, on the CDF
            u = torch.rand((), generator=g, dtype=torch.float64)
            cdf = probs.cumsum(0)
            cdf = cdf / cdf[-1]
            pos = (u + torch.arange(m, dtype=torch.float64)) / m
            pool = torch.searchsorted(cdf, pos, right=True).clamp_(max=n - 1)
        return pool[perm]

    def __iter__(self) -> Iterator[int]:
        idx = self.draw()
        total = len(self) * self.world_size
        if total > idx.numel():  # pad by repeating the start, as DistributedSampler does
            reps = math.ceil((total - idx.numel()) / idx.numel())
            idx = torch.cat([idx, idx.repeat(reps)[: total - idx.numel()]])
        yield from idx[self.rank : total : self.world_size].tolist()

    # -- priorities --

    def priorities(self) -> Tensor:
        """Unnormalised priorities p_i (N,) float64; unseen clips get the largest one."""
        n = self.num_samples
        seen = self._count > 0
        if self.eta == 0.0 or not seen.any():
            return torch.ones(n, dtype=torch.float64)
        mean = self._mse[seen].mean()
        d = np.ones(n) if mean <= 0 else self._mse / mean
        d = np.clip(d, 1.0 / self.max_ratio, self.max_ratio).clip(min=1e-12)
        p = d ** (self.eta if self.favour == "hard" else -self.eta)
        p[~seen] = p[seen].max()
        return torch.from_numpy(p)

    def _normalise(self, pri: Tensor) -> Tensor:
        return (1.0 - self.epsilon) * pri / pri.sum() + self.epsilon / self.num_samples

    def probabilities(self) -> Tensor:
        """P(i) (N,) float64, summing to 1, that the next epoch's draw would use."""
        return self._normalise(self.priorities())

    def importance_weights(
        self, indices: Any, beta: float = 1.0, epoch: int | None = None
    ) -> Tensor:
        """Weights (b,) float32, mean 1, for clips drawn in `epoch` (default: the current one).

        They use the P the epoch was drawn with, not the P updated since (see rl_loss).
        """
        probs = self._freeze(self.epoch if epoch is None else int(epoch))
        idx = torch.as_tensor(indices).detach().to("cpu", torch.int64).reshape(-1)
        return importance_weights(probs[idx], self.num_samples, beta, self.max_weight)

    def update(self, indices: Any, mse: Any) -> int:
        """Record the per-sample MSEs (>= 0, NOT rewards) of trained clips, in order.

        Non-finite values (an fp16 overflow) carry no information and are ignored; the return
        value is the number applied. Under DDP call `sync_updates` instead, on every rank.
        """
        idx = torch.as_tensor(indices).detach().to("cpu", torch.int64).reshape(-1)
        val = torch.as_tensor(mse).detach().to("cpu", torch.float64).reshape(-1)
        if idx.shape != val.shape:
            raise ValueError(f"{idx.numel()} indices but {val.numel()} MSE values")
        if idx.numel() and (idx.min() < 0 or idx.max() >= self.num_samples):
            raise ValueError(f"indices must be in [0, {self.num_samples})")
        keep = torch.isfinite(val)
        if bool((val[keep] < 0).any()):
            raise ValueError("update() takes MSEs (>= 0), not rewards (= -MSE)")
        applied = 0
        a = self.ema_decay
        for i, v in zip(idx[keep].tolist(), val[keep].tolist(), strict=True):
            self._mse[i] = v if self._count[i] == 0 else a * self._mse[i] + (1.0 - a) * v
            self._count[i] += 1
            applied += 1
        return applied

    def sync_updates(self, indices: Any, mse: Any, group: Any = None) -> int:
        """`update` with the (index, MSE) pairs of every rank, in rank order: ranks stay identical.

        A collective when torch.distributed is initialised (gloo or nccl): call it on every rank,
        even with an empty batch. Without a process group it is `update`.
        """
        idx = torch.as_tensor(indices).detach().to("cpu", torch.int64).reshape(-1)
        val = torch.as_tensor(mse).detach().to("cpu", torch.float64).reshape(-1)
        if idx.shape != val.shape:
            raise ValueError(f"{idx.numel()} indices but {val.numel()} MSE values")
        if _dist_world(group) > 1:
            idx, val = _all_gather_pairs(idx, val, group)
        return self.update(idx, val)

    def stats(self) -> dict[str, float]:
        """Numbers worth logging: share of clips seen, and how peaked P is (max N*P, min N*P)."""
        p = self.probabilities() * self.num_samples
        return {
            "seen": float((self._count > 0).mean()),
            "max_np": float(p.max()),
            "min_np": float(p.min()),
        }

    # -- checkpointing (tensors and plain types only: loads with weights_only=True) --

    def state_dict(self) -> dict[str, Any]:
        return {
            "num_samples": self.num_samples,
            "epoch": self.epoch,
            "mse": torch.from_numpy(self._mse.copy()),
            "count": torch.from_numpy(self._count.copy()),
            # the P each live epoch was drawn with: a resumed epoch replays the same draw
            "frozen_epochs": torch.tensor(list(self._frozen), dtype=torch.int64),
            "frozen_probs": [p.clone() for p in self._frozen.values()],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if int(state["num_samples"]) != self.num_samples:
            raise ValueError(
                f"state is for {state['num_samples']} samples, this sampler has {self.num_samples}"
            )
        self.epoch = int(state["epoch"])
        self._mse = state["mse"].numpy().astype(np.float64, copy=True)
        self._count = state["count"].numpy().astype(np.int64, copy=True)
        epochs = state.get("frozen_epochs", torch.zeros(0, dtype=torch.int64)).tolist()
        self._frozen = dict(zip(epochs, state.get("frozen_probs", []), strict=True))
        self._draws = {}


# -- batch skipping ----------------------------------------------------------------------------


class BatchSkipper:
    """Decide whether to skip a batch's optimiser step from its MSE (see the module docstring).

    threshold: None = never skip; in (0, 1]. skip="hard": skip when batch MSE > ref / threshold
    (the paper's literal "reward below 50%", a loss-spike guard); "easy": skip when batch MSE <
    threshold * ref (already learnt, save the backward). reference: "running_mean" (EMA, `decay`)
    or "median" (of the last `window` batches). No skipping during the first `warmup_steps`.
    """

    def __init__(
        self,
        threshold: float | None = None,
        skip: Favour = "hard",
        reference: Reference = "running_mean",
        warmup_steps: int = 100,
        decay: float = 0.99,
        window: int = 100,
    ) -> None:
        if threshold is not None and not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1] or None, got {threshold}")
        if skip not in ("hard", "easy"):
            raise ValueError(f"skip must be 'hard' or 'easy', got {skip!r}")
        if reference not in ("running_mean", "median"):
            raise ValueError(f"reference must be 'running_mean' or 'median', got {reference!r}")
        if not 0.0 <= decay < 1.0 or window < 1 or warmup_steps < 0:
            raise ValueError("need 0 <= decay < 1, window >= 1, warmup_steps >= 0")
        self.threshold = threshold
        self.skip: Favour = skip
        self.reference: Reference = reference
        self.warmup_steps = int(warmup_steps)
        self.decay = float(decay)
        self.window = int(window)
        self.steps = 0  # batches seen
        self.skipped = 0  # batches skipped
        self._ema: float | None = None
        self._recent: deque[float] = deque(maxlen=self.window)

    def reference_value(self) -> float | None:
        """The current reference batch MSE (None before the first finite batch)."""
        if self.reference == "median":
            return statistics.median(self._recent) if self._recent else None
        return self._ema

    def step(self, batch_mse: float) -> bool:
        """Decide for a batch MSE (identical on all ranks), then fold it into the reference."""
        self.steps += 1
        if not math.isfinite(batch_mse):  # no information: keep it out of the reference
            skip = self.threshold is not None
            self.skipped += skip
            return skip
        ref = self.reference_value()
        skip = False
        if self.threshold is not None and self.steps > self.warmup_steps and ref and ref > 0:
            if self.skip == "hard":
                skip = batch_mse > ref / self.threshold
            else:
                skip = batch_mse < self.threshold * ref
        # every batch enters the reference, skipped or not: a real level shift ends the skipping
        self._ema = (
            batch_mse
            if self._ema is None
            else self.decay * self._ema + (1 - self.decay) * batch_mse
        )
        self._recent.append(batch_mse)
        self.skipped += skip
        return skip

    def should_skip(self, per_sample_mse: Tensor, group: Any = None) -> bool:
        """`step` on the batch MSE of all ranks (all-reduced under DDP): call it on every rank."""
        return self.step(global_batch_mse(per_sample_mse, group))

    def state_dict(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "skipped": self.skipped,
            "ema": self._ema,
            "recent": list(self._recent),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.steps, self.skipped = int(state["steps"]), int(state["skipped"])
        self._ema = state["ema"]
        self._recent = deque((float(v) for v in state["recent"]), maxlen=self.window)

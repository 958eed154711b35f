"""PLC sampler, RL loss and batch skipper: exact uniform baseline, ratios, floors, DDP sync."""

from __future__ import annotations

import math
import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.utils.data import DataLoader, DistributedSampler

from signllm.train.plc import (
    BatchSkipper,
    PrioritySampler,
    anneal_beta,
    global_batch_mse,
    importance_weights,
    reward,
    rl_loss,
)


def _fed(n: int = 8, **kw) -> PrioritySampler:
    """A sampler whose clip i has MSE i + 1 (so clip n-1 is the hardest)."""
    s = PrioritySampler(n, **kw)
    s.update(range(n), [float(i + 1) for i in range(n)])
    return s


# -- uniform baseline --------------------------------------------------------------------------


@pytest.mark.parametrize("world", [1, 2, 3])
def test_eta0_is_exactly_distributed_sampler(world):
    n = 10  # not a multiple of 3: exercises the padding
    for rank in range(world):
        ours = _fed(n, eta=0.0, seed=7, rank=rank, world_size=world)  # updates must not matter
        ref = DistributedSampler(range(n), num_replicas=world, rank=rank, shuffle=True, seed=7)
        for epoch in (0, 1, 5):
            ours.set_epoch(epoch)
            ref.set_epoch(epoch)
            assert list(ours) == list(ref)
            assert len(ours) == len(ref)
        p = ours.probabilities()
        assert torch.allclose(p, torch.full((n,), 1 / n, dtype=torch.float64))
        assert torch.equal(ours.importance_weights([0, 3, 9]), torch.ones(3))


def test_fresh_sampler_is_uniform_and_covers_everything():
    s = PrioritySampler(12, eta=1.0, seed=0, samples_per_epoch=36)
    assert torch.allclose(s.probabilities(), torch.full((12,), 1 / 12, dtype=torch.float64))
    assert np.bincount(list(s), minlength=12).tolist() == [3] * 12
    s = PrioritySampler(12, eta=1.0, seed=0, samples_per_epoch=14)
    assert sorted(np.bincount(list(s), minlength=12).tolist()) == [1] * 10 + [2] * 2


# -- priorities --------------------------------------------------------------------------------


@pytest.mark.parametrize("favour", ["hard", "easy"])
def test_draw_frequencies_follow_priorities(favour):
    # MSEs 1,1,4,4 -> difficulty 0.4,0.4,1.6,1.6; eta=0.5 -> priority ratio 2 (hard) or 1/2 (easy)
    s = PrioritySampler(4, eta=0.5, favour=favour, epsilon=0.0, seed=3, samples_per_epoch=1000)
    s.update([0, 1, 2, 3], [1.0, 1.0, 4.0, 4.0])
    hi, lo = 1 / 3, 1 / 6
    expect = np.array([lo, lo, hi, hi] if favour == "hard" else [hi, hi, lo, lo])
    assert np.allclose(s.probabilities().numpy(), expect)
    counts = np.zeros(4)
    firsts = np.zeros(4)
    for epoch in range(400):
        s.set_epoch(epoch)
        draw = s.draw().numpy()
        counts += np.bincount(draw, minlength=4)
        firsts[draw[0]] += 1  # one draw per epoch: tests the per-draw marginal, not just counts
    assert np.allclose(counts / counts.sum(), expect, atol=2e-3)
    chi2 = (((firsts - 400 * expect) ** 2) / (400 * expect)).sum()
    assert chi2 < 16.3  # chi-square, 3 dof, p = 0.001


def test_eta_sharpens_and_max_ratio_clips():
    flat, sharp = _fed(eta=0.5), _fed(eta=2.0)
    assert flat.probabilities().argmax() == sharp.probabilities().argmax() == 7
    assert sharp.probabilities()[7] > flat.probabilities()[7]
    s = PrioritySampler(3, eta=1.0, epsilon=0.0, max_ratio=2.0)
    s.update([0, 1, 2], [0.0, 1.0, 1000.0])  # difficulty clipped to [1/2, 2]
    p = s.probabilities()
    assert p.max() / p.min() == pytest.approx(4.0)


@pytest.mark.parametrize("favour", ["hard", "easy"])
def test_epsilon_floor(favour):
    n, eps = 5, 0.1
    s = PrioritySampler(n, eta=4.0, favour=favour, epsilon=eps, max_ratio=1e9)
    s.update(range(n), [0.0, 0.0, 0.0, 0.0, 1e6])
    p = s.probabilities()
    assert float(p.sum()) == pytest.approx(1.0)
    assert float(p.min()) >= eps / n * (1 - 1e-12)
    assert float(p.min()) == pytest.approx(eps / n, rel=1e-6)  # the floor binds


@pytest.mark.parametrize("favour", ["hard", "easy"])
def test_unseen_get_max_priority_and_are_drawn(favour):
    s = PrioritySampler(10, eta=1.0, favour=favour, seed=1)
    s.update([0, 1, 2, 3], [1.0, 2.0, 3.0, 4.0])
    pri = s.priorities()
    assert torch.all(pri[4:] == pri[:4].max())
    for epoch in range(5):  # systematic resampling: a clip with N*P >= 1 is drawn every epoch
        s.set_epoch(epoch)
        assert set(range(4, 10)) <= set(s)


def test_update_ema_validation_and_state():
    s = PrioritySampler(4, ema_decay=0.5)
    assert s.update(torch.tensor([0, 0]), torch.tensor([4.0, 2.0])) == 2
    assert s.state_dict()["mse"][0] == 3.0  # 0.5 * 4 + 0.5 * 2
    assert s.update([1, 2], [float("nan"), math.inf]) == 0  # fp16 overflow: ignored
    with pytest.raises(ValueError, match="not rewards"):
        s.update([1], [-0.3])
    with pytest.raises(ValueError, match="indices"):
        s.update([4], [1.0])
    with pytest.raises(ValueError, match="MSE values"):
        s.update([1, 2], [1.0])
    with pytest.raises(ValueError):
        PrioritySampler(4, favour="medium")  # type: ignore[arg-type]


def test_determinism_and_resume(tmp_path):
    a, b, c = (_fed(20, eta=1.0, seed=s, samples_per_epoch=30) for s in (5, 5, 6))
    for s in (a, b, c):
        s.set_epoch(2)
    assert list(a) == list(b) != list(c)
    before, p_before = list(a), a.probabilities()
    a.update([3, 4], [9.0, 0.1])  # mid-epoch: this epoch's draw and weights stay frozen
    assert list(a) == before and not torch.equal(a.probabilities(), p_before)
    assert torch.equal(a.importance_weights([3, 4]), a.importance_weights([3, 4], epoch=2))
    torch.save({"plc": a.state_dict()}, tmp_path / "state.pt")
    state = torch.load(tmp_path / "state.pt", weights_only=True)["plc"]
    fresh = PrioritySampler(20, eta=1.0, seed=5, samples_per_epoch=30)
    fresh.load_state_dict(state)
    assert fresh.epoch == 2 and list(fresh) == before  # resume mid-epoch: same draw
    for s in (a, fresh):
        s.set_epoch(3)  # the next epoch sees the update
    assert list(fresh) == list(a)
    assert torch.equal(fresh.probabilities(), a.probabilities())


def test_works_with_dataloader():
    s = _fed(10, eta=1.0, seed=0, samples_per_epoch=16)
    batches = list(DataLoader(list(range(10)), batch_size=4, sampler=s))
    assert [len(x) for x in batches] == [4, 4, 4, 4]


# -- RL loss and importance weights ------------------------------------------------------------


def test_rl_loss_is_minus_mean_reward_and_weights_detached():
    mse = torch.tensor([1.0, 2.0, 6.0], requires_grad=True)
    assert rl_loss(mse).item() == pytest.approx(3.0)
    assert rl_loss(mse).item() == pytest.approx(-reward(mse).mean().item())
    w = torch.tensor([0.5, 0.5, 2.0], requires_grad=True)
    loss = rl_loss(mse, w)
    assert loss.item() == pytest.approx((0.5 + 1.0 + 12.0) / 3)
    loss.backward()
    assert w.grad is None and torch.allclose(mse.grad, torch.tensor([0.5, 0.5, 2.0]) / 3)
    with pytest.raises(ValueError):
        rl_loss(mse[None])
    with pytest.raises(ValueError):
        rl_loss(mse, torch.ones(2))


def test_importance_weights_mean_one_and_unbiased():
    s = _fed(8, eta=1.0, epsilon=0.0, seed=0)
    probs = s.probabilities()
    w = s.importance_weights(list(range(8)), beta=1.0)
    assert w.mean().item() == pytest.approx(1.0)
    assert torch.all(w[:-1] >= w[1:])  # harder = drawn more = weighted less
    # beta = 1, no clip: the P-weighted mean of w * f is the uniform mean of f (no bias)
    raw = importance_weights(probs, 8, beta=1.0, max_weight=None).double()
    f = torch.arange(8, dtype=torch.float64) ** 2
    est = (probs * raw * f).sum() / (probs * raw).sum()
    assert est.item() == pytest.approx(f.mean().item())
    assert torch.equal(s.importance_weights([1, 5], beta=0.0), torch.ones(2))
    clipped = importance_weights(torch.tensor([1e-4, 0.5]), 2, beta=1.0, max_weight=3.0)
    assert clipped.mean().item() == pytest.approx(1.0)
    assert clipped[0] / clipped[1] == pytest.approx(3.0)
    assert anneal_beta(0.0) == 0.4 and anneal_beta(0.5) == pytest.approx(0.7)
    assert anneal_beta(2.0) == 1.0


# -- batch skipping ----------------------------------------------------------------------------


def _run(skipper: BatchSkipper, values) -> list[bool]:
    return [skipper.step(v) for v in values]


def test_skipper_off_by_default():
    s = BatchSkipper()
    assert not any(_run(s, [1.0] * 5 + [100.0, 1e-6, math.nan]))
    assert s.skipped == 0 and s.steps == 8


def test_skipper_hard_easy_and_warmup():
    hard = BatchSkipper(threshold=0.5, skip="hard", warmup_steps=3)
    assert _run(hard, [1.0, 50.0, 1.0]) == [False] * 3  # warmup
    hard = BatchSkipper(threshold=0.5, skip="hard", warmup_steps=2, decay=0.0)
    assert _run(hard, [1.0, 1.0, 1.9, 2.1 * 1.9, math.inf]) == [False, False, False, True, True]
    assert hard.skipped == 2
    easy = BatchSkipper(threshold=0.5, skip="easy", warmup_steps=1, reference="median", window=3)
    # the median ignores the one low batch in the window: 0.45 is still below half of 1.0
    assert _run(easy, [1.0, 1.0, 0.4, 1.0, 0.45]) == [False, False, True, False, True]
    assert easy.skipped == 2 and easy.reference_value() == pytest.approx(0.45)


def test_skipper_recovers_from_level_shift(tmp_path):
    s = BatchSkipper(threshold=0.5, skip="hard", warmup_steps=0, decay=0.9)
    decisions = _run(s, [1.0] * 10 + [3.0] * 40)
    assert decisions[10] and not any(decisions[-20:])  # the reference caught up
    state = s.state_dict()
    t = BatchSkipper(threshold=0.5, warmup_steps=0, decay=0.9)
    torch.save(state, tmp_path / "skip.pt")
    t.load_state_dict(torch.load(tmp_path / "skip.pt", weights_only=True))
    assert t.reference_value() == s.reference_value() and t.skipped == s.skipped


# -- DDP: two gloo processes -------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, out_dir: str) -> None:
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world
    )
    try:
        s = PrioritySampler(11, eta=1.0, seed=4)  # rank / world from the process group
        skipper = BatchSkipper(threshold=0.5, warmup_steps=0, decay=0.0)
        result = {"rank": s.rank, "world": s.world_size, "shares": [], "probs": [], "skip": []}
        for epoch in range(2):
            s.set_epoch(epoch)
            share = list(s)
            result["shares"].append(share)
            # uneven update sizes per rank; MSE a function of the clip (and the epoch)
            mine = share[: 3 + rank]
            s.sync_updates(mine, [float((i * 7) % 5 + 1 + epoch) for i in mine])
            result["probs"].append(s.probabilities())
            # epoch 1: rank 0 alone would not skip (MSE 1), the global batch (MSE 3 > 2 * 1) does
            local = torch.tensor([1.0, 1.0] if rank == 0 or epoch == 0 else [1.0, 9.0])
            result["global_mse"] = global_batch_mse(local)
            result["skip"].append(skipper.should_skip(local))
        torch.save(result, f"{out_dir}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_ddp_disjoint_shares_and_identical_priorities(tmp_path):
    world = 2
    mp.spawn(_ddp_worker, args=(world, _free_port(), str(tmp_path)), nprocs=world, join=True)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(world))
    assert (r0["rank"], r1["rank"], r0["world"]) == (0, 1, 2)
    # replay on one process: the global draws, sliced, are the shares; updates in rank order
    ref = PrioritySampler(11, eta=1.0, seed=4)
    for epoch in range(2):
        ref.set_epoch(epoch)
        draw = ref.draw().tolist()
        padded = draw + draw[:1]  # 11 draws padded to 12
        assert r0["shares"][epoch] == padded[0::2] and r1["shares"][epoch] == padded[1::2]
        for rank, r in enumerate((r0, r1)):
            mine = r["shares"][epoch][: 3 + rank]
            ref.update(mine, [float((i * 7) % 5 + 1 + epoch) for i in mine])
        assert torch.equal(r0["probs"][epoch], r1["probs"][epoch])
        assert torch.equal(r0["probs"][epoch], ref.probabilities())
        if epoch == 0:  # uniform: disjoint shares, apart from the one padding repeat
            a, b = set(r0["shares"][0]), set(r1["shares"][0])
            assert a | b == set(range(11)) and a & b == {draw[0]}
    assert r0["global_mse"] == r1["global_mse"] == pytest.approx(3.0)
    assert r0["skip"] == r1["skip"] == [False, True]

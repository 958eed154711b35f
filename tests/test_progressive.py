"""Progressive transformer: shapes, every option forward+backward, losses, honest cached decoding."""

from __future__ import annotations

import pytest
import torch

from signllm.errors import UsageError
from signllm.models.progressive import (
    PRESETS,
    ProgressiveConfig,
    ProgressiveTransformer,
    add_counter,
    count_parameters,
    preset_config,
)

V, P = 32, 6  # small vocabulary, 2 joints


def tiny(**kw) -> ProgressiveTransformer:
    torch.manual_seed(0)
    return ProgressiveTransformer(preset_config("tiny", vocab_size=V, pose_dim=P, **kw))


def batch(b: int = 3, s: int = 5, t: int = 7, pose_dim: int = P, device: str = "cpu"):
    """Random right-padded tokens and frames with different lengths per sample."""
    g = torch.Generator().manual_seed(1)
    tokens = torch.randint(1, V, (b, s), generator=g)
    tok_len = torch.tensor([s, 2, 3][:b] + [s] * max(0, b - 3))
    token_mask = torch.arange(s)[None] < tok_len[:, None]
    tokens = tokens.masked_fill(~token_mask, 0)
    lengths = torch.tensor([t, 3, 5][:b] + [t] * max(0, b - 3))
    frame_mask = torch.arange(t)[None] < lengths[:, None]
    pose = torch.randn(b, t, pose_dim, generator=g)
    frames = add_counter(pose, frame_mask)
    out = (tokens, token_mask, frames, frame_mask)
    return tuple(x.to(device) for x in out)


# -- config and sizes ----------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "nominal"), [("40m", 40e6), ("120m", 120e6), ("1b", 1e9)])
def test_preset_sizes_near_nominal(name: str, nominal: float) -> None:
    with torch.device("meta"):  # nothing is allocated, even for the 1b
        model = ProgressiveTransformer(preset_config(name, vocab_size=10000, pose_dim=150))
    n = count_parameters(model)
    assert n == model.count_parameters()
    assert abs(n - nominal) / nominal < 0.15, f"{name}: {n:,}"


def test_presets_and_config_roundtrip() -> None:
    assert {"tiny", "pt-base", "40m", "120m", "1b"} <= set(PRESETS)
    pt = preset_config("pt-base")
    assert (pt.n_enc_layers, pt.n_dec_layers, pt.d_model, pt.n_heads, pt.d_ff) == (
        2,
        2,
        512,
        4,
        2048,
    )
    cfg = preset_config("tiny", future_k=3, noise_std=0.2)
    assert ProgressiveConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.n_joints == 50
    with pytest.raises(UsageError, match="unknown ProgressiveConfig"):
        ProgressiveConfig.from_dict({"d_modell": 3})
    with pytest.raises(UsageError, match="preset"):
        preset_config("huge")
    for bad in (dict(pose_dim=100), dict(d_model=64, n_heads=3), dict(future_k=0)):
        with pytest.raises(UsageError):
            ProgressiveConfig(**bad)


def test_golden_numbers() -> None:
    """Fixed seed + tiny + fixed input -> recorded outputs; catches accidental changes."""
    torch.manual_seed(0)
    model = ProgressiveTransformer(preset_config("tiny", vocab_size=V)).eval()
    tokens, token_mask, frames, _ = batch(pose_dim=150)
    with torch.no_grad():
        out = model(tokens, token_mask, frames)
    assert out["pose"].shape == (3, 7, 150)
    got_pose = out["pose"][0, :2, :3].flatten()
    got_counter = out["counter"][:, 1]
    expected_pose = torch.tensor(GOLDEN_POSE)
    expected_counter = torch.tensor(GOLDEN_COUNTER)
    torch.testing.assert_close(got_pose, expected_pose, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(got_counter, expected_counter, atol=1e-5, rtol=1e-4)


GOLDEN_POSE = [-0.03766918, -0.14062686, 0.04237175, 0.02418879, -0.28535455, 0.01174979]
GOLDEN_COUNTER = [0.42642856, 0.49036962, 0.49670476]


# -- teacher forcing -----------------------------------------------------------------------------

OPTIONS = {
    "default": {},
    "future": dict(future_k=3),
    "noise": dict(noise_std=0.1),
    "dropout": dict(dropout=0.1),
    "learned_pos": dict(pos_encoding="learned", max_positions=16),
    "mse_counter": dict(counter_loss="mse"),
    "all": dict(future_k=2, noise_std=0.05, dropout=0.1, pos_encoding="learned"),
}


@pytest.mark.parametrize("opt", OPTIONS)
def test_forward_backward_every_option(opt: str) -> None:
    model = tiny(**OPTIONS[opt]).train()
    tokens, token_mask, frames, frame_mask = batch()
    k = model.config.future_k
    out = model(tokens, token_mask, frames)
    assert out["pose"].shape == ((3, 7, k, P) if k > 1 else (3, 7, P))
    assert out["counter"].shape == out["counter_logits"].shape == (3, 7)
    assert ((out["counter"] >= 0) & (out["counter"] <= 1)).all()
    joint_mask = torch.ones(3, 7, P // 3, dtype=torch.bool)
    joint_mask[0, 2, 1] = False
    losses = model.loss(tokens, token_mask, frames, frame_mask, joint_mask)
    assert losses["per_sample"].shape == losses["per_sample_counter"].shape == (3,)
    assert torch.isfinite(losses["loss"])
    losses["loss"].backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert model.start.grad.abs().sum() > 0  # the learned start frame is trained
    assert model.pose_head.weight.grad.abs().sum() > 0
    assert model.tok_emb.weight.grad.abs().sum() > 0


def test_noise_only_while_training() -> None:
    model = tiny(noise_std=0.5)
    tokens, token_mask, frames, _ = batch()
    model.eval()
    a, b = model(tokens, token_mask, frames)["pose"], model(tokens, token_mask, frames)["pose"]
    assert torch.equal(a, b)
    model.train()
    c = model(tokens, token_mask, frames)["pose"]
    assert not torch.allclose(a, c)


def test_teacher_forcing_is_causal_and_shifted() -> None:
    """Output i depends on frames < i only: changing frame 4 leaves outputs 0..4 unchanged."""
    model = tiny().eval()
    tokens, token_mask, frames, _ = batch()
    a = model(tokens, token_mask, frames)["pose"]
    frames2 = frames.clone()
    frames2[:, 4] += 1.0
    b = model(tokens, token_mask, frames2)["pose"]
    torch.testing.assert_close(a[:, :5], b[:, :5])
    assert not torch.allclose(a[:, 5:], b[:, 5:])


def test_token_padding_is_ignored() -> None:
    model = tiny().eval()
    tokens, token_mask, frames, _ = batch()
    a = model(tokens, token_mask, frames)["pose"]
    other = tokens.masked_fill(~token_mask, 7)  # different ids under the mask
    b = model(other, token_mask, frames)["pose"]
    torch.testing.assert_close(a, b)
    c = model(tokens, None, frames)["pose"]  # mask from pad_id
    torch.testing.assert_close(a, c)
    with pytest.raises(UsageError, match="unmasked token"):
        model(tokens, torch.zeros_like(token_mask), frames)
    with pytest.raises(UsageError, match="frames must be"):
        model(tokens, token_mask, frames[..., :-1])


def test_loss_masks_padding_and_missing_joints() -> None:
    model = tiny().eval()
    tokens, token_mask, frames, frame_mask = batch()
    joint_mask = torch.ones(3, 7, 2, dtype=torch.bool)
    joint_mask[0, 3, 0] = False
    ref = model.loss(tokens, token_mask, frames, frame_mask, joint_mask)
    dirty = frames.clone()
    dirty[~frame_mask] = float("nan")  # padded frames may hold anything
    dirty[0, 3, 0:3] = float("nan")  # so may missing joints
    got = model.loss(tokens, token_mask, dirty, frame_mask, joint_mask)
    for key in ("loss", "per_sample", "per_sample_counter"):
        torch.testing.assert_close(got[key], ref[key])
    got["loss"].backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_per_sample_is_each_samples_mse() -> None:
    model = tiny().eval()
    tokens, token_mask, frames, frame_mask = batch()
    out = model(tokens, token_mask, frames)
    losses = model.compute_loss(out, frames, frame_mask)
    err = (out["pose"] - frames[..., :-1]) ** 2  # (b, t, p)
    for i in range(3):
        n = int(frame_mask[i].sum())
        torch.testing.assert_close(losses["per_sample"][i], err[i, :n].mean())
    torch.testing.assert_close(losses["pose_loss"], err[frame_mask].mean())
    total = losses["pose_loss"] + losses["counter_loss"] + 0.1 * losses["length_loss"]
    torch.testing.assert_close(losses["loss"], total)


def test_future_prediction_targets_next_k_frames() -> None:
    """A prediction equal to frames i..i+k-1 at step i has zero loss; shifted by one, it doesn't."""
    model = tiny(future_k=3).eval()
    tokens, token_mask, frames, frame_mask = batch()
    out = model(tokens, token_mask, frames)
    pose = frames[..., :-1]
    padded = torch.cat([pose, torch.full((3, 2, P), 99.0)], 1)  # past the end: never scored
    exact = torch.stack([padded[:, j : j + 7] for j in range(3)], 2)  # (b, t, k, p)
    good = model.compute_loss({**out, "pose": exact}, frames, frame_mask)
    assert good["pose_loss"] < 1e-12
    shifted = torch.stack(
        [padded[:, j + 1 : j + 8] if j < 1 else exact[:, :, j] for j in range(3)], 2
    )
    bad = model.compute_loss({**out, "pose": shifted}, frames, frame_mask)
    assert bad["pose_loss"] > 0.1


def test_counter_loss_zero_at_perfect_fit() -> None:
    model = tiny().eval()
    tokens, token_mask, frames, frame_mask = batch()
    c = frames[..., -1].clamp(1e-6, 1 - 1e-6)
    out = model(tokens, token_mask, frames)
    perfect = {**out, "pose": frames[..., :-1], "counter_logits": torch.logit(c)}
    losses = model.compute_loss(perfect, frames, frame_mask)
    assert losses["counter_loss"].abs() < 1e-4 and losses["pose_loss"] == 0


def test_add_counter() -> None:
    mask = torch.tensor([[True, True, True, True], [True, True, False, False]])
    frames = add_counter(torch.zeros(2, 4, 3), mask)
    expected = torch.tensor([[0.25, 0.5, 0.75, 1.0], [0.5, 1.0, 0.0, 0.0]])
    torch.testing.assert_close(frames[..., -1], expected)


# -- honest decoding -----------------------------------------------------------------------------


@pytest.mark.parametrize("opt", ["default", "future", "learned_pos"])
def test_cache_matches_recompute(opt: str) -> None:
    model = tiny(**OPTIONS[opt])
    tokens, token_mask, _, _ = batch()
    a = model.generate(tokens, token_mask, max_frames=12, use_cache=True)
    b = model.generate(tokens, token_mask, max_frames=12, use_cache=False)
    torch.testing.assert_close(a["pose"], b["pose"], atol=1e-5, rtol=0)
    torch.testing.assert_close(a["counter"], b["counter"], atol=1e-5, rtol=0)
    assert torch.equal(a["lengths"], b["lengths"])


def test_cache_feeds_one_frame_per_step() -> None:
    """With the cache each decoder call sees one new frame: step cost does not grow with t."""
    model = tiny()
    seen: list[tuple[int, ...]] = []
    hook = model.frame_in.register_forward_hook(lambda m, i, o: seen.append(tuple(i[0].shape)))
    tokens, token_mask, _, _ = batch()
    model.generate(tokens, token_mask, max_frames=10, threshold=2.0)
    hook.remove()
    assert seen == [(3, 1, P + 1)] * 10


def test_generate_never_exceeds_max_frames() -> None:
    model = tiny().train()
    tokens, token_mask, _, _ = batch()
    out = model.generate(tokens, token_mask, max_frames=8)  # untrained: counter ~0.5, no stop
    assert out["lengths"].tolist() == [8, 8, 8]
    assert out["pose"].shape == (3, 8, P) and out["mask"].all()
    assert model.training  # mode restored
    with torch.no_grad():
        model.counter_head.bias.fill_(30.0)  # counter ~1 at once: every sequence stops at 1
    out = model.generate(tokens, token_mask, max_frames=8)
    assert out["lengths"].tolist() == [1, 1, 1] and out["pose"].shape == (3, 1, P)
    with pytest.raises(UsageError):
        model.generate(tokens, token_mask, max_frames=0)


def _toy_data():
    """Two sentences whose clips last 5 and 9 frames (smooth, distinct trajectories)."""
    tokens = torch.tensor([[1, 2, 3], [4, 5, 0]])
    lengths = torch.tensor([5, 9])
    frame_mask = torch.arange(9)[None] < lengths[:, None]
    t = torch.arange(1, 10).float()[None, :, None]  # (1, t, 1)
    phase = torch.tensor([0.0, 1.5])[:, None, None] + torch.arange(P)[None, None]
    pose = torch.sin(0.6 * t + phase) * frame_mask[..., None]  # (b, t, p)
    return tokens, tokens != 0, add_counter(pose, frame_mask), frame_mask


@pytest.fixture(scope="module")
def trained() -> ProgressiveTransformer:
    torch.manual_seed(0)
    model = ProgressiveTransformer(preset_config("tiny", vocab_size=V, pose_dim=P, noise_std=0.01))
    tokens, token_mask, frames, frame_mask = _toy_data()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(250):
        loss = model.loss(tokens, token_mask, frames, frame_mask)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


def test_trained_model_stops_at_its_own_lengths(trained: ProgressiveTransformer) -> None:
    """Batched decoding: each sequence stops when its own predicted counter reaches the end."""
    tokens, token_mask, frames, frame_mask = _toy_data()
    for use_cache in (True, False):
        out = trained.generate(tokens, token_mask, max_frames=20, use_cache=use_cache)
        assert out["lengths"].tolist() == [5, 9]
        assert out["mask"].tolist() == frame_mask.tolist()
        assert out["pose"][0, 5:].abs().sum() == 0  # nothing after the end
        err = (out["pose"] - frames[..., :-1])[frame_mask].abs().max()
        assert err < 0.25  # it reproduces the clips from its own predictions
    # order in the batch does not matter
    flipped = trained.generate(tokens.flip(0), token_mask.flip(0), max_frames=20)
    assert flipped["lengths"].tolist() == [9, 5]
    # a tighter cap wins over the counter
    capped = trained.generate(tokens, token_mask, max_frames=6)
    assert capped["lengths"].tolist() == [5, 6]


# -- GPU -----------------------------------------------------------------------------------------

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.mark.gpu
@cuda
@pytest.mark.parametrize("opt", ["default", "all"])
def test_gpu_forward_backward(opt: str) -> None:
    model = tiny(**OPTIONS[opt]).cuda().train()
    tokens, token_mask, frames, frame_mask = batch(device="cuda")
    model.loss(tokens, token_mask, frames, frame_mask)["loss"].backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.gpu
@cuda
def test_gpu_cache_matches_recompute() -> None:
    model = tiny().cuda()
    tokens, token_mask, _, _ = batch(device="cuda")
    a = model.generate(tokens, token_mask, max_frames=12, use_cache=True)
    b = model.generate(tokens, token_mask, max_frames=12, use_cache=False)
    torch.testing.assert_close(a["pose"], b["pose"], atol=1e-4, rtol=0)
    assert a["lengths"].device.type == "cuda"

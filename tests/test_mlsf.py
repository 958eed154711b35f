"""MLSF: one group per language; adding or training a group never moves another."""

from __future__ import annotations

import pytest
import torch

from signllm.errors import UsageError
from signllm.models import MLSF, ProgressiveConfig, add_counter, preset_config
from signllm.models.mlsf import split_language_state_dict

V, P = 32, 6


def cfg(**kw) -> ProgressiveConfig:
    return preset_config("tiny", **{"vocab_size": V, "pose_dim": P, **kw})


def make(langs=("ase", "gsg")) -> MLSF:
    torch.manual_seed(0)
    return MLSF(cfg(), langs)


def batch(b: int = 4, s: int = 4, t: int = 6, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(1, V, (b, s), generator=g)
    frame_mask = torch.arange(t)[None] < torch.randint(2, t + 1, (b,), generator=g)[:, None]
    frames = add_counter(torch.randn(b, t, P, generator=g), frame_mask)
    return tokens, tokens != 0, frames, frame_mask


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def train_steps(model: MLSF, lang, steps: int = 3) -> None:
    # AdamW with weight decay over *all* parameters: groups without gradients must still not move
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    for i in range(steps):
        loss = model.loss(lang, *batch(seed=i))["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_add_language_and_train_leaves_others_bit_identical() -> None:
    model = make()
    before = {c: snapshot(model.group(c)) for c in ("ase", "gsg")}
    model.add_language("sgg")
    assert model.languages == ["ase", "gsg", "sgg"]
    for c in ("ase", "gsg"):
        assert_same(snapshot(model.group(c)), before[c])  # adding touches nothing
    new_before = snapshot(model.group("sgg"))
    train_steps(model, "sgg")
    for c in ("ase", "gsg"):
        assert_same(snapshot(model.group(c)), before[c])
    changed = snapshot(model.group("sgg"))
    assert any(not torch.equal(changed[k], new_before[k]) for k in changed)


def test_training_gsg_only_leaves_ase_untouched() -> None:
    model = make()
    model.freeze(except_=["gsg"])
    assert model.trainable_languages == ["gsg"]
    ase, gsg = snapshot(model.group("ase")), snapshot(model.group("gsg"))
    train_steps(model, ["ase", "gsg", "gsg", "ase"])  # mixed batches: ase is in the loss
    assert_same(snapshot(model.group("ase")), ase)
    now = snapshot(model.group("gsg"))
    assert any(not torch.equal(now[k], gsg[k]) for k in now)
    model.unfreeze()
    assert model.trainable_languages == ["ase", "gsg"]
    model.freeze()
    assert model.trainable_languages == []
    with pytest.raises(UsageError, match="no model group"):
        model.freeze(except_=["xyz"])


def test_state_dict_keys_per_language_roundtrip() -> None:
    model = make()
    sd = model.state_dict()
    assert all(k.startswith(("groups.ase.", "groups.gsg.")) for k in sd)
    assert "groups.ase.tok_emb.weight" in sd
    parts = split_language_state_dict(sd)
    assert set(parts) == {"ase", "gsg"}
    assert_same(parts["ase"], model.language_state_dict("ase"))

    # a fresh model loads only "gsg" from its subset and behaves identically for it
    torch.manual_seed(5)
    other = MLSF(cfg(), ["ase"])
    ase_before = snapshot(other.group("ase"))
    other.load_language_state_dict(
        "gsg", parts["gsg"], ProgressiveConfig.from_dict(model.configs["gsg"])
    )
    assert other.languages == ["ase", "gsg"]
    assert_same(snapshot(other.group("ase")), ase_before)
    tokens, token_mask, frames, _ = batch()
    model.eval(), other.eval()
    torch.testing.assert_close(
        model("gsg", tokens, token_mask, frames)["pose"],
        other("gsg", tokens, token_mask, frames)["pose"],
    )
    with pytest.raises(UsageError, match="prefix"):
        split_language_state_dict({"tok_emb.weight": torch.zeros(1)})


def test_mixed_batch_matches_per_language_calls() -> None:
    model = make().eval()
    tokens, token_mask, frames, frame_mask = batch()
    langs = ["gsg", "ase", "gsg", "ase"]
    mixed = model(langs, tokens, token_mask, frames)
    for i, code in enumerate(langs):
        alone = model(code, tokens[i : i + 1], token_mask[i : i + 1], frames[i : i + 1])
        torch.testing.assert_close(mixed["pose"][i : i + 1], alone["pose"])
    losses = model.loss(langs, tokens, token_mask, frames, frame_mask)
    for code in ("ase", "gsg"):
        ix = [i for i, c in enumerate(langs) if c == code]
        own = model.loss(code, tokens[ix], token_mask[ix], frames[ix], frame_mask[ix])
        torch.testing.assert_close(losses["per_sample"][ix], own["per_sample"])
    # the mixed loss weighs every valid value equally, as one group's loss would
    n = losses["pose_count"]
    torch.testing.assert_close(losses["pose_loss"], (losses["per_sample"] * n).sum() / n.sum())
    gen = model.generate(langs, tokens, token_mask, max_frames=5)
    assert gen["pose"].shape == (4, 5, P) and gen["lengths"].tolist() == [5, 5, 5, 5]
    one = model.generate(["ase"] * 4, tokens, token_mask, max_frames=5)  # one code in a list
    torch.testing.assert_close(
        one["pose"], model.generate("ase", tokens, token_mask, max_frames=5)["pose"]
    )


def test_per_language_configs_and_errors() -> None:
    model = MLSF(cfg(), ["ase"], configs={"tsm": cfg(vocab_size=50, future_k=2)})
    assert model.languages == ["ase", "tsm"]
    assert model.group("tsm").config.vocab_size == 50
    assert model.group("ase").config.future_k == 1
    with pytest.raises(UsageError, match="already"):
        model.add_language("ase")
    with pytest.raises(UsageError, match="language code"):
        model.add_language("a.b")
    with pytest.raises(UsageError, match="no model group"):
        model.generate("gsg", torch.ones(1, 2, dtype=torch.long))
    with pytest.raises(UsageError, match="languages for a batch"):
        model.generate(["ase"], torch.ones(2, 2, dtype=torch.long))
    model.remove_language("tsm")
    assert model.languages == ["ase"]

"""Back-translation model: shapes, every option forward+backward, decoding, masks, the
ground-truth-only rule, input normalisation, and an overfit run on the real PHOENIX clips."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
import torch

from signllm.data.formats.skels import read_skels
from signllm.errors import DataError, UsageError
from signllm.metrics.text import text_scores
from signllm.models.backtranslation import (
    BT_PRESETS,
    BackTranslationConfig,
    BackTranslationModel,
    back_translate,
    bt_config,
    collate_inputs,
    is_generated,
    pose_to_input,
    train_backtranslation,
)
from signllm.pose import Pose
from signllm.text.tokenizers import SubwordTokenizer, WordVocab

V, J = 24, 4  # small vocabulary, 4 joints


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def phoenix(samples) -> dict[str, list[Pose]]:
    d = samples / "phoenix14t"
    return {s: read_skels(d / f"{s}.skels") for s in ("train", "dev")}


def tiny(**kw) -> BackTranslationModel:
    torch.manual_seed(0)
    return BackTranslationModel(bt_config("tiny", vocab_size=V, n_joints=J, **kw))


def batch(b: int = 3, t: int = 9, s: int = 5):
    """Random right-padded frames (lengths t, 4, 6) and tokens (lengths s, 2, 3), ids >= 4."""
    g = torch.Generator().manual_seed(1)
    frames = torch.randn(b, t, J * 3, generator=g)
    frame_mask = torch.arange(t)[None] < torch.tensor([t, 4, 6][:b])[:, None]
    joint_mask = torch.rand(b, t, J, generator=g) > 0.2
    tokens = torch.randint(4, V, (b, s), generator=g)
    tokens = tokens.masked_fill(torch.arange(s)[None] >= torch.tensor([s, 2, 3][:b])[:, None], 0)
    return frames, frame_mask, joint_mask, tokens


# -- config --------------------------------------------------------------------------------------


def test_presets_and_config_roundtrip() -> None:
    base = bt_config("base", vocab_size=500)
    assert (base.n_enc_layers, base.n_dec_layers, base.d_model, base.n_heads) == (3, 3, 256, 8)
    assert base.dropout == 0.1 and {"tiny", "base"} <= set(BT_PRESETS)
    assert BackTranslationConfig.from_dict(base.to_dict()) == base
    assert base.input_dim == 200  # 50 joints x xyz + the per-joint mask channel
    with pytest.raises(UsageError, match="unknown BackTranslationConfig fields: nope"):
        BackTranslationConfig.from_dict({**base.to_dict(), "nope": 1})
    with pytest.raises(UsageError, match="unknown BT preset"):
        bt_config("huge")
    with pytest.raises(UsageError, match="even-sized heads"):
        BackTranslationConfig(d_model=30, n_heads=4)
    with torch.device("meta"):
        n = BackTranslationModel(bt_config("base", vocab_size=3000)).count_parameters()
    assert 5e6 < n < 9e6


# -- forward / backward --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"downsample": 2},
        {"joint_mask_channel": False, "label_smoothing": 0.0},
        {"dropout": 0.1},
    ],
)
def test_forward_backward(kw) -> None:
    model = tiny(**kw)
    frames, fmask, jmask, tokens = batch()
    out = model(frames, fmask, tokens, jmask)
    assert out["logits"].shape == (3, 6, V)  # [y, eos]
    assert out["target"][1].tolist() == [*tokens[1, :2].tolist(), 3, 0, 0, 0]
    t_mem = 9 if not kw.get("downsample") else 3  # 9 -> 5 -> 3
    assert out["memory"].shape == (3, t_mem, 64) and out["memory_mask"].shape == (3, t_mem)
    assert out["memory_mask"].sum(1).tolist() == ([9, 4, 6] if t_mem == 9 else [3, 1, 2])
    losses = model.loss(frames, fmask, tokens, jmask)
    assert losses["n_tokens"] == 5 + 2 + 3 + 3  # every sentence + its eos
    losses["loss"].backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_ctc_gloss_head() -> None:
    model = tiny(gloss_vocab_size=10, downsample=1)
    frames, fmask, jmask, tokens = batch()
    glosses = torch.tensor([[4, 5, 6], [7, 0, 0], [8, 9, 0]])
    losses = model.loss(frames, fmask, tokens, jmask, glosses=glosses)
    assert set(losses) >= {"ctc_loss", "ce_loss"} and torch.isfinite(losses["ctc_loss"])
    losses["loss"].backward()
    assert model.gloss_head.weight.grad is not None
    rec = model.recognize_glosses(frames, fmask, jmask)
    assert len(rec) == 3 and all(0 not in r for r in rec)
    with pytest.raises(UsageError, match="pass glosses"):
        model.loss(frames, fmask, tokens, jmask)
    with pytest.raises(UsageError, match="no gloss head"):
        tiny().loss(frames, fmask, tokens, glosses=glosses)


def test_masked_frames_and_joints_do_not_matter() -> None:
    model = tiny(downsample=1).eval()
    frames, fmask, jmask, tokens = batch()
    ref = model(frames, fmask, tokens, jmask)["logits"]
    noisy = frames.clone()
    noisy[~fmask] = 1e3  # padding
    noisy[~jmask.repeat_interleave(3, -1)] = float("nan")  # missing joints may even be NaN
    out = model(noisy, fmask, tokens, jmask)["logits"]
    torch.testing.assert_close(out, ref)
    # a clip alone gives what it gives inside a padded batch
    alone = model(frames[1:2, :4], None, tokens[1:2, :2], jmask[1:2, :4])["logits"]
    torch.testing.assert_close(alone, ref[1:2, :3], atol=1e-5, rtol=1e-5)


def test_bad_tokens_and_shapes_are_refused() -> None:
    model = tiny()
    frames, fmask, _, tokens = batch()
    with pytest.raises(UsageError, match="without <bos>/<eos>"):
        model.loss(frames, fmask, torch.cat([torch.full((3, 1), 2), tokens], 1))
    bad = tokens.clone()
    bad[0, 1] = 0
    with pytest.raises(UsageError, match="right-padded"):
        model.loss(frames, fmask, bad)
    with pytest.raises(UsageError, match=r"frames must be \(batch, time, 12\)"):
        model.loss(frames[..., :9], fmask, tokens)
    with pytest.raises(UsageError, match="at least one unmasked frame"):
        model.loss(frames, torch.zeros_like(fmask), tokens)


# -- decoding ------------------------------------------------------------------------------------


def test_greedy_and_beam_shapes_cache_and_beam1() -> None:
    model = tiny()
    frames, fmask, jmask, _ = batch()
    greedy = model.translate(frames, fmask, max_len=7, joint_mask=jmask)
    assert len(greedy) == 3 and all(len(x) <= 7 for x in greedy)
    assert all(0 <= i < V and i not in (0, 2, 3) for x in greedy for i in x)
    assert model.greedy(frames, fmask, 7, jmask, use_cache=False) == greedy
    # beam search with one beam is greedy decoding, with and without the cache
    assert model.beam_search(frames, fmask, beam=1, max_len=7, joint_mask=jmask) == greedy
    assert model.beam_search(frames, fmask, 1, 7, joint_mask=jmask, use_cache=False) == greedy
    beam = model.translate(frames, fmask, max_len=7, beam=3, joint_mask=jmask)
    assert len(beam) == 3 and all(len(x) <= 7 for x in beam)
    assert model.beam_search(frames, fmask, 3, 7, joint_mask=jmask, use_cache=False) == beam
    assert model.training  # decoding restores the mode
    with pytest.raises(UsageError, match="beam must be >= 1"):
        model.beam_search(frames, fmask, beam=0)


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_wide_beam_finds_the_exact_best_sentence(alpha: float) -> None:
    """Vocabulary {unk, eos, 4, 5}, at most 2 words: a beam wider than the search space returns
    the brute-force optimum of log p / ((5 + L) / 6) ** alpha."""
    torch.manual_seed(0)
    model = (
        BackTranslationModel(bt_config("tiny", vocab_size=6, n_joints=J))
        .eval()
        .requires_grad_(False)
    )
    model.head.weight.mul_(5.0)  # a peaked distribution, not the near-uniform one of the init
    model.head.bias[3] = -6.0  # <eos> less likely, so the optimum has words (2 of them if alpha=1)
    frames, fmask, jmask, _ = batch(b=2)
    words = [1, 4, 5]
    best: list[list[int]] = []
    for i in range(2):
        f, m, jm = (
            frames[i : i + 1, : int(fmask[i].sum())],
            None,
            jmask[i : i + 1, : int(fmask[i].sum())],
        )
        scored = []
        for n in range(3):
            for seq in itertools.product(words, repeat=n):
                dec_in = torch.tensor([[2, *seq]])  # bos + words; targets: words + eos
                memory, mmask = model.encode(f, m, jm)
                logits = model.decode(dec_in, model.memory_kv(memory), mmask)
                logp = model.next_token_logprobs(logits[0])
                total = float(logp[torch.arange(n + 1), torch.tensor([*seq, 3])].sum())
                scored.append((total / ((5 + n + 1) / 6) ** alpha, list(seq)))
        best.append(max(scored)[1])
    got = model.beam_search(
        frames, fmask, beam=40, max_len=3, length_penalty=alpha, joint_mask=jmask
    )
    assert all(best) and got == best, (got, best)


# -- input normalisation -------------------------------------------------------------------------


def test_pose_to_input_is_unit_and_position_invariant(phoenix) -> None:
    p = phoenix["train"][0]
    x, m = pose_to_input(p)
    assert x.shape == (p.num_frames, 150) and x.dtype == torch.float32
    assert m.shape == (p.num_frames, 50) and bool(m.all())
    xyz = x.view(-1, 50, 3)
    assert float(xyz[:, 1].abs().max()) == 0.0  # centred on the neck
    width = (xyz[:, 2] - xyz[:, 5]).norm(dim=-1).median()
    assert float(width) == pytest.approx(1.0, abs=1e-3)  # in shoulder widths (median)
    # the same clip in pixels, somewhere else in the image
    pixels = dataclasses.replace(p, data=p.data * 512.0 + np.array([640.0, 360.0, 0.0]))
    x2, m2 = pose_to_input(pixels)
    torch.testing.assert_close(x2, x, atol=1e-5, rtol=1e-4)
    assert torch.equal(m2, m)


def test_pose_to_input_missing_joints() -> None:
    data = np.random.default_rng(0).normal(size=(5, 50, 3)).astype(np.float32)
    conf = np.ones((5, 50), np.float32)
    conf[2, 10:20] = 0  # a hand half lost in frame 2
    conf[3, 1] = 0  # no neck in frame 3: centred on the clip's mean neck
    x, m = pose_to_input(Pose(data, conf, 25.0))
    assert not bool(m[2, 10:20].any()) and float(x.view(5, 50, 3)[2, 10:20].abs().max()) == 0.0
    assert bool(torch.isfinite(x).all())
    conf[:, 5] = 0  # never a left shoulder: no unit to measure in
    with pytest.raises(DataError, match="neck and both shoulders"):
        pose_to_input(Pose(data, conf, 25.0))


def test_collate_inputs() -> None:
    a = (torch.ones(3, 150), torch.ones(3, 50, dtype=torch.bool))
    b = (torch.ones(5, 150), torch.ones(5, 50, dtype=torch.bool))
    frames, fmask, jmask = collate_inputs([a, b])
    assert frames.shape == (2, 5, 150) and fmask.sum(1).tolist() == [3, 5]
    assert jmask.shape == (2, 5, 50) and float(frames[0, 3:].abs().sum()) == 0.0


# -- training on ground truth --------------------------------------------------------------------


def test_generated_poses_are_refused(phoenix) -> None:
    train = phoenix["train"]
    vocab = WordVocab.build(p.meta.text for p in train)
    cfg = bt_config("tiny", vocab_size=vocab.vocab_size)
    fake = train[0].copy()
    fake.meta.extra["generated"] = True
    assert is_generated(fake) and not is_generated(train[0])
    with pytest.raises(DataError, match=r"generated.*ground-truth poses only"):
        train_backtranslation([*train[1:], fake], None, vocab, cfg, steps=1)
    with pytest.raises(DataError, match="dev pose"):
        train_backtranslation(train, [fake], vocab, cfg, steps=1)
    with pytest.raises(UsageError, match="vocab_size"):
        train_backtranslation(train, None, vocab, dataclasses.replace(cfg, vocab_size=99), 1)


def test_overfits_phoenix_train_clips(phoenix) -> None:
    """The tiny model memorises the 5 real training sentences from their ground-truth poses."""
    train = phoenix["train"]
    refs = [p.meta.text for p in train]
    vocab = WordVocab.build(refs)
    cfg = bt_config("tiny", vocab_size=vocab.vocab_size, downsample=1)
    model, history = train_backtranslation(
        train,
        phoenix["dev"][:2],
        vocab,
        cfg,
        steps=100,
        batch_size=5,
        lr=3e-3,
        seed=0,
        device="cpu",
        dev_metric=text_scores,
        log_every=25,
    )
    losses = [h["loss"] for h in history if "loss" in h]
    assert len(losses) == 4 and losses[-1] < losses[0]
    dev = [h for h in history if "dev_loss" in h]
    assert len(dev) == 1 and {"dev_bleu4", "dev_rouge_l", "dev_examples"} <= set(dev[0])
    assert not model.training
    hyps = back_translate(model, train, vocab, max_len=40)
    exact = sum(h == r for h, r in zip(hyps, refs, strict=True))
    scores = text_scores(hyps, refs)
    assert exact >= 4 and scores["bleu4"] > 50, (hyps, scores)
    # beam search reads the same memorised sentences
    assert back_translate(model, train, vocab, beam=3, max_len=40) == hyps


def test_subword_tokenizer_trains(phoenix) -> None:
    train = phoenix["train"]
    sp = SubwordTokenizer.train([p.meta.text for p in train], vocab_size=60)
    cfg = bt_config("tiny", vocab_size=sp.vocab_size)
    model, history = train_backtranslation(train, None, sp, cfg, steps=3, batch_size=2)
    assert len(history) == 1 and np.isfinite(history[0]["loss"])
    assert all(isinstance(h, str) for h in back_translate(model, train[:2], sp, max_len=5))

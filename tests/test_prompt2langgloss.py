"""Prompt2LangGloss: prompt -> language-tagged gloss (learned or parsed) -> one shared pose model."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest
import torch

from signllm.data.prompts import default_templates
from signllm.errors import DataError, UsageError
from signllm.languages import get_language
from signllm.models.prompt2langgloss import (
    LangRecord,
    PromptToLangGloss,
    SharedPoseModel,
    TextSeq2Seq,
    TextSeq2SeqConfig,
    build_prompt_pairs,
    canonical_prompt,
    format_langgloss,
    gloss_languages,
    parse_langgloss,
    prompt_to_pose,
    prompts_to_poses,
    text_words,
)

TINY = dict(d_model=64, n_heads=2, n_enc_layers=2, n_dec_layers=2, d_ff=128, dropout=0.0)


pytestmark = pytest.mark.usefixtures("one_thread")


def real_records(samples: Path) -> list[LangRecord]:
    """PHOENIX train+dev (German text + DGS gloss) and the How2Sign sentences (English, no gloss)."""
    records = []
    for split in ("train", "dev"):
        texts = (samples / "phoenix14t" / f"{split}.text").read_text("utf-8").splitlines()
        glosses = (samples / "phoenix14t" / f"{split}.gloss").read_text("utf-8").splitlines()
        records += [LangRecord(t, g, "gsg") for t, g in zip(texts, glosses, strict=True)]
    with open(samples / "how2sign" / "clips.tsv", encoding="utf-8") as f:
        sentences = dict.fromkeys(row["text"] for row in csv.DictReader(f, delimiter="\t"))
    records += [LangRecord(t, None, "ASL") for t in sentences]
    return records


@pytest.fixture(scope="module")
def trained(samples: Path):
    """The tiny text model trained on the real records; (model, pairs, records, seconds)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        records = real_records(samples)
        pairs = build_prompt_pairs(records, seed=0, n_templates_per_record=2)
        torch.manual_seed(0)
        model = PromptToLangGloss.from_pairs(
            pairs, gloss_languages=gloss_languages(records), prompt_vocab_size=300, **TINY
        )
        t0 = time.perf_counter()
        losses = model.fit(pairs, steps=200, batch_size=16, lr=5e-3, seed=0)
        seconds = time.perf_counter() - t0
    finally:
        torch.set_num_threads(n)
    assert losses[-1] < 0.1 < losses[0]
    return model, pairs, records, seconds


# -- (a) the text model ------------------------------------------------------------------------


def test_text_seq2seq_forward_backward_and_cached_generation() -> None:
    torch.manual_seed(0)
    cfg = TextSeq2SeqConfig(40, 30, **TINY)
    model = TextSeq2Seq(cfg)
    src = torch.randint(4, 40, (3, 7))
    src[0, 5:] = 0  # right padding
    tgt = torch.randint(4, 30, (3, 5))
    tgt[:, -1] = cfg.eos_id
    logits = model(src, tgt)
    assert logits.shape == (3, 5, 30)
    out = model.loss(src, tgt)
    out["loss"].backward()
    assert torch.isfinite(out["loss"])
    assert all(p.grad is not None for p in model.parameters())
    # padding the source further changes nothing; cache and recompute decode identically
    padded = torch.cat([src, torch.zeros(3, 4, dtype=torch.long)], 1)
    ids, lengths = model.generate(src, max_len=6)
    assert ids.shape[0] == 3 and int(lengths.max()) <= 6 and ids.shape[1] == int(lengths.max())
    ids2, lengths2 = model.generate(padded, max_len=6, use_cache=False)
    assert torch.equal(ids, ids2) and torch.equal(lengths, lengths2)
    forced, _ = model.generate(src, max_len=3, forced_first=torch.tensor([7, -1, 9]))
    assert forced[0, 0] == 7 and forced[2, 0] == 9 and forced[1, 0] == ids[1, 0]
    with pytest.raises(UsageError):
        TextSeq2SeqConfig(40, 30, d_model=30, n_heads=4)


# -- pairs and LangGloss strings ---------------------------------------------------------------


def test_build_prompt_pairs_targets_names_and_seeding(samples: Path) -> None:
    records = real_records(samples)
    pairs = build_prompt_pairs(records, seed=3, n_templates_per_record=2)
    # a record's pairs depend on the seed and the record only, not on the order
    assert set(pairs) == set(build_prompt_pairs(records[::-1], seed=3, n_templates_per_record=2))
    assert set(pairs) != set(build_prompt_pairs(records, seed=4, n_templates_per_record=2))
    phoenix, how2sign = records[0], records[-1]
    g_target = format_langgloss("gsg", phoenix.gloss.split())
    assert g_target.startswith("<gsg> JETZT <gsg> WETTER")
    g_prompts = [p for p, t in pairs if t == g_target]
    # every name of DGS appears, the canonical form too, and templates without a language slot
    # carry the marker
    for name in get_language("gsg").surface_names():
        assert any(name in p for p in g_prompts), name
    assert canonical_prompt(phoenix.text, "gsg") in g_prompts
    # a language without glosses signs its text's words
    a_code, a_words = parse_langgloss(next(t for p, t in pairs if how2sign.text in p))
    assert a_code == "ase" and a_words == text_words(how2sign.text)
    assert a_words[:3] == ["so", "what", "is"] and "there" in a_words
    assert gloss_languages(records) == ("gsg",)
    assert parse_langgloss("<gsg> A B") == ("gsg", ["A", "B"])
    with pytest.raises(DataError):
        parse_langgloss("<gsg> A <ase> B")
    with pytest.raises(UsageError):
        build_prompt_pairs([("text", None, "no such language")], seed=0)


# -- (b) the learned model on real sentences ---------------------------------------------------


def test_learned_model_reproduces_training_langgloss(trained) -> None:
    model, pairs, records, seconds = trained
    print(f"\ntext model: {len(pairs)} pairs, 200 steps in {seconds:.1f} s")
    out = model.translate([p for p, _ in pairs], mode="learned")
    exact = sum(got == parse_langgloss(t) for got, (_, t) in zip(out, pairs, strict=True))
    assert exact >= 0.9 * len(pairs), f"{exact}/{len(pairs)}"
    # the language tag for prompts naming DGS by alias, name or code, in either prompt language
    dgs = [r for r in records if r.language == "gsg"]
    prompts = []
    for r in dgs:
        for name in ("DGS", "German Sign Language", "gsg"):
            prompts.append(f"How would you sign '{r.text}' in {name}?")
        prompts.append(f"Übersetze „{r.text}“ in die DGS.")
    langs = [code for code, _ in model.translate(prompts, mode="learned")]
    assert langs == ["gsg"] * len(prompts)
    # parse mode: the model only translates the canonical "<gsg> text", trained alongside
    parsed = model.translate([f"Sign '{r.text}' in DGS." for r in dgs], mode="parse")
    assert parsed == [("gsg", r.gloss.split()) for r in dgs]


# -- (c) the same word in two languages --------------------------------------------------------


def test_same_word_in_two_languages_gets_two_ids() -> None:
    records = [
        LangRecord("guten morgen", "GUTEN MORGEN", "gsg"),
        LangRecord("guten morgen", "GUTEN MORGEN", "DSGS"),
    ]
    pairs = build_prompt_pairs(records, seed=0, n_templates_per_record=1)
    model = PromptToLangGloss.from_pairs(
        pairs, gloss_languages=gloss_languages(records), prompt_vocab_size=200, **TINY
    )
    vocab = model.target_vocab
    assert vocab.languages == ("gsg", "sgg")
    assert vocab.token_to_id("gsg:MORGEN") != vocab.token_to_id("sgg:MORGEN")
    tgt = model.encode_targets(["<gsg> GUTEN <gsg> MORGEN", "<sgg> GUTEN <sgg> MORGEN"])
    assert not set(tgt[0, 1:3].tolist()) & set(tgt[1, 1:3].tolist())
    pose = SharedPoseModel.from_vocab(vocab, pose_dim=6)
    ids, _ = pose.encode([("gsg", ["MORGEN"]), ("sgg", ["MORGEN"])])
    assert ids[0, 1] != ids[1, 1] and ids[0, 0] != ids[1, 0]  # words and markers differ
    emb = pose.model.tok_emb(ids[:, 1])
    assert not torch.equal(emb[0], emb[1])


# -- (d) prompt -> pose end to end -------------------------------------------------------------


def small_model(samples: Path, **kw) -> PromptToLangGloss:
    records = real_records(samples)
    pairs = build_prompt_pairs(records, seed=0, n_templates_per_record=1)
    torch.manual_seed(0)
    return PromptToLangGloss.from_pairs(
        pairs, gloss_languages=gloss_languages(records), prompt_vocab_size=300, **TINY, **kw
    )


def test_prompt_to_pose_end_to_end(samples: Path) -> None:
    text_model = small_model(samples, max_len=12)
    torch.manual_seed(0)
    pose = SharedPoseModel.from_vocab(text_model.target_vocab, "tiny", pose_dim=150)
    lang, words, frames = prompt_to_pose(
        "How would you sign 'the duck fat is hot' in ASL?", text_model, pose, max_frames=9
    )
    assert (lang, words) == ("ase", ["the", "duck", "fat", "is", "hot"])
    assert frames.shape[1:] == (50, 3) and 1 <= frames.shape[0] <= 9
    assert torch.isfinite(frames).all()
    # batched, through the (untrained) learned model and the parse path of a gloss language
    out = prompts_to_poses(
        ["Wie gebärdet man „guten morgen“ in DGS?", "what does this mean?"],
        text_model,
        pose,
        language="gsg",
        max_frames=5,
    )
    assert [lang for lang, _, _ in out] == ["gsg", "gsg"]
    assert all(f.shape[1:] == (50, 3) and 1 <= f.shape[0] <= 5 for _, _, f in out)
    assert all(len(w) <= 12 for _, w, _ in out)
    with pytest.raises(UsageError, match="no training data"):
        prompt_to_pose("Sign 'hello' in Korean Sign Language.", text_model, pose)


# -- (e) parse mode on every template ----------------------------------------------------------


def test_parse_mode_on_every_template(samples: Path) -> None:
    model = small_model(samples)
    text = "the duck fat is very hot"
    names = get_language("ase").surface_names()
    prompts = []
    for i, t in enumerate(default_templates()):
        prompts.append(t.fill(text, names[i % len(names)]) if t.has_language else t.fill(text))
    # templates without a language slot need language=; the others name ASL themselves
    out = model.translate(prompts, language="ASL", mode="parse")
    assert out == [("ase", text_words(text))] * len(prompts)
    assert all(model.route(p, language="ase")[0] == "parse" for p in prompts)
    # a gloss language: the language comes from the parser, the gloss from the model
    g_names = get_language("gsg").surface_names()
    g_prompts = [
        t.fill("guten morgen", g_names[i % len(g_names)])
        for i, t in enumerate(default_templates())
        if t.has_language
    ]
    assert [c for c, _ in model.translate(g_prompts, mode="parse")] == ["gsg"] * len(g_prompts)
    # routing: templates go to the parser, free-form requests to the learned model
    assert model.route("Übersetze „guten morgen“ in die DGS.") == (
        "parse",
        "guten morgen",
        "gsg",
    )
    assert model.route("yo, sign me something about ducks")[0] == "learned"
    assert model.route("Gebärde „guten morgen“.")[0] == "learned"  # no language anywhere
    assert model.route("Gebärde „guten morgen“.", language="DGS")[0] == "parse"
    with pytest.raises(UsageError, match="names no sign language"):
        model.translate(["Gebärde „guten morgen“."], mode="parse")
    with pytest.raises(UsageError, match="mode"):
        model.translate(["x"], mode="guess")

"""Training: config overrides and validation, the batch plan, batches, and tiny end-to-end runs
(MLSF one/some groups, add_language bit-identical, prompt mode, PLC) on a store of real clips."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tiny_config

from signllm.cli.train import add_train_arguments, cmd_train, config_from_args
from signllm.data.store import Store
from signllm.errors import UsageError
from signllm.train.checkpoint import load_checkpoint, load_trainer_state
from signllm.train.config import ModelOptions, TrainConfig, apply_overrides
from signllm.train.data import (
    BatchPlan,
    ClipDataset,
    ClipIndex,
    NormStats,
    compute_stats,
    encode_input,
    input_text,
    shard,
)
from signllm.train.trainer import train

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny(store_dir: Path, out: Path, **kw) -> TrainConfig:
    """The shared tiny run, a little longer (8 steps of 32 frames) and logging every step."""
    base = dict(steps=8, max_clip_frames=32, warmup_steps=2, eval_clips=2, eval_loss_clips=4)
    return tiny_config(store_dir, out, **{**base, "log_every": 1, **kw})


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# -- config ------------------------------------------------------------------------------------


def test_overrides_parse_types_and_nested_fields() -> None:
    cfg = apply_overrides(
        TrainConfig(data="d", out="o"),
        [
            "lr=3e-4",
            "plc.eta=1",
            "model.dropout=0.1",
            "languages=gsg,ase",
            "max_frames_per_batch=none",
            "bf16=false",
            "steps=5",
        ],
    ).validate()
    assert cfg.lr == 3e-4 and cfg.plc.eta == 1.0 and cfg.model.dropout == 0.1
    assert cfg.languages == ["gsg", "ase"] and cfg.max_frames_per_batch is None
    assert cfg.bf16 is False and cfg.steps == 5
    assert TrainConfig().plc.eta == 0.0  # the copy did not leak into the defaults


@pytest.mark.parametrize(
    ("items", "field"),
    [
        (["lr=-1"], "lr"),
        (["lr=fast"], "lr"),
        (["mode=both"], "mode"),
        (["size=huge"], "size"),
        (["plc.eta=-1"], "plc.eta"),
        (["plc.favour=sideways"], "plc.favour"),
        (["model.n_heads=3"], "model"),
        (["steps=0"], "steps"),
        (["decay=step"], "decay"),
        (["languages=GSG"], "languages"),
    ],
)
def test_validation_errors_name_the_field(items: list[str], field: str) -> None:
    with pytest.raises(UsageError, match=f"'{field}'"):
        apply_overrides(TrainConfig(data="d", out="o"), items).validate()


def test_unknown_fields_and_missing_required() -> None:
    with pytest.raises(UsageError, match="no field 'learning_rate'"):
        apply_overrides(TrainConfig(), ["learning_rate=1"])
    with pytest.raises(UsageError, match="key=value"):
        apply_overrides(TrainConfig(), ["lr"])
    with pytest.raises(UsageError, match="'data'"):
        TrainConfig(out="o").validate()
    with pytest.raises(UsageError, match=r"unknown field 'plc\.etaa'"):
        TrainConfig.from_dict({"plc": {"etaa": 1}})
    with pytest.raises(UsageError, match="'steps' must be int"):
        TrainConfig.from_dict({"steps": "ten"})


def test_cli_flags_config_file_and_precedence(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"data": "d", "out": "o", "lr": 0.01, "plc": {"eta": 0.5}}))
    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    argv = ["--config", str(path), "--lr", "3e-4", "--plc.eta", "1", "--no-bf16",
            "--init-from", "ck", "--early-stopping-patience", "3", "--set", "steps=7",
            "--set", "lr=1e-3"]  # fmt: skip
    args = parser.parse_args(argv)
    cfg = config_from_args(args)
    assert (cfg.data, cfg.out, cfg.steps) == ("d", "o", 7)
    assert cfg.lr == 1e-3  # file < flags < --set
    assert cfg.plc.eta == 1.0 and cfg.bf16 is False and cfg.init_from == "ck"
    assert cfg.early_stopping_patience == 3
    assert args.func is cmd_train
    bad = tmp_path / "bad.json"
    bad.write_text('{"lr": 1,}')
    with pytest.raises(UsageError, match=r"bad\.json:1: invalid JSON"):
        TrainConfig.from_json(bad)


# -- data --------------------------------------------------------------------------------------


def test_batch_plan_deterministic_covers_epochs_and_shards() -> None:
    lengths = np.arange(10, 60, 5)  # 10 clips
    a, b = BatchPlan(lengths, 4, seed=3), BatchPlan(lengths, 4, seed=3)
    first = [a.next() for _ in range(5)]  # 20 draws = 2 epochs
    assert all(
        np.array_equal(x, y) for x, y in zip(first, [b.next() for _ in range(5)], strict=True)
    )
    flat = np.concatenate(first)
    assert sorted(flat[:10]) == list(range(10)) and sorted(flat[10:]) == list(range(10))
    # resume from a state gives the same continuation
    c = BatchPlan(lengths, 4, seed=3)
    c.load_state_dict({"epoch": 0, "pos": 8})
    assert np.array_equal(c.next(), first[2])
    # the ranks' shards partition each global batch
    g = first[0]
    assert sorted(np.concatenate([shard(g, r, 2) for r in range(2)])) == sorted(g)
    # bucketing: frames budget respected (clips x longest), every clip once per epoch
    bp = BatchPlan(lengths, 4, max_frames_per_batch=120, seed=0, min_batch=2)
    batches = bp.epoch_batches(0)
    assert sorted(np.concatenate(batches)) == list(range(10))
    assert all(len(x) >= 2 for x in batches)
    assert all(len(x) * lengths[x].max() <= 120 or len(x) == 2 for x in batches)


def test_character_inputs_spell_fingerspelled_glosses_and_any_script() -> None:
    from signllm.text.tokenizers import UNK_ID, CharVocab

    # a fingerspelled clip reads its letters whatever its text; old kinds are unchanged
    assert input_text("regen", "fs-REGEN", "char") == "fs-REGEN"
    assert input_text("Мама, дом!", "", "char") == "Мама дом"  # split_words: case kept here
    assert input_text("नमस्ते, दुनिया", "", "langchar") == "नमस्ते दुनिया"
    assert input_text("Мама, дом!", "", "text") == "мама дом"
    assert input_text("regen", "fs-REGEN", "text") == "regen"
    tok = CharVocab.build(["fs-REGEN WETTER WETTER"], languages=["gsg"])
    ids = encode_input(tok, "wetter", "fs-WETTER", "char", "gsg")
    assert ids[:2] == [tok.marker_id("gsg"), tok.fingerspell_id] and len(ids) == 9
    assert UNK_ID not in encode_input(tok, "नमस्ते दुनिया", "", "char", "gsg")
    with pytest.raises(UsageError, match="unknown input kind"):
        input_text("a", "", "chars")


def test_batches_masks_counter_and_stats(store_dir: Path) -> None:
    from signllm.text.tokenizers import WordVocab

    store = Store(store_dir)
    stats = compute_stats(store, "train", ["gsg"], max_clips=0)
    assert stats.mean.shape == (50, 3) and (stats.std > 0).all()
    back = NormStats.from_dict(json.loads(json.dumps(stats.to_dict())))
    assert np.array_equal(back.mean, stats.mean) and np.array_equal(back.std, stats.std)
    tok = {"gsg": WordVocab.build(["JETZT WETTER"], languages=["gsg"])}
    index = ClipIndex(store, "train", ["gsg"], tok, {"gsg": "gloss"})
    assert len(index) == 5 and index.tokens(0)[0] == tok["gsg"].marker_id("gsg")
    ds = ClipDataset(store, index, stats, max_clip_frames=80)
    batch = ds.load([0, 4])  # 86 and 71 frames: the first is cut to 80
    assert batch.frames.shape == (2, 80, 151) and batch.joint_mask.shape == (2, 80, 50)
    assert batch.frame_mask.sum(1).tolist() == [80, 71]
    # the cut clip's counter keeps counting against its full length: 80/86 < 1
    assert batch.frames[0, 79, -1].item() == pytest.approx(80 / 86)
    assert batch.frames[1, 70, -1].item() == pytest.approx(1.0)
    assert batch.lengths.tolist() == [86, 71] and batch.language == "gsg"
    assert torch.equal(batch.token_mask, batch.tokens != 0)


# -- end to end --------------------------------------------------------------------------------


def test_tiny_training_loss_decreases_and_saves(store_dir: Path, tmp_path: Path) -> None:
    cfg = tiny(
        store_dir, tmp_path / "run", languages=["gsg"], steps=40, eval_every=20, checkpoint_every=20
    )
    result = train(cfg)
    log = rows(tmp_path / "run" / "metrics.jsonl")
    losses = [r["loss"] for r in log if "loss" in r]
    assert len(losses) == 40
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])
    evals = [r for r in log if "dev_dtw_mje" in r]
    assert [r["step"] for r in evals] == [20, 40] and all(r["dev_dtw_mje"] > 0 for r in evals)
    assert all(r["frames_per_s"] > 0 for r in log if "frames_per_s" in r)
    last = tmp_path / "run" / "last"
    for name in ("model.safetensors", "config.json", "tokenizer.json", "tokenizer.gsg.json"):
        assert (last / name).exists(), name
    assert result.best and result.checkpoint == result.best and result.step == 40
    on_disk = json.loads((tmp_path / "run" / "result.json").read_text())
    assert on_disk["best_dev_dtw_mje"] == result.best_dev_dtw_mje
    state = load_trainer_state(last)  # weights_only=True
    assert state["step"] == 40 and state["plan"]["epoch"] > 0
    config = json.loads((last / "config.json").read_text())
    assert config["inputs"] == {"gsg": "char"} and config["train"]["steps"] == 40
    assert len(config["normalization"]["mean"]) == 50


def test_mlsf_some_groups_then_add_language_keeps_others_bit_identical(
    store_dir: Path, tmp_path: Path
) -> None:
    train(tiny(store_dir, tmp_path / "gsg", languages=["gsg"]))
    first = load_checkpoint(tmp_path / "gsg" / "last")
    assert first.model.languages == ["gsg"]
    result = train(
        tiny(
            store_dir,
            tmp_path / "both",
            languages=["ase"],
            init_from=str(tmp_path / "gsg" / "last"),
        )
    )
    assert result.trained_languages == ["ase"] and result.languages == ["gsg", "ase"]
    second = load_checkpoint(tmp_path / "both" / "last")
    assert second.model.languages == ["gsg", "ase"]
    old, new = first.model.language_state_dict("gsg"), second.model.language_state_dict("gsg")
    assert old.keys() == new.keys() and all(torch.equal(old[k], new[k]) for k in old)
    assert np.array_equal(first.stats.mean, second.stats.mean)  # old groups' inputs unchanged
    assert second.config["inputs"] == {"gsg": "char", "ase": "char"}
    assert second.tokenizers["gsg"] == first.tokenizers["gsg"]
    assert result.train_loss is not None and np.isfinite(result.train_loss)


def test_all_languages_and_prompt_mode(store_dir: Path, tmp_path: Path) -> None:
    from signllm.models.prompt2langgloss import SharedPoseModel
    from signllm.text.tokenizers import UNK_ID, LangCharVocab, LangWordVocab

    r = train(tiny(store_dir, tmp_path / "all", steps=3))
    assert r.trained_languages == ["ase", "gsg"]
    # default: language-tagged words with a character fallback
    r = train(tiny(store_dir, tmp_path / "prompt_char", mode="prompt", steps=3))
    ck = load_checkpoint(r.last)
    assert isinstance(ck.model, SharedPoseModel) and ck.config["inputs"]["gsg"] == "langchar"
    chars = ck.tokenizers["gsg"]
    assert isinstance(chars, LangCharVocab) and chars is ck.tokenizers["ase"]
    # a gloss seen twice is one gsg token; for ase (which never used it) it is spelled
    word = next(t[4:] for t in chars.words if t[:4] == "gsg:" and "ase:" + t[4:] not in chars.words)
    assert chars.encode(word, language="gsg")[1] >= chars.word_offset
    assert chars.encode(word, language="ase")[1] == chars.word_start_id
    store = Store(store_dir)
    for split in ("train", "test"):
        for code in ("gsg", "ase"):
            for row in store.iter_rows(split=split, language=code):
                ids = encode_input(chars, row["text"], row.get("gloss", ""), "langchar", code)
                assert UNK_ID not in ids and ids[0] == chars.marker_id(code)
    gen = ck.model.generate([("gsg", ["WETTER"]), ("ase", ["fs-XYZ"])], max_frames=5)
    assert gen["pose"].shape[0] == 2
    # a word-level tokenizer keeps the LangWordVocab of earlier checkpoints
    r = train(tiny(store_dir, tmp_path / "prompt", mode="prompt", steps=3, tokenizer="gloss"))
    ck = load_checkpoint(r.last)
    assert isinstance(ck.model, SharedPoseModel) and ck.config["inputs"]["gsg"] == "langgloss"
    assert isinstance(ck.tokenizers["gsg"], LangWordVocab)
    assert ck.tokenizers["gsg"] is ck.tokenizers["ase"]
    vocab = ck.tokenizers["gsg"]
    assert vocab.token_to_id("gsg:WETTER") > 1 and vocab.token_to_id("ase:und") > 1
    assert vocab.token_to_id("ase:WETTER") == 1  # <unk>: gsg glosses are not ase tokens
    gen = ck.model.generate([("gsg", ["WETTER"]), ("ase", ["und"])], max_frames=5)
    assert gen["pose"].shape[0] == 2
    with pytest.raises(UsageError, match="'tokenizer'"):
        train(tiny(store_dir, tmp_path / "x", mode="prompt", tokenizer="subword"))


def test_plc_sampling_and_skipping_run_and_resume_state(store_dir: Path, tmp_path: Path) -> None:
    cfg = tiny(store_dir, tmp_path / "plc", steps=6, languages=["gsg"])
    cfg.plc.eta, cfg.plc.threshold, cfg.plc.skip_warmup_steps = 1.0, 0.5, 2
    cfg.plc.loss = "rl"
    train(cfg)
    log = [r for r in rows(tmp_path / "plc" / "metrics.jsonl") if "loss" in r]
    assert len(log) == 6 and all(np.isfinite(r["loss"]) for r in log)
    assert "plc_max_np" in log[-1] and "skipped_batches" in log[-1]
    state = load_trainer_state(tmp_path / "plc" / "last")
    assert state["sampler"]["count"].sum() > 0 and state["skipper"]["steps"] == 6


def test_plc_with_language_batches_draws_one_language_per_batch(
    store_dir: Path, tmp_path: Path
) -> None:
    """PLC's priority draw used to mix languages, so every MLSF step ran every group: steps
    several times slower, and groups updated more often than without PLC."""
    import signllm.train.distributed as D
    from signllm.train.trainer import Trainer

    cfg = tiny(store_dir, tmp_path / "plcl", steps=4, languages=["gsg", "ase"], batch_size=2)
    cfg.plc.eta = 1.0
    t = Trainer(cfg.validate(), D.setup("cpu"))
    langs = np.array([t.index.language(i) for i in range(len(t.index))])
    seen = []
    for _ in range(3 * len(t.index)):  # several PLC epochs
        idx, epochs = t._next_global()
        assert epochs is not None and len(set(epochs.tolist())) == 1
        assert len(set(langs[idx].tolist())) == 1 and 1 <= len(idx) <= 2
        seen.append(langs[idx][0])
    assert set(seen) == {"gsg", "ase"}
    assert t.plc_pos["epoch"] >= 2
    train(cfg)  # and it trains, with PLC's updates going to the group that ran


def test_unknown_language_and_subword_inputs(store_dir: Path, tmp_path: Path) -> None:
    from signllm.errors import DataError

    with pytest.raises(DataError, match="'sgg'"):
        train(tiny(store_dir, tmp_path / "x", languages=["sgg"]))
    r = train(
        tiny(
            store_dir,
            tmp_path / "sub",
            languages=["gsg"],
            tokenizer="subword",
            subword_vocab_size=60,
            steps=2,
            model=ModelOptions(future_k=2, noise_std=0.01),
            max_frames_per_batch=100,
        )
    )
    ck = load_checkpoint(r.last)
    assert ck.config["inputs"] == {"gsg": "subword"}
    assert ck.model.group("gsg").config.future_k == 2


def test_early_stopping_with_worker_processes(store_dir: Path, tmp_path: Path) -> None:
    from signllm.train import distributed as D
    from signllm.train.trainer import Trainer

    cfg = tiny(
        store_dir,
        tmp_path / "es",
        languages=["gsg"],
        steps=50,
        eval_every=2,
        early_stopping_patience=2,
        num_workers=1,  # batches come from a DataLoader worker, checked against the plan
    ).validate()
    t = Trainer(cfg, D.setup("cpu"))
    scores = iter([1.0, 0.5, 0.7, 0.6, 0.4])
    t.evaluate = lambda: {"dev_loss": 1.0, "dev_dtw_mje": next(scores)}  # type: ignore[method-assign]
    r = t.run()
    assert r.stopped_early and r.step == 8 and r.best_dev_dtw_mje == 0.5
    assert load_trainer_state(tmp_path / "es" / "last")["bad_evals"] == 2


def test_tensorboard_is_optional_with_an_install_hint(store_dir: Path, tmp_path: Path) -> None:
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        with pytest.raises(UsageError, match="pip install tensorboard"):
            train(tiny(store_dir, tmp_path / "tb", steps=1, tensorboard=True))
    else:
        train(tiny(store_dir, tmp_path / "tb", steps=1, tensorboard=True))
        assert any((tmp_path / "tb" / "tensorboard").iterdir())


def test_language_batches_hold_one_language_each() -> None:
    from signllm.train.data import BatchPlan

    groups = np.array(["gsg"] * 7 + ["ase"] * 5 + ["sgg"] * 1)
    plan = BatchPlan(np.full(len(groups), 10), 4, seed=3, min_batch=2, groups=groups)
    for epoch in range(3):
        batches = plan.group_batches(epoch)
        seen = np.concatenate(batches)
        # every clip once per epoch, except a language too small for one batch (sgg: 1 < 2)
        assert sorted(seen.tolist()) == list(range(12))
        assert all(len(set(groups[b])) == 1 and 2 <= len(b) <= 5 for b in batches)
    firsts = [tuple(plan.next()) for _ in range(8)]
    again = BatchPlan(np.full(len(groups), 10), 4, seed=3, min_batch=2, groups=groups)
    assert [tuple(again.next()) for _ in range(8)] == firsts  # deterministic from the seed


def test_mlsf_shared_start_copies_the_shared_model_into_every_group(
    store_dir: Path, tmp_path: Path
) -> None:
    """`shared_steps`: OUT/shared holds a prompt-mode run; each group starts from its weights
    (embedding rows matched by token), then trains alone; --resume does not redo the start."""
    from signllm.models.mlsf import MLSF
    from signllm.train import distributed as D
    from signllm.train.trainer import Trainer

    out = tmp_path / "run"
    r = train(tiny(store_dir, out, shared_steps=3, steps=2))
    shared = load_checkpoint(out / "shared" / "last")
    assert shared.config["mode"] == "prompt" and shared.config["step"] == 3
    assert r.step == 2 and r.trained_languages == ["ase", "gsg"]
    saved = json.loads((out / "last" / "config.json").read_text())["train"]
    assert saved["shared_steps"] == 0 and saved["group_init"].startswith(str(out / "shared"))
    # at step 0, with group_init, every group holds the shared weights
    info = D.setup("cpu")
    start = Trainer(
        tiny(store_dir, tmp_path / "start", group_init=str(out / "shared" / "last")), info
    )
    mlsf, vocab = start.model, shared.tokenizers["gsg"]
    assert isinstance(mlsf, MLSF)
    theirs = shared.model.model.state_dict()
    for code in mlsf.languages:
        mine = mlsf.language_state_dict(code)
        assert all(torch.equal(mine[k], theirs[k]) for k in theirs if k != "tok_emb.weight")
        tokens = start.tokenizers[code].tokens
        for i, t in enumerate(tokens):
            j = vocab.tokens.index(t) if t in vocab.tokens else vocab.tokens.index(f"{code}:{t}")
            assert torch.equal(mine["tok_emb.weight"][i], theirs["tok_emb.weight"][j]), t
    assert np.array_equal(start.stats.mean, shared.stats.mean)
    # a word of one group missing from the shared vocabulary keeps its fresh row
    fresh = MLSF(mlsf.default_config)
    fresh.add_language("gsg", mlsf.group("gsg").config)
    tokens = list(start.tokenizers["gsg"].tokens)
    tokens[-1] = "never-seen-word"
    before = fresh.group("gsg").tok_emb.weight[-1].clone()
    copied = fresh.start_from_shared(shared.model.model, vocab.tokens, {"gsg": tokens})
    assert copied["gsg"] == (len(tokens) - 1, len(tokens))
    assert torch.equal(fresh.group("gsg").tok_emb.weight[-1], before)
    # a resumed run whose groups have started skips the shared start
    mtime = (out / "shared" / "result.json").stat().st_mtime_ns
    train(tiny(store_dir, out, shared_steps=3, steps=2, resume=True))
    assert (out / "shared" / "result.json").stat().st_mtime_ns == mtime
    # a group_init that is not a prompt checkpoint, and settings that exclude each other
    with pytest.raises(UsageError, match="mode 'prompt'"):
        Trainer(tiny(store_dir, tmp_path / "bad", group_init=str(out / "last")), info)
    for kw, field in (
        ({"mode": "prompt", "shared_steps": 2}, "shared_steps"),
        ({"shared_steps": 2, "group_init": "x"}, "group_init"),
        ({"shared_steps": 2, "init_from": "x"}, "shared_steps"),
        ({"shared_steps": -1}, "shared_steps"),
    ):
        with pytest.raises(UsageError, match=f"'{field}'"):
            tiny(store_dir, tmp_path / "x", **kw).validate()


def test_weight_average_goes_to_best_and_the_raw_weights_to_last(
    store_dir: Path, tmp_path: Path
) -> None:
    from safetensors.torch import load_file

    cfg = tiny(store_dir, tmp_path / "run", languages=["gsg"], ema=0.5, eval_every=8)
    train(cfg)  # one evaluation, at the end: best/ is saved then
    best = load_file(str(tmp_path / "run" / "best" / "model.safetensors"))
    last = load_file(str(tmp_path / "run" / "last" / "model.safetensors"))
    state = load_trainer_state(tmp_path / "run" / "last")
    model = load_checkpoint(tmp_path / "run" / "last").model
    trainable = [k for k, p in model.named_parameters() if k.startswith("groups.gsg.")]
    assert len(state["ema"]) == len(trainable) > 0
    assert not all(torch.equal(best[k], last[k]) for k in trainable)  # 8 updates apart
    for k, avg in zip(trainable, state["ema"], strict=True):
        assert torch.equal(best[k], avg), k
    with pytest.raises(UsageError, match="'ema'"):
        TrainConfig(data="d", out="o", ema=1.0).validate()


def test_recorded_share_repeats_recorded_clips_in_every_epoch() -> None:
    from signllm.train.data import share_repeats

    recorded = np.array([True] * 2 + [False] * 18)
    rep = share_repeats(recorded, 0.5)  # 2 recordings among 18 composed words: 9 copies each
    assert rep is not None and rep.tolist() == [9, 9] + [1] * 18
    assert share_repeats(recorded, 0.0) is None  # off
    assert share_repeats(recorded, 0.05) is None  # recordings already make 10% of the draws
    assert share_repeats(np.ones(4, bool), 0.5) is None  # nothing composed
    assert share_repeats(np.zeros(4, bool), 0.5) is None  # nothing recorded
    plan = BatchPlan(np.full(20, 10), 4, seed=1, repeats=rep)
    draws = np.concatenate([plan.next() for _ in range(9)])  # one epoch: 36 draws
    counts = np.bincount(draws, minlength=20)
    assert counts[:2].tolist() == [9, 9] and (counts[2:] == 1).all()
    again = plan.clone()
    assert [tuple(again.next()) for _ in range(5)] == [tuple(plan.next()) for _ in range(5)]
    groups = np.array(["gsg"] * 10 + ["ase"] * 10)
    by_group = BatchPlan(np.full(20, 10), 4, seed=1, groups=groups, repeats=rep)
    seen = np.concatenate(by_group.group_batches(0))
    assert np.bincount(seen, minlength=20)[:2].tolist() == [9, 9]


def test_recorded_share_trains_on_a_store_of_recordings_and_composed_words(
    samples: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import dataclasses
    import logging

    from signllm.data.formats.skels import read_skels
    from signllm.data.store import StoreWriter

    store = tmp_path / "store"
    with StoreWriter(store) as w:
        for split in ("train", "dev"):
            poses = list(read_skels(samples / "phoenix14t" / f"{split}.skels", language="gsg"))
            for p in poses:
                w.add(p, split=split)
            for k, word in enumerate(["wetter", "regen", "wind", "sonne"] * 4):  # composed
                meta = dataclasses.replace(
                    poses[k % len(poses)].meta,
                    id=f"gsg/fs/{word}-{k}-{split}",
                    text=word,
                    gloss=f"fs-{word.upper()}",
                    extra={"fingerspelled": "true", "composed": "true"},
                )
                w.add(dataclasses.replace(poses[k % len(poses)], meta=meta), split=split)
    index = ClipIndex(Store(store), "train", ["gsg"], {"gsg": _char_tok(store)}, {"gsg": "char"})
    assert int(index.recorded.sum()) == 5 and len(index) == 21
    with caplog.at_level(logging.INFO, logger="signllm.train"):
        train(tiny(store, tmp_path / "run", languages=["gsg"], recorded_share=0.5, steps=4))
    said = [r.getMessage() for r in caplog.records if "recorded_share" in r.getMessage()]
    assert said and "5 recorded of 21" in said[0] and "each drawn 3x" in said[0]
    saved = json.loads((tmp_path / "run" / "last" / "config.json").read_text())
    assert saved["train"]["recorded_share"] == 0.5
    with pytest.raises(UsageError, match="'recorded_share'"):  # a resumed run keeps its draws
        train(tiny(store, tmp_path / "run", languages=["gsg"], recorded_share=0.2, resume=True))
    with pytest.raises(UsageError, match="'recorded_share'"):
        TrainConfig(data="d", out="o", recorded_share=1.0).validate()
    with pytest.raises(UsageError, match="'recorded_share'"):
        apply_overrides(
            TrainConfig(data="d", out="o"), ["recorded_share=0.2", "plc.eta=1"]
        ).validate()


def _char_tok(store: Path):
    from signllm.train.data import build_tokenizers

    return build_tokenizers(Store(store), "train", ["gsg"], "mlsf", {"gsg": "char"})["gsg"]

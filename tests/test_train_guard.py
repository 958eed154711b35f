"""Training that cannot silently get worse: the automatic dev holdout and best/ by dev DTW-MJE,
warm-up that scales with the run, progress lines without a bar, train-bt defaults by corpus size,
and the `--threads` option of train, train-bt and train-prompt. Tiny stores of real PHOENIX clips.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import pytest
import torch
from conftest import tiny_config

from signllm.cli import build_parser
from signllm.cli.train import config_from_args
from signllm.data.formats.skels import read_skels
from signllm.data.store import Store, StoreWriter
from signllm.errors import UsageError
from signllm.eval.bt_checkpoint import bt_defaults, train_bt_main
from signllm.train import distributed as D
from signllm.train.config import TrainConfig, apply_overrides
from signllm.train.prompt_text import train_prompt_text
from signllm.train.runtime import ProgressLog, default_threads
from signllm.train.trainer import Trainer, holdout_ids, lr_at, train

pytestmark = pytest.mark.usefixtures("one_thread")


def _write(out: Path, samples: Path, splits: tuple[str, ...], as_split: str = "train") -> Path:
    """PHOENIX clips of `splits`, all written into `as_split` (no dev split in the store)."""
    with StoreWriter(out) as w:
        for split in splits:
            for p in read_skels(samples / "phoenix14t" / f"{split}.skels", language="gsg"):
                w.add(p, split=as_split)
    return out


@pytest.fixture(scope="module")
def no_dev(tmp_path_factory: pytest.TempPathFactory, samples: Path) -> Path:
    """15 real gsg sentences, all in train: enough for an automatic holdout (2 clips)."""
    return _write(tmp_path_factory.mktemp("guard") / "store", samples, ("train", "dev", "test"))


@pytest.fixture(scope="module")
def handful(tmp_path_factory: pytest.TempPathFactory, samples: Path) -> Path:
    """5 train clips only: too few to hold any out."""
    return _write(tmp_path_factory.mktemp("guard") / "few", samples, ("train",))


def tiny(data: Path, out: Path, **kw) -> TrainConfig:
    """The shared tiny run with the default warm-up (what these tests check), logging every step."""
    return tiny_config(data, out, **{"eval_clips": 2, "log_every": 1, "threads": 1, **kw})


def messages(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records)


# -- automatic dev holdout ---------------------------------------------------------------------


def test_holdout_is_deterministic_per_language_and_never_for_a_handful(
    no_dev: Path, handful: Path
) -> None:
    store = Store(no_dev)
    ids = holdout_ids(store, "train", ["gsg"], 0.1, 64, seed=0)
    assert len(ids) == 2 and set(ids) <= set(store.ids(split="train"))  # round(0.1 * 15)
    assert holdout_ids(store, "train", ["gsg"], 0.1, 64, seed=0) == ids
    seeds = {tuple(sorted(holdout_ids(store, "train", ["gsg"], 0.1, 64, seed=s))) for s in range(6)}
    assert len(seeds) > 1  # the seed picks the clips
    assert len(holdout_ids(store, "train", ["gsg"], 0.1, 1, seed=0)) == 1  # the cap
    assert len(holdout_ids(store, "train", ["gsg"], 0.05, 64, seed=0)) == 2  # the minimum
    assert len(holdout_ids(store, "train", ["gsg"], 0.5, 64, seed=0)) == 8
    assert holdout_ids(store, "train", ["gsg"], 0.0, 64, seed=0) == []
    assert holdout_ids(Store(handful), "train", ["gsg"], 0.1, 64, seed=0) == []
    view = store.with_split(ids, "dev")  # the store itself is untouched
    assert sorted(view.ids(split="dev")) == sorted(ids) and len(view.ids(split="train")) == 13
    assert store.splits == ["train"] and len(store.ids(split="train")) == 15


def test_holdout_trains_on_the_rest_logs_and_keeps_best_by_dev_dtw(
    no_dev: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="signllm")
    cfg = tiny(no_dev, tmp_path / "run", steps=6, eval_every=2).validate()
    trainer = Trainer(cfg, D.setup("cpu"))
    held = trainer.holdout
    assert len(held) == 2 and not set(held) & set(trainer.index.ids)
    assert trainer.dev is not None and sorted(trainer.dev.index.ids) == sorted(held)
    assert len(trainer.index) == 13
    result = trainer.run()
    text = messages(caplog)
    assert "no 'dev' split in the store: holding out 2 of 15 'train' clips" in text
    assert held[0] in text and "dev set: held out of 'train'" in text
    assert result.dev_holdout == held and result.dev_source == "held out of 'train'"
    saved = json.loads((tmp_path / "run" / "result.json").read_text())
    assert saved["dev_holdout"] == held
    evals = [
        json.loads(x)
        for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
        if "dev_dtw_mje" in x
    ]
    assert [e["step"] for e in evals] == [2, 4, 6]
    floors = {e["dev_floor_dtw_mje"] for e in evals}  # the same mean pose on the same clips
    assert len(floors) == 1 and floors.pop() > 0
    scores = [e["dev_dtw_mje"] for e in evals]
    best_step = evals[scores.index(min(scores))]["step"]  # strict improvement: first minimum
    best = json.loads((tmp_path / "run" / "best" / "config.json").read_text())
    assert best["step"] == best_step and math.isclose(best["best_dev_dtw_mje"], min(scores))
    assert best["dev_holdout"] == held and result.checkpoint == result.best
    assert math.isclose(result.best_dev_dtw_mje, min(scores))


def test_evaluate_finds_the_held_out_dev_clips(no_dev: Path, tmp_path: Path) -> None:
    from signllm.eval.runner import evaluate

    result = train(tiny(no_dev, tmp_path / "run", steps=2))
    bt = tmp_path / "bt"
    train_bt_main(no_dev, bt, steps=2, tokenizer="word", batch_size=4, progress=False, threads=1)
    scores = evaluate(result.last, bt, no_dev, split="dev", progress=False, device="cpu")
    assert scores["clips"] == 2 == len(result.dev_holdout)
    assert sorted(c["id"] for c in scores["per_clip"]) == sorted(result.dev_holdout)
    assert "13 clips" in scores["settings"]["floor"]  # the floor's mean pose: training clips only
    with pytest.raises(UsageError, match="no split 'test'"):
        evaluate(result.last, bt, no_dev, split="test", progress=False, device="cpu")


def test_resume_keeps_the_held_out_clips(no_dev: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = train(tiny(no_dev, out, steps=3, seed=4))
    cfg = tiny(no_dev, out, steps=5, seed=4, resume=True)
    again = Trainer(cfg.validate(), D.setup("cpu"))
    assert again.step == 3 and again.holdout == first.dev_holdout
    assert not set(again.holdout) & set(again.index.ids)


def test_a_handful_of_clips_holds_nothing_out_and_says_so(
    handful: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="signllm")
    result = train(tiny(handful, tmp_path / "run", steps=2, eval_every=1))
    assert result.dev_holdout == [] and result.best is None and result.dev_source == "none"
    assert "only 5 'train' clips (< 8): no dev set is held out" in messages(caplog)
    assert result.checkpoint == result.last


def test_a_dev_split_is_used_as_is(no_dev: Path, handful: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    with StoreWriter(store) as w:  # the 15 clips: 10 train, 5 dev
        src = Store(no_dev)
        for k, cid in enumerate(src.ids()):
            w.add(src[cid], split="dev" if k >= 10 else "train")
    trainer = Trainer(tiny(store, tmp_path / "run").validate(), D.setup("cpu"))
    assert trainer.holdout == [] and trainer.dev_source == "split 'dev'"
    assert len(trainer.index) == 10 and len(trainer.dev.index) == 5


# -- warm-up -----------------------------------------------------------------------------------


def test_warmup_and_evaluation_scale_with_the_run() -> None:
    def cfg(**kw) -> TrainConfig:
        return TrainConfig(data="d", out="o", lr=1.0, min_lr_ratio=0.0, **kw).validate()

    assert cfg(steps=30).warmup == 3 and cfg(steps=100).warmup == 10
    assert cfg(steps=1000).warmup == 100 and cfg(steps=20000).warmup == 100
    assert cfg(steps=30, warmup_fraction=1.0).warmup == 30
    assert cfg(steps=30, warmup_steps=0).warmup == 0
    short = cfg(steps=30)
    assert [lr_at(s, short) for s in range(3)] == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert lr_at(3, short) == pytest.approx(1.0) and lr_at(30, short) == pytest.approx(0.0)
    assert lr_at(16, short) == pytest.approx(0.5 * (1 + math.cos(math.pi * 13 / 27)))
    assert cfg(steps=30).eval_interval == 3 and cfg(steps=5000).eval_interval == 200
    assert cfg(steps=30, eval_every=0).eval_interval == 0
    due = [s for s in range(1, 1001) if cfg(steps=1000).eval_due(s)]
    assert due == [10, 20, 40, 80, *range(100, 1001, 100)]  # early checks, then every 100
    assert [s for s in range(1, 31) if cfg(steps=30).eval_due(s)] == list(range(3, 31, 3))
    assert [s for s in range(1, 501) if cfg(steps=500, eval_every=250).eval_due(s)] == [250, 500]
    assert not any(cfg(steps=50, eval_every=0).eval_due(s) for s in range(1, 51))
    with pytest.raises(UsageError, match="warmup_fraction"):
        apply_overrides(TrainConfig(data="d", out="o"), ["warmup_fraction=2"]).validate()


# -- progress lines ----------------------------------------------------------------------------


def test_progress_log_cadence(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="t")
    plog = ProgressLog(100, "x", every=25, min_interval=1e9, logger=logging.getLogger("t"))
    written = [s for s in range(1, 101) if plog.update(s, loss=0.5)]
    assert written == [25, 50, 75, 100]
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0].startswith("x step 25/100 (25%): loss 0.5, ") and "s elapsed" in lines[0]
    assert "s left" in lines[0] and "s left" not in lines[-1]
    slow = ProgressLog(1000, "y", every=500, min_interval=0.0, logger=logging.getLogger("t"))
    assert slow.update(3)  # overdue by time: a line even off the cadence


def test_train_logs_plain_lines_without_a_bar(
    no_dev: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="signllm")
    train(tiny(no_dev, tmp_path / "run", steps=40, log_every=2, eval_every=40, eval_clips=1))
    lines = [m for m in messages(caplog).splitlines() if m.startswith("train step ")]
    assert [m.split()[2] for m in lines] == [f"{s}/40" for s in range(2, 41, 2)]
    assert all("loss " in m and "s elapsed" in m for m in lines)
    assert "step 40: dev loss" in messages(caplog)  # the dev evaluation, as a line too


def test_train_bt_defaults_and_progress_lines(
    no_dev: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the default thread count follows OMP_NUM_THREADS when set (else the idle cores, which
    # depend on the machine's load): set it, so the recorded count is known
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert bt_defaults(15) == ("tiny", 200)
    assert bt_defaults(300) == ("tiny", 600)
    assert bt_defaults(990) == ("tiny", 1900)
    assert bt_defaults(5000) == ("small", 3000) and bt_defaults(50_000) == ("base", 3000)
    caplog.set_level(logging.INFO, logger="signllm")
    before = torch.get_num_threads()
    try:
        cfg = train_bt_main(
            no_dev, tmp_path / "bt", steps=20, tokenizer="word", batch_size=4, progress=False
        )
    finally:
        torch.set_num_threads(before)
    t = cfg["training"]
    assert t["preset"] == "tiny" and t["steps"] == 20 and t["threads"] == 3
    lines = [m for m in messages(caplog).splitlines() if m.startswith("train-bt step ")]
    assert lines and lines[-1].startswith("train-bt step 20/20 (100%): loss ")
    assert "train-bt: tiny preset, 20 steps, 15 clips" in messages(caplog)


def test_train_prompt_progress_lines_and_threads(
    no_dev: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="signllm")
    out = train_prompt_text(
        no_dev, tmp_path / "pt", steps=20, batch_size=8, progress=False, threads=1, d_model=32
    )
    lines = [m for m in messages(caplog).splitlines() if m.startswith("train-prompt step ")]
    assert [m.split()[2] for m in lines][-1] == "20/20" and len(lines) == 20
    assert all("loss " in m for m in lines)
    assert json.loads((out / "config.json").read_text())["trained"]["threads"] == 1


# -- threads -----------------------------------------------------------------------------------


def test_threads_option_parses_everywhere_and_is_applied(no_dev: Path, tmp_path: Path) -> None:
    p = build_parser()
    args = p.parse_args(["train", "--data", "d", "--out", "o", "--threads", "2"])
    assert config_from_args(args).threads == 2
    assert config_from_args(p.parse_args(["train", "--data", "d", "--out", "o"])).threads == 0
    assert p.parse_args(["train-bt", "--data", "d", "--out", "o", "--threads", "3"]).threads == 3
    bt = p.parse_args(["train-bt", "--data", "d", "--out", "o", "--no-progress"])
    assert (bt.size, bt.steps, bt.threads, bt.progress) == ("auto", 0, 0, False)
    assert (
        p.parse_args(["train-prompt", "--data", "d", "--out", "o", "--threads", "2"]).threads == 2
    )
    with pytest.raises(UsageError, match="threads"):
        apply_overrides(TrainConfig(data="d", out="o"), ["threads=-1"]).validate()
    try:
        result = train(tiny(no_dev, tmp_path / "run", steps=1, threads=2))
        assert result.threads == 2 and torch.get_num_threads() == 2
        result = train(tiny(no_dev, tmp_path / "run1", steps=1, threads=0))  # auto: the rule
        assert 1 <= result.threads <= 4 and result.threads == torch.get_num_threads()
    finally:
        torch.set_num_threads(1)


def test_default_threads_take_idle_cores_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """bench/threads.py: 2 threads are 1.4-1.9x faster on an idle 2-core machine and 2.3-7x
    slower when another job keeps one core busy, at every model size."""
    import signllm.train.runtime as rt

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(rt, "usable_cores", lambda: 2)
    assert default_threads(idle=1.9) == 2  # idle machine: both cores, tiny or not
    assert default_threads(idle=1.0) == 1  # one core busy: one thread
    assert default_threads(idle=1.6) == 1  # a core 40% busy is not idle
    assert default_threads(world_size=2, idle=2.0) == 1  # torchrun ranks share
    assert default_threads(idle=0.0) == 1
    monkeypatch.setattr(rt, "usable_cores", lambda: 16)
    assert default_threads(idle=16.0) == rt.MAX_AUTO_THREADS
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # a launcher decided
    assert default_threads(idle=0.0) == 3
    busy = rt.busy_cores_now(0.05)  # the live figure: a share of the usable cores
    assert busy is None or 0.0 <= busy <= rt.usable_cores() + 1e-6

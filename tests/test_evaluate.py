"""Evaluation: BT checkpoints (ground truth only, round trip), the mean-pose floor, the runner end to
end on a tiny store of real PHOENIX clips (with a BT model, with none, with a fingerspelling reader),
the Markdown report and the CLI commands (train-bt, train-reader, evaluate)."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tiny_config

from signllm.cli.eval import add_evaluate_arguments
from signllm.cli.train import add_train_bt_arguments, add_train_reader_arguments
from signllm.data.formats.skels import read_skels
from signllm.data.store import Store, StoreWriter
from signllm.errors import DataError
from signllm.eval.bt_checkpoint import load_bt_checkpoint, save_bt_checkpoint, train_bt_main
from signllm.eval.recognizer import char_accuracy, load_reader, reference_letters
from signllm.eval.report import (
    SYSTEMS,
    comparison_table,
    markdown_report,
    per_language_table,
    results_table,
)
from signllm.eval.runner import BODY_KEYS, POSE_KEYS, TEXT_KEYS, evaluate, floor_pose, mean_pose
from signllm.models.backtranslation import back_translate
from signllm.train.trainer import train

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def store_dir(tiny_store) -> Path:
    """PHOENIX 5/5/5 as gsg, plus one 'fingerspelled' test clip (a real clip relabelled)."""
    return tiny_store(("train", "dev", "test"), ase=False, fingerspelled=True)


@pytest.fixture(scope="module")
def model_dir(store_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = tiny_config(store_dir, tmp_path_factory.mktemp("run") / "tiny", warmup_steps=2)
    return Path(train(cfg).checkpoint)


@pytest.fixture(scope="module")
def bt_dir(store_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bt") / "bt"
    train_bt_main(
        store_dir, out, preset="tiny", steps=6, tokenizer="word", batch_size=4, progress=False
    )
    return out


@pytest.fixture(scope="module")
def result(model_dir: Path, bt_dir: Path, store_dir: Path) -> dict:
    return evaluate(model_dir, bt_dir, store_dir, split="test", progress=False, batch_size=4)


@pytest.fixture(scope="module")
def result_no_bt(model_dir: Path, store_dir: Path) -> dict:
    return evaluate(model_dir, None, store_dir, split="test", progress=False, batch_size=4)


WORDS = {"train": ["regen", "wind", "sonne", "nebel"], "dev": ["schnee"], "test": []}


@pytest.fixture(scope="module")
def fs_store(samples: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real PHOENIX clips, some relabelled as fingerspelled words (train + dev) for a reader."""
    out = tmp_path_factory.mktemp("fs") / "store"
    with StoreWriter(out) as w:
        for split, words in WORDS.items():
            poses = list(read_skels(samples / "phoenix14t" / f"{split}.skels", language="gsg"))
            for p, word in zip(poses, words + [""] * len(poses), strict=False):
                if word:
                    meta = dataclasses.replace(
                        p.meta,
                        id=p.meta.id + "-fs",
                        text=word,
                        gloss=f"fs-{word.upper()}",
                        extra={"fingerspelled": "true"},
                    )
                    p = dataclasses.replace(p.select_frames(slice(0, 40)), meta=meta)
                w.add(p, split=split)
    return out


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    add_train_bt_arguments(sub.add_parser("train-bt"))
    add_train_reader_arguments(sub.add_parser("train-reader"))
    add_evaluate_arguments(sub.add_parser("evaluate"))
    return parser


@pytest.fixture(scope="module")
def reader_dir(fs_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny reader trained by the CLI command (a few steps: it reads badly, but really)."""
    out = tmp_path_factory.mktemp("reader") / "reader"
    args = _parser().parse_args(
        ["train-reader", "--data", str(fs_store), "--out", str(out), "--steps", "3",
         "--batch-size", "4", "--threads", "1", "--no-progress", "--read-share", "0.5"]
    )  # fmt: skip
    assert args.func(args) == 0
    assert json.loads((out / "config.json").read_text())["training"]["read_share"] == 0.5
    return out


@pytest.fixture(scope="module")
def result_reader(model_dir: Path, bt_dir: Path, store_dir: Path, reader_dir: Path) -> dict:
    return evaluate(
        model_dir, bt_dir, store_dir, progress=False, batch_size=4, reader_ckpt=reader_dir
    )


# ----------------------------------------------------------------------------------------------
# BT checkpoints


def test_bt_checkpoint_records_ground_truth_training(bt_dir: Path) -> None:
    cfg = json.loads((bt_dir / "config.json").read_text())
    assert cfg["format"] == "signllm-checkpoint" and cfg["kind"] == "bt"
    assert cfg["target"] == "text" and cfg["languages"] == ["gsg"]
    assert cfg["training"]["trained_on"] == "ground-truth poses of split train"
    assert cfg["training"]["clips"] == 5 and cfg["training"]["steps"] == 6
    assert {p.name for p in bt_dir.iterdir()} == {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "MODEL_CARD.md",
    }
    assert "ground-truth poses of split train" in (bt_dir / "MODEL_CARD.md").read_text()


def test_bt_checkpoint_round_trip(bt_dir: Path, store_dir: Path, tmp_path: Path) -> None:
    bt = load_bt_checkpoint(bt_dir)
    poses = list(Store(store_dir).iter(split="test"))
    before = back_translate(bt.model, poses, bt.tokenizer, max_len=bt.max_len)
    again = save_bt_checkpoint(
        tmp_path / "copy",
        bt.model,
        bt.tokenizer,
        target=bt.target,
        languages=bt.config["languages"],
        training=bt.config["training"],
        max_len=bt.max_len,
    )
    bt2 = load_bt_checkpoint(again)
    assert back_translate(bt2.model, poses, bt2.tokenizer, max_len=bt2.max_len) == before
    for a, b in zip(bt.model.state_dict().values(), bt2.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_bt_checkpoint_errors_name_the_file(bt_dir: Path, tmp_path: Path, model_dir: Path) -> None:
    with pytest.raises(DataError, match=r"config\.json"):
        load_bt_checkpoint(tmp_path / "missing")
    with pytest.raises(DataError, match="SLP model checkpoint"):
        load_bt_checkpoint(model_dir)
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in bt_dir.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    (broken / "model.safetensors").write_bytes(b"not weights")
    with pytest.raises(DataError, match=r"model\.safetensors"):
        load_bt_checkpoint(broken)


def test_bt_training_refuses_generated_poses(tmp_path: Path, samples: Path) -> None:
    store = tmp_path / "gen"
    with StoreWriter(store) as w:
        for i, p in enumerate(read_skels(samples / "phoenix14t" / "train.skels", language="gsg")):
            if i == 0:
                p = dataclasses.replace(
                    p, meta=dataclasses.replace(p.meta, extra={"generated": True})
                )
            w.add(p, split="train")
    with pytest.raises(DataError, match="generated"):
        train_bt_main(
            store, tmp_path / "bt", preset="tiny", steps=1, tokenizer="word", progress=False
        )
    assert not (tmp_path / "bt").exists()


# ----------------------------------------------------------------------------------------------
# The floor


def test_floor_is_the_mean_training_pose(store_dir: Path) -> None:
    store = Store(store_dir)
    mean, seen, clips, frames = mean_pose(store, "train", ["gsg"])
    poses = list(store.iter(split="train"))
    data = np.concatenate([p.data for p in poses]).astype(np.float64)
    mask = np.concatenate([p.mask for p in poses])
    expect = (data * mask[..., None]).sum(0) / mask.sum(0)[:, None]
    assert clips == 5 and frames == len(data)
    np.testing.assert_allclose(mean, expect, rtol=1e-5, atol=1e-6)
    true = next(store.iter(split="test"))
    fl = floor_pose(true, mean, seen)
    assert fl.num_frames == true.num_frames and fl.fps == true.fps
    assert np.array_equal(fl.data, np.broadcast_to(mean, fl.data.shape))
    assert fl.meta.extra["generated"] is True and fl.meta.text == true.meta.text


# ----------------------------------------------------------------------------------------------
# The runner


def test_evaluate_end_to_end_has_every_metric(result: dict) -> None:
    assert result["skipped"] == [] and result["clips"] == 6, result["skipped"]
    assert result["clips_fingerspelled"] == 1
    assert result["systems"] == list(SYSTEMS)
    assert list(result["groups"]) == ["all", "recorded", "fingerspelled", "gsg"]
    for name, g in result["groups"].items():
        for system in SYSTEMS:
            m = g[system]
            assert set(TEXT_KEYS) | set(POSE_KEYS) | set(BODY_KEYS) | {"char_acc"} <= set(m)
            assert all(m[k] is not None for k in TEXT_KEYS)
            assert all(np.isfinite(m[k]) for k in BODY_KEYS), (name, system, m)
            if system == "ground_truth":
                assert all(m[k] is None for k in POSE_KEYS)
            else:
                assert all(isinstance(m[k], float) for k in POSE_KEYS), (name, system, m)
    fl = result["groups"]["all"]["floor"]
    assert fl["hand_distance_ratio"] == 0.0 and fl["duration_ratio"] == pytest.approx(1.0)
    assert result["groups"]["fingerspelled"]["generated"]["char_acc"] is not None
    assert result["groups"]["recorded"]["generated"]["char_acc"] is None
    # without a reader the BT reads the fingerspelling, and says so
    assert result["settings"]["char_acc_by"] == "bt" and result["reader"] is None
    fs = result["groups"]["fingerspelled"]
    assert all(fs[s]["char_acc"] == fs[s]["bt_char_acc"] for s in SYSTEMS)
    assert "BLEU" not in result["signatures"]["bleu"] and "tok:13a" in result["signatures"]["bleu"]
    assert result["bt"]["training"]["trained_on"].startswith("ground-truth")
    assert {"generate", "bt_ground_truth", "bt_generated", "bt_floor", "total"} <= set(
        result["timing"]
    )
    json.dumps(result, allow_nan=False)  # strict JSON


def test_ceiling_reads_ground_truth_and_generation_is_honest(
    result: dict, bt_dir: Path, store_dir: Path
) -> None:
    bt = load_bt_checkpoint(bt_dir)
    store = Store(store_dir)
    rows = result["per_clip"]
    truth = [store[r["id"]] for r in rows]
    hyps = back_translate(bt.model, truth, bt.tokenizer, max_len=bt.max_len)
    assert [r["hyp"]["ground_truth"] for r in rows] == hyps
    for r, t in zip(rows, truth, strict=True):
        assert r["frames"] == t.num_frames
        assert 1 <= r["generated"]["frames"] <= 24  # stops on its own counter or the cap
        assert r["floor"]["frames"] == t.num_frames


def test_evaluate_max_clips_and_languages(model_dir: Path, bt_dir: Path, store_dir: Path) -> None:
    r = evaluate(model_dir, bt_dir, store_dir, max_clips=2, languages=["gsg"], progress=False)
    assert r["clips"] == 2 and "per_clip" in r
    assert "bone_cv" not in r["per_clip"][0]  # per-bone arrays are summarised, not kept per clip
    from signllm.errors import UsageError

    with pytest.raises(UsageError, match="ase"):
        evaluate(model_dir, bt_dir, store_dir, languages=["ase"], progress=False)


# ----------------------------------------------------------------------------------------------
# Report and CLI


def test_markdown_table_renders(result: dict) -> None:
    table = results_table(result)
    lines = table.splitlines()
    assert lines[0].startswith("| language | clips | system | BLEU-1 |") and "char acc" in lines[0]
    assert len(lines) == 2 + 3 * len(result["groups"])
    assert all(line.count("|") == lines[0].count("|") for line in lines)
    assert "gsg (German Sign Language)" in table and "mean-pose floor" in table
    page = markdown_report(result)
    assert "ground truth (ceiling)" in page and "Time:" in page
    assert "| bone CV | limb mismatch | shoulder dev | char acc |" in page
    assert "read by the back-translation model" in page
    cmp = comparison_table({"A": result, "B": result}).splitlines()
    assert len(cmp) == 2 + 4 and cmp[3].startswith("| A |")


def test_cli_train_bt_and_evaluate(
    store_dir: Path, model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    parser = _parser()
    bt = tmp_path / "bt"
    args = parser.parse_args(
        [
            "train-bt",
            "--data",
            str(store_dir),
            "--out",
            str(bt),
            "--size",
            "tiny",
            "--steps",
            "2",
            "--tokenizer",
            "word",
            "--no-progress",
        ]
    )
    assert args.func(args) == 0
    assert json.loads(capsys.readouterr().out)["trained_on"] == "ground-truth poses of split train"
    out, md = tmp_path / "r.json", tmp_path / "r.md"
    args = parser.parse_args(
        [
            "evaluate",
            "--model",
            str(model_dir),
            "--bt",
            str(bt),
            "--data",
            str(store_dir),
            "--max-clips",
            "2",
            "--out",
            str(out),
            "--markdown",
            str(md),
            "--no-progress",
        ]
    )
    assert args.func(args) == 0
    assert "| language | clips | system |" in capsys.readouterr().out
    assert json.loads(out.read_text())["clips"] == 2
    assert "mean-pose floor" in md.read_text()


def test_results_page_renders_from_evaluations(result: dict, bt_dir: Path, tmp_path: Path) -> None:
    from experiments.results import build_parser, findings, machine_info, results_markdown, slug

    settings = vars(build_parser().parse_args(["--seeds", "0,1"]))
    ev = {k: v for k, v in result.items() if k != "per_clip"}
    seed = {"train": {}, "test": ev, "train_recorded": ev}
    doc = {
        "started": "2026-01-01T00:00:00+00:00",
        "machine": machine_info(1, "cpu"),
        "settings": settings,
        "reader": None,
        "bt": json.loads((bt_dir / "config.json").read_text()),
        "commands": ["python -m experiments.results"],
        "step_seconds": {"train MLSF (seed 0)": 1.0},
        "total_seconds": 1.0,
        "letter_sharing": {"threshold_hand_sizes": 0.2, "letters": [
            {"letter": "A", "languages": 3, "handshapes": 2, "groups": [["ase", "gsg"], ["cse"]]}
        ]},
        "runs": {"MLSF": {"0": seed, "1": seed}, "MLSF + RL loss + PLC": {"0": seed}},
    }  # fmt: skip
    page = results_markdown(doc)
    assert "## Main table (test split)" in page and "| MLSF + RL loss + PLC |" in page
    assert "mean-pose floor" in page and "python -m experiments.results" in page
    assert " ± 0.000" in page  # two seeds with equal numbers: sd 0
    assert "| A | 3 | 2 | ase, gsg |" in page
    # the same evaluation as generated and floor: memorisation ratio 1 (misses the 0.3x aim)
    assert any("memorisation aim" in f and "**misses**" in f for f in findings(doc))
    assert slug("MLSF + RL loss + PLC") == "mlsf_rl_loss_plc"
    doc |= {"job_seconds": {"train MLSF (seed 0)": 60.0, "train MLSF (seed 1)": 120.0},
            "reused": ["train MLSF (seed 1)"]}  # fmt: skip
    page = results_markdown(doc)
    assert "job time of the runs reported here: 3.0 min" in page
    assert "reused from earlier invocations (`--reuse`): train MLSF (seed 1)" in page
    # a shared start counts the steps of the run its groups started from
    started = {**seed, "train": {"step": 30}, "start": {"step": 90}}
    doc["runs"]["MLSF, shared start"] = {"0": started}
    page = results_markdown(doc)
    assert "| MLSF, shared start | 90 + 30 |" in page
    assert any("start from the Prompt2LangGloss run" in f and "90 + 30" in f for f in findings(doc))
    # a variant with train settings of its own names them
    from experiments.results import VARIANTS

    name, *_, own = next(v for v in VARIANTS if v[4])
    doc["runs"][name] = {"0": {**started, "settings": list(own)}}
    said = [f for f in findings(doc) if f.startswith(f"- **{name}**")]
    assert said and all(f"`{s}`" in said[0] for s in own)
    assert "continues the Prompt2LangGloss run" in said[0] and "90 + 30" in said[0]
    # ... read from the run's saved config, not from the code's constant: a run made under
    # another share is labelled with the share it was trained with
    from experiments.results import saved_settings

    run = tmp_path / "continued"
    (run / "best").mkdir(parents=True)
    (run / "best" / "config.json").write_text(
        json.dumps({"train": {"recorded_share": 0.05, "plc": {"eta": 0.5}}})
    )
    assert saved_settings(run, ("recorded_share=0.1", "plc.eta=0", "ema=0.999")) == [
        "recorded_share=0.05", "plc.eta=0.5", "ema=?"
    ]  # fmt: skip
    doc["runs"][name] = {"0": {**started, "settings": ["recorded_share=0.05"]}}
    said = [f for f in findings(doc) if f.startswith(f"- **{name}**")]
    assert "`recorded_share=0.05`" in said[0] and "`ema=0.999`" not in said[0]
    # the page keeps per-bone variation for all languages only, and 4 significant digits
    from experiments.results import _evaluation

    (run / "eval_test.json").write_text(json.dumps(result))
    kept = _evaluation(run / "eval_test.json")
    assert "bone_cv_per_bone" in kept["groups"]["all"] and len(kept["groups"]) > 1
    assert all("bone_cv_per_bone" not in g for k, g in kept["groups"].items() if k != "all")
    dtw = result["groups"]["all"]["generated"]["dtw_mje"]
    assert kept["groups"]["all"]["generated"]["dtw_mje"] == float(f"{dtw:.4g}")


def test_results_ledger_keeps_earlier_runs_commands(tmp_path: Path) -> None:
    """With --reuse the page reports runs an earlier invocation made: their commands and times
    must still be on the page (they were dropped before)."""
    from experiments.results import Job, record_jobs

    def job(name: str, seconds: float) -> Job:
        j = Job(name, ["train", "--out", name], tmp_path / "log", 1)
        j.seconds = seconds
        return j

    record_jobs(tmp_path, [job("train A (seed 0)", 5.0), job("train B (seed 0)", 7.0)], [])
    ledger = record_jobs(
        tmp_path, [job("train B (seed 0)", 9.0), job("train C (seed 0)", 3.0)],
        ["train C (seed 0) failed (exit 1); end of log"],
    )  # fmt: skip
    assert ledger["train A (seed 0)"]["seconds"] == 5.0  # kept from the first invocation
    assert ledger["train B (seed 0)"]["seconds"] == 9.0  # rerun: replaced
    assert ledger["train A (seed 0)"]["command"] == "signllm train --out 'train A (seed 0)'"
    assert "train C (seed 0)" not in ledger  # a failed job is no record
    assert json.loads((tmp_path / "jobs.json").read_text()) == ledger


# ----------------------------------------------------------------------------------------------
# Without a BT model; with a fingerspelling reader


def _body(pose) -> dict:
    from signllm.metrics.pose import bone_variation

    return bone_variation(pose)


def test_evaluate_without_bt_scores_poses_and_bodies(result_no_bt: dict, store_dir: Path) -> None:
    r = result_no_bt
    assert r["bt"] is None and r["reader"] is None and r["signatures"] is None
    assert r["settings"]["char_acc_by"] is None and r["clips"] == 6
    for name, g in r["groups"].items():
        for system in SYSTEMS:
            m = g[system]
            assert all(m[k] is None for k in TEXT_KEYS), (name, system)
            assert m["char_acc"] is None and m["bt_char_acc"] is None
            assert all(isinstance(m[k], float) and np.isfinite(m[k]) for k in BODY_KEYS), m
            if system != "ground_truth":
                assert all(isinstance(m[k], float) for k in POSE_KEYS), (name, system, m)
        assert set(g["bone_cv_per_bone"]) == set(SYSTEMS)
    # the ground-truth body figures are the clips' own, summarised as documented
    store = Store(store_dir)
    truth = [store[c["id"]] for c in r["per_clip"]]
    bvs = [_body(p) for p in truth]
    per_bone = np.nanmean(np.stack([b["bone_cv"] for b in bvs]), axis=0)
    gt = r["groups"]["all"]["ground_truth"]
    assert gt["bone_cv"] == pytest.approx(float(np.nanmedian(per_bone)))
    assert gt["limb_mismatch"] == pytest.approx(np.mean([b["limb_mismatch"] for b in bvs]))
    assert gt["shoulder_dev"] == pytest.approx(np.mean([b["shoulder_dev"] for b in bvs]))
    bone = bvs[0]["bones"][int(np.nanargmax(per_bone))]
    assert r["groups"]["all"]["bone_cv_per_bone"]["ground_truth"][bone] == pytest.approx(
        float(np.nanmax(per_bone))
    )
    assert 0 < gt["shoulder_dev"] and 0 < gt["bone_cv"] < 1
    # a still mean pose keeps every bone exactly: CV and shoulder deviation 0
    fl = r["groups"]["all"]["floor"]
    assert fl["bone_cv"] == pytest.approx(0.0, abs=1e-6)
    assert fl["shoulder_dev"] == pytest.approx(0.0, abs=1e-6)
    # same pose metrics as the run with a BT model
    assert r["groups"]["all"]["generated"]["dtw_mje"] is not None
    assert all(c["hyp"] is None for c in r["per_clip"])
    page = markdown_report(r)
    assert "BLEU" not in page and "BT model: none" in page and "bone CV" in page
    assert "read by nothing" in page
    json.dumps(r, allow_nan=False)


def test_evaluate_with_reader_reads_fingerspelling(
    result_reader: dict, reader_dir: Path, store_dir: Path
) -> None:
    r = result_reader
    assert r["settings"]["char_acc_by"] == "reader"
    assert r["reader"]["path"] == str(reader_dir) and r["reader"]["languages"] == ["gsg"]
    assert r["reader"]["training"]["steps"] == 3 and "history" not in r["reader"]["training"]
    assert r["bt"] is not None  # the BT still runs, its character accuracy kept beside
    reader = load_reader(reader_dir)
    store = Store(store_dir)
    rows = [c for c in r["per_clip"] if c["fingerspelled"]]
    assert len(rows) == 1
    true = store[rows[0]["id"]]
    letters = reference_letters(true)
    assert rows[0]["letters"] == letters == "wetter"
    got = reader.read([true])[0]
    assert rows[0]["read"]["ground_truth"] == got
    assert rows[0]["char_acc"]["ground_truth"] == pytest.approx(char_accuracy(letters, got))
    for name in ("fingerspelled", "gsg", "all"):
        g = r["groups"][name]
        assert g["fingerspelled_read"] == 1
        for system in SYSTEMS:
            assert g[system]["char_acc"] == pytest.approx(rows[0]["char_acc"][system])
            assert g[system]["bt_char_acc"] == pytest.approx(rows[0]["bt_char_acc"][system])
    assert r["groups"]["recorded"]["ground_truth"]["char_acc"] is None
    page = markdown_report(r)
    assert "read by the fingerspelling reader" in page and "| BT char acc |" in page
    table = per_language_table({"MLSF": r, "again": r}).splitlines()
    assert (
        table[0] == "| language | clips | ground truth (ceiling) | MLSF | again | mean-pose floor |"
    )
    assert table[2].startswith("| gsg (German Sign Language) | 1 |")
    assert table[-1].startswith("| mean (1 languages) | - |") and len(table) == 4


def test_cli_evaluate_without_bt_with_reader(
    store_dir: Path, model_dir: Path, reader_dir: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "r.json"
    args = _parser().parse_args(
        ["evaluate", "--model", str(model_dir), "--data", str(store_dir), "--reader",
         str(reader_dir), "--out", str(out), "--no-progress"]
    )  # fmt: skip
    assert args.bt is None
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "| bone CV |" in printed and "BLEU" not in printed
    r = json.loads(out.read_text())
    assert r["bt"] is None and r["settings"]["char_acc_by"] == "reader"
    assert r["groups"]["fingerspelled"]["generated"]["char_acc"] is not None

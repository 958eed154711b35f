"""The results runner's job waves (experiments/results.py: `run_all`), with the `signllm` jobs
replaced by stand-ins that write what a real run leaves behind: which job runs when, from which
checkpoint, and what the page says when a run a later job needs has failed."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from experiments import results
from experiments.results import Job, build_parser, findings, results_markdown, run_all
from signllm.errors import SignLLMError


class FakeJobs:
    """`Job.__call__` without a process: records start and end, writes the job's outputs."""

    def __init__(self, fail: set[str]) -> None:
        self.fail = fail
        self.events: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def __call__(self, job: Job) -> Job:
        with self.lock:
            self.events.append(("start", job.name))
        argv = job.argv
        out = Path(argv[argv.index("--out") + 1])
        if job.name in self.fail:
            raise SignLLMError(f"{job.name} failed (exit 1); end of {job.log_file}:\nboom")
        if argv[0] in ("train-reader", "train-bt"):
            out.mkdir(parents=True, exist_ok=True)
            (out / "config.json").write_text(json.dumps({"training": {"steps": 1}}))
        elif argv[0] == "train":
            sets = dict(argv[i + 1].split("=", 1) for i, a in enumerate(argv) if a == "--set")
            train = {"recorded_share": float(sets.get("recorded_share", 0)),
                     "ema": float(sets.get("ema", 0))}  # fmt: skip
            (out / "best").mkdir(parents=True, exist_ok=True)
            (out / "best" / "config.json").write_text(json.dumps({"train": train}))
            steps = int(argv[argv.index("--steps") + 1])
            (out / "result.json").write_text(json.dumps({"step": steps}))
        else:  # evaluate
            figures = {"dtw_mje": 0.2, "char_acc": 0.5}
            ev = {"groups": {"all": {"generated": figures, "ground_truth": {"char_acc": 0.9},
                                     "floor": {"dtw_mje": 0.4, "char_acc": 0.0}}}}  # fmt: skip
            out.write_text(json.dumps(ev))
        job.seconds = 1.0
        with self.lock:
            self.events.append(("end", job.name))
        return job


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail: set[str], *extra: str):
    fake = FakeJobs(fail)
    monkeypatch.setattr(results.Job, "__call__", lambda job: fake(job))
    monkeypatch.setattr(results, "letter_sharing", lambda: {"letters": []})
    data = tmp_path / "store"
    data.mkdir(exist_ok=True)
    (data / "store.json").write_text("{}")  # a corpus already built: not rebuilt
    args = build_parser().parse_args([
        "--runs", str(tmp_path / "runs"), "--data", str(data), "--steps", "30",
        "--group-steps", "10", "--seeds", "0,1", "--jobs", "2", *extra,
    ])  # fmt: skip
    return run_all(args), fake


def test_shared_starts_run_after_the_run_they_start_from(tmp_path, monkeypatch) -> None:
    doc, fake = _run(tmp_path, monkeypatch, set())
    order = [f"{e} {n}" for e, n in fake.events]
    for seed in (0, 1):
        start = order.index(f"end train Prompt2LangGloss (seed {seed})")
        for name in ("MLSF, shared start", "Prompt2LangGloss, continued"):
            assert order.index(f"start train {name} (seed {seed})") > start
    assert len(doc["runs"]) == len(results.VARIANTS) and not doc["failed"]
    cmds = "\n".join(doc["commands"])
    best = tmp_path / "runs" / "prompt2langgloss" / "seed1" / "best"
    assert f"--group-init {best}" in cmds and f"--init-from {best}" in cmds
    # the continued run's own settings come from its saved config; its steps count the start's
    cont = doc["runs"]["Prompt2LangGloss, continued"]["0"]
    assert cont["settings"] == ["recorded_share=0.1", "ema=0.999"]
    assert cont["start"]["step"] == 30 and cont["train"]["step"] == 10
    page = results_markdown(doc)
    assert "| Prompt2LangGloss, continued | 30 + 10 |" in page


def test_a_failed_start_is_reported_and_the_other_seed_goes_on(tmp_path, monkeypatch) -> None:
    doc, fake = _run(tmp_path, monkeypatch, {"train Prompt2LangGloss (seed 1)"})
    started = {n for e, n in fake.events if e == "start"}
    assert "train MLSF, shared start (seed 0)" in started
    assert "train MLSF, shared start (seed 1)" not in started
    failed = "\n".join(doc["failed"])
    assert "train Prompt2LangGloss (seed 1) failed" in failed
    assert "train MLSF, shared start (seed 1) failed: no Prompt2LangGloss checkpoint" in failed
    assert set(doc["runs"]["MLSF, shared start"]) == {"0"}
    assert any("**MLSF, shared start**" in f for f in findings(doc))


def test_only_a_shared_start_trains_its_start_without_reporting_it(tmp_path, monkeypatch) -> None:
    doc, fake = _run(tmp_path, monkeypatch, set(), "--only", "prompt2langgloss_continued")
    trained = [n for e, n in fake.events if e == "start" and n.startswith("train ")]
    assert "train Prompt2LangGloss (seed 0)" in trained and "train MLSF (seed 0)" not in trained
    assert list(doc["runs"]) == ["Prompt2LangGloss, continued"]
    # a second invocation with --reuse runs nothing again
    doc2, fake2 = _run(tmp_path, monkeypatch, set(), "--only", "prompt2langgloss_continued",
                       "--reuse")  # fmt: skip
    assert fake2.events == [] and doc2["runs"].keys() == doc["runs"].keys()

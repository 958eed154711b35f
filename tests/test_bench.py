"""Every bench runs at toy size, and counts what was actually produced (no over-reporting)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[1] / "bench"


def bench(name: str):
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def last_json(capsys: pytest.CaptureFixture[str]) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_interleave_refuses_a_short_count() -> None:
    common = bench("common")
    ok = common.Contender("ok", lambda: 10, 10)
    short = common.Contender("short", lambda: 9, 10)  # produced fewer frames than it claims
    with pytest.raises(AssertionError, match="produced 9 frames, asked for 10"):
        common.interleave([ok, short], repeats=1)
    out = common.interleave([common.Contender("ok", lambda: 10, 10)], repeats=3, warmup=False)
    assert out["ok"]["frames_per_run"] == 10 and len(out["ok"]["frames_per_s_runs"]) == 3
    assert len(out["ok"]["load_at_runs"]) == 3


def test_decode_bench_forces_and_counts_every_frame(capsys: pytest.CaptureFixture[str]) -> None:
    mod = bench("decode")
    report = mod.main(["--size", "tiny", "--frames", "12", "--repeats", "2", "--batch", "3"])
    assert report == last_json(capsys)
    assert set(report) == {"bench", "machine", "settings", "measured", "quoted"}
    b1, b3 = report["measured"]["batch_1"], report["measured"]["batch_3"]
    for name in ("fused", "fused_kinematic", "reference", "baseline_pt_style", "matmul_floor"):
        assert b1[name]["frames_per_run"] == 12
        assert len(b1[name]["frames_per_s_runs"]) == len(b1[name]["load_at_runs"]) == 2
    assert b3["fused"]["frames_per_run"] == b3["reference"]["frames_per_run"] == 36
    steps = report["measured"]["step_ms_batch_1"]["fused"]
    assert steps["frame_10"] is not None and steps["frame_10"] > 0
    assert "value" in report["quoted"]["real_pt_code_b1"]  # quoted figures say they are quoted


def test_decode_bench_counts_frames_produced_not_asked() -> None:
    """The old bench divided the asked-for frames by the time of a run that stopped earlier."""
    mod = bench("decode")
    torch.manual_seed(0)
    model = mod.ProgressiveTransformer(mod.preset_config("tiny", vocab_size=404, pose_dim=150))
    with torch.no_grad():
        model.length_head.bias.fill_(2.0)  # a plan of ~7 frames
    tok = mod.tokens(1)
    stopped = model.generate(tok, tok != 0, max_frames=20)
    assert int(stopped["mask"].sum()) < 20  # the length plan stops it: the bench must not
    assert mod.project(model, 1, 20, None)() == 20
    common = bench("common")
    early = common.Contender(
        "stops", lambda: int(model.generate(tok, max_frames=20)["mask"].sum()), 20
    )
    with pytest.raises(AssertionError, match="asked for 20"):
        common.interleave([early], repeats=1)


def test_store_bench_toy(capsys: pytest.CaptureFixture[str]) -> None:
    report = bench("store").main(["--scale", "1"])
    assert report == last_json(capsys)
    m = report["measured"]
    assert m["how2sign_2d"]["frames"] == 684 and m["scale"]["frames"] > 684
    assert m["ratio_store_to_json"] <= 0.03 and m["max_error_shoulder_widths"] < 1e-3
    assert m["target_ratio_to_json_le_0.03_and_error_lt_1e-3"] is True
    assert report["quoted"] == {}


@pytest.mark.slow
def test_startup_bench_toy(capsys: pytest.CaptureFixture[str]) -> None:
    report = bench("startup").main(["--clips", "10", "--repeats", "1"])
    assert report == last_json(capsys)
    m = report["measured"]
    assert m["small_cold"]["train_clips"] == 9 and m["big_warm"]["train_clips"] == 180
    assert m["ratio_big_to_small_warm"] > 0


@pytest.mark.slow
def test_train_bench_toy(capsys: pytest.CaptureFixture[str]) -> None:
    argv = "--size tiny --steps 2 --warmup 1 --rounds 2 --clips 3 --memory-steps 1 --e2e-clips 20"
    report = bench("train").main(argv.split())
    assert report == last_json(capsys)
    m = report["measured"]
    assert m["frames_per_s"]["ours_model_only"]["median"] > 0
    assert m["frames_per_s"]["baseline_pt_style"]["median"] > 0
    assert len(m["load_at_rounds"]) == 2
    assert m["memory"]["10n"]["clips"] == 30


def test_train_bench_refuses_a_step_that_trains_fewer_frames() -> None:
    mod = bench("train")
    batches = mod.memory_batches(2)
    with pytest.raises(AssertionError, match="the batch has"):
        mod.time_steps(lambda batch: int(batch[2].sum()) - 1, batches, warmup=1)


def test_threads_bench_toy(capsys: pytest.CaptureFixture[str]) -> None:
    mod = bench("threads")
    before = torch.get_num_threads()
    try:
        report = mod.main(["--sizes", "tiny", "--threads", "1,2", "--steps", "1", "--rounds", "1"])
    finally:
        torch.set_num_threads(before)
    assert report == last_json(capsys)
    row = report["measured"]["steps_per_s"]["tiny"]
    assert row["1"] > 0 and row["2"] > 0 and row["speedup_max_vs_1"] > 0
    runs = report["measured"]["runs"]
    assert runs["tiny@1"]["frames_per_run"] == report["settings"]["frames_per_run"] > 0
    assert report["rule_today"] >= 1

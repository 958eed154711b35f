"""DDP on CPU (gloo): two torchrun processes end with identical weights, equal (within float
tolerance) to one process trained on the same global batches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()), reason="needs torch.distributed gloo"
)


def env() -> dict[str, str]:
    e = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        e.pop(k, None)
    return e


def test_two_ranks_match_each_other_and_one_process(tmp_path: Path, tiny_store) -> None:
    from safetensors.torch import load_file

    store = tiny_store()
    # both languages in mixed batches: MLSF groups go unused on some ranks/steps
    common = ["--data", str(store), "--size", "tiny", "--steps", "6", "--batch-size", "4",
              "--set", "language_batches=false",
              "--max-clip-frames", "24", "--lr", "2e-3", "--warmup-steps", "2",
              "--eval-every", "0", "--eval-clips", "2", "--log-every", "2", "--no-progress"]  # fmt: skip
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node"]
    ddp = subprocess.run(
        [*torchrun, "2", "-m", "signllm", "train", *common, "--out", str(tmp_path / "ddp")],
        env=env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    single = subprocess.run(
        [sys.executable, "-m", "signllm", "train", *common, "--out", str(tmp_path / "one")],
        env=env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert single.returncode == 0, single.stderr[-3000:]

    result = json.loads((tmp_path / "ddp" / "result.json").read_text())
    assert result["world_size"] == 2
    assert len(result["rank_digests"]) == 2
    assert result["rank_digests"][0] == result["rank_digests"][1]  # bit-identical ranks

    a = load_file(str(tmp_path / "ddp" / "last" / "model.safetensors"))
    b = load_file(str(tmp_path / "one" / "last" / "model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5, msg=k)

    def losses(run: str) -> list[float]:
        path = tmp_path / run / "metrics.jsonl"
        return [r["loss"] for r in map(json.loads, path.read_text().splitlines()) if "loss" in r]

    assert losses("ddp") == pytest.approx(losses("one"), rel=1e-4)

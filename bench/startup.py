"""Trainer start-up time against corpus size; prints ONE JSON line.

Writes two synthetic stores of many small clips (`--clips` and 20x that, 8-15 frames each, 9 in
10 train, words from a 400-word gloss vocabulary) with `StoreWriter`, then times, each in a fresh
process (imports included): `Trainer(config)` up to its first step, default config (tiny size,
kinematic head, char tokenizer, normalisation stats and body fitted on up to 2000 clips).
"cold": the first start on a store (no start-up cache: tokenizers, stats, body and clip index
are derived from the whole train split and cached beside the store); "warm": the next starts (the
cache is read and the index memory-mapped). Cold and warm runs of both sizes alternate, with the
1-minute load recorded at each; medians reported.

    .venv/bin/python bench/startup.py                 # 1k vs 20k clips
    .venv/bin/python bench/startup.py --clips 200 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import load_avg, machine  # noqa: E402

WORDS = [f"W{i}" for i in range(400)]


def write_store(path: Path, n: int) -> float:
    from signllm.data.store import StoreWriter
    from signllm.pose import Pose, PoseMeta

    t0 = time.perf_counter()
    with StoreWriter(path) as w:
        for i in range(n):
            rng = np.random.default_rng(i)
            t = 8 + i % 8
            data = np.cumsum(rng.normal(0, 0.01, (t, 50, 3)), 0) + rng.normal(0, 0.3, (50, 3))
            data[:, 2], data[:, 5] = [-0.5, 0, 0], [0.5, 0, 0]
            words = " ".join(rng.choice(WORDS, int(rng.integers(4, 10))))
            meta = PoseMeta(id=f"c{i}", language="gsg", gloss=words, text=words.lower())
            pose = Pose(data.astype(np.float32), np.ones((t, 50), np.float32), 25.0, meta=meta)
            w.add(pose, split="train" if i % 10 else "dev")
    return time.perf_counter() - t0


def child(store: str, out: str) -> None:
    """Imports + `Trainer(...)`, timed from this process's start (one JSON line)."""
    t0 = time.perf_counter()
    import torch

    from signllm.train import distributed as D
    from signllm.train.config import TrainConfig
    from signllm.train.trainer import Trainer

    torch.set_num_threads(1)
    t1 = time.perf_counter()
    cfg = TrainConfig(
        data=store, out=out, size="tiny", steps=1, eval_every=0, checkpoint_every=0, progress=False
    ).validate()
    tr = Trainer(cfg, D.setup("cpu"))
    t2 = time.perf_counter()
    # imports_s: only what this child imports beyond the bench's own (torch is already in)
    print(json.dumps({"imports_s": t1 - t0, "init_s": t2 - t1, "train_clips": len(tr.index)}))


def start(store: Path, out: Path, cold: bool) -> dict:
    if cold:
        shutil.rmtree(store / ".signllm-cache", ignore_errors=True)
    load = load_avg()
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--child", str(store), str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - t0
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    return {**r, "process_s": wall, "load": load}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=1000, help="the small store; the big has 20x")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(*args.child)
        return {}
    sizes = {"small": args.clips, "big": 20 * args.clips}
    measured: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_s = {k: write_store(root / k, n) for k, n in sizes.items()}
        runs: dict = {f"{k}_{m}": [] for k in sizes for m in ("cold", "warm")}
        for _ in range(args.repeats):  # alternate sizes and cold/warm: the load hits all alike
            for k in sizes:
                runs[f"{k}_cold"].append(start(root / k, root / f"out-{k}", cold=True))
                runs[f"{k}_warm"].append(start(root / k, root / f"out-{k}", cold=False))
        for name, rs in runs.items():
            measured[name] = {
                "process_s_median": round(float(np.median([r["process_s"] for r in rs])), 2),
                "trainer_init_s_median": round(float(np.median([r["init_s"] for r in rs])), 2),
                "train_clips": rs[0]["train_clips"],
                "load_at_runs": [r["load"] for r in rs],
            }
        measured["store_write_s"] = {k: round(v, 1) for k, v in write_s.items()}
    for m in ("cold", "warm"):
        measured[f"ratio_big_to_small_{m}"] = round(
            measured[f"big_{m}"]["process_s_median"] / measured[f"small_{m}"]["process_s_median"],
            2,
        )
    settings = {"clips": sizes, "repeats": args.repeats, "frames_per_clip": "8..15"}
    report = {"bench": "startup", "machine": machine(), "settings": settings}
    report.update(measured=measured, quoted={})  # quoted: none, every figure measured here
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()

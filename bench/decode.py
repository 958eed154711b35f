"""Decoding speed of the Progressive Transformer (honest generation); prints ONE JSON line.

PT-base size (2+2 layers, d_model 512, 4 heads, d_ff 2048, 150 pose values + counter), random
weights, 12 input tokens, 200 frames per sequence (the stop threshold is set above 1, so every
sequence runs the full length: speed does not depend on what an untrained model predicts).

- frames/s of `ProgressiveTransformer.generate` at batch 1 and 32, with the KV cache (default) and
  without it (full recomputation of the decoder over all frames so far, every step);
- step time at frame 10 and frame 190 (median of a window of 5 steps around each; per step the
  best of `--repeats` runs), batch 1, with and without the cache, timed on the same decode loop
  that `generate` runs;
- baseline in the same run: a naive Progressive-Transformers-style greedy decoder
  (bench/train.py's `NaivePT`: hand-written attention, masks rebuilt and the whole decoder re-run
  over every frame each step, as PT's inference does), at batch 1 (and 32 with `--full`).
Generated frames/s = batch x frames / wall time (encoder included).

    .venv/bin/python bench/decode.py
    .venv/bin/python bench/decode.py --frames 300 --repeats 3
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from signllm.models.progressive import (  # noqa: E402
    KVCache,
    ProgressiveTransformer,
    preset_config,
)
from signllm.train.runtime import set_threads  # noqa: E402


def _naive_pt() -> type:
    spec = importlib.util.spec_from_file_location(
        "bench_train", Path(__file__).with_name("train.py")
    )
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.NaivePT


def tokens(b: int, s: int = 12, vocab: int = 404) -> torch.Tensor:
    return torch.randint(4, vocab, (b, s), generator=torch.Generator().manual_seed(b))


def best_rate(fn, frames: int, repeats: int) -> float:
    """Frames/s of the fastest of `repeats` runs (a shared machine only ever slows things)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return frames / min(times)


@torch.no_grad()
def step_times(model: ProgressiveTransformer, frames: int, use_cache: bool) -> list[float]:
    """Seconds per decode step at batch 1: the loop of `ProgressiveTransformer._generate`."""
    cfg = model.config
    tok = tokens(1)
    memory, mask = model.encode(tok, tok != 0)
    kv = model.memory_kv(memory)
    dh = cfg.d_model // cfg.n_heads
    caches = (
        [KVCache(1, cfg.n_heads, frames, dh, memory) for _ in model.dec_layers]
        if use_cache
        else None
    )
    x = model._start_frame(1)
    history = x
    out = []
    for step in range(frames):
        t0 = time.perf_counter()
        if caches is not None:
            h = model.decode(x, kv, mask, start=step, caches=caches)
        else:
            h = model.decode(history, kv, mask)[:, -1:]
        o = model._heads(h)
        x = torch.cat([o["pose"][:, 0], o["counter"][:, :1]], -1)[:, None]
        if caches is None:
            history = torch.cat([history, x], 1)
        out.append(time.perf_counter() - t0)
    return out


@torch.no_grad()
def naive_step_times(model, frames: int) -> list[float]:
    tok = tokens(1)
    mem, src_mask = model.encode(tok)
    ys = torch.zeros(1, 1, model.out.out_features)
    out = []
    for _ in range(frames):
        t0 = time.perf_counter()
        o = model.decode(ys, mem, src_mask)
        ys = torch.cat([ys, o[:, -1:]], 1)
        out.append(time.perf_counter() - t0)
    return out


def at(times: list[float], i: int) -> float:
    """Median step time (ms) of the 5 steps around step i (frame i + 1)."""
    return round(1000 * float(np.median(times[max(0, i - 2) : i + 3])), 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument(
        "--threads", type=int, default=0, help="torch threads (default: signllm's rule for pt-base)"
    )
    ap.add_argument("--repeats", type=int, default=2, help="runs per setting; the best counts")
    ap.add_argument("--full", action="store_true", help="also the baseline at batch 32 (slow)")
    args = ap.parse_args()
    n = args.frames
    torch.manual_seed(0)
    model = ProgressiveTransformer(preset_config("pt-base", vocab_size=404, pose_dim=150)).eval()
    set_threads(args.threads, sum(p.numel() for p in model.parameters()))
    torch.manual_seed(0)
    naive = _naive_pt()(404, 151).eval()

    def gen(b: int, cache: bool):
        tok = tokens(b)
        return lambda: model.generate(tok, tok != 0, max_frames=n, threshold=2.0, use_cache=cache)

    gen(1, True)()  # warm-up
    settings = {"size": "pt-base", "frames_per_sequence": n, "repeats": args.repeats}
    result: dict = {}  # measured in this run
    # order matters on this VM: after the big no-cache batch-32 run, small steps ran 5-20x
    # slower for the rest of the process (allocator/page state), so that run comes last
    i10, i190 = 9, min(189, n - 3)
    steps = {}
    for label, run in (
        ("cache", lambda: step_times(model, n, True)),
        ("no_cache", lambda: step_times(model, n, False)),
        ("baseline_pt_style", lambda: naive_step_times(naive, n)),
    ):
        times = np.min([run() for _ in range(args.repeats)], axis=0).tolist()  # per step, best
        steps[label] = {f"frame_{i10 + 1}": at(times, i10), f"frame_{i190 + 1}": at(times, i190)}
    fps = {}
    fps["b1_cache"] = round(best_rate(gen(1, True), n, args.repeats + 1), 1)
    fps["b1_no_cache"] = round(best_rate(gen(1, False), n, args.repeats), 1)
    fps["b32_cache"] = round(best_rate(gen(32, True), 32 * n, args.repeats), 1)
    tok1 = tokens(1)
    fps["b1_baseline_pt_style"] = round(best_rate(lambda: naive.greedy(tok1, n), n, 1), 1)
    if args.full:
        tok32 = tokens(32)
        fps["b32_baseline_pt_style"] = round(
            best_rate(lambda: naive.greedy(tok32, n), 32 * n, 1), 1
        )
    fps["b32_no_cache"] = round(best_rate(gen(32, False), 32 * n, 1), 1)
    result["frames_per_s"] = fps
    result["speedup_b1_cache_vs_baseline"] = round(fps["b1_cache"] / fps["b1_baseline_pt_style"], 1)
    result["step_ms_batch1"] = steps
    # quoted, not measured here (baseline_pt_style above is a same-size stand-in, measured)
    src = "as recorded in bench/decode.py (fc4d250); where it was measured is not recorded"
    quoted = {
        "target_b1_cache_frames_per_s": {
            "value": 470,
            "source": "the project's batch-1 decoding target (bench/decode.py since fc4d250)",
        },
        "pt_code_b1_frames_per_s": {
            "value": 47,
            "source": f"the real Progressive Transformers code on the project's 2-core VM, {src}",
        },
        "pt_code_step_ms_frame_10_to_190": {
            "value": [10, 45],
            "source": f"the same real-PT run (step time grows with the frame), {src}",
        },
    }
    machine = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
    report = {"bench": "decode", "machine": machine, "settings": settings}
    print(json.dumps({**report, "measured": result, "quoted": quoted}))


if __name__ == "__main__":
    main()

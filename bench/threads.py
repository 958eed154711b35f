"""Training steps/s at 1 vs 2 (or more) torch threads per model size; prints ONE JSON line.

Why: `signllm.train.runtime.default_threads` picks the thread count for train, train-bt and the
benches. Its rule came from a busy machine (load 5 to 9, no idle core); this bench measures the
same trade on whatever machine runs it, interleaved (every size x thread count once per round,
so a neighbour's burst hits all alike), with the load beside every figure. Steps are the real
model's loss + backward + clip + AdamW on in-memory batches (default: shaped like PHOENIX runs,
8 clips of 120..180 frames, 12 tokens; `--batch 16 --frames 20,80` is the demo corpus's letter
words), so data loading does not blur the thread effect.

    .venv/bin/python bench/threads.py                          # tiny, small, pt-base; 1 and 2
    .venv/bin/python bench/threads.py --sizes tiny --threads 1,2 --steps 2 --rounds 1   # toy
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Contender, interleave, machine
from train import memory_batches

from signllm.models.progressive import ProgressiveTransformer, preset_config
from signllm.train.runtime import default_threads


def contender(size: str, threads: int, batches: list[tuple]) -> tuple[Contender, int]:
    """A run = one optimizer step per batch at `threads`; it returns the frames it trained on."""
    torch.manual_seed(0)
    model = ProgressiveTransformer(preset_config(size, vocab_size=404, pose_dim=150))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    real = int(sum(int(b[2].sum()) for b in batches))

    def run() -> int:
        torch.set_num_threads(threads)
        done = 0
        for tokens, frames, fmask in batches:
            out = model.loss(tokens, tokens != 0, frames, fmask)
            opt.zero_grad(set_to_none=True)
            out["loss"].backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            done += int(out["counter_count"].sum())  # the frames the loss counted
        return done

    params = sum(p.numel() for p in model.parameters())
    return Contender(f"{size}@{threads}", run, real), params


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="tiny,small,pt-base", help="model presets, comma-separated")
    ap.add_argument("--threads", default="1,2", help="thread counts, comma-separated")
    ap.add_argument("--steps", type=int, default=4, help="optimizer steps per timed run")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median reported)")
    ap.add_argument("--batch", type=int, default=8, help="clips per batch")
    ap.add_argument("--frames", default="120,180", help="clip length range LO,HI (frames)")
    args = ap.parse_args(argv)
    sizes = [s for s in args.sizes.split(",") if s]
    counts = [int(t) for t in args.threads.split(",") if t]
    lo, hi = (int(x) for x in args.frames.split(","))
    batches = memory_batches(args.steps, args.batch, lengths_in=(lo, hi))
    frames = int(sum(int(b[2].sum()) for b in batches))
    contenders, params = [], {}
    for size in sizes:
        for t in counts:
            c, params[size] = contender(size, t, batches)
            contenders.append(c)
    before = machine()
    res = interleave(contenders, args.rounds)
    steps_per_s: dict[str, dict[str, float]] = {}
    for size in sizes:
        row = {}
        for t in counts:
            fps = res[f"{size}@{t}"]["frames_per_s_median"]
            row[str(t)] = round(fps / frames * args.steps, 3)
        row["speedup_max_vs_1"] = round(row[str(max(counts))] / row[str(min(counts))], 2)
        steps_per_s[size] = row
    out = {
        "bench": "threads",
        "measured": {
            "steps_per_s": steps_per_s,
            "runs": res,
            "params_m": {s: round(p / 1e6, 2) for s, p in params.items()},
        },
        "settings": {
            "steps": args.steps,
            "rounds": args.rounds,
            "batch": f"{args.batch} clips x {lo}..{hi} frames",
            "frames_per_run": frames,
        },
        "rule_today": default_threads(),  # the same for every size
        "machine_before": before,
        "machine": machine(),
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()

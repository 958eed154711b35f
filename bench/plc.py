"""PLC vs uniform sampling: optimizer steps to reach a fixed dev loss; prints ONE JSON line.

Issue 4, item 5. On the demo corpus (languages gsg,ase,sgg by default: the ones with real
signing), the tiny model is trained with the real trainer (`signllm.train.trainer.train`) in
several arms that differ only in the PLC options (signllm/train/plc.py):
  - "uniform":  plc.eta = 0 (exactly the plain shuffled stream);
  - "plc_hard": plc.eta = 0.5, favour = "hard", importance weights on (the default PLC config);
  - "plc_easy": plc.eta = 0.5, favour = "easy" (the paper's literal direction; only with
    `--arms uniform,plc_hard,plc_easy`).
Each arm runs `--seeds` seeds (same seeds across arms). Every run: tokenizer text, batch 16, lr
1e-3, the dev teacher-forced loss every `--eval-every` steps on the whole dev split of the chosen
languages (`eval_loss_clips` covers it), and honest decoding of only `--eval-clips` dev clips
(slow). The dev loss curve is read from OUT/metrics.jsonl.

Target. `--target X`, or by default the mean over the uniform seeds of the dev loss at the last
evaluation at or before `--target-frac` (0.7) of the steps. Steps to target = the first evaluation
step whose dev loss is <= target (so a resolution of `--eval-every` steps), or null = not reached.
Caveat: with the default target, the uniform arm reaches it by construction at <= 70% of the steps
on average; the comparison is how much earlier (or later) PLC gets there.

Each run is a subprocess with torch threads = 1; `--parallel` runs at once (default 2).

    .venv/bin/python bench/plc.py                                  # builds /tmp/plc_demo if needed
    .venv/bin/python bench/plc.py --data /tmp/plc_demo --steps 400 --seeds 0,1,2
    .venv/bin/python bench/plc.py --arms uniform,plc_hard,plc_easy --target 0.9

Output: one JSON line on stdout (per-run curves, per-arm steps to target, mean, final dev loss,
wall time, machine); a markdown table on stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

ARMS: dict[str, dict[str, object]] = {
    "uniform": {"eta": 0.0},
    "plc_hard": {"eta": 0.5, "favour": "hard", "importance_weights": True},
    "plc_easy": {"eta": 0.5, "favour": "easy", "importance_weights": True},
}


# ----------------------------------------------------------------------------------------------
# One run (in its own process: torch threads = 1)


def worker(spec: dict) -> dict:
    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, str(REPO))
    from signllm.train.config import PLCOptions, TrainConfig
    from signllm.train.trainer import train

    cfg = TrainConfig(
        data=spec["data"],
        out=spec["out"],
        mode="mlsf",
        languages=spec["languages"],
        tokenizer="text",
        size="tiny",
        batch_size=spec["batch_size"],
        lr=spec["lr"],
        steps=spec["steps"],
        eval_every=spec["eval_every"],
        eval_clips=spec["eval_clips"],
        eval_loss_clips=spec["eval_loss_clips"],
        checkpoint_every=0,
        log_every=spec["eval_every"],
        progress=False,
        seed=spec["seed"],
        device="cpu",
        plc=PLCOptions(**spec["plc"]),
    )
    t0 = time.perf_counter()
    result = train(cfg)
    wall = time.perf_counter() - t0
    curve = []
    for line in (Path(spec["out"]) / "metrics.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if "dev_loss" in row and row["dev_loss"] is not None:
            curve.append([row["step"], row["dev_loss"]])
    return {"curve": curve, "wall_s": wall, "final_step": result.step}


def run_one(spec: dict) -> dict:
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--_worker", json.dumps(spec)],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"run {spec['arm']} seed {spec['seed']} failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    print(
        f"  done {spec['arm']} seed {spec['seed']}: final dev loss {out['curve'][-1][1]:.4f}, "
        f"{out['wall_s']:.0f} s",
        file=sys.stderr,
        flush=True,
    )
    return {**spec, **out}


# ----------------------------------------------------------------------------------------------
# Analysis


def loss_at(curve: list[list[float]], step: float) -> float:
    """Dev loss at the last evaluation at or before `step`."""
    before = [v for s, v in curve if s <= step]
    return before[-1] if before else curve[0][1]


def steps_to(curve: list[list[float]], target: float) -> int | None:
    for s, v in curve:
        if v <= target:
            return int(s)
    return None


def machine() -> dict:
    import torch

    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads_per_run": 1,
    }


def dev_clip_count(data: str, languages: list[str]) -> int:
    n = 0
    with open(Path(data) / "manifest.jsonl", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            if d.get("split") == "dev" and d.get("language") in languages:
                n += 1
    return n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="store directory (default: build the demo in /tmp/plc_demo)")
    ap.add_argument("--languages", default="gsg,ase,sgg")
    ap.add_argument("--arms", default="uniform,plc_hard", help=f"of {','.join(ARMS)}")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--eval-every", type=int, default=25)
    ap.add_argument("--eval-clips", type=int, default=2, help="dev clips decoded (DTW; slow)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--target", type=float, help="dev loss target (default: from uniform runs)")
    ap.add_argument("--target-frac", type=float, default=0.7)
    ap.add_argument("--parallel", type=int, default=2, help="runs at once (1 thread each)")
    ap.add_argument("--keep", help="keep the run directories here (default: a temp dir)")
    ap.add_argument("--_worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args._worker:
        print(json.dumps(worker(json.loads(args._worker))))
        return 0

    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    for a in arms:
        if a not in ARMS:
            ap.error(f"unknown arm {a!r} (choose from {', '.join(ARMS)})")
    if args.target is None and "uniform" not in arms:
        ap.error("without --target the arms must include 'uniform'")
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    languages = [c.strip() for c in args.languages.split(",") if c.strip()]

    t_all = time.perf_counter()
    data = args.data
    if data is None:
        data = "/tmp/plc_demo"
        if not (Path(data) / "manifest.jsonl").exists():
            print(f"building the demo corpus in {data} ...", file=sys.stderr, flush=True)
            subprocess.run(
                [
                    str(Path(sys.executable).parent / "signllm"),
                    "data",
                    "demo",
                    "-o",
                    data,
                    "--workers",
                    "1",
                ],
                check=True,
                stdout=subprocess.DEVNULL,
            )
    n_dev = dev_clip_count(data, languages)
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="plc_bench_"))
    specs = [
        {
            "arm": arm,
            "seed": seed,
            "data": data,
            "out": str(root / f"{arm}_s{seed}"),
            "languages": languages,
            "batch_size": args.batch_size,
            "lr": args.lr,
            "steps": args.steps,
            "eval_every": args.eval_every,
            "eval_clips": args.eval_clips,
            "eval_loss_clips": max(n_dev, 1),
            "plc": ARMS[arm],
        }
        for seed in seeds
        for arm in arms
    ]
    print(
        f"{len(specs)} runs ({', '.join(arms)} x seeds {seeds}), {args.steps} steps, "
        f"{n_dev} dev clips, {args.parallel} at once, in {root}",
        file=sys.stderr,
        flush=True,
    )
    with ThreadPoolExecutor(max_workers=max(1, args.parallel)) as pool:
        runs = list(pool.map(run_one, specs))

    # target
    frac_step = args.target_frac * args.steps
    if args.target is not None:
        target, target_how = args.target, "given (--target)"
    else:
        vals = [loss_at(r["curve"], frac_step) for r in runs if r["arm"] == "uniform"]
        target = statistics.fmean(vals)
        target_how = (
            f"mean uniform dev loss at the last eval <= {args.target_frac:g} x {args.steps} steps"
        )

    per_arm = {}
    for arm in arms:
        rs = [r for r in runs if r["arm"] == arm]
        reached = {str(r["seed"]): steps_to(r["curve"], target) for r in rs}
        hit = [v for v in reached.values() if v is not None]
        finals = [r["curve"][-1][1] for r in rs]
        per_arm[arm] = {
            "plc": ARMS[arm],
            "steps_to_target": reached,
            "reached": len(hit),
            "mean_steps_to_target": statistics.fmean(hit) if hit else None,
            # not-reached runs counted as `steps` (a lower bound on the true mean)
            "mean_steps_censored": statistics.fmean(
                [v if v is not None else args.steps for v in reached.values()]
            ),
            "final_dev_loss": {str(r["seed"]): r["curve"][-1][1] for r in rs},
            "mean_final_dev_loss": statistics.fmean(finals),
            "std_final_dev_loss": statistics.stdev(finals) if len(finals) > 1 else 0.0,
            "best_dev_loss_mean": statistics.fmean(min(v for _, v in r["curve"]) for r in rs),
            "wall_s_per_run": statistics.fmean(r["wall_s"] for r in rs),
        }

    out = {
        "bench": "plc",
        "machine": machine(),
        "settings": {
            "data": data,
            "languages": languages,
            "dev_clips": n_dev,
            "size": "tiny",
            "tokenizer": "text",
            "batch_size": args.batch_size,
            "lr": args.lr,
            "steps": args.steps,
            "eval_every": args.eval_every,
            "seeds": seeds,
            "target_dev_loss": target,
            "target_how": target_how,
        },
        "measured": {
            "arms": per_arm,
            "curves": {f"{r['arm']}/s{r['seed']}": r["curve"] for r in runs},
            "wall_s_total": time.perf_counter() - t_all,
        },
        "quoted": {},  # none: every figure is measured in this run
    }

    # markdown table
    def f(v: int | None) -> str:
        return "not reached" if v is None else str(v)

    head = "| arm | " + " | ".join(f"seed {s}" for s in seeds)
    head += " | mean steps (reached) | final dev loss (mean ± sd) | s/run |"
    lines = [
        f"target dev loss {target:.4f} ({target_how})",
        "",
        head,
        "|" + "---|" * (len(seeds) + 4),
    ]
    for arm, a in per_arm.items():
        cells = [f(a["steps_to_target"][str(s)]) for s in seeds]
        mean = a["mean_steps_to_target"]
        mean_s = f"{mean:.0f} ({a['reached']}/{len(seeds)})" if mean is not None else "—"
        lines.append(
            f"| {arm} | " + " | ".join(cells) + f" | {mean_s} | "
            f"{a['mean_final_dev_loss']:.4f} ± {a['std_final_dev_loss']:.4f} | "
            f"{a['wall_s_per_run']:.0f} |"
        )
    print("\n".join(lines), file=sys.stderr)
    print(json.dumps(out, default=lambda x: None if isinstance(x, float) and math.isnan(x) else x))
    return 0


if __name__ == "__main__":
    sys.exit(main())

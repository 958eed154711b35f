"""Benchmark: 2D -> 3D lifting (signllm.data.lift) on the bundled real How2Sign clips.

Prints ONE JSON line: seconds per 100 frames (the clips are 62-210 frames; time is scaled by frame
count), the reprojection error (mean px over observed points, and relative to the shoulder width),
steps, and the machine. The original authors needed ~36 s per clip on a GPU; the aim here is
<= 0.5 s per 100-frame clip on one CPU core.

    python bench/lift.py                          # one clip at a time, 1 CPU thread
    python bench/lift.py --batch --copies 20      # 100 clips in one padded batch
    python bench/lift.py --device cuda --batch --copies 200
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from signllm.data.clean import interpolate_missing, prune_frames  # noqa: E402
from signllm.data.formats.openpose_json import read_openpose_folder  # noqa: E402
from signllm.data.lift import (  # noqa: E402
    DEFAULT_LR,
    DEFAULT_STEPS,
    bone_length_pairs,
    bone_lengths,
    lift_batch,
)

SAMPLES = ROOT / "signllm" / "assets" / "samples" / "how2sign" / "openpose_json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", type=Path, default=SAMPLES, help="folder of OpenPose clip folders")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1 core)")
    ap.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    ap.add_argument("--lr", type=float, default=DEFAULT_LR)
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    ap.add_argument("--batch", action="store_true", help="lift all clips in one padded batch")
    ap.add_argument("--copies", type=int, default=1, help="repeat the clip list (batch timing)")
    ap.add_argument("--batch-size", type=int, default=None, help="--batch: clips per padded group")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs; the median is reported")
    ap.add_argument("--clean", action="store_true", help="prune + interpolate before lifting")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    poses = [read_openpose_folder(p) for p in sorted(args.clips.iterdir()) if p.is_dir()]
    if args.clean:
        poses = [interpolate_missing(prune_frames(p)) for p in poses]
    poses = poses * args.copies
    frames = sum(p.num_frames for p in poses)

    def run() -> list:
        if args.batch:
            return lift_batch(poses, args.steps, args.lr, args.device, dtype, args.batch_size)
        return [lift_batch([p], args.steps, args.lr, args.device, dtype)[0] for p in poses]

    lift_batch(poses[:1], 5, args.lr, args.device, dtype)  # warm-up (allocator, kernels)
    times, cpu_times = [], []
    for _ in range(args.repeat):
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        t0, c0 = time.perf_counter(), time.process_time()
        out = run()
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
    sec = statistics.median(times)
    # CPU time of this process: on a shared, busy machine it is what the run would take on a core
    # of its own (wall time then includes waiting for the core).
    cpu_sec = statistics.median(cpu_times)

    n = len(poses) // args.copies  # the distinct clips
    err = [q.meta.extra["lift"]["reprojection_error"] for q in out[:n]]
    rel = [q.meta.extra["lift"]["reprojection_error_rel"] for q in out[:n]]
    tie = max(
        float(np.abs(bl[:, a] - bl[:, b]).max())
        for q in out[:n]
        for bl in [bone_lengths(q)]
        for a, b in bone_length_pairs(q.skeleton)
    )
    settings = {
        "mode": "batch" if args.batch else "one clip at a time",
        "batch_size": args.batch_size if args.batch else 1,
        "steps": args.steps,
        "lr": args.lr,
        "dtype": args.dtype,
        "cleaned": args.clean,
    }
    measured = {
        "clips": len(poses),
        "frames": frames,
        "seconds_total": round(sec, 4),
        "seconds_per_100_frames": round(sec / frames * 100, 4),
        "cpu_seconds_per_100_frames": round(cpu_sec / frames * 100, 4),
        "reprojection_error_px": round(float(np.mean(err)), 3),
        "reprojection_error_rel_shoulder": round(float(np.mean(rel)), 5),
        "reprojection_error_px_per_clip": [round(e, 3) for e in err],
        "max_left_right_length_gap_px": round(tie, 5),
    }
    quoted = {
        "original_lift_s_per_clip_gpu": {
            "value": 36,
            "source": "Prompt2Sign's original lifting (plain gradient descent, 1000 steps, a "
            "TensorFlow graph per clip), as described in signllm/data/lift.py",
        },
        "target_s_per_100_frames_one_core": {
            "value": 0.5,
            "source": "the project's aim for this bench (bench/lift.py docstring)",
        },
    }
    result = {
        "bench": "lift",
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "device": args.device,
            "gpu": torch.cuda.get_device_name() if args.device.startswith("cuda") else None,
            "load_avg_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        },
        "settings": settings,
        "measured": measured,
        "quoted": quoted,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""Benchmark: dataset build throughput (signllm.data.build) with 1 and 2 worker processes.

Prints ONE JSON line: clips/s and frames/s per corpus and worker count, and the machine. Corpora
are the bundled real samples, repeated through a manifest (each copy a distinct id) so that there
is enough work to spread: How2Sign OpenPose JSON (2D: clean + lift 2D -> 3D + normalise, the
expensive path) and PHOENIX-2014T `.skels` (3D: normalise only, no lifting). Times are wall clock
of the processing phase (pool start-up included, enumeration excluded); on a shared machine the
load average after each run is reported beside it.

    python bench/build.py                         # 1 and 2 workers, default copies
    python bench/build.py --workers 1 2 4 --h2s-copies 8 --lift-steps 300
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from signllm.data.build import build_dataset  # noqa: E402

# No torch import here: worker processes re-import this module, and torch costs ~1 s each.
SAMPLES = ROOT / "signllm" / "assets" / "samples"


def _manifest(path: Path, targets: list[Path], copies: int, language: str) -> Path:
    """A manifest listing every target `copies` times under distinct ids."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "language", "id"])
        for k in range(copies):
            for t in targets:
                w.writerow([t, language, f"copy{k}/{t.stem}"])
    return path


def _load() -> float | None:
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--h2s-copies", type=int, default=4, help="How2Sign copies (5 clips each)")
    ap.add_argument("--phoenix-copies", type=int, default=10, help="PHOENIX copies (15 clips)")
    ap.add_argument("--lift-steps", type=int, default=300, help="lift.DEFAULT_STEPS")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="signllm-bench-build-"))
    try:
        h2s = sorted(p for p in (SAMPLES / "how2sign" / "openpose_json").iterdir() if p.is_dir())
        phoenix = [SAMPLES / "phoenix14t" / f"{s}.skels" for s in ("train", "dev", "test")]
        corpora = {
            "how2sign_lift": _manifest(tmp / "h2s.csv", h2s, args.h2s_copies, "ase"),
            "phoenix_3d": _manifest(tmp / "phoenix.csv", phoenix, args.phoenix_copies, "gsg"),
        }
        results = {}
        for name, manifest in corpora.items():
            for w in args.workers:
                out = tmp / f"{name}-{w}"
                s = build_dataset(
                    [manifest], out, workers=w, lift_steps=args.lift_steps, progress=False
                )["build"]
                results[f"{name}_workers{w}"] = {
                    "clips": s["added"],
                    "frames": s["frames_added"],
                    "seconds": s["seconds"],
                    "clips_per_s": s["clips_per_s"],
                    "frames_per_s": s["frames_per_s"],
                    "load_avg_1m_after": _load(),  # > cpu_count: other work shared the cores
                }
                shutil.rmtree(out)
        for name in corpora:
            one, two = (results.get(f"{name}_workers{w}") for w in (1, 2))
            if one and two:
                results[f"{name}_speedup_2v1"] = round(two["clips_per_s"] / one["clips_per_s"], 2)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    import numpy
    import torch

    print(
        json.dumps(
            {
                "bench": "build",
                "machine": {
                    "platform": platform.platform(),
                    "processor": platform.processor() or platform.machine(),
                    "cpu_count": os.cpu_count(),
                    "python": platform.python_version(),
                    "torch": torch.__version__,
                    "numpy": numpy.__version__,
                    "load_avg_1m": _load(),
                },
                "settings": {"lift_steps": args.lift_steps, "workers": args.workers},
                "measured": results,
                "quoted": {},  # none: every figure is measured in this run
            }
        )
    )


if __name__ == "__main__":
    main()

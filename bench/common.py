"""What every bench shares: the machine record, the load at each measurement, interleaved runs.

A figure is only as honest as its counting: `interleave` runs every contender once per round
(round-robin, so a noisy neighbour on a shared machine hits all of them alike), checks the
number of frames each run actually produced against the number it was asked for, and records the
1-minute load average (/proc/loadavg) next to every measurement. Summaries are medians.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch


def load_avg() -> float:
    """The 1-minute load average now (runnable processes; > cpus = time-sliced)."""
    return round(os.getloadavg()[0], 2)


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "processor": cpu_model(),
        "cpus": os.cpu_count(),
        "affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "torch_threads": torch.get_num_threads(),
        "load_avg_1m": load_avg(),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }


class Contender:
    """One thing to time: `run()` does the work and returns how many frames it produced;
    `expected` is how many it was asked for (the run fails loudly if they differ)."""

    def __init__(self, name: str, run: Callable[[], int], expected: int) -> None:
        self.name, self.run, self.expected = name, run, expected
        self.seconds: list[float] = []
        self.cpu_seconds: list[float] = []
        self.loads: list[float] = []


def interleave(contenders: list[Contender], repeats: int, warmup: bool = True) -> dict[str, Any]:
    """Run every contender `repeats` times, round-robin; frames/s = frames produced / wall time.

    Returns per contender: median frames/s (wall clock: the honest figure), every run's
    frames/s, the load at every run, and frames per CPU second of this process (all its threads):
    on a machine whose load exceeds its cores, wall time includes waiting for a core, CPU time
    does not, so the two together say how much of a slow run was the neighbours.
    """
    if warmup:
        for c in contenders:
            got = c.run()
            assert got == c.expected, f"{c.name}: produced {got} frames, asked for {c.expected}"
    for _ in range(repeats):
        for c in contenders:
            load = load_avg()
            c0, t0 = time.process_time(), time.perf_counter()
            got = c.run()
            dt, cpu = time.perf_counter() - t0, time.process_time() - c0
            assert got == c.expected, f"{c.name}: produced {got} frames, asked for {c.expected}"
            c.seconds.append(dt)
            c.cpu_seconds.append(cpu)
            c.loads.append(load)
    out = {}
    for c in contenders:
        rates = [c.expected / s for s in c.seconds]
        out[c.name] = {
            "frames_per_s_median": round(float(np.median(rates)), 1),
            "frames_per_s_runs": [round(r, 1) for r in rates],
            "frames_per_cpu_s_median": round(
                float(np.median([c.expected / max(s, 1e-9) for s in c.cpu_seconds])), 1
            ),
            "frames_per_run": c.expected,
            "load_at_runs": c.loads,
        }
    return out

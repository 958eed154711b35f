"""How a training process uses the machine: CPU threads, and progress when no bar is drawn.

Threads. torch's default (one thread per core) is the worst choice on a shared machine: threads
that wait for a busy core stall every step. Measured with `bench/threads.py` on a 2-core machine
(training steps/s, 2 threads vs 1; PHOENIX-shaped and demo-shaped batches alike):
    idle machine (load < 1)          tiny 1.41-1.47x  small 1.52-1.55x  pt-base 1.86x
    one core busy with another job   tiny 0.13x       small 0.14x       pt-base 0.43x
So a thread per *idle* core pays at every model size, and a thread on a busy core costs far
more than it could gain. The rule (`default_threads`): `OMP_NUM_THREADS` when set (a launcher or
a script that runs jobs side by side has decided); else the idle cores, counted cautiously (the
busier of the 1-minute load average and a 0.2 s sample of /proc/stat), shared between torchrun
ranks, between 1 and `MAX_AUTO_THREADS`. `--threads N` on train, train-bt, train-prompt and the
benches overrides it.

Progress. With a bar (`progress` on and stderr a terminal) tqdm draws it; otherwise (a log
file, CI, `--no-progress`) `ProgressLog` writes plain lines, every `every` steps and at least
every `min_interval` seconds, with the loss and elapsed time, so a long run is never silent.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from typing import Any

import torch

log = logging.getLogger("signllm.train")

MAX_AUTO_THREADS = 4
IDLE_MARGIN = 0.3  # a core counts as idle when at most 0.7 of it is busy


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity), else os.cpu_count()."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def _cpu_times() -> dict[int, tuple[int, int]] | None:
    """Per-CPU (busy, total) jiffies from /proc/stat; None where there is none."""
    try:
        lines = open("/proc/stat", encoding="ascii").read().splitlines()
    except OSError:
        return None
    out = {}
    for line in lines:
        head, *vals = line.split()
        if head.startswith("cpu") and head[3:].isdigit():
            v = [int(x) for x in vals]
            idle = v[3] + (v[4] if len(v) > 4 else 0)  # idle + iowait
            out[int(head[3:])] = (sum(v[:8]) - idle, sum(v[:8]))
    return out or None


def busy_cores_now(sample_s: float = 0.2) -> float | None:
    """Cores (of those this process may use) kept busy over the next `sample_s` seconds."""
    a = _cpu_times()
    if a is None:
        return None
    time.sleep(sample_s)
    b = _cpu_times()
    if b is None:  # pragma: no cover - /proc/stat vanished
        return None
    try:
        mine = os.sched_getaffinity(0)
    except (AttributeError, OSError):  # pragma: no cover
        mine = set(a)
    busy = 0.0
    for cpu in mine:
        if cpu in a and cpu in b:
            d_total = b[cpu][1] - a[cpu][1]
            busy += (b[cpu][0] - a[cpu][0]) / d_total if d_total > 0 else 0.0
    return busy


def idle_cores() -> float:
    """Usable cores minus what others keep busy: the busier of the 1-minute load average and
    a 0.2 s /proc/stat sample (the load average lags a job that just started; the sample can
    miss a neighbour between bursts)."""
    cores = usable_cores()
    try:
        busy = os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - Windows
        busy = 0.0
    now = busy_cores_now()
    return max(0.0, cores - max(busy, now or 0.0))


def default_threads(world_size: int = 1, idle: float | None = None) -> int:
    """The thread count for training (or benchmarking) on CPU; see the module docstring. The
    same for every model size (measured); `idle` (cores) is measured when not given."""
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    if idle is None:
        idle = idle_cores()
    share = math.floor(idle / max(1, world_size) + IDLE_MARGIN)
    return max(1, min(MAX_AUTO_THREADS, share, usable_cores() // max(1, world_size)))


def set_threads(threads: int | None, world_size: int = 1) -> int:
    """Apply `threads` (None or 0 = `default_threads`) to torch; returns the count set."""
    n = threads if threads and threads > 0 else default_threads(world_size)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def bar_wanted(progress: bool) -> bool:
    """A tqdm bar only when asked for and stderr is a terminal; else plain log lines."""
    return bool(progress) and sys.stderr.isatty()


class ProgressLog:
    """Plain progress lines for a run of `total` steps: ``step 40/200 (20%): loss 0.1234, ...``.

    `every` = 0 picks about 20 lines per run; a line also comes after `min_interval` seconds
    without one, and at the last step.
    """

    def __init__(
        self,
        total: int,
        what: str = "train",
        every: int = 0,
        min_interval: float = 30.0,
        logger: logging.Logger | None = None,
        start: int = 0,
    ) -> None:
        self.total, self.what = total, what
        self.every = every if every > 0 else max(1, total // 20)
        self.min_interval = min_interval
        self.log = logger or log
        self.t0 = self.t_last = time.perf_counter()
        self.start = start

    def update(self, step: int, force: bool = False, **metrics: Any) -> bool:
        """Log a line when one is due; True when one was written."""
        now = time.perf_counter()
        due = (
            force
            or step >= self.total
            or step % self.every == 0
            or now - self.t_last >= self.min_interval
        )
        if not due:
            return False
        self.t_last = now
        elapsed = now - self.t0
        done = step - self.start
        parts = [f"{self.what} step {step}/{self.total} ({100 * step / max(1, self.total):.0f}%)"]
        values = ", ".join(
            f"{k.replace('_', ' ')} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
            for k, v in metrics.items()
            if v is not None
        )
        timing = f"{elapsed:.1f} s elapsed"
        if 0 < done and step < self.total:
            timing += f", ~{elapsed / done * (self.total - step):.0f} s left"
        self.log.info(f"{parts[0]}: {values + ', ' if values else ''}{timing}")
        return True


__all__ = [
    "IDLE_MARGIN",
    "MAX_AUTO_THREADS",
    "ProgressLog",
    "bar_wanted",
    "default_threads",
    "idle_cores",
    "set_threads",
    "usable_cores",
]

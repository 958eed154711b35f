"""How a training process uses the machine: CPU threads, and progress when no bar is drawn.

Threads. torch's default (one thread per core) is the worst choice for the small models this
project trains on CPU: a tiny model's matrices are too small to split, so extra threads only
spin and wait, and on a shared machine they fight other processes (measured 5.6 s/step with the
default vs 0.15 s/step on one thread for `train --size tiny` on a busy 2-core machine; see the
figures in `default_threads`). The rule: one thread for models under `SMALL_MODEL_PARAMS`
(tiny); bigger ones (pt-base and up) get the idle cores, at most `MAX_AUTO_THREADS` (the
1-minute load average says how many cores others keep busy). `--threads N` on
train, train-bt, train-prompt and the benches overrides it. Under torchrun every rank takes its
share of the cores.

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

SMALL_MODEL_PARAMS = 5_000_000  # below this, one thread is fastest (see default_threads)
MAX_AUTO_THREADS = 4


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity), else os.cpu_count()."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def idle_cores() -> float:
    """Usable cores minus the 1-minute load average (what other processes keep busy)."""
    cores = usable_cores()
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - Windows
        return float(cores)
    return max(0.0, cores - load)


def default_threads(parameters: int, world_size: int = 1) -> int:
    """The thread count for training a model of `parameters` weights on CPU.

    Measured with `signllm train` on the demo corpus (batch 8, steps 5..29 of 30), on a 2-core
    machine shared with other jobs (1-minute load 5 to 9):
        tiny (0.2M per group)  1 thread 2.21 steps/s   2 threads 0.11 steps/s  (20x slower)
        pt-base (15M)          1 thread 0.16 steps/s   2 threads < 0.02 steps/s (> 8x slower)
    Extra threads on busy cores only wait. So: 1 below SMALL_MODEL_PARAMS; a bigger model gets
    the cores that are idle (usable cores minus the load average) per rank, between 1 and
    MAX_AUTO_THREADS, which is 1 on a machine as busy as the one measured (the idle-core branch
    could not be measured there: no core was ever idle).
    """
    if parameters < SMALL_MODEL_PARAMS:
        return 1
    share = math.floor(idle_cores() / max(1, world_size) + 0.5)
    return max(1, min(MAX_AUTO_THREADS, share, usable_cores() // max(1, world_size)))


def set_threads(threads: int | None, parameters: int, world_size: int = 1) -> int:
    """Apply `threads` (None or 0 = `default_threads`) to torch; returns the count set."""
    n = threads if threads and threads > 0 else default_threads(parameters, world_size)
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
    "MAX_AUTO_THREADS",
    "SMALL_MODEL_PARAMS",
    "ProgressLog",
    "bar_wanted",
    "default_threads",
    "idle_cores",
    "set_threads",
    "usable_cores",
]

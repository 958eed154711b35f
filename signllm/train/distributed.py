"""Device choice and (optional) DDP, nanoGPT style: distributed only when torchrun says so.

`setup()` reads torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK); without it training is a
plain single process. Backend: nccl on CUDA, gloo on CPU (so CI can run the distributed path with
two CPU processes). Rank 0 alone logs, evaluates and saves; the others only train.

    python -m signllm train --data store --out runs/x --size tiny --steps 200
    torchrun --standalone --nproc_per_node 2 -m signllm train --data store --out runs/x
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist

from ..errors import UsageError

_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


def pick_device(preference: str = "auto") -> torch.device:
    """The one device helper: "auto" = cuda -> mps -> cpu; a named device must exist."""
    if preference == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if preference == "cuda" and not torch.cuda.is_available():
        raise UsageError("device 'cuda' asked for, but torch sees no CUDA device")
    if preference == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise UsageError("device 'mps' asked for, but it is not available")
    return torch.device(preference)


@dataclass
class DistInfo:
    """Where this process stands: rank, world size and its device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    enabled: bool = False  # True when a process group was set up here

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def torchrun_env() -> bool:
    """True when started by torchrun (its three variables are all set)."""
    return all(k in os.environ for k in _ENV)


def setup(device: str = "auto") -> DistInfo:
    """Start the process group when torchrun's env vars are set; pick this rank's device."""
    dev = pick_device(device)
    if not torchrun_env():
        return DistInfo(device=dev)
    rank, world, local = (int(os.environ[k]) for k in _ENV)
    if dev.type == "cuda":
        torch.cuda.set_device(local)
        dev = torch.device("cuda", local)
    elif dev.type == "mps":
        raise UsageError("DDP on mps is not supported: run one process or use CUDA/CPU")
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return DistInfo(rank=rank, world_size=world, local_rank=local, device=dev, enabled=True)


def cleanup(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


def is_dist() -> bool:
    return dist.is_available() and dist.is_initialized()


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum over ranks (in place on a copy); identity in a single process."""
    if not is_dist():
        return t
    t = t.clone()
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def all_gather_object(obj: Any) -> list[Any]:
    """Every rank's `obj`, rank order (a list of one in a single process)."""
    if not is_dist():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_flag(flag: bool, device: torch.device) -> bool:
    """Rank 0's decision (e.g. early stop) on every rank."""
    if not is_dist():
        return flag
    t = torch.tensor([1 if flag else 0], device=device)
    dist.broadcast(t, src=0)
    return bool(t.item())


def barrier() -> None:
    if is_dist():
        dist.barrier()


def wrap_ddp(module: torch.nn.Module, info: DistInfo, find_unused: bool) -> torch.nn.Module:
    """DDP over `module` when distributed (gradients are averaged in backward), else as is.

    `find_unused` is needed for MLSF when a batch leaves some trainable group unused.
    """
    if not info.enabled:
        return module
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [info.local_rank] if info.device.type == "cuda" else None
    return DDP(module, device_ids=ids, find_unused_parameters=find_unused)


__all__ = [
    "DistInfo",
    "all_gather_object",
    "all_reduce_sum",
    "barrier",
    "broadcast_flag",
    "cleanup",
    "is_dist",
    "pick_device",
    "setup",
    "torchrun_env",
    "wrap_ddp",
]

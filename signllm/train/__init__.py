"""Training: config, streaming data, the loop, checkpoints, DDP; and the PLC of SignLLM.

Imports are lazy so that `signllm --help` and `signllm.train.config` do not pull in torch:

    from signllm.train import TrainConfig, train, load_checkpoint
    result = train(TrainConfig(data="store/", out="runs/tiny", size="tiny", steps=200))
    model, tokenizers, config, stats = load_checkpoint(result.checkpoint)
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "TrainConfig": "config",
    "ModelOptions": "config",
    "PLCOptions": "config",
    "apply_overrides": "config",
    "train": "trainer",
    "TrainResult": "trainer",
    "Checkpoint": "checkpoint",
    "load_checkpoint": "checkpoint",
    "save_checkpoint": "checkpoint",
    "NormStats": "data",
    "pick_device": "distributed",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_EXPORTS)

"""Training: config, streaming data, the loop, checkpoints, DDP; and the PLC of SignLLM.

Imports are lazy so that `signllm --help` and `signllm.train.config` do not pull in torch:

    from signllm.train import TrainConfig, train, load_checkpoint
    result = train(TrainConfig(data="store/", out="runs/tiny", size="tiny", steps=200))
    model, tokenizers, config, stats = load_checkpoint(result.checkpoint)
"""

from __future__ import annotations

from .._lazy import lazy_getattr

_EXPORTS = {
    "config": ("TrainConfig", "ModelOptions", "PLCOptions", "apply_overrides"),
    "trainer": ("train", "TrainResult"),
    "checkpoint": ("Checkpoint", "load_checkpoint", "save_checkpoint"),
    "data": ("NormStats",),
    "distributed": ("pick_device",),
}
__getattr__ = lazy_getattr(__name__, _EXPORTS)
__all__ = sorted(name for names in _EXPORTS.values() for name in names)

"""Model architectures: pure torch, no file I/O (checkpoints are the trainer's job)."""

from .core import count_parameters
from .mlsf import MLSF, split_language_state_dict
from .progressive import (
    PRESETS,
    ProgressiveConfig,
    ProgressiveTransformer,
    add_counter,
    preset_config,
)

__all__ = [
    "MLSF",
    "PRESETS",
    "ProgressiveConfig",
    "ProgressiveTransformer",
    "add_counter",
    "count_parameters",
    "preset_config",
    "split_language_state_dict",
]

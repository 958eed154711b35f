"""Pose-model checkpoints (MLSF groups, Prompt2LangGloss's shared pose model) over
`signllm.checkpoint`, plus what only training needs: normalisation stats and the trainer state.

config.json of a pose checkpoint (see `signllm.checkpoint` for the common fields)::

    kind "mlsf": "model" {code: ProgressiveConfig dict}, tokenizers {code: tokenizer.<code>.json}
    kind "pose": "model" ProgressiveConfig dict, tokenizers {code: tokenizer.json} (one vocab)
    "mode" (mlsf | prompt), "inputs" {code: input kind}, "normalization" {mean, std} per
    joint/axis, "skeleton", "train" (the TrainConfig), "step", "metrics"

The trainer state (trainer_state.pt, only in a run's last/) is read with
`torch.load(weights_only=True)` and holds only tensors and plain types (numpy RNG state is
converted), so it cannot execute code either.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

from .. import checkpoint as ck
from ..checkpoint import (
    CONFIG,
    STATE,
    WEIGHTS,
    load_trainer_state,
    load_weights,
    resolve,
    tokenizer_file,
    write_dir_atomic,
)
from ..errors import UsageError
from ..fileio import atomic_write
from ..text.tokenizers import Tokenizer
from .data import NormStats


class Checkpoint(NamedTuple):
    """What `load_checkpoint` returns: unpack as `model, tokenizers, config, stats = ...`.

    model: `MLSF` (mode mlsf) or `SharedPoseModel` (mode prompt), in eval mode.
    tokenizers: {language: tokenizer} (prompt mode: one shared object under every code).
    config: the parsed config.json. stats: the coordinate normalisation (`NormStats`).
    """

    model: nn.Module
    tokenizers: dict[str, Tokenizer]
    config: dict[str, Any]
    stats: NormStats


def save_checkpoint(
    directory: str | Path,
    model: nn.Module,
    tokenizers: dict[str, Tokenizer],
    meta: dict[str, Any],
    trainer_state: dict[str, Any] | None = None,
) -> Path:
    """Write a pose checkpoint atomically.

    `model`: MLSF or SharedPoseModel. `meta`: mode, inputs, normalization (dict), skeleton,
    train (dict), step, metrics; the model configs, languages and tokenizer files are added here.
    """
    from ..models.mlsf import MLSF

    if meta["mode"] == "mlsf":
        if not isinstance(model, MLSF):
            raise UsageError("mode mlsf saves an MLSF model")
        langs = model.languages
        single = len(langs) == 1  # also as tokenizer.json: `load_tokenizer(dir)` works
        return ck.save(
            directory,
            model,
            kind="mlsf",
            model_config=model.configs,
            languages=langs,
            tokenizers={c: tokenizers[c] for c in langs},
            files={c: tokenizer_file(c) for c in langs},
            meta=meta,
            extra_tokenizers={tokenizer_file(None): tokenizers[langs[0]]} if single else None,
            trainer_state=trainer_state,
        )
    return ck.save(
        directory,
        model,
        kind="pose",
        model_config=model.config.to_dict(),  # type: ignore[union-attr, operator]
        languages=list(tokenizers),
        tokenizers=tokenizers,
        files=dict.fromkeys(tokenizers, tokenizer_file(None)),
        meta=meta,
        trainer_state=trainer_state,
    )


def read_config(directory: str | Path) -> dict[str, Any]:
    """config.json of a pose checkpoint, checked (DataError naming the file and field)."""
    return ck.read_config(directory, ck.POSE_KINDS)


def load_checkpoint(directory: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    """Rebuild model, tokenizers, config and stats from a pose checkpoint directory alone.

    Every inconsistency is a `DataError` naming the file: a tokenizer whose size differs from the
    model's embedding table, weights that do not fit the config, a corrupt file.
    """
    model, config, tokenizers, root = ck.load(directory, ck.POSE_KINDS, device=device)
    stats = NormStats.from_dict(config["normalization"], root / CONFIG)
    return Checkpoint(model, tokenizers, config, stats)


def write_json(path: Path, obj: Any) -> None:
    """A small JSON file, atomically (`atomic_write` gives the usual permissions)."""
    with atomic_write(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")


__all__ = [
    "CONFIG",
    "STATE",
    "WEIGHTS",
    "Checkpoint",
    "load_checkpoint",
    "load_trainer_state",
    "load_weights",
    "read_config",
    "resolve",
    "save_checkpoint",
    "tokenizer_file",
    "write_dir_atomic",
]

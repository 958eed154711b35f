"""Checkpoints: safetensors weights + JSON, loadable with nothing else; trainer state apart.

A checkpoint directory::

    model.safetensors     the weights (MLSF: groups.<code>.*; prompt: model.*), no pickle
    config.json           {"format": "signllm-checkpoint", "version", "mode", "languages",
                           "model": ProgressiveConfig dict (prompt) or {code: dict} (MLSF),
                           "tokenizers": {code: file}, "inputs": {code: input kind},
                           "normalization": {mean, std} per joint/axis, "skeleton",
                           "train": the TrainConfig, "step", "metrics"}
    tokenizer.json        the tokenizer (prompt mode; MLSF with a single language)
    tokenizer.<code>.json one per language (MLSF)
    trainer_state.pt      only in a run's last/: optimizer, step, RNG states, sampler position

Why this split: weights and JSON are safe to open from anyone (safetensors holds raw tensors,
nothing runs on load); the trainer state is our own file, still read with
`torch.load(weights_only=True)` so that it cannot execute code either, and it holds only tensors
and plain types (numpy RNG state is converted).

Writes are atomic per directory: everything goes into a hidden temporary directory beside the
target, which is then renamed into place (the previous version is renamed aside first and deleted
after). A crash between the two renames leaves `.<name>.old`, which `resolve` picks up.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

from ..errors import DataError, UsageError
from ..fileio import atomic_write
from ..text.tokenizers import Tokenizer, check_vocab_size, load_tokenizer
from .data import NormStats

FORMAT = "signllm-checkpoint"
VERSION = 1
WEIGHTS = "model.safetensors"
CONFIG = "config.json"
STATE = "trainer_state.pt"


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


def tokenizer_file(code: str | None) -> str:
    return "tokenizer.json" if code is None else f"tokenizer.{code}.json"


# ----------------------------------------------------------------------------------------------
# Atomic directories


def resolve(path: str | Path) -> Path:
    """The checkpoint directory at `path`, or its `.old` twin left by a crash mid-rename."""
    path = Path(path)
    if (path / CONFIG).exists():
        return path
    old = path.parent / f".{path.name}.old"
    if (old / CONFIG).exists():
        return old
    return path


def write_dir_atomic(target: str | Path, fill: Callable[[Path], None]) -> Path:
    """Call `fill(tmp_dir)`, fsync its files, then swap it in for `target` (see module doc)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        fill(tmp)
        umask = _umask()
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp/mkstemp make private 0700/0600 entries
        for f in tmp.iterdir():
            os.chmod(f, 0o666 & ~umask)
            fd = os.open(f, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        old = target.parent / f".{target.name}.old"
        if old.exists() and not target.exists():
            os.replace(old, target)  # the last swap crashed half-way: old is the live copy
        elif old.exists():
            shutil.rmtree(old)
        if target.exists():
            os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
        _fsync_dir(target.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# ----------------------------------------------------------------------------------------------
# Save


def save_checkpoint(
    directory: str | Path,
    model: nn.Module,
    tokenizers: dict[str, Tokenizer],
    meta: dict[str, Any],
    trainer_state: dict[str, Any] | None = None,
) -> Path:
    """Write a checkpoint directory atomically.

    `model`: MLSF or SharedPoseModel. `meta`: mode, inputs, normalization (dict), skeleton,
    train (dict), step, metrics; the model configs, languages and tokenizer files are added here.
    """
    from safetensors.torch import save_file

    from ..models.mlsf import MLSF

    mode = meta["mode"]
    config: dict[str, Any] = {"format": FORMAT, "version": VERSION, **meta}
    if mode == "mlsf":
        if not isinstance(model, MLSF):
            raise UsageError("mode mlsf saves an MLSF model")
        config["languages"] = model.languages
        config["model"] = model.configs
        files = {c: tokenizer_file(c) for c in model.languages}
        single = len(model.languages) == 1
    else:
        config["languages"] = list(tokenizers)
        config["model"] = model.config.to_dict()  # type: ignore[union-attr, operator]
        files = dict.fromkeys(tokenizers, tokenizer_file(None))
        single = True
    config["tokenizers"] = files
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}

    def fill(tmp: Path) -> None:
        save_file(state, str(tmp / WEIGHTS), metadata={"format": FORMAT, "mode": mode})
        with open(tmp / CONFIG, "w", encoding="utf-8") as f:
            json.dump(config, f, ensure_ascii=False, indent=1)
            f.write("\n")
        written: set[str] = set()
        for code, name in files.items():
            if name not in written:
                tokenizers[code].to_json(tmp / name)  # type: ignore[attr-defined]
                written.add(name)
        if mode == "mlsf" and single:
            tokenizers[model.languages[0]].to_json(tmp / tokenizer_file(None))  # type: ignore
        if trainer_state is not None:
            torch.save(trainer_state, tmp / STATE)

    return write_dir_atomic(directory, fill)


# ----------------------------------------------------------------------------------------------
# Load


def read_config(directory: str | Path) -> dict[str, Any]:
    """config.json of a checkpoint, checked for format and version (DataError naming it)."""
    path = resolve(directory) / CONFIG
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError("not a checkpoint: config.json not found", path) from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read: {e}", path) from None
    except json.JSONDecodeError as e:
        raise DataError(f"invalid JSON: {e.msg}", path, line=e.lineno) from None
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise DataError(f"not a {FORMAT} config", path, field="format")
    if not isinstance(d.get("version"), int) or d["version"] > VERSION:
        raise DataError(f"unsupported version {d.get('version')!r}", path, field="version")
    for key, kind in (
        ("mode", str),
        ("languages", list),
        ("model", dict),
        ("tokenizers", dict),
        ("normalization", dict),
    ):
        if not isinstance(d.get(key), kind):
            raise DataError(f"missing or not a {kind.__name__}", path, field=key)
    if d["mode"] not in ("mlsf", "prompt"):
        raise DataError(f"unknown mode {d['mode']!r}", path, field="mode")
    return d


def load_checkpoint(directory: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    """Rebuild model, tokenizers, config and stats from a checkpoint directory alone.

    Every inconsistency is a `DataError` naming the file: a tokenizer whose size differs from the
    model's embedding table, weights that do not fit the config, a corrupt file.
    """
    from ..models.mlsf import MLSF
    from ..models.progressive import ProgressiveConfig
    from ..models.prompt2langgloss import SharedPoseModel
    from ..text.tokenizers import LangCharVocab, LangWordVocab

    root = resolve(directory)
    config = read_config(root)
    cpath = root / CONFIG

    def model_config(d: Any, field: str) -> ProgressiveConfig:
        if not isinstance(d, dict):
            raise DataError("model config must be an object", cpath, field=field)
        try:
            return ProgressiveConfig.from_dict(d)
        except (UsageError, TypeError) as e:
            raise DataError(str(e), cpath, field=field) from None

    tokenizers: dict[str, Tokenizer] = {}
    loaded: dict[str, Tokenizer] = {}
    for code in config["languages"]:
        name = config["tokenizers"].get(code)
        if not isinstance(name, str) or "/" in name or name.startswith("."):
            raise DataError(f"no tokenizer file for {code!r}", cpath, field="tokenizers")
        if name not in loaded:
            loaded[name] = load_tokenizer(root / name)
        tokenizers[code] = loaded[name]

    model: nn.Module
    if config["mode"] == "mlsf":
        configs = {}
        for code in config["languages"]:
            cfg = model_config(config["model"].get(code), f"model.{code}")
            check_vocab_size(tokenizers[code], cfg.vocab_size, root / config["tokenizers"][code])
            configs[code] = cfg
        if not configs:
            raise DataError("an MLSF checkpoint with no language", cpath, field="languages")
        model = MLSF(next(iter(configs.values())), configs=configs)
    else:
        cfg = model_config(config["model"], "model")
        vocab = next(iter(tokenizers.values()), None)
        if not isinstance(vocab, LangWordVocab | LangCharVocab):
            raise DataError(
                "mode prompt needs a lang_char or lang_word tokenizer", root / tokenizer_file(None)
            )
        check_vocab_size(vocab, cfg.vocab_size, root / config["tokenizers"][config["languages"][0]])
        model = SharedPoseModel(vocab, cfg)

    load_weights(model, root / WEIGHTS)
    stats = NormStats.from_dict(config["normalization"], cpath)
    model.to(device).eval()
    return Checkpoint(model, tokenizers, config, stats)


def load_weights(model: nn.Module, path: Path) -> None:
    """safetensors -> model, strictly; DataError naming the file on any mismatch."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = load_file(str(path))
    except FileNotFoundError:
        raise DataError("weights file not found", path) from None
    except (SafetensorError, OSError, ValueError) as e:
        raise DataError(f"corrupt weights file: {e}", path) from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()
        detail = " ".join(line.strip() for line in first[:3])
        raise DataError(f"weights do not fit the config: {detail}", path) from None


# ----------------------------------------------------------------------------------------------
# Trainer state (resume)


def load_trainer_state(directory: str | Path) -> dict[str, Any]:
    """trainer_state.pt with `weights_only=True` (no code can run); DataError if unreadable."""
    path = resolve(directory) / STATE
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise DataError("no trainer state to resume from", path) from None
    except Exception as e:  # pickle/zip errors of a corrupt or foreign file
        raise DataError(f"unreadable trainer state: {type(e).__name__}: {e}", path) from None
    if not isinstance(state, dict) or "step" not in state:
        raise DataError("not a signllm trainer state", path)
    return state


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

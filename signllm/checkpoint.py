"""Checkpoints of every model the project saves: one writer, one reader, one validation path.

A checkpoint is a directory, loadable with nothing else::

    model.safetensors   the weights (raw tensors: nothing runs on load, no pickle)
    config.json         {"format": "signllm-checkpoint", "version": 2, "kind", "languages",
                         "model": the model config dataclass as a dict,
                         "tokenizers": {role: file}, ...the kind's metadata}
    <tokenizer>.json    one per distinct file of "tokenizers"
    MODEL_CARD.md       a human-readable summary (written for people, never read back)
    trainer_state.pt    only in a training run's last/: resume state (`load_trainer_state`)

Kinds ("model" / tokenizer roles / metadata):
    mlsf        {language: ProgressiveConfig} / {language} / mode, inputs, normalization, train
    pose        ProgressiveConfig of Prompt2LangGloss's shared pose model / {language} (one file)
    text        TextSeq2SeqConfig (prompt -> gloss) / {prompt, target} / "text": decode settings
    bt          BackTranslationConfig / {target} / target, decode, training (what it was fit on)
    recognizer  its config dataclass / {target}; load with `load(path, ("recognizer",),
                config_builder(RecognizerConfig, Recognizer))`

Older layouts still load: `read_config` upgrades them in memory (nothing is rewritten) - v1 pose
checkpoints ("mode" instead of "kind"), v1 BT checkpoints (format "signllm-bt-checkpoint") and
unversioned text models (format "signllm-prompt-text", "settings"). The shipped default model is
such a set.

Writes are atomic per directory: everything goes into a hidden temporary directory beside the
target, which is then renamed into place (the previous version is renamed aside first and deleted
after). A crash between the two renames leaves `.<name>.old`, which `resolve` picks up.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import torch
from torch import nn

from .errors import DataError, UsageError
from .safeio import check_path_text, read_json
from .text.tokenizers import Tokenizer, check_vocab_size, load_tokenizer

FORMAT = "signllm-checkpoint"
VERSION = 2
WEIGHTS = "model.safetensors"
CONFIG = "config.json"
STATE = "trainer_state.pt"
CARD = "MODEL_CARD.md"
KINDS = ("mlsf", "pose", "text", "bt", "recognizer")
POSE_KINDS = ("mlsf", "pose")
BT_TARGETS = ("text", "gloss")
_OLD_BT = "signllm-bt-checkpoint"
_OLD_TEXT = "signllm-prompt-text"
C = TypeVar("C")


def tokenizer_file(role: str | None) -> str:
    return "tokenizer.json" if role is None else f"tokenizer.{role}.json"


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
    remove_stale_tmp(target.parent, target.name)
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


def remove_stale_tmp(folder: str | Path, name: str = "*") -> list[Path]:
    """Delete `.<name>.tmp-*` folders that a killed writer left in `folder`; returns them.

    Only one process writes a run's checkpoints, so at the start of a save (or of training)
    any such folder is a dead writer's: never a whole checkpoint (it is renamed into place only
    when complete), and never loaded, since loading goes by the target's own name."""
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for p in folder.glob(f".{name}.tmp-*"):
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


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


def save(
    directory: str | Path,
    model: nn.Module,
    *,
    kind: str,
    model_config: dict[str, Any],
    languages: Sequence[str],
    tokenizers: Mapping[str, Tokenizer],
    files: Mapping[str, str] | None = None,
    meta: Mapping[str, Any] | None = None,
    extra_tokenizers: Mapping[str, Tokenizer] | None = None,
    trainer_state: dict[str, Any] | None = None,
) -> Path:
    """Write a checkpoint directory atomically; the config passes the reader's checks first.

    `tokenizers`: {role: tokenizer}; roles holding the same object share one file. `files`:
    {role: file name} (default: tokenizer.json for one role, else tokenizer.<role>.json).
    `extra_tokenizers`: {file: tokenizer} written besides, not referenced by the config.
    """
    from safetensors.torch import save_file

    if files is None:
        files = {r: tokenizer_file(None if len(tokenizers) == 1 else r) for r in tokenizers}
    config: dict[str, Any] = {
        **(meta or {}),
        "format": FORMAT,
        "version": VERSION,
        "kind": kind,
        "languages": list(languages),
        "model": model_config,
        "tokenizers": {r: files[r] for r in tokenizers},
    }
    _validate(config, Path(directory) / CONFIG)
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    n_params = sum(p.numel() for p in model.parameters())

    def fill(tmp: Path) -> None:
        save_file(state, str(tmp / WEIGHTS), metadata={"format": FORMAT, "kind": kind})
        with open(tmp / CONFIG, "w", encoding="utf-8") as f:
            json.dump(config, f, ensure_ascii=False, indent=1)
            f.write("\n")
        written: dict[str, Tokenizer] = {}
        for name, tok in [*((files[r], t) for r, t in tokenizers.items()),
                          *(extra_tokenizers or {}).items()]:  # fmt: skip
            if written.setdefault(name, tok) is not tok:
                raise UsageError(f"two different tokenizers would be written to {name}")
            if not (tmp / name).exists():
                tok.to_json(tmp / name)  # type: ignore[attr-defined]
        (tmp / CARD).write_text(model_card(config, n_params, sorted(written)), encoding="utf-8")
        if trainer_state is not None:
            torch.save(trainer_state, tmp / STATE)

    return write_dir_atomic(directory, fill)


def model_card(config: dict[str, Any], n_params: int, tokenizer_files: Sequence[str]) -> str:
    """MODEL_CARD.md: what a person needs to know before using the checkpoint."""
    langs = ", ".join(config["languages"]) or "-"
    lines = [
        f"# SignLLM {config['kind']} checkpoint",
        "",
        f"- kind: `{config['kind']}` ({FORMAT} version {config['version']})",
        f"- languages: {langs}",
        f"- parameters: {n_params:,}",
        f"- files: {WEIGHTS} (weights), {CONFIG} (model config and metadata), "
        + ", ".join(tokenizer_files)
        + " (tokenizers)",
    ]
    for key in ("target", "mode", "skeleton", "step"):
        if key in config:
            lines.append(f"- {key}: {config[key]}")
    for key in ("train", "training", "trained", "metrics"):
        if config.get(key):
            block = json.dumps(config[key], ensure_ascii=False, indent=1)
            lines += ["", f"## {key}", "", "```json", block, "```"]
    lines += ["", "Load with `signllm.checkpoint.load(path)` (safetensors: no code runs).", ""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# Read and validate


def read_config(
    directory: str | Path, kinds: Sequence[str] | None = None, hint: str = ""
) -> dict[str, Any]:
    """config.json of a checkpoint of one of `kinds`, upgraded to the current layout and checked.

    Every problem is a `DataError` naming the file and the field; `hint` is added when the
    checkpoint is of another kind (e.g. where to pass it instead).
    """
    root = resolve(directory)
    if root.exists() and not root.is_dir():
        raise DataError("not a checkpoint: a file, expected a folder", root)
    path = root / CONFIG
    if not path.exists():
        raise DataError("not a checkpoint: config.json not found", path)
    d = _upgrade(read_json(path, CONFIG), path)
    if kinds is not None and d.get("kind") in KINDS and d["kind"] not in kinds:
        want = " or ".join(kinds)  # the wrong kind of model is said first: the likelier mistake
        raise DataError(f"a {d['kind']} checkpoint, not {want}{hint}", path, field="kind")
    _validate(d, path)
    return d


def _upgrade(d: Any, path: Path) -> dict[str, Any]:
    """Older layouts -> the current one, in memory (see module doc)."""
    if not isinstance(d, dict):
        raise DataError(f"not a {FORMAT} config", path, field="format")
    fmt = d.get("format")
    if fmt == FORMAT and d.get("version") == 1:  # pose models: "mode" said the kind
        if d.get("mode") not in ("mlsf", "prompt"):
            raise DataError(f"unknown mode {d.get('mode')!r}", path, field="mode")
        return {**d, "kind": "mlsf" if d["mode"] == "mlsf" else "pose"}
    if fmt == _OLD_BT and d.get("version") == 1:
        tok = d.get("tokenizer", "tokenizer.json")
        rest = {k: v for k, v in d.items() if k != "tokenizer"}
        return {**rest, "format": FORMAT, "kind": "bt", "tokenizers": {"target": tok}}
    if fmt == _OLD_TEXT:
        s = d.get("settings")
        if not isinstance(s, dict):
            raise DataError("missing or not a dict", path, field="settings")
        text = {k: s[k] for k in ("tag_every_token", "mode", "max_len") if k in s}
        return {
            **{k: v for k, v in d.items() if k != "settings"},
            "format": FORMAT,
            "version": 0,
            "kind": "text",
            "model": s.get("model"),
            "languages": s.get("gloss_languages"),
            "tokenizers": {"prompt": "prompt_tokenizer.json", "target": "target_vocab.json"},
            "text": text,
        }
    if fmt != FORMAT:
        raise DataError(f"not a {FORMAT} config", path, field="format")
    return d


# The kind's own fields: (name, type, allowed values or None)
_KIND_FIELDS: dict[str, tuple[tuple[str, type, tuple[Any, ...] | None], ...]] = {
    "mlsf": (("mode", str, ("mlsf",)), ("normalization", dict, None)),
    "pose": (("mode", str, ("prompt",)), ("normalization", dict, None)),
    "text": (("text", dict, None),),
    "bt": (("target", str, BT_TARGETS), ("training", dict, None)),
    "recognizer": (("training", dict, None),),
}
_TEXT_FIELDS = (("tag_every_token", bool), ("mode", str), ("max_len", int))


def _validate(d: dict[str, Any], path: Path) -> None:
    """The one validation path of config.json, for writes and reads."""
    if not isinstance(d.get("version"), int) or d["version"] > VERSION:
        raise DataError(f"unsupported version {d.get('version')!r}", path, field="version")
    if d.get("kind") not in KINDS:
        raise DataError(f"must be one of {', '.join(KINDS)}", path, field="kind")
    for key, kind, allowed in (
        ("model", dict, None),
        ("languages", list, None),
        ("tokenizers", dict, None),
        *_KIND_FIELDS[d["kind"]],
    ):
        if not isinstance(d.get(key), kind):
            raise DataError(f"missing or not a {kind.__name__}", path, field=key)
        if allowed is not None and d[key] not in allowed:
            raise DataError(f"must be one of {', '.join(map(str, allowed))}", path, field=key)
    if not all(isinstance(c, str) for c in d["languages"]):
        raise DataError("must be a list of language codes", path, field="languages")
    for role, name in d["tokenizers"].items():
        if not isinstance(name, str) or "/" in name or "\\" in name or name.startswith("."):
            raise DataError(
                "must be a file name inside the checkpoint", path, field=f"tokenizers.{role}"
            )
        check_path_text(name, path, None, f"tokenizers.{role}")
    if d["kind"] in POSE_KINDS:
        for code in d["languages"]:
            if code not in d["tokenizers"]:
                raise DataError(f"no tokenizer file for {code!r}", path, field="tokenizers")
    if d["kind"] == "text":
        for key, kind in _TEXT_FIELDS:
            if not isinstance(d["text"].get(key), kind):
                raise DataError(f"missing or not a {kind.__name__}", path, field=f"text.{key}")
    if d["kind"] == "bt":
        decode = d.get("decode", {})
        if not isinstance(decode, dict) or not isinstance(decode.get("max_len", 60), int):
            raise DataError("must be {max_len: int}", path, field="decode")


# Sizes a model config may declare, checked before anything is built: far past any model this
# project trains (d_model 256-512, 2-6 layers, vocabularies of 10^3-10^5), far short of a config
# that would take the machine's memory or hours to build.
_DIM_LIMITS = (("layers", 64), ("heads", 256), ("d_model", 16_384), ("d_ff", 65_536),
               ("vocab", 2_000_000), ("", 1_000_000))  # fmt: skip
MAX_PARAMETERS = 2_000_000_000  # 8 GB of float32


def check_dimensions(cls: Any, d: dict[str, Any], path: Path, field: str = "model") -> None:
    """A model config (as read, before `cls.from_dict` builds anything): each integer field of
    the dataclass `cls` an integer within sane limits, each float field a finite number."""
    for f in dataclasses.fields(cls):
        if f.name not in d:
            continue
        v = d[f.name]
        where = f"{field}.{f.name}"
        kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
        if kind == "int" and (isinstance(v, bool) or not isinstance(v, int)):
            raise DataError(f"expected an integer, got {type(v).__name__}", path, field=where)
        if kind == "float" and (isinstance(v, bool) or not isinstance(v, int | float)):
            raise DataError(f"expected a number, got {type(v).__name__}", path, field=where)
        if isinstance(v, bool):
            continue
        if isinstance(v, int):
            limit = next(n for key, n in _DIM_LIMITS if key in f.name)
            if not -1 <= v <= limit:
                raise DataError(
                    f"{v} is out of range for a model dimension [-1, {limit}]",
                    path,
                    field=f"{field}.{f.name}",
                )
            if ("heads" in f.name or f.name in ("d_model", "d_ff")) and v < 1:
                raise DataError(f"{v} must be at least 1", path, field=where)
        elif isinstance(v, float) and not math.isfinite(v):
            raise DataError(f"{v} is not a finite number", path, field=where)
    d_model, heads = d.get("d_model"), d.get("n_heads")
    if isinstance(d_model, int) and isinstance(heads, int) and heads > 0 and d_model % heads:
        raise DataError(f"d_model {d_model} is not a multiple of n_heads {heads}", path,
                        field=f"{field}.n_heads")  # fmt: skip


def _check_size(build: Callable[[Parts], nn.Module], parts: Parts) -> None:
    """Build the model without memory (meta device) and count its parameters first."""
    try:
        with torch.device("meta"):
            n = sum(p.numel() for p in build(parts).parameters())
    except DataError:
        raise
    except (TypeError, ValueError, AssertionError, ZeroDivisionError, OverflowError) as e:
        # the builders take nothing but the checked config: what they refuse is the config's
        raise DataError(
            f"the model config cannot be built: {type(e).__name__}: {e}",
            parts.root / CONFIG,
            field="model",
        ) from None
    except (RuntimeError, NotImplementedError):
        return  # a builder that cannot run on meta tensors: the dimension limits stand alone
    if n > MAX_PARAMETERS:
        raise DataError(
            f"describes a model of {n:,} parameters (limit {MAX_PARAMETERS:,})",
            parts.root / CONFIG,
            field="model",
        )


class Parts(NamedTuple):
    """A checkpoint's config (checked) and tokenizers ({role: tokenizer}), before the model."""

    root: Path
    config: dict[str, Any]
    tokenizers: dict[str, Tokenizer]

    def file(self, role: str) -> Path:
        return self.root / self.config["tokenizers"][role]

    def model_config(self, cls: Callable[..., C], d: Any = None, field: str = "model") -> C:
        """`cls.from_dict` of config[field]; a DataError naming the file and field if it fails."""
        d = self.config["model"] if d is None else d
        if not isinstance(d, dict):
            raise DataError("model config must be an object", self.root / CONFIG, field=field)
        check_dimensions(cls, d, self.root / CONFIG, field)
        try:
            return cls.from_dict(d)  # type: ignore[attr-defined, no-any-return]
        except (UsageError, TypeError, ValueError, OverflowError, ZeroDivisionError) as e:
            raise DataError(str(e), self.root / CONFIG, field=field) from None

    def tokenizer(
        self, role: str, vocab_size: int, cls: type | tuple[type, ...] | None = None
    ) -> Tokenizer:
        """The tokenizer of `role`, checked against the model config's vocabulary size."""
        tok = self.tokenizers[role]
        if cls is not None and not isinstance(tok, cls):
            names = " or ".join(c.__name__ for c in (cls if isinstance(cls, tuple) else (cls,)))
            raise DataError(f"{role} tokenizer must be a {names}", self.file(role))
        check_vocab_size(tok, vocab_size, self.file(role))
        return tok


def read_parts(directory: str | Path, kinds: Sequence[str] | None = None, hint: str = "") -> Parts:
    """Config and tokenizers (each file read once, however many roles share it)."""
    root = resolve(directory)
    config = read_config(root, kinds, hint)
    loaded: dict[str, Tokenizer] = {}
    tokenizers = {}
    for role, name in config["tokenizers"].items():
        if name not in loaded:
            loaded[name] = load_tokenizer(root / name)
        tokenizers[role] = loaded[name]
    return Parts(root, config, tokenizers)


def load_weights(model: nn.Module, path: Path) -> None:
    """safetensors -> model; every name and shape checked first, DataError naming the tensor."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = load_file(str(path))
    except FileNotFoundError:
        raise DataError("weights file not found", path) from None
    except (SafetensorError, OSError, ValueError) as e:
        raise DataError(f"corrupt weights file: {e}", path) from None
    want = model.state_dict()
    problems = [f"missing {k}" for k in want if k not in state]
    problems += [f"unexpected {k}" for k in state if k not in want]
    problems += [
        f"{k} has shape {tuple(v.shape)}, the config says {tuple(want[k].shape)}"
        for k, v in state.items()
        if k in want and v.shape != want[k].shape
    ]
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise DataError(f"weights do not fit the config: {'; '.join(problems[:3])}{more}", path)
    model.load_state_dict(state, strict=True)


# ----------------------------------------------------------------------------------------------
# Build and load


class Loaded(NamedTuple):
    """What `load` returns: the model (eval mode), the checked config and {role: tokenizer}."""

    model: nn.Module
    config: dict[str, Any]
    tokenizers: dict[str, Tokenizer]
    root: Path


def config_builder(config_cls: Any, model_cls: Any, role: str = "target") -> Callable[[Parts], Any]:
    """A builder for a model made as `model_cls(config_cls.from_dict(config["model"]))` whose
    tokenizer `role` must match `config.vocab_size` (BT; the recognizer)."""

    def build(parts: Parts) -> nn.Module:
        cfg = parts.model_config(config_cls)
        parts.tokenizer(role, cfg.vocab_size)
        return model_cls(cfg)  # type: ignore[no-any-return]

    return build


def _build_pose(parts: Parts) -> nn.Module:
    from .models.mlsf import MLSF
    from .models.progressive import ProgressiveConfig
    from .models.prompt2langgloss import SharedPoseModel
    from .text.tokenizers import LangCharVocab, LangWordVocab

    config, cpath = parts.config, parts.root / CONFIG
    if config["kind"] == "mlsf":
        configs = {}
        for code in config["languages"]:
            d = config["model"].get(code)
            cfg = parts.model_config(ProgressiveConfig, d, field=f"model.{code}")
            parts.tokenizer(code, cfg.vocab_size)
            configs[code] = cfg
        if not configs:
            raise DataError("an MLSF checkpoint with no language", cpath, field="languages")
        return MLSF(next(iter(configs.values())), configs=configs)
    if not config["languages"]:
        raise DataError("a pose checkpoint with no language", cpath, field="languages")
    cfg = parts.model_config(ProgressiveConfig)
    vocab = parts.tokenizer(config["languages"][0], cfg.vocab_size, (LangCharVocab, LangWordVocab))
    return SharedPoseModel(vocab, cfg)  # type: ignore[arg-type]


def _build_text(parts: Parts) -> nn.Module:
    from .models.prompt2langgloss import PromptToLangGloss, TextSeq2SeqConfig
    from .text.tokenizers import LangWordVocab, SubwordTokenizer

    cfg = parts.model_config(TextSeq2SeqConfig)
    tok = parts.tokenizer("prompt", cfg.src_vocab_size, SubwordTokenizer)
    vocab = parts.tokenizer("target", cfg.tgt_vocab_size, LangWordVocab)
    text = parts.config["text"]
    try:
        return PromptToLangGloss(
            tok,  # type: ignore[arg-type]
            vocab,  # type: ignore[arg-type]
            cfg,
            gloss_languages=parts.config["languages"],
            tag_every_token=text["tag_every_token"],
            mode=text["mode"],
            max_len=text["max_len"],
        )
    except UsageError as e:
        raise DataError(str(e), parts.root / CONFIG, field="text") from None


def _build_bt(parts: Parts) -> nn.Module:
    from .models.backtranslation import BackTranslationConfig, BackTranslationModel

    return config_builder(BackTranslationConfig, BackTranslationModel)(parts)  # type: ignore


def _build_recognizer(parts: Parts) -> nn.Module:
    from .models.recognizer import Recognizer, RecognizerConfig

    cfg = parts.model_config(RecognizerConfig)
    if list(cfg.languages) != list(parts.config["languages"]):
        raise DataError("must equal model.languages", parts.root / CONFIG, field="languages")
    return Recognizer(cfg)


BUILDERS: dict[str, Callable[[Parts], nn.Module]] = {
    "mlsf": _build_pose,
    "pose": _build_pose,
    "text": _build_text,
    "bt": _build_bt,
    "recognizer": _build_recognizer,
}


def load(
    directory: str | Path,
    kinds: Sequence[str] | None = None,
    build: Callable[[Parts], nn.Module] | None = None,
    device: str | torch.device = "cpu",
    hint: str = "",
) -> Loaded:
    """Rebuild a model from its checkpoint directory alone (eval mode, on `device`).

    `build` makes the untrained model from the checked parts (default: the kind's own, see
    `BUILDERS`); the weights are then checked name by name and shape by shape.
    """
    parts = read_parts(directory, kinds, hint)
    kind = parts.config["kind"]
    if build is None and kind not in BUILDERS:
        raise UsageError(f"loading a {kind} checkpoint needs its builder (see config_builder)")
    builder = build or BUILDERS[kind]
    _check_size(builder, parts)
    model = builder(parts)
    load_weights(model, parts.root / WEIGHTS)
    model.to(device).eval()
    return Loaded(model, parts.config, parts.tokenizers, parts.root)


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


__all__ = [
    "BUILDERS",
    "CARD",
    "CONFIG",
    "FORMAT",
    "KINDS",
    "STATE",
    "VERSION",
    "WEIGHTS",
    "Loaded",
    "Parts",
    "config_builder",
    "load",
    "load_trainer_state",
    "load_weights",
    "model_card",
    "read_config",
    "read_parts",
    "remove_stale_tmp",
    "resolve",
    "save",
    "tokenizer_file",
    "write_dir_atomic",
]

"""Training configuration: one `@dataclass`, a JSON file, and command-line overrides.

Why one flat dataclass (with two nested ones, `model` and `plc`): it is the whole record of a run.
It is saved inside every checkpoint's `config.json`, so a checkpoint says how it was made, and
`--resume` can check that it continues the same run.

Sources, later wins: the defaults < `--config FILE` (JSON) < flags that `signllm.cli.train`
generates from the fields (`--lr 3e-4`, `--plc.eta 1`, `--model.dropout 0.1`, `--no-bf16`) <
`--set key=value` (repeatable, dotted keys for the nested options, `--set languages=gsg,ase`). Every value is checked, and an error
names the field: ``train config field 'lr': must be > 0, got -1.0``.

    cfg = TrainConfig(data="store/", out="runs/x", size="tiny", steps=200)
    cfg = apply_overrides(cfg, ["lr=1e-3", "plc.eta=1", "languages=gsg"])

Learning-rate schedule (`signllm.train.trainer.lr_at`): linear warm-up from lr/W to lr over the
first W = `TrainConfig.warmup` = min(warmup_steps, ceil(warmup_fraction * steps)) steps, so a
short run is not all warm-up (the defaults give 100 steps at 1000+ steps, 10 at 100, 3 at 30),
then `decay` (cosine or linear) to min_lr_ratio * lr at `steps`; "none" stays at lr.

Model selection: dev DTW-MJE picks best/. When the store has no `dev_split` clips for the trained
languages, `train` holds out `dev_holdout` (10%) of the train clips, at least `HOLDOUT_MIN_DEV`
(2), at most `dev_holdout_max`, drawn by `seed`, at least one per language that has two or
more (so the minimum and the cap bend to that); it trains on the rest, logs
it, and records the held-out ids (checkpoints' config.json "dev_holdout", result.json). With
fewer than `HOLDOUT_MIN_CLIPS` train clips nothing is held out (also logged): then no best/.
Dev evaluations run every `eval_every` steps, by default every 200 or a tenth of a shorter run,
plus steps 10, 20, 40, 80, ... before that (`eval_due`).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UsageError

MODES = ("mlsf", "prompt")
TOKENIZERS = ("char", "auto", "gloss", "text", "subword")
DECAYS = ("cosine", "linear", "none")
DEVICES = ("auto", "cpu", "cuda", "mps")
HOLDOUT_MIN_CLIPS = 8  # fewer train clips than this: no automatic dev holdout
HOLDOUT_MIN_DEV = 2  # an automatic dev set has at least this many clips (one is too noisy)


@dataclass
class ModelOptions:
    """Overrides of `ProgressiveConfig` fields on top of the size preset (None = preset/default).

    vocab_size, pad_id and pose_dim are not here: they come from the tokenizer and the data.
    """

    d_model: int | None = None
    n_heads: int | None = None
    n_enc_layers: int | None = None
    n_dec_layers: int | None = None
    d_ff: int | None = None
    dropout: float | None = None
    future_k: int | None = None
    noise_std: float | None = None
    pos_encoding: str | None = None
    max_positions: int | None = None
    counter_loss: str | None = None
    counter_weight: float | None = None
    length_weight: float | None = None
    decode_counter: str | None = None
    bias: bool | None = None
    # a body by construction (models/kinematic.py): fixed bone lengths fitted on the train split
    output_head: str | None = "kinematic"
    pose_input: str | None = "counter"  # no exposure bias (see ProgressiveConfig.pose_input)
    hand_weight: float | None = 30.0  # held-out ASL spelling, tiny: 0.84 at 30, 0.82 at 3

    def overrides(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


@dataclass
class PLCOptions:
    """Priority Learning Channel and the RL loss (definitions in signllm/train/plc.py).

    eta = 0 (default) samples uniformly through the plain batch plan, so a PLC run and its
    baseline differ only in eta. favour: "hard" draws high-MSE clips more, "easy" low-MSE ones
    (the paper's direction); epsilon: share of uniform draws. threshold: skip a batch's update
    when its MSE crosses the running reference (None = never; 0.5 with skip "hard" is the paper's
    "50%" rule). importance_weights: undo the sampling bias (beta annealed 0.4 -> 1).
    loss: "pooled" = MSE over every valid value of the batch (Progressive Transformers), "rl" =
    the paper's RL loss, the mean of per-clip MSEs (minus the mean reward).
    """

    eta: float = 0.0
    favour: str = "hard"
    epsilon: float = 0.1
    samples_per_epoch: int | None = None
    threshold: float | None = None
    skip: str = "hard"
    reference: str = "running_mean"
    skip_warmup_steps: int = 100
    importance_weights: bool = True
    loss: str = "pooled"

    @property
    def sampling(self) -> bool:
        return self.eta > 0


@dataclass
class TrainConfig:
    """Everything a training run needs; see the module docstring for how to set it."""

    # data and output
    data: str = ""  # store directory (signllm/data/store.py)
    out: str = ""  # run directory: checkpoints last/ and best/, metrics.jsonl, result.json
    mode: str = "mlsf"  # "mlsf" (a group per language) or "prompt" (one shared model)
    languages: list[str] | str = "all"  # codes ("gsg,ase") or "all" languages of the train split
    train_split: str = "train"
    dev_split: str = "dev"  # model selection; without it, a dev set is held out of train:
    dev_holdout: float = 0.1  # share of train clips held out when the store has no dev split
    dev_holdout_max: int = 64  # at most this many (0 = never hold out)
    # inputs: "char" = words with a character fallback, never <unk> (signllm/text/tokenizers.py:
    # CharVocab; mode prompt: LangCharVocab); word level: "gloss", "text", "auto" (gloss where
    # every clip has one, else text), "subword" (MLSF only); prompt mode with a word kind:
    # LangWordVocab
    tokenizer: str = "char"
    # MLSF: every batch from one language, so a step runs one group (a batch of a dozen
    # languages runs a dozen tiny sub-batches: ~9x slower per step on a GPU, measured)
    language_batches: bool = True
    subword_vocab_size: int = 8000
    # model
    size: str = "tiny"  # preset of signllm.models.progressive.PRESETS
    model: ModelOptions = field(default_factory=ModelOptions)
    # batching
    batch_size: int = 8  # clips per global batch (split over DDP ranks)
    max_frames_per_batch: int | None = None  # set: length-bucketed batches of <= this many frames
    # share of the draws for recorded clips against composed ones (the demo corpus's
    # fingerspelled words): recorded clips are repeated in each epoch up to about this share
    # (0 = uniform draws; nothing changes when recordings already make it; train/data.py)
    recorded_share: float = 0.0
    max_clip_frames: int = 400  # longer clips are truncated (the counter keeps the full length)
    normalize: bool = True  # standardise coordinates with train-split mean/std (saved in ckpt)
    stats_clips: int = 2000  # clips sampled for the normalisation stats (0 = the whole split)
    num_workers: int = 0  # DataLoader worker processes (uniform sampling only)
    # optimisation
    steps: int = 1000
    lr: float = 3e-4
    weight_decay: float = 0.01
    warmup_steps: int = 100  # linear warm-up, capped by warmup_fraction (see `warmup_for`)
    warmup_fraction: float = 0.1  # warm-up <= this share of `steps` (1 = no cap)
    decay: str = "cosine"  # "cosine" | "linear" | "none", down to min_lr_ratio * lr at `steps`
    min_lr_ratio: float = 0.1
    grad_clip: float = 1.0  # max global grad norm (0 = off)
    # decay of an exponential moving average of the weights (0 = off; e.g. 0.999): dev
    # evaluations and best/ use the average, last/ keeps the raw weights (and the average in its
    # trainer state) so --resume continues exactly
    ema: float = 0.0
    bf16: bool = True  # bf16 autocast, on CUDA only (CPU/MPS stay float32)
    plc: PLCOptions = field(default_factory=PLCOptions)
    # evaluation, checkpoints, logging
    eval_every: int | None = None  # steps between dev evaluations (0 = only at the end;
    # None = `eval_interval`: 200, or a tenth of a shorter run, so best/ can catch an early best)
    eval_clips: int = 16  # dev clips decoded honestly for DTW-MJE (bounded: decoding is slow)
    eval_loss_clips: int = 256  # dev clips for the teacher-forced dev loss
    early_stopping_patience: int = 0  # evaluations without a better dev DTW-MJE (0 = off)
    checkpoint_every: int = 200  # steps between checkpoints of last/ (0 = only at the end)
    log_every: int = 10
    log: str | None = None  # JSONL metrics path (default OUT/metrics.jsonl)
    tensorboard: bool = False  # also write TensorBoard events to OUT/tensorboard (optional dep)
    progress: bool = True  # tqdm bar on rank 0 when stderr is a terminal, else log lines
    seed: int = 0
    device: str = "auto"  # "auto" = cuda -> mps -> cpu
    threads: int = 0  # torch CPU threads (0 = by model size and load: signllm/train/runtime.py)
    resume: bool = False  # continue OUT/last exactly (same config); without OUT/last: a fresh
    # start (or init_from), so "the same command + --resume" restarts a preempted job
    init_from: str | None = None  # start from a checkpoint (MLSF: add languages to it)
    # MLSF, a shared start: groups share no weights, so each learns from its own language's
    # clips alone (~50 words a language in the demo corpus: 63% of the reader's ceiling where the
    # shared Prompt2LangGloss model reaches 79%). `shared_steps` > 0 first trains the shared
    # all-language pose model (mode prompt) for that many steps in OUT/shared, then starts every
    # group from it (`group_init`) and trains the groups for `steps`; `group_init` alone starts
    # them from a prompt-mode checkpoint trained elsewhere. Groups still end up independent.
    shared_steps: int = 0
    group_init: str | None = None

    @property
    def warmup(self) -> int:
        """Warm-up steps actually used: warmup_steps, capped at warmup_fraction of the run."""
        return min(self.warmup_steps, math.ceil(self.warmup_fraction * self.steps))

    @property
    def eval_interval(self) -> int:
        """Steps between dev evaluations (0 = at the end only): eval_every, or by default 200
        capped at a tenth of the run (ten evaluations: a run that gets worse keeps its best)."""
        if self.eval_every is not None:
            return self.eval_every
        return min(200, max(1, math.ceil(self.steps / 10)))

    def eval_due(self, step: int) -> bool:
        """Whether a dev evaluation runs after `step` (the last step always has one, elsewhere).

        Every `eval_interval` steps; by default (eval_every none) also at steps 10, 20, 40, 80, ...
        before the first interval: on a small corpus the held-out best comes early (PHOENIX,
        9 train clips: dev DTW-MJE lowest near step 30-40, then worse as the model memorises).
        """
        every = self.eval_interval
        if every and step % every == 0:
            return True
        if self.eval_every is None and step < every and step % 10 == 0:
            k = step // 10
            return k & (k - 1) == 0  # 10 * a power of two
        return False

    # -- validation ------------------------------------------------------------------------

    def validate(self) -> TrainConfig:
        """Raise `UsageError` naming the first bad field; returns self for chaining."""

        def bad(name: str, msg: str) -> None:
            raise UsageError(f"train config field {name!r}: {msg}")

        from ..models.progressive import PRESETS

        if not self.data:
            bad("data", "the store directory is required (--data DIR)")
        if not self.out:
            bad("out", "the output directory is required (--out DIR)")
        for name, choices in (
            ("mode", MODES),
            ("tokenizer", TOKENIZERS),
            ("decay", DECAYS),
            ("device", DEVICES),
            ("size", tuple(PRESETS)),
        ):
            if getattr(self, name) not in choices:
                bad(name, f"must be one of {', '.join(choices)}, got {getattr(self, name)!r}")
        self.languages = _languages(self.languages)
        if self.shared_steps < 0:
            bad("shared_steps", f"must be >= 0, got {self.shared_steps}")
        for name in ("shared_steps", "group_init"):
            if getattr(self, name) and self.mode != "mlsf":
                bad(name, "a shared start is for mode mlsf (its groups start from mode prompt)")
            if getattr(self, name) and self.init_from:
                bad(name, "init_from already gives the groups their weights")
            if getattr(self, name) and self.tokenizer == "subword":
                bad(name, "the shared model has no subword inputs: use tokenizer char")
        if self.shared_steps and self.group_init:
            bad("group_init", "shared_steps trains the shared model itself: give one of the two")
        if self.mode == "prompt" and self.tokenizer == "subword":
            bad("tokenizer", "mode 'prompt' uses a language-tagged word vocabulary, not subword")
        positive = ("batch_size", "max_clip_frames", "steps", "subword_vocab_size", "log_every")
        for name in positive:
            if getattr(self, name) < 1:
                bad(name, f"must be >= 1, got {getattr(self, name)}")
        non_negative = (
            "warmup_steps",
            "eval_clips",
            "eval_loss_clips",
            "early_stopping_patience",
            "checkpoint_every",
            "num_workers",
            "threads",
            "dev_holdout_max",
            "stats_clips",
            "weight_decay",
            "grad_clip",
        )
        for name in non_negative:
            if getattr(self, name) < 0:
                bad(name, f"must be >= 0, got {getattr(self, name)}")
        if not self.lr > 0:
            bad("lr", f"must be > 0, got {self.lr}")
        if self.eval_every is not None and self.eval_every < 0:
            bad("eval_every", f"must be >= 0 or none, got {self.eval_every}")
        if not 0 <= self.dev_holdout < 1:
            bad("dev_holdout", f"must be in [0, 1), got {self.dev_holdout}")
        if not 0 <= self.warmup_fraction <= 1:
            bad("warmup_fraction", f"must be in [0, 1], got {self.warmup_fraction}")
        if not 0 <= self.ema < 1:
            bad("ema", f"must be in [0, 1), got {self.ema}")
        if not 0 <= self.recorded_share < 1:
            bad("recorded_share", f"must be in [0, 1), got {self.recorded_share}")
        if not 0 <= self.min_lr_ratio <= 1:
            bad("min_lr_ratio", f"must be in [0, 1], got {self.min_lr_ratio}")
        if self.max_frames_per_batch is not None and self.max_frames_per_batch < 1:
            bad("max_frames_per_batch", f"must be >= 1, got {self.max_frames_per_batch}")
        plc = self.plc
        if plc.eta < 0:
            bad("plc.eta", f"must be >= 0, got {plc.eta}")
        if not 0 <= plc.epsilon <= 1:
            bad("plc.epsilon", f"must be in [0, 1], got {plc.epsilon}")
        if plc.threshold is not None and not 0 < plc.threshold <= 1:
            bad("plc.threshold", f"must be in (0, 1] or none, got {plc.threshold}")
        if plc.samples_per_epoch is not None and plc.samples_per_epoch < 1:
            bad("plc.samples_per_epoch", f"must be >= 1, got {plc.samples_per_epoch}")
        if plc.skip_warmup_steps < 0:
            bad("plc.skip_warmup_steps", f"must be >= 0, got {plc.skip_warmup_steps}")
        for name, value, choices in (
            ("plc.favour", plc.favour, ("hard", "easy")),
            ("plc.skip", plc.skip, ("hard", "easy")),
            ("plc.reference", plc.reference, ("running_mean", "median")),
            ("plc.loss", plc.loss, ("pooled", "rl")),
        ):
            if value not in choices:
                bad(name, f"must be one of {', '.join(choices)}, got {value!r}")
        if plc.sampling and self.recorded_share:
            bad("recorded_share", "PLC sampling (plc.eta > 0) draws clips by their loss instead")
        if plc.sampling and self.max_frames_per_batch is not None:
            bad(
                "max_frames_per_batch",
                "length bucketing and PLC sampling (plc.eta > 0) exclude "
                "each other: PLC draws clips one by one",
            )
        try:  # the model overrides must make a valid ProgressiveConfig
            from ..models.progressive import preset_config

            preset_config(self.size, vocab_size=8, pose_dim=150, **self.model.overrides())
        except UsageError as e:
            bad("model", str(e))
        return self

    # -- (de)serialisation -----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "train config") -> TrainConfig:
        """Build from a (possibly partial) dict; unknown keys are an error naming them."""
        return _from_dict(cls, d, where)

    @classmethod
    def from_json(cls, path: str | Path) -> TrainConfig:
        """A JSON config file (a partial dict is fine: missing fields keep their defaults)."""
        from ..errors import DataError
        from ..safeio import read_json

        path = Path(path)
        try:  # not UTF-8, broken, too deep, NaN: one line naming the file and line
            d = read_json(path, "config file")
        except DataError as e:
            raise UsageError(str(e)) from None
        if not isinstance(d, dict):
            raise UsageError(f"{path}: a config file must hold a JSON object")
        return cls.from_dict(d, where=str(path))


def _languages(value: Any) -> list[str] | str:
    if isinstance(value, str):
        value = value.strip()
        if value == "all":
            return "all"
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not value:
        raise UsageError(f"train config field 'languages': a list of codes or 'all', got {value!r}")
    if value == ["all"]:  # `--languages all` on the command line
        return "all"
    for code in value:
        if not isinstance(code, str) or not code.isalpha() or not code.islower():
            raise UsageError(f"train config field 'languages': bad language code {code!r}")
    return list(dict.fromkeys(value))


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _from_dict(cls: type, d: dict[str, Any], where: str, prefix: str = "") -> Any:
    hints = _hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - names)
    if unknown:
        raise UsageError(f"{where}: unknown field '{prefix}{unknown[0]}'")
    kwargs: dict[str, Any] = {}
    for name, value in d.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, dict):
                raise UsageError(f"{where}: field {prefix}{name!r} must be an object")
            kwargs[name] = _from_dict(hint, value, where, f"{prefix}{name}.")
        else:
            kwargs[name] = _check_type(value, hint, f"{prefix}{name}", where)
    return cls(**kwargs)


def _check_type(value: Any, hint: Any, name: str, where: str) -> Any:
    """A JSON value against a field's type (ints are accepted where floats are expected)."""
    options = _union(hint)
    for t in options:
        if t is type(None) and value is None:
            return None
        if t is bool and isinstance(value, bool):
            return value
        if t is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if t is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if t is str and isinstance(value, str):
            return value
        if typing.get_origin(t) is list and isinstance(value, list):
            return list(value)
    raise UsageError(f"{where}: field {name!r} must be {_type_name(hint)}, got {value!r}")


def _union(hint: Any) -> tuple[Any, ...]:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return typing.get_args(hint)
    return (hint,)


def _type_name(hint: Any) -> str:
    names = []
    for t in _union(hint):
        names.append(
            "null" if t is type(None) else "a list" if typing.get_origin(t) else t.__name__
        )
    return " or ".join(names)


def parse_value(text: str, hint: Any, name: str) -> Any:
    """A command-line string -> a value of the field's type (`none`/`null` for optional fields)."""
    options = _union(hint)
    low = text.strip().lower()
    if type(None) in options and low in ("none", "null", ""):
        return None
    for t in options:
        if t is bool:
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
        elif t is int:
            try:
                return int(text)
            except ValueError:
                pass
        elif t is float:
            try:
                return float(text)
            except ValueError:
                pass
        elif typing.get_origin(t) is list:
            return [v.strip() for v in text.split(",") if v.strip()]
        elif t is str:
            return text
    raise UsageError(f"train config field {name!r}: expected {_type_name(hint)}, got {text!r}")


def field_types(cls: type = TrainConfig, prefix: str = "") -> dict[str, Any]:
    """{dotted name: type} of every leaf field: `lr`, `plc.eta`, `model.dropout`, ..."""
    out: dict[str, Any] = {}
    for name, hint in _hints(cls).items():
        if dataclasses.is_dataclass(hint):
            out.update(field_types(hint, f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = hint
    return out


def set_field(cfg: TrainConfig, key: str, value: Any) -> None:
    """Set a dotted field (`plc.eta`) to an already-typed value."""
    *parents, leaf = key.split(".")
    obj: Any = cfg
    for p in parents:
        obj = getattr(obj, p)
    setattr(obj, leaf, value)


def apply_overrides(cfg: TrainConfig, items: list[str]) -> TrainConfig:
    """Apply `key=value` strings (dotted keys for nested options); returns a changed copy."""
    cfg = dataclasses.replace(
        cfg, model=dataclasses.replace(cfg.model), plc=dataclasses.replace(cfg.plc)
    )
    types_ = field_types()
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep:
            raise UsageError(f"--set takes key=value, got {item!r}")
        if key not in types_:
            raise UsageError(f"train config has no field {key!r} (--set {item})")
        set_field(cfg, key, parse_value(text, types_[key], key))
    return cfg


__all__ = [
    "DECAYS",
    "HOLDOUT_MIN_CLIPS",
    "HOLDOUT_MIN_DEV",
    "MODES",
    "TOKENIZERS",
    "ModelOptions",
    "PLCOptions",
    "TrainConfig",
    "apply_overrides",
    "field_types",
    "parse_value",
    "set_field",
]

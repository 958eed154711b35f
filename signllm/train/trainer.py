"""Training loop: store -> tokenizers + normalisation -> model -> AdamW -> checkpoints.

    # a tiny CPU run on a store built with signllm/data/store.py
    python -m signllm train --data store/ --out runs/tiny --size tiny --steps 200
    # two processes (CPU: gloo; GPUs: nccl), same global batch as one process
    torchrun --standalone --nproc_per_node 2 -m signllm train --data store/ --out runs/ddp
    # continue after a crash or kill -9, exactly where the last checkpoint was
    python -m signllm train --data store/ --out runs/tiny --steps 200 --resume
    # MLSF: add a language to a trained checkpoint; the other groups stay bit-identical
    python -m signllm train --data store/ --out runs/ase --init-from runs/tiny/best --languages ase
    # from Python
    result = train(TrainConfig(data="store/", out="runs/tiny", size="tiny", steps=200))

Modes. "mlsf": one `ProgressiveTransformer` group per language (`MLSF`), each with its own
tokenizer; `languages` picks the groups that exist and train; with `init_from`, groups of the
checkpoint not in `languages` are frozen (no gradient, not in the optimizer: bit-identical), and new
languages are added as fresh groups. "prompt": the shared all-language model of Prompt2LangGloss
(`SharedPoseModel`): one `ProgressiveTransformer` whose inputs are `LangCharVocab` tokens
(``<gsg> gsg:wetter <w> m o r g e n </w>``: gloss where the clip has one, else its text words;
`LangWordVocab` with a word-level `tokenizer`), so whole words carry the language themselves. The prompt -> LangGloss text model is trained apart
(signllm.models.prompt2langgloss); this trainer trains the pose side.

Exact resume. Everything that decides the next step is either derived from (seed, step) or saved
in `last/trainer_state.pt`: the batch plan's position (epoch, pos), the optimizer moments, the
per-rank torch RNG states (dropout, input noise), numpy/python RNG states, the PLC sampler and
batch skipper, the best dev metric and the early-stopping count. The learning rate is a function
of the step. Evaluation draws no random numbers. So a run killed after a checkpoint and resumed
ends with the same weights (bit for bit on the same machine and thread count) as an uninterrupted
run.

Loss under DDP. Each rank's loss is its share of the *global* batch loss: local sums divided by
global counts (all-reduced), times the world size; DDP averages gradients over ranks, so the
update equals the single-process one on the same global batch (up to float summation order).

Evaluation (rank 0; the others wait for its early-stopping decision): teacher-forced dev loss on up
to `eval_loss_clips` clips, and honest generation (no ground-truth counter or length) on the first
`eval_clips` dev clips, de-normalised and scored with DTW-MJE against the full true clips. Early
stopping and the best/ checkpoint follow dev DTW-MJE (lower is better).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..checkpoint import remove_stale_tmp
from ..data.store import Store
from ..errors import DataError, UsageError
from ..metrics.dtw import dtw_mje
from ..models.kinematic import KinematicHead
from ..models.mlsf import MLSF
from ..models.progressive import ProgressiveConfig, preset_config
from ..safeio import read_json
from ..skeleton import get_skeleton
from . import distributed as D
from .checkpoint import (
    CONFIG,
    load_checkpoint,
    load_trainer_state,
    resolve,
    save_checkpoint,
    write_json,
)
from .config import HOLDOUT_MIN_CLIPS, HOLDOUT_MIN_DEV, TrainConfig
from .data import (
    BatchPlan,
    ClipDataset,
    ClipIndex,
    NormStats,
    PoseBatch,
    StartupCache,
    batch_stream,
    build_tokenizers,
    cached_body,
    cached_stats,
    cached_tokenizers,
    compute_stats,
    fit_body_from_store,
    iter_eval_batches,
    resolve_kind,
    shard,
    share_repeats,
    train_languages,
)
from .plc import rl_loss
from .runtime import ProgressLog, bar_wanted, set_threads

log = logging.getLogger("signllm.train")

# fields that must not change between a run and its --resume (they change data, model or order)
RESUME_FIXED = (
    "mode",
    "languages",
    "size",
    "model",
    "tokenizer",
    "subword_vocab_size",
    "seed",
    "batch_size",
    "max_frames_per_batch",
    "max_clip_frames",
    "normalize",
    "train_split",
    "language_batches",
    "recorded_share",
)


@dataclass
class TrainResult:
    """What `train` returns (rank 0 also writes it to OUT/result.json)."""

    out: str
    checkpoint: str  # best/ when a dev evaluation ran, else last/
    last: str
    best: str | None
    step: int
    train_loss: float | None
    best_dev_dtw_mje: float | None
    stopped_early: bool
    languages: list[str]
    trained_languages: list[str]
    world_size: int = 1
    rank_digests: list[str] = field(default_factory=list)  # sha256 of the weights on each rank
    final_eval: dict[str, Any] = field(default_factory=dict)
    dev_source: str = ""  # where the dev set came from: a store split, held out of train, none
    dev_holdout: list[str] = field(default_factory=list)  # ids held out of train as the dev set
    threads: int = 0  # torch CPU threads used

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warmup over `cfg.warmup` steps, then cosine/linear decay to min_lr_ratio * lr
    (the schedule is documented in signllm/train/config.py)."""
    warmup = cfg.warmup
    if warmup and step < warmup:
        return cfg.lr * (step + 1) / warmup
    if cfg.decay == "none":
        return cfg.lr
    p = min(1.0, (step - warmup) / max(1, cfg.steps - warmup))
    floor = cfg.lr * cfg.min_lr_ratio
    if cfg.decay == "cosine":
        return floor + (cfg.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * p))
    return cfg.lr - (cfg.lr - floor) * p


class LossModule(nn.Module):
    """What DDP wraps: a batch's tensors -> the model's loss dict (MLSF or shared model)."""

    def __init__(self, model: nn.Module, mode: str) -> None:
        super().__init__()
        self.model, self.mode = model, mode

    def forward(
        self,
        tokens: Tensor,
        token_mask: Tensor,
        frames: Tensor,
        frame_mask: Tensor,
        joint_mask: Tensor,
        language: str | list[str],
    ) -> dict[str, Tensor]:
        if self.mode == "mlsf":
            return self.model.loss(language, tokens, token_mask, frames, frame_mask, joint_mask)
        return self.model.model.loss(tokens, token_mask, frames, frame_mask, joint_mask)


def generate(model: nn.Module, mode: str, batch: PoseBatch, max_frames: int) -> dict[str, Tensor]:
    """Honest decoding of a batch with either kind of model."""
    if mode == "mlsf":
        return model.generate(batch.language, batch.tokens, batch.token_mask, max_frames=max_frames)
    return model.model.generate(batch.tokens, batch.token_mask, max_frames=max_frames)


def weights_digest(model: nn.Module) -> str:
    """sha256 over the state dict (names and bytes): equal digests = bit-identical weights."""
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().to("cpu").contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


# ----------------------------------------------------------------------------------------------
# RNG state as tensors and plain types (trainer_state.pt loads with weights_only=True)


def _rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    py = random.getstate()
    return {
        "numpy": {
            "keys": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": {"version": py[0], "state": list(py[1]), "gauss": py[2]},
    }


def _set_rng_state(s: dict[str, Any]) -> None:
    n = s["numpy"]
    np.random.set_state(
        (
            "MT19937",
            n["keys"].numpy().astype(np.uint32),
            n["pos"],
            n["has_gauss"],
            n["cached_gaussian"],
        )
    )
    p = s["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))


# ----------------------------------------------------------------------------------------------
# Automatic dev holdout


def _holdout_rank(seed: int, clip_id: str) -> bytes:
    return hashlib.sha256(f"dev-holdout\x00{seed}\x00{clip_id}".encode()).digest()


def holdout_ids(
    store: Store,
    split: str,
    languages: list[str],
    fraction: float,
    cap: int,
    seed: int,
) -> list[str]:
    """The train clips to hold out as a dev set when a store has none ([] = hold out nothing).

    round(fraction * clips) in all but at least HOLDOUT_MIN_DEV (one clip's DTW-MJE is too noisy
    to select on: 10 PHOENIX train sentences, 100-1000 steps, best/ chosen by one held-out clip
    was 1-3% worse than the mean pose on the 5 test sentences, by two 0.5-1.5% better), at most
    `cap`; spread over languages by
    their share, at least one from each language with two or more clips, never a language's
    last one; none when fewer than HOLDOUT_MIN_CLIPS clips. Each language's clips are ranked by SHA-256(seed, id):
    the same seed holds out the same clips, and clips added to a store later do not reshuffle
    the others.
    """
    per = {c: store.ids(split=split, language=c) for c in languages}
    total = sum(len(v) for v in per.values())
    if fraction <= 0 or cap <= 0 or total < HOLDOUT_MIN_CLIPS:
        return []
    target = min(cap, max(HOLDOUT_MIN_DEV, round(fraction * total)))
    out: list[str] = []
    for code in languages:
        ids = per[code]
        if len(ids) < 2:
            continue
        k = min(len(ids) - 1, max(1, round(target * len(ids) / total)))
        out += sorted(ids, key=lambda i: _holdout_rank(seed, i))[:k]
    return out


# ----------------------------------------------------------------------------------------------
# The trainer


class Trainer:
    """One training run; `run()` does it. Built by `train(config)`."""

    def __init__(
        self,
        cfg: TrainConfig,
        info: D.DistInfo,
        on_step: Callable[[int, dict[str, Any]], None] | None = None,
    ) -> None:
        self.cfg, self.info, self.on_step = cfg, info, on_step
        self.out = Path(cfg.out)
        self.last_dir, self.best_dir = self.out / "last", self.out / "best"
        self.device = info.device
        if self.device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        self.store = Store(cfg.data)
        self.dev_split = cfg.dev_split or "dev"
        self.holdout: list[str] = []
        self.dev_source = "none"
        self.cache = StartupCache(self.store, self.out)  # start-up cost not growing with clips
        self.skeleton = self.store.skeleton
        self.joints = get_skeleton(self.skeleton).num_joints
        self.step = 0
        self.best: float | None = None
        self.bad_evals = 0
        self.metrics_path = Path(cfg.log) if cfg.log else self.out / "metrics.jsonl"
        self._tb: Any = None
        self._floor: np.ndarray | None = None  # mean training pose when not normalising

        resume_state: dict[str, Any] | None = None
        resuming = cfg.resume and (resolve(self.last_dir) / CONFIG).exists()
        self._choose_dev(resuming)
        if resuming:
            self._check_resume_config()
            resume_state = load_trainer_state(self.last_dir)
            self._setup_from_checkpoint(self.last_dir, resume=True)
        else:
            if cfg.resume:
                self._say(f"--resume: no checkpoint in {self.last_dir} yet, starting anew")
            if cfg.init_from:
                self._setup_from_checkpoint(Path(cfg.init_from), resume=False)
            else:
                self._setup_fresh()
        self.threads = torch.get_num_threads()
        if self.device.type == "cpu" or cfg.threads:
            self.threads = set_threads(cfg.threads, info.world_size)
        self._build_data()
        self._build_optimizer()
        torch.manual_seed(cfg.seed * 1000 + info.rank + 1)  # dropout/noise stream per rank
        if resume_state is not None:
            self._load_state(resume_state)

    # -- setup -------------------------------------------------------------------------------

    def _say(self, msg: str) -> None:
        if self.info.is_main:
            log.info(msg)

    def _choose_dev(self, resuming: bool) -> None:
        """The dev set: the store's dev split, else clips held out of train (see config.py).

        On resume the held-out ids come from last/config.json, so the run keeps its dev set.
        """
        cfg = self.cfg
        if resuming:
            old = json.loads((resolve(self.last_dir) / CONFIG).read_text(encoding="utf-8"))
            saved = [i for i in old.get("dev_holdout") or [] if i in self.store]
            if saved:
                self._hold_out(saved, f"the {len(saved)} clips of the resumed run")
                return
        langs = train_languages(self.store, cfg.train_split, cfg.languages)
        if any(self.store.ids(split=self.dev_split, language=c) for c in langs):
            self.dev_source = f"split {self.dev_split!r}"
            return
        if resuming:  # the run being resumed held nothing out: keep its training set
            return
        n = sum(len(self.store.ids(split=cfg.train_split, language=c)) for c in langs)
        ids = holdout_ids(
            self.store, cfg.train_split, langs, cfg.dev_holdout, cfg.dev_holdout_max, cfg.seed
        )
        if ids:
            self._hold_out(ids, f"{len(ids)} of {n} {cfg.train_split!r} clips, seed {cfg.seed}")
        else:
            why = (
                f"only {n} {cfg.train_split!r} clips (< {HOLDOUT_MIN_CLIPS})"
                if n < HOLDOUT_MIN_CLIPS
                else "dev_holdout is 0"
            )
            self._say(
                f"no {self.dev_split!r} clips and {why}: no dev set is held out, so there is "
                "no dev DTW-MJE and no best/ checkpoint (the run ends with last/)"
            )

    def _hold_out(self, ids: list[str], how: str) -> None:
        self.holdout = list(ids)
        self.dev_source = f"held out of {self.cfg.train_split!r}"
        self.store = self.store.with_split(ids, self.dev_split)
        self._say(
            f"no {self.dev_split!r} split in the store: holding out {how} as the dev set "
            f"for best/ (dev DTW-MJE); training on the rest. Held out: "
            + ", ".join(ids[:8])
            + (f", ... ({len(ids)} in all, listed in result.json)" if len(ids) > 8 else "")
        )

    def _model_config(self, vocab_size: int, pad_id: int) -> ProgressiveConfig:
        return preset_config(
            self.cfg.size,
            vocab_size=vocab_size,
            pad_id=pad_id,
            pose_dim=self.joints * 3,
            **self.cfg.model.overrides(),
        )

    def _setup_fresh(self) -> None:
        cfg = self.cfg
        langs = train_languages(self.store, cfg.train_split, cfg.languages)
        if cfg.mode == "prompt":
            self.kinds = dict.fromkeys(
                langs, "langchar" if cfg.tokenizer == "char" else "langgloss"
            )
        else:
            self.kinds = {
                c: resolve_kind(self.store, cfg.train_split, c, cfg.tokenizer) for c in langs
            }
        # a held-out dev set changes what "train" holds: it is part of every cache key
        moved = hashlib.sha256("\n".join(self.holdout).encode()).hexdigest()[:16]
        key = {"split": cfg.train_split, "languages": langs, "kinds": self.kinds, "moved": moved}
        self.tokenizers = cached_tokenizers(
            self.cache,
            {**key, "mode": cfg.mode, "subword_vocab_size": cfg.subword_vocab_size},
            lambda: build_tokenizers(
                self.store, cfg.train_split, langs, cfg.mode, self.kinds, cfg.subword_vocab_size
            ),
        )
        key = {"split": cfg.train_split, "languages": langs, "clips": cfg.stats_clips}
        key["moved"] = moved
        key["seed"] = cfg.seed
        self.stats = (
            cached_stats(
                self.cache,
                key,
                lambda: compute_stats(
                    self.store, cfg.train_split, langs, cfg.stats_clips, cfg.seed
                ),
            )
            if cfg.normalize
            else NormStats.identity(self.joints)
        )
        if cfg.model.output_head == "kinematic" and cfg.normalize:
            # joints that hardly move (the neck: the signing space's origin) have a tiny std;
            # the head moves them through the body, and dividing by ~0 would blow their error up
            self.stats = self.stats.with_std_floor(0.1)
        torch.manual_seed(cfg.seed)  # the same initial weights on every rank and every run
        if cfg.mode == "mlsf":
            model: nn.Module = MLSF(self._model_config(8, 0))
            for code in langs:
                tok = self.tokenizers[code]
                model.add_language(code, self._model_config(tok.vocab_size, tok.pad_id))
        else:
            from ..models.prompt2langgloss import SharedPoseModel

            vocab = self.tokenizers[langs[0]]
            model = SharedPoseModel(vocab, self._model_config(vocab.vocab_size, vocab.pad_id))  # type: ignore[arg-type]
        if cfg.model.output_head == "kinematic":
            body = cached_body(
                self.cache,
                key,
                lambda: fit_body_from_store(
                    self.store, cfg.train_split, langs, cfg.stats_clips, cfg.seed
                ),
            )
            for m in model.modules():
                if isinstance(m, KinematicHead):
                    m.set_body(body["rest"], body["lengths"], self.stats.mean, self.stats.std)
            self._say(
                "kinematic head: body fitted on the train split (shoulder width "
                f"{float(np.linalg.norm(body['rest'][2] - body['rest'][5])):.3f})"
            )
        if cfg.group_init:
            self._start_groups(model, Path(cfg.group_init))  # type: ignore[arg-type]
        self.model = model.to(self.device)
        self.trained = list(langs)

    def _start_groups(self, model: MLSF, path: Path) -> None:
        """`group_init`: every group starts from the shared pose model of a prompt checkpoint
        (`MLSF.start_from_shared`), and the run adopts its normalisation, which those weights
        were trained under."""
        ck = load_checkpoint(path)
        if ck.config["mode"] != "prompt":
            raise UsageError(
                f"group_init {path}: a {ck.config['mode']!r} checkpoint; the groups start from "
                "a mode 'prompt' one (the shared all-language model)"
            )
        if ck.config.get("skeleton", self.skeleton) != self.skeleton:
            raise UsageError(
                f"group_init {path} was trained on skeleton {ck.config.get('skeleton')!r}"
            )
        vocab = next(iter(ck.tokenizers.values()))
        copied = model.start_from_shared(
            ck.model.model,  # type: ignore[union-attr, arg-type]
            vocab.tokens,  # type: ignore[attr-defined]
            {c: self.tokenizers[c].tokens for c in model.languages},  # type: ignore[attr-defined]
        )
        self.stats = ck.stats
        rows = sum(a for a, _ in copied.values()), sum(b for _, b in copied.values())
        self._say(
            f"groups start from the shared model {path} (step {ck.config.get('step')}): every "
            f"weight, and {rows[0]} of {rows[1]} input-token embeddings matched by token"
        )

    def _setup_from_checkpoint(self, path: Path, resume: bool) -> None:
        cfg = self.cfg
        ck = load_checkpoint(path)
        if ck.config["mode"] != cfg.mode:
            raise UsageError(
                f"{path} is a {ck.config['mode']!r} checkpoint but mode is {cfg.mode!r}"
            )
        if ck.config.get("skeleton", self.skeleton) != self.skeleton:
            raise UsageError(f"{path} was trained on skeleton {ck.config.get('skeleton')!r}")
        self.stats = ck.stats  # the groups already trained depend on these exact stats
        self.tokenizers = dict(ck.tokenizers)
        self.kinds = dict(ck.config.get("inputs") or {})
        model = ck.model
        have = list(ck.config["languages"])
        if resume:
            self.trained = list(ck.config.get("trained_languages") or have)
        else:
            wanted = cfg.languages
            self.trained = (
                train_languages(self.store, cfg.train_split, wanted)
                if wanted == "all"
                else list(wanted)
            )
            new = [c for c in self.trained if c not in have]
            if new and cfg.mode == "prompt":
                raise UsageError(
                    f"mode prompt: the shared vocabulary of {path} has no {new[0]!r}; "
                    "train a new shared model (no --init-from) to add a language"
                )
            if new:
                train_languages(self.store, cfg.train_split, new)  # clear error if no data
                for code in new:
                    self.kinds[code] = resolve_kind(
                        self.store, cfg.train_split, code, cfg.tokenizer
                    )
                toks = build_tokenizers(
                    self.store, cfg.train_split, new, "mlsf", self.kinds, cfg.subword_vocab_size
                )
                torch.manual_seed(cfg.seed)
                bodies = [m for m in model.modules() if isinstance(m, KinematicHead)]
                for code in new:
                    self.tokenizers[code] = toks[code]
                    model.add_language(  # type: ignore[operator]
                        code, self._model_config(toks[code].vocab_size, toks[code].pad_id)
                    )
                    if bodies:  # one body for every group: the one the checkpoint was fitted on
                        for m in model.group(code).modules():  # type: ignore[operator]
                            if isinstance(m, KinematicHead):
                                m.set_body(
                                    bodies[0].rest, bodies[0].lengths, ck.stats.mean, ck.stats.std
                                )
            self._say(
                f"init from {path}: training {', '.join(self.trained)}"
                + (f" (new: {', '.join(new)})" if new else "")
            )
        if cfg.mode == "mlsf":
            model.freeze(except_=self.trained)  # type: ignore[operator]
        self.model = model.to(self.device).train()

    def _check_resume_config(self) -> None:
        old = read_json(resolve(self.last_dir) / CONFIG, CONFIG)
        saved = old.get("train") if isinstance(old, dict) else None
        saved = saved if isinstance(saved, dict) else {}
        now = self.cfg.to_dict()
        for key in RESUME_FIXED:
            if key in saved and saved[key] != now[key]:
                raise UsageError(
                    f"--resume: train config field {key!r} was {saved[key]!r} in "
                    f"{self.last_dir}, now {now[key]!r}; resume with the same value or use a "
                    "new --out"
                )

    def _build_data(self) -> None:
        cfg, info = self.cfg, self.info
        langs = self.trained
        self.index = ClipIndex.cached(
            self.store, cfg.train_split, langs, self.tokenizers, self.kinds, self.cache
        )
        if len(self.index) == 0:
            raise DataError(f"no {cfg.train_split!r} clips for {', '.join(langs)}", self.store.path)
        self.dataset = ClipDataset(self.store, self.index, self.stats, cfg.max_clip_frames)
        self.capped = np.minimum(self.index.frames, cfg.max_clip_frames)
        by_language = cfg.mode == "mlsf" and cfg.language_batches and len(langs) > 1
        repeats = share_repeats(self.index.recorded, cfg.recorded_share)
        if repeats is not None:
            n_rec = int(self.index.recorded.sum())
            k = int(repeats.max())
            self._say(
                f"recorded_share {cfg.recorded_share:g}: {n_rec} recorded of {len(self.index)} "
                f"{cfg.train_split} clips ({n_rec / len(self.index):.1%}), each drawn {k}x as "
                f"often as a composed one ({n_rec * k / int(repeats.sum()):.1%} of draws)"
            )
        self.plan = BatchPlan(
            self.capped,
            cfg.batch_size,
            cfg.max_frames_per_batch,
            cfg.seed,
            min_batch=info.world_size,
            groups=np.array([self.index.language(i) for i in range(len(self.index))])
            if by_language
            else None,
            repeats=repeats,
        )
        self.dev = None
        if info.is_main and self.dev_split in self.store.splits:
            dev_index = ClipIndex.cached(
                self.store, self.dev_split, langs, self.tokenizers, self.kinds, self.cache
            )
            if len(dev_index):
                self.dev = ClipDataset(self.store, dev_index, self.stats, cfg.max_clip_frames)
        # PLC (signllm/train/plc.py): priority sampling replaces the plan when eta > 0
        from .plc import BatchSkipper, PrioritySampler

        p = cfg.plc
        self.sampler = (
            PrioritySampler(
                len(self.index),
                eta=p.eta,
                favour=p.favour,  # type: ignore[arg-type]
                epsilon=p.epsilon,
                seed=cfg.seed,
                rank=0,
                world_size=1,  # we batch and shard the draw ourselves (global batches)
                samples_per_epoch=p.samples_per_epoch,
            )
            if p.sampling
            else None
        )
        self.plc_pos = {"epoch": 0, "pos": 0}
        self._plc_batches: tuple[int, list[np.ndarray]] | None = None  # (epoch, its batches)
        self.skipper = (
            BatchSkipper(
                p.threshold,
                skip=p.skip,  # type: ignore[arg-type]
                reference=p.reference,  # type: ignore[arg-type]
                warmup_steps=p.skip_warmup_steps,
            )
            if p.threshold is not None
            else None
        )

    def _build_optimizer(self) -> None:
        params = [p for p in self.model.parameters() if p.requires_grad]
        if not params:
            raise UsageError("nothing to train: every model group is frozen")
        decay = [p for p in params if p.dim() >= 2]
        no_decay = [p for p in params if p.dim() < 2]
        self.params = params
        # the moving average of the trainable weights (cfg.ema), updated after every update
        self.ema = [p.detach().clone() for p in params] if self.cfg.ema else None
        self.optimizer = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": self.cfg.weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=lr_at(0, self.cfg),
            betas=(0.9, 0.98),
            eps=1e-8,
        )
        trainable = [
            c
            for c in self.trained
            if self.cfg.mode != "mlsf"
            or any(p.requires_grad for p in self.model.group(c).parameters())  # type: ignore[operator]
        ]
        multi = self.cfg.mode == "mlsf" and len(trainable) > 1
        self.loss_module = LossModule(self.model, self.cfg.mode)
        self.ddp = D.wrap_ddp(self.loss_module, self.info, find_unused=multi)

    # -- state -------------------------------------------------------------------------------

    def _trainer_state(self, torch_rngs: list[Tensor], cuda_rngs: list[Any]) -> dict[str, Any]:
        return {
            "step": self.step,
            "optimizer": self.optimizer.state_dict(),
            "plan": self.plan.state_dict(),
            "plc_pos": dict(self.plc_pos),
            "sampler": self.sampler.state_dict() if self.sampler else None,
            "skipper": self.skipper.state_dict() if self.skipper else None,
            "best": self.best,
            "bad_evals": self.bad_evals,
            "ema": self.ema,
            "torch_rng": torch_rngs,
            "cuda_rng": cuda_rngs,
            "rng": _rng_state(),
            "world_size": self.info.world_size,
        }

    def _load_state(self, s: dict[str, Any]) -> None:
        self.step = int(s["step"])
        self.optimizer.load_state_dict(s["optimizer"])
        self.plan.load_state_dict(s["plan"])
        self.plc_pos = dict(s.get("plc_pos") or {"epoch": 0, "pos": 0})
        if self.sampler is not None and s.get("sampler") is not None:
            self.sampler.load_state_dict(s["sampler"])
        if self.skipper is not None and s.get("skipper") is not None:
            self.skipper.load_state_dict(s["skipper"])
        self.best = s.get("best")
        self.bad_evals = int(s.get("bad_evals", 0))
        if self.ema is not None and s.get("ema") is not None:
            for e, saved in zip(self.ema, s["ema"], strict=True):
                e.copy_(saved)
        rank = self.info.rank
        rngs = s.get("torch_rng") or []
        if int(s.get("world_size", 1)) == self.info.world_size and rank < len(rngs):
            torch.set_rng_state(rngs[rank])
            cuda = s.get("cuda_rng") or []
            if self.device.type == "cuda" and rank < len(cuda) and cuda[rank] is not None:
                torch.cuda.set_rng_state(cuda[rank], self.device)
        else:
            self._say("resume with another world size: RNG streams restart (not bit-exact)")
        _set_rng_state(s["rng"])
        self._say(f"resumed {self.last_dir} at step {self.step}")

    def _meta(self) -> dict[str, Any]:
        return {
            "mode": self.cfg.mode,
            "inputs": {c: self.kinds[c] for c in self.tokenizers},
            "trained_languages": self.trained,
            "normalization": self.stats.to_dict(),
            "skeleton": self.skeleton,
            "train": self.cfg.to_dict(),
            "step": self.step,
            "best_dev_dtw_mje": self.best,
            "dev_source": self.dev_source,
            "dev_holdout": self.holdout,
        }

    def save(self, best: bool = False) -> None:
        """last/ with the trainer state (a collective: every rank calls it), or best/ (rank 0)."""
        if best:
            with self._averaged():
                save_checkpoint(self.best_dir, self.model, self.tokenizers, self._meta())
            return
        torch_rngs = D.all_gather_object(torch.get_rng_state())
        cuda = torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None
        cuda_rngs = D.all_gather_object(cuda)
        if self.info.is_main:
            state = self._trainer_state(torch_rngs, cuda_rngs)
            save_checkpoint(self.last_dir, self.model, self.tokenizers, self._meta(), state)

    # -- batches -----------------------------------------------------------------------------

    def _next_global(self) -> tuple[np.ndarray, np.ndarray | None]:
        """The next global batch (clip indices) and, under PLC sampling, each clip's epoch."""
        if self.sampler is None:
            return self.plan.next(), None
        if self.plan.groups is not None:  # MLSF language batches: one group per PLC batch
            return self._next_grouped()
        need, parts, epochs = self.cfg.batch_size, [], []
        e, pos = self.plc_pos["epoch"], self.plc_pos["pos"]
        while need:
            if pos == 0:
                self.sampler.set_epoch(e)
            draw = self.sampler.draw(e).numpy()
            take = draw[pos : pos + need]
            parts.append(take)
            epochs.append(np.full(len(take), e))
            need -= len(take)
            pos += len(take)
            if pos >= len(draw):
                e, pos = e + 1, 0
        self.plc_pos = {"epoch": e, "pos": pos}
        return np.concatenate(parts), np.concatenate(epochs)

    def _next_grouped(self) -> tuple[np.ndarray, np.ndarray]:
        """PLC with language batches: each epoch's priority draw cut into one-language batches
        (`BatchPlan.split_by_group`), so a step runs one MLSF group, as without PLC; a language
        gets steps in proportion to its clips' draws. `plc_pos["pos"]` counts batches here."""
        assert self.sampler is not None
        e, pos = self.plc_pos["epoch"], self.plc_pos["pos"]
        while True:
            if pos == 0:
                self.sampler.set_epoch(e)
            if self._plc_batches is None or self._plc_batches[0] != e:
                draw = self.sampler.draw(e).numpy()
                self._plc_batches = (e, self.plan.split_by_group(draw, e))
            batches = self._plc_batches[1]
            if pos < len(batches):
                break
            e, pos = e + 1, 0
        self.plc_pos = {"epoch": e, "pos": pos + 1}
        out = batches[pos]
        return out, np.full(len(out), e)

    # -- one step ----------------------------------------------------------------------------

    def _autocast(self) -> Any:
        if self.device.type == "cuda" and self.cfg.bf16:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _objective(self, out: dict[str, Tensor], weights: Tensor | None) -> Tensor:
        """This rank's share of the global-batch loss (see the module docstring)."""
        cfg, world = self.cfg, self.info.world_size
        cw, lw = self._counter_weight, self._length_weight
        ps, pc = out["per_sample"].float(), out["per_sample_counter"].float()
        w = torch.ones_like(ps) if weights is None else weights.to(ps)
        pl = out.get("per_sample_length", torch.zeros_like(ps)).float()
        n = D.all_reduce_sum(torch.tensor(float(len(ps)), device=ps.device))
        length = lw * (w * pl).sum() / n * world  # the length head's loss: a mean over clips
        ph = out.get("per_sample_hand")
        if ph is not None and self._hand_weight > 0:  # hand shapes: a mean over clips too
            length = length + self._hand_weight * (w * ph.float()).sum() / n * world
        if cfg.plc.loss == "rl":  # minus the mean reward (per-clip MSE) over the global batch
            share = len(ps) / n * world  # rl_loss is a mean over this rank's clips
            return (rl_loss(ps, w) + cw * rl_loss(pc, w)) * share + length
        pcount, ccount = out["pose_count"].float(), out["counter_count"].float()
        tot = D.all_reduce_sum(torch.stack([pcount.sum(), ccount.sum()]).detach())
        pose = (w * ps * pcount).sum() / tot[0].clamp(min=1e-8)
        counter = (w * pc * ccount).sum() / tot[1].clamp(min=1)
        return (pose + cw * counter) * world + length

    @property
    def _length_weight(self) -> float:
        if self.cfg.mode == "mlsf":
            return self.model.group(self.trained[0]).config.length_weight  # type: ignore[operator]
        return self.model.config.length_weight  # type: ignore[union-attr]

    @property
    def _hand_weight(self) -> float:
        if self.cfg.mode == "mlsf":
            return self.model.group(self.trained[0]).config.hand_weight  # type: ignore[operator]
        return self.model.config.hand_weight  # type: ignore[union-attr]

    @property
    def _counter_weight(self) -> float:
        if self.cfg.mode == "mlsf":
            return self.model.group(self.trained[0]).config.counter_weight  # type: ignore[operator]
        return self.model.config.counter_weight  # type: ignore[union-attr]

    def train_step(self, batch: PoseBatch, epochs: np.ndarray | None) -> dict[str, float]:
        cfg = self.cfg
        lr = lr_at(self.step, cfg)
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        b = batch.to(self.device)
        with self._autocast():
            out = self.ddp(b.tokens, b.token_mask, b.frames, b.frame_mask, b.joint_mask, b.language)
        weights = None
        if self.sampler is not None:
            if cfg.plc.importance_weights and epochs is not None:
                from .plc import anneal_beta

                beta = anneal_beta(self.step / max(1, cfg.steps))
                local_epochs = epochs[self._local_slice]
                weights = torch.empty(len(local_epochs))
                for e in np.unique(local_epochs):
                    sel = local_epochs == e
                    weights[torch.from_numpy(sel)] = self.sampler.importance_weights(
                        batch.indices[torch.from_numpy(sel)], beta=beta, epoch=int(e)
                    )
            self.sampler.sync_updates(batch.indices, out["per_sample"].detach().float().cpu())
        loss = self._objective(out, weights)
        skip = False
        if self.skipper is not None:
            skip = self.skipper.should_skip(out["per_sample"].detach().float())
        self.optimizer.zero_grad(set_to_none=True)
        if skip and not self.info.enabled:
            pass  # no backward: the point of skipping
        else:
            (loss * 0.0 if skip else loss).backward()  # DDP needs its backward on every rank
            if not skip:
                if cfg.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(self.params, cfg.grad_clip)
                self.optimizer.step()
                if self.ema is not None:
                    # the average starts fast ((1 + n) / (10 + n)) so early steps do not drag it
                    d = min(cfg.ema, (1 + self.step) / (10 + self.step))
                    with torch.no_grad():
                        torch._foreach_lerp_(self.ema, [p.detach() for p in self.params], 1 - d)
        self.step += 1
        pc, cc = out["pose_count"].detach().float(), out["counter_count"].detach().float()
        sums = torch.stack(  # summed over ranks when logged: global pooled losses
            [
                loss.detach().float() / self.info.world_size,
                (out["per_sample"].detach().float() * pc).sum(),
                pc.sum(),
                (out["per_sample_counter"].detach().float() * cc).sum(),
                cc.sum(),
            ]
        )
        return {"lr": lr, "sums": sums}

    def _global_metrics(self, m: dict[str, Any]) -> dict[str, float]:
        """Loss (the objective), pose and counter loss over the global batch (a collective)."""
        g = D.all_reduce_sum(m["sums"].to(torch.float64)).tolist()
        return {
            "loss": g[0],
            "pose_loss": g[1] / max(g[2], 1e-8),
            "counter_loss": g[3] / max(g[4], 1.0),
            "lr": m["lr"],
        }

    # -- evaluation --------------------------------------------------------------------------

    @contextlib.contextmanager
    def _averaged(self) -> Any:
        """The model holds the moving average of its weights inside the block (cfg.ema)."""
        if self.ema is None:
            yield
            return
        with torch.no_grad():
            raw = [p.detach().clone() for p in self.params]
            for p, e in zip(self.params, self.ema, strict=True):
                p.copy_(e)
        try:
            yield
        finally:
            with torch.no_grad():
                for p, r in zip(self.params, raw, strict=True):
                    p.copy_(r)

    @torch.no_grad()
    def evaluate(self) -> dict[str, Any]:
        """Dev teacher-forced loss and honest-generation DTW-MJE (rank 0 only)."""
        assert self.dev is not None
        with self._averaged():
            return self._evaluate()

    def _evaluate(self) -> dict[str, Any]:
        assert self.dev is not None
        cfg, model = self.cfg, self.model
        was = model.training
        model.eval()
        try:
            p_sum = c_sum = p_cnt = c_cnt = 0.0
            for batch in iter_eval_batches(self.dev, cfg.eval_loss_clips, cfg.batch_size):
                b = batch.to(self.device)
                with self._autocast():
                    out = self.loss_module(
                        b.tokens, b.token_mask, b.frames, b.frame_mask, b.joint_mask, b.language
                    )
                pc, cc = float(out["pose_count"].sum()), float(out["counter_count"].sum())
                p_sum += float(out["pose_loss"]) * pc
                c_sum += float(out["counter_loss"]) * cc
                p_cnt, c_cnt = p_cnt + pc, c_cnt + cc
            pose_l, counter_l = p_sum / max(p_cnt, 1e-8), c_sum / max(c_cnt, 1)
            scores, ratios, floors = [], [], []
            for batch in iter_eval_batches(self.dev, cfg.eval_clips, cfg.batch_size):
                b = batch.to(self.device)
                with self._autocast():
                    gen = generate(model, cfg.mode, b, cfg.max_clip_frames)
                for k, cid in enumerate(batch.ids):
                    n = int(gen["lengths"][k])
                    pred = self.stats.denormalize(gen["pose"][k, :n].reshape(n, self.joints, 3))
                    true = self.store[cid]
                    scores.append(dtw_mje(pred, true.data, None, true.mask))
                    ratios.append(n / true.num_frames)
                    still = np.broadcast_to(self._floor_mean(), true.data.shape)
                    floors.append(dtw_mje(still, true.data, None, true.mask))
        finally:
            model.train(was)
        finite = [s for s in scores if math.isfinite(s)]
        finite_floor = [s for s in floors if math.isfinite(s)]
        return {
            "dev_loss": pose_l + self._counter_weight * counter_l,
            "dev_pose_loss": pose_l,
            "dev_counter_loss": counter_l,
            "dev_dtw_mje": float(np.mean(finite)) if finite else math.nan,
            # the mean training pose held for the true length: what a model must beat
            "dev_floor_dtw_mje": float(np.mean(finite_floor)) if finite_floor else math.nan,
            "dev_clips": len(scores),
            "dev_length_ratio": float(np.mean(ratios)) if ratios else math.nan,
        }

    def _floor_mean(self) -> np.ndarray:
        """(J, 3) mean training pose (the normalisation mean; computed once when not normalising)."""
        if self.cfg.normalize:
            return self.stats.mean
        if self._floor is None:
            c = self.cfg
            self._floor = compute_stats(
                self.store, c.train_split, self.trained, c.stats_clips, c.seed
            ).mean
        return self._floor

    # -- logging -----------------------------------------------------------------------------

    def _log(self, row: dict[str, Any]) -> None:
        if not self.info.is_main:
            return
        self.metrics_path.parent.mkdir(parents=True, exist_ok=True)
        clean = {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in row.items()
        }
        with open(self.metrics_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(clean) + "\n")
        if self._tb is not None:
            for k, v in row.items():
                if k != "step" and isinstance(v, int | float) and math.isfinite(v):
                    self._tb.add_scalar(k, v, row["step"])

    def _open_logs(self) -> None:
        if not self.info.is_main:
            return
        if self.step > 0 and self.metrics_path.exists():  # drop rows past the resumed step
            keep = []
            for line in self.metrics_path.read_text(encoding="utf-8").splitlines():
                try:
                    if json.loads(line).get("step", 0) <= self.step:
                        keep.append(line)
                except json.JSONDecodeError:
                    continue  # a half-written last line from the killed run
            self.metrics_path.write_text("".join(x + "\n" for x in keep), encoding="utf-8")
        elif self.step == 0 and self.metrics_path.exists():
            self.metrics_path.unlink()
        if self.cfg.tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise UsageError(
                    "tensorboard=true needs the tensorboard package: pip install tensorboard"
                ) from None
            self._tb = SummaryWriter(str(self.out / "tensorboard"), purge_step=self.step or None)

    # -- the loop ----------------------------------------------------------------------------

    @property
    def _local_slice(self) -> slice:
        return slice(self.info.rank, None, self.info.world_size)

    def run(self) -> TrainResult:
        cfg, info = self.cfg, self.info
        if info.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            remove_stale_tmp(self.out)  # checkpoint folders a killed run left half-written
        self._open_logs()
        n_params = sum(p.numel() for p in self.params)
        self._say(
            f"{cfg.mode}: training {', '.join(self.trained)} on {len(self.index)} clips, "
            f"{n_params / 1e6:.2f}M trainable parameters, device {self.device}, "
            f"world size {info.world_size}, {self.threads} CPU thread(s), "
            f"warm-up {cfg.warmup} of {cfg.steps} steps, dev set: {self.dev_source}"
        )
        if self.plan.groups is not None:  # MLSF language batches: a step trains one group
            n = len(self.trained)
            self._say(
                f"language batches: each step trains one of the {n} language groups, so each "
                f"gets about {cfg.steps // n} updates: scale --steps with the number of "
                "languages (README: what the models learn)"
            )
        stream = None
        if cfg.num_workers > 0 and self.sampler is None:
            stream = batch_stream(
                self.dataset, self.plan.clone(), info.rank, info.world_size, cfg.num_workers
            )
        from tqdm import tqdm

        use_bar = info.is_main and bar_wanted(cfg.progress)
        bar = tqdm(
            total=cfg.steps,
            initial=self.step,
            disable=not use_bar,
            dynamic_ncols=True,
            file=sys.stderr,
        )
        # no bar (a log file, CI, --no-progress): plain lines, ~20 a run, on logged steps
        plog = None
        if info.is_main and not use_bar:
            every = cfg.log_every * max(1, (cfg.steps // 20) // cfg.log_every)
            plog = ProgressLog(cfg.steps, "train", every=every, start=self.step)
        stopped = False
        last_eval: dict[str, Any] = {}
        train_loss = None
        frames_acc, t0 = 0, time.perf_counter()
        try:
            while self.step < cfg.steps and not stopped:
                gb, epochs = self._next_global()
                local = shard(gb, info.rank, info.world_size)
                batch = next(stream) if stream is not None else self.dataset.load(local)
                if batch.indices.tolist() != local.tolist():
                    raise RuntimeError("data loader out of step with the batch plan")
                m = self.train_step(batch, epochs)
                frames_acc += int(self.capped[gb].sum())
                bar.update(1)
                last = self.step == cfg.steps
                if self.step % cfg.log_every == 0 or last:
                    g = self._global_metrics(m)
                    train_loss = g["loss"]
                    dt = time.perf_counter() - t0
                    row = {
                        "step": self.step,
                        **g,
                        "frames_per_s": frames_acc / dt if dt > 0 else None,
                        "skipped_batches": self.skipper.skipped if self.skipper else 0,
                        "epoch": self.plan.state["epoch"]
                        if self.sampler is None
                        else self.plc_pos["epoch"],
                    }
                    if self.sampler is not None:
                        row.update({f"plc_{k}": v for k, v in self.sampler.stats().items()})
                    self._log(row)
                    bar.set_postfix(loss=f"{g['loss']:.4f}", lr=f"{m['lr']:.2e}")
                    if plog is not None:
                        plog.update(self.step, loss=g["loss"], lr=m["lr"])
                    frames_acc, t0 = 0, time.perf_counter()
                do_eval = cfg.eval_due(self.step) or last
                if do_eval:
                    stop = False
                    if self.dev is not None:
                        last_eval = self.evaluate()
                        score = last_eval["dev_dtw_mje"]
                        if math.isfinite(score) and (self.best is None or score < self.best):
                            self.best, self.bad_evals = score, 0
                            self.save(best=True)
                        else:
                            self.bad_evals += 1
                        patience = cfg.early_stopping_patience
                        stop = bool(patience) and self.bad_evals >= patience
                        self._log({"step": self.step, **last_eval, "best_dev_dtw_mje": self.best})
                        line = (
                            f"step {self.step}: dev loss {last_eval['dev_loss']:.4f}, "
                            f"DTW-MJE {score:.4f} (best {self.best:.4f}, mean-pose floor "
                            f"{last_eval.get('dev_floor_dtw_mje', math.nan):.4f})"
                            if self.best is not None
                            else f"step {self.step}: dev loss {last_eval['dev_loss']:.4f}"
                        )
                        if use_bar:
                            bar.write(line)
                        else:
                            self._say(line)
                    stopped = D.broadcast_flag(stop, self.device)
                    if stopped:
                        self._say(f"early stop at step {self.step}: no better dev DTW-MJE")
                if (
                    (cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0)
                    or last
                    or stopped
                ):
                    self.save()
                if self.on_step is not None:
                    self.on_step(self.step, {"lr": m["lr"], "loss": float(m["sums"][0])})
        finally:
            bar.close()
            if self._tb is not None:
                self._tb.close()
            del stream
        digests = D.all_gather_object(weights_digest(self.model))
        if info.world_size > 1 and len(set(digests)) > 1:
            log.warning("DDP ranks ended with different weights: %s", digests)
        floor = last_eval.get("dev_floor_dtw_mje", math.nan)
        if self.best is not None and math.isfinite(floor) and self.best >= floor:
            self._say(
                f"warning: the best dev DTW-MJE ({self.best:.4f}) does not beat the mean-pose "
                f"floor ({floor:.4f}): the model has not learned to sign this data better than "
                "standing still (more data, or a dev set that resembles it)"
            )
        best_dir = str(self.best_dir) if (self.best_dir / CONFIG).exists() else None
        result = TrainResult(
            out=str(self.out),
            checkpoint=best_dir or str(self.last_dir),
            last=str(self.last_dir),
            best=best_dir,
            step=self.step,
            train_loss=train_loss,
            best_dev_dtw_mje=self.best,
            stopped_early=stopped,
            languages=list(self.tokenizers),
            trained_languages=list(self.trained),
            world_size=info.world_size,
            rank_digests=digests,
            final_eval=last_eval,
            dev_source=self.dev_source,
            dev_holdout=list(self.holdout),
            threads=self.threads,
        )
        if info.is_main:
            write_json(self.out / "result.json", result.to_dict())
        D.barrier()
        return result


def train(
    config: TrainConfig, on_step: Callable[[int, dict[str, Any]], None] | None = None
) -> TrainResult:
    """Train per `config` (validated here); DDP when started by torchrun.

    `on_step(step, metrics)` runs on every rank after each step's evaluation and checkpoint.
    """
    cfg = config.validate()
    info = D.setup(cfg.device)
    try:
        if cfg.shared_steps:
            cfg = _shared_start(cfg, info)
        return Trainer(cfg, info, on_step).run()
    finally:
        D.cleanup(info)


SHARED_DIR = "shared"  # OUT/shared: the shared start of an MLSF run (config `shared_steps`)


def _shared_start(cfg: TrainConfig, info: D.DistInfo) -> TrainConfig:
    """MLSF with `shared_steps`: train the shared all-language pose model (mode prompt, same
    size, data, seed and optimiser settings) in OUT/shared, then return the MLSF config whose
    groups start from its checkpoint. Resumable: with --resume a finished shared model is kept,
    an unfinished one continued, and an MLSF run already under way needs neither."""
    out = Path(cfg.out)
    mlsf = dataclasses.replace(cfg, shared_steps=0, group_init=str(out / SHARED_DIR / "best"))
    if cfg.resume and (resolve(out / "last") / CONFIG).exists():
        return mlsf  # the groups have started: the shared model is not needed again
    done = out / SHARED_DIR / "result.json"
    result = None
    if cfg.resume and done.exists():
        result = json.loads(done.read_text(encoding="utf-8"))
        if result.get("step") != cfg.shared_steps:
            result = None
    if result is None:
        if info.is_main:
            log.info(
                "mlsf shared start: training the shared all-language model for %d steps in %s, "
                "then every group starts from it",
                cfg.shared_steps,
                out / SHARED_DIR,
            )
        shared = dataclasses.replace(
            cfg,
            mode="prompt",
            out=str(out / SHARED_DIR),
            steps=cfg.shared_steps,
            shared_steps=0,
            log=None,
            tensorboard=False,
        )
        result = Trainer(shared.validate(), info).run().to_dict()
        D.barrier()  # rank 0 has written the checkpoint the groups load
    mlsf.group_init = str(result["checkpoint"])
    return mlsf


__all__ = [
    "LossModule",
    "TrainResult",
    "Trainer",
    "generate",
    "lr_at",
    "train",
    "weights_digest",
]

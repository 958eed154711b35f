"""Back-translation checkpoints, and `signllm train-bt`: a BT model trained on ground truth only.

Why a checkpoint of its own: every evaluation must say which BT model read the poses and what it
was trained on, and load it with nothing else. A BT checkpoint is a `signllm.checkpoint` of kind
"bt"::

    model.safetensors   the BackTranslationModel weights (no pickle)
    config.json         {"format": "signllm-checkpoint", "version", "kind": "bt",
                         "model": BackTranslationConfig, "target": "text" | "gloss", "languages",
                         "tokenizers": {"target": "tokenizer.json"}, "decode": {"max_len"},
                         "training": {"trained_on": "ground-truth poses of split train", "store",
                         "clips", "frames", "steps", "seed", "dev", ...}}
    tokenizer.json      the target-side tokenizer (subword by default: held-out words stay spellable)
    MODEL_CARD.md       a summary for people

Training reads the store's train split clip by clip (`StoreClips`, a lazy sequence: only the
encoded model inputs stay in memory) and `train_backtranslation` refuses any clip whose
``meta.extra["generated"]`` is set, so a store of model output can never become BT training data.
Selection (`keep_best`) uses the dev split's *ground-truth* poses.

    signllm train-bt --data data/demo --out runs/bt          # preset and steps fit the corpus
    signllm train-bt --data data/demo --out runs/bt --size base --steps 3000
    train_bt_main("data/demo", "runs/bt", preset="tiny", steps=200)   # the same from Python
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, overload

from .. import checkpoint as ck
from ..checkpoint import BT_TARGETS, CONFIG
from ..data.store import Store
from ..errors import DataError, UsageError
from ..pose import Pose
from ..text.tokenizers import Tokenizer, check_vocab_size, learn_tokenizer

if TYPE_CHECKING:  # torch is imported lazily: `signllm --help` must stay fast
    import torch

    from ..models.backtranslation import BackTranslationModel

TOKENIZER = "tokenizer.json"
TARGETS = BT_TARGETS
_HINT = " (an SLP model checkpoint? pass it as --model)"
TOKENIZER_KINDS = ("subword", "word")
T = TypeVar("T")

log = logging.getLogger("signllm.eval")

# models.backtranslation.BT_PRESETS plus "small", between tiny and base (minutes on a CPU)
BT_SIZES = ("tiny", "small", "base")


def bt_defaults(clips: int, batch_size: int = 16) -> tuple[str, int]:
    """(preset, steps) that fit a corpus of `clips` training clips: `train-bt`'s defaults.

    Preset: tiny below 2,000 clips, small below 20,000, base above (the base preset on a few
    hundred clips takes hours on a CPU and overfits). Steps: about 30 passes over the clips,
    rounded up to a hundred, between 200 and 3,000; e.g. 300 clips -> tiny, 600 steps; 990
    clips -> tiny, 1,900 steps; 50,000 clips -> base, 3,000 steps.
    """
    preset = "tiny" if clips < 2_000 else "small" if clips < 20_000 else "base"
    per_epoch = -(-max(1, clips) // max(1, batch_size))
    steps = min(3_000, max(200, -(-30 * per_epoch // 100) * 100))
    return preset, steps


_SMALL = dict(d_model=128, n_heads=4, n_enc_layers=2, n_dec_layers=2, d_ff=256, dropout=0.1)


class BTCheckpoint(NamedTuple):
    """What `load_bt_checkpoint` returns: the model (eval mode), its tokenizer and config.json."""

    model: BackTranslationModel
    tokenizer: Tokenizer
    config: dict[str, Any]
    path: Path

    @property
    def target(self) -> str:
        return str(self.config["target"])

    @property
    def max_len(self) -> int:
        return int((self.config.get("decode") or {}).get("max_len", 60))


# ----------------------------------------------------------------------------------------------
# Save / load


def save_bt_checkpoint(
    directory: str | Path,
    model: BackTranslationModel,
    tokenizer: Tokenizer,
    *,
    target: str,
    languages: Sequence[str],
    training: dict[str, Any],
    max_len: int = 60,
) -> Path:
    """Write a BT checkpoint directory atomically; `training` must say what it was trained on."""
    if target not in TARGETS:
        raise UsageError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
    if "trained_on" not in training:
        raise UsageError("training info must record 'trained_on' (which ground-truth poses)")
    check_vocab_size(tokenizer, model.config.vocab_size)
    return ck.save(
        directory,
        model,
        kind="bt",
        model_config=model.config.to_dict(),
        languages=languages,
        tokenizers={"target": tokenizer},
        files={"target": TOKENIZER},
        meta={"target": target, "decode": {"max_len": int(max_len)}, "training": training},
    )


def read_bt_config(directory: str | Path) -> dict[str, Any]:
    """config.json of a BT checkpoint, checked (DataError naming the file and field)."""
    return ck.read_config(directory, ("bt",), _HINT)


def load_bt_checkpoint(directory: str | Path, device: str | torch.device = "cpu") -> BTCheckpoint:
    """Rebuild a BT model and its tokenizer from the directory alone (eval mode)."""
    model, config, tokenizers, root = ck.load(directory, ("bt",), device=device, hint=_HINT)
    return BTCheckpoint(model, tokenizers["target"], config, root)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------------
# Training from a store (ground truth only)


class StoreClips(Sequence[Pose]):
    """The clips of one split (and languages) of a store as a lazy sequence: one pread per item.

    Lets `train_backtranslation` stream the store: it keeps only the encoded inputs, never a
    second copy of every clip.
    """

    def __init__(self, store: Store, ids: Sequence[str]) -> None:
        self.store, self.ids = store, list(ids)

    def __len__(self) -> int:
        return len(self.ids)

    @overload
    def __getitem__(self, i: int) -> Pose: ...
    @overload
    def __getitem__(self, i: slice) -> list[Pose]: ...
    def __getitem__(self, i: int | slice) -> Pose | list[Pose]:
        if isinstance(i, slice):
            return [self.store[c] for c in self.ids[i]]
        return self.store[self.ids[i]]

    def __iter__(self) -> Iterator[Pose]:
        for cid in self.ids:
            yield self.store[cid]


def interleave(groups: Sequence[Sequence[T]]) -> list[T]:
    """Round-robin over groups (one per language), so a prefix covers every language."""
    out: list[T] = []
    for k in range(max((len(g) for g in groups), default=0)):
        out.extend(g[k] for g in groups if k < len(g))
    return out


def _languages(store: Store, split: str, wanted: Sequence[str] | None) -> list[str]:
    have = sorted(c for c in store.languages if store.ids(split=split, language=c))
    if not have:
        raise DataError(f"no {split!r} clips with a language", store.path)
    if not wanted:
        return have
    missing = [c for c in wanted if c not in have]
    if missing:
        raise UsageError(
            f"no {split!r} clips for language {missing[0]!r} in {store.path} "
            f"(it has: {', '.join(have)})"
        )
    return list(dict.fromkeys(wanted))


def build_bt_tokenizer(
    texts: Sequence[str], kind: str = "subword", vocab_size: int = 1000
) -> Tokenizer:
    """The target tokenizer: sentencepiece (open vocabulary) or whole words."""
    if kind not in TOKENIZER_KINDS:
        raise UsageError(f"BT tokenizer must be one of {', '.join(TOKENIZER_KINDS)}, got {kind!r}")
    return learn_tokenizer(kind, texts, vocab_size=vocab_size)


def train_bt_main(
    store_dir: str | Path,
    out_dir: str | Path,
    split: str = "train",
    dev_split: str | None = "dev",
    languages: Sequence[str] | None = None,
    target: str = "text",
    preset: str = "auto",
    steps: int = 0,
    seed: int = 0,
    tokenizer: str = "subword",
    vocab_size: int = 1000,
    batch_size: int = 16,
    lr: float = 1e-3,
    downsample: int = 0,
    eval_every: int = 0,
    dev_clips: int = 200,
    device: str | None = None,
    progress: bool = True,
    threads: int | None = None,
) -> dict[str, Any]:
    """Train a BT model on the ground-truth clips of `split` of a store; save; return its config.

    `preset` "auto" and `steps` 0 take `bt_defaults` for the number of usable clips. Progress:
    a bar when `progress` and stderr is a terminal, else plain log lines (step, loss, elapsed
    time). `threads` (None/0 = `signllm.train.runtime.default_threads`) sets torch's CPU threads.

    The tokenizer is built from the targets of `split` only. `dev_split` (ground truth, at most
    `dev_clips` of it) picks the best evaluation (lowest dev loss) when `eval_every` > 0, else it
    is only scored at the end. Clips without a `target` are left out (counted).
    """
    from ..metrics.text import text_scores
    from ..models.backtranslation import BT_PRESETS, bt_config, train_backtranslation
    from ..train.runtime import ProgressLog, bar_wanted, set_threads

    if target not in TARGETS:
        raise UsageError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
    t0 = time.perf_counter()
    store = Store(store_dir)
    langs = _languages(store, split, languages)
    rows = [r for c in langs for r in store.iter_rows(split=split, language=c)]
    usable = [r for r in rows if (r.get(target) or "").strip()]
    if not usable:
        raise DataError(f"no {split!r} clip has a {target}", store.path)
    texts = [r[target] for r in usable]
    tok = build_bt_tokenizer(texts, tokenizer, vocab_size)
    train = StoreClips(store, [r["id"] for r in usable])
    dev: StoreClips | None = None
    if dev_split and dev_split in store.splits:
        dev_ids = interleave(
            [
                [
                    r["id"]
                    for r in store.iter_rows(split=dev_split, language=c)
                    if (r.get(target) or "").strip()
                ]
                for c in langs
            ]
        )[:dev_clips]
        dev = StoreClips(store, dev_ids) if dev_ids else None
    longest = max(len(tok.encode(t)) for t in texts)
    max_len = int(longest * 1.5) + 10
    auto_preset, auto_steps = bt_defaults(len(usable), batch_size)
    preset = auto_preset if preset == "auto" else preset
    steps = steps if steps and steps > 0 else auto_steps
    if preset not in BT_SIZES:
        raise UsageError(f"unknown BT size {preset!r}; choose from auto, {', '.join(BT_SIZES)}")
    size = _SMALL if preset == "small" else BT_PRESETS[preset]
    config = bt_config("tiny", **size, vocab_size=tok.vocab_size, downsample=downsample)
    log_every = max(1, min(50, steps // 20))
    torch_threads = None
    if device in (None, "cpu") or threads:
        torch_threads = set_threads(threads)
    log.info(
        f"train-bt: {preset} preset, {steps} steps, {len(usable)} clips "
        f"({sum(int(r['frames']) for r in usable)} frames), dev {len(dev) if dev else 0} clips"
        + (f", {torch_threads} CPU thread(s)" if torch_threads else "")
    )

    bar = plog = None
    if bar_wanted(progress):
        from tqdm import tqdm

        bar = tqdm(total=steps, desc="train BT", dynamic_ncols=True, file=sys.stderr)
    else:
        plog = ProgressLog(steps, "train-bt", every=log_every, logger=log)

    def callback(entry: dict[str, Any]) -> None:
        if "loss" in entry:
            if bar is not None:
                bar.n = entry["step"]
                bar.set_postfix(loss=f"{entry['loss']:.3f}")
                bar.refresh()
            elif plog is not None:
                plog.update(entry["step"], loss=entry["loss"], lr=entry.get("lr"))
        if "dev_loss" in entry:
            line = (
                f"step {entry['step']}: dev loss {entry['dev_loss']:.3f}, "
                f"BLEU-4 {entry.get('dev_bleu4', float('nan')):.2f}"
            )
            if bar is not None:
                bar.write(line)
            else:
                log.info(f"train-bt {line}")

    try:
        model, history = train_backtranslation(
            train,
            dev,
            tok,
            config,
            steps,
            batch_size=batch_size,
            lr=lr,
            seed=seed,
            target=target,
            eval_every=eval_every,
            max_len=max_len,
            dev_metric=text_scores if dev is not None else None,
            keep_best=bool(eval_every) and dev is not None,
            log_every=log_every,
            device=device,
            callback=callback,
        )
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - t0
    dev_evals = [h for h in history if "dev_loss" in h]
    best_dev = min(dev_evals, key=lambda h: h["dev_loss"]) if dev_evals else None
    training = {
        "trained_on": f"ground-truth poses of split {split}",
        "store": str(Path(store_dir)),
        "split": split,
        "dev_split": dev_split if dev is not None else None,
        "clips": len(train),
        "clips_without_target": len(rows) - len(usable),
        "dev_clips": len(dev) if dev is not None else 0,
        "frames": int(sum(int(r["frames"]) for r in usable)),
        "steps": steps,
        "seed": seed,
        "preset": preset,
        "tokenizer": tokenizer,
        "batch_size": batch_size,
        "lr": lr,
        "threads": torch_threads,
        "device": str(next(model.parameters()).device),
        "parameters": model.count_parameters(),
        "seconds": round(seconds, 1),
        "final_loss": next((h["loss"] for h in reversed(history) if "loss" in h), None),
        "dev": _dev_summary(best_dev),
    }
    path = save_bt_checkpoint(
        out_dir,
        model.cpu(),
        tok,
        target=target,
        languages=langs,
        training=training,
        max_len=max_len,
    )
    return read_bt_config(path)


def _dev_summary(entry: dict[str, Any] | None) -> dict[str, Any] | None:
    if entry is None:
        return None
    keep = ("step", "dev_loss", "dev_accuracy", "dev_bleu4", "dev_chrf", "dev_rouge_l", "dev_wer")
    return {k: entry[k] for k in keep if k in entry}


__all__ = [
    "CONFIG",
    "BTCheckpoint",
    "StoreClips",
    "build_bt_tokenizer",
    "load_bt_checkpoint",
    "read_bt_config",
    "save_bt_checkpoint",
    "train_bt_main",
]

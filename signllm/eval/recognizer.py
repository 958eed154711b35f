"""Train, save, load and score the fingerspelling reader (`signllm.models.recognizer`).

Why: a generator's fingerspelled words can only be ranked by something that reads ground truth
well. The reader is trained on the store's TRAIN split ground truth only (fingerspelled clips:
``meta.extra["fingerspelled"]``), selected by dev character accuracy, and scored on held-out
words (the demo corpus puts words never seen in training into dev/test).

What it reads is what is signed: the letters of the clip's units (``extra["units"]``, e.g.
``"SCH U L E"``), folded the way the spoken language writes (`reference_letters`). The written word
may carry marks no handshape shows (Portuguese "café" is spelled C A F E), so scores against the
written text (`signllm.metrics.text.character_accuracy(hyp, meta.text)`) are lower by design.

Augmentation is there so that generated poses are read too: small rotations and scaling of the
body and of each hand, joint noise, time stretching, dropped frames, and two words of one language
joined into one clip (so no word can be memorised as a whole).

    summary = train_reader("data/demo", "runs/reader")
    reader = load_reader("runs/reader")
    reader.read(poses)                            # -> ["hello", ...]
    score_by_language(refs, hyps, languages)      # -> {"ase": {"char_acc": ..}, .., "mean": ..}

A reader checkpoint is a directory: ``model.safetensors`` (weights, no pickle), ``config.json``
(format, version, `RecognizerConfig`, training record) and ``vocab.json`` (the characters, CTC
blank excluded), each written atomically.
"""

from __future__ import annotations

import copy
import math
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.fingerspell import FingerspellingLexicon, fold
from ..data.store import Store
from ..errors import DataError, UsageError
from ..metrics.text import character_accuracy, edit_operations
from ..models.recognizer import (
    Recognizer,
    RecognizerConfig,
    ctc_greedy,
    decode_ids,
    encode_letters,
)
from ..pose import Pose, extra_flag
from ..skeleton import get_skeleton

# ----------------------------------------------------------------------------------------------
# Clips and what they spell


def is_fingerspelled(pose: Pose) -> bool:
    """Composed fingerspelling clips of the demo corpus say so in their `extra`."""
    return extra_flag(pose.meta.extra, "fingerspelled")


def reference_letters(pose: Pose) -> str:
    """The letters a fingerspelled clip shows: its units joined, folded as its language writes.

    Clips without units (recorded fingerspelling) fall back to the letters of the text.
    """
    spoken = pose.meta.spoken_language or ""
    units = str(pose.meta.extra.get("units", "") or "")
    text = "".join(units.split()) if units.strip() else pose.meta.text
    return "".join(c for c in fold(text, spoken) if c.isalpha())


@dataclass
class Clip:
    """One clip as the reader trains on it: raw joints, mask, language and letters."""

    id: str
    data: np.ndarray  # (t, J, 3) float32, any units
    mask: np.ndarray  # (t, J) bool
    language: str
    letters: str


def clip_from_pose(pose: Pose) -> Clip:
    return Clip(
        pose.meta.id,
        pose.data.astype(np.float32),
        pose.mask.copy(),
        pose.meta.language,
        reference_letters(pose),
    )


def fingerspelled_clips(
    store: Store, split: str, languages: Sequence[str] | None = None
) -> list[Clip]:
    """Every fingerspelled clip of `split` (optionally only `languages`), read once."""
    out = []
    for code in languages or store.languages:
        for row in store.rows(split=split, language=code):
            if not extra_flag(row.get("extra"), "fingerspelled"):
                continue
            clip = clip_from_pose(store[row["id"]])
            if clip.letters and len(clip.data) >= 2:
                out.append(clip)
    return out


def vocabulary(clips: Sequence[Clip], lexicon: FingerspellingLexicon | None = None) -> list[str]:
    """Sorted characters of the clips' letters, plus every letter of the lexicon's alphabets."""
    chars = {c for clip in clips for c in clip.letters}
    if lexicon is not None:
        for lang in lexicon.languages:
            spoken = lexicon.spoken_language(lang)
            for unit in lexicon.alphabet(lang):
                chars.update(c for c in fold(unit, spoken) if c.isalpha())
    return sorted(chars)


# ----------------------------------------------------------------------------------------------
# Augmentation (numpy, one clip at a time)


def _rotation(rng: np.random.Generator, yaw: float, pitch: float, roll: float) -> np.ndarray:
    a, b, c = (np.deg2rad(rng.uniform(-m, m)) for m in (yaw, pitch, roll))
    ry = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return (ry @ rx @ rz).astype(np.float32)


def _centre_width(data: np.ndarray, mask: np.ndarray, sk_name: str) -> tuple[np.ndarray, float]:
    sk = get_skeleton(sk_name)
    neck, ls, rs = sk.index("neck"), sk.index("left_shoulder"), sk.index("right_shoulder")
    seen = mask[:, neck]
    centre = data[seen, neck].mean(0) if seen.any() else data[mask].mean(0) if mask.any() else 0
    both = mask[:, ls] & mask[:, rs]
    w = np.linalg.norm(data[both, ls] - data[both, rs], axis=-1)
    width = float(np.median(w)) if w.size and np.median(w) > 0 else 1.0
    return np.asarray(centre, dtype=np.float32), width


def join_clips(a: Clip, b: Clip, skeleton: str) -> Clip:
    """`b` moved into `a`'s space (neck, shoulder width) and appended: a longer word."""
    ca, wa = _centre_width(a.data, a.mask, skeleton)
    cb, wb = _centre_width(b.data, b.mask, skeleton)
    bd = ((b.data - cb) * (wa / wb) + ca) * b.mask[..., None]
    return Clip(
        f"{a.id}+{b.id}",
        np.concatenate([a.data, bd.astype(np.float32)]),
        np.concatenate([a.mask, b.mask]),
        a.language,
        a.letters + b.letters,
    )


def retime(data: np.ndarray, mask: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Linear resampling to `n` frames; a joint is seen where both neighbours are."""
    t = len(data)
    pos = np.linspace(0, t - 1, n) if n > 1 else np.zeros(1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, t - 1)
    w = (pos - lo).astype(np.float32)[:, None, None]
    out = data[lo] * (1 - w) + data[hi] * w
    m = mask[lo] & mask[hi]
    return (out * m[..., None]).astype(np.float32), m


def hold_hands(data: np.ndarray, mask: np.ndarray, skeleton: str) -> tuple[np.ndarray, np.ndarray]:
    """Each hand shown in every frame: where the tracker lost it, the nearest frame (in time)
    that shows it. A generator draws both hands in every frame, where recordings lose the
    non-dominant one between two-handed letters; a reader that learned the disappearance as
    part of a letter misreads any generated word (csq: training words read at 0.52, or 0.96
    with the recordings' gaps copied in)."""
    sk = get_skeleton(skeleton)
    data, mask = data.copy(), mask.copy()
    for side in ("left_hand", "right_hand"):
        idx = list(sk.groups[side])
        seen = np.flatnonzero(mask[:, idx].all(1))
        if len(seen) == 0 or len(seen) == len(mask):
            continue
        nearest = seen[np.abs(np.arange(len(mask))[:, None] - seen[None]).argmin(1)]  # (t,)
        data[:, idx] = data[nearest][:, idx]
        mask[:, idx] = True
    return data, mask


def augment(
    clip: Clip,
    rng: np.random.Generator,
    skeleton: str,
    strength: float = 1.0,
    hold_prob: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """A randomly perturbed copy of the clip's joints: (t', J, 3), (t', J). With probability
    `hold_prob` the hands are first held through the tracker's gaps (`hold_hands`)."""
    sk = get_skeleton(skeleton)
    data, mask = clip.data, clip.mask
    if hold_prob > 0 and rng.random() < hold_prob:
        data, mask = hold_hands(data, mask, skeleton)
    t = len(data)
    # time: stretch 0.7-1.4x, then drop up to 15% of frames
    n = max(2, round(t * rng.uniform(1 - 0.3 * strength, 1 + 0.4 * strength)))
    data, mask = retime(data, mask, n)
    drop = rng.random(n) < rng.uniform(0, 0.15 * strength)
    if (~drop).sum() >= 2:
        data, mask = data[~drop], mask[~drop]
    centre, width = _centre_width(data, mask, skeleton)
    x = data - centre
    # each hand: a small rotation and scaling about its wrist
    for side in ("left_hand", "right_hand"):
        idx = list(sk.groups[side])
        wrist = x[:, idx[:1]]
        r = _rotation(rng, 12 * strength, 12 * strength, 12 * strength)
        s = rng.uniform(1 - 0.1 * strength, 1 + 0.1 * strength)
        x[:, idx] = wrist + ((x[:, idx] - wrist) @ r.T) * s
    # the body: rotation, scaling (with a little anisotropy), joint noise
    r = _rotation(rng, 20 * strength, 10 * strength, 10 * strength)
    s = rng.uniform(1 - 0.15 * strength, 1 + 0.15 * strength)
    s = s * rng.uniform(1 - 0.05 * strength, 1 + 0.05 * strength, size=3).astype(np.float32)
    x = (x @ r.T) * s
    x = x + rng.normal(0, 0.01 * strength * width, size=x.shape).astype(np.float32)
    x = x + centre
    return (x * mask[..., None]).astype(np.float32), mask


# ----------------------------------------------------------------------------------------------
# Batching


def collate(
    items: Sequence[tuple[np.ndarray, np.ndarray]],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-pad (t, J, 3) / (t, J) pairs: x (b, T, J, 3), mask (b, T, J), frame_mask (b, T)."""
    if not items:
        raise UsageError("nothing to collate")
    b, t = len(items), max(len(d) for d, _ in items)
    j = items[0][0].shape[1]
    x = np.zeros((b, t, j, 3), dtype=np.float32)
    m = np.zeros((b, t, j), dtype=bool)
    fm = np.zeros((b, t), dtype=bool)
    for i, (d, k) in enumerate(items):
        x[i, : len(d)], m[i, : len(d)], fm[i, : len(d)] = d, k, True
    return torch.from_numpy(x), torch.from_numpy(m), torch.from_numpy(fm)


# ----------------------------------------------------------------------------------------------
# Reading


class Reader:
    """A trained reader in eval mode: `read(poses)` -> the letters each clip spells."""

    def __init__(self, model: Recognizer, info: dict[str, Any] | None = None) -> None:
        self.model = model.eval()
        self.info = info or {}

    @property
    def config(self) -> RecognizerConfig:
        return self.model.config

    @torch.no_grad()
    def read_arrays(
        self,
        items: Sequence[tuple[np.ndarray, np.ndarray]],
        languages: Sequence[str],
        batch_size: int = 64,
    ) -> list[str]:
        if len(items) != len(languages):
            raise UsageError(f"{len(items)} clips but {len(languages)} languages")
        lang = self.model.language_ids(languages)
        order = sorted(range(len(items)), key=lambda i: len(items[i][0]))
        out: list[str] = [""] * len(items)
        for k in range(0, len(order), batch_size):
            chunk = order[k : k + batch_size]
            x, m, fm = collate([items[i] for i in chunk])
            dev = next(self.model.parameters()).device
            logp, lengths = self.model(x.to(dev), m.to(dev), fm.to(dev), lang[chunk].to(dev))
            for i, ids in zip(chunk, ctc_greedy(logp, lengths), strict=True):
                out[i] = decode_ids(ids, self.config.vocab)
        return out

    def read(self, poses: Sequence[Pose], languages: Sequence[str] | None = None) -> list[str]:
        """Letters read from each pose (any units); languages default to each pose's own."""
        langs = list(languages) if languages is not None else [p.meta.language for p in poses]
        sk = self.config.skeleton
        for p in poses:
            if p.skeleton != sk:
                raise UsageError(f"clip {p.meta.id!r} has skeleton {p.skeleton}, the reader {sk}")
        return self.read_arrays([(p.data, p.mask) for p in poses], langs)


def read(
    reader: Reader, poses: Sequence[Pose], languages: Sequence[str] | None = None
) -> list[str]:
    """`reader.read(poses, languages)`."""
    return reader.read(poses, languages)


# ----------------------------------------------------------------------------------------------
# Scoring


def char_accuracy(ref: str, hyp: str) -> float:
    """1 - CER of one read word, in [0, 1] (`signllm.metrics.text.character_accuracy`)."""
    return character_accuracy(hyp, ref)


def score_by_language(
    refs: Sequence[str], hyps: Sequence[str], languages: Sequence[str]
) -> dict[str, Any]:
    """Per language: mean character accuracy, pooled 1 - CER, word accuracy and clip count.

    "mean" averages the languages (each counts once); "all" pools every clip.
    """
    if not len(refs) == len(hyps) == len(languages):
        raise UsageError("refs, hyps and languages must have the same length")
    groups: dict[str, list[int]] = defaultdict(list)
    for i, code in enumerate(languages):
        groups[code].append(i)

    def stats(idx: Sequence[int]) -> dict[str, float]:
        acc = [char_accuracy(refs[i], hyps[i]) for i in idx]
        errs = sum(sum(edit_operations(list(refs[i]), list(hyps[i]))) for i in idx)
        chars = sum(len(refs[i]) for i in idx)
        return {
            "char_acc": float(np.mean(acc)) if acc else math.nan,
            "one_minus_cer": 1.0 - errs / chars if chars else math.nan,
            "word_acc": float(np.mean([refs[i] == hyps[i] for i in idx])) if idx else math.nan,
            "clips": len(idx),
        }

    per = {code: stats(groups[code]) for code in sorted(groups)}
    out: dict[str, Any] = {"languages": per}
    out["mean"] = {
        k: float(np.mean([v[k] for v in per.values()])) if per else math.nan
        for k in ("char_acc", "one_minus_cer", "word_acc")
    }
    out["all"] = stats(range(len(refs)))
    return out


# A joint is read in a language when its ground truth shows it in at least this share of frames
# (`observed_joints`; `signllm train-reader --read-share`)
READ_SHARE = 0.25


def observed_joints(
    masks: Sequence[np.ndarray],
    languages: Sequence[str],
    skeleton: str,
    min_share: float = READ_SHARE,
) -> dict[str, list[str]]:
    """Per language, the joint names seen in >= `min_share` of its frames ((t, J) bool masks).

    A quarter, because the demo corpus's letter recordings split cleanly there: a second hand
    that is part of the letters is tracked in 52-100% of frames (cse, csq, ise, tsm), a resting
    hand that drifts into view in under 8% (swl 7.4%, jos 0.5%). A generator always draws both
    hands, so a reader taught that such a hand is nearly always absent misreads its output.
    """
    sk = get_skeleton(skeleton)
    seen: dict[str, np.ndarray] = {}
    frames: dict[str, int] = {}
    for m, code in zip(masks, languages, strict=True):
        m = np.asarray(m, bool)
        seen[code] = seen.get(code, np.zeros(sk.num_joints)) + m.sum(0)
        frames[code] = frames.get(code, 0) + len(m)
    return {
        code: [n for n, k in zip(sk.joints, seen[code], strict=True)
               if k >= min_share * max(frames[code], 1)]
        for code in sorted(seen)
    }  # fmt: skip


def _hand_groups(skeleton: str) -> list[tuple[str, list[int]]]:
    """("left hand", finger joint names) for each hand: the wrist is shared with the arm."""
    sk = get_skeleton(skeleton)
    return [
        (side.replace("_", " "), [sk.joints[i] for i in list(sk.groups[side])[1:]])
        for side in ("left_hand", "right_hand")
    ]


def mean_clip_pose(clips: Sequence[Clip]) -> tuple[np.ndarray, np.ndarray]:
    """Per-joint mean (J, 3) over every observed frame of the clips, and seen (J,) bool."""
    n = s = None
    for c in clips:
        if n is None or s is None:
            n, s = np.zeros(c.mask.shape[1]), np.zeros((c.mask.shape[1], 3))
        n += c.mask.sum(0)
        s += np.where(c.mask[..., None], c.data.astype(np.float64), 0.0).sum(0)
    if n is None or s is None:
        raise UsageError("no clips to average")
    seen = n > 0
    mean = np.divide(s, n[:, None], out=np.zeros_like(s), where=seen[:, None])
    return mean.astype(np.float32), seen


def evaluate_reader(
    reader: Reader,
    clips: Sequence[Clip],
    floor: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Read ground truth (and, given the mean pose, the floor: it held for each clip's length)."""
    refs = [c.letters for c in clips]
    langs = [c.language for c in clips]
    hyps = reader.read_arrays([(c.data, c.mask) for c in clips], langs)
    out: dict[str, Any] = {"ground_truth": score_by_language(refs, hyps, langs)}
    out["examples"] = [
        {"id": c.id, "ref": r, "hyp": h} for c, r, h in zip(clips, refs, hyps, strict=True)
    ]
    if floor is not None:
        mean, seen = floor
        items = [
            (np.broadcast_to(mean, c.data.shape).copy(), np.broadcast_to(seen, c.mask.shape).copy())
            for c in clips
        ]
        fh = reader.read_arrays(items, langs)
        out["floor"] = score_by_language(refs, fh, langs)
    return out


# ----------------------------------------------------------------------------------------------
# Checkpoint: save / load


def save_reader(model: Recognizer, directory: str | Path, training: dict[str, Any]) -> Path:
    """The project's one checkpoint layout (signllm/checkpoint.py), kind "recognizer": its
    character vocabulary and languages travel in the model config."""
    from .. import checkpoint as ck

    cfg = model.config
    return ck.save(
        directory,
        model,
        kind="recognizer",
        model_config=cfg.to_dict(),
        languages=list(cfg.languages),
        tokenizers={},
        meta={"training": training},
    )


def load_reader(directory: str | Path, device: str = "cpu") -> Reader:
    """Rebuild a reader from its directory alone; every file is checked, nothing is unpickled."""
    from .. import checkpoint as ck

    loaded = ck.load(
        directory,
        ("recognizer",),
        device=device,
        hint=" (a fingerspelling reader of train-reader)",
    )
    return Reader(loaded.model, loaded.config.get("training", {}))  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------------
# Training


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def train_reader(
    store: str | Path | Store,
    out_dir: str | Path | None = None,
    *,
    languages: Sequence[str] | None = None,
    threads: int | None = 1,
    **options: Any,
) -> dict[str, Any]:
    """Train a reader on the TRAIN split's fingerspelled ground truth; keep the best on dev.

    Returns a summary (steps, seconds, parameters, best dev character accuracy and the step it
    was reached at); writes the checkpoint to `out_dir` when given. Without dev clips the last
    step is kept (and the summary says so). `threads` sets torch's CPU threads (1 by default: the
    machine is shared); `options` are those of `train_reader_on` (steps, batch_size, lr, ...;
    `max_seconds` stops early at an evaluation boundary).
    """
    if threads is not None:
        torch.set_num_threads(threads)
    st = store if isinstance(store, Store) else Store(store)
    langs = list(languages) if languages is not None else list(st.languages)
    train = fingerspelled_clips(st, "train", langs)
    if not train:
        raise DataError("no fingerspelled clips in the train split", st.path)
    dev = fingerspelled_clips(st, "dev", langs) if "dev" in st.splits else []
    return train_reader_on(train, dev, out_dir, trained_on=str(st.path), **options)


def train_reader_on(
    train: Sequence[Clip],
    dev: Sequence[Clip],
    out_dir: str | Path | None = None,
    *,
    steps: int = 2000,
    batch_size: int = 16,
    lr: float = 3e-3,
    weight_decay: float = 0.01,
    warmup: int | None = None,
    join_prob: float = 0.5,
    max_join_frames: int = 200,
    augment_strength: float = 1.0,
    hold_prob: float = 0.5,
    eval_every: int = 250,
    seed: int = 0,
    config: dict[str, Any] | None = None,
    lexicon: FingerspellingLexicon | None = None,
    progress: bool = True,
    max_seconds: float | None = None,
    log: Callable[[str], None] = _log,
    trained_on: str = "",
    device: str = "cpu",
    read_share: float = READ_SHARE,
) -> dict[str, Any]:
    """`train_reader` on clips already read (tests and benchmarks call this directly).

    `read_share`: a joint is read in a language when its ground truth shows it in at least that
    share of frames (`observed_joints`)."""
    if steps < 1 or batch_size < 1:
        raise UsageError("steps and batch_size must be >= 1")
    if not 0.0 <= read_share <= 1.0:
        raise UsageError(f"read_share must be in [0, 1], got {read_share}")
    if not train:
        raise UsageError("no training clips")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    languages = sorted({c.language for c in train})
    skeleton = (config or {}).get("skeleton", RecognizerConfig.skeleton)
    cfg = RecognizerConfig(
        **{
            "vocab": vocabulary(train, lexicon),
            "languages": languages,
            "read_joints": observed_joints(
                [c.mask for c in train], [c.language for c in train], skeleton, read_share
            ),
            **(config or {}),
        }
    )
    for code, names in cfg.read_joints.items():  # say what each language does not read
        left_out = [g for g, idx in _hand_groups(cfg.skeleton) if not set(idx) & set(names)]
        if left_out:
            log(f"reader: {code} does not read its {' or '.join(left_out)} (its ground truth "
                f"shows it in under {read_share:.0%} of frames)")  # fmt: skip
    where = torch.device(device)
    model = Recognizer(cfg).to(where)
    lang_index = {code: i for i, code in enumerate(languages)}
    dev = [c for c in dev if c.language in lang_index]
    targets = [encode_letters(c.letters, cfg.vocab) for c in train]
    by_lang: dict[str, list[int]] = defaultdict(list)
    for i, c in enumerate(train):
        by_lang[c.language].append(i)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    warm = warmup if warmup is not None else max(1, min(200, steps // 10))

    def schedule(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        p = (step - warm) / max(1, steps - warm)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, p)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    reader = Reader(model)
    best: dict[str, Any] = {"dev_char_acc": -1.0, "step": 0}
    best_state: dict[str, torch.Tensor] | None = None
    history: list[dict[str, Any]] = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=steps, desc="reader", unit="step", dynamic_ncols=True)
    t0 = time.perf_counter()
    done = 0
    losses: list[float] = []
    for step in range(steps):
        model.train()
        idx = rng.integers(0, len(train), size=batch_size)
        items, tgts, langs = [], [], []
        for i in idx:
            clip, tgt = train[i], targets[i]
            if join_prob > 0 and rng.random() < join_prob:
                j = int(rng.choice(by_lang[clip.language]))
                if len(clip.data) + len(train[j].data) <= max_join_frames:
                    clip, tgt = join_clips(clip, train[j], cfg.skeleton), tgt + targets[j]
            items.append(augment(clip, rng, cfg.skeleton, augment_strength, hold_prob))
            tgts.append(tgt)
            langs.append(lang_index[clip.language])
        x, m, fm = collate(items)
        x, m, fm = x.to(where), m.to(where), fm.to(where)
        logp, lengths = model(x, m, fm, torch.tensor(langs, device=where))
        loss = model.ctc_loss(logp, lengths, tgts)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        done = step + 1
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
        last = done == steps
        out_of_time = max_seconds is not None and time.perf_counter() - t0 > max_seconds
        if done % eval_every == 0 or last or out_of_time:
            entry: dict[str, Any] = {
                "step": done,
                "loss": float(np.mean(losses[-eval_every:])),
                "seconds": round(time.perf_counter() - t0, 1),
            }
            if dev:
                model.eval()
                res = evaluate_reader(reader, dev)["ground_truth"]
                entry["dev_char_acc"] = res["mean"]["char_acc"]
                entry["dev_word_acc"] = res["mean"]["word_acc"]
                if entry["dev_char_acc"] > best["dev_char_acc"]:
                    best = {"dev_char_acc": entry["dev_char_acc"], "step": done}
                    best_state = copy.deepcopy(model.state_dict())
            history.append(entry)
            msg = " ".join(
                f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in entry.items()
            )
            if bar is not None:
                bar.write(f"reader: {msg}")
            else:
                log(f"reader: {msg}")
            if out_of_time:
                log(f"reader: stopping after {done} steps: max_seconds={max_seconds:g} reached")
                break
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - t0
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    summary: dict[str, Any] = {
        "trained_on": trained_on,
        "split": "train",
        "clips": len(train),
        "dev_clips": len(dev),
        "languages": languages,
        "steps": done,
        "batch_size": batch_size,
        "seconds": round(seconds, 1),
        "parameters": model.count_parameters(),
        "selected": (
            {"by": "dev char_acc", **best} if best_state is not None else {"by": "last step"}
        ),
        "history": history,
        "seed": seed,
        "hold_prob": hold_prob,
        "read_share": read_share,
    }
    if out_dir is not None:
        save_reader(model, out_dir, summary)
        summary["out"] = str(out_dir)
    summary["reader"] = Reader(model, summary)
    return summary

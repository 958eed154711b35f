"""Streaming training data over a pose store: tokens in, normalised frames + counter + masks out.

Memory does not grow with the corpus's frames: the only per-clip state kept is a compact index
(id, frame count, language, token ids: a few dozen bytes per clip, numpy arrays); clips are read
from the store one batch at a time (`Store.__getitem__`, one pread each) and dropped after use.

Inputs. Each clip's tokens come from its gloss or its text (`input_text`). The default, "char"
(MLSF, `CharVocab`) and "langchar" (mode prompt, `LangCharVocab`): the gloss if the clip has one,
else its text words, read by a tokenizer that spells every word it has no token for, so no input
is ever ``<unk>``; a fingerspelled clip's gloss ``fs-REGEN`` always becomes its letters
(``<fs> r e g e n </w>``). The word-level kinds of earlier checkpoints stay readable: "gloss" = the
gloss words, "text" = the lower-cased words of the sentence without punctuation (`text_words`),
"subword" = the raw sentence for sentencepiece, "langgloss" (mode prompt, `LangWordVocab`) = gloss
if the clip has one, else its text words. Every sequence starts with its language's marker
(``<gsg> WETTER MORGEN``).

Frames. Coordinates are standardised per joint and axis with train-split statistics
(`NormStats`, saved in the checkpoint's config.json; axes that never vary, such as z of 2D data,
get std 1), flattened joint-major to `pose_dim = joints * 3` values, and the counter i/T is
appended. Missing joints (confidence 0) are masked out of the loss by `joint_mask`.

Long clips. A clip longer than `max_clip_frames` is cut to its first `max_clip_frames` frames, but
its counter still counts against the *full* length T: frame i keeps counter i/T, so the cut clip's
last frame has a counter < 1 and the model is never taught to stop at the cap. The counter keeps its
meaning (progress through the whole sign sequence); the model just never sees the tail.

Start-up cache. Everything the trainer derives from the whole train split before its first step
(tokenizers, normalisation stats, the kinematic body, the clip index) is kept in
`<store>/.signllm-cache/` (or `<out>/cache/` when the store is read-only), keyed by the store's
manifest (size, mtime, store.json) and by what the result depends on (split, languages, kinds,
sample size, seed, the tokenizers' contents): a later start on the unchanged store reads a few
small files and memory-maps the index, so it does not grow with the corpus; any append to the
store changes the key and the next start rebuilds (`StartupCache`).

Batches. `BatchPlan` makes *global* batches from the seed alone: a stream of clip indices, one
permutation per epoch (`rng(seed, epoch)`), cut into `batch_size` clips, or with
`max_frames_per_batch` length buckets (pools of shuffled clips sorted by length, packed so that
clips x longest <= the budget, batch order shuffled). Under DDP every rank computes the same plan
and takes `global[rank::world]`: the ranks together see exactly the batch a single process would,
and the trainer weighs each rank's loss by the global count of valid values, so the averaged
gradient equals the single-process one. The position in the plan is two integers (epoch, pos):
resuming regenerates the stream, it never needs to store it. `recorded_share` repeats the
recorded clips within each epoch's permutation (`share_repeats`) so that a few recorded sentences
among many composed words are not ~1% of the draws.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..data.store import Store
from ..errors import DataError, UsageError
from ..models.core import pad_sequences
from ..models.prompt2langgloss import text_words
from ..pose import extra_flag
from ..skeleton import get_skeleton
from ..text.tokenizers import Tokenizer, learn_tokenizer, split_words, tokenizer_from_dict

INPUT_KINDS = ("char", "langchar", "gloss", "text", "subword", "langgloss")
PROMPT_KINDS = ("langchar", "langgloss")  # the language-tagged kinds of mode prompt


# ----------------------------------------------------------------------------------------------
# Inputs


def input_text(text: str, gloss: str, kind: str) -> str:
    """What the tokenizer of `kind` reads for a clip (see the module docstring)."""
    text, gloss = text or "", gloss or ""
    if kind == "gloss":
        return " ".join(gloss.split())
    if kind == "text":
        return " ".join(text_words(text))
    if kind == "subword":
        return text.strip()
    if kind == "langgloss":
        return " ".join(gloss.split()) if gloss.strip() else " ".join(text_words(text))
    if kind in ("char", "langchar"):  # split_words keeps every script's marks (text_words drops)
        return " ".join(gloss.split()) if gloss.strip() else " ".join(split_words(text))
    raise UsageError(f"unknown input kind {kind!r}; choose from {', '.join(INPUT_KINDS)}")


def encode_input(tok: Tokenizer, text: str, gloss: str, kind: str, language: str) -> list[int]:
    """Token ids of one clip: its language marker first, then the words or pieces."""
    return tok.encode(input_text(text, gloss, kind), language=language)


def is_composed(row: dict[str, Any]) -> bool:
    """Whether a manifest row is a composed clip (fingerspelled words joined from letter
    recordings, signllm/data/fingerspell.py) rather than a recording of continuous signing."""
    return extra_flag(row.get("extra"), "composed")


def share_repeats(recorded: np.ndarray, share: float) -> np.ndarray | None:
    """Copies of each clip per epoch so that recorded clips make about `share` of the draws.

    Why: in a corpus of a few recorded sentences and many composed words (the demo corpus: 12
    of 990 train clips) uniform draws give the recordings ~1% of the updates, and the decoder
    never learns to reproduce real continuous signing it has seen. Recorded clips are repeated
    a whole number of times (>= 1); nothing changes when they already make `share` or more, or
    when one kind is absent. None = no repeats.
    """
    recorded = np.asarray(recorded, bool)
    n_rec = int(recorded.sum())
    n_comp = len(recorded) - n_rec
    if share <= 0 or n_rec == 0 or n_comp == 0 or n_rec / len(recorded) >= share:
        return None
    k = max(1, round(share / (1 - share) * n_comp / n_rec))
    return np.where(recorded, k, 1).astype(np.int64)


def train_languages(store: Store, split: str, wanted: list[str] | str) -> list[str]:
    """The languages to train: `wanted`, or every language with clips in `split` ("all")."""
    have = sorted({lang for lang in store.languages if store.ids(split=split, language=lang)})
    if wanted == "all":
        if not have:
            raise DataError(f"no clip of split {split!r} has a language", store.path)
        return have
    missing = [c for c in wanted if c not in have]
    if missing:
        raise DataError(
            f"no {split!r} clips for language {missing[0]!r} (the store has: "
            f"{', '.join(have) or 'none'})",
            store.path,
        )
    return list(wanted)


def resolve_kind(store: Store, split: str, language: str, requested: str) -> str:
    """'auto' -> 'gloss' when every clip of the language in `split` has a gloss, else 'text';
    any other kind ("char" included) is itself."""
    if requested != "auto":
        return requested
    n = 0
    for row in store.iter_rows(split=split, language=language):
        n += 1
        if not (row.get("gloss") or "").strip():
            return "text"
    return "gloss" if n else "text"


def build_tokenizers(
    store: Store,
    split: str,
    languages: Sequence[str],
    mode: str,
    kinds: dict[str, str],
    subword_vocab_size: int = 8000,
) -> dict[str, Tokenizer]:
    """Tokenizers from the train split, streamed: {language: tokenizer}.

    MLSF: one per language (its own vocabulary and marker). Prompt: one `LangCharVocab` (kind
    "langchar") or `LangWordVocab` ("langgloss") over all languages, the same object under every
    code.
    """
    if mode == "prompt":
        kind = kinds[languages[0]] if languages else "langchar"
        if kind not in PROMPT_KINDS or any(kinds[c] != kind for c in languages):
            raise UsageError(
                f"mode prompt needs one of {', '.join(PROMPT_KINDS)} for all languages"
            )
        items = (
            (code, input_text(r.get("text", ""), r.get("gloss", ""), kind))
            for code in languages
            for r in store.iter_rows(split=split, language=code)
        )
        type_name = "lang_char" if kind == "langchar" else "lang_word"
        vocab = learn_tokenizer(type_name, items, languages=sorted(languages))
        return dict.fromkeys(languages, vocab)
    out: dict[str, Tokenizer] = {}
    for code in languages:
        kind = kinds[code]
        texts = (
            input_text(r.get("text", ""), r.get("gloss", ""), kind)
            for r in store.iter_rows(split=split, language=code)
        )
        type_name = kind if kind in ("subword", "char") else "word"  # gloss and text: words
        out[code] = learn_tokenizer(type_name, texts, [code], subword_vocab_size)
    return out


# ----------------------------------------------------------------------------------------------
# Normalisation


@dataclass
class NormStats:
    """Per joint and axis mean/std of the observed train coordinates, (J, 3) each."""

    mean: np.ndarray  # (J, 3) float32
    std: np.ndarray  # (J, 3) float32, > 0
    clips: int = 0
    frames: int = 0

    def with_std_floor(self, fraction: float) -> NormStats:
        """The same stats with every std at least `fraction` of the median std."""
        floor = fraction * float(np.median(self.std))
        std = np.maximum(self.std, floor).astype(np.float32)
        return replace(self, std=std)

    @classmethod
    def identity(cls, joints: int) -> NormStats:
        return cls(np.zeros((joints, 3), np.float32), np.ones((joints, 3), np.float32))

    def normalize(self, data: np.ndarray) -> np.ndarray:
        """(t, J, 3) raw -> standardised."""
        return (data - self.mean) / self.std

    def denormalize(self, data: np.ndarray | Tensor) -> np.ndarray:
        """(t, J, 3) standardised (model output) -> the data's own units."""
        if isinstance(data, Tensor):
            data = data.detach().float().cpu().numpy()
        return data * self.std + self.mean

    def to_dict(self) -> dict[str, Any]:
        # float32 -> float is exact, and so is the way back: a resumed run sees the same inputs
        return {
            "mean": self.mean.astype(np.float32).tolist(),
            "std": self.std.astype(np.float32).tolist(),
            "clips": self.clips,
            "frames": self.frames,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], path: Any = None) -> NormStats:
        try:
            mean = np.asarray(d["mean"], np.float32)
            std = np.asarray(d["std"], np.float32)
        except (KeyError, TypeError, ValueError):
            raise DataError(
                "normalisation stats need mean and std", path, field="normalization"
            ) from None
        if mean.ndim != 2 or mean.shape[1] != 3 or std.shape != mean.shape or (std <= 0).any():
            raise DataError("bad normalisation stats (J x 3, std > 0)", path, field="normalization")
        if not (np.isfinite(mean).all() and np.isfinite(std).all()):
            raise DataError("normalisation stats must be finite", path, field="normalization")
        try:
            clips, frames = int(d.get("clips", 0)), int(d.get("frames", 0))
        except (TypeError, ValueError, OverflowError):
            raise DataError(
                "clips and frames must be counts", path, field="normalization"
            ) from None
        return cls(mean, std, clips, frames)


def _sample_clips(
    store: Store,
    split: str,
    languages: Sequence[str],
    max_clips: int,
    rng: np.random.Generator,
    purpose: str,
) -> list[str]:
    """The clip ids of `split` in `languages`, at most `max_clips` of them (a sample drawn with
    `rng`, in store order); an error names `purpose` when there is none."""
    ids = [i for code in languages for i in store.ids(split=split, language=code)]
    if not ids:
        raise DataError(f"no {split!r} clips to {purpose}", store.path)
    if max_clips and len(ids) > max_clips:
        ids = [ids[i] for i in sorted(rng.choice(len(ids), max_clips, replace=False))]
    return ids


def compute_stats(
    store: Store, split: str, languages: Sequence[str], max_clips: int = 2000, seed: int = 0
) -> NormStats:
    """Streaming mean/std over (a seeded sample of at most `max_clips`) clips of `split`.

    Sums in float64 over observed joints only; one clip in memory at a time.
    """
    rng = np.random.default_rng(seed)
    ids = _sample_clips(store, split, languages, max_clips, rng, "compute normalisation stats from")
    joints = get_skeleton(store.skeleton).num_joints
    n = np.zeros((joints, 1))
    s = np.zeros((joints, 3))
    s2 = np.zeros((joints, 3))
    frames = 0
    for cid in ids:
        pose = store[cid]
        seen = (pose.confidence > 0)[..., None]  # (t, J, 1)
        x = np.where(seen, pose.data.astype(np.float64), 0.0)
        n += seen.sum(0)
        s += x.sum(0)
        s2 += (x * x).sum(0)
        frames += pose.num_frames
    mean = np.divide(s, n, out=np.zeros_like(s), where=n > 0)
    var = np.divide(s2, n, out=np.zeros_like(s2), where=n > 0) - mean**2
    std = np.sqrt(np.maximum(var, 0.0))
    std = np.where(std > 1e-6, std, 1.0)  # constant axes (z of 2D data), unseen joints
    return NormStats(mean.astype(np.float32), std.astype(np.float32), len(ids), frames)


def fit_body_from_store(
    store: Store,
    split: str,
    languages: Sequence[str],
    max_clips: int = 2000,
    seed: int = 0,
    max_frames: int = 100_000,
) -> dict[str, np.ndarray]:
    """The kinematic head's body (rest pose, bone lengths) from a seeded sample of `split`."""
    from ..models.kinematic import fit_body

    rng = np.random.default_rng(seed)
    ids = _sample_clips(store, split, languages, max_clips, rng, "fit the body on")
    per_clip = max(1, max_frames // len(ids))
    frames, masks = [], []
    for cid in ids:
        pose = store[cid]
        keep = np.arange(pose.num_frames)
        if len(keep) > per_clip:
            keep = np.sort(rng.choice(len(keep), per_clip, replace=False))
        frames.append(pose.data[keep])
        masks.append(pose.confidence[keep] > 0)
    return fit_body(np.concatenate(frames), np.concatenate(masks), get_skeleton(store.skeleton))


# ----------------------------------------------------------------------------------------------
# Start-up cache


class StartupCache:
    """Results derived from a store, kept beside it while the store is unchanged (module doc).

    `json(name, key, build)` for JSON-able results, `arrays(name, key, build)` for dicts of numpy
    arrays (saved as .npy, read back memory-mapped). `key` (JSON-able) says what the result
    depends on besides the store; entries are written atomically (a directory renamed into
    place), so concurrent ranks or a killed run never leave a half entry, and an entry of an
    older state of the store is replaced, not kept.
    """

    DIR = ".signllm-cache"

    def __init__(self, store: Store, fallback: str | Path) -> None:
        manifest = store.path / "manifest.jsonl"
        st = manifest.stat() if manifest.exists() else None
        info = (store.path / "store.json").read_bytes()
        self.store_key = hashlib.sha256(
            json.dumps([st.st_size, st.st_mtime_ns] if st else None).encode() + info
        ).hexdigest()[:16]
        self.root = store.path / self.DIR
        if not _writable(store.path):
            self.root = Path(fallback) / "cache"

    def _entry(self, name: str, key: Any) -> Path:
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
        return self.root / f"{name}-{self.store_key}-{digest}"

    def _put(self, path: Path, write: Callable[[Path], None]) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=self.root))
            write(tmp)
            try:
                os.rename(tmp, path)
            except OSError:  # another process put the same entry first
                shutil.rmtree(tmp, ignore_errors=True)
            name, _, digest = path.name.rsplit("-", 2)
            for old in self.root.glob(f"{name}-*-{digest}"):
                if old.name != path.name:  # the same entry for an older state of the store
                    shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass  # a cache that cannot be written is only a slower start

    def json(self, name: str, key: Any, build: Callable[[], Any]) -> Any:
        path = self._entry(name, key)
        try:
            return json.loads((path / "value.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass
        value = build()

        def write(tmp: Path) -> None:
            (tmp / "value.json").write_text(json.dumps(value), encoding="utf-8")

        self._put(path, write)
        return value

    def arrays(
        self, name: str, key: Any, build: Callable[[], dict[str, np.ndarray]]
    ) -> dict[str, np.ndarray]:
        path = self._entry(name, key)
        try:
            names = json.loads((path / "arrays.json").read_text(encoding="utf-8"))
            return {k: np.load(path / f"{k}.npy", mmap_mode="r") for k in names}
        except (OSError, ValueError):
            pass
        value = build()

        def write(tmp: Path) -> None:
            for k, a in value.items():
                np.save(tmp / f"{k}.npy", np.ascontiguousarray(a), allow_pickle=False)
            (tmp / "arrays.json").write_text(json.dumps(list(value)), encoding="utf-8")

        self._put(path, write)
        return value


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK | os.X_OK)


def cached_tokenizers(
    cache: StartupCache | None, key: Any, build: Callable[[], dict[str, Tokenizer]]
) -> dict[str, Tokenizer]:
    """`build()` ({language: tokenizer}), or the same tokenizers read back from `cache`."""
    if cache is None:
        return build()

    def dump() -> dict[str, Any]:
        toks = build()
        shared = len({id(t) for t in toks.values()}) == 1 and len(toks) > 1
        return {"shared": shared, "tokenizers": {c: t.to_dict() for c, t in toks.items()}}  # type: ignore[attr-defined]

    d = cache.json("tokenizers", key, dump)
    out = {c: tokenizer_from_dict(v) for c, v in d["tokenizers"].items()}
    if d["shared"]:  # mode prompt: one object under every code
        first = out[next(iter(out))]
        out = dict.fromkeys(out, first)
    return out


def cached_stats(cache: StartupCache | None, key: Any, build: Callable[[], NormStats]) -> NormStats:
    """`build()`, or the same normalisation stats read back from `cache` (float32 exact)."""
    if cache is None:
        return build()
    return NormStats.from_dict(cache.json("stats", key, lambda: build().to_dict()))


def cached_body(
    cache: StartupCache | None, key: Any, build: Callable[[], dict[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """`build()` (the kinematic body), or the same arrays read back from `cache`."""
    if cache is None:
        return build()
    return {k: np.array(v) for k, v in cache.arrays("body", key, build).items()}


# ----------------------------------------------------------------------------------------------
# Index


class ClipIndex:
    """The clips of one split and set of languages: ids, frame counts, languages, token ids.

    Compact numpy storage (tokens concatenated with offsets); no clip data.
    """

    def __init__(
        self,
        store: Store,
        split: str,
        languages: Sequence[str],
        tokenizers: dict[str, Tokenizer],
        kinds: dict[str, str],
    ) -> None:
        self.split = split
        self.languages = list(languages)
        lang_id = {c: i for i, c in enumerate(self.languages)}
        ids: list[str] = []
        frames: list[int] = []
        langs: list[int] = []
        recorded: list[bool] = []
        offsets = [0]
        flat: list[np.ndarray] = []
        for code in self.languages:
            tok, kind = tokenizers[code], kinds[code]
            for row in store.iter_rows(split=split, language=code):
                t = np.asarray(
                    encode_input(tok, row.get("text", ""), row.get("gloss", ""), kind, code),
                    np.int32,
                )
                ids.append(row["id"])
                frames.append(int(row["frames"]))
                langs.append(lang_id[code])
                recorded.append(not is_composed(row))
                flat.append(t)
                offsets.append(offsets[-1] + len(t))
        self.ids = ids
        self.frames = np.asarray(frames, np.int64)
        self.lang = np.asarray(langs, np.int16)
        self.recorded = np.asarray(recorded, bool)  # (n,) False: composed (synthetic) clips
        self.offsets = np.asarray(offsets, np.int64)
        self.flat = np.concatenate(flat) if flat else np.zeros(0, np.int32)

    ARRAYS = ("ids", "frames", "lang", "recorded", "offsets", "flat")

    @classmethod
    def cached(
        cls,
        store: Store,
        split: str,
        languages: Sequence[str],
        tokenizers: dict[str, Tokenizer],
        kinds: dict[str, str],
        cache: StartupCache | None,
    ) -> ClipIndex:
        """`ClipIndex(...)`, or its arrays memory-mapped from `cache` when the store is unchanged."""
        if cache is None:
            return cls(store, split, languages, tokenizers, kinds)
        toks = {c: tokenizers[c].to_dict() for c in languages}  # type: ignore[attr-defined]
        key = {"split": split, "languages": list(languages), "kinds": kinds, "tokenizers": toks,
               "moved": getattr(store, "moved_digest", ""), "arrays": list(cls.ARRAYS)}  # fmt: skip

        def build() -> dict[str, np.ndarray]:
            ix = cls(store, split, languages, tokenizers, kinds)
            ids = np.asarray(ix.ids, dtype=str) if ix.ids else np.zeros(0, "U1")
            return {"ids": ids, **{k: getattr(ix, k) for k in cls.ARRAYS[1:]}}

        arrays = cache.arrays("index", key, build)
        ix = cls.__new__(cls)
        ix.split, ix.languages = split, list(languages)
        ix.ids = arrays["ids"]  # type: ignore[assignment]  # (n,) str array: ids[i] is a str
        for k in cls.ARRAYS[1:]:
            setattr(ix, k, arrays[k])
        return ix

    def __len__(self) -> int:
        return len(self.ids)

    def tokens(self, i: int) -> np.ndarray:
        return np.array(
            self.flat[self.offsets[i] : self.offsets[i + 1]]
        )  # a copy: flat may be mmap

    def language(self, i: int) -> str:
        return self.languages[int(self.lang[i])]


# ----------------------------------------------------------------------------------------------
# Batches


@dataclass
class PoseBatch:
    """One (local) batch, right-padded; `indices` are positions in the `ClipIndex`."""

    tokens: Tensor  # (b, s) long, pad 0
    token_mask: Tensor  # (b, s) bool
    frames: Tensor  # (b, t, pose_dim + 1) float32: normalised pose, counter last
    frame_mask: Tensor  # (b, t) bool
    joint_mask: Tensor  # (b, t, J) bool: joint observed
    lengths: Tensor  # (b,) long: full clip lengths (before the max_clip_frames cut)
    indices: Tensor  # (b,) long
    languages: list[str]
    ids: list[str]

    def to(self, device: torch.device) -> PoseBatch:
        nb = device.type == "cuda"
        return PoseBatch(
            *(
                getattr(self, k).to(device, non_blocking=nb)
                for k in (
                    "tokens",
                    "token_mask",
                    "frames",
                    "frame_mask",
                    "joint_mask",
                    "lengths",
                    "indices",
                )
            ),
            self.languages,
            self.ids,
        )

    @property
    def num_frames(self) -> int:
        return int(self.frame_mask.sum())

    @property
    def language(self) -> str | list[str]:
        """One code when the batch is single-language (MLSF then runs one group, unsplit)."""
        return self.languages[0] if len(set(self.languages)) == 1 else self.languages


class ClipDataset:
    """Map-style: a list of index positions -> a collated `PoseBatch` (DataLoader-friendly)."""

    def __init__(
        self, store: Store, index: ClipIndex, stats: NormStats, max_clip_frames: int
    ) -> None:
        self.store, self.index, self.stats = store, index, stats
        self.max_clip_frames = max_clip_frames

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, indices: Sequence[int]) -> PoseBatch:
        return self.load(indices)

    def load(self, indices: Sequence[int]) -> PoseBatch:
        idx = [int(i) for i in indices]
        if not idx:
            raise UsageError("an empty batch")
        poses = [self.store[self.index.ids[i]] for i in idx]
        toks = [self.index.tokens(i) for i in idx]
        b = len(idx)
        caps = [min(p.num_frames, self.max_clip_frames) for p in poses]
        t = max(caps)
        j = poses[0].num_joints
        frames = np.zeros((b, t, j * 3 + 1), np.float32)
        fmask = np.zeros((b, t), bool)
        jmask = np.zeros((b, t, j), bool)
        for k, (pose, n) in enumerate(zip(poses, caps, strict=True)):
            seen = pose.confidence[:n] > 0  # (n, J)
            x = np.where(seen[..., None], self.stats.normalize(pose.data[:n]), 0.0)
            frames[k, :n, :-1] = x.reshape(n, j * 3)
            # counter against the full length: a cut clip never reaches 1 (module docstring)
            frames[k, :n, -1] = np.arange(1, n + 1, dtype=np.float32) / pose.num_frames
            fmask[k, :n] = True
            jmask[k, :n] = seen
        tokens_t = pad_sequences(toks, 0)
        return PoseBatch(
            tokens=tokens_t,
            token_mask=tokens_t != 0,
            frames=torch.from_numpy(frames),
            frame_mask=torch.from_numpy(fmask),
            joint_mask=torch.from_numpy(jmask),
            lengths=torch.tensor([p.num_frames for p in poses], dtype=torch.long),
            indices=torch.tensor(idx, dtype=torch.long),
            languages=[self.index.language(i) for i in idx],
            ids=[self.index.ids[i] for i in idx],
        )


class BatchPlan:
    """Deterministic global batches from (seed, epoch): see the module docstring.

    `state` = {"epoch", "pos"}: pos is the offset into the epoch's permutation (fixed batch size)
    or the batch number within the epoch (bucketing).
    """

    POOL = 50  # bucketing: batches' worth of clips sorted together

    def __init__(
        self,
        lengths: np.ndarray,
        batch_size: int,
        max_frames_per_batch: int | None = None,
        seed: int = 0,
        min_batch: int = 1,
        groups: np.ndarray | None = None,
        repeats: np.ndarray | None = None,
    ) -> None:
        if len(lengths) == 0:
            raise DataError("no training clips")
        if batch_size < min_batch:
            raise UsageError(
                f"batch_size {batch_size} is smaller than the number of DDP ranks ({min_batch})"
            )
        self.lengths = np.asarray(lengths, np.int64)
        self.batch_size = batch_size
        self.budget = max_frames_per_batch
        self.seed = seed
        self.min_batch = min_batch
        # groups (one id per clip, e.g. its language): every batch from one group, so an MLSF
        # step runs one language group instead of a dozen tiny sub-batches
        self.groups = None if groups is None else np.asarray(groups)
        # repeats (copies of each clip per epoch, `share_repeats`): an epoch is the permutation
        # of the clips with their copies, so a repeated clip is drawn that many times as often
        self.repeats = None if repeats is None else np.asarray(repeats, np.int64)
        self.state = {"epoch": 0, "pos": 0}
        self._cache: tuple[int, list[np.ndarray] | np.ndarray] | None = None

    def _perm(self, epoch: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, epoch])
        if self.repeats is None:
            return rng.permutation(len(self.lengths))
        return rng.permutation(np.repeat(np.arange(len(self.lengths)), self.repeats))

    def epoch_batches(self, epoch: int) -> list[np.ndarray]:
        """Bucketing: the epoch's batches (clip indices), order shuffled."""
        rng = np.random.default_rng([self.seed, epoch, 1])
        perm = self._perm(epoch)
        assert self.budget is not None
        avg = max(1, self.budget // max(1, int(np.median(self.lengths))))
        pool = self.POOL * avg
        batches: list[np.ndarray] = []
        for start in range(0, len(perm), pool):
            chunk = perm[start : start + pool]
            chunk = chunk[np.argsort(-self.lengths[chunk], kind="stable")]
            cur: list[int] = []
            longest = 0
            for i in chunk:
                n = int(self.lengths[i])
                if len(cur) >= self.min_batch and max(longest, n) * (len(cur) + 1) > self.budget:
                    batches.append(np.asarray(cur))
                    cur, longest = [], 0
                cur.append(int(i))
                longest = max(longest, n)
            if cur:
                if len(cur) < self.min_batch and batches:
                    batches[-1] = np.concatenate([batches[-1], cur])
                else:
                    batches.append(np.asarray(cur))
        order = rng.permutation(len(batches))
        return [batches[k] for k in order]

    def group_batches(self, epoch: int) -> list[np.ndarray]:
        """Batches of `batch_size` clips of one group each (the last of a group may be smaller),
        in shuffled order; every clip once per epoch."""
        return self.split_by_group(self._perm(epoch), epoch)

    def split_by_group(self, order: np.ndarray, epoch: int) -> list[np.ndarray]:
        """`order` (clip indices, repeats allowed: a PLC draw) cut into batches of one group
        each, keeping each group's order; the batches shuffled by (seed, epoch)."""
        assert self.groups is not None
        rng = np.random.default_rng([self.seed, epoch, 2])
        batches: list[np.ndarray] = []
        for g in np.unique(self.groups):
            idx = order[self.groups[order] == g]
            mine = [idx[k : k + self.batch_size] for k in range(0, len(idx), self.batch_size)]
            if len(mine) > 1 and len(mine[-1]) < self.min_batch:
                last = mine.pop()
                mine[-1] = np.concatenate([mine[-1], last])
            batches += [b for b in mine if len(b) >= self.min_batch]
        return [batches[k] for k in rng.permutation(len(batches))]

    def _batched(self) -> bool:
        return bool(self.budget) or self.groups is not None

    def _epoch(self, epoch: int) -> list[np.ndarray] | np.ndarray:
        if self._cache is None or self._cache[0] != epoch:
            if self.groups is not None:
                plan: list[np.ndarray] | np.ndarray = self.group_batches(epoch)
            elif self.budget:
                plan = self.epoch_batches(epoch)
            else:
                plan = self._perm(epoch)
            self._cache = (epoch, plan)
        return self._cache[1]

    def next(self) -> np.ndarray:
        """The next global batch; advances `state`."""
        e, pos = self.state["epoch"], self.state["pos"]
        if self._batched():
            batches = self._epoch(e)
            if pos >= len(batches):
                e, pos = e + 1, 0
                batches = self._epoch(e)
            out = batches[pos]
            self.state = {"epoch": e, "pos": pos + 1}
            return out
        parts, need = [], self.batch_size
        while need:
            perm = self._epoch(e)
            if pos >= len(perm):
                e, pos = e + 1, 0
                continue
            take = perm[pos : pos + need]
            parts.append(take)
            need -= len(take)
            pos += len(take)
        self.state = {"epoch": e, "pos": pos}
        return np.concatenate(parts)

    def __iter__(self) -> Iterator[np.ndarray]:
        while True:
            yield self.next()

    def clone(self) -> BatchPlan:
        """An independent plan at the same position (e.g. for DataLoader prefetching)."""
        p = BatchPlan(
            self.lengths,
            self.batch_size,
            self.budget,
            self.seed,
            self.min_batch,
            self.groups,
            self.repeats,
        )
        p.load_state_dict(self.state)
        return p

    def state_dict(self) -> dict[str, int]:
        return dict(self.state)

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.state = {"epoch": int(state["epoch"]), "pos": int(state["pos"])}


def shard(batch: np.ndarray, rank: int, world: int) -> np.ndarray:
    """This rank's part of a global batch: every world-th clip, starting at `rank`."""
    return batch[rank::world]


class _LocalBatches(torch.utils.data.Sampler):
    """Sampler for a DataLoader: the rank's share of each global batch of a plan."""

    def __init__(self, plan: BatchPlan, rank: int, world: int) -> None:
        self.plan, self.rank, self.world = plan, rank, world

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.plan:
            yield shard(batch, self.rank, self.world).tolist()

    def __len__(self) -> int:  # pragma: no cover - infinite stream
        return 2**62


def _identity(x: Any) -> Any:
    return x


def batch_stream(
    dataset: ClipDataset, plan: BatchPlan, rank: int, world: int, num_workers: int = 0
) -> Iterator[PoseBatch]:
    """Local batches following `plan` from its current state, prefetched by worker processes.

    The plan advances ahead of training (prefetch), so pass a `plan.clone()` and keep the
    original for the position of the batches actually consumed (what a checkpoint records).
    """
    if num_workers == 0:
        while True:
            yield dataset.load(shard(plan.next(), rank, world).tolist())
    loader = torch.utils.data.DataLoader(
        dataset,  # type: ignore[arg-type]
        sampler=_LocalBatches(plan, rank, world),
        batch_size=None,
        num_workers=num_workers,
        collate_fn=_identity,
        persistent_workers=False,
    )
    yield from loader


def iter_eval_batches(dataset: ClipDataset, count: int, batch_size: int) -> Iterator[PoseBatch]:
    """The first `count` clips of an index (its fixed order), in batches; for dev evaluation."""
    n = min(count, len(dataset))
    for start in range(0, n, batch_size):
        yield dataset.load(range(start, min(n, start + batch_size)))


__all__ = [
    "INPUT_KINDS",
    "PROMPT_KINDS",
    "BatchPlan",
    "ClipDataset",
    "ClipIndex",
    "NormStats",
    "PoseBatch",
    "StartupCache",
    "batch_stream",
    "build_tokenizers",
    "cached_body",
    "cached_stats",
    "cached_tokenizers",
    "compute_stats",
    "encode_input",
    "input_text",
    "iter_eval_batches",
    "resolve_kind",
    "shard",
    "train_languages",
]

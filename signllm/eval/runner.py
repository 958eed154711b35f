"""`signllm evaluate`: back-translation and pose metrics of a trained model on a held-out split.

Why three systems per clip: a BT score alone says little (the BT model is ours, tiny data makes it
weak, and BT numbers are not comparable across papers). Each clip is therefore read by the same
BT model three times:

- **ground truth** (the ceiling): the recorded poses; what the BT model can read at best;
- **generated**: the SignLLM model's poses, decoded honestly from the clip's text/gloss tokens
  (no ground-truth counter or length: decoding stops on the predicted counter or at the training
  `max_clip_frames`), de-normalised with the checkpoint's stats;
- **floor**: the mean training pose (per joint, over every observed frame of the train split,
  computed streaming) held still for the true length: what "no signing at all" scores.

A model is only worth its numbers where it sits clearly between floor and ceiling.

Metrics (signllm.eval.metrics / dtw): BLEU-1..4 (sacrebleu, signature kept), chrF, ROUGE-L, WER per
language and overall (and recorded vs. fingerspelled clips when the split has both); DTW-MJE over
all joints and hands only, the total hand distance ratio (summed hand travel, in each clip's
shoulder widths, produced / true) and the mean duration ratio, for generated and floor; character
accuracy of the BT output on fingerspelled clips (``meta.extra["fingerspelled"]``).

Clips are processed in chunks (read, generate batched, back-translate, score, drop), so memory does
not grow with the split; only per-clip strings and numbers are kept.

    signllm evaluate --model runs/tiny/best --bt runs/bt --data data/demo --split test \\
        --out results.json --markdown results.md
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..data.store import Store
from ..errors import DataError, UsageError
from ..pose import Pose
from ..text.tokenizers import UNK_ID
from .bt_checkpoint import BTCheckpoint, interleave, load_bt_checkpoint
from .dtw import dtw_mje_pose
from .metrics import character_accuracy, duration_ratio, hand_travel, text_scores
from .report import SYSTEMS, clean_json

if TYPE_CHECKING:  # torch is imported lazily: `signllm --help` must stay fast
    import torch

FORMAT = "signllm-eval"
VERSION = 1
TEXT_KEYS = ("bleu1", "bleu2", "bleu3", "bleu4", "chrf", "rouge_l", "wer")
POSE_KEYS = ("dtw_mje", "dtw_mje_hands", "hand_distance_ratio", "duration_ratio")


def is_fingerspelled(pose: Pose) -> bool:
    """Composed fingerspelling clips of the demo corpus say so in their `extra`."""
    v = pose.meta.extra.get("fingerspelled", False)
    return v is True or str(v).lower() == "true"


# ----------------------------------------------------------------------------------------------
# The floor: the mean training pose


def mean_pose(
    store: Store, split: str, languages: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Per-joint mean (J, 3) over every observed frame of `split` (streaming, float64 sums).

    Returns (mean, seen (J,) bool, clips, frames); joints never observed are 0 and not seen.
    """
    n = s = None
    clips = frames = 0
    for code in languages:
        for pose in store.iter(split=split, language=code):
            m = pose.mask  # (t, J)
            x = np.where(m[..., None], pose.data.astype(np.float64), 0.0)
            if n is None:
                n, s = np.zeros(pose.num_joints), np.zeros((pose.num_joints, 3))
            n += m.sum(0)
            s += x.sum(0)
            clips, frames = clips + 1, frames + pose.num_frames
    if n is None or s is None:
        raise DataError(f"no {split!r} clips to compute the mean-pose floor from", store.path)
    seen = n > 0
    mean = np.divide(s, n[:, None], out=np.zeros_like(s), where=seen[:, None])
    return mean.astype(np.float32), seen, clips, frames


def floor_pose(true: Pose, mean: np.ndarray, seen: np.ndarray) -> Pose:
    """The mean pose held for the true clip's length (marked generated: it is not data)."""
    t = true.num_frames
    meta = dataclasses.replace(
        true.meta, extra={**true.meta.extra, "generated": True, "system": "floor"}
    )
    return Pose(
        data=np.broadcast_to(mean, (t, *mean.shape)).copy(),
        confidence=np.broadcast_to(seen.astype(np.float32), (t, len(seen))).copy(),
        fps=true.fps,
        skeleton=true.skeleton,
        meta=meta,
    )


# ----------------------------------------------------------------------------------------------
# Generation with a trained checkpoint


class Generator:
    """Batched honest decoding with a `signllm train` checkpoint (MLSF or shared prompt model)."""

    def __init__(self, path: str | Path, device: str | torch.device = "cpu") -> None:
        import torch

        from ..train.checkpoint import load_checkpoint

        self.path = Path(path)
        self.ck = load_checkpoint(path, device=device)
        self.device = torch.device(device)
        self.mode = self.ck.config["mode"]
        self.languages = list(self.ck.config["languages"])
        self.inputs = dict(self.ck.config.get("inputs") or {})
        train = self.ck.config.get("train") or {}
        self.max_frames = int(train.get("max_clip_frames") or 400)

    def tokens(self, pose: Pose) -> list[int]:
        """The clip's input ids exactly as training encoded them (`train.data.encode_input`)."""
        from ..train.data import encode_input

        code = pose.meta.language
        kind = self.inputs.get(code) or ("langgloss" if self.mode == "prompt" else "text")
        tok = self.ck.tokenizers[code]
        return encode_input(tok, pose.meta.text, pose.meta.gloss, kind, code)

    def generate(self, poses: Sequence[Pose], max_frames: int | None = None) -> list[Pose]:
        """One generated `Pose` per input clip (its language and tokens only; fps copied)."""
        import torch

        with torch.no_grad():
            return self._generate(poses, max_frames)

    def _generate(self, poses: Sequence[Pose], max_frames: int | None) -> list[Pose]:
        import torch

        limit = max_frames or self.max_frames
        seqs = [self.tokens(p) for p in poses]
        pad = self.ck.tokenizers[poses[0].meta.language].pad_id
        s = max(len(x) for x in seqs)
        tokens = torch.full((len(seqs), s), pad, dtype=torch.long)
        for i, x in enumerate(seqs):
            tokens[i, : len(x)] = torch.tensor(x, dtype=torch.long)
        tokens = tokens.to(self.device)
        mask = tokens != pad
        model = self.ck.model
        if self.mode == "mlsf":
            langs = [p.meta.language for p in poses]
            lang: str | list[str] = langs[0] if len(set(langs)) == 1 else langs
            out = model.generate(lang, tokens, mask, max_frames=limit)  # type: ignore[operator]
        else:
            out = model.model.generate(tokens, mask, max_frames=limit)  # type: ignore[union-attr, operator]
        lengths = out["lengths"].tolist()
        joints = poses[0].num_joints
        result = []
        for k, (p, n) in enumerate(zip(poses, lengths, strict=True)):
            n = max(1, int(n))
            data = self.ck.stats.denormalize(out["pose"][k, :n].reshape(n, joints, 3))
            meta = dataclasses.replace(
                p.meta, extra={**p.meta.extra, "generated": True, "system": "generated"}
            )
            result.append(
                Pose(
                    data=np.asarray(data, np.float32),
                    confidence=np.ones((n, joints), np.float32),
                    fps=p.fps,
                    skeleton=p.skeleton,
                    meta=meta,
                )
            )
        return result

    def info(self) -> dict[str, Any]:
        cfg = self.ck.config
        train = cfg.get("train") or {}
        keep = ("mode", "size", "steps", "seed", "batch_size", "lr", "max_clip_frames", "plc")
        return {
            "path": str(self.path),
            "mode": self.mode,
            "languages": self.languages,
            "inputs": self.inputs,
            "step": cfg.get("step"),
            "best_dev_dtw_mje": cfg.get("best_dev_dtw_mje"),
            "train": {k: train[k] for k in keep if k in train},
        }


# ----------------------------------------------------------------------------------------------
# Evaluation


def _pick_languages(
    gen: Generator, bt: BTCheckpoint, store: Store, split: str, wanted: Sequence[str] | None
) -> tuple[list[str], list[str]]:
    have = [c for c in store.languages if store.ids(split=split, language=c)]
    if not have:
        raise DataError(f"the store has no {split!r} clips with a language", store.path)
    if wanted:
        for code in wanted:
            if code not in have:
                raise UsageError(f"no {split!r} clips for language {code!r} in {store.path}")
            if code not in gen.languages:
                raise UsageError(
                    f"the model {gen.path} has no language {code!r} (it has: "
                    f"{', '.join(gen.languages)})"
                )
        langs = list(dict.fromkeys(wanted))
    else:
        langs = [c for c in have if c in gen.languages]
        if not langs:
            raise UsageError(
                f"the model {gen.path} knows none of the {split!r} languages ({', '.join(have)})"
            )
    unseen = [c for c in langs if c not in bt.config.get("languages", [])]
    return langs, unseen


def evaluate(
    model_ckpt: str | Path,
    bt_ckpt: str | Path,
    data_dir: str | Path,
    split: str = "test",
    languages: Sequence[str] | None = None,
    max_clips: int | None = None,
    beam: int = 1,
    progress: bool = True,
    batch_size: int = 16,
    max_frames: int | None = None,
    floor_split: str = "train",
    device: str = "auto",
    per_clip: bool = True,
) -> dict[str, Any]:
    """Evaluate a model checkpoint with a BT checkpoint on `split` of a store; see module doc.

    `max_clips` takes that many clips round-robin over the languages (so every language is in a
    short run). `max_frames` caps generation (default: the model's training `max_clip_frames`).
    Returns a JSON-able dict (NaN as None): settings, checkpoints, timings, scores per group and
    system, and (with `per_clip`) every clip's hypotheses and pose scores.
    """
    from ..train.distributed import pick_device

    if beam < 1 or batch_size < 1:
        raise UsageError("beam and batch_size must be >= 1")
    if max_clips is not None and max_clips < 1:
        raise UsageError(f"max_clips must be >= 1, got {max_clips}")
    timing: dict[str, float] = dict.fromkeys(
        (
            "load_models",
            "floor_stats",
            "read_clips",
            "generate",
            "bt_ground_truth",
            "bt_generated",
            "bt_floor",
            "pose_metrics",
            "text_metrics",
        ),
        0.0,
    )
    t_start = time.perf_counter()
    dev = pick_device(device)
    t = time.perf_counter()
    gen = Generator(model_ckpt, dev)
    bt = load_bt_checkpoint(bt_ckpt, dev)
    store = Store(data_dir)
    timing["load_models"] = time.perf_counter() - t
    held = [i for i in gen.ck.config.get("dev_holdout") or [] if i in store]
    dev_name = (gen.ck.config.get("train") or {}).get("dev_split") or "dev"
    if split == dev_name and split not in store.splits and held:  # `train` held these out
        store = store.with_split(held, split)
    if split not in store.splits:
        raise UsageError(
            f"the store {store.path} has no split {split!r} (it has: {', '.join(store.splits)})"
        )
    langs, bt_unseen = _pick_languages(gen, bt, store, split, languages)
    not_in_model = [c for c in store.languages if c not in gen.languages]
    picked = interleave(
        [[(k, c) for c in store.ids(split=split, language=code)] for k, code in enumerate(langs)]
    )
    if max_clips is not None:
        picked = picked[:max_clips]
    ids = [cid for _, cid in sorted(picked, key=lambda kc: kc[0])]  # stable: language blocks

    t = time.perf_counter()
    mean, seen, floor_clips, floor_frames = mean_pose(store, floor_split, langs)
    timing["floor_stats"] = time.perf_counter() - t

    from tqdm import tqdm

    bar = tqdm(
        total=len(ids),
        desc="evaluate",
        unit="clip",
        disable=not progress,
        dynamic_ncols=True,
        file=sys.stderr,
    )
    clips: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    target = bt.target
    try:
        for start in range(0, len(ids), batch_size):
            t = time.perf_counter()
            chunk: list[Pose] = []
            for cid in ids[start : start + batch_size]:
                pose = store[cid]
                reason = _unusable(pose, target)
                if reason:
                    skipped.append({"id": cid, "reason": reason})
                else:
                    chunk.append(pose)
            timing["read_clips"] += time.perf_counter() - t
            if chunk:
                clips.extend(_score_chunk(chunk, gen, bt, mean, seen, beam, max_frames, timing))
            bar.update(min(batch_size, len(ids) - start))
    finally:
        bar.close()
    if not clips:
        raise DataError(f"no usable {split!r} clips to evaluate", store.path)

    t = time.perf_counter()
    groups = _group_results(clips, langs)
    timing["text_metrics"] = time.perf_counter() - t
    timing["total"] = time.perf_counter() - t_start
    sig = text_scores(["a"], ["a"])  # the signatures of the exact settings used above
    result: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "data": str(Path(data_dir)),
        "split": split,
        "languages": langs,
        "languages_not_in_model": [c for c in not_in_model if store.ids(split=split, language=c)],
        "clips": len(clips),
        "clips_fingerspelled": sum(c["fingerspelled"] for c in clips),
        "shoulder_width_median": _median([c["shoulder_width"] for c in clips]),
        "skipped": skipped,
        "model": gen.info(),
        "bt": {
            "path": str(bt.path),
            "target": target,
            "languages": bt.config.get("languages"),
            "unseen_languages": bt_unseen,
            "training": bt.config.get("training"),
        },
        "settings": {
            "beam": beam,
            "bt_max_len": bt.max_len,
            "batch_size": batch_size,
            "max_frames": max_frames or gen.max_frames,
            "device": str(dev),
            "floor": (
                f"mean pose of split {floor_split!r} ({floor_clips} clips, {floor_frames} "
                "frames), held for the true length"
            ),
            "dtw_mje": "mean per-joint Euclidean error along the DTW path (data units)",
            "hand_distance_ratio": "sum of hand travel (shoulder widths), produced / true",
            "duration_ratio": "mean over clips of produced / true duration",
        },
        "signatures": {"bleu": sig["bleu_signature"], "chrf": sig["chrf_signature"]},
        "systems": list(SYSTEMS),
        "groups": groups,
        "timing": {k: round(v, 2) for k, v in timing.items()},
    }
    if per_clip:
        result["per_clip"] = clips
    return clean_json(result)


def _unusable(pose: Pose, target: str) -> str | None:
    from ..models.backtranslation import pose_to_input

    if not (getattr(pose.meta, target) or "").strip():
        return f"no {target} to compare with"
    try:
        pose_to_input(pose)
    except DataError:
        return "no frame sees the neck and both shoulders"
    return None


def _score_chunk(
    chunk: list[Pose],
    gen: Generator,
    bt: BTCheckpoint,
    mean: np.ndarray,
    seen: np.ndarray,
    beam: int,
    max_frames: int | None,
    timing: dict[str, float],
) -> list[dict[str, Any]]:
    """Generate, back-translate and score one chunk of ground-truth clips."""
    from ..models.backtranslation import back_translate

    t = time.perf_counter()
    by_lang: dict[str, list[int]] = {}
    for i, p in enumerate(chunk):
        by_lang.setdefault(p.meta.language, []).append(i)
    produced: list[Pose | None] = [None] * len(chunk)
    for idx in by_lang.values():  # one language per call: MLSF runs one group, unsplit
        for i, g in zip(idx, gen.generate([chunk[i] for i in idx], max_frames), strict=True):
            produced[i] = g
    generated = [p for p in produced if p is not None]
    floors = [floor_pose(p, mean, seen) for p in chunk]
    timing["generate"] += time.perf_counter() - t

    hyps: dict[str, list[str]] = {}
    for system, poses in (("ground_truth", chunk), ("generated", generated), ("floor", floors)):
        t = time.perf_counter()
        hyps[system] = back_translate(
            bt.model, poses, bt.tokenizer, beam=beam, max_len=bt.max_len, batch_size=len(poses)
        )
        timing[f"bt_{system}"] += time.perf_counter() - t

    t = time.perf_counter()
    out = []
    for k, true in enumerate(chunk):
        fs = is_fingerspelled(true)
        ref = getattr(true.meta, bt.target)
        true_travel = hand_travel(true)
        tokens = gen.tokens(true)
        row: dict[str, Any] = {
            "id": true.meta.id,
            "language": true.meta.language,
            "fingerspelled": fs,
            "reference": ref,
            "frames": true.num_frames,
            "input_tokens": len(tokens) - 1,  # without the language marker
            "input_unk": sum(i == UNK_ID for i in tokens),
            "hand_travel": true_travel,
            "shoulder_width": true.shoulder_width(),
            "hyp": {s: hyps[s][k] for s in SYSTEMS},
        }
        for system, pred in (("generated", generated[k]), ("floor", floors[k])):
            row[system] = {
                "frames": pred.num_frames,
                "dtw_mje": dtw_mje_pose(pred, true),
                "dtw_mje_hands": dtw_mje_pose(pred, true, joints="hands"),
                "hand_travel": hand_travel(pred),
                "duration_ratio": duration_ratio(pred, true),
            }
        row["generated"]["capped"] = generated[k].num_frames >= (max_frames or gen.max_frames)
        if fs:
            row["char_acc"] = {s: character_accuracy(hyps[s][k], true.meta.text) for s in SYSTEMS}
        out.append(row)
    timing["pose_metrics"] += time.perf_counter() - t
    return out


def _group_results(clips: list[dict[str, Any]], langs: list[str]) -> dict[str, Any]:
    """{"all", "recorded", "fingerspelled" (when both kinds exist), each language: {system: ...}}."""
    groups: dict[str, list[dict[str, Any]]] = {"all": clips}
    fs = [c for c in clips if c["fingerspelled"]]
    if fs and len(fs) < len(clips):
        groups["recorded"] = [c for c in clips if not c["fingerspelled"]]
        groups["fingerspelled"] = fs
    for code in langs:
        mine = [c for c in clips if c["language"] == code]
        if mine:
            groups[code] = mine
    return {name: _summarise(rows) for name, rows in groups.items()}


def _summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    refs = [r["reference"] for r in rows]
    fs = [r for r in rows if r["fingerspelled"]]
    words = sum(r["input_tokens"] for r in rows)
    out: dict[str, Any] = {
        "clips": len(rows),
        "fingerspelled": len(fs),
        "input_oov": sum(r["input_unk"] for r in rows) / words if words else None,
    }
    true_travel = np.array([r["hand_travel"] for r in rows], np.float64)
    for system in SYSTEMS:
        scores = text_scores([r["hyp"][system] for r in rows], refs)
        m: dict[str, Any] = {k: scores[k] for k in TEXT_KEYS}
        if system == "ground_truth":
            m.update(dict.fromkeys(POSE_KEYS))
        else:
            m["dtw_mje"] = _mean([r[system]["dtw_mje"] for r in rows])
            m["dtw_mje_hands"] = _mean([r[system]["dtw_mje_hands"] for r in rows])
            pred_travel = np.array([r[system]["hand_travel"] for r in rows], np.float64)
            ok = np.isfinite(true_travel) & np.isfinite(pred_travel) & (true_travel > 0)
            m["hand_distance_ratio"] = (
                float(pred_travel[ok].sum() / true_travel[ok].sum()) if ok.any() else None
            )
            m["duration_ratio"] = _mean([r[system]["duration_ratio"] for r in rows])
            if system == "generated":  # share of clips that never predicted their end
                m["capped"] = sum(bool(r[system]["capped"]) for r in rows) / len(rows)
        m["char_acc"] = _mean([r["char_acc"][system] for r in fs]) if fs else None
        out[system] = m
    return out


def _median(values: Sequence[float]) -> float | None:
    a = np.asarray(values, np.float64)
    a = a[np.isfinite(a)]
    return float(np.median(a)) if a.size else None


def _mean(values: Sequence[float]) -> float | None:
    a = np.asarray([v for v in values if v is not None], np.float64)
    a = a[np.isfinite(a)]
    return float(a.mean()) if a.size else None


__all__ = [
    "Generator",
    "evaluate",
    "floor_pose",
    "is_fingerspelled",
    "mean_pose",
]

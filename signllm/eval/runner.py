"""`signllm evaluate`: pose, body and (optionally) reading metrics of a trained model on a split.

Why three systems per clip: a BT score alone says little (the BT model is ours, tiny data makes it
weak, and BT numbers are not comparable across papers). Each clip is therefore measured three
times, by the same instruments:

- **ground truth** (the ceiling): the recorded poses; what a reader can read at best;
- **generated**: the SignLLM model's poses, decoded honestly from the clip's text/gloss tokens
  (no ground-truth counter or length: decoding stops at the length the model's length head plans
  from the text, when its predicted counter reaches 1, or at the training `max_clip_frames`,
  whichever comes first), de-normalised with the checkpoint's stats;
- **floor**: the mean training pose (per joint, over every observed frame of the train split,
  computed streaming) held still for the true length: what "no signing at all" scores.

A model is only worth its numbers where it sits clearly between floor and ceiling.

Instruments, each optional except the pose metrics (a model can be scored before any reader is
trained):

- always: DTW-MJE over all joints and hands only, the total hand distance ratio (summed hand
  travel, in each clip's shoulder widths, produced / true) and the mean duration ratio, for
  generated and floor; body metrics for all three (`signllm.metrics.pose.bone_variation`): bone
  CV (per bone the mean over clips of its length's coefficient of variation, then the median
  over bones), limb mismatch (mean over clips) and shoulder deviation (mean over clips of each
  clip's largest deviation of the shoulder width from its median);
- with a BT model (`bt_ckpt`): BLEU-1..4 (sacrebleu, signature kept), chrF, ROUGE-L, WER per
  language and overall (and recorded vs. fingerspelled clips when the split has both);
- with a fingerspelling reader (`reader_ckpt`): character accuracy (1 - CER) of the letters read
  from each fingerspelled clip (``meta.extra["fingerspelled"]``) against the letters the true clip
  signs (`reference_letters`). Without a reader the BT model's character accuracy takes its
  place; with both, the BT's is kept as `bt_char_acc`. `settings.char_acc_by` says which.

Clips are processed in chunks (read, generate batched, back-translate, score, drop), so memory does
not grow with the split; only per-clip strings and numbers are kept.

    signllm evaluate --model runs/tiny/best --data data/demo        # pose + body metrics only
    signllm evaluate --model runs/tiny/best --bt runs/bt --reader runs/reader --data data/demo \\
        --split test --out results.json --markdown results.md
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..data.store import Store
from ..errors import DataError, UsageError
from ..metrics.dtw import dtw_mje_pose
from ..metrics.pose import bone_variation, duration_ratio, hand_travel, travel_ratio
from ..metrics.text import character_accuracy, text_scores
from ..pose import Pose
from ..text.tokenizers import UNK_ID
from .bt_checkpoint import BTCheckpoint, interleave, load_bt_checkpoint
from .recognizer import is_fingerspelled
from .report import SYSTEMS, clean_json

if TYPE_CHECKING:  # torch is imported lazily: `signllm --help` must stay fast
    import torch

FORMAT = "signllm-eval"
VERSION = 1
TEXT_KEYS = ("bleu1", "bleu2", "bleu3", "bleu4", "chrf", "rouge_l", "wer")
POSE_KEYS = ("dtw_mje", "dtw_mje_hands", "hand_distance_ratio", "duration_ratio")
BODY_KEYS = ("bone_cv", "limb_mismatch", "shoulder_dev")


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
        from ..models.core import pad_sequences

        limit = max_frames or self.max_frames
        seqs = [self.tokens(p) for p in poses]
        pad = self.ck.tokenizers[poses[0].meta.language].pad_id
        tokens = pad_sequences(seqs, pad, self.device)
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
    gen: Generator, store: Store, split: str, wanted: Sequence[str] | None
) -> list[str]:
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
        return list(dict.fromkeys(wanted))
    langs = [c for c in have if c in gen.languages]
    if not langs:
        raise UsageError(
            f"the model {gen.path} knows none of the {split!r} languages ({', '.join(have)})"
        )
    return langs


def evaluate(
    model_ckpt: str | Path,
    bt_ckpt: str | Path | None,
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
    reader_ckpt: str | Path | None = None,
    clip_kinds: str = "all",
) -> dict[str, Any]:
    """Evaluate a model checkpoint on `split` of a store; see module doc.

    `clip_kinds`: "all", or only the "recorded" or "fingerspelled" ones (e.g. recorded clips of the
    train split: can the decoder reproduce real signing it has seen?).

    `bt_ckpt` (a `train-bt` checkpoint) adds the text metrics, `reader_ckpt` (a `train-reader`
    checkpoint) reads the fingerspelled clips; both may be None. `max_clips` takes that many
    clips round-robin over the languages (so every language is in a short run). `max_frames`
    caps generation (default: the model's training `max_clip_frames`). Returns a JSON-able dict
    (NaN as None): settings, checkpoints, timings, scores per group and system, and (with
    `per_clip`) every clip's readings and pose scores.
    """
    from ..train.distributed import pick_device

    if clip_kinds not in ("all", "recorded", "fingerspelled"):
        raise UsageError(f"clip_kinds must be all, recorded or fingerspelled, not {clip_kinds!r}")
    if beam < 1 or batch_size < 1:
        raise UsageError("beam and batch_size must be >= 1")
    if max_clips is not None and max_clips < 1:
        raise UsageError(f"max_clips must be >= 1, got {max_clips}")
    timing: dict[str, float] = dict.fromkeys(
        ("load_models", "floor_stats", "read_clips", "generate", "pose_metrics", "body_metrics"),
        0.0,
    )
    t_start = time.perf_counter()
    dev = pick_device(device)
    t = time.perf_counter()
    gen = Generator(model_ckpt, dev)
    bt = load_bt_checkpoint(bt_ckpt, dev) if bt_ckpt is not None else None
    reader = None
    if reader_ckpt is not None:
        from .recognizer import load_reader

        reader = load_reader(reader_ckpt)
    store = Store(data_dir)
    timing["load_models"] = time.perf_counter() - t
    if bt is not None:
        timing.update(
            dict.fromkeys(("bt_ground_truth", "bt_generated", "bt_floor", "text_metrics"), 0.0)
        )
    if reader is not None:
        timing.update(dict.fromkeys(("read_ground_truth", "read_generated", "read_floor"), 0.0))
    held = [i for i in gen.ck.config.get("dev_holdout") or [] if i in store]
    dev_name = (gen.ck.config.get("train") or {}).get("dev_split") or "dev"
    if split == dev_name and split not in store.splits and held:  # `train` held these out
        store = store.with_split(held, split)
    if split not in store.splits:
        raise UsageError(
            f"the store {store.path} has no split {split!r} (it has: {', '.join(store.splits)})"
        )
    langs = _pick_languages(gen, store, split, languages)
    bt_unseen = [c for c in langs if c not in bt.config.get("languages", [])] if bt else []
    reader_langs = list(reader.config.languages) if reader is not None else []
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
    instruments = _Instruments(gen, bt, reader, beam, max_frames, mean, seen)
    try:
        for start in range(0, len(ids), batch_size):
            t = time.perf_counter()
            chunk: list[Pose] = []
            for cid in ids[start : start + batch_size]:
                pose = store[cid]
                if clip_kinds != "all" and is_fingerspelled(pose) != (
                    clip_kinds == "fingerspelled"
                ):
                    continue
                reason = _unusable(pose, bt.target if bt else None)
                if reason:
                    skipped.append({"id": cid, "reason": reason})
                else:
                    chunk.append(pose)
            timing["read_clips"] += time.perf_counter() - t
            if chunk:
                clips.extend(instruments.score(chunk, timing))
            bar.update(min(batch_size, len(ids) - start))
    finally:
        bar.close()
    if not clips:
        raise DataError(f"no usable {split!r} clips to evaluate", store.path)

    t = time.perf_counter()
    groups = _group_results(clips, langs, text=bt is not None)
    timing["summaries"] = time.perf_counter() - t
    timing["total"] = time.perf_counter() - t_start
    char_acc_by = "reader" if reader is not None else ("bt" if bt is not None else None)
    settings: dict[str, Any] = {
        "beam": beam if bt else None,
        "bt_max_len": bt.max_len if bt else None,
        "char_acc_by": char_acc_by,
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
        "bone_cv": (
            "per bone: std/mean of its length over a clip's frames, averaged over clips; "
            "median over bones"
        ),
        "limb_mismatch": "mean over clips of |L - R| / mean(L, R) of left/right bone lengths",
        "shoulder_dev": "mean over clips of max |shoulder width / its median - 1|",
        "char_acc": {
            "reader": "1 - CER of the reader's letters vs the letters the true clip signs",
            "bt": "1 - CER of the BT output vs the clip's text",
            None: None,
        }[char_acc_by],
    }
    sig = text_scores(["a"], ["a"]) if bt else None  # the signatures of the settings used above
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
        "bt": None
        if bt is None
        else {
            "path": str(bt.path),
            "target": bt.target,
            "languages": bt.config.get("languages"),
            "unseen_languages": bt_unseen,
            "training": bt.config.get("training"),
        },
        "reader": None
        if reader is None
        else {
            "path": str(Path(reader_ckpt)),  # type: ignore[arg-type]
            "languages": reader_langs,
            "unseen_languages": [c for c in langs if c not in reader_langs],
            "parameters": reader.model.count_parameters(),
            "training": {k: v for k, v in reader.info.items() if k != "history"},
        },
        "settings": settings,
        "signatures": None
        if sig is None
        else {"bleu": sig["bleu_signature"], "chrf": sig["chrf_signature"]},
        "systems": list(SYSTEMS),
        "groups": groups,
        "timing": {k: round(v, 2) for k, v in timing.items()},
    }
    if per_clip:
        result["per_clip"] = [{k: v for k, v in c.items() if k != "bone_cv"} for c in clips]
    return clean_json(result)


def _unusable(pose: Pose, target: str | None) -> str | None:
    from ..models.backtranslation import pose_to_input

    if target and not (getattr(pose.meta, target) or "").strip():
        return f"no {target} to compare with"
    try:
        pose_to_input(pose)
    except DataError:
        return "no frame sees the neck and both shoulders"
    return None


@dataclasses.dataclass
class _Instruments:
    """What measures a chunk: the model to generate with, the optional BT and reader, the floor."""

    gen: Generator
    bt: BTCheckpoint | None
    reader: Any  # recognizer.Reader | None (torch-backed, imported lazily)
    beam: int
    max_frames: int | None
    mean: np.ndarray
    seen: np.ndarray

    def score(self, chunk: list[Pose], timing: dict[str, float]) -> list[dict[str, Any]]:
        """Generate, read and score one chunk of ground-truth clips."""
        gen, bt, reader = self.gen, self.bt, self.reader
        t = time.perf_counter()
        by_lang: dict[str, list[int]] = {}
        for i, p in enumerate(chunk):
            by_lang.setdefault(p.meta.language, []).append(i)
        produced: list[Pose | None] = [None] * len(chunk)
        for idx in by_lang.values():  # one language per call: MLSF runs one group, unsplit
            for i, g in zip(
                idx, gen.generate([chunk[i] for i in idx], self.max_frames), strict=True
            ):
                produced[i] = g
        generated = [p for p in produced if p is not None]
        floors = [floor_pose(p, self.mean, self.seen) for p in chunk]
        timing["generate"] += time.perf_counter() - t
        systems = {"ground_truth": chunk, "generated": generated, "floor": floors}

        hyps: dict[str, list[str]] = {}
        if bt is not None:
            from ..models.backtranslation import back_translate

            for system, poses in systems.items():
                t = time.perf_counter()
                hyps[system] = back_translate(
                    bt.model, poses, bt.tokenizer, beam=self.beam, max_len=bt.max_len,
                    batch_size=len(poses),
                )  # fmt: skip
                timing[f"bt_{system}"] += time.perf_counter() - t

        fs = [is_fingerspelled(p) for p in chunk]
        letters = [_letters(p) if f else "" for p, f in zip(chunk, fs, strict=True)]
        readable = [
            k for k, p in enumerate(chunk)
            if fs[k] and letters[k] and reader is not None and p.meta.language in reader.config.languages
        ]  # fmt: skip
        reads: dict[str, dict[int, str]] = {s: {} for s in SYSTEMS}
        if readable:
            for system, poses in systems.items():
                t = time.perf_counter()
                got = reader.read(
                    [poses[k] for k in readable], [chunk[k].meta.language for k in readable]
                )
                reads[system] = dict(zip(readable, got, strict=True))
                timing[f"read_{system}"] += time.perf_counter() - t

        t = time.perf_counter()
        out = []
        for k, true in enumerate(chunk):
            tokens = gen.tokens(true)
            row: dict[str, Any] = {
                "id": true.meta.id,
                "language": true.meta.language,
                "fingerspelled": fs[k],
                "reference": getattr(true.meta, bt.target) if bt else None,
                "letters": letters[k] if fs[k] else None,
                "frames": true.num_frames,
                "input_tokens": len(tokens) - 1,  # without the language marker
                "input_unk": sum(i == UNK_ID for i in tokens),
                "hand_travel": hand_travel(true),
                "shoulder_width": true.shoulder_width(),
                "hyp": {s: hyps[s][k] for s in SYSTEMS} if bt else None,
                "read": {s: reads[s][k] for s in SYSTEMS} if k in reads["generated"] else None,
            }
            for system, pred in (("generated", generated[k]), ("floor", floors[k])):
                row[system] = {
                    "frames": pred.num_frames,
                    "dtw_mje": dtw_mje_pose(pred, true),
                    "dtw_mje_hands": dtw_mje_pose(pred, true, joints="hands"),
                    "hand_travel": hand_travel(pred),
                    "duration_ratio": duration_ratio(pred, true),
                }
            row["generated"]["capped"] = generated[k].num_frames >= (
                self.max_frames or gen.max_frames
            )
            if bt is not None and fs[k]:
                row["bt_char_acc"] = {
                    s: character_accuracy(hyps[s][k], true.meta.text) for s in SYSTEMS
                }
            if row["read"] is not None:
                row["char_acc"] = {s: _char_acc(letters[k], reads[s][k]) for s in SYSTEMS}
            elif reader is None and "bt_char_acc" in row:
                row["char_acc"] = row["bt_char_acc"]
            out.append(row)
        timing["pose_metrics"] += time.perf_counter() - t

        t = time.perf_counter()
        for k, row in enumerate(out):
            row["body"] = {}
            row["bone_cv"] = {}  # (B,) per system; summarised per group, not kept per clip
            for system, poses in systems.items():
                bv = bone_variation(poses[k])
                row["bone_cv"][system] = dict(zip(bv["bones"], bv["bone_cv"].tolist(), strict=True))
                cv = bv["bone_cv"][np.isfinite(bv["bone_cv"])]
                row["body"][system] = {
                    "bone_cv_median": float(np.median(cv)) if cv.size else None,
                    "limb_mismatch": bv["limb_mismatch"],
                    "shoulder_dev": bv["shoulder_dev"],
                }
        timing["body_metrics"] += time.perf_counter() - t
        return out


def _letters(pose: Pose) -> str:
    from .recognizer import reference_letters  # torch-backed module: imported when needed

    return reference_letters(pose)


def _char_acc(ref: str, hyp: str) -> float:
    from .recognizer import char_accuracy

    return char_accuracy(ref, hyp)


def _group_results(
    clips: list[dict[str, Any]], langs: list[str], text: bool = True
) -> dict[str, Any]:
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
    return {name: _summarise(rows, text) for name, rows in groups.items()}


def _summarise(rows: list[dict[str, Any]], text: bool = True) -> dict[str, Any]:
    fs = [r for r in rows if r["fingerspelled"]]
    read = [r for r in fs if "char_acc" in r]
    bt_read = [r for r in fs if "bt_char_acc" in r]
    words = sum(r["input_tokens"] for r in rows)
    out: dict[str, Any] = {
        "clips": len(rows),
        "fingerspelled": len(fs),
        "fingerspelled_read": len(read),
        "input_oov": sum(r["input_unk"] for r in rows) / words if words else None,
    }
    true_travel = [r["hand_travel"] for r in rows]
    per_bone: dict[str, dict[str, float | None]] = {}
    for system in SYSTEMS:
        if text:
            scores = text_scores([r["hyp"][system] for r in rows], [r["reference"] for r in rows])
            m: dict[str, Any] = {k: scores[k] for k in TEXT_KEYS}
        else:
            m = dict.fromkeys(TEXT_KEYS)
        if system == "ground_truth":
            m.update(dict.fromkeys(POSE_KEYS))
        else:
            m["dtw_mje"] = _mean([r[system]["dtw_mje"] for r in rows])
            m["dtw_mje_hands"] = _mean([r[system]["dtw_mje_hands"] for r in rows])
            ratio = travel_ratio([r[system]["hand_travel"] for r in rows], true_travel)
            m["hand_distance_ratio"] = None if math.isnan(ratio) else ratio
            m["duration_ratio"] = _mean([r[system]["duration_ratio"] for r in rows])
            if system == "generated":  # share of clips that never predicted their end
                m["capped"] = sum(bool(r[system]["capped"]) for r in rows) / len(rows)
        bones = list(rows[0]["bone_cv"][system])
        per_bone[system] = {
            b: _mean([r["bone_cv"][system][b] for r in rows]) for b in bones
        }  # fmt: skip
        m["bone_cv"] = _median([v for v in per_bone[system].values() if v is not None])
        m["limb_mismatch"] = _mean([r["body"][system]["limb_mismatch"] for r in rows])
        m["shoulder_dev"] = _mean([r["body"][system]["shoulder_dev"] for r in rows])
        m["char_acc"] = _mean([r["char_acc"][system] for r in read]) if read else None
        m["bt_char_acc"] = _mean([r["bt_char_acc"][system] for r in bt_read]) if bt_read else None
        out[system] = m
    out["bone_cv_per_bone"] = per_bone
    return out


def _median(values: Sequence[float | None]) -> float | None:
    a = np.asarray([v for v in values if v is not None], np.float64)
    a = a[np.isfinite(a)]
    return float(np.median(a)) if a.size else None


def _mean(values: Sequence[float | None]) -> float | None:
    a = np.asarray([v for v in values if v is not None], np.float64)
    a = a[np.isfinite(a)]
    return float(a.mean()) if a.size else None


__all__ = [
    "BODY_KEYS",
    "POSE_KEYS",
    "TEXT_KEYS",
    "Generator",
    "evaluate",
    "floor_pose",
    "is_fingerspelled",
    "mean_pose",
]

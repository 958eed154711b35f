"""The fingerspelling reader on the demo corpus: train (or load), read dev and test, print tables.

Issue 10, item 4. Trains `signllm.eval.recognizer.train_reader` on the TRAIN split's fingerspelled
ground truth (1 torch thread), selects by dev character accuracy, then reads the ground truth of
dev and test (held-out words) and the mean-pose floor (the mean training pose held for each
clip's length). Per language: character accuracy (1 - CER per word, averaged), pooled 1 - CER,
word accuracy; also the score against the written word (accents no handshape shows count as
errors there), letters of the held-out words never seen in that language's training words, and
letter pairs whose lexicon recordings are near-identical handshapes (an inherent ambiguity).

    python -m signllm data demo -o /tmp/recog_demo --workers 1
    .venv/bin/python bench/reader.py --data /tmp/recog_demo --out runs/reader            # train
    .venv/bin/python bench/reader.py --data /tmp/recog_demo --out runs/reader --no-train

Output: one JSON line on stdout; markdown tables on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict

import numpy as np
import torch

from signllm.data.fingerspell import default_lexicon, fold
from signllm.data.store import Store
from signllm.eval.recognizer import (
    augment,
    fingerspelled_clips,
    load_reader,
    mean_clip_pose,
    score_by_language,
    train_reader,
)
from signllm.metrics.text import character_accuracy
from signllm.models.recognizer import pose_features


def letter_ambiguity(lex, languages, threshold: float = 0.15) -> dict[str, list]:
    """Pairs of units per language whose mean handshape features nearly coincide.

    Each unit's clip is composed alone; its features (both hands, wrist-relative, in hand sizes)
    are averaged over the frames; distances are divided by the language's median pair distance.
    Pairs under `threshold` are reported (0 = the same recording used for two letters).
    """
    out = {}
    for lang in languages:
        units = lex.alphabet(lang)
        feats, names, paths = [], [], {}
        for u in units:
            try:
                p = lex.compose(u, lang, fps=25)
            except Exception:  # a broken letter is the lexicon tests' business
                continue
            x = torch.from_numpy(p.data)[None]
            m = torch.from_numpy(p.mask)[None]
            f = pose_features(x, m, torch.ones(x.shape[:2], dtype=torch.bool), p.skeleton)[0]
            hands = f[:, 24 : 24 + 126].mean(0).numpy()
            feats.append(hands)
            names.append(u)
            e = lex._entries[lang][fold(u, lex.spoken_language(lang))]
            paths.setdefault((e.path, e.start_ms, e.end_ms), []).append(u)
        if len(feats) < 2:
            continue
        f = np.stack(feats)
        d = np.linalg.norm(f[:, None] - f[None], axis=-1)
        iu = np.triu_indices(len(f), 1)
        med = float(np.median(d[iu]))
        pairs = [
            (names[i], names[j], round(float(d[i, j] / med), 3))
            for i, j in zip(*iu, strict=True)
            if d[i, j] / med < threshold
        ]
        same = [v for v in paths.values() if len(v) > 1]
        out[lang] = {"near_pairs": sorted(pairs, key=lambda t: t[2]), "same_recording": same}
    return out


def merge_map(lex, lang: str, pairs: list) -> dict[str, str]:
    """Letter -> one representative per cluster of near-identical single-letter handshapes."""
    spoken = lex.spoken_language(lang)
    parent: dict[str, str] = {}

    def find(c: str) -> str:
        while parent.get(c, c) != c:
            c = parent[c]
        return c

    for a, b, _ in pairs:
        fa, fb = fold(a, spoken), fold(b, spoken)
        if len(fa) == 1 and len(fb) == 1:
            parent[find(fa)] = find(fb)
    return {c: find(c) for c in parent}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/tmp/recog_demo")
    ap.add_argument("--out", default="runs/reader")
    ap.add_argument("--no-train", action="store_true", help="load --out instead of training")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--max-seconds", type=float, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--augment", type=float, default=1.0, help="augmentation strength")
    ap.add_argument(
        "--config", default="{}", help='RecognizerConfig overrides, JSON: {"layers": 2}'
    )
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    store = Store(args.data)
    lex = default_lexicon()
    t0 = time.perf_counter()
    if args.no_train:
        reader = load_reader(args.out)
        summary = reader.info
    else:
        summary = train_reader(
            store,
            args.out,
            steps=args.steps,
            seed=args.seed,
            lexicon=lex,
            progress=False,
            max_seconds=args.max_seconds,
            augment_strength=args.augment,
            config=json.loads(args.config),
            **({"lr": args.lr} if args.lr is not None else {}),
        )
        reader = summary.pop("reader")
    train_s = time.perf_counter() - t0
    train = fingerspelled_clips(store, "train")
    floor = mean_clip_pose(train)
    seen_letters: dict[str, set[str]] = defaultdict(set)
    for c in train:
        seen_letters[c.language].update(c.letters)
    result: dict = {
        "training": {k: v for k, v in summary.items() if k != "history"},
        "history": summary.get("history", []),
        "parameters": reader.model.count_parameters(),
        "wall_s_train_or_load": round(train_s, 1),
    }
    result_amb = letter_ambiguity(lex, sorted(store.languages))
    for split in ("dev", "test"):
        clips = fingerspelled_clips(store, split)
        refs = [c.letters for c in clips]
        langs = [c.language for c in clips]
        hyps = reader.read_arrays([(c.data, c.mask) for c in clips], langs)
        mean, seen = floor
        fl = reader.read_arrays(
            [
                (np.broadcast_to(mean, c.data.shape).copy(), np.broadcast_to(seen, c.mask.shape))
                for c in clips
            ],
            langs,
        )
        texts = [store.row(c.id)["text"] for c in clips]
        written = defaultdict(list)
        for t, h, lang in zip(texts, hyps, langs, strict=True):
            written[lang].append(character_accuracy(h, t))
        merged = defaultdict(list)
        maps = {
            lang: merge_map(lex, lang, result_amb[lang]["near_pairs"]) if lang in result_amb else {}
            for lang in set(langs)
        }
        for r, h, lang in zip(refs, hyps, langs, strict=True):
            mp = maps[lang]
            merged[lang].append(
                character_accuracy(
                    "".join(mp.get(c, c) for c in h), "".join(mp.get(c, c) for c in r)
                )
            )
        unseen = defaultdict(int)
        total = defaultdict(int)
        for c in clips:
            total[c.language] += len(c.letters)
            unseen[c.language] += sum(ch not in seen_letters[c.language] for ch in c.letters)
        result[split] = {
            "ground_truth": score_by_language(refs, hyps, langs),
            "floor": score_by_language(refs, fl, langs),
            "vs_written_word": {k: float(np.mean(v)) for k, v in written.items()},
            "near_identical_merged": {k: float(np.mean(v)) for k, v in merged.items()},
            "unseen_letter_fraction": {k: unseen[k] / total[k] for k in total},
            "errors": [(c.id, r, h) for c, r, h in zip(clips, refs, hyps, strict=True) if r != h],
        }
    result["ambiguity"] = result_amb
    # robustness: test ground truth perturbed as in training (rotations, scaling, noise, timing)
    clips = fingerspelled_clips(store, "test")
    refs, langs = [c.letters for c in clips], [c.language for c in clips]
    result["test_perturbed"] = {}
    for strength in (0.5, 1.0, 1.5):
        rng = np.random.default_rng(123)
        items = [augment(c, rng, reader.config.skeleton, strength) for c in clips]
        hyps = reader.read_arrays(items, langs)
        result["test_perturbed"][str(strength)] = score_by_language(refs, hyps, langs)["mean"]
    print(json.dumps(result, ensure_ascii=False))
    for split in ("test", "dev"):
        r = result[split]
        gt, fl = r["ground_truth"], r["floor"]
        lines = [
            f"\n{split}: character accuracy (1 - CER per word, mean), ground truth vs floor",
            "| language | clips | char acc | 1-CER pooled | word acc | vs written | "
            "near-identical merged | floor | unseen letters | near-identical handshapes |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for lang, s in gt["languages"].items():
            lines.append(
                f"| {lang} | {s['clips']} | {s['char_acc']:.3f} | {s['one_minus_cer']:.3f} | "
                f"{s['word_acc']:.3f} | {r['vs_written_word'][lang]:.3f} | "
                f"{r['near_identical_merged'][lang]:.3f} | "
                f"{fl['languages'][lang]['char_acc']:.3f} | "
                f"{r['unseen_letter_fraction'][lang]:.3f} | "
                + ", ".join(
                    f"{a}/{b}" for a, b, _ in result_amb.get(lang, {}).get("near_pairs", [])
                )
                + " |"
            )
        m = gt["mean"]
        lines.append(
            f"| **mean** | {gt['all']['clips']} | {m['char_acc']:.3f} | {m['one_minus_cer']:.3f} |"
            f" {m['word_acc']:.3f} | {np.mean(list(r['vs_written_word'].values())):.3f} | "
            f"{np.mean(list(r['near_identical_merged'].values())):.3f} | "
            f"{fl['mean']['char_acc']:.3f} | | |"
        )
        print("\n".join(lines), file=sys.stderr)
    for strength, m in result["test_perturbed"].items():
        print(
            f"test, perturbed (augmentation strength {strength}): char acc {m['char_acc']:.3f}, "
            f"word acc {m['word_acc']:.3f}",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

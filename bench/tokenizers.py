"""Input tokenizers on a store: how much of the test split each one can read; prints ONE JSON line.

Issue 10, item 3. For every language of the store (MLSF: one tokenizer per language, built from
the train split exactly as `signllm train` builds it) and for the one shared Prompt2LangGloss
vocabulary, each variant encodes the test split's inputs (`signllm.train.data.encode_input`) and
reports: the share of input tokens that are ``<unk>`` (language markers not counted), the share
that are byte fallbacks, the share of test words spelled (not one whole token; fingerspelled
glosses are always spelled and counted apart), the vocabulary size (sum over languages), and the
mean/max input length in tokens (train and test).

Variants: "word" (the word-level default before issue 10: gloss words where every clip has a
gloss, else text words), "char_f1" (whole words seen once or more, characters for the rest),
"char" (whole words seen twice or more: the default), "chars_only" (no whole words).

    .venv/bin/python -m signllm data demo -o /tmp/demo --workers 1
    .venv/bin/python bench/tokenizers.py --data /tmp/demo
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from typing import Any

from signllm.data.store import Store
from signllm.text.tokenizers import UNK_ID, CharVocab, LangCharVocab, LangWordVocab, WordVocab
from signllm.train.data import input_text, resolve_kind

VARIANTS = {"word": None, "char_f1": 1, "char": 2, "chars_only": 0}


def _rows(store: Store, split: str, code: str) -> list[dict[str, Any]]:
    return list(store.iter_rows(split=split, language=code))


def measure(store: Store, split: str, variant: str, mode: str) -> dict[str, Any]:
    langs = [c for c in store.languages if store.ids(split="train", language=c)]
    toks: dict[str, Any] = {}
    kinds: dict[str, str] = {}
    freq = VARIANTS[variant]
    if mode == "prompt":
        kind = "langgloss" if freq is None else "langchar"
        kinds = dict.fromkeys(langs, kind)
        items = [
            (c, input_text(r.get("text", ""), r.get("gloss", ""), kind))
            for c in langs
            for r in _rows(store, "train", c)
        ]
        if freq is None:
            vocab: Any = LangWordVocab.build(items, languages=langs)
        elif freq == 0:
            vocab = LangCharVocab.build(items, languages=langs, max_words=0)
        else:
            vocab = LangCharVocab.build(items, languages=langs, min_word_freq=freq)
        toks = dict.fromkeys(langs, vocab)
        vocab_size = vocab.vocab_size
    else:
        for c in langs:
            kinds[c] = resolve_kind(store, "train", c, "auto") if freq is None else "char"
            texts = [input_text(r.get("text", ""), r.get("gloss", ""), kinds[c]) for r in
                     _rows(store, "train", c)]  # fmt: skip
            if freq is None:
                toks[c] = WordVocab.build(texts, languages=[c])
            elif freq == 0:
                toks[c] = CharVocab.build(texts, languages=[c], max_words=0)
            else:
                toks[c] = CharVocab.build(texts, languages=[c], min_word_freq=freq)
        vocab_size = sum(t.vocab_size for t in toks.values())
    out: dict[str, Any] = {"vocab_size": vocab_size}
    for sp in ("train", split):
        lengths, tokens, unk, byte, words, spelled, fs_words = [], 0, 0, 0, 0, 0, 0
        for c in langs:
            tok = toks[c]
            for r in _rows(store, sp, c):
                text = input_text(r.get("text", ""), r.get("gloss", ""), kinds[c])
                ids = tok.encode(text, language=c)
                lengths.append(len(ids))
                body = [i for i in ids if i >= tok.num_special or i == UNK_ID]
                tokens += len(body)
                unk += sum(i == UNK_ID for i in body)
                if isinstance(tok, CharVocab):
                    byte += sum(tok.byte_offset <= i < tok.char_offset for i in body)
                    for g in tok.word_ids(text, c):
                        if g[0] == tok.fingerspell_id:
                            fs_words += 1
                        else:
                            words += 1
                            spelled += g[0] == tok.word_start_id
                else:
                    for w in text.split():
                        if w.startswith("fs-"):
                            fs_words += 1
                        else:
                            words += 1
                            spelled += 0
        out[sp] = {
            "clips": len(lengths),
            "unk_share": unk / max(1, tokens),
            "byte_share": byte / max(1, tokens),
            "words": words,
            "fingerspelled_words": fs_words,
            "spelled_word_share": spelled / max(1, words),
            "mean_len": statistics.fmean(lengths) if lengths else 0,
            "max_len": max(lengths, default=0),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="store directory (e.g. the demo corpus)")
    ap.add_argument("--split", default="test")
    args = ap.parse_args()
    store = Store(args.data)
    result = {
        mode: {v: measure(store, args.split, v, mode) for v in VARIANTS}
        for mode in ("mlsf", "prompt")
    }
    print(json.dumps(result))
    print(
        "| mode | variant | vocab | test <unk> | test bytes | test words spelled | "
        "mean/max len train | mean/max len test |\n|---|---|---|---|---|---|---|---|",
        file=sys.stderr,
    )
    for mode, rows in result.items():
        for v, m in rows.items():
            tr, te = m["train"], m[args.split]
            print(
                f"| {mode} | {v} | {m['vocab_size']} | {te['unk_share']:.1%} | "
                f"{te['byte_share']:.2%} | {te['spelled_word_share']:.0%} of {te['words']} | "
                f"{tr['mean_len']:.1f} / {tr['max_len']} | {te['mean_len']:.1f} / {te['max_len']} |",
                file=sys.stderr,
            )


if __name__ == "__main__":
    main()

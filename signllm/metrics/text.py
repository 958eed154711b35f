"""Text metrics of back-translation evaluation (the SLRTP 2025 challenge suite).

Back-translation reads produced poses with a sign language translation model trained on ground
truth (`signllm.models.backtranslation`) and scores its text against the source sentences:

- BLEU-1..4: sacrebleu corpus BLEU with `max_ngram_order=n` (uniform weights over orders 1..n),
  the cumulative BLEU-n that SLP papers report. sacrebleu's own signature is returned beside the
  numbers (it does not record the n-gram order: that is the key, ``bleu1`` .. ``bleu4``). The
  defaults are sacrebleu's (13a tokenisation, exp smoothing, case kept); Camgoz et al.'s SLT code
  used ``tokenize="none"`` and no smoothing, which differs little on pre-tokenised PHOENIX text.
- chrF: sacrebleu's chrF (character 6-grams, beta 2).
- ROUGE-L: sentence-level LCS F-measure averaged over sentences, computed as in the code that
  Progressive Transformers and Sign Language Transformers use (the MS-COCO caption scorer): words
  split on whitespace and **beta = 1.2**, not 1, so numbers are comparable with those papers;
  ``rouge_beta=1.0`` gives the plain F1.
- WER: corpus word error rate, (substitutions + deletions + insertions) / reference words, from a
  unit-cost Levenshtein alignment, with the three rates split out.

`character_accuracy` scores fingerspelled words. All scores are percentages (0-100) except
`character_accuracy` (0-1). The pose-side ratios live in `signllm.metrics.pose`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import UsageError

BLEU_ORDERS = (1, 2, 3, 4)


def text_scores(
    hypotheses: Sequence[str],
    references: Sequence[str],
    tokenize: str | None = None,
    lowercase: bool = False,
    smooth_method: str = "exp",
    rouge_beta: float = 1.2,
) -> dict[str, Any]:
    """BLEU-1..4, chrF, ROUGE-L and WER of `hypotheses` against one reference each.

    Returns ``{"bleu1".."bleu4", "chrf", "rouge_l", "wer", "wer_sub", "wer_del", "wer_ins", "n",
    "bleu_signature", "chrf_signature"}``; `tokenize`, `lowercase` and `smooth_method` go to
    sacrebleu's BLEU (None = its default tokeniser, 13a).
    """
    from sacrebleu.metrics import BLEU, CHRF

    hyps, refs = _check_pairs(hypotheses, references)
    out: dict[str, Any] = {}
    signature = ""
    for n in BLEU_ORDERS:
        bleu = BLEU(
            max_ngram_order=n, tokenize=tokenize, lowercase=lowercase, smooth_method=smooth_method
        )
        out[f"bleu{n}"] = float(bleu.corpus_score(hyps, [refs]).score)
        signature = str(bleu.get_signature())
    chrf = CHRF()
    out["chrf"] = float(chrf.corpus_score(hyps, [refs]).score)
    out["rouge_l"] = rouge_l(hyps, refs, beta=rouge_beta)
    out.update(word_error_rate(hyps, refs))
    out["n"] = len(hyps)
    out["bleu_signature"] = signature
    out["chrf_signature"] = str(chrf.get_signature())
    return out


def _check_pairs(
    hypotheses: Sequence[str], references: Sequence[str]
) -> tuple[list[str], list[str]]:
    if isinstance(hypotheses, str) or isinstance(references, str):
        raise UsageError("hypotheses and references must be lists of strings, not one string")
    hyps, refs = list(hypotheses), list(references)
    if len(hyps) != len(refs):
        raise UsageError(f"{len(hyps)} hypotheses but {len(refs)} references")
    if not hyps:
        raise UsageError("no sentences to score")
    bad = next((x for x in hyps + refs if not isinstance(x, str)), None)
    if bad is not None:
        raise UsageError(f"every hypothesis and reference must be a string, got {bad!r}")
    return hyps, refs


# ----------------------------------------------------------------------------------------------
# ROUGE-L and edit distances (small dynamic programs; sentences are short)


def lcs_length(a: Sequence[Any], b: Sequence[Any]) -> int:
    """Length of the longest common subsequence of two token lists."""
    if len(a) < len(b):
        a, b = b, a
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l_sentence(hypothesis: str, reference: str, beta: float = 1.2) -> float:
    """ROUGE-L F-measure of one sentence pair in [0, 1] (0 when either side is empty)."""
    h, r = hypothesis.split(), reference.split()
    if not h or not r:
        return 0.0
    lcs = lcs_length(r, h)
    if lcs == 0:
        return 0.0
    p, rec = lcs / len(h), lcs / len(r)
    return (1 + beta**2) * p * rec / (rec + beta**2 * p)


def rouge_l(hypotheses: Sequence[str], references: Sequence[str], beta: float = 1.2) -> float:
    """Mean sentence-level ROUGE-L, x100 (see the module docstring for why beta is 1.2)."""
    hyps, refs = _check_pairs(hypotheses, references)
    return (
        100.0
        * sum(rouge_l_sentence(h, r, beta) for h, r in zip(hyps, refs, strict=True))
        / len(hyps)
    )


def edit_operations(reference: Sequence[Any], hypothesis: Sequence[Any]) -> tuple[int, int, int]:
    """(substitutions, deletions, insertions) of a minimum unit-cost alignment.

    Their sum is the Levenshtein distance; among equally short alignments the backtrace prefers
    a match/substitution, then a deletion, then an insertion (the split is then deterministic).
    """
    n, m = len(reference), len(hypothesis)
    d = np.zeros((n + 1, m + 1), dtype=np.int64)
    d[:, 0] = np.arange(n + 1)
    d[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        r = reference[i - 1]
        for j in range(1, m + 1):
            diag = d[i - 1, j - 1] + (r != hypothesis[j - 1])
            d[i, j] = min(diag, d[i - 1, j] + 1, d[i, j - 1] + 1)
    sub = dele = ins = 0
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0 and d[i, j] == d[i - 1, j - 1] + (reference[i - 1] != hypothesis[j - 1]):
            sub += int(reference[i - 1] != hypothesis[j - 1])
            i, j = i - 1, j - 1
        elif i > 0 and d[i, j] == d[i - 1, j] + 1:
            dele += 1
            i -= 1
        else:
            ins += 1
            j -= 1
    return sub, dele, ins


def word_error_rate(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Corpus WER x100 (total edits / total reference words) and its sub/del/ins parts.

    Words split on whitespace. WER can exceed 100 (many insertions). With no reference words at
    all it is 0 if the hypotheses are empty too, else inf.
    """
    hyps, refs = _check_pairs(hypotheses, references)
    sub = dele = ins = words = 0
    for h, r in zip(hyps, refs, strict=True):
        s, d, i = edit_operations(r.split(), h.split())
        sub, dele, ins, words = sub + s, dele + d, ins + i, words + len(r.split())
    if words == 0:
        rate = 0.0 if sub + dele + ins == 0 else math.inf
        return {"wer": rate, "wer_sub": rate, "wer_del": rate, "wer_ins": rate}
    return {
        "wer": 100.0 * (sub + dele + ins) / words,
        "wer_sub": 100.0 * sub / words,
        "wer_del": 100.0 * dele / words,
        "wer_ins": 100.0 * ins / words,
    }


def character_accuracy(hypothesis: str, reference: str) -> float:
    """1 - CER over the letters of a fingerspelled word, clipped at 0; in [0, 1].

    Only letters count (`str.isalpha`, so umlauts and other alphabets too), case-folded: spaces,
    hyphens and digits are not fingerspelled handshapes. A reference without letters scores 1 if
    the hypothesis has none either, else 0.
    """
    h = [c for c in hypothesis.casefold() if c.isalpha()]
    r = [c for c in reference.casefold() if c.isalpha()]
    if not r:
        return 1.0 if not h else 0.0
    return max(0.0, 1.0 - sum(edit_operations(r, h)) / len(r))

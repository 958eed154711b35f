"""Text and prosody metrics: hand-computed values, sacrebleu's own numbers, and the edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sacrebleu.metrics import BLEU, CHRF

from signllm.errors import UsageError
from signllm.metrics.pose import (
    duration_ratio,
    hand_distance_ratio,
    hand_travel,
    shoulder_width,
    travel_ratio,
)
from signllm.metrics.text import (
    character_accuracy,
    edit_operations,
    lcs_length,
    rouge_l,
    rouge_l_sentence,
    text_scores,
    word_error_rate,
)
from signllm.pose import Pose
from signllm.skeleton import PROMPT2SIGN50

REFS = ["und nun die wettervorhersage für morgen .", "größere wolkenlücken im nordwesten ."]


def test_identical_is_perfect() -> None:
    s = text_scores(REFS, REFS)
    for n in (1, 2, 3, 4):
        assert s[f"bleu{n}"] == pytest.approx(100.0)
    assert s["chrf"] == pytest.approx(100.0)
    assert s["rouge_l"] == pytest.approx(100.0)
    assert s["wer"] == s["wer_sub"] == s["wer_del"] == s["wer_ins"] == 0.0
    assert s["n"] == 2
    assert "version:" in s["bleu_signature"] and "tok:13a" in s["bleu_signature"]
    assert s["chrf_signature"].startswith("nrefs:1")


def test_bleu_hand_computed_and_sacrebleu() -> None:
    # unigram precision 5/6, bigram 3/5, no brevity penalty
    s = text_scores(["the cat sat on the mat"], ["the cat sat on a mat"])
    assert s["bleu1"] == pytest.approx(100 * 5 / 6)
    assert s["bleu2"] == pytest.approx(100 * math.sqrt(5 / 6 * 3 / 5))
    hyps = ["und nun das wetter für morgen .", "wolkenlücken im nordwesten ."]
    s = text_scores(hyps, REFS)
    for n in (1, 2, 3, 4):
        want = BLEU(max_ngram_order=n).corpus_score(hyps, [REFS]).score
        assert s[f"bleu{n}"] == pytest.approx(want)
    assert s["bleu1"] >= s["bleu2"] >= s["bleu3"] >= s["bleu4"]
    assert s["chrf"] == pytest.approx(CHRF().corpus_score(hyps, [REFS]).score)
    assert s["chrf"] < 100


def test_rouge_l_hand_computed() -> None:
    # LCS("a b c d", "a c d e f") = 3: P = 3/4, R = 3/5
    assert lcs_length("a c d e f".split(), "a b c d".split()) == 3
    p, r = 3 / 4, 3 / 5
    assert rouge_l_sentence("a b c d", "a c d e f", beta=1.0) == pytest.approx(2 * p * r / (p + r))
    f12 = (1 + 1.44) * p * r / (r + 1.44 * p)  # the SLT / PT scorer's beta = 1.2
    assert rouge_l_sentence("a b c d", "a c d e f") == pytest.approx(f12)
    # sentence-level, averaged (not pooled): (f12 + 1 + 0) / 3
    got = rouge_l(["a b c d", "x y", ""], ["a c d e f", "x y", "z"])
    assert got == pytest.approx(100 * (f12 + 1) / 3)


def test_wer_hand_computed() -> None:
    assert edit_operations("a b c d".split(), "a x c d e".split()) == (1, 0, 1)
    assert edit_operations("a b c".split(), "a c".split()) == (0, 1, 0)
    assert edit_operations([], "a b".split()) == (0, 0, 2)
    w = word_error_rate(["a x c d e"], ["a b c d"])
    assert w == {"wer": 50.0, "wer_sub": 25.0, "wer_del": 0.0, "wer_ins": 25.0}
    # corpus-level: (2 + 1) edits over (4 + 3) reference words
    w = word_error_rate(["a x c d e", "a c"], ["a b c d", "a b c"])
    assert w["wer"] == pytest.approx(100 * 3 / 7)
    assert word_error_rate(["a b c"], ["a"])["wer"] == pytest.approx(200.0)  # can exceed 100


def test_character_accuracy() -> None:
    assert character_accuracy("ANNA", "anna") == 1.0
    assert character_accuracy("ANA", "Anna") == pytest.approx(0.75)
    assert character_accuracy("a-b c", "abc") == 1.0  # only letters count
    assert character_accuracy("xxxxxxxx", "ab") == 0.0  # clipped at 0
    assert character_accuracy("müller", "muller") == pytest.approx(5 / 6)
    assert character_accuracy("", "") == 1.0
    assert character_accuracy("a", "1") == 0.0


def test_bad_input_is_refused() -> None:
    with pytest.raises(UsageError, match="2 hypotheses but 1 references"):
        text_scores(["a", "b"], ["a"])
    with pytest.raises(UsageError, match="not one string"):
        text_scores("a b", "a b")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="no sentences"):
        text_scores([], [])


# -- pose-side ratios ----------------------------------------------------------------------------


def _pose(t: int, hand_step: float = 0.1, width: float = 2.0, fps: float = 25.0) -> Pose:
    """Shoulders `width` apart; every hand joint moves `hand_step` along x per frame."""
    data = np.zeros((t, 50, 3), dtype=np.float32)
    data[:, PROMPT2SIGN50.index("right_shoulder"), 0] = -width / 2
    data[:, PROMPT2SIGN50.index("left_shoulder"), 0] = width / 2
    hands = list(PROMPT2SIGN50.groups["hands"])
    data[:, hands, 0] += (np.arange(t, dtype=np.float32) * hand_step)[:, None]
    return Pose(data, np.ones((t, 50), np.float32), fps)


def test_hand_travel_and_ratio() -> None:
    true = _pose(11)
    assert shoulder_width(true) == pytest.approx(2.0)
    # 42 joints x 10 steps x 0.1, in shoulder widths
    assert hand_travel(true, normalize=False) == pytest.approx(42.0, rel=1e-5)
    assert hand_travel(true) == pytest.approx(21.0, rel=1e-5)
    assert hand_distance_ratio(true, true) == pytest.approx(1.0)
    assert hand_distance_ratio(_pose(11, hand_step=0.2), true) == pytest.approx(2.0, rel=1e-5)
    assert hand_distance_ratio(_pose(11, hand_step=0.0), true) == 0.0  # frozen hands
    # the same motion in other units (pixels: x 400) is the same signing
    pixels = _pose(11, hand_step=40.0, width=800.0)
    assert hand_distance_ratio(pixels, true) == pytest.approx(1.0, rel=1e-5)
    assert hand_distance_ratio(pixels, true, normalize=False) == pytest.approx(400, rel=1e-5)
    assert math.isnan(hand_distance_ratio(true, _pose(11, hand_step=0.0)))


def test_hand_travel_skips_missing_joints() -> None:
    p = _pose(11)
    p.confidence[5, list(PROMPT2SIGN50.groups["left_hand"])] = 0  # steps 4->5 and 5->6 vanish
    assert hand_travel(p, normalize=False) == pytest.approx(42.0 - 21 * 2 * 0.1, rel=1e-5)


def test_travel_ratio_pools_clips() -> None:
    # summed travel over summed travel (3 + 1) / (1 + 3), not the mean of per-clip ratios (5/3)
    assert travel_ratio([3.0, 1.0], [1.0, 3.0]) == pytest.approx(1.0)
    # clips whose truth never moves or whose travel is unknown are left out
    assert travel_ratio([2.0, 5.0, 7.0, math.nan], [1.0, 0.0, math.nan, 1.0]) == 2.0
    assert math.isnan(travel_ratio([1.0], [0.0]))
    with pytest.raises(UsageError):
        travel_ratio([1.0, 2.0], [1.0])


def test_duration_ratio() -> None:
    assert duration_ratio(_pose(50, fps=25), _pose(100, fps=50)) == pytest.approx(1.0)
    assert duration_ratio(_pose(100), _pose(50)) == pytest.approx(2.0)


def test_ratios_on_real_phoenix_clip(samples) -> None:
    from signllm.data.formats.skels import read_skels

    p = read_skels(samples / "phoenix14t" / "dev.skels")[0]
    assert hand_travel(p) > 0
    assert hand_distance_ratio(p, p) == pytest.approx(1.0)
    assert duration_ratio(p, p) == 1.0
    half = p.select_frames(slice(0, None, 2))  # every other frame: shorter, hands travel less
    assert duration_ratio(half, p) == pytest.approx(math.ceil(p.num_frames / 2) / p.num_frames)
    assert hand_distance_ratio(half, p) < 1.0

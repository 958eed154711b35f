"""Fingerspelling: spelling rules, composing real letter clips, and the lexicon's error messages."""

from __future__ import annotations

import dataclasses
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from signllm.data import fingerspell as fsmod
from signllm.data.fingerspell import (
    SAMPLE_LEXICON,
    FingerspellingLexicon,
    UnspellableError,
    align_to,
    bundled_lexicon_path,
    default_lexicon,
    drop_outliers,
    fold,
    join,
    load_lexicon,
    pack_lexicon,
    package_lexicon_path,
    resample,
    trim_rest,
)
from signllm.data.formats import read_poses, write_poses
from signllm.errors import DataError, UsageError
from signllm.pose import Pose

HEADER = "path,spoken_language,signed_language,start,end,words,glosses,priority\n"


@pytest.fixture(scope="module")
def sample() -> FingerspellingLexicon:
    return FingerspellingLexicon(SAMPLE_LEXICON)


def _letter_file(lang: str, letter: str) -> str:
    """Absolute path of a bundled sample letter (so a test lexicon can reuse it)."""
    for line in (SAMPLE_LEXICON / "index.csv").read_text().splitlines()[1:]:
        cols = line.split(",")
        if cols[2] == lang and cols[5] == letter:
            return str((SAMPLE_LEXICON / cols[0]).resolve())
    raise KeyError(letter)


def _lexicon(tmp: Path, spoken: str, lang: str, units: list[str], extra: str = "") -> Path:
    """A lexicon whose units all reuse the bundled ASL letters A, B, C in turn (copied in: a
    lexicon's paths stay inside its folder)."""
    (tmp / "letters").mkdir(parents=True, exist_ok=True)
    rows = []
    for i, u in enumerate(units):
        src = Path(_letter_file("ase", "ABC"[i % 3]))
        if not (tmp / "letters" / src.name).exists():
            shutil.copy(src, tmp / "letters" / src.name)
        rows.append(f"letters/{src.name},{spoken},{lang},0,0,{u},{u},0\n")
    (tmp / "index.csv").write_text(HEADER + "".join(rows) + extra, encoding="utf-8")
    return tmp


def _sw(pose: Pose) -> float:
    return float(np.median(np.linalg.norm(pose.data[:, 2] - pose.data[:, 5], axis=-1)))


def _jumps(pose: Pose) -> np.ndarray:
    """(t-1,) largest move of any joint seen in both frames, in shoulder widths."""
    both = pose.mask[1:] & pose.mask[:-1]
    d = np.linalg.norm(pose.data[1:] - pose.data[:-1], axis=-1) / _sw(pose)
    return np.where(both, d, 0.0).max(axis=1)


# --- spelling ---------------------------------------------------------------------------------
def test_sample_alphabets(sample):
    assert sample.languages == ["ase", "gsg"]
    assert sample.alphabet("ase") == ["A", "B", "C"]
    assert sample.spoken_language("gsg") == "de"
    assert sample.is_sample and sample.num_letters == 6


def test_spell_case_insensitive_and_aliases(sample):
    assert sample.spell("CAB", "ase") == ["C", "A", "B"]
    assert sample.spell("abba", "ase") == ["A", "B", "B", "A"]
    assert sample.spell("Cab", "DGS") == ["C", "A", "B"]  # registry alias -> gsg
    assert sample.spell("a-b 1c!", "ase") == ["A", "B", "C"]  # digits/punctuation not spelled
    assert sample.spell("ÁBÇ", "ase") == ["A", "B", "C"]  # no own unit: the base letter
    assert sample.can_spell("cab", "ase") and not sample.can_spell("cat", "ase")


def test_unknown_letter_names_letter_and_language(sample):
    with pytest.raises(UnspellableError) as e:
        sample.spell("cat", "ase")
    assert isinstance(e.value, UsageError)
    assert "'t'" in str(e.value) and "ase" in str(e.value) and "index.csv" in str(e.value)
    assert (e.value.char, e.value.language) == ("t", "ase")
    assert sample.spell("cat", "ase", unknown="skip") == ["C", "A"]
    with pytest.raises(UsageError, match=r"no fingerspelling alphabet .*'bzs'.*ase, gsg"):
        sample.spell("cab", "bzs")


def test_multi_letter_units_greedy(tmp_path):
    lex = FingerspellingLexicon(_lexicon(tmp_path, "es", "ssp", ["A", "B", "C", "CH", "LL", "L"]))
    assert lex.spell("chal", "ssp") == ["CH", "A", "L"]
    assert lex.spell("calle", "ssp", unknown="skip") == ["C", "A", "LL"]
    assert lex.spell("Llach", "ssp") == ["LL", "A", "CH"]
    assert lex.spell("cchl", "ssp") == ["C", "CH", "L"]


def test_language_casing_and_initial_only_units(tmp_path):
    assert fold("İI", "tr") == "iı" and fold("İI", "en") != "iı"
    assert fold("ΟΔΟΣ", "el") == "οδοσ" and fold("οδός", "el") == "οδόσ"
    assert fold("STRAẞE", "de") == "straße"
    tr = FingerspellingLexicon(_lexicon(tmp_path / "tr", "tr", "tsm", ["I", "İ", "K"]))
    assert tr.spell("kık", "tsm") == ["K", "I", "K"]
    assert tr.spell("kik", "tsm") == ["K", "İ", "K"]
    ar = FingerspellingLexicon(_lexicon(tmp_path / "ar", "ar", "jos", ["ا", "ل", "م", "ال"]))
    assert ar.spell("الم", "jos") == ["ال", "م"]  # the article, word-first
    assert ar.spell("مال", "jos") == ["م", "ا", "ل"]  # inside a word: two letters


def test_index_errors_name_file_line_field(tmp_path):
    bad = _lexicon(
        tmp_path / "a", "en", "ase", ["A"], extra=f"{_letter_file('ase', 'B')},en,ase,90,10,B,B,0\n"
    )
    with pytest.raises(DataError, match=r"index.csv:3, field end"):
        FingerspellingLexicon(bad)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "index.csv").write_text("path,words\nx.pose,A\n")
    with pytest.raises(DataError, match=r"missing column.*signed_language"):
        FingerspellingLexicon(tmp_path / "b")
    missing = _lexicon(tmp_path / "c", "en", "ase", ["A"])
    (missing / "index.csv").write_text(HEADER + "nope.pose,en,ase,0,0,A,A,0\n")
    lex = FingerspellingLexicon(missing)
    with pytest.raises(DataError, match=r"index\.csv:2, field path"):
        lex.compose("a", "ase")
    with pytest.raises(DataError, match=r"no index\.csv"):
        FingerspellingLexicon(tmp_path)
    with pytest.raises(DataError, match="no such lexicon folder"):
        load_lexicon(tmp_path / "nowhere")


# --- composing --------------------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["ase", "gsg"])
def test_compose_frame_count_and_meta(sample, lang):
    pose = sample.compose("CAB", lang, fps=25, transition_frames=3, hold_frames=1)
    expected = [
        resample(trim_rest(drop_outliers(sample.letter_pose(u, lang))), 25).num_frames
        for u in "CAB"
    ]
    assert pose.meta.extra["letter_frames"] == expected
    assert pose.num_frames == sum(expected) + 3 * 1 + 2 * 3
    assert pose.fps == 25
    m = pose.meta
    assert (m.text, m.gloss, m.language, m.id) == ("CAB", "fs-CAB", lang, f"{lang}/fs/CAB")
    assert m.spoken_language == {"ase": "en", "gsg": "de"}[lang]
    assert m.extra["fingerspelled"] is True and m.extra["composed"] is True
    assert m.extra["units"] == ["C", "A", "B"]
    # untrimmed, at the letters' own rate: exactly the recorded frames plus transitions
    raw = sample.compose("CAB", lang, transition_frames=2, hold_frames=0, trim=False)
    assert raw.num_frames == sum(sample.letter_pose(u, lang).num_frames for u in "CAB") + 4


def test_compose_is_continuous_at_letter_boundaries(sample):
    for lang in ("ase", "gsg"):
        pose = sample.compose("abcab", lang, fps=25, transition_frames=4, hold_frames=0)
        naive = sample.compose("abcab", lang, fps=25, transition_frames=0, hold_frames=0)
        jumps, naive_jumps = _jumps(pose), _jumps(naive)
        ends = np.cumsum(pose.meta.extra["letter_frames"])[:-1]
        for i, end in enumerate(ends):
            start = end + 4 * i - 1  # last letter frame -> transition -> next letter's first
            assert jumps[start : start + 5].max() < 0.45
            assert jumps[start : start + 5].max() <= naive_jumps[ends[i] - 1] + 1e-6
        assert np.isfinite(pose.data).all()


def test_missing_hand_stays_missing(sample):
    pose = sample.compose("abc", "ase")  # the ASL sample is one-handed: no left hand at all
    left = list(pose.skel.groups["left_hand"])
    assert not pose.mask[:, left].any()
    assert pose.mask[:, list(pose.skel.groups["right_hand"])].all()


def test_join_transitions_per_joint():
    t, j = 3, 50
    a = Pose(np.zeros((t, j, 3)), np.ones((t, j)), fps=25)
    b_conf = np.ones((t, j))
    b_conf[:, 10] = 0  # joint 10 never seen in the second clip
    b_conf[0, 11] = 0  # joint 11 seen from its second frame on
    b = Pose(np.full((t, j, 3), 10.0), b_conf, fps=25)
    b.data[b_conf == 0] = 0
    data, conf = join([a, b], transition_frames=3, hold_frames=2)
    assert data.shape == (t + 2 + 3 + t + 2, j, 3)
    trans = slice(t + 2, t + 5)
    assert (conf[trans, 10] == 0).all() and (data[trans, 10] == 0).all()
    ramp = data[trans, 0, 0]
    assert np.all(np.diff(ramp) > 0) and 0 < ramp[0] < 5 < ramp[-1] < 10
    np.testing.assert_allclose(data[trans, 11, 0], ramp)  # eases to its first seen position
    np.testing.assert_allclose(data[t : t + 2], data[t - 1 : t].repeat(2, axis=0))  # the hold


def test_align_to_matches_neck_and_shoulders(sample):
    a = sample.letter_pose("A", "ase")
    moved = dataclasses.replace(a, data=np.where(a.mask[..., None], a.data * 1.7 + 40.0, 0.0))
    first, second = align_to([a, moved])
    np.testing.assert_allclose(second.data[second.mask], a.data[a.mask], atol=1e-2)
    assert first is a


def test_resample_keeps_ends_and_duration(sample):
    g = sample.letter_pose("B", "gsg")  # 30 fps
    r = resample(g, 25)
    assert r.num_frames == round(g.num_frames * 25 / 30) and r.fps == 25
    np.testing.assert_allclose(r.data[[0, -1]], g.data[[0, -1]], atol=1e-4)
    assert resample(g, 30) is g


def test_composed_pose_round_trips_through_pose_file(sample, tmp_path):
    pose = sample.compose("bac", "gsg", fps=25)
    write_poses([pose], tmp_path / "bac.pose")
    back = next(read_poses(tmp_path / "bac.pose"))
    assert back.num_frames == pose.num_frames
    np.testing.assert_allclose(back.data, pose.data, atol=1e-3)


def test_compose_rejects_bad_arguments(sample):
    with pytest.raises(UsageError, match="nothing to fingerspell"):
        sample.compose("123 !", "ase")
    with pytest.raises(UsageError, match=">= 0"):
        sample.compose("ab", "ase", transition_frames=-1)
    with pytest.raises(UsageError, match="fps"):
        sample.compose("ab", "ase", fps=0)


# --- where the lexicon comes from -------------------------------------------------------------
def test_default_lexicon_falls_back_to_sample(monkeypatch):
    monkeypatch.setattr(fsmod, "bundled_lexicon_path", lambda: None)
    monkeypatch.setattr(fsmod, "package_lexicon_path", lambda: None)
    with pytest.warns(UserWarning, match="spoken-to-signed==0.4.0"):
        lex = default_lexicon()
    assert lex.is_sample


def test_translate_says_how_to_get_the_letters_when_only_the_sample_is_there(monkeypatch):
    from signllm.api import Translator

    monkeypatch.setattr(fsmod, "bundled_lexicon_path", lambda: None)
    monkeypatch.setattr(fsmod, "package_lexicon_path", lambda: None)
    with pytest.warns(UserWarning, match="sample"):
        t = Translator()
        t.letters  # noqa: B018 (loads the lexicon: the warning)
    # Argentine SL: in no model, and the sample has no letters for it
    with pytest.raises(UsageError, match=r"nothing to sign.*reinstall signllm.*spoken-to-signed"):
        t.translate("hola", "aed")
    r = t.translate("hallo", "DSGS")  # no letters here: the character model spells it itself
    assert r.words[0].source == "model"


def test_bundled_lexicon_is_the_full_alphabet_set():
    """The package ships all 626 letters of spoken-to-signed (packed), so a bare install
    fingerspells 20 sign languages without spoken-to-signed; the default lexicon is it."""
    folder = bundled_lexicon_path()
    assert (
        folder is not None and (folder / "SOURCE.txt").is_file() and (folder / "LICENSE").is_file()
    )
    assert "MIT" in (folder / "LICENSE").read_text(encoding="utf-8")
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert size < 3_000_000  # measured 1.69 MB (149 MB as .pose files)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lex = default_lexicon()
    assert lex.folder == folder and not lex.is_sample
    assert len(lex.languages) == 20 and lex.num_letters == 626
    assert lex.spell("Schule", "sgg") == ["SCH", "U", "L", "E"]
    pose = lex.compose("hallo", "gsg", fps=25)
    assert pose.num_frames > 20 and pose.skeleton == "prompt2sign50"
    assert np.isfinite(pose.data).all() and pose.mask[:, 9:].any()  # hand points seen


def test_packed_lexicon_reads_back_the_letters(sample, tmp_path):
    """pack_lexicon: the same units and, within the store's error bound, the same clips."""
    out = pack_lexicon(SAMPLE_LEXICON, tmp_path / "packed", "test source")
    packed = FingerspellingLexicon(out)
    assert (out / "SOURCE.txt").read_text(encoding="utf-8") == "test source"
    assert packed.languages == sample.languages and packed.num_letters == sample.num_letters
    for lang in sample.languages:
        for unit in sample.alphabet(lang):
            a, b = sample.letter_pose(unit, lang), packed.letter_pose(unit, lang)
            assert a.num_frames == b.num_frames and (a.mask == b.mask).all()
            sw = np.linalg.norm(a.data[:, 2] - a.data[:, 5], axis=-1).max()
            assert np.abs(a.data - b.data)[a.mask].max() <= 1e-3 * sw
    with pytest.raises(UsageError, match="not empty"):
        pack_lexicon(SAMPLE_LEXICON, out)


def test_default_lexicon_uses_package_when_installed():
    path = package_lexicon_path()
    if path is None:
        pytest.skip("spoken-to-signed is not installed")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lex = default_lexicon()
    assert len(lex.languages) == 20 and lex.num_letters == 626 and not lex.is_sample
    assert lex.spell("Schule", "sgg") == ["SCH", "U", "L", "E"]
    assert lex.spell("pizza", "ise") == ["P", "I", "zz", "A"]
    assert lex.spell("niño", "ssp") == ["N", "I", "Ñ", "O"]
    assert lex.spell("İstanbul", "tsm")[0] == "İ"
    assert lex.broken_letters("gss") == ["Ο", "Φ"]

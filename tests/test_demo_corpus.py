"""Word lists, the fingerspelling corpus writer, and the demo corpus build on the bundled samples."""

from __future__ import annotations

import csv
import json

import pytest

from signllm.data.demo_corpus import (
    MANIFEST,
    SUMMARY,
    WORDLISTS_DIR,
    WordList,
    build_demo_corpus,
    demo_sources,
    is_heldout,
    load_wordlist,
    plan_fingerspelling,
    read_wordlist,
    wordlist_languages,
    write_fingerspelling_corpus,
)
from signllm.data.fingerspell import (
    SAMPLE_LEXICON,
    FingerspellingLexicon,
    fold,
    package_lexicon_path,
)
from signllm.data.formats import read_poses
from signllm.errors import DataError, UsageError
from signllm.languages import all_languages

# Words of the letters A, B, C only (the bundled sample); held-out words are given explicitly.
ASE_WORDS = WordList("en", train=("cab", "abba", "baba", "acca", "bac"), heldout=("caba", "abc"))
GSG_WORDS = WordList("de", train=("ab", "abc", "cab", "bab"), heldout=("baab",))


@pytest.fixture(scope="module")
def sample() -> FingerspellingLexicon:
    return FingerspellingLexicon(SAMPLE_LEXICON)


def test_bundled_wordlists_cover_fingerspelling_languages():
    have = set(wordlist_languages())
    needed = {lang.spoken_language for lang in all_languages() if lang.fingerspelling}
    assert needed <= have
    assert (WORDLISTS_DIR / "README.md").is_file()
    for spoken in have:
        wl = load_wordlist(spoken)
        words = wl.train + wl.heldout
        assert len(words) >= 55, spoken
        assert len({fold(w, spoken) for w in words}) == len(words), spoken
        assert 0.08 < len(wl.heldout) / len(words) < 0.35, spoken
        assert not set(wl.train) & set(wl.heldout)


def test_heldout_rule_depends_on_the_word_alone():
    words = [f"w{i}" for i in range(200)]
    a = WordList.from_words(words, "en")
    b = WordList.from_words([*reversed(words), "extra"], "en")
    assert set(a.heldout) <= set(b.heldout) and set(a.heldout) == set(b.heldout) - {"extra"}
    assert 20 < len(a.heldout) < 60
    assert is_heldout("Wasser", "de") == is_heldout("WASSER", "de")


def test_read_wordlist_errors(tmp_path):
    p = tmp_path / "xx.txt"
    p.write_text("# comment\nwater\n\nfire\nwater\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"xx\.txt:5.*twice \(also line 2\)"):
        read_wordlist(p)
    p.write_text("good morning\n", encoding="utf-8")
    with pytest.raises(DataError, match="one word per line"):
        read_wordlist(p)
    with pytest.raises(UsageError, match="no word list for spoken language 'xx'"):
        load_wordlist("xx")


def test_fingerspelling_corpus_on_sample(sample, tmp_path):
    words = {"ase": ASE_WORDS, "gsg": GSG_WORDS}
    out = write_fingerspelling_corpus(tmp_path / "fs", sample, words=words, dev_fraction=0.2)
    clips = list(read_poses(out))
    assert len(clips) == 12
    by_split: dict[str, set[tuple[str, str]]] = {"train": set(), "dev": set(), "test": set()}
    for pose in clips:
        by_split[pose.meta.split].add((pose.meta.language, pose.meta.text))
        assert pose.meta.id == f"{pose.meta.language}/fs/{pose.meta.text}"
        assert pose.meta.gloss == "fs-" + pose.meta.text.upper()
        assert pose.fps == 25 and pose.num_frames > 10
    assert by_split["test"] == {("ase", "caba"), ("ase", "abc"), ("gsg", "baab")}
    assert len(by_split["dev"]) == 2  # round(0.2 * 5) + round(0.2 * 4)
    trained = by_split["train"] | by_split["dev"]
    assert not {w for _, w in trained} & {"caba", "baab"}  # held-out words never trained on
    assert "abc" in {w for lang, w in trained if lang == "gsg"}  # held out for ase only
    with (out / MANIFEST).open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 12 and all(r["composed"] == "true" for r in rows)
    assert {r["units"] for r in rows if r["id"] == "ase/fs/cab"} == {"C A B"}
    summary = json.loads((out / SUMMARY).read_text(encoding="utf-8"))
    assert summary["lexicon_is_sample"] is True
    assert summary["languages"]["ase"]["test"] == 2
    # the same seed gives the same corpus; a non-empty folder is refused
    again = write_fingerspelling_corpus(tmp_path / "fs2", sample, words=words, dev_fraction=0.2)
    assert (again / "index.csv").read_text() == (out / "index.csv").read_text()
    with pytest.raises(UsageError, match="already exists"):
        write_fingerspelling_corpus(out, sample, words=words)


def test_unspellable_words_are_reported(sample, tmp_path):
    plans = plan_fingerspelling(sample, words={"ase": ["cab", "cat", "a1b"]})
    assert plans["ase"].rejected == {"cat": "no letter 't'"}
    assert sorted(plans["ase"].train + plans["ase"].dev + plans["ase"].test) == ["a1b", "cab"]
    with pytest.raises(UsageError, match="no spellable word"):
        write_fingerspelling_corpus(tmp_path / "none", sample, languages=["ase"])
    assert not (tmp_path / "none").exists()


def test_demo_sources_without_spellable_words_warns(sample, tmp_path):
    with pytest.warns(UserWarning, match="spells none of the words"):
        sources = demo_sources(None, sample, out_tmp=tmp_path)
    names = [s.path.name for s in sources]
    assert names == ["train.skels", "dev.skels", "test.skels", "how2sign.csv", "mediapipe_lexicon"]


def test_build_demo_corpus_on_samples(sample, tmp_path):
    summary = build_demo_corpus(
        tmp_path / "store",
        lexicon=sample,
        words={"ase": ASE_WORDS, "gsg": GSG_WORDS},
        lift_steps=5,
    )
    langs = summary["languages"]
    assert set(langs) == {"ase", "gsg", "sgg"}
    assert summary["total"]["clips"] == 15 + 5 + 4 + 12
    assert summary["fingerspelling"]["languages"]["gsg"]["test"] == 1
    assert {p["name"] for p in summary["demo_parts"]} >= {"phoenix14t", "fingerspelling"}
    from signllm.data.store import Store

    with Store(tmp_path / "store") as st:
        fs = st["ase/fs/cab"]
        assert fs.meta.extra["composed"] == "true" and fs.meta.text == "cab"
        assert st["ase/fs/caba"].meta.split == "test"
        h2s = st["ase/_2FBDaOPYig_2-3-rgb_front"]
        assert h2s.ndim == 3 and "composed" not in h2s.meta.extra  # real, lifted to 3D
        same = st["ase/_2FBDaOPYig_2-5-rgb_front"]
        assert same.meta.split == h2s.meta.split  # one sentence, one split
    assert json.loads((tmp_path / "store" / "demo.json").read_text())["fingerspelling"]


@pytest.mark.skipif(package_lexicon_path() is None, reason="spoken-to-signed is not installed")
def test_full_lexicon_spells_every_language():
    lex = FingerspellingLexicon(package_lexicon_path())
    plans = plan_fingerspelling(lex)
    assert sorted(plans) == lex.languages and len(plans) == 20
    for lang, plan in plans.items():
        n = len(plan.train) + len(plan.dev) + len(plan.test)
        assert n >= 20 and len(plan.test) >= 3, (lang, plan.counts())
        pose = lex.compose(plan.train[0], lang, fps=25)
        assert pose.meta.extra["composed"] and pose.num_frames > 20, lang

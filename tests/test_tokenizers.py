"""Tokenizers on the bundled real samples: PHOENIX-2014T German text + DGS glosses, How2Sign English."""

from __future__ import annotations

import csv
import json
import logging
import pickle
from pathlib import Path

import pytest

import signllm
from signllm.errors import DataError, UsageError
from signllm.text import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    TOKENIZER_FILE,
    UNK_ID,
    CharVocab,
    LangCharVocab,
    LangWordVocab,
    SubwordTokenizer,
    Tokenizer,
    WordVocab,
    check_vocab_size,
    graphemes,
    load_tokenizer,
    normalize_text,
    split_words,
)

SAMPLES = Path(signllm.__file__).parent / "assets" / "samples"


def _lines(name: str) -> list[str]:
    return (SAMPLES / "phoenix14t" / name).read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def phoenix() -> dict[str, list[str]]:
    return {
        f"{split}.{kind}": _lines(f"{split}.{kind}")
        for split in ("train", "dev", "test")
        for kind in ("text", "gloss")
    }


@pytest.fixture(scope="module")
def how2sign() -> list[str]:
    with open(SAMPLES / "how2sign" / "clips.tsv", encoding="utf-8", newline="") as f:
        return [row["text"] for row in csv.DictReader(f, delimiter="\t")]


@pytest.fixture(scope="module")
def glosses(phoenix: dict[str, list[str]]) -> WordVocab:
    return WordVocab.build(phoenix["train.gloss"], languages=["gsg", "ase"])


@pytest.fixture(scope="module")
def german(phoenix: dict[str, list[str]]) -> SubwordTokenizer:
    return SubwordTokenizer.train(
        phoenix["train.text"] + phoenix["dev.text"] + phoenix["test.text"],
        vocab_size=80,
        languages=["gsg"],
    )


# --- word vocabulary ---------------------------------------------------------------------------


def test_word_vocab_layout_and_round_trip(glosses: WordVocab, phoenix: dict) -> None:
    assert glosses.tokens[:6] == ["<pad>", "<unk>", "<bos>", "<eos>", "<gsg>", "<ase>"]
    assert (glosses.pad_id, glosses.unk_id, glosses.bos_id, glosses.eos_id) == (0, 1, 2, 3)
    assert glosses.tokens[6] == "REGEN"  # the most frequent gloss of the sample gets the first id
    for gloss in phoenix["train.gloss"]:
        ids = glosses.encode(gloss, add_bos=True, add_eos=True)
        assert ids[0] == BOS_ID and ids[-1] == EOS_ID and UNK_ID not in ids
        assert glosses.decode(ids) == " ".join(gloss.split())


def test_word_vocab_unknown_words(glosses: WordVocab, phoenix: dict) -> None:
    ids = glosses.encode("REGEN XYZUNBEKANNT")
    assert ids == [glosses.token_to_id("REGEN"), UNK_ID]
    assert glosses.decode(ids) == "REGEN <unk>"
    assert glosses.encode("regen") == [UNK_ID]  # case is kept: glosses are upper case
    unseen = {w for g in phoenix["test.gloss"] for w in g.split()} - set(glosses.tokens)
    assert unseen, "the test split should hold glosses the train split lacks"
    for gloss in phoenix["test.gloss"]:
        for word, i in zip(gloss.split(), glosses.encode(gloss), strict=True):
            assert (i == UNK_ID) == (word in unseen)


def test_word_vocab_min_freq_max_size_lowercase(phoenix: dict) -> None:
    full = WordVocab.build(phoenix["train.gloss"])
    frequent = WordVocab.build(phoenix["train.gloss"], min_freq=2)
    assert set(frequent.tokens[4:]) == {"REGEN", "KOENNEN", "NORDWEST", "ORT", "GEWITTER"}
    small = WordVocab.build(phoenix["train.gloss"], max_size=3)
    assert small.vocab_size == 4 + 3 and small.tokens[4:] == full.tokens[4:7]
    lower = WordVocab.build(phoenix["train.gloss"], lowercase=True)
    assert lower.encode("REGEN") == lower.encode("regen") != [UNK_ID]
    with pytest.raises(UsageError):
        WordVocab.build(["A"], min_freq=0)


def test_language_markers(glosses: WordVocab) -> None:
    gsg, ase = glosses.marker_id("gsg"), glosses.marker_id("ase")
    assert (gsg, ase) == (4, 5)
    w = glosses.encode("REGEN GEWITTER")
    assert glosses.encode("REGEN GEWITTER", language="gsg") == [gsg, *w]
    assert glosses.encode("REGEN GEWITTER", language="ase", tag_every_token=True, add_eos=True) == [
        ase, w[0], ase, w[1], EOS_ID,
    ]  # fmt: skip
    assert glosses.encode("", language="ase", tag_every_token=True) == [ase]
    assert glosses.decode([ase, w[0], ase, w[1]]) == "REGEN GEWITTER"
    assert glosses.decode([ase, w[0]], skip_special=False) == "<ase> REGEN"
    with pytest.raises(UsageError, match="slf"):
        glosses.encode("REGEN", language="slf")
    with pytest.raises(UsageError, match="language"):
        glosses.encode("REGEN", tag_every_token=True)
    with pytest.raises(UsageError, match="ISO 639-3"):
        WordVocab.build(["A"], languages=["ASL"])


def test_lang_word_vocab_separates_languages(phoenix: dict, how2sign: list[str]) -> None:
    items = [("gsg", g) for g in phoenix["train.gloss"]] + [("ase", "HAUS REGEN WANT")]
    items.append(("ase", "HAUS"))
    vocab = LangWordVocab.build(items, languages=["ase"])
    assert vocab.languages == ("ase", "gsg")  # given first, then the ones seen, sorted
    assert "gsg:REGEN" in vocab.tokens and "ase:REGEN" in vocab.tokens
    de, us = vocab.encode("REGEN", language="gsg"), vocab.encode("REGEN", language="ase")
    assert de[0] != us[0] and de[1] != us[1]  # markers and the word tokens both differ
    assert vocab.encode("TROCKEN", language="ase")[1] == UNK_ID  # a DGS gloss is not ASL
    ids = vocab.encode("HAUS REGEN", language="ase", tag_every_token=True)
    assert ids == [1 + 3, ids[1], 4, ids[3]] and vocab.decode(ids) == "HAUS REGEN"
    assert vocab.decode(ids, keep_language=True) == "ase:HAUS ase:REGEN"
    with pytest.raises(UsageError, match="needs a language"):
        vocab.encode("REGEN")


# --- subword tokenizer ---------------------------------------------------------------------------


def test_subword_round_trip_german(german: SubwordTokenizer, phoenix: dict) -> None:
    assert german.vocab_size == 80 and german.id_to_token(4) == "<gsg>"
    for text in phoenix["train.text"] + phoenix["test.text"]:
        ids = german.encode(text, language="gsg", add_bos=True, add_eos=True)
        assert ids[:2] == [BOS_ID, german.marker_id("gsg")] and ids[-1] == EOS_ID
        assert german.decode(ids) == text
    tagged = german.encode("und nun", language="gsg", tag_every_token=True)
    assert tagged[::2] == [4] * (len(tagged) // 2) and german.decode(tagged) == "und nun"
    assert german.decode([2, 4, *german.encode("und")], skip_special=False) == "<bos> <gsg> und"


def test_subword_english_lowercase_and_unknown(how2sign: list[str]) -> None:
    tok = SubwordTokenizer.train(how2sign, vocab_size=60, model_type="bpe", lowercase=True)
    assert tok.model_type == "bpe" and tok.vocab_size == 60
    for text in how2sign:
        assert tok.decode(tok.encode(text)) == text.lower()
    assert tok.encode("HEATING") == tok.encode("heating")
    assert UNK_ID in tok.encode("quiz")  # q and z never occur in these sentences
    assert "<unk>" in tok.decode(tok.encode("quiz"))


def test_subword_tiny_corpus_lowers_vocab_size(how2sign: list[str], caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="signllm.text.tokenizers"):
        tok = SubwordTokenizer.train(how2sign, vocab_size=5000, languages=["ase"])
    assert 6 < tok.vocab_size < 5000
    assert "too small" in caplog.text and str(tok.vocab_size) in caplog.text
    with pytest.raises(UsageError, match="vocab"):
        SubwordTokenizer.train(how2sign, vocab_size=10)  # fewer than the distinct characters
    with pytest.raises(UsageError, match="empty"):
        SubwordTokenizer.train(["", "  "])
    with pytest.raises(UsageError, match="model_type"):
        SubwordTokenizer.train(how2sign, model_type="word")


def test_subword_pickles(german: SubwordTokenizer) -> None:
    # DataLoader workers started with "spawn" pickle the tokenizer
    copy = pickle.loads(pickle.dumps(german))
    assert copy == german and copy.encode("und nun") == german.encode("und nun")


# --- save / load / checks ------------------------------------------------------------------------


def test_save_load_identical_ids(tmp_path: Path, glosses, german, phoenix: dict) -> None:
    lang = LangWordVocab.build([("gsg", g) for g in phoenix["train.gloss"]])
    for name, tok, texts in (
        ("word", glosses, phoenix["dev.gloss"]),
        ("lang", lang, phoenix["dev.gloss"]),
        ("subword", german, phoenix["test.text"]),
    ):
        path = tok.save(tmp_path / name)
        assert path == tmp_path / name / TOKENIZER_FILE
        assert json.loads(path.read_text(encoding="utf-8"))["type"] == tok.type_name
        assert [p.name for p in path.parent.iterdir()] == [TOKENIZER_FILE]  # nothing else needed
        loaded = load_tokenizer(path.parent)
        assert type(loaded) is type(tok) and loaded == tok
        assert isinstance(loaded, Tokenizer) and load_tokenizer(path) == tok
        for text in texts:
            kw = {"language": "gsg", "tag_every_token": True, "add_eos": True}
            assert loaded.encode(text, **kw) == tok.encode(text, **kw)


def test_load_errors(tmp_path: Path, glosses: WordVocab, german: SubwordTokenizer) -> None:
    with pytest.raises(DataError, match="not found"):
        load_tokenizer(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": "word",\n "tokens": [}', encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.json:2"):
        load_tokenizer(bad)
    d = glosses.to_dict()
    for change, fieldname in (
        ({"type": "bert"}, "type"),
        ({"format_version": 99}, "format_version"),
        ({"tokens": ["<unk>", "<pad>", *d["tokens"][2:]]}, "tokens"),
        ({"tokens": [*d["tokens"], "REGEN"]}, "tokens"),
        ({"languages": ["DGS"]}, "languages"),
        ({"lowercase": "no"}, "lowercase"),
    ):
        bad.write_text(json.dumps({**d, **change}), encoding="utf-8")
        with pytest.raises(DataError, match=f"field {fieldname}"):
            load_tokenizer(bad)
    d = german.to_dict()
    bad.write_text(json.dumps({**d, "vocab_size": 81}), encoding="utf-8")
    with pytest.raises(DataError, match="field vocab_size"):
        load_tokenizer(bad)
    bad.write_text(json.dumps({**d, "sentencepiece_model_base64": "bm90IGEgbW9kZWw="}))
    with pytest.raises(DataError, match="sentencepiece"):
        load_tokenizer(bad)


def test_check_vocab_size(glosses: WordVocab) -> None:
    check_vocab_size(glosses, glosses.vocab_size)
    with pytest.raises(DataError, match=rf"{glosses.vocab_size} tokens .* 512") as e:
        check_vocab_size(glosses, 512, path="ckpt/config.json")
    assert "ckpt/config.json" in str(e.value) and e.value.field == "vocab_size"


def test_decode_rejects_out_of_range_ids(glosses: WordVocab, german: SubwordTokenizer) -> None:
    for tok in (glosses, german):
        assert tok.decode([PAD_ID, PAD_ID]) == ""
        with pytest.raises(UsageError, match="out of range"):
            tok.decode([tok.vocab_size])


# --- characters: words with a character fallback -------------------------------------------------

SCRIPTS = {
    "latin": "Guten Morgen, das Wetter wird heute gut",
    "accented": "naïve café Ñandú straße Ærøskøbing İstanbul",
    "decomposed": "cafe\u0301 n\u0303andu\u0301",  # NFD input: accents as combining marks
    "cyrillic": "Привет мир, спасибо большое",
    "greek": "Καλημέρα κόσμε ευχαριστώ",
    "cjk": "你好世界 こんにちは 안녕하세요",
    "arabic": "مرحبا بالعالم شكرا",
    "devanagari": "नमस्ते दुनिया मैं ठीक हूँ",
    "emoji": "👍🏽 👨‍👩‍👧 🇩🇪 ❤️ ok",
}


@pytest.fixture(scope="module")
def chars(phoenix: dict[str, list[str]]) -> CharVocab:
    return CharVocab.build(phoenix["train.gloss"] + ["fs-REGEN fs-WIND"], languages=["gsg"])


def test_graphemes_keep_marks_with_their_base() -> None:
    assert graphemes("e\u0301a") == ["e\u0301", "a"]
    assert graphemes("मैं") == ["मैं"]  # vowel sign and nasalisation stay with the consonant
    assert graphemes("👍🏽👨‍👩‍👧🇩🇪🇫🇷") == ["👍🏽", "👨‍👩‍👧", "🇩🇪", "🇫🇷"]
    assert graphemes("a b") == ["a", " ", "b"]
    assert normalize_text("CAFE\u0301", lowercase=True) == "café" and len("café") == 4
    assert split_words("«Hallo», sagte sie... cafe\u0301!") == ["Hallo", "sagte", "sie", "café"]


def test_char_vocab_layout(chars: CharVocab) -> None:
    head = ["<pad>", "<unk>", "<bos>", "<eos>", "<gsg>", "<w>", "</w>", "<fs>", "<0x00>"]
    assert chars.tokens[: len(head)] == head
    assert chars.vocab_size == len(chars.tokens) == 8 + 256 + len(chars.chars) + len(chars.words)
    assert chars.chars == sorted(chars.chars) and "r" in chars.chars and "R" not in chars.chars
    # most frequent first; a word seen once is not a token (it stays spelled)
    assert chars.words[0] == "regen" and chars.knows_word("REGEN")
    assert not chars.knows_word("fs-regen") and "fs-regen" not in chars.words


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_char_round_trip_every_script(chars: CharVocab, script: str) -> None:
    text = SCRIPTS[script]
    words = split_words(text)
    ids = chars.encode(" ".join(words), language="gsg", add_bos=True, add_eos=True)
    assert UNK_ID not in ids and ids[:2] == [BOS_ID, chars.marker_id("gsg")]
    assert chars.decode(ids) == normalize_text(" ".join(words), lowercase=True)
    cased = CharVocab.build([text], lowercase=False)  # its own characters: no byte fallback
    assert cased.decode(cased.encode(text)) == normalize_text(" ".join(text.split()), False)
    assert all(cased.char_offset <= i for i in cased.encode(text) if i not in _markers(cased))


def _markers(tok: CharVocab) -> set[int]:
    return {tok.word_start_id, tok.word_end_id, tok.fingerspell_id}


def test_unseen_characters_fall_back_to_bytes(chars: CharVocab) -> None:
    ids = chars.encode("€")  # never seen: its three UTF-8 bytes
    assert ids == [
        chars.word_start_id,
        *(chars.byte_offset + b for b in "€".encode()),
        chars.word_end_id,
    ]
    assert chars.decode(ids) == "€"
    assert chars.decode(ids[:-2]) == "\ufffd"  # a cut sequence decodes, marked, never raises


def test_known_words_are_one_token_unknown_words_spelled(chars: CharVocab) -> None:
    ids = chars.encode("REGEN ger")
    c = {ch: chars.char_offset + i for i, ch in enumerate(chars.chars)}
    w = chars.words.index("regen") + chars.word_offset
    assert ids == [w, chars.word_start_id, c["g"], c["e"], c["r"], chars.word_end_id]


def test_fingerspelled_gloss_is_always_its_letters(chars: CharVocab) -> None:
    c = {ch: chars.char_offset + i for i, ch in enumerate(chars.chars)}
    letters = [c[x] for x in "regen"]
    # REGEN is a known word, but fs-REGEN is still spelled, after the fingerspelling marker
    assert chars.encode("fs-REGEN") == [chars.fingerspell_id, *letters, chars.word_end_id]
    assert chars.decode(chars.encode("WETTER fs-REGEN")) == "wetter fs-regen"
    assert chars.encode("fs-", language="gsg")[1:] != []  # a bare prefix is an ordinary word


def test_tag_every_token_tags_words_not_characters(chars: CharVocab) -> None:
    m = chars.marker_id("gsg")
    ids = chars.encode("REGEN fs-AB", language="gsg", tag_every_token=True)
    assert ids.count(m) == 2 and ids[0] == m and ids[2] == m
    assert chars.encode("", language="gsg", tag_every_token=True) == [m]
    with pytest.raises(UsageError, match="needs a language"):
        chars.encode("REGEN", tag_every_token=True)


def test_lang_char_vocab_per_language_words_shared_letters() -> None:
    vocab = LangCharVocab.build(
        [("gsg", "HAUS HAUS fs-HAUS"), ("ase", "HAUS HAUS water"), ("sgg", "fs-ÄPFEL")]
    )
    assert vocab.languages == ("ase", "gsg", "sgg")
    assert vocab.words == ["ase:haus", "gsg:haus"]  # water: once, spelled
    ase, gsg = vocab.encode("HAUS", language="ase"), vocab.encode("HAUS", language="gsg")
    assert ase[1] != gsg[1] and ase[0] != gsg[0]  # different words, different markers
    assert vocab.encode("fs-HAUS", language="ase")[1:] == vocab.encode("fs-HAUS", "gsg")[1:]
    assert vocab.encode("HAUS", language="sgg")[1] == vocab.word_start_id  # no sgg:haus
    assert vocab.decode(vocab.encode("HAUS fs-äpfel xyz", language="gsg")) == "haus fs-äpfel xyz"
    with pytest.raises(UsageError, match="needs a language"):
        vocab.encode("HAUS")
    with pytest.raises(UsageError, match="no marker"):
        vocab.encode("HAUS", language="fsl")


def test_no_unk_for_any_held_out_word_of_the_demo_corpus() -> None:
    """Every bundled word list: train on the training words' fingerspelled glosses (as the demo
    corpus writes them), then every held-out word, as a gloss and as a plain word, is spelled."""
    from signllm.data.demo_corpus import load_wordlist, wordlist_languages

    n = 0
    for spoken in wordlist_languages():
        wl = load_wordlist(spoken)
        assert wl.heldout, spoken
        tok = CharVocab.build((f"fs-{w.upper()}" for w in wl.train), languages=["gsg"])
        for w in wl.heldout:
            for text in (f"fs-{w.upper()}", w):
                ids = tok.encode(text, language="gsg")
                assert UNK_ID not in ids, (spoken, w)
                assert tok.decode(ids) == normalize_text(text, lowercase=True), (spoken, w)
            assert tok.encode(f"fs-{w}")[0] == tok.fingerspell_id
            n += 1
    assert n > 150


def test_char_save_load_and_old_types(tmp_path: Path, chars: CharVocab, glosses) -> None:
    lang = LangCharVocab.build([("gsg", "REGEN REGEN"), ("ase", "rain")])
    for name, tok, kw in (
        ("char", chars, {"language": "gsg", "add_eos": True}),
        ("lang_char", lang, {"language": "ase", "tag_every_token": True}),
        ("word", glosses, {"language": "gsg"}),  # old checkpoints' type stays readable
    ):
        path = tok.save(tmp_path / name)
        assert json.loads(path.read_text(encoding="utf-8"))["type"] == name
        loaded = load_tokenizer(path.parent)
        assert type(loaded) is type(tok) and loaded == tok and isinstance(loaded, Tokenizer)
        for text in ("REGEN fs-WIND Привет 👍🏽", *SCRIPTS.values()):
            assert loaded.encode(text, **kw) == tok.encode(text, **kw)
    assert pickle.loads(pickle.dumps(chars)) == chars


def test_char_load_errors_name_file_and_field(tmp_path: Path, chars: CharVocab) -> None:
    bad = tmp_path / "tok.json"
    d = chars.to_dict()
    lang = LangCharVocab.build([("gsg", "REGEN REGEN")]).to_dict()
    for base, change, fieldname in (
        (d, {"format_version": 2}, "format_version"),
        (d, {"chars": "abc"}, "chars"),
        (d, {"chars": ["a", "a"]}, "chars"),
        (d, {"chars": ["ab"]}, "chars"),
        (d, {"chars": ["a", 3]}, "chars"),
        (d, {"words": ["two words"]}, "words"),
        (d, {"words": ["fs-regen"]}, "words"),
        (d, {"words": ["x", "x"]}, "words"),
        (d, {"lowercase": 1}, "lowercase"),
        (d, {"languages": ["German"]}, "languages"),
        (lang, {"words": ["regen"]}, "words"),
        (lang, {"words": ["ase:regen"]}, "words"),
        ({k: v for k, v in d.items() if k != "words"}, {}, "words"),
    ):
        bad.write_text(json.dumps({**base, **change}), encoding="utf-8")
        with pytest.raises(DataError, match=rf"tok\.json, field {fieldname}") as e:
            load_tokenizer(bad)
        assert e.value.field == fieldname and e.value.path == str(bad)
    bad.write_text('{"type": "char",\n "chars": [', encoding="utf-8")
    with pytest.raises(DataError, match=r"tok\.json:2"):
        load_tokenizer(bad)


def test_char_build_arguments() -> None:
    only = CharVocab.build(["REGEN REGEN WIND"], max_words=0)
    assert only.words == [] and only.encode("REGEN")[0] == only.word_start_id
    assert CharVocab.build(["A A B"], min_word_freq=1).words == ["a", "b"]
    with pytest.raises(UsageError, match="min_word_freq"):
        CharVocab.build(["A"], min_word_freq=0)
    with pytest.raises(UsageError, match="max_words"):
        CharVocab.build(["A"], max_words=-1)
    with pytest.raises(UsageError, match="pairs"):
        LangCharVocab.build(["gsg REGEN"])  # type: ignore[list-item]

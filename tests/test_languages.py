"""The sign language registry: contents, lookup, errors, and that languages are pure data."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from signllm.errors import DataError, UsageError
from signllm.languages import (
    DEFAULT_REGISTRY_PATH,
    Language,
    LanguageRegistry,
    all_languages,
    default_registry,
    get_language,
    load_registry,
    prompt2sign_languages,
)

PROMPT2SIGN = {"ase", "gsg", "sgg", "ssr", "slf", "aed", "tsm", "kvk"}
FINGERSPELLING = set(
    "ase asq bzs cse csq eso fsl gsg gss ise jos lls mfs psr sgg ssp svk swl tsm ukl".split()
)


def _bundled() -> dict:
    return json.loads(DEFAULT_REGISTRY_PATH.read_text(encoding="utf-8"))


def _write(tmp_path: Path, doc: dict) -> Path:
    path = tmp_path / "languages.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def test_bundled_registry_contents() -> None:
    langs = all_languages()
    codes = [lang.code for lang in langs]
    assert codes == sorted(codes)
    assert set(codes) == PROMPT2SIGN | FINGERSPELLING
    assert {lang.code for lang in prompt2sign_languages()} == PROMPT2SIGN
    assert {lang.code for lang in langs if lang.fingerspelling} == FINGERSPELLING
    for lang in prompt2sign_languages():
        assert lang.prompt2sign
    for lang in langs:
        if not lang.prompt2sign:
            assert lang.corpus is None, lang.code


@pytest.mark.parametrize(
    ("code", "spoken", "script", "corpus"),
    [
        ("ase", "en", "Latn", "How2Sign"),
        ("gsg", "de", "Latn", "RWTH-PHOENIX-Weather-2014T"),
        ("sgg", "de", "Latn", "SignSuisse"),
        ("ssr", "fr", "Latn", "SignSuisse"),
        ("slf", "it", "Latn", "SignSuisse"),
        ("aed", "es", "Latn", "LSA64"),
        ("tsm", "tr", "Latn", "AUTSL"),
        ("kvk", "ko", "Hang", None),
        ("gss", "el", "Grek", None),
        ("jos", "ar", "Arab", None),
        ("ukl", "uk", "Cyrl", None),
    ],
)
def test_language_facts(code: str, spoken: str, script: str, corpus: str | None) -> None:
    lang = get_language(code)
    assert lang.spoken_language == spoken
    assert lang.script == script
    if corpus is not None:
        assert lang.corpus == corpus


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("ASL", "ase"),
        ("asl", "ase"),
        ("american sign language", "ase"),
        ("DGS", "gsg"),
        ("GSL", "gsg"),  # the paper's name for German SL
        ("Deutsche Gebärdensprache", "gsg"),
        ("GrSL", "gss"),
        ("gsl-gr", "gss"),
        ("Greek Sign Language", "gss"),
        ("DSGS", "sgg"),
        ("Swiss German Sign Language", "sgg"),
        ("Swiss-German Sign Language", "sgg"),
        ("LSF-CH", "ssr"),
        ("lsf ch", "ssr"),
        ("lsf_ch", "ssr"),
        ("French Sign Language of Switzerland", "ssr"),
        ("LIS-CH", "slf"),
        ("LSA", "aed"),
        ("TSL", "tsm"),
        ("TID", "tsm"),
        ("Türk İşaret Dili", "tsm"),
        ("KSL", "kvk"),
        ("한국수어", "kvk"),
        ("Libras", "bzs"),
        ("LSF", "fsl"),
        ("LIS", "ise"),
        ("LSE", "ssp"),
        ("LSM", "mfs"),
        ("LGP", "psr"),
        ("ÖGS", "asq"),
        ("ögs", "asq"),
        ("OEGS", "asq"),
        ("  SWL ", "swl"),
        ("Slovak Sign Language", "svk"),
    ],
)
def test_resolves_codes_names_aliases(query: str, code: str) -> None:
    assert get_language(query).code == code


def test_every_surface_name_resolves_to_its_language() -> None:
    for lang in all_languages():
        for surface in lang.surface_names():
            assert get_language(surface) is lang
            assert get_language(surface.upper()).code == lang.code


def test_names_per_spoken_language() -> None:
    assert get_language("gsg").name_in("de") == "Deutsche Gebärdensprache"
    assert get_language("sgg").name_in("de") == "Deutschschweizer Gebärdensprache"
    assert get_language("gsg").name_in("en") == "German Sign Language"
    assert get_language("ssr").name_in("de") == "Swiss-French Sign Language"  # no German name


def test_unknown_language_lists_choices() -> None:
    with pytest.raises(UsageError) as err:
        get_language("xyz")
    msg = str(err.value)
    assert msg.startswith("unknown sign language 'xyz'; choose one of: ")
    assert "ase (ASL, American Sign Language)" in msg
    assert "gsg (DGS, GSL, German Sign Language)" in msg
    for lang in all_languages():
        assert f"{lang.code} (" in msg
    with pytest.raises(UsageError):
        get_language(3)  # type: ignore[arg-type]


def test_language_is_frozen_and_hashable() -> None:
    lang = get_language("ase")
    with pytest.raises(dataclasses.FrozenInstanceError):
        lang.code = "xxx"  # type: ignore[misc]
    with pytest.raises(TypeError):
        lang.names["fr"] = "x"  # type: ignore[index]
    assert {lang: 1}[get_language("ASL")] == 1
    assert get_language(lang) is lang


def test_adding_a_language_is_editing_json_only(bsl_registry: Path) -> None:
    reg = load_registry(bsl_registry)
    assert isinstance(reg, LanguageRegistry)
    assert len(reg) == len(default_registry()) + 1
    bsl = get_language("bsl", registry=reg)
    assert (bsl.code, bsl.name, bsl.prompt2sign, bsl.fingerspelling) == (
        "bfi",
        "British Sign Language",
        False,
        False,
    )
    assert "bfi" in reg and "bfi" not in default_registry()
    assert [lang.code for lang in prompt2sign_languages(reg)] == sorted(PROMPT2SIGN)
    assert "bfi (BSL, British Sign Language)" in reg.choices()


def test_empty_registry_is_used_not_replaced() -> None:
    with pytest.raises(UsageError, match="unknown sign language 'ase'"):
        get_language("ase", registry=LanguageRegistry([]))


def _with(doc: dict, code: str, changes: dict) -> dict:
    for entry in doc["languages"]:
        if entry["code"] == code:
            entry.update(changes)
    return doc


def test_duplicate_alias_across_languages_is_rejected(tmp_path: Path) -> None:
    doc = _with(_bundled(), "gss", {"aliases": ["GrSL", "gsl"]})
    with pytest.raises(DataError) as err:
        load_registry(_write(tmp_path, doc))
    msg = str(err.value)
    assert "gsl" in msg and "'gss'" in msg and "'gsg'" in msg


def test_duplicate_code_is_rejected(tmp_path: Path) -> None:
    doc = _bundled()
    doc["languages"].append(
        dict(doc["languages"][0], aliases=[], names={}, native_name=None, name="X")
    )
    with pytest.raises(DataError, match="duplicate language code 'aed'"):
        load_registry(_write(tmp_path, doc))


def test_alias_repeated_within_one_entry_is_fine(tmp_path: Path) -> None:
    doc = _with(_bundled(), "ase", {"aliases": ["ASL", "asl", "American Sign Language"]})
    assert get_language("ASL", registry=load_registry(_write(tmp_path, doc))).code == "ase"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"code": "AS"}, "code must be 3 lowercase letters"),
        ({"colour": "red"}, "unknown field"),
        ({"spoken_languages": []}, "spoken_languages"),
        ({"spoken_languages": ["eng"]}, "ISO 639-1"),
        ({"script": "latin"}, "ISO 15924"),
        ({"aliases": "ASL"}, "wrong type for 'aliases'"),
        ({"aliases": [""]}, "aliases must be non-empty"),
        ({"names": {"german": "x"}}, "names must map"),
        ({"prompt2sign": "yes"}, "wrong type for 'prompt2sign'"),
    ],
)
def test_invalid_entries_name_the_entry(tmp_path: Path, change: dict, message: str) -> None:
    doc = _with(_bundled(), "ase", change)
    with pytest.raises(DataError, match=message) as err:
        load_registry(_write(tmp_path, doc))
    assert "languages[1]" in str(err.value)


def test_missing_field_and_bad_files(tmp_path: Path) -> None:
    doc = _bundled()
    del doc["languages"][0]["script"]
    with pytest.raises(DataError, match="entry 'aed': missing field 'script'"):
        load_registry(_write(tmp_path, doc))
    bad = tmp_path / "bad.json"
    bad.write_text('{"languages": [\n{,]}', encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.json:2"):
        load_registry(bad)
    with pytest.raises(DataError, match="not found"):
        load_registry(tmp_path / "missing.json")
    (tmp_path / "list.json").write_text("[]", encoding="utf-8")
    with pytest.raises(DataError, match="'languages' list"):
        load_registry(tmp_path / "list.json")


def test_language_dataclass_defaults() -> None:
    lang = Language(code="xxx", name="Test Sign Language", spoken_languages=("en",), script="Latn")
    assert lang.label == "xxx (Test Sign Language)"
    assert lang.name_in("de") == "Test Sign Language"
    assert lang.surface_names() == ("xxx", "Test Sign Language")

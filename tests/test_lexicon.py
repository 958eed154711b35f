"""The user's sign lexicon (`--lexicon DIR`): words with a recording are signed from it.

Real data: the 4 DSGS signs bundled in signllm/assets/samples/mediapipe_lexicon (spoken-to-signed's
dummy lexicon: kleine, kinder, essen, pizza; see its SOURCE.txt).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from signllm.api import JOIN_MAX_SPEED, Translator
from signllm.assets import samples_dir
from signllm.cli import main
from signllm.data.signs import SignLexicon, key, load_signs
from signllm.data.space import to_signing_space
from signllm.errors import DataError

DSGS = samples_dir() / "mediapipe_lexicon"
HEADER = "path,spoken_language,signed_language,start,end,words,glosses,priority\n"


def _steps(pose) -> np.ndarray:
    """(t - 1,) the largest frame-to-frame move of any joint seen in both frames."""
    both = pose.mask[1:] & pose.mask[:-1]
    step = np.linalg.norm(pose.data[1:] - pose.data[:-1], axis=-1)
    return np.where(both, step, 0.0).max(axis=1)


@pytest.fixture(scope="module")
def translator() -> Translator:
    return Translator(lexicon=DSGS)


@pytest.fixture
def own_lexicon(tmp_path):
    """Two sign languages in one folder, a two-word entry and a priority tie-break."""
    folder = tmp_path / "lex"
    for lang in ("sgg", "fsl"):
        (folder / lang).mkdir(parents=True)
    shutil.copy(DSGS / "sgg" / "kinder.pose", folder / "sgg" / "kinder.pose")
    shutil.copy(DSGS / "sgg" / "essen.pose", folder / "sgg" / "essen.pose")
    shutil.copy(DSGS / "sgg" / "pizza.pose", folder / "fsl" / "pizza.pose")
    (folder / "index.csv").write_text(
        HEADER
        + "sgg/kinder.pose,de,sgg,0,0,Kinder,KIND^,0\n"
        + "sgg/essen.pose,de,sgg,0,0,kinder essen,ESSEN,0\n"
        + "sgg/essen.pose,de,sgg,0,0,Kinder,KINDER-B,-1\n"  # lower priority: kinder stays
        + "fsl/pizza.pose,fr,LSF,0,0,pizza,PIZZA,0\n",
        encoding="utf-8",
    )
    return folder


def test_reads_a_spoken_to_signed_lexicon(own_lexicon):
    lex = SignLexicon(DSGS)
    assert lex.languages == ["sgg"] and len(lex) == 4
    assert lex.words("sgg") == ["essen", "kinder", "kleine", "pizza"]
    assert lex.lookup("Kinder!", "DSGS").text == "kinder"  # case, punctuation, alias
    assert lex.lookup("Pizza", "sgg", gloss=True).gloss == "Pizza"
    assert lex.lookup("pizza", "ase") is None
    own = SignLexicon(own_lexicon)
    assert own.languages == ["fsl", "sgg"]  # "LSF" is French SL's alias
    n, e = own.match(["kinder", "essen", "pizza"], 0, "sgg")
    assert (n, e.text) == (2, "kinder essen")  # the longest entry wins
    n, e = own.match(["kinder", "pizza"], 0, "sgg")
    assert (n, e.path.name) == (1, "kinder.pose")  # priority 0 beats -1
    assert own.lookup("kind^", "sgg", gloss=True).path.name == "kinder.pose"
    assert key("Mädchen") == key("MAEDCHEN") == "maedchen"


def test_clip_is_the_recording_cut_to_its_hands(own_lexicon):
    lex = SignLexicon(DSGS)
    entry = lex.lookup("kinder", "sgg")
    clip = lex.clip(entry, fps=25)
    assert clip.fps == 25 and clip.meta.text == "kinder" and clip.meta.language == "sgg"
    assert clip.num_frames == round(45 * 25 / 24)  # 45 frames at 24 fps, every one with hands
    assert lex.clip(entry, fps=25) is clip  # read once


def test_bad_lexicons_name_the_file_and_line(tmp_path, own_lexicon):
    with pytest.raises(DataError, match="no such lexicon folder"):
        load_signs(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="not a lexicon folder"):
        SignLexicon(tmp_path / "empty")
    index = own_lexicon / "index.csv"
    index.write_text(HEADER + "sgg/missing.pose,de,sgg,0,0,x,X,0\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"index.csv.*2.*missing.pose"):
        SignLexicon(own_lexicon)
    index.write_text(HEADER + "sgg/kinder.pose,de,sgg,0,0,x,X,high\n", encoding="utf-8")
    with pytest.raises(DataError, match="priority"):
        SignLexicon(own_lexicon)
    assert load_signs(None) is None


def test_auto_signs_lexicon_words_from_their_recordings(translator):
    """Lexicon first, then the model, then fingerspelling; pieces joined without jumps."""
    text = "hallo kleine kinder essen pizza bitte heute"
    plain = Translator().translate(text, "sgg")
    assert all(w.source in ("model", "fingerspelled") for w in plain.words)  # no lexicon: none
    t = translator.translate(text, "sgg")
    src = {w.word: w.source for w in t.words}
    assert [w.word for w in t.words] == text.split()
    assert [src[w] for w in ("kleine", "kinder", "essen", "pizza")] == ["lexicon"] * 4
    # the rest by the model where it knows the word, else spelled with real letters
    assert all(src[w] in ("model", "fingerspelled") for w in ("hallo", "bitte", "heute"))
    assert t.from_lexicon == ["kleine", "kinder", "essen", "pizza"]
    kinds = [k for _, _, k in t.pieces]
    assert kinds[1:5] == ["lexicon"] * 4 and kinds.count("lexicon") == 4
    doc = t.to_dict()
    assert doc["lexicon"] == t.from_lexicon and doc["pieces"][1]["source"] == "lexicon"
    assert t.pieces[-1][1] == t.pose.num_frames == t.frames_needed

    # each lexicon piece is its recording, in the signing space, on the translation's one body:
    # every bone points where the recording's does (its length is the body's)
    from signllm.skeleton import neck_rooted_parents

    signs = translator.lexicon
    par = neck_rooted_parents(t.pose.skel)
    kids = [c for c, p in enumerate(par) if p >= 0]
    for (a, b, _), word in zip(t.pieces[1:5], ("kleine", "kinder", "essen", "pizza"), strict=True):
        rec = to_signing_space(signs.clip(signs.lookup(word, "sgg"), fps=25), mirror=False)
        assert b - a == rec.num_frames
        ok = rec.mask[:, kids] & rec.mask[:, [par[c] for c in kids]]
        u = rec.data[:, kids] - rec.data[:, [par[c] for c in kids]]
        v = t.pose.data[a:b, kids] - t.pose.data[a:b, [par[c] for c in kids]]
        nu, nv = np.linalg.norm(u, axis=-1), np.linalg.norm(v, axis=-1)
        ok &= nu > 1e-6
        assert ((u * v).sum(-1)[ok] / (nu * nv)[ok]).min() > 0.9999

    # no jumps: at every join the largest frame-to-frame joint move stays under the join speed
    # limit, and under the largest move inside the recordings themselves
    step = _steps(t.pose)
    pairs = zip(t.pieces[:-1], t.pieces[1:], strict=True)
    joins = [float(step[b - 1 : a2].max()) for (_, b, _), (a2, _, _) in pairs]
    inside = max(float(step[a : b - 1].max()) for a, b, k in t.pieces if k == "lexicon")
    print(f"\nlargest joint move per frame (shoulder widths): joins {max(joins):.3f} "
          f"(each: {', '.join(f'{j:.3f}' for j in joins)}); inside the recordings {inside:.3f}")  # fmt: skip
    assert max(joins) <= JOIN_MAX_SPEED / 25 + 1e-4
    assert max(joins) < inside


def test_prompt_mode_uses_the_lexicon_too(translator):
    """The prompt model's text stage writes glosses; a word with a recording is signed from it
    whatever the stage made of it (kept, spelled or left out)."""
    t = translator.translate("kleine kinder hallo", "sgg", mode="prompt")
    assert t.prompt_stage == "learned"
    by_word = {w.word: w.source for w in t.words if w.word}
    assert by_word["kleine"] == by_word["kinder"] == "lexicon"
    assert by_word["hallo"] != "lexicon"
    assert [k for _, _, k in t.pieces].count("lexicon") == 2


def test_only_lexicon_and_letters_for_a_language_without_a_model(own_lexicon):
    t = Translator(lexicon=own_lexicon)
    r = t.translate("pizza rouge", "LSF")  # fsl: no model, a recording, letters in the package
    assert r.mode == "lexicon"
    assert [(w.word, w.source) for w in r.words] == [
        ("pizza", "lexicon"),
        ("rouge", "fingerspelled"),
    ]
    r = t.translate("kinder essen", "sgg")  # one two-word entry: one piece, both words reported
    assert [w.source for w in r.words] == ["lexicon", "lexicon"] and len(r.pieces) == 1
    assert "kinder essen" in r.words[1].reason
    r = t.translate(
        "pizza", "fsl", mode="fingerspelling"
    )  # asked to spell: the lexicon is not used
    assert [w.source for w in r.words] == ["fingerspelled"]
    langs = {d["code"]: d for d in t.languages()}
    assert langs["fsl"]["lexicon"] and langs["sgg"]["lexicon"] and not langs["ase"]["lexicon"]


def test_cli_translate_with_a_lexicon(tmp_path, capsys):
    out = tmp_path / "t.json"
    rc = main(["translate", "kleine", "kinder", "hallo", "--lang", "sgg", "--lexicon", str(DSGS),
               "-o", str(out)])  # fmt: skip
    assert rc == 0
    printed = capsys.readouterr().out
    assert "kleine -> lexicon" in printed and "hallo -> " in printed
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["lexicon"] == ["kleine", "kinder"] and len(doc["frames_xyz"]) == doc["frames"]


def test_server_with_a_lexicon():
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from signllm.serve import create_app

    with TestClient(create_app(lexicon=str(DSGS))) as client:
        r = client.post("/api/translate", json={"text": "kinder essen pizza", "language": "DSGS"})
        assert r.status_code == 200, r.text
        d = r.json()
        assert d["lexicon"] == ["kinder", "essen", "pizza"] and d["mode"] == "lexicon"
        assert [p["source"] for p in d["pieces"]] == ["lexicon"] * 3
        langs = {x["code"]: x for x in client.get("/api/languages").json()["languages"]}
        assert langs["sgg"]["lexicon"] is True

"""The user's side: the default model shipped in the package, `signllm.translate`, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

import signllm
from signllm.api import Translator
from signllm.assets import default_model_dir
from signllm.cli import main
from signllm.errors import UsageError


@pytest.fixture(scope="module")
def translator() -> Translator:
    return Translator()


def test_default_model_is_shipped_small_and_documented():
    root = default_model_dir()
    size = sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
    assert size <= 20 * 2**20, f"default model is {size / 2**20:.1f} MB"
    card = json.loads((root / "model_card.json").read_text(encoding="utf-8"))
    assert card["languages"] and card["commands"]["train"]
    assert (root / "MODEL_CARD.md").is_file()
    assert {"mlsf", "prompt", "prompt_text"} <= {p.name for p in root.iterdir()}


def test_translate_a_sentence_with_the_default_model(translator):
    t = translator.translate("und nun die wettervorhersage für morgen", "DGS")
    assert t.language == "gsg" and t.mode == "mlsf"
    assert all(how == "model" for _, how in t.words)
    pose = t.pose
    assert 10 < pose.num_frames < translator.max_frames, "the model stops by itself"
    assert pose.data.shape == (pose.num_frames, 50, 3) and np.isfinite(pose.data).all()
    assert pose.meta.extra["generated"] is True
    # it moves: not one frame repeated
    assert np.abs(np.diff(pose.data, axis=0)).mean() > 0


def test_unknown_words_are_fingerspelled_and_reported(translator):
    t = translator.translate("regen zyxqwort", "gsg")
    assert ("zyxqwort", "fingerspelled") in t.words
    assert t.fingerspelled == ["zyxqwort"] and ("regen", "model") in t.words
    assert t.pose.meta.extra["words"] == t.words


def test_prompt_names_language_and_text(translator):
    t = translator.translate("How would you sign 'guten morgen' in German Sign Language?")
    assert t.language == "gsg" and t.text == "guten morgen"


def test_prompt_mode_and_fingerspelling_only_languages(translator):
    t = translator.translate("regen und wind", "gsg", mode="prompt")
    assert t.mode == "prompt" and t.pose.num_frames > 0
    # a language without a model group is fingerspelled from real letters
    t = translator.translate("casa", "bzs")
    assert t.mode == "fingerspelling" and t.fingerspelled == ["casa"]


@pytest.mark.parametrize(
    ("text", "lang", "match"),
    [("", "gsg", "empty"), ("hallo", "xyz", "unknown sign language"), ("hallo", None, "which")],
)
def test_bad_input(translator, text, lang, match):
    with pytest.raises(UsageError, match=match):
        translator.translate(text, lang)


def test_module_level_translate():
    pose = signllm.translate("wetter", "gsg", max_frames=50)
    assert isinstance(pose, signllm.Pose) and 0 < pose.num_frames <= 50


def test_cli_translate_writes_every_format(tmp_path, capsys):
    outs = [tmp_path / f"o.{ext}" for ext in ("pose", "skels", "mp4", "gif", "bvh", "json")]
    args = ["translate", "wetter morgen", "--lang", "gsg", "--max-frames", "60"]
    for o in outs:
        args += ["-o", str(o)]
    assert main(args) == 0
    assert all(o.is_file() and o.stat().st_size > 0 for o in outs)
    doc = json.loads(outs[-1].read_text(encoding="utf-8"))
    assert doc["language"] == "gsg" and len(doc["frames_xyz"]) == doc["frames"]
    from signllm.data.formats.poseformat import read_pose_file

    assert read_pose_file(outs[0]).num_frames == doc["frames"]


def test_cli_translate_errors_exit_2_without_output(tmp_path, capsys):
    out = tmp_path / "x.wav"
    assert main(["translate", "wetter", "--lang", "gsg", "-o", str(out)]) == 2
    assert "unknown output type" in capsys.readouterr().err and not out.exists()
    assert main(["translate", "wetter", "--lang", "klingon"]) == 2
    assert "unknown sign language" in capsys.readouterr().err

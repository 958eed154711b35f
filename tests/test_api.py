"""The user's side: the default model shipped in the package, `signllm.translate`, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

import signllm
from signllm.api import RUN_MAX_FRAMES, Translator
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
    # words of its training data (the PHOENIX glosses it saw twice or more): all signed by it
    t = translator.translate("regen gewitter nordwest", "DGS")
    assert t.language == "gsg" and t.mode == "mlsf"
    assert all(w.source == "model" for w in t.words) and t.prompt_stage is None
    pose = t.pose
    assert 10 < pose.num_frames < RUN_MAX_FRAMES, "the model stops by itself"
    assert t.frames_needed == pose.num_frames and not t.truncated
    assert pose.data.shape == (pose.num_frames, 50, 3) and np.isfinite(pose.data).all()
    assert pose.meta.extra["generated"] is True
    # it moves: not one frame repeated
    assert np.abs(np.diff(pose.data, axis=0)).mean() > 0


def test_unknown_words_are_fingerspelled_and_reported(translator):
    t = translator.translate("regen zyxqwort", "gsg")
    assert [(w.word, w.source) for w in t.words] == [("regen", "model"),
                                                     ("zyxqwort", "fingerspelled")]  # fmt: skip
    assert t.fingerspelled == ["zyxqwort"] and t.words[1].reason
    assert t.pose.meta.extra["words"] == [w.to_dict() for w in t.words]


def reported(t) -> list[str]:
    """The input words a translation reports, in order (gloss-only entries left out)."""
    return [w.word for w in t.words if w.word]


def test_prompt_mode_uses_the_learned_stage_and_reports_every_word(translator):
    # it used to sign only fs-REGEN and say nothing about "und" and "wind"
    t = translator.translate("regen und wind", "gsg", mode="prompt")
    assert t.prompt_stage == "learned" and t.pose.num_frames > 0
    assert reported(t) == ["regen", "und", "wind"]
    assert all(w.source in ("model", "fingerspelled", "dropped") for w in t.words)
    assert all(w.reason for w in t.words if w.source != "model")
    # every gloss the learned stage wrote is in the report, in its order
    ((_, glosses),) = translator.prompt_text.translate(["regen und wind"], "gsg", mode="learned")
    assert [w.gloss for w in t.words if w.gloss] == glosses
    d = t.to_dict()
    assert d["prompt_stage"] == "learned" and len(d["words"]) == len(t.words)
    assert d["dropped"] == t.dropped and d["truncated"] is False


def test_prompt_mode_falls_back_to_templates_and_says_so():
    tr = Translator()
    tr.prompt_text = None  # a model without the learned text stage
    t = tr.translate("How would you sign 'regen und wind' in DGS?", mode="prompt")
    assert t.prompt_stage == "template" and t.text == "regen und wind"
    # words map to the pose model's glosses by spelling: REGEN is a sign; UND and WIND are not
    first = t.words[0]  # a character-aware model keeps its words lower-case
    assert (first.word, first.source, first.gloss.upper()) == ("regen", "model", "REGEN")
    assert [(w.word, w.source) for w in t.words[1:]] == [("und", "fingerspelled"),
                                                         ("wind", "fingerspelled")]  # fmt: skip


@pytest.mark.parametrize("mode", ["auto", "mlsf", "prompt", "fingerspelling"])
def test_every_mode_reports_every_word(translator, mode):
    t = translator.translate("How would you sign 'hello water' in ASL?", mode=mode)
    assert t.language == "ase" and t.text == "hello water"
    assert reported(t) == ["hello", "water"]
    assert (t.prompt_stage is not None) == (mode == "prompt")
    t = translator.translate("regen und wind", "gsg", mode=mode)
    assert reported(t) == ["regen", "und", "wind"]
    if mode == "fingerspelling":
        assert t.mode == "fingerspelling" and t.fingerspelled == ["regen", "und", "wind"]


def test_unspellable_words_are_dropped_with_a_reason(translator):
    t = translator.translate("regen 日本", "gsg")
    assert [(w.word, w.source) for w in t.words] == [("regen", "model"), ("日本", "dropped")]
    assert "alphabet" in t.words[1].reason and t.dropped == ["日本"]


def test_fingerspelled_words_keep_a_resting_other_hand(translator):
    """Letter recordings never track the non-dominant hand: the translation shows it resting
    (the model's mean pose), marked as filled in, so the signer has two hands in every frame."""
    from signllm.data.space import REST_HAND_CONFIDENCE

    t = translator.translate("zyxq", "gsg")
    assert t.fingerspelled == ["zyxq"]
    skel = t.pose.skel
    hand = list(skel.groups["left_hand"])
    assert (
        t.pose.mask[:, hand].all() and t.pose.mask[:, skel.groups["right_hand"]].any(axis=1).all()
    )
    assert np.allclose(t.pose.confidence[:, hand], REST_HAND_CONFIDENCE)
    assert np.isfinite(t.pose.data[:, hand]).all()


def test_mode_says_fingerspelling_when_the_model_signed_nothing(translator):
    t = translator.translate("zyxqwort", "gsg", mode="mlsf")
    assert t.mode == "fingerspelling" and t.fingerspelled == ["zyxqwort"]


def test_a_cap_is_reported_and_no_cap_signs_everything(translator):
    text = " ".join(["zyxq", "blorv", "quand"] * 4)
    whole = translator.translate(text, "gsg")
    assert whole.pose.num_frames == whole.frames_needed > 200 and not whole.truncated
    cut = translator.translate(text, "gsg", max_frames=200)
    assert cut.pose.num_frames == 200 and cut.truncated and cut.max_frames == 200
    assert cut.frames_needed == whole.frames_needed
    assert cut.to_dict()["truncated"] is True
    with pytest.raises(UsageError, match="max_frames"):
        translator.translate(text, "gsg", max_frames=0)


def test_prompt_names_language_and_text(translator):
    t = translator.translate("How would you sign 'guten morgen' in German Sign Language?")
    assert t.language == "gsg" and t.text == "guten morgen"


def test_fingerspelling_only_languages(translator):
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
    args = ["translate", "wetter morgen zyxqwort", "--lang", "gsg", "--max-frames", "60"]
    for o in outs:
        args += ["-o", str(o)]
    assert main(args) == 0
    assert all(o.is_file() and o.stat().st_size > 0 for o in outs)
    doc = json.loads(outs[-1].read_text(encoding="utf-8"))
    assert doc["language"] == "gsg" and len(doc["frames_xyz"]) == doc["frames"]
    from signllm.data.formats.poseformat import read_pose_file

    assert read_pose_file(outs[0]).num_frames == doc["frames"]
    out = capsys.readouterr()
    assert "cut at --max-frames 60" in out.err and doc["frames_needed"] > 60 and doc["truncated"]


def test_cli_translate_reports_words_and_says_nothing_was_written(capsys):
    assert main(["translate", "regen und wind", "--lang", "gsg", "--mode", "prompt"]) == 0
    out = capsys.readouterr().out
    assert "learned prompt stage" in out and "nothing written: add -o" in out
    for word in ("regen", "und", "wind"):
        assert f"  {word} -> " in out


def test_cli_translate_errors_exit_2_without_output(tmp_path, capsys):
    out = tmp_path / "x.wav"
    assert main(["translate", "wetter", "--lang", "gsg", "-o", str(out)]) == 2
    assert "unknown output type" in capsys.readouterr().err and not out.exists()
    assert main(["translate", "wetter", "--lang", "klingon"]) == 2
    assert "unknown sign language" in capsys.readouterr().err


@pytest.fixture(scope="module")
def char_models(tmp_path_factory, samples):
    """Tiny MLSF and prompt models trained a few steps with the default (character) inputs."""
    import dataclasses

    import torch

    from signllm.data.formats.skels import read_skels
    from signllm.data.store import StoreWriter
    from signllm.train.config import TrainConfig
    from signllm.train.trainer import train

    root = tmp_path_factory.mktemp("char_api")
    with StoreWriter(root / "store") as w:
        for split in ("train", "dev"):
            for p in read_skels(samples / "phoenix14t" / f"{split}.skels", language="gsg"):
                w.add(p, split=split)
                meta = dataclasses.replace(p.meta, id=p.meta.id + "-ase", language="ase", gloss="")
                w.add(dataclasses.replace(p, meta=meta), split=split)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    out = {}
    for mode in ("mlsf", "prompt"):
        cfg = TrainConfig(
            data=str(root / "store"), out=str(root / mode), mode=mode, steps=2, batch_size=4,
            max_clip_frames=16, warmup_steps=1, eval_every=0, checkpoint_every=0, progress=False,
        )  # fmt: skip
        out[mode] = Translator(train(cfg).last, max_frames=20, model_spells=True)
    torch.set_num_threads(threads)
    return out


@pytest.mark.parametrize("mode", ["mlsf", "prompt"])
def test_character_models_sign_unknown_words_themselves(char_models, mode):
    from signllm.text.tokenizers import CharVocab

    tr = char_models[mode]
    ckpt = tr.mlsf if mode == "mlsf" else tr.prompt
    tok = ckpt.tokenizers["gsg"]
    assert isinstance(tok, CharVocab)
    known = tok.words[0].partition(":")[2] or tok.words[0]
    t = tr.translate(f"{known} zyxqwort Привет", "gsg", mode=mode)
    # no word goes to the lexicon merely for being unknown: the model spells it
    assert [(w.word, w.source) for w in t.words] == [
        (known, "model"),
        ("zyxqwort", "model"),
        ("Привет", "model"),
    ]
    assert t.fingerspelled == [] and t.pose.num_frames > 0
    plan = tr._plan_mlsf(t.text, "gsg") if mode == "mlsf" else tr._plan_prompt(t.text, "gsg")[0]
    given = [step[1] for step in plan]  # what the model reads
    assert given == [known, "fs-zyxqwort", "fs-Привет"]  # lower-case vocab
    firsts = [tok.encode(x, language="gsg")[1] for x in given]
    assert firsts[0] >= tok.word_offset and firsts[1:] == [tok.fingerspell_id] * 2


def test_every_translation_is_one_body(translator):
    """Letters of several recordings joined, and model output: fixed bone lengths and shoulder
    width over the whole clip (ground truth's own arm bones vary 2-5% within one recording)."""
    from signllm.skeleton import bone_lengths, neck_rooted_parents

    for text, lang in (("und nun die wettervorhersage für morgen", "gsg"), ("regen", "gsg")):
        pose = translator.translate(text, lang).pose
        par = neck_rooted_parents(pose.skel)
        kids = [c for c, p in enumerate(par) if p >= 0]
        seen = pose.mask[:, kids] & pose.mask[:, [par[c] for c in kids]]
        lengths = bone_lengths(pose.data)
        for b in range(len(kids)):
            bone = lengths[seen[:, b], b]
            if bone.size and bone.mean() > 0.02:
                assert bone.std() / bone.mean() < 1e-3, (text, pose.skel.joints[kids[b]])
        r, le = pose.skel.index("right_shoulder"), pose.skel.index("left_shoulder")
        width = np.linalg.norm(pose.data[:, r] - pose.data[:, le], axis=-1)
        assert np.ptp(width) < 1e-3 * np.median(width)

"""The fingerspelling reader: shapes, CTC decoding, checkpoints, and a real tiny training."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from signllm.data.fingerspell import SAMPLE_LEXICON, FingerspellingLexicon
from signllm.errors import DataError, UsageError
from signllm.eval.recognizer import (
    Clip,
    augment,
    char_accuracy,
    clip_from_pose,
    collate,
    evaluate_reader,
    hold_hands,
    join_clips,
    load_reader,
    mean_clip_pose,
    observed_joints,
    reference_letters,
    save_reader,
    score_by_language,
    train_reader_on,
)
from signllm.models.recognizer import (
    Recognizer,
    RecognizerConfig,
    ctc_greedy,
    decode_ids,
    encode_letters,
    pose_features,
)
from signllm.pose import Pose, PoseMeta
from signllm.skeleton import get_skeleton

SK = "prompt2sign50"
TINY = {"d_model": 32, "heads": 2, "ff": 64, "layers": 1, "dropout": 0.0}


@pytest.fixture(scope="module")
def lexicon() -> FingerspellingLexicon:
    return FingerspellingLexicon(SAMPLE_LEXICON)


def _clip(lex: FingerspellingLexicon, word: str, lang: str) -> Clip:
    pose = lex.compose(word, lang, fps=25)
    pose.meta = dataclasses.replace(
        pose.meta,
        id=f"{lang}/fs/{word}",
        language=lang,
        text=word,
        spoken_language=lex.spoken_language(lang),
        extra={**pose.meta.extra, "units": " ".join(lex.spell(word, lang))},
    )
    return clip_from_pose(pose)


def _model(**kw: object) -> Recognizer:
    torch.manual_seed(0)
    return Recognizer(RecognizerConfig(vocab=list("abc"), languages=["ase", "gsg"], **TINY, **kw))


def test_forward_shapes_and_backward() -> None:
    model = _model()
    b, t, j = 3, 23, 50
    x = torch.randn(b, t, j, 3)
    mask = torch.rand(b, t, j) > 0.2
    fm = torch.ones(b, t, dtype=torch.bool)
    fm[1, 15:] = False  # a shorter clip
    logp, lengths = model(x, mask, fm, model.language_ids(["ase", "gsg", "ase"]))
    assert logp.shape == (b, 12, 4)  # ceil(23 / 2) frames, 3 letters + blank
    assert lengths.tolist() == [12, 8, 12]
    assert torch.allclose(logp.exp().sum(-1), torch.ones(b, 12), atol=1e-5)
    loss = model.ctc_loss(logp, lengths, [[1, 2], [3], [1, 1, 2]])
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert torch.isfinite(loss) and grads and all(torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0
    with pytest.raises(UsageError, match="not trained on sign language"):
        model.language_ids(["bfi"])


def test_features_ignore_position_and_size(lexicon: FingerspellingLexicon) -> None:
    clip = _clip(lexicon, "cab", "ase")
    x, m = torch.from_numpy(clip.data)[None], torch.from_numpy(clip.mask)[None]
    fm = torch.ones(x.shape[:2], dtype=torch.bool)
    f = pose_features(x, m, fm, SK)
    moved = pose_features((x + torch.tensor([5.0, -3.0, 2.0])) * 7.5, m, fm, SK)
    assert f.shape == (1, len(clip.data), 8 * 3 + 42 * 3 + 6 + 8 + 2)
    assert torch.allclose(f, moved, atol=1e-4)
    assert float(f.abs().max()) < 20  # hands in hand sizes, body in shoulder widths


def test_ctc_greedy_on_a_hand_made_example() -> None:
    path = [0, 1, 1, 0, 1, 2, 2, 0, 3, 3]  # a, a (blank between), b, c
    logp = torch.full((1, len(path), 4), -10.0)
    logp[0, torch.arange(len(path)), torch.tensor(path)] = 0.0
    ids = ctc_greedy(logp, torch.tensor([len(path)]))
    assert ids == [[1, 1, 2, 3]]
    assert decode_ids(ids[0], list("abc")) == "aabc"
    assert ctc_greedy(logp, torch.tensor([6])) == [[1, 1, 2]]  # padding frames are not read
    assert encode_letters("cab", list("abc")) == [3, 1, 2]
    with pytest.raises(UsageError, match="not in the reader's vocabulary"):
        encode_letters("abd", list("abc"))


def test_reference_letters_and_scores() -> None:
    meta = PoseMeta(text="Schule", spoken_language="de", extra={"units": "SCH U L E"})
    pose = Pose(np.zeros((2, 50, 3)), np.zeros((2, 50)), 25.0, meta=meta)
    assert reference_letters(pose) == "schule"
    pose.meta = PoseMeta(text="café", spoken_language="pt", extra={"units": "C A F E"})
    assert reference_letters(pose) == "cafe"  # what the hands show, not the accent
    pose.meta = PoseMeta(text="Işık", spoken_language="tr")
    assert reference_letters(pose) == "ışık"
    assert char_accuracy("hello", "hello") == 1.0
    assert char_accuracy("hello", "helo") == pytest.approx(0.8)
    s = score_by_language(["abc", "ab", "ca"], ["abc", "b", "ca"], ["ase", "gsg", "gsg"])
    assert s["languages"]["ase"]["char_acc"] == 1.0
    assert s["languages"]["gsg"]["char_acc"] == pytest.approx(0.75)
    assert s["languages"]["gsg"]["word_acc"] == 0.5
    assert s["mean"]["char_acc"] == pytest.approx(0.875)
    assert s["all"]["one_minus_cer"] == pytest.approx(1 - 1 / 7)


def test_save_load_round_trip_and_broken_files(tmp_path: Path) -> None:
    model = _model().eval()
    out = save_reader(model, tmp_path / "reader", {"trained_on": "test"})
    reader = load_reader(out)
    assert reader.config == model.config
    x = torch.randn(2, 9, 50, 3)
    m = torch.ones(2, 9, 50, dtype=torch.bool)
    fm = torch.ones(2, 9, dtype=torch.bool)
    lang = model.language_ids(["gsg", "ase"])
    with torch.no_grad():
        assert torch.equal(model(x, m, fm, lang)[0], reader.model(x, m, fm, lang)[0])
    assert reader.info == {"trained_on": "test"}

    weights = out / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(DataError, match=r"model\.safetensors.*corrupt weights"):
        load_reader(out)
    save_reader(model, out, {})
    (out / "config.json").write_text('{"format": "signllm-checkpoint",\n "version": }')
    with pytest.raises(DataError, match=r"config.json:2: invalid JSON"):
        load_reader(out)
    save_reader(model, out, {})
    cfg = json.loads((out / "config.json").read_text())
    cfg["model"]["vocab"] = cfg["model"]["vocab"][:-1]  # one letter short of the weights
    (out / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(DataError, match=r"weights|shape"):
        load_reader(out)
    cfg["model"]["vocab"] = ["a", "bc", "d"]
    (out / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(DataError, match=r"config\.json.*field model.*single characters"):
        load_reader(out)
    cfg["kind"] = "bt"
    (out / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(DataError, match=r"kind"):
        load_reader(out)
    with pytest.raises(DataError, match=r"config\.json not found"):
        load_reader(tmp_path / "nothing")


def test_augment_and_join_keep_clips_valid(lexicon: FingerspellingLexicon) -> None:
    a, b = _clip(lexicon, "abc", "ase"), _clip(lexicon, "cab", "ase")
    joined = join_clips(a, b, SK)
    assert joined.letters == "abccab" and len(joined.data) == len(a.data) + len(b.data)
    rng = np.random.default_rng(0)
    x, m = augment(joined, rng, SK)
    assert x.shape[1:] == (50, 3) and m.shape == x.shape[:2] and 2 <= len(x)
    assert 0.6 * len(joined.data) <= len(x) <= 1.45 * len(joined.data)
    assert np.all(x[~m] == 0) and np.isfinite(x).all()


def test_tiny_training_reads_its_words(lexicon: FingerspellingLexicon) -> None:
    """Real letters (A, B, C of ASL and DGS), one reader for both: it must read every word."""
    words = ["abc", "cab", "bca", "acb", "ba", "ca", "bac", "cb"]
    clips = [_clip(lexicon, w, lang) for lang in ("ase", "gsg") for w in words]
    said: list[str] = []
    summary = train_reader_on(
        clips,
        clips,
        steps=400,
        batch_size=8,
        lr=5e-3,
        eval_every=50,
        augment_strength=0.3,
        join_prob=0.0,
        config=TINY,
        progress=False,
        log=said.append,
    )
    reader = summary["reader"]
    # the training says which hand each language does not read, and records the share
    assert "reader: gsg does not read its left hand (its ground truth shows it in under 25% " \
        "of frames)" in said and summary["read_share"] == 0.25  # fmt: skip
    assert not any("right hand" in m for m in said)
    with pytest.raises(UsageError, match="read_share"):
        train_reader_on(clips, clips, steps=1, read_share=1.5, config=TINY, progress=False)
    res = evaluate_reader(reader, clips, floor=mean_clip_pose(clips))
    wrong = [(e["ref"], e["hyp"]) for e in res["examples"] if e["ref"] != e["hyp"]]
    assert not wrong, wrong
    assert res["ground_truth"]["mean"]["word_acc"] == 1.0
    assert res["floor"]["mean"]["char_acc"] < 0.5  # a still mean pose spells nothing
    # Pose objects in other units (x 100, moved) read the same; languages come from the poses
    pose = lexicon.compose("bac", "gsg", fps=25)
    pose.data = pose.data * 100 + 3
    pose.meta = dataclasses.replace(pose.meta, language="gsg")
    assert reader.read([pose]) == ["bac"]
    with pytest.raises(UsageError, match="not trained on sign language"):
        reader.read([pose], ["bfi"])
    # letters do not track the left hand, so the reader does not read it: a generator's output
    # (every joint present) with a left hand added reads the same as without
    assert "left_hand_wrist" not in reader.config.read_joints["gsg"]
    assert "right_hand_index_tip" in reader.config.read_joints["gsg"]
    full = lexicon.compose("bac", "gsg", fps=25)
    full.meta = dataclasses.replace(full.meta, language="gsg")
    left = [i for i, n in enumerate(get_skeleton(SK).joints) if n.startswith("left_hand")]
    full.data[:, left] = full.data[:, [get_skeleton(SK).index("left_wrist")]] + 0.05
    full.confidence[:, left] = 1.0
    bare = lexicon.compose("bac", "gsg", fps=25)
    lang = reader.model.language_ids(["gsg"])
    with torch.no_grad():
        outs = [
            reader.model(*collate([(p.data, p.mask)]), lang)[0] for p in (full, bare)
        ]  # fmt: skip
    assert torch.equal(outs[0], outs[1])
    assert reader.read([full]) == ["bac"]


def test_hold_hands_fills_the_trackers_gaps_from_the_nearest_frame() -> None:
    sk = get_skeleton(SK)
    left, right = list(sk.groups["left_hand"]), list(sk.groups["right_hand"])
    t = 10
    data = np.arange(t, dtype=np.float32)[:, None, None] * np.ones(
        (t, sk.num_joints, 3), np.float32
    )
    mask = np.ones((t, sk.num_joints), bool)
    mask[3:6, left] = False  # lost between two letters
    mask[:, right] = False  # never tracked: stays unseen
    held, seen = hold_hands(data, mask, SK)
    assert seen[:, left].all() and not seen[:, right].any()
    assert held[3:6, left[5], 0].tolist() == [2.0, 2.0, 6.0]  # nearest shown frame (ties: earlier)
    assert np.array_equal(held[:, sk.index("neck")], data[:, sk.index("neck")])
    assert mask[3:6, left].sum() == 0  # the input is not changed
    # the reader's augmentation holds the hands of a share of its clips
    clip = Clip("x", data, mask, "ase", "ab")
    rng = np.random.default_rng(0)
    assert augment(clip, rng, SK, strength=0.0, hold_prob=1.0)[1][:, left].all()
    assert not augment(clip, rng, SK, strength=0.0, hold_prob=0.0)[1][:, left].all()


def test_observed_joints_keeps_what_ground_truth_shows() -> None:
    sk = get_skeleton(SK)
    m = np.ones((100, sk.num_joints), bool)
    m[:, list(sk.groups["left_hand"])] = False
    m[:60, sk.index("left_hand_thumb_tip")] = True  # 60 frames of 100: a hand of the letters
    m[:7, sk.index("left_hand_index_tip")] = True  # 7 of 100: a resting hand drifting into view
    full = np.ones((50, sk.num_joints), bool)
    names = observed_joints([m, full, m], ["ase", "bzs", "ase"], SK)
    assert "left_hand_wrist" not in names["ase"] and "left_hand_thumb_tip" in names["ase"]
    assert "left_hand_index_tip" not in names["ase"]
    assert "left_hand_index_tip" in observed_joints([m], ["ase"], SK, min_share=0.05)["ase"]
    assert "right_hand_wrist" in names["ase"] and len(names["bzs"]) == sk.num_joints
    cfg = RecognizerConfig(vocab=["a"], languages=["ase", "bzs", "gsg"], read_joints=names)
    filt = cfg.joint_filter()
    assert not filt[0, sk.index("left_hand_wrist")] and filt[1].all() and filt[2].all()
    with pytest.raises(UsageError, match="read_joints"):
        RecognizerConfig(vocab=["a"], languages=["ase"], read_joints={"ase": ["no_such_joint"]})
    with pytest.raises(UsageError, match="not one of the reader's languages"):
        RecognizerConfig(vocab=["a"], languages=["ase"], read_joints={"gsg": []})

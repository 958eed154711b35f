"""Readers and writers on the real samples: counts, joint mapping sanity, round trips."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from signllm import Pose, PoseMeta
from signllm.data.formats import detect_format, read_poses, write_poses
from signllm.data.formats.openpose_json import read_openpose_folder
from signllm.data.formats.poseformat import read_pose_file, write_pose_file
from signllm.data.formats.skels import read_skels, write_skels
from signllm.skeleton import (
    LEFT_HAND_ROOT,
    LEFT_SHOULDER,
    LEFT_WRIST,
    RIGHT_HAND_ROOT,
    RIGHT_SHOULDER,
    RIGHT_WRIST,
)

PHOENIX_FRAMES = {
    "train": [86, 126, 168, 185, 71],
    "dev": [42, 111, 148, 142, 93],
    "test": [181, 150, 198, 130, 111],
}
HOW2SIGN_FRAMES = {
    "_2FBDaOPYig_2-3-rgb_front": 157,
    "_2FBDaOPYig_2-5-rgb_front": 210,
    "_2FBDaOPYig_3-3-rgb_front": 109,
    "_2FBDaOPYig_3-5-rgb_front": 146,
    "_2FBDaOPYig_4-3-rgb_front": 62,
}


def all_real_poses(samples: Path) -> list[Pose]:
    out: list[Pose] = []
    out += read_skels(samples / "phoenix14t" / "train.skels")
    out += list(read_poses(samples / "how2sign" / "openpose_json"))
    out += list(read_poses(samples / "mediapipe_lexicon"))
    out += list(read_poses(samples / "fingerspelling"))
    out.append(read_pose_file(samples / "pose_format" / "openpose.pose"))
    out.append(read_pose_file(samples / "pose_format" / "6fb01565da31c5500d1ef2cd2906b06b.pose"))
    out.append(read_pose_file(samples / "autsl" / "signer0_sample1000.holistic.pose"))
    return out


# --- .skels -------------------------------------------------------------------------------------


@pytest.mark.parametrize("split", ["train", "dev", "test"])
def test_phoenix_skels_counts_and_metadata(samples, split):
    poses = read_skels(samples / "phoenix14t" / f"{split}.skels")
    assert [p.num_frames for p in poses] == PHOENIX_FRAMES[split]
    texts = (samples / "phoenix14t" / f"{split}.text").read_text(encoding="utf-8").splitlines()
    glosses = (samples / "phoenix14t" / f"{split}.gloss").read_text(encoding="utf-8").splitlines()
    assert [p.meta.text for p in poses] == texts
    assert [p.meta.gloss for p in poses] == glosses
    assert all(p.meta.split == split and p.ndim == 3 and p.fps == 25 for p in poses)
    assert all(p.missing_fraction == 0 for p in poses)


def test_skels_write_reproduces_values(samples, tmp_path):
    src = samples / "phoenix14t" / "dev.skels"
    write_skels(read_skels(src), tmp_path / "dev.skels")
    a = np.array(src.read_text().split(), dtype=np.float64)
    b = np.array((tmp_path / "dev.skels").read_text().split(), dtype=np.float64)
    assert a.shape == b.shape and np.abs(a - b).max() <= 1e-5
    for ext in ("text", "gloss", "files"):
        assert (tmp_path / f"dev.{ext}").read_text() == (
            samples / "phoenix14t" / f"dev.{ext}"
        ).read_text()


def test_skels_scale_option(samples):
    pt = read_skels(samples / "phoenix14t" / "dev.skels")[0]
    p2s = read_skels(samples / "phoenix14t" / "dev.skels", scale=9.0)[0]
    np.testing.assert_allclose(p2s.data, pt.data * 3, rtol=1e-6, atol=1e-6)


def test_skels_placeholder_is_missing(tmp_path):
    data = np.random.default_rng(0).normal(size=(4, 50, 3)).astype(np.float32)
    conf = np.ones((4, 50), np.float32)
    conf[1, 10] = 0
    conf[2, :8] = 0
    pose = Pose(data, conf, fps=25, meta=PoseMeta(id="x", text="t"))
    write_skels([pose], tmp_path / "a.skels")
    line = (tmp_path / "a.skels").read_text().split()
    assert line[151 + 30 : 151 + 33] == ["0.01600"] * 3
    back = read_skels(tmp_path / "a.skels")[0]
    assert (back.mask == pose.mask).all()
    np.testing.assert_allclose(back.data[pose.mask], data[pose.mask], atol=3 * 0.5e-5 + 1e-6)
    assert (back.data[~pose.mask] == 0).all()


def test_skels_to_pose_to_skels_round_trip(samples, tmp_path):
    """.skels -> folder of .pose (+ index.csv) -> .skels, and .skels -> one .pose -> .skels."""
    src = samples / "phoenix14t" / "test.skels"
    original = read_skels(src)
    write_poses(read_poses(src, language="gsg"), tmp_path / "lex")
    assert detect_format(tmp_path / "lex") == "lexicon"
    write_poses(read_poses(tmp_path / "lex"), tmp_path / "back.skels")
    back = read_skels(tmp_path / "back.skels")
    assert [p.meta.id for p in back] == [p.meta.id for p in original]
    assert [p.meta.text for p in back] == [p.meta.text for p in original]
    a = np.array(src.read_text().split(), dtype=np.float64)
    b = np.array((tmp_path / "back.skels").read_text().split(), dtype=np.float64)
    assert np.abs(a - b).max() <= 1e-5
    # a single clip through a single .pose file
    write_pose_file(original[2], tmp_path / "one.pose")
    one = read_pose_file(tmp_path / "one.pose")
    assert np.abs(one.data - original[2].data).max() <= 1e-5
    assert one.fps == original[2].fps and one.ndim == 3


# --- OpenPose JSON ------------------------------------------------------------------------------


def test_how2sign_openpose_folders(samples):
    poses = list(read_poses(samples / "how2sign" / "openpose_json"))
    assert {p.meta.id: p.num_frames for p in poses} == HOW2SIGN_FRAMES
    assert sum(p.num_frames for p in poses) == 684
    assert all(p.ndim == 2 and (p.data[..., 2] == 0).all() for p in poses)
    # confidences come from the file, in [0, 1]
    assert all(0 <= p.confidence.min() and p.confidence.max() <= 1 for p in poses)


def _copy_clip(samples: Path, tmp_path: Path, clip: str = "_2FBDaOPYig_4-3-rgb_front") -> Path:
    dst = tmp_path / clip
    shutil.copytree(samples / "how2sign" / "openpose_json" / clip, dst)
    return dst


def test_openpose_frame_without_person_is_missing_not_dropped(samples, tmp_path):
    clip = _copy_clip(samples, tmp_path)
    files = sorted(clip.iterdir())
    doc = json.loads(files[10].read_text())
    doc["people"] = []
    files[10].write_text(json.dumps(doc))
    files[20].unlink()  # a hole in the frame numbering
    pose = read_openpose_folder(clip)
    assert pose.num_frames == 62
    assert (pose.confidence[10] == 0).all() and (pose.confidence[20] == 0).all()
    assert (pose.confidence[11] > 0).any()
    assert pose.meta.extra["missing_frame_files"] == 1


def test_openpose_picks_most_confident_person(samples, tmp_path):
    clip = _copy_clip(samples, tmp_path)
    f = sorted(clip.iterdir())[0]
    doc = json.loads(f.read_text())
    ghost = json.loads(json.dumps(doc["people"][0]))
    ghost["pose_keypoints_2d"] = [1.0, 1.0, 0.05] * 25
    doc["people"].insert(0, ghost)
    f.write_text(json.dumps(doc))
    pose = read_openpose_folder(clip)
    assert pose.data[0, 0, 0] > 100  # the real signer, not the ghost at (1, 1)


# --- .pose --------------------------------------------------------------------------------------


def test_pose_files_of_every_variant(samples):
    full = read_pose_file(samples / "autsl" / "signer0_sample1000.holistic.pose")  # 543 points
    world_file = samples / "pose_format" / "6fb01565da31c5500d1ef2cd2906b06b.pose"  # 576 points
    reduced = read_pose_file(samples / "mediapipe_lexicon" / "sgg" / "essen.pose")  # 178 points
    openpose = read_pose_file(samples / "pose_format" / "openpose.pose")  # 137 points, 2D
    world = read_pose_file(world_file, variant="world")
    assert (full.num_frames, reduced.num_frames, openpose.num_frames) == (43, 73, 93)
    assert openpose.ndim == 2 and full.ndim == 3 and reduced.ndim == 3
    # the world variant is in another space than the image variant, hands hang on its wrists
    image = read_pose_file(world_file)
    assert not np.allclose(world.data, image.data)
    m = world.mask[:, LEFT_HAND_ROOT]
    np.testing.assert_allclose(world.data[m, LEFT_HAND_ROOT], world.data[m, LEFT_WRIST])


def test_joint_mapping_sanity_on_all_real_data(samples):
    for pose in all_real_poses(samples):
        m = pose.mask
        both = m[:, LEFT_SHOULDER] & m[:, RIGHT_SHOULDER] & m[:, 0] & m[:, 1]
        assert both.any(), pose.meta.id
        d = pose.data[both]
        width = np.linalg.norm(d[:, LEFT_SHOULDER, :2] - d[:, RIGHT_SHOULDER, :2], axis=-1)
        head = np.linalg.norm(d[:, 0, :2] - d[:, 1, :2], axis=-1)
        # shoulders apart (and apart more than the nose is from the neck), nose above the neck
        assert np.median(width) > 0.8 * np.median(head), pose.meta.id
        assert np.median(d[:, 0, 1] - d[:, 1, 1]) < 0, pose.meta.id  # y grows downwards
        # each hand's root is its wrist: merged by our readers; within 25% of the shoulder width
        # in the authors' lifted .skels, which keep both estimates
        lifted = ".skels" in pose.meta.source
        tol = 0.25 * np.median(width) if lifted else 1e-5
        for wrist, root in ((LEFT_WRIST, LEFT_HAND_ROOT), (RIGHT_WRIST, RIGHT_HAND_ROOT)):
            seen = m[:, root] & m[:, wrist]
            if not seen.any():
                continue
            gap = np.linalg.norm(pose.data[seen, root] - pose.data[seen, wrist], axis=-1)
            assert np.median(gap) <= tol, pose.meta.id
        # a hand mapped onto the wrong arm would stretch that forearm across the body
        for elbow, wrist in ((6, LEFT_WRIST), (3, RIGHT_WRIST)):
            seen = m[:, elbow] & m[:, wrist] & both
            if seen.sum() >= 3:
                fore = np.linalg.norm(
                    pose.data[seen, wrist, :2] - pose.data[seen, elbow, :2], axis=-1
                )
                assert np.median(fore) < 1.2 * np.median(width), pose.meta.id


def test_written_pose_is_read_and_drawn_by_pose_format(samples, tmp_path):
    from pose_format import Pose as PFPose

    pose = next(read_poses(samples / "how2sign" / "openpose_json"))
    write_pose_file(pose, tmp_path / "h.pose")
    pf = PFPose.read((tmp_path / "h.pose").read_bytes())
    assert pf.body.data.shape == (pose.num_frames, 1, 50, 2)
    assert [c.name for c in pf.header.components] == ["PROMPT2SIGN50"]
    cv2 = pytest.importorskip("cv2", reason="pose-format's visualizer needs opencv")
    from pose_format.pose_visualizer import PoseVisualizer

    frames = list(PoseVisualizer(pf).draw())
    assert len(frames) == pose.num_frames
    assert (frames[0] != 255).mean() > 0.005  # something was drawn
    assert cv2 is not None


# --- lexicon ------------------------------------------------------------------------------------


def test_lexicon_folders(samples):
    sgg = list(read_poses(samples / "mediapipe_lexicon"))
    assert [p.meta.text for p in sgg] == ["kleine", "kinder", "essen", "pizza"]
    assert {p.meta.language for p in sgg} == {"sgg"} and sgg[0].meta.gloss == "Kleine"
    fs = list(read_poses(samples / "fingerspelling"))
    assert {(p.meta.language, p.meta.spoken_language) for p in fs} == {("ase", "en"), ("gsg", "de")}
    only = list(read_poses(samples / "fingerspelling", language="gsg"))
    assert len(only) == 3


def test_lexicon_start_end_cut(samples, tmp_path):
    shutil.copytree(samples / "mediapipe_lexicon", tmp_path / "lex")
    index = tmp_path / "lex" / "index.csv"
    lines = index.read_text().splitlines()
    lines[1] = lines[1].replace(",0,0,", ",400,1200,")  # kleine: 25 fps -> frames 10..30
    index.write_text("\n".join(lines) + "\n")
    first = next(read_poses(tmp_path / "lex"))
    assert first.num_frames == 20


def test_api_pose_validation():
    with pytest.raises(ValueError, match="NaN"):
        Pose(np.full((2, 50, 3), np.nan), np.ones((2, 50)), fps=25)
    with pytest.raises(ValueError, match="joints"):
        Pose(np.zeros((2, 49, 3)), np.ones((2, 49)), fps=25)

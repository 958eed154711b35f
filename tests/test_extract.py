"""Video -> .pose extraction: the npz -> .pose conversion always; the real MediaPipe run only where
a mediapipe environment exists (bash scripts/setup_mediapipe.sh)."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from signllm.cli.data import register_extract
from signllm.data import extract as ex
from signllm.data.formats.poseformat import read_pose_file
from signllm.errors import DataError, UsageError
from signllm.skeleton import LEFT_HAND_ROOT, LEFT_SHOULDER, RIGHT_HAND_ROOT, RIGHT_SHOULDER

VIDEO = Path(__file__).resolve().parents[1] / "signllm/assets/samples/video/test_video.mp4"


def _mediapipe_python() -> Path | None:
    try:
        return ex.find_mediapipe_python()
    except UsageError:
        return None


MP_PYTHON = _mediapipe_python()
needs_mediapipe = pytest.mark.skipif(
    MP_PYTHON is None, reason="no mediapipe environment (bash scripts/setup_mediapipe.sh)"
)
# The worker opens the video with cv2 before importing mediapipe, so our own interpreter (cv2 from
# the dev extras, no mediapipe) exercises the bad-video and bad-environment paths.
needs_cv2 = pytest.mark.skipif(importlib.util.find_spec("cv2") is None, reason="needs cv2")
HAS_MEDIAPIPE_HERE = importlib.util.find_spec("mediapipe") is not None


def synthetic_landmarks(t: int = 6, n_face: int = 468, width: int = 640, height: int = 480):
    """Worker output for a person with shoulders at x=0.4/0.6; left hand missing in frame 2."""
    rng = np.random.default_rng(0)
    pose = np.zeros((t, 33, 4), np.float32)
    pose[..., :2] = rng.uniform(0.3, 0.7, (t, 33, 2))
    pose[..., 2] = -0.5
    pose[..., 3] = 0.9
    pose[:, 11, :2] = (0.6, 0.5)  # LEFT_SHOULDER (the subject's left: image right)
    pose[:, 12, :2] = (0.4, 0.5)  # RIGHT_SHOULDER
    pose[:, 0, :2] = (0.5, 0.3)  # NOSE
    hand = rng.uniform(0.2, 0.8, (t, 21, 3)).astype(np.float32)
    left_found = np.ones(t, bool)
    left_found[2] = False
    return {
        "pose": pose,
        "pose_found": np.ones(t, bool),
        "face": rng.uniform(0, 1, (t, n_face, 3)).astype(np.float32),
        "face_found": np.ones(t, bool),
        "left_hand": np.where(left_found[:, None, None], hand, 0).astype(np.float32),
        "left_hand_found": left_found,
        "right_hand": hand,
        "right_hand_found": np.ones(t, bool),
        "pose_world": pose * 0.1,
        "pose_world_found": np.ones(t, bool),
        "fps": np.float64(29.97),
        "width": np.int64(width),
        "height": np.int64(height),
        "frames": np.int64(t),
        "face_limbs": np.array([[0, 1], [1, 2], [467, 477]]),
    }


# ---------------------------------------------------------------- (a) npz -> .pose, no mediapipe
@pytest.mark.parametrize("n_face", [468, 478])
def test_npz_to_pose_layout_and_reader(tmp_path, n_face):
    from pose_format import Pose as PFPose

    lm = synthetic_landmarks(n_face=n_face)
    np.savez(tmp_path / "lm.npz", **lm)
    out = ex.write_landmarks_pose(tmp_path / "lm.npz", tmp_path / "clip.pose")

    pf = PFPose.read(out.read_bytes())
    comps = pf.header.components
    assert [(c.name, len(c.points), c.format) for c in comps] == [
        ("POSE_LANDMARKS", 33, "XYZC"),
        ("FACE_LANDMARKS", n_face, "XYZC"),
        ("LEFT_HAND_LANDMARKS", 21, "XYZC"),
        ("RIGHT_HAND_LANDMARKS", 21, "XYZC"),
        ("POSE_WORLD_LANDMARKS", 33, "XYZC"),
    ]
    assert comps[0].points[11:13] == ["LEFT_SHOULDER", "RIGHT_SHOULDER"]
    assert comps[2].points[:2] == ["WRIST", "THUMB_CMC"] and comps[1].points[-1] == str(n_face - 1)
    assert len(comps[0].limbs) == 35 and len(comps[2].limbs) == 21
    assert len(comps[1].limbs) == (3 if n_face == 478 else 2)  # iris limb only with 478 points
    assert (pf.header.dimensions.width, pf.header.dimensions.height) == (640, 480)
    data, conf = np.asarray(pf.body.data.data)[:, 0], np.asarray(pf.body.confidence)[:, 0]
    # pose-format's convention: x * width, y * height, z unscaled; body confidence = visibility.
    np.testing.assert_allclose(data[0, 11], [0.6 * 640, 0.5 * 480, -0.5], rtol=1e-6)
    np.testing.assert_allclose(conf[:, :33], 0.9, rtol=1e-6)
    lh = slice(33 + n_face, 33 + n_face + 21)
    assert (conf[2, lh] == 0).all() and (data[2, lh] == 0).all() and (conf[1, lh] == 1).all()

    pose = read_pose_file(out)  # our reader maps it onto the 50-joint skeleton
    assert pose.data.shape == (6, 50, 3) and pose.fps == pytest.approx(29.97, rel=1e-5)
    assert pose.meta.extra["frame_size"] == [640, 480]
    np.testing.assert_allclose(pose.data[:, LEFT_SHOULDER, 0], 0.6 * 640, rtol=1e-6)
    np.testing.assert_allclose(pose.data[:, RIGHT_SHOULDER, 0], 0.4 * 640, rtol=1e-6)
    assert (pose.confidence[2, LEFT_HAND_ROOT + 1 :][:20] == 0).all()  # missing hand stays missing
    assert (pose.confidence[:, RIGHT_HAND_ROOT + 1 : RIGHT_HAND_ROOT + 21] == 1).all()
    assert read_pose_file(out, variant="world").data.shape == (6, 50, 3)


def test_npz_without_limbs_or_fps_still_converts(tmp_path):
    lm = synthetic_landmarks()
    del lm["face_limbs"]
    lm["fps"] = np.float64(0.0)  # some containers carry no frame rate
    with pytest.warns(UserWarning, match="assuming 25 fps"):
        pf = ex.landmarks_to_pose(lm, "clip.webm")
    assert pf.body.fps == 25.0 and pf.header.components[1].limbs == []


def test_malformed_landmarks_name_the_source():
    lm = synthetic_landmarks()
    del lm["right_hand_found"]
    with pytest.raises(DataError, match=r"clip\.mp4.*right_hand_found"):
        ex.landmarks_to_pose(lm, "clip.mp4")
    lm = synthetic_landmarks()
    lm["face"] = lm["face"][:, :100]
    with pytest.raises(DataError, match=r"clip\.mp4.*face points"):
        ex.landmarks_to_pose(lm, "clip.mp4")


# ---------------------------------------------------------------- (c) finding the environment
def test_missing_environment_gives_install_hint(tmp_path, monkeypatch):
    monkeypatch.delenv(ex.ENV_VAR, raising=False)
    monkeypatch.setattr(ex, "REPO_ROOT", tmp_path / "repo")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match=r"bash scripts/setup_mediapipe\.sh"):
        ex.find_mediapipe_python()
    with pytest.raises(UsageError, match="setup_mediapipe"):
        ex.extract_videos([VIDEO], tmp_path / "out", progress=False)

    monkeypatch.setenv(ex.ENV_VAR, str(tmp_path / "nope" / "python"))
    with pytest.raises(UsageError, match=r"SIGNLLM_MEDIAPIPE_PYTHON=.*nope.*no such interpreter"):
        ex.find_mediapipe_python()

    fake = tmp_path / ".venv-mediapipe" / "bin" / "python"  # found in the current directory
    fake.parent.mkdir(parents=True)
    fake.touch()
    monkeypatch.delenv(ex.ENV_VAR)
    assert ex.find_mediapipe_python() == fake.absolute()


# ---------------------------------------------------------------- (d) bad input
def test_missing_and_empty_videos(tmp_path):
    with pytest.raises(DataError, match=r"nothere\.mp4: no such file"):
        ex.extract_video(tmp_path / "nothere.mp4", tmp_path / "o.pose", python=sys.executable)
    (tmp_path / "empty.mp4").touch()
    with pytest.raises(DataError, match=r"empty\.mp4: empty file"):
        ex.extract_video(tmp_path / "empty.mp4", tmp_path / "o.pose", python=sys.executable)
    (tmp_path / "nothing").mkdir()
    with pytest.raises(DataError, match=r"nothing: no video files"):
        ex.collect_videos([tmp_path / "nothing"])
    with pytest.raises(UsageError, match="model_complexity"):
        ex.extract_video(VIDEO, tmp_path / "o.pose", python=sys.executable, model_complexity=3)
    assert not (tmp_path / "o.pose").exists()


def test_same_stem_twice_and_bad_workers(tmp_path):
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "clip.mp4").write_bytes(b"x")
    with pytest.raises(UsageError, match="would both write"):
        ex.extract_videos([tmp_path / "a", tmp_path / "b"], tmp_path / "out", python=sys.executable)
    with pytest.raises(UsageError, match="workers"):
        ex.extract_videos([VIDEO], tmp_path / "out", workers=0, python=sys.executable)


def _broken(tmp_path: Path) -> Path:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"this is not a video " * 200)
    return bad


@needs_cv2
def test_broken_video_is_a_data_error_naming_it(tmp_path):
    bad = _broken(tmp_path)
    with pytest.raises(DataError, match=r"broken\.mp4: OpenCV cannot open"):
        ex.extract_video(bad, tmp_path / "out" / "broken.pose", python=sys.executable)
    cut = tmp_path / "cut.mp4"  # a real mp4 cut after its header: opens, decodes nothing
    cut.write_bytes(VIDEO.read_bytes()[:20000])
    with pytest.raises(DataError, match=r"cut\.mp4: no frame could be decoded"):
        ex.extract_video(cut, tmp_path / "out" / "cut.pose", python=sys.executable)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@needs_cv2
def test_keep_going_reports_failures_and_cli_exits_2(tmp_path, capsys):
    bad = _broken(tmp_path)
    report = ex.extract_videos([bad], tmp_path / "out", python=sys.executable, keep_going=True,
                               progress=False)  # fmt: skip
    assert report.written == [] and [v for v, _ in report.failed] == [bad]

    parser = argparse.ArgumentParser()
    register_extract(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["extract", str(bad), "-o", str(tmp_path / "out"), "--keep-going",
                              "--python", sys.executable])  # fmt: skip
    assert args.func(args) == 2
    err = capsys.readouterr().err
    assert "broken.mp4" in err and "OpenCV cannot open" in err


@needs_cv2
@pytest.mark.skipif(HAS_MEDIAPIPE_HERE, reason="this interpreter has mediapipe")
def test_environment_without_mediapipe_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match=r"not usable.*mediapipe.*setup_mediapipe"):
        ex.extract_video(VIDEO, tmp_path / "o.pose", python=sys.executable, progress=False)


# ---------------------------------------------------------------- (b) the real thing
@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("extract")
    report = ex.extract_videos([VIDEO], out, progress=False)
    assert report.written == [out / "test_video.pose"] and not report.failed
    return out


@needs_mediapipe
def test_extract_bundled_video(extracted):
    from pose_format import Pose as PFPose

    path = extracted / "test_video.pose"
    pf = PFPose.read(path.read_bytes())
    assert [len(c.points) for c in pf.header.components] == [33, 468, 21, 21, 33]
    assert len(pf.header.components[1].limbs) == 2556  # FACEMESH_TESSELATION

    pose = read_pose_file(path)
    assert pose.num_frames == 58
    assert pose.fps == pytest.approx(29.9, abs=0.1)
    assert pose.meta.extra["frame_size"] == [540, 720]
    body = (pose.confidence[:, :8] > 0).all(axis=1)
    assert body.sum() >= 55  # 58/58 with mediapipe 0.10.21
    width = np.linalg.norm(
        pose.data[:, LEFT_SHOULDER, :2] - pose.data[:, RIGHT_SHOULDER, :2], axis=1
    )
    assert (width[body] > 100).all()  # pixels; the person fills the 540-wide frame
    assert (
        pose.data[body][:, LEFT_SHOULDER, 0].mean() > pose.data[body][:, RIGHT_SHOULDER, 0].mean()
    )


@needs_mediapipe
def test_extract_resumes_and_skips_done_videos(extracted):
    before = (extracted / "test_video.pose").stat().st_mtime_ns
    report = ex.extract_videos([VIDEO.parent], extracted, progress=False)
    assert report.skipped == [extracted / "test_video.pose"] and report.written == []
    assert (extracted / "test_video.pose").stat().st_mtime_ns == before

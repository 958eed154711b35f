"""Rendering on the real samples: nothing blank, nothing cropped, files that real decoders accept."""

from __future__ import annotations

import os
import re
from pathlib import Path

import av
import numpy as np
import pytest

from signllm.errors import DataError, UsageError
from signllm.pose import Pose
from signllm.render import (
    bvh_forward_kinematics,
    draw_frames,
    fit_to_canvas,
    read_bvh,
    render,
    write_bvh,
    write_video,
)
from signllm.render.bvh import _euler_zxy, _swing
from signllm.render.skeleton_video import palette_colours
from signllm.skeleton import LEFT_SHOULDER, RIGHT_SHOULDER


def _first(path: Path, index: int = 0) -> Pose:
    from signllm.data.formats import read_poses

    for i, pose in enumerate(read_poses(path)):
        if i == index:
            return pose
    raise AssertionError(f"{path} has fewer than {index + 1} clips")


@pytest.fixture(scope="module")
def phoenix(samples: Path) -> Pose:  # 3D, normalised units around the neck, 42 frames
    return _first(samples / "phoenix14t" / "dev.skels")


@pytest.fixture(scope="module")
def how2sign(samples: Path) -> Pose:  # 2D pixels of a 1280x720 frame
    return _first(samples / "how2sign" / "openpose_json").select_frames(slice(0, 40))


@pytest.fixture(scope="module")
def lexicon(samples: Path) -> Pose:  # MediaPipe pixels, 24 fps, hands missing in many frames
    pose = _first(samples / "mediapipe_lexicon", 1)
    assert pose.meta.id == "sgg/kinder" and pose.missing_fraction > 0.3
    return pose


@pytest.fixture(params=["phoenix", "how2sign", "lexicon"])
def any_pose(request) -> Pose:
    return request.getfixturevalue(request.param)


def _scaled(pose: Pose, scale: float, shift: float) -> Pose:
    out = pose.copy()
    out.data = np.where(pose.mask[..., None], pose.data * scale + shift, 0).astype(np.float32)
    return out


# --- fitting and drawing --------------------------------------------------------------------
@pytest.mark.parametrize("size", [(512, 512), (640, 360), (200, 600)])
def test_fit_keeps_every_observed_joint_inside_and_fills_the_canvas(any_pose, size):
    w, h = size
    margin = 0.08
    xy, tf = fit_to_canvas(any_pose, w, h, margin)  # (t, j, 2)
    seen = any_pose.mask
    pts = xy[seen]
    assert np.isfinite(pts).all() and np.isnan(xy[~seen]).all()
    assert (pts >= 0).all() and (pts[:, 0] <= w - 1).all() and (pts[:, 1] <= h - 1).all()
    span = pts.max(axis=0) - pts.min(axis=0)
    # Uniform scale: the tighter axis fills the canvas minus the margins, the other fits inside.
    fill = span / (np.array([w - 1, h - 1]) * (1 - 2 * margin))
    assert fill.max() == pytest.approx(1.0, abs=1e-6) and fill.min() > 0.05
    # Aspect ratio kept and y stays down: one positive scale for both axes.
    assert tf.scale > 0
    np.testing.assert_allclose(tf.apply(any_pose.data)[seen], pts, atol=1e-6)


def test_fit_ignores_units_and_offsets(phoenix):
    """Normalised units, pixels or anything in between (what `normalize` does) draw the same."""
    xy, _ = fit_to_canvas(phoenix)
    for scale, shift in ((1e-3, 0.0), (640.0, 360.0), (0.2, -7.0)):
        xy2, _ = fit_to_canvas(_scaled(phoenix, scale, shift))
        np.testing.assert_allclose(xy2, xy, atol=1e-3)


def test_fit_rejects_a_pose_with_nothing_observed(phoenix):
    empty = phoenix.copy()
    empty.confidence[:] = 0
    with pytest.raises(DataError, match="no observed joint"):
        fit_to_canvas(empty)


def test_frames_are_drawn_and_never_blank_or_cropped(any_pose):
    w, h = 256, 192
    frames = list(draw_frames(any_pose, w, h))
    assert len(frames) == any_pose.num_frames
    for img, seen in zip(frames, any_pose.mask, strict=True):
        assert img.shape == (h, w, 3) and img.dtype == np.uint8
        ink = (img < 250).any(axis=-1)  # (h, w) non-white pixels
        if seen.any():
            assert ink.sum() > 50
        # The margin keeps every stroke off the border: nothing was cut by the canvas edge.
        assert (
            not ink[0].any() and not ink[-1].any() and not ink[:, 0].any() and not ink[:, -1].any()
        )


def test_caption_has_its_own_strip(phoenix):
    w, h = 320, 320
    plain = next(draw_frames(phoenix, w, h))
    cap = next(draw_frames(phoenix, w, h, caption="und nun die Wettervorhersage für Mittwoch"))
    ink_plain = (plain < 250).any(axis=-1)
    ink_cap = (cap < 250).any(axis=-1)
    rows = np.flatnonzero(ink_cap.any(axis=1))
    assert rows.max() > h * 0.85  # text at the bottom
    assert not ink_plain[int(h * 0.9) :].any()  # the skeleton alone stays above it
    assert ink_cap.sum() > ink_plain.sum() * 0.5


def test_missing_limbs_are_skipped(lexicon):
    """A frame whose hands are missing draws only the body."""
    sk = lexicon.skel
    hands = [j for j in sk.groups["hands"] if not sk.joints[j].endswith("hand_wrist")]
    t = int(np.flatnonzero(~lexicon.mask[:, hands].any(axis=1))[0])
    img = list(draw_frames(lexicon, 256, 256))[t]
    finger_rgb = {tuple(c) for c, (_a, b) in zip(lexicon.skel.limb_colours, lexicon.skel.limbs,
                                                 strict=True) if b in hands}  # fmt: skip
    body_rgb = {tuple(c) for c in lexicon.skel.limb_colours} - finger_rgb
    pixels = {tuple(p) for p in img.reshape(-1, 3)}
    assert not pixels & finger_rgb and pixels & body_rgb


# --- mp4 ------------------------------------------------------------------------------------
def test_mp4_is_browser_playable_h264(phoenix, tmp_path):
    out = write_video(phoenix, tmp_path / "clip.mp4", width=256, height=192, caption="wetter")
    data = out.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")  # +faststart: playable while downloading
    drawn = list(draw_frames(phoenix, 256, 192, caption="wetter"))
    with av.open(str(out)) as f:
        stream = f.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert (stream.codec_context.width, stream.codec_context.height) == (256, 192)
        assert float(stream.average_rate) == pytest.approx(phoenix.fps)
        decoded = [fr.to_ndarray(format="rgb24") for fr in f.decode(stream)]
    assert len(decoded) == phoenix.num_frames
    for got, want in zip(decoded, drawn, strict=True):
        assert (got < 200).any(axis=-1).sum() > 50  # not blank
        assert np.abs(got.astype(int) - want).mean() < 3  # and what we drew


def test_mp4_fps_override_and_odd_size(how2sign, tmp_path):
    out = write_video(how2sign, tmp_path / "a.mp4", fps=29.97, width=160, height=120)
    with av.open(str(out)) as f:
        assert float(f.streams.video[0].average_rate) == pytest.approx(29.97, abs=1e-3)
    with pytest.raises(UsageError, match="even"):
        write_video(how2sign, tmp_path / "b.mp4", width=161, height=120)
    assert not (tmp_path / "b.mp4").exists()


# --- gif ------------------------------------------------------------------------------------
def _gif_delays(data: bytes) -> list[int]:
    """Frame delays (1/100 s) from the Graphic Control Extensions."""
    return [
        data[m.start() + 4] | data[m.start() + 5] << 8 for m in re.finditer(b"\x21\xf9\x04", data)
    ]


def test_gif_frames_delays_and_exact_colours(lexicon, tmp_path):
    assert lexicon.fps == 24
    out = write_video(lexicon, tmp_path / "sign.gif", width=200, height=160, caption="Kinder")
    data = out.read_bytes()
    assert data[:6] == b"GIF89a" and b"NETSCAPE2.0" in data  # loops
    delays = _gif_delays(data)
    n = lexicon.num_frames
    assert len(delays) == n
    assert set(delays) <= {4, 5}  # 24 fps = 4.17/100 s: 4s and 5s ...
    assert sum(delays) == pytest.approx(n * 100 / 24, abs=1)  # ... adding up to the exact length
    drawn = list(draw_frames(lexicon, 200, 160, caption="Kinder", antialias=False))
    palette = {tuple(c) for c in palette_colours(lexicon)}
    with av.open(str(out)) as f:
        decoded = [fr.to_ndarray(format="rgb24") for fr in f.decode(f.streams.video[0])]
    assert len(decoded) == n
    np.testing.assert_array_equal(np.stack(decoded), np.stack(drawn))  # lossless, frame by frame
    packed = np.stack(drawn).astype(np.int32) @ np.array([1 << 16, 1 << 8, 1])
    assert {(v >> 16, (v >> 8) & 255, v & 255) for v in np.unique(packed)} <= palette


def test_gif_above_50_fps_drops_frames_evenly(phoenix, tmp_path):
    fast = phoenix.copy()
    fast.fps = 100.0
    out = write_video(fast, tmp_path / "fast.gif", width=64, height=64)
    delays = _gif_delays(out.read_bytes())
    assert len(delays) == -(-phoenix.num_frames // 2) and set(delays) == {2}


# --- errors and atomic writes ----------------------------------------------------------------
def test_unknown_extension_is_a_usage_error(phoenix, tmp_path):
    for name in ("clip.avi", "clip", "clip.pose"):
        with pytest.raises(UsageError, match="extension"):
            render(phoenix, tmp_path / name)
    with pytest.raises(UsageError, match="write_poses"):
        render(phoenix, tmp_path / "clip.skels")
    with pytest.raises(UsageError):
        write_video(phoenix, tmp_path / "clip.webm")
    with pytest.raises(UsageError):
        write_bvh(phoenix, tmp_path / "clip.fbx")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("name", ["out.mp4", "out.gif", "out.bvh"])
def test_failed_writes_leave_nothing_and_keep_the_old_file(phoenix, tmp_path, name):
    empty = phoenix.copy()
    empty.confidence[:] = 0  # nothing to draw: fails after the output was opened
    with pytest.raises(DataError):
        render(empty, tmp_path / name)
    assert not list(tmp_path.iterdir())  # no file, no temporary file
    target = tmp_path / name
    target.write_bytes(b"old")
    with pytest.raises(DataError):
        render(empty, target)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == [name]


# --- BVH --------------------------------------------------------------------------------------
def test_euler_zxy_round_trip():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(200, 3))
    r = _swing(np.array([0.0, 0.0, 1.0]), q) @ _swing(np.array([1.0, 0.0, 0.0]), q[::-1])
    z, x, y = np.radians(_euler_zxy(r)).T

    def rot(axis: int, a: np.ndarray) -> np.ndarray:
        c, s = np.cos(a), np.sin(a)
        m = np.zeros((len(a), 3, 3))
        i, j = [(1, 2), (2, 0), (0, 1)][axis]
        m[:, axis, axis] = 1
        m[:, i, i], m[:, j, j], m[:, i, j], m[:, j, i] = c, c, -s, s
        return m

    np.testing.assert_allclose(rot(2, z) @ rot(0, x) @ rot(1, y), r, atol=1e-9)


def _bvh_positions(pose: Pose, path: Path) -> tuple[np.ndarray, np.ndarray, float]:
    """FK positions of our 50 joints (t, 50, 3), the pose's in BVH coordinates, shoulder width."""
    tf = write_bvh(pose, path)
    bvh = read_bvh(path)
    fk = bvh_forward_kinematics(bvh)  # (t, n, 3)
    got = fk[:, [bvh.names.index(j) for j in pose.skel.joints]]
    want = tf.apply(pose.data)
    both = pose.mask[:, RIGHT_SHOULDER] & pose.mask[:, LEFT_SHOULDER]
    width = np.median(
        np.linalg.norm(want[both, RIGHT_SHOULDER] - want[both, LEFT_SHOULDER], axis=-1)
    )
    return got, want, float(width)


def _bone_angles(got: np.ndarray, want: np.ndarray, pose: Pose) -> np.ndarray:
    """Degrees between FK bones and data bones, where both ends were observed."""
    out = []
    for p, c in pose.skel.bones:
        ok = pose.mask[:, c] & pose.mask[:, p]
        a, b = got[ok, c] - got[ok, p], want[ok, c] - want[ok, p]
        big = np.linalg.norm(b, axis=-1) > 1e-3  # the zero-length wrist bone has no direction
        cos = (a * b).sum(-1) / np.maximum(
            np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-12
        )
        out.append(np.degrees(np.arccos(np.clip(cos[big], -1, 1))))
    return np.concatenate(out)


def test_bvh_structure_and_fk_on_phoenix(phoenix, tmp_path):
    path = tmp_path / "clip.bvh"
    got, want, width = _bvh_positions(phoenix, path)
    bvh = read_bvh(path)
    # Our 50 joints + the root + 2 collars + 5 metacarpals per hand (End Sites are not joints).
    assert len(bvh.names) == 63 and set(phoenix.skel.joints) <= set(bvh.names)
    assert bvh.names[0] == "root" and bvh.parents[0] == -1
    assert bvh.frames.shape == (phoenix.num_frames, 6 + 3 * 62)
    assert bvh.frame_time == pytest.approx(1 / phoenix.fps)
    assert path.read_text().count("End Site") == 11  # 10 fingertips + the nose
    assert width == pytest.approx(38.0, rel=1e-6)  # default scale: shoulder width in cm
    # Every bone points exactly where the data's does; only lengths are fixed at their medians
    # (PHOENIX's lifted skeletons breathe by ~3% from frame to frame).
    assert _bone_angles(got, want, phoenix).max() < 0.05
    err = np.linalg.norm(got - want, axis=-1)[phoenix.mask] / width
    assert err.mean() < 0.05
    # BVH is Y up: the nose is above the neck.
    assert (got[:, 0, 1] > got[:, 1, 1]).all()


def test_bvh_reproduces_a_rigid_skeleton_exactly(phoenix, tmp_path):
    """With constant bone lengths (what BVH can hold), FK gives the positions back."""
    sk = phoenix.skel
    d = phoenix.data.astype(np.float64)
    rigid = d.copy()
    for p, c in sk.bones:  # parents come first: rebuild along the tree with median lengths
        v = d[:, c] - d[:, p]
        length = np.median(np.linalg.norm(v, axis=-1))
        n = np.linalg.norm(v, axis=-1, keepdims=True)
        rigid[:, c] = rigid[:, p] + v / np.where(n > 0, n, 1) * length
    pose = phoenix.copy()
    pose.data = rigid.astype(np.float32)
    got, want, width = _bvh_positions(pose, tmp_path / "rigid.bvh")
    assert np.linalg.norm(got - want, axis=-1).max() / width < 1e-3


def test_bvh_with_missing_hands_and_2d_input(lexicon, how2sign, tmp_path):
    for pose in (lexicon, how2sign):
        path = render(pose, tmp_path / f"{pose.meta.id.replace('/', '_')}.bvh")
        bvh = read_bvh(path)
        assert len(bvh.names) == 63 and len(bvh.frames) == pose.num_frames
        assert np.isfinite(bvh.frames).all()
        got, want, _ = _bvh_positions(pose, path)
        assert _bone_angles(got, want, pose).max() < 0.05  # observed bones still exact


def test_bvh_hand_never_seen_gets_a_template_hand(lexicon, tmp_path):
    pose = lexicon.copy()
    pose.confidence[:, list(pose.skel.groups["left_hand"])] = 0
    render(pose, tmp_path / "one_hand.bvh")
    bvh = read_bvh(tmp_path / "one_hand.bvh")
    off = {n: bvh.offsets[i] for i, n in enumerate(bvh.names)}
    width = np.linalg.norm(off["right_shoulder"] - off["left_shoulder"])
    for finger in ("thumb_cmc", "index_mcp", "middle_pip", "pinky_tip"):
        v = off[f"left_hand_{finger}"]
        assert v[0] > 0 and 0.02 < np.linalg.norm(v) / width < 0.3  # along the left arm (+X)
    assert off["left_hand_thumb_cmc"][2] > 0  # thumb forward, palm down
    assert np.isfinite(bvh.frames).all()


def test_bvh_scale_and_fps(phoenix, tmp_path):
    tf = write_bvh(phoenix, tmp_path / "a.bvh", scale=10.0, fps=50)
    bvh = read_bvh(tmp_path / "a.bvh")
    assert tf.scale == 10.0 and bvh.frame_time == pytest.approx(0.02)
    with pytest.raises(UsageError, match="scale"):
        write_bvh(phoenix, tmp_path / "b.bvh", scale=-1)


def test_read_bvh_names_the_bad_line(tmp_path):
    bad = tmp_path / "bad.bvh"
    bad.write_text(
        "HIERARCHY\nROOT hips\n{\n  OFFSET 0 0\n}\nMOTION\nFrames: 0\nFrame Time: 0.04\n"
    )
    with pytest.raises(DataError, match=r"bad\.bvh:4.*OFFSET"):
        read_bvh(bad)
    with pytest.raises(DataError, match="no such file"):
        read_bvh(tmp_path / "missing.bvh")


def test_clip_strip_draws_a_checkpoint_beside_ground_truth(tiny_store, tmp_path: Path) -> None:
    """scripts/clip_strip.py: two rows per clip (model, ground truth) from a trained checkpoint."""
    import subprocess
    import sys

    from conftest import single_thread, tiny_config

    from signllm.data.store import Store
    from signllm.train.trainer import train

    store = tiny_store(ase=False)
    with single_thread():
        ck = train(tiny_config(store, tmp_path / "run", steps=2, max_clip_frames=32)).checkpoint
    ids = Store(store).ids("train")[:2]
    out = tmp_path / "strip.png"
    script = Path(__file__).resolve().parents[1] / "scripts" / "clip_strip.py"
    run = subprocess.run(
        [sys.executable, str(script), "--model", ck, "--data", str(store), "-o", str(out), *ids],
        capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    import cv2

    img = cv2.imread(str(out))
    assert img.shape[0] > 4 * 200 and img.shape[1] >= 6 * 200  # 4 rows of 6 frames
    assert (img < 128).any()  # something drawn
    bad = subprocess.run(
        [sys.executable, str(script), "--model", ck, "--data", str(store), "-o", str(out), "no/such"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert bad.returncode != 0 and "no clip 'no/such'" in bad.stderr
    assert "Traceback" not in bad.stderr

"""2D -> 3D lifting by inverse kinematics (signllm.data.lift)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from signllm.data import lift as lift_mod
from signllm.data.clean import clean, denormalize, normalize
from signllm.data.formats.openpose_json import read_openpose_folder
from signllm.data.lift import bone_length_pairs, bone_lengths, lift, lift_batch, shoulder_width
from signllm.errors import UsageError
from signllm.pose import Pose
from signllm.skeleton import PROMPT2SIGN50 as SK

SAMPLES = Path(__file__).resolve().parents[1] / "signllm/assets/samples/how2sign/openpose_json"
SHORT_CLIP = SAMPLES / "_2FBDaOPYig_4-3-rgb_front"  # 62 frames


def synthetic_clip(t: int = 100, seed: int = 0) -> tuple[np.ndarray, dict[int, float], Pose]:
    """A 3D signer built by walking the tree, and its orthographic 2D projection in pixels.

    Bone lengths are fixed and equal left/right; directions move smoothly; each bone's depth keeps
    one sign (the lift's anatomical prior) and touches the image plane once, so its length shows
    in 2D at that frame. Returns (positions (t, j, 3), {child joint: length}, 2D Pose).
    """
    rng = np.random.default_rng(seed)
    names, mirror = SK.joints, SK.mirror
    tt = np.arange(t) / t
    pos = np.zeros((t, SK.num_joints, 3))
    pos[:, 0] = np.stack(
        [640 + 20 * np.sin(2 * np.pi * tt), 200 + 10 * np.cos(2 * np.pi * tt), 0 * tt], -1
    )
    lengths: dict[int, float] = {}
    shared: dict[int, float] = {}
    for c, p in enumerate(SK.parents):
        if p < 0:
            continue
        if names[c].endswith("_hand_wrist"):  # same point as the body's wrist
            pos[:, c] = pos[:, p]
            continue
        key = min(c, int(mirror[c]))
        lengths[c] = shared.setdefault(key, rng.uniform(80, 160) if c < 8 else rng.uniform(15, 35))
        phase = rng.uniform(0, 2 * np.pi)
        base = rng.normal(size=2)
        xy = base / np.linalg.norm(base) + 0.2 * np.sin(2 * np.pi * tt + phase)[:, None]  # (t, 2)
        sign = -1.0 if names[c] == "neck" or names[c].endswith("shoulder") else 1.0
        z = sign * rng.uniform(0.5, 1.0) * (1 - np.cos(2 * np.pi * tt + phase)) / 2  # (t,)
        u = np.concatenate([xy, z[:, None]], -1)
        u /= np.linalg.norm(u, axis=-1, keepdims=True)
        pos[:, c] = pos[:, p] + lengths[c] * u
    flat = pos.copy()
    flat[..., 2] = 0
    pose = Pose(data=flat, confidence=np.ones(pos.shape[:2]), fps=25, ndim=2)
    return pos, lengths, pose


def fitted_lengths(pose: Pose) -> dict[int, float]:
    """Mean 3D length of each bone of the lifted pose, keyed by child joint."""
    return {
        c: float(np.linalg.norm(pose.data[:, c] - pose.data[:, p], axis=-1).mean())
        for c, p in enumerate(SK.parents)
        if p >= 0 and not SK.joints[c].endswith("_hand_wrist")
    }


def bone_z(pos: np.ndarray) -> np.ndarray:
    """(t, nb) depth extent of every bone (child z - parent z)."""
    p = np.array([p for p in SK.parents if p >= 0])
    c = np.array([c for c, p in enumerate(SK.parents) if p >= 0])
    return pos[:, c, 2] - pos[:, p, 2]


@pytest.fixture(scope="module")
def synth() -> tuple[np.ndarray, dict[int, float], Pose]:
    return synthetic_clip()


def test_gradient_matches_autograd() -> None:
    """The hand-written gradient is the autograd gradient of the documented loss."""
    torch.manual_seed(0)
    tree = lift_mod._tree("prompt2sign50")
    nb, b, t, j = len(tree.bones), 2, 23, SK.num_joints
    f64 = torch.float64
    lens = torch.tensor([23, 17])
    valid = (torch.arange(t)[None] < lens[:, None]).to(f64)  # (b, t): clip 2 is padded
    pr = lift_mod._Problem(
        target=torch.randn(j, b, t, 2, dtype=f64),
        weight=torch.rand(j, b, t, dtype=f64) * valid / (lens[:, None] * j),
        pair=valid[:, 1:] / ((lens[:, None] - 1) * j),
        length_class=torch.as_tensor(tree.length_class),
        ancestors=torch.as_tensor(tree.ancestors, dtype=f64),
        time_scales=(4, 16),
        length_weight=0.001,
        motion_weight=0.1,
    )
    params = [
        torch.randn(b, tree.num_classes, dtype=f64) * 0.3,
        torch.randn(b, t, 3, dtype=f64),
        torch.randn(nb, b, t, 3, dtype=f64),
        torch.randn(nb, b, 6, 3, dtype=f64) * 0.1,
        torch.randn(nb, b, 2, 3, dtype=f64) * 0.1,
        torch.randn(b, 6, 3, dtype=f64) * 0.1,
        torch.randn(b, 2, 3, dtype=f64) * 0.1,
    ]
    leaves = [p.clone().requires_grad_() for p in params]
    ref = lift_mod._objective(leaves, pr)
    ref.backward()
    loss, grads = lift_mod._loss_and_grads(params, pr)
    assert loss.item() == pytest.approx(ref.item(), rel=1e-12)
    for leaf, g in zip(leaves, grads, strict=True):
        torch.testing.assert_close(g, leaf.grad, rtol=1e-9, atol=1e-12)


def test_lift_recovers_synthetic_skeleton(synth) -> None:
    pos, lengths, pose = synth
    # A near-zero length penalty: the paper's 0.001 shrinks short bones on purpose (next test).
    out = lift(pose, length_weight=1e-5)
    sw = shoulder_width(pose)
    assert out.meta.extra["lift"]["reprojection_error_rel"] < 0.003
    fit = fitted_lengths(out)
    for c, true in lengths.items():
        assert fit[c] == pytest.approx(true, rel=0.03), SK.joints[c]
    # Left and right are one length, exactly; every bone keeps its length in every frame.
    bl = bone_lengths(out)
    for a, b in bone_length_pairs():
        np.testing.assert_allclose(bl[:, a], bl[:, b], atol=1e-3)
    assert bl.std(axis=0).max() < 1e-3
    # Depth is recovered up to its per-bone sign (orthographic projection cannot tell).
    err = np.abs(np.abs(bone_z(out.data)) - np.abs(bone_z(pos)))
    assert err.mean() < 0.03 * sw


def test_lift_paper_weights_on_synthetic(synth) -> None:
    _, lengths, pose = synth
    before = pose.data.copy()
    out = lift(pose)
    np.testing.assert_array_equal(pose.data, before)  # input untouched
    assert out.ndim == 3 and out.num_frames == pose.num_frames
    np.testing.assert_array_equal(out.confidence, pose.confidence)
    info = out.meta.extra["lift"]
    assert set(info) >= {"reprojection_error", "reprojection_error_rel", "steps"}
    json.dumps(info)
    assert info["steps"] == lift_mod.DEFAULT_STEPS
    assert info["reprojection_error_rel"] < 0.02
    np.testing.assert_allclose(
        out.data[..., :2], pose.data[..., :2], atol=0.05 * shoulder_width(pose)
    )
    fit = fitted_lengths(out)
    for c, true in lengths.items():  # never longer; short bones shrink under the 0.001 penalty
        assert 0.6 * true < fit[c] < 1.02 * true, SK.joints[c]


def test_missing_points_do_not_pull_the_fit(synth) -> None:
    pos, _, pose = synth
    rng = np.random.default_rng(1)
    gone = rng.random(pose.confidence.shape) < 0.15  # (t, j)
    gone[:, 0] = False  # keep the root seen (not required, keeps the comparison simple)
    holes = pose.copy()
    holes.confidence[gone] = 0
    holes.data[gone] = 0
    garbage = holes.copy()
    garbage.data[gone] = 5000.0  # what a broken reader might leave behind
    a, b = lift(holes), lift(garbage)
    np.testing.assert_allclose(a.data, b.data, atol=1e-4)
    assert (a.confidence[gone] == 0).all() and (a.data[gone] == 0).all()
    seen = ~gone
    err = np.linalg.norm(a.data[..., :2] - pos[..., :2], axis=-1)[seen].mean()
    assert err < 0.02 * shoulder_width(pose)
    # Sanity: the same garbage with confidence would wreck the fit.
    trusted = garbage.copy()
    trusted.confidence[gone] = 1.0
    bad = lift(trusted, steps=50)
    assert np.linalg.norm(bad.data[..., :2] - pos[..., :2], axis=-1)[seen].mean() > 5 * err


def test_lift_real_how2sign_clip() -> None:
    pose = read_openpose_folder(SHORT_CLIP)
    out = lift(pose)
    info = out.meta.extra["lift"]
    # Measured 5.2 px = 2.5% of the shoulder width (bench/lift.py has all five clips).
    assert info["reprojection_error_rel"] < 0.04
    assert info["reprojection_error"] == pytest.approx(
        info["reprojection_error_rel"] * shoulder_width(pose)
    )
    bl = bone_lengths(out)
    assert (bl > 0).all()
    for a, b in bone_length_pairs():
        np.testing.assert_allclose(bl[:, a], bl[:, b], atol=1e-3)
    # Depth convention: z grows towards the camera, so the signing hands are in front of the
    # shoulders (checked on all five clips: 0.4 to 1.3 shoulder widths) and the nose too.
    z = out.data[..., 2]
    shoulders = z[:, [SK.index("left_shoulder"), SK.index("right_shoulder")]].mean(1)
    for wrist in ("left_wrist", "right_wrist"):
        assert np.median(z[:, SK.index(wrist)] - shoulders) > 0.2 * shoulder_width(pose)
    assert np.median(z[:, SK.index("nose")] - shoulders) > 0


def test_clean_then_lift_then_denormalize() -> None:
    raw = read_openpose_folder(SHORT_CLIP)
    cleaned = clean(raw)
    out = lift(cleaned, steps=100)
    assert out.meta.extra["norm"] == cleaned.meta.extra["norm"]  # kept for the way back
    pixels = denormalize(out)
    assert pixels.ndim == 3
    sw = shoulder_width(raw)
    err = np.linalg.norm(pixels.data[..., :2] - raw.data[..., :2], axis=-1)[raw.confidence >= 0.3]
    assert err.mean() < 0.04 * sw


def test_lift_is_unit_free(synth) -> None:
    """Pixels in, pixels out; normalised in, normalised out: the same fit."""
    _, _, pose = synth
    direct = lift(pose, steps=100)
    norm, stats = normalize(pose)
    via = denormalize(lift(norm, steps=100), stats)
    np.testing.assert_allclose(via.data, direct.data, atol=0.01 * shoulder_width(pose))


def test_lift_batch_matches_single_and_keeps_order() -> None:
    _, _, long = synthetic_clip(90, seed=2)
    _, _, short = synthetic_clip(40, seed=3)
    short.meta.id, long.meta.id = "short", "long"
    single = [lift(long, steps=100), lift(short, steps=100)]
    for batch in (
        lift_batch([long, short], steps=100),
        lift_batch([long, short], 100, batch_size=1),
    ):
        assert [p.meta.id for p in batch] == ["long", "short"]
        for a, b in zip(batch, single, strict=True):
            assert a.num_frames == b.num_frames
            np.testing.assert_allclose(a.data, b.data, atol=0.01 * shoulder_width(b))


def test_lift_edge_cases() -> None:
    _, _, pose = synthetic_clip(30, seed=4)
    assert lift_batch([]) == []
    one = lift(pose.select_frames(slice(0, 1)), steps=20)
    assert one.num_frames == 1 and np.isfinite(one.data).all()
    start = lift(pose, steps=0)  # the tree-walk start alone already reprojects closely
    assert start.meta.extra["lift"]["reprojection_error_rel"] < 0.05
    with pytest.raises(UsageError):
        lift(pose, steps=-1)
    with pytest.raises(UsageError):
        lift_batch([pose], batch_size=0)
    with pytest.raises(UsageError):
        lift(pose.select_frames(slice(0, 0)))
    unseen = pose.copy()
    unseen.confidence[:, 29:] = 0  # the right hand is never seen
    unseen.data[:, 29:] = 0
    out = lift(unseen, steps=50)
    assert (out.data[:, 29:] == 0).all() and np.isfinite(out.data).all()
    assert out.meta.extra["lift"]["reprojection_error_rel"] < 0.03


def test_lift_float64(synth) -> None:
    _, _, pose = synth
    out = lift(pose, steps=50, dtype=torch.float64)
    assert out.data.dtype == np.float32
    assert out.meta.extra["lift"]["reprojection_error_rel"] < 0.03


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_lift_cuda_matches_cpu(synth) -> None:
    _, _, pose = synth
    cpu = lift(pose, steps=100)
    gpu = lift(pose, steps=100, device="cuda")
    np.testing.assert_allclose(gpu.data, cpu.data, atol=0.01 * shoulder_width(pose))

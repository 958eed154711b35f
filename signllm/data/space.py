"""The one signing space every clip is stored, trained and generated in.

Convention (all sources, all outputs of the build and of `translate`):

- origin: the neck joint (its median position over the clip, so the body's own sway is kept);
- unit: the signer's shoulder width, the median over the clip of the distance between the two
  shoulder joints (3D where the clip is 3D). Never the clip's coordinate spread: a clip where the
  hands move a lot must not make the body smaller;
- x: to the viewer's right, as in a front-facing video. The signer's right shoulder is at
  x = -0.5, the left at x = +0.5, and joints named `right_*` belong to the signer's right side;
- y: DOWN, as in images (the head has negative y; the renderer draws y down, so people stand
  upright);
- z: towards the camera, in the same unit: hands in front of the chest have z > 0. (x right,
  y down, z towards the viewer is a left-handed frame; it is the depth sign of the lifting and of
  the Progressive Transformers `.skels`.)

Sources and what they need (evidence from the bundled samples, docs/signing_space.png):

- How2Sign OpenPose JSON -> `lift`: already this frame (x right, y down, z towards the camera).
- MediaPipe `.pose` (lexicons, fingerspelling letters, AUTSL, pose-format's samples): x and y in
  pixels, but z in MediaPipe's normalised units (a fraction of the image width, smaller = closer
  to the camera). `formats.poseformat` multiplies z by the frame width and flips its sign, so depth
  has the same scale as x and y and the same direction as everywhere else.
- PHOENIX-2014T `.skels` (Progressive Transformers): the joints labelled `right_*` sit on the
  viewer's RIGHT (x = +0.5 after centring, all 15 bundled clips), y is down, and hands are at z > 0.
  Two fixes would put the right shoulder at x < 0: reflect x (the labels were anatomical and the
  coordinates mirrored) or swap the left/right labels (the coordinates are the camera's and the
  labels the viewer's). The data pick the second. The hand the file labels `left` is the active
  one: its wrist is held higher (median height) in 14 of the 15 clips and travels farther in 12,
  as the dominant hand of right-handed interpreters does (a reflection would leave the signers
  left-handed). And the hand chirality (palm normal (index_mcp - wrist) x (pinky_mcp - wrist)
  against the finger curl) of the hand labelled `left` has the sign of MediaPipe's right hands in
  this frame (weakly: PHOENIX hands are nearly flat). So `swap_sides` (a relabelling, no
  coordinate change) is the fix, applied when `mirror` says so.

Mirroring. `to_signing_space(pose, mirror=None)` swaps the left/right labels when the clip's
right shoulder sits on the viewer's right in most frames (a front-facing signer's right shoulder
cannot: the sides were labelled from the viewer); `mirror=True`/`False` forces it. Independently,
`right_hand_on_left` measures how often the right hand's joints sit on the body's left (x > 0 in
this frame) and `is_flagged` flags a clip where that holds for most frames: a mirrored source the
option did not fix (or a left-handed signer). The build counts both per source and language.

Going back: `meta.extra["norm"]` holds the neck and width in the source's units as
`clean.NormStats` (mean = neck, std = width), so `clean.denormalize` returns to the source's
units; `meta.extra["space"]` says what was done (mirrored, auto or forced, the flag).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ..errors import DataError
from ..pose import Pose

SPACE_KEY = "space"  # meta.extra key: what to_signing_space did
FLAG_FRACTION = 0.5  # right hand on the body's left in more than this fraction of frames: flagged


def _idx(pose: Pose, name: str) -> int:
    return pose.skel.index(name)


def body_frame(pose: Pose) -> tuple[np.ndarray, float] | None:
    """(neck (3,), shoulder width) in the pose's units, medians over the clip; None if no frame
    sees both shoulders (or the width is 0)."""
    ls, rs, nk = _idx(pose, "left_shoulder"), _idx(pose, "right_shoulder"), _idx(pose, "neck")
    m = pose.mask
    both = m[:, ls] & m[:, rs]
    if not both.any():
        return None
    d = 3 if pose.ndim == 3 else 2
    v = pose.data[both, ls, :d].astype(np.float64) - pose.data[both, rs, :d]
    width = float(np.median(np.linalg.norm(v, axis=-1)))
    if not width > 0:
        return None
    if m[:, nk].any():
        neck = np.median(pose.data[m[:, nk], nk].astype(np.float64), axis=0)
    else:  # no neck joint seen: the shoulders' mid-point (MediaPipe's neck is exactly that)
        mid = (pose.data[both, ls].astype(np.float64) + pose.data[both, rs]) / 2
        neck = np.median(mid, axis=0)
    if pose.ndim == 2:
        neck[2] = 0.0
    return neck, width


def right_shoulder_on_viewer_right(pose: Pose) -> float:
    """Fraction of frames (seeing both shoulders) whose right shoulder has the larger x; NaN if none.

    Near 1 means the sides are labelled from the viewer (or the signer shows their back)."""
    ls, rs = _idx(pose, "left_shoulder"), _idx(pose, "right_shoulder")
    both = pose.mask[:, ls] & pose.mask[:, rs]
    if not both.any():
        return float("nan")
    return float((pose.data[both, rs, 0] > pose.data[both, ls, 0]).mean())


def right_hand_on_left(pose: Pose) -> float:
    """Fraction of frames whose right-hand joints (wrist and hand, mean of the seen ones) sit on
    the body's left of the neck (larger x than the neck); NaN if the right hand is never seen."""
    sk = pose.skel
    hand = [_idx(pose, "right_wrist"), *sk.groups["right_hand"]]
    nk = _idx(pose, "neck")
    m = pose.mask[:, hand]  # (t, h)
    seen = m.any(axis=1) & pose.mask[:, nk]
    if not seen.any():
        return float("nan")
    x = pose.data[:, hand, 0]  # (t, h)
    mean_x = (x * m).sum(axis=1)[seen] / m.sum(axis=1)[seen]
    return float((mean_x > pose.data[seen, nk, 0]).mean())


def is_flagged(pose: Pose) -> bool:
    """The right hand sits on the body's left for most frames (module doc)."""
    f = right_hand_on_left(pose)
    return bool(f == f and f > FLAG_FRACTION)


def swap_sides(pose: Pose) -> Pose:
    """The same coordinates with left and right joint labels exchanged (a relabelling)."""
    perm = pose.skel.mirror
    return dataclasses.replace(
        pose,
        data=pose.data[:, perm].copy(),
        confidence=pose.confidence[:, perm].copy(),
        meta=dataclasses.replace(pose.meta, extra=dict(pose.meta.extra)),
    )


def to_signing_space(pose: Pose, mirror: bool | None = None) -> Pose:
    """The clip in the signing space (module doc): sides fixed, neck at 0, shoulder width 1.

    `mirror`: None swaps the left/right labels when the right shoulder sits on the viewer's right
    in most frames; True/False force it. Raises DataError when no frame sees both shoulders (the
    clip has no body to measure).
    """
    from .clean import NORM_KEY, NormStats

    auto = mirror is None
    if auto:
        f = right_shoulder_on_viewer_right(pose)
        mirror = bool(f == f and f > 0.5)
    if mirror:
        pose = swap_sides(pose)
    ref = body_frame(pose)
    if ref is None:
        raise DataError(
            f"clip {pose.meta.id or '(no id)'}: no frame sees both shoulders, so it cannot be "
            "placed in the signing space (origin neck, unit shoulder width)",
            pose.meta.source or None,
        )
    neck, width = ref
    seen = pose.mask[..., None]
    data = np.where(seen, (pose.data - neck) / width, 0.0).astype(np.float32)
    if pose.ndim == 2:
        data[..., 2] = 0.0
    stats = NormStats(mean=(float(neck[0]), float(neck[1]), float(neck[2])), std=width)
    extra: dict[str, Any] = dict(pose.meta.extra)
    if NORM_KEY in extra:  # already normalised once: keep the way back to the first units
        prev = NormStats.from_dict(extra[NORM_KEY])
        mean = tuple(a + prev.std * b for a, b in zip(prev.mean, stats.mean, strict=True))
        stats = NormStats(mean=mean, std=prev.std * stats.std)  # type: ignore[arg-type]
    extra[NORM_KEY] = stats.to_dict()
    out = dataclasses.replace(
        pose, data=data, confidence=pose.confidence.copy(), meta=dataclasses.replace(pose.meta)
    )
    hand_left = right_hand_on_left(out)
    extra[SPACE_KEY] = {
        "mirrored": bool(mirror),
        "mirror": "auto" if auto else bool(mirror),
        "right_hand_on_left": None if hand_left != hand_left else round(hand_left, 3),
        "flagged": is_flagged(out),
    }
    out.meta.extra = extra
    return out


def check_space(pose: Pose, tol: float = 0.05) -> list[str]:
    """What is wrong with a clip that should be in the signing space (empty list: nothing).

    Used by the tests and handy on any store clip: right shoulder at x < 0, shoulder width 1 +/-
    `tol`, neck at the origin, head above the shoulders (y down), depth bounded (|z| < 2 for 99% of
    the points).
    """
    problems = []
    ref = body_frame(pose)
    if ref is None:
        return ["no frame sees both shoulders"]
    neck, width = ref
    if abs(width - 1) > tol:
        problems.append(f"shoulder width {width:.3f}, not 1 +/- {tol}")
    if np.abs(neck).max() > tol:
        problems.append(f"neck at {np.round(neck, 3).tolist()}, not the origin")
    rs, nose = _idx(pose, "right_shoulder"), _idx(pose, "nose")
    if np.median(pose.data[pose.mask[:, rs], rs, 0]) >= 0:
        problems.append("right shoulder not at x < 0")
    if pose.mask[:, nose].any() and np.median(pose.data[pose.mask[:, nose], nose, 1]) >= 0:
        problems.append("head not above the neck (y down)")
    z = np.abs(pose.data[pose.mask][:, 2])
    if z.size and np.percentile(z, 99) >= 2:  # a stray estimation glitch may go further
        problems.append(f"depth out of range: 99th percentile of |z| {np.percentile(z, 99):.2f}")
    return problems


__all__ = [
    "FLAG_FRACTION",
    "SPACE_KEY",
    "body_frame",
    "check_space",
    "is_flagged",
    "right_hand_on_left",
    "right_shoulder_on_viewer_right",
    "swap_sides",
    "to_signing_space",
]


def keep_body(pose: Pose, lengths: np.ndarray | None = None) -> Pose:
    """The same motion on one body: every bone keeps its direction, frame by frame, at a fixed
    length (`lengths` (J,), default the clip's own per-bone medians with left and right
    matched); the shoulders keep their direction from the neck at one width.

    Why: `translate` joins pieces of different recordings (letters of several signers, a user's
    lexicon, model output); each keeps its own arm lengths and tracking noise, so the joined clip
    is a body whose bones change length from piece to piece. Placing the observed directions on
    one skeleton (forward kinematics from the neck) makes every frame one signer. Joints whose
    parent is unobserved keep their recorded place; unobserved joints stay unobserved.
    """
    from ..skeleton import fk_order, median_bone_lengths, neck_rooted_parents

    skel = pose.skel
    par = neck_rooted_parents(skel)
    m = pose.mask
    length = median_bone_lengths(pose.data, m, skel) if lengths is None else np.asarray(lengths)
    x = pose.data.astype(np.float64)
    out = x.copy()
    for c in fk_order(par):
        p = par[c]
        if p < 0 or not np.isfinite(length[c]):
            continue
        ok = m[:, c] & m[:, p]
        d = x[ok, c] - x[ok, p]  # the recorded direction, placed from the re-placed parent
        n = np.linalg.norm(d, axis=-1, keepdims=True)
        unit = np.divide(d, n, out=np.zeros_like(d), where=n > 1e-9)
        out[ok, c] = out[ok, p] + length[c] * unit
    return dataclasses.replace(pose, data=out.astype(np.float32))


def body_lerp(
    a: np.ndarray, b: np.ndarray, s: np.ndarray, lengths: np.ndarray, skeleton: str
) -> np.ndarray:
    """Poses between `a` and `b` (J, 3) of one body, at weights `s` (k,): the neck moves on a
    line and every bone turns from its direction in `a` to its direction in `b` (normalised
    linear blend) at its fixed length. Blending joint positions instead shortens a bone whose
    ends swap sides (a finger curling) and makes it whip round when its length is restored."""
    from ..skeleton import fk_order, get_skeleton, neck_rooted_parents

    skel = get_skeleton(skeleton)
    par = neck_rooted_parents(skel)
    w = np.asarray(s, np.float64).reshape(-1, 1, 1)
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    out = a64[None] * (1 - w) + b64[None] * w  # (k, J, 3): the root, and any fallback
    for c in fk_order(par):
        p = par[c]
        if p < 0 or not np.isfinite(lengths[c]):
            continue
        da, db = a64[c] - a64[p], b64[c] - b64[p]
        na, nb = np.linalg.norm(da), np.linalg.norm(db)
        if na < 1e-9 or nb < 1e-9:
            continue
        d = (1 - w[:, 0]) * (da / na) + w[:, 0] * (db / nb)  # (k, 3)
        n = np.linalg.norm(d, axis=-1, keepdims=True)
        d = np.where(n > 1e-9, d / np.maximum(n, 1e-9), da / na)
        out[:, c] = out[:, p] + lengths[c] * d
    return out


def body_blend(
    a: np.ndarray, b: np.ndarray, s: np.ndarray, lengths: np.ndarray, skeleton: str
) -> np.ndarray:
    """`body_lerp`, shifted so that it starts exactly at `a` and ends exactly at `b`: a clip's
    edge pose is assembled joint by joint from the last frame that saw each joint, so it need
    not be one body itself, and the transition must still leave from it without a jump."""
    w = np.asarray(s, np.float64).reshape(-1, 1, 1)
    ends = body_lerp(a, b, np.array([0.0, 1.0]), lengths, skeleton)  # (2, J, 3)
    off_a, off_b = np.asarray(a, np.float64) - ends[0], np.asarray(b, np.float64) - ends[1]
    return body_lerp(a, b, s, lengths, skeleton) + (1 - w) * off_a + w * off_b


REST_HAND_CONFIDENCE = 0.5  # a filled-in resting hand: drawn, but marked as not observed


def rest_hand(pose: Pose, template: np.ndarray, side: str = "left") -> Pose:
    """Frames where a hand was never tracked: a resting hand there, hung from the arm.

    Why: fingerspelling recordings track the active hand only (the lexicon's letters leave the
    other hand, and often its wrist, out), so a translation spelled from them showed an arm that
    ends at the elbow. `template` (J, 3) is one consistent pose in this signing space (a model's
    rest pose). Where the wrist was tracked, the template's hand is moved so that its wrist meets it;
    where only the elbow was, the template's forearm and hand hang from the elbow. Shapes and
    offsets are the template's. The filled joints get confidence `REST_HAND_CONFIDENCE`, so
    consumers can tell them from tracked ones.
    """
    skel = pose.skel
    template = np.asarray(template, dtype=np.float32)
    if template.shape != (skel.num_joints, 3):
        raise DataError(f"rest_hand: template shape {template.shape}, want ({skel.num_joints}, 3)")
    hand = list(skel.groups[f"{side}_hand"])
    wrist, elbow = _idx(pose, f"{side}_wrist"), _idx(pose, f"{side}_elbow")
    if not np.isfinite(template[[elbow, wrist, *hand]]).all():
        return pose
    m = pose.mask
    no_hand = ~m[:, hand].any(axis=1)  # (t,)
    data, conf = pose.data.copy(), pose.confidence.copy()
    d = data.shape[-1]
    for anchor, joints, frames in (
        (wrist, hand, no_hand & m[:, wrist]),
        (elbow, [wrist, *hand], no_hand & ~m[:, wrist] & m[:, elbow]),
    ):
        if not frames.any():
            continue
        offset = (template[joints] - template[anchor])[:, :d]  # (h, d), from the anchor
        data[np.ix_(frames, joints)] = pose.data[frames, anchor][:, None, :] + offset[None]
        conf[np.ix_(frames, joints)] = REST_HAND_CONFIDENCE
    return dataclasses.replace(pose, data=data, confidence=conf)

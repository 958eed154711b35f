"""Skeleton videos: any pose (pixels or normalised units) drawn into a fixed canvas, as mp4 or GIF.

Poses arrive in very different units: OpenPose/MediaPipe pixels of a 1280x720 frame, or cleaned
and lifted clips in normalised units around 0 (shoulder width ~1). Drawing those coordinates as
pixels gives an empty or cropped picture, so every frame goes through `fit_to_canvas` first: one
uniform scale and shift for the whole clip (per-frame fitting would make the signer jump and
breathe), computed from the observed joints only, aspect ratio kept, y down. 3D poses are drawn
orthographically (x, y; z dropped).

    from signllm.render import render
    render(pose, "out.mp4", caption=pose.meta.text)   # H.264 yuv420p, plays in browsers
    render(pose, "out.gif")                           # animated GIF at the pose's fps

Video I/O goes through PyAV (`av`, which ships FFmpeg with libx264 and the GIF encoder in its
wheel); OpenCV only draws (its own writer cannot produce browser-playable H.264 nor GIF).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import DataError, UsageError
from ..fileio import atomic_paths
from ..pose import Pose

VIDEO_EXTENSIONS = (".mp4", ".gif")
BACKGROUND = (255, 255, 255)  # RGB
CAPTION_COLOUR = (20, 20, 20)
GIF_MAX_FPS = 50.0  # GIF delays are whole 1/100 s and browsers slow down delays < 2/100 s
_SHIFT = 4  # cv2 fixed-point bits: sub-pixel line ends, so slow motion does not jitter
_ASCII_FALLBACK = {"ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe", "ł": "l"}


def _cv2():
    try:
        import cv2
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise UsageError(
            "drawing skeleton videos needs OpenCV: pip install opencv-python-headless"
        ) from e
    return cv2


def _av():
    try:
        import av
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise UsageError("writing mp4/gif needs PyAV: pip install av") from e
    return av


@dataclass(frozen=True)
class CanvasTransform:
    """pixel = data[..., :2] * scale + offset; one transform for the whole clip."""

    scale: float
    offset: tuple[float, float]
    width: int
    height: int

    def apply(self, points: np.ndarray) -> np.ndarray:
        """(..., 2 or 3) pose coordinates -> (..., 2) float pixel coordinates."""
        pts = np.asarray(points, dtype=np.float64)[..., :2]
        return pts * self.scale + np.asarray(self.offset)


def fit_to_canvas(
    pose: Pose,
    width: int = 512,
    height: int = 512,
    margin: float = 0.08,
    extent: tuple[float, float, float, float] | None = None,
) -> tuple[np.ndarray, CanvasTransform]:
    """Map the clip into a width x height canvas; returns xy (t, j, 2) float pixels (NaN = missing).

    The bounding box of every observed joint over the whole clip is scaled uniformly to fill the
    canvas minus `margin` (a fraction of each side) and centred, so no observed joint lands
    outside [0, width-1] x [0, height-1]. Units do not matter: normalised clips
    (`meta.extra["norm"]`) only differ from their pixel originals by one uniform scale and shift,
    which this fit absorbs, so the stats are not needed. `extent` = (x0, y0, x1, y1) in pose units
    fits that window instead of the clip's box, so several poses share one scale (contact sheets).
    """
    if width < 2 or height < 2:
        raise UsageError(f"canvas must be at least 2x2 pixels, got {width}x{height}")
    if not 0.0 <= margin < 0.5:
        raise UsageError(f"margin must be in [0, 0.5), got {margin}")
    seen = pose.mask  # (t, j)
    if not seen.any():
        raise DataError(
            f"pose {pose.meta.id or '(no id)'} has no observed joint: nothing to draw",
            pose.meta.source or None,
        )
    pts = pose.data[seen][:, :2].astype(np.float64)  # (n, 2)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    if extent is not None:
        lo, hi = np.array(extent[:2], np.float64), np.array(extent[2:], np.float64)
    size = hi - lo  # (2,)
    avail = np.array([width - 1, height - 1], dtype=np.float64) * (1.0 - 2.0 * margin)
    with np.errstate(divide="ignore"):
        ratios = np.where(size > 1e-9 * max(1.0, float(np.abs(pts).max())), avail / size, np.inf)
    scale = float(ratios.min())
    if not np.isfinite(scale):  # a single point (or all joints on one spot): any scale works
        scale = 1.0
    centre = np.array([(width - 1) / 2.0, (height - 1) / 2.0])
    offset = centre - scale * (lo + hi) / 2.0
    transform = CanvasTransform(scale, (float(offset[0]), float(offset[1])), width, height)
    xy = transform.apply(pose.data)  # (t, j, 2)
    xy[~seen] = np.nan
    return xy, transform


def _ascii(text: str) -> str:
    """OpenCV's Hershey fonts only draw ASCII: transliterate (Müßiggang -> Mussiggang)."""
    text = "".join(_ASCII_FALLBACK.get(ch, ch) for ch in text)
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if ord(ch) < 128 and (ch.isprintable() or ch == " "))


def _caption_layout(text: str, width: int, height: int) -> tuple[list[str], float, int, int, int]:
    """Wrap the caption into <= 2 lines that fit the width: (lines, font scale, thickness,
    line height, strip height)."""
    cv2 = _cv2()
    font = cv2.FONT_HERSHEY_SIMPLEX
    words = _ascii(text).split()
    if not words:
        return [], 0.0, 1, 0, 0
    base_scale = max(0.35, min(width, height) / 640.0)
    avail = width * 0.94

    def wrap(scale: float) -> list[str]:
        lines, cur = [], ""
        for w in words:
            cand = f"{cur} {w}".strip()
            if cur and cv2.getTextSize(cand, font, scale, 1)[0][0] > avail:
                lines.append(cur)
                cur = w
            else:
                cur = cand
        return [*lines, cur]

    def too_big(lines: list[str], scale: float) -> bool:
        widest = max(cv2.getTextSize(s, font, scale, 1)[0][0] for s in lines)
        return len(lines) > 2 or widest > avail

    scale = base_scale
    lines = wrap(scale)
    while too_big(lines, scale) and scale > 0.3:
        scale *= 0.9
        lines = wrap(scale)
    if len(lines) > 2:  # still too long at the smallest size: cut, and say so
        lines = [lines[0], lines[1].rstrip(".") + "..."]
    thickness = max(1, round(scale * 1.6))
    line_h = int(cv2.getTextSize("Ag", font, scale, thickness)[0][1] * 1.9) + 1
    strip = min(line_h * len(lines) + line_h // 3, height // 3)
    return lines, scale, thickness, line_h, strip


def _joint_colours(pose: Pose) -> dict[int, tuple[int, int, int]]:
    """Each joint gets a darker shade of the limb that ends at it (the root: grey)."""
    sk = pose.skel
    colours = {
        b: tuple(int(c * 0.7) for c in col)
        for (_a, b), col in zip(sk.limbs, sk.limb_colours, strict=True)
    }
    return {j: colours.get(j, (110, 110, 110)) for j in range(sk.num_joints)}  # type: ignore[misc]


def palette_colours(pose: Pose) -> list[tuple[int, int, int]]:
    """Every RGB colour `draw_frames(..., antialias=False)` can produce for this pose."""
    sk = pose.skel
    return sorted({BACKGROUND, CAPTION_COLOUR, *sk.limb_colours, *_joint_colours(pose).values()})


def draw_frames(
    pose: Pose,
    width: int = 512,
    height: int = 512,
    caption: str | None = None,
    margin: float = 0.08,
    antialias: bool = True,
    extent: tuple[float, float, float, float] | None = None,
) -> Iterator[np.ndarray]:
    """Yield one RGB frame (height, width, 3) uint8 per pose frame.

    White background, limbs in the skeleton's colours (hands thinner, drawn over the body), joints
    as dots; a limb with a missing end is skipped. `caption` is printed at the bottom, in a strip
    the skeleton never enters, wrapped to two lines; OpenCV's fonts are ASCII-only, so accents are
    stripped (für -> fur) and other scripts are dropped. `antialias=False` keeps the colours exact
    (used for GIF palettes).
    """
    cv2 = _cv2()
    lines, fscale, fthick, line_h, strip = (
        _caption_layout(caption, width, height) if caption else ([], 0.0, 1, 0, 0)
    )
    xy, _ = fit_to_canvas(pose, width, height - strip, margin, extent)  # (t, j, 2)
    sk = pose.skel
    hands = set(sk.groups.get("hands", ()))
    body_th = max(2, round(min(width, height) / 110))
    hand_th = max(1, round(body_th * 0.55))
    body_r = round(body_th * 1.1 * (1 << _SHIFT))  # dot radii, fixed point
    hand_r = round(max(1.0, hand_th * 0.75) * (1 << _SHIFT))
    line_type = cv2.LINE_AA if antialias else cv2.LINE_8
    # Body limbs first, hands on top: the hands carry most of the signing.
    order = sorted(range(len(sk.limbs)), key=lambda i: sk.limbs[i][1] in hands)
    limbs = [(sk.limbs[i], sk.limb_colours[i]) for i in order]
    joint_colour = _joint_colours(pose)
    one = 1 << _SHIFT
    fixed = np.where(np.isfinite(xy), np.round(np.nan_to_num(xy) * one), -1).astype(np.int64)
    ok = np.isfinite(xy).all(axis=-1)  # (t, j)
    background = np.empty((height, width, 3), np.uint8)
    background[:] = BACKGROUND
    font = cv2.FONT_HERSHEY_SIMPLEX
    for i, s in enumerate(lines):
        tw = cv2.getTextSize(s, font, fscale, fthick)[0][0]
        y = height - strip + line_h * (i + 1) - line_h // 4
        cv2.putText(
            background, s, (max(0, (width - tw) // 2), y), font, fscale, CAPTION_COLOUR,
            fthick, line_type,
        )  # fmt: skip
    if not antialias and lines:  # OpenCV 5 smooths text whatever the line type: snap it back
        ink = background.min(axis=-1) < 128  # (h, w)
        background[ink], background[~ink] = CAPTION_COLOUR, BACKGROUND
    for t in range(pose.num_frames):
        img = background.copy()
        p, seen = fixed[t], ok[t]
        for (a, b), col in limbs:
            if seen[a] and seen[b]:
                th = hand_th if b in hands else body_th
                cv2.line(img, tuple(p[a]), tuple(p[b]), col, th, line_type, _SHIFT)
        for j in np.flatnonzero(seen):
            r = hand_r if j in hands else body_r
            cv2.circle(img, tuple(p[j]), r, joint_colour[j], -1, line_type, _SHIFT)
        yield img


def draw_frame(
    pose: Pose,
    index: int = 0,
    width: int = 512,
    height: int = 512,
    caption: str | None = None,
    extent: tuple[float, float, float, float] | None = None,
) -> np.ndarray:
    """One frame of `pose` as an RGB image (height, width, 3), drawn as `draw_frames` does;
    `extent` fixes the window in pose units (see `fit_to_canvas`)."""
    if not 0 <= index < pose.num_frames:
        raise UsageError(f"frame {index} out of range: the pose has {pose.num_frames} frames")
    one = pose.select_frames(slice(index, index + 1))
    return next(draw_frames(one, width, height, caption, extent=extent))


def _frame_rate(fps: float) -> Fraction:
    """Exact rates for the usual 24/25/30 and NTSC 23.976/29.97 clips."""
    return Fraction(fps).limit_denominator(1001)


def _write_mp4(frames: Iterator[np.ndarray], tmp: Path, fps: float, width: int, height: int) -> int:
    av = _av()
    n = 0
    with av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream("libx264", rate=_frame_rate(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        # crf 20 keeps thin finger lines crisp; "fast" is ~2x quicker than "medium" at equal size.
        stream.options = {"crf": "20", "preset": "fast"}
        for img in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
            n += 1
        for packet in stream.encode():
            out.mux(packet)
    return n


def _palette_frame(img: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """(h, w, 3) uint8 -> (h, w) palette indices; `keys` are the sorted packed RGB values."""
    packed = (
        (img[..., 0].astype(np.int32) << 16) | (img[..., 1].astype(np.int32) << 8) | img[..., 2]
    )
    idx = np.searchsorted(keys, packed)
    return np.minimum(idx, len(keys) - 1).astype(np.uint8)


def _write_gif(
    frames: Iterator[np.ndarray],
    tmp: Path,
    fps: float,
    width: int,
    height: int,
    colours: list[tuple[int, int, int]],
) -> int:
    """Frames drawn without anti-aliasing hold only `colours`: one exact global palette, streamed.

    GIF frames carry delays in whole 1/100 s: frame i is shown at round(i * 100 / fps), so 24 fps
    alternates 4 and 5 hundredths and the total duration stays exact.
    """
    av = _av()
    if len(colours) > 256:
        raise UsageError(f"a GIF palette holds 256 colours; the skeleton uses {len(colours)}")
    rgb = np.asarray(colours, np.int32)  # (k, 3)
    keys = np.sort((rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2])  # (k,)
    palette = np.zeros((256, 4), np.uint8)  # ARGB, as PyAV wants it
    palette[:, 0] = 255
    palette[: len(keys), 1] = (keys >> 16) & 255
    palette[: len(keys), 2] = (keys >> 8) & 255
    palette[: len(keys), 3] = keys & 255
    tb = Fraction(1, 100)
    n = 0
    with av.open(str(tmp), "w", format="gif") as out:  # the muxer loops forever by default
        stream = out.add_stream("gif", rate=_frame_rate(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "pal8"
        stream.codec_context.time_base = tb
        for img in frames:
            frame = av.VideoFrame.from_ndarray((_palette_frame(img, keys), palette), format="pal8")
            frame.pts, frame.time_base = round(n * 100 / fps), tb
            for packet in stream.encode(frame):
                out.mux(packet)
            n += 1
        for packet in stream.encode():
            out.mux(packet)
    return n


def write_video(
    pose: Pose,
    path: str | Path,
    fps: float | None = None,
    width: int = 512,
    height: int = 512,
    caption: str | None = None,
    margin: float = 0.08,
) -> Path:
    """Write a skeleton video, format from the extension; atomic (no file is left on failure).

    `.mp4`: H.264, yuv420p, +faststart (plays in every browser); width and height must be even.
    `.gif`: looping animated GIF with exact colours; above 50 fps frames are dropped evenly, since
    GIF delays are whole hundredths and browsers slow down anything faster.
    `fps` defaults to the pose's own rate (a different value changes the playback speed).
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in VIDEO_EXTENSIONS:
        raise UsageError(
            f"cannot write a video to {path}: unknown extension {path.suffix!r} "
            f"(use {', '.join(VIDEO_EXTENSIONS)})"
        )
    fps = float(fps if fps is not None else pose.fps)
    if not fps > 0:
        raise UsageError(f"fps must be positive, got {fps}")
    if ext == ".mp4" and (width % 2 or height % 2):
        raise UsageError(f"{path}: H.264 yuv420p needs even width and height, got {width}x{height}")
    if pose.num_frames == 0:
        raise DataError(f"pose {pose.meta.id or '(no id)'} has no frames: nothing to render", path)
    if ext == ".gif" and fps > GIF_MAX_FPS:
        step = int(np.ceil(fps / GIF_MAX_FPS))
        pose, fps = pose.select_frames(slice(None, None, step)), fps / step
    frames = draw_frames(pose, width, height, caption, margin, antialias=ext == ".mp4")
    with atomic_paths([path]) as (tmp,):
        if ext == ".mp4":
            _write_mp4(frames, tmp, fps, width, height)
        else:
            _write_gif(frames, tmp, fps, width, height, palette_colours(pose))
    return path

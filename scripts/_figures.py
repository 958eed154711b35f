"""Drawing helpers shared by the figure scripts (contact_sheet.py, frame_strip.py, clip_strip.py):
a clip through the build's per-clip path, panels side by side, a title band, a titled row of a
clip's frames, rows stacked, and writing the PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from signllm.data.build import ClipOptions, enumerate_tasks, process_clip
from signllm.pose import Pose

GAP = 200  # grey between panels
PAPER = 255  # white title band


def build_clip(spec: str) -> tuple[Pose | None, str | None]:
    """The first clip of a source spec as the build makes it (read, clean, lift 2D, signing
    space), or (None, why) when nothing is left of it."""
    return process_clip(enumerate_tasks([spec])[0], ClipOptions())


def side_by_side(images: list[np.ndarray], gap: int) -> np.ndarray:
    """(h, w, 3) images of one height in a row, `gap` grey pixels apart."""
    sep = np.full((images[0].shape[0], gap, 3), GAP, np.uint8)
    parts = [images[0]]
    for img in images[1:]:
        parts += [sep, img]
    return np.concatenate(parts, axis=1)


def with_title(
    image: np.ndarray, text: str, height: int, org: tuple[int, int], scale: float
) -> np.ndarray:
    """`image` under a white band of `height` pixels with `text` at `org` (OpenCV's baseline)."""
    import cv2

    head = np.full((height, image.shape[1], 3), PAPER, np.uint8)
    cv2.putText(head, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (20, 20, 20), 1, cv2.LINE_AA)
    return np.concatenate([head, image], axis=0)


def pose_row(
    title: str, pose: Pose, extent: tuple[float, float, float, float], panel: int, frames: int = 6
) -> np.ndarray:
    """`frames` evenly spaced frames of `pose`, drawn by the project's renderer into the same
    window of the signing space (`extent`: x0, y0, x1, y1), under a title band."""
    from signllm.render.skeleton_video import draw_frame

    idx = np.linspace(0, pose.num_frames - 1, frames).round().astype(int)
    cells = [draw_frame(pose, int(i), panel, panel, caption=f"frame {i}", extent=extent)
             for i in idx]  # fmt: skip
    small = panel < 240
    return with_title(side_by_side(cells, 4), title, 26 if small else 30,
                      (8, 19 if small else 21), 0.5 if small else 0.55)  # fmt: skip


def stack_rows(rows: list[np.ndarray], gap: int = 6) -> np.ndarray:
    """Rows of any width under each other, padded white on the right, `gap` pixels apart."""
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, gap), (0, width - r.shape[1]), (0, 0)), constant_values=PAPER)
            for r in rows]  # fmt: skip
    return np.concatenate(rows, axis=0)


def write_png(out: Path, image: np.ndarray) -> Path:
    """Write an RGB image, creating the folder; a failed write stops the script."""
    import cv2

    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
        raise SystemExit(f"could not write {out}")
    return out

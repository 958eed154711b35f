"""Outputs for people and tools: skeleton videos (mp4, GIF) and motion for avatars (BVH).

`.pose` and `.skels` are data formats, written by `signllm.data.formats.write_poses`, not here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..pose import Pose
from .bvh import BvhData, BvhTransform, bvh_forward_kinematics, read_bvh, write_bvh
from .skeleton_video import (
    CanvasTransform,
    draw_frames,
    fit_to_canvas,
    write_video,
)

RENDER_EXTENSIONS = (".mp4", ".gif", ".bvh")

__all__ = [
    "RENDER_EXTENSIONS",
    "BvhData",
    "BvhTransform",
    "CanvasTransform",
    "bvh_forward_kinematics",
    "draw_frames",
    "fit_to_canvas",
    "read_bvh",
    "render",
    "write_bvh",
    "write_video",
]


def render(pose: Pose, path: str | Path, **kw: Any) -> Path:
    """Write `pose` to `path`, the kind from the extension: .mp4/.gif video or .bvh motion.

    Keyword arguments go to `write_video` (fps, width, height, caption, margin) or `write_bvh`
    (scale, fps).
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext in (".mp4", ".gif"):
        return write_video(pose, path, **kw)
    if ext == ".bvh":
        write_bvh(pose, path, **kw)
        return path
    hint = " (.pose/.skels are written by signllm.data.formats.write_poses)" if ext in (
        ".pose", ".skels") else ""  # fmt: skip
    raise UsageError(
        f"cannot render to {path}: unknown extension {path.suffix!r}; "
        f"use one of {', '.join(RENDER_EXTENSIONS)}{hint}"
    )

"""Every input and output format, behind two calls: `read_poses` and `write_poses`.

Formats (detected from the path, or named explicitly):
- "skels":    Progressive Transformers / Prompt2Sign `.skels` + `.text`/`.gloss`/`.files`
- "pose":     one `.pose` file (MediaPipe Holistic, OpenPose, or ours)
- "openpose": a folder of OpenPose per-frame JSON (one clip), or a folder of such folders
- "lexicon":  a folder with index.csv listing `.pose` files (spoken-to-signed layout); a folder
              of bare `.pose` files reads the same way without text
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ...errors import DataError, UsageError
from ...pose import Pose
from .lexicon import is_lexicon_folder, iter_lexicon, write_lexicon
from .openpose_json import is_openpose_folder, read_openpose_folder
from .poseformat import read_pose_file, write_pose_file
from .skels import iter_skels, skels_prefix, write_skels

FORMATS = ("skels", "pose", "openpose", "lexicon")


def detect_format(path: str | Path, for_writing: bool = False) -> str:
    p = Path(path)
    if p.suffix == ".skels" or (not for_writing and p.with_suffix(".skels").is_file()
                                and not p.is_dir()):  # fmt: skip
        return "skels"
    if p.suffix == ".pose":
        return "pose"
    if for_writing:
        if p.suffix:
            raise UsageError(
                f"cannot tell the output format of {p} from its extension {p.suffix!r}; "
                f"use .skels, .pose, or a folder name (lexicon layout)"
            )
        return "lexicon"
    if not p.exists():
        raise DataError("no such file or folder", p)
    if p.is_dir():
        if is_lexicon_folder(p):
            return "lexicon"
        if is_openpose_folder(p):
            return "openpose"
        subdirs = [d for d in sorted(p.iterdir()) if d.is_dir()]
        if subdirs and any(is_openpose_folder(d) for d in subdirs[:5]):
            return "openpose"
        if any(p.glob("*.pose")):
            return "lexicon"
        raise DataError(
            "folder is neither a lexicon (index.csv), OpenPose JSON frames, nor .pose files", p
        )
    raise DataError(f"unknown file type {p.suffix!r} (known: .skels, .pose, folders)", p)


def _bare_pose_folder(folder: Path) -> Iterator[Pose]:
    for f in sorted(folder.rglob("*.pose")):
        pose = read_pose_file(f)
        pose.meta.id = f.relative_to(folder).with_suffix("").as_posix()
        yield pose


def read_poses(path: str | Path, fmt: str | None = None, **opts: Any) -> Iterator[Pose]:
    """Stream every clip at `path`. Options: scale/fps/language (skels), fps (openpose),
    variant (pose: "image" or "world"), language (lexicon: keep one sign language), mirror
    (any format: True swaps the left/right labels, see data/space.py).

    Clips come in the file's own units and labels (a round trip changes nothing); the build puts
    them into the signing space (`data.space.to_signing_space`), where Progressive Transformers'
    PHOENIX `.skels`, whose left/right are the viewer's, get their sides swapped."""
    if opts.get("mirror"):
        from ..space import swap_sides

        rest = {k: v for k, v in opts.items() if k != "mirror"}
        for pose in read_poses(path, fmt, **rest):
            yield swap_sides(pose)
        return
    p = Path(path)
    fmt = fmt or detect_format(p)
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    language = opts.get("language") or ""
    if fmt == "skels":
        kw = {k: opts[k] for k in ("scale", "fps") if opts.get(k)}
        yield from iter_skels(skels_prefix(p), language=language, **kw)
    elif fmt == "pose":
        pose = read_pose_file(p, variant=opts.get("variant") or "auto")
        pose.meta.language = language
        yield pose
    elif fmt == "openpose":
        folders = [p] if is_openpose_folder(p) else [d for d in sorted(p.iterdir())
                                                     if is_openpose_folder(d)]  # fmt: skip
        for d in folders:
            pose = read_openpose_folder(d, fps=opts.get("fps"))
            pose.meta.language = language
            yield pose
    elif is_lexicon_folder(p):
        yield from iter_lexicon(p, language=language or None)
    else:
        for pose in _bare_pose_folder(p):
            pose.meta.language = language
            yield pose


def write_poses(poses: Iterable[Pose], path: str | Path, fmt: str | None = None,
                **opts: Any) -> Path:  # fmt: skip
    """Write clips; `.pose` takes exactly one clip, `.skels` and folders take any number."""
    p = Path(path)
    fmt = fmt or detect_format(p, for_writing=True)
    if fmt == "skels":
        kw = {"scale": opts["scale"]} if opts.get("scale") else {}
        return write_skels(poses, p, **kw)
    if fmt == "pose":
        items = list(poses)
        if len(items) != 1:
            raise UsageError(
                f"a .pose file holds one clip, got {len(items)}; pick one with --id, "
                f"or write to a folder"
            )
        return write_pose_file(items[0], p)
    if fmt == "lexicon":
        return write_lexicon(poses, p)
    raise UsageError(f"cannot write format {fmt!r}; choose one of: skels, pose, lexicon")


__all__ = ["FORMATS", "detect_format", "read_poses", "write_poses"]

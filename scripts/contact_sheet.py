"""Regenerate docs/signing_space.png: one frame of every bundled source, in the signing space.

Each clip goes through the build's per-clip path (`enumerate_tasks` -> `process_clip`: read,
clean, lift 2D, `to_signing_space`), then one frame of it is drawn by the project's renderer into
the same window of the signing space (x and y in shoulder widths around the neck), so the panels
share one scale: equal shoulders, the neck at the same spot, the signer's right arm (orange) on
the image's left in every panel.

    python scripts/contact_sheet.py                      # -> docs/signing_space.png
    python scripts/contact_sheet.py -o /tmp/sheet.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from _figures import build_clip, side_by_side, with_title, write_png

from signllm.assets import samples_dir
from signllm.data.fingerspell import SAMPLE_LEXICON, FingerspellingLexicon
from signllm.data.space import body_frame
from signllm.pose import Pose
from signllm.render.skeleton_video import draw_frame

EXTENT = (-1.7, -1.0, 1.7, 1.9)  # x0, y0, x1, y1 in shoulder widths (y down)
PANEL = 360


def _first(spec: str) -> Pose:
    pose, err = build_clip(spec)
    if pose is None:
        raise SystemExit(f"{spec}: {err or 'no frames left'}")
    return pose


def _best_frame(pose: Pose) -> int:
    """The frame that shows the most hand joints (the middle one among ties)."""
    hands = list(pose.skel.groups["hands"])
    seen = pose.mask[:, hands].sum(axis=1)
    best = np.flatnonzero(seen == seen.max())
    return int(best[len(best) // 2])


def panels() -> list[tuple[str, Pose]]:
    s = samples_dir()
    lex = FingerspellingLexicon(SAMPLE_LEXICON)
    return [
        ("PHOENIX .skels (gsg)", _first(f"{s / 'phoenix14t' / 'dev.skels'}:lang=gsg")),
        (
            "How2Sign OpenPose, lifted (ase)",
            _first(f"{s / 'how2sign' / 'openpose_json' / '_2FBDaOPYig_2-5-rgb_front'}:lang=ase"),
        ),
        ("MediaPipe lexicon (sgg)", _first(str(s / "mediapipe_lexicon"))),
        ("fingerspelled 'cab' (ase)", lex.compose("cab", "ase", fps=25)),
        (
            "pose-format MediaPipe",
            _first(f"{s / 'pose_format' / '6fb01565da31c5500d1ef2cd2906b06b.pose'}:lang=ase"),
        ),
        (
            "AUTSL .pose (tsm)",
            _first(f"{s / 'autsl' / 'signer0_sample1000.holistic.pose'}:lang=tsm"),
        ),
    ]


def contact_sheet(out: Path) -> Path:
    images = []
    for title, pose in panels():
        i = _best_frame(pose)
        _, width = body_frame(pose)
        caption = f"{title}: frame {i}, shoulders {width:.2f}"
        images.append(draw_frame(pose, i, PANEL, PANEL + 60, caption=caption, extent=EXTENT))
    text = (
        "signing space: origin neck, unit shoulder width, x to the viewer's right, y down, "
        "z towards the camera; signer's right arm orange, left arm blue"
    )
    return write_png(out, with_title(side_by_side(images, 6), text, 44, (10, 28), 0.6))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = Path(__file__).resolve().parent.parent
    ap.add_argument("-o", "--output", type=Path, default=root / "docs" / "signing_space.png")
    print(contact_sheet(ap.parse_args().output))


if __name__ == "__main__":
    main()

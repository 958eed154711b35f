"""Frames of a trained checkpoint beside ground truth, for clips of a store.

Why: a figure can pass while the picture is absurd. For each clip id, one row of what the
checkpoint generates from that clip's input (honest decoding, `signllm.eval.runner.Generator`,
as `signllm evaluate` does) and one row of the recorded clip, both drawn by the project's
renderer into the same window of the signing space. Training clips show memorisation, test
clips generalisation.

    python scripts/clip_strip.py --model runs/x/best --data data/demo -o strip.png \\
        gsg/11August_2010_Wednesday_tagesschau-4 gsg/fs/Schwester
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _figures import pose_row, stack_rows, write_png

from signllm.data.store import Store
from signllm.eval.runner import Generator

EXTENT = (-1.8, -1.1, 1.8, 2.0)  # x0, y0, x1, y1 in shoulder widths (y down)
PANEL = 200


def clip_strip(out: Path, model: str, data: str, ids: list[str], max_frames: int = 300) -> Path:
    store, gen = Store(data), Generator(model)
    rows = []
    for cid in ids:
        try:
            true = store[cid]
        except KeyError as e:  # names the clip and the store
            raise SystemExit(f"clip_strip: {e.args[0]}") from None
        made = gen.generate([true], max_frames)[0]
        rows.append(pose_row(f"model: {cid} ({made.num_frames} frames)", made, EXTENT, PANEL))
        rows.append(
            pose_row(f"ground truth: {cid} ({true.num_frames} frames)", true, EXTENT, PANEL)
        )
    return write_png(out, stack_rows(rows))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ids", nargs="+", help="clip ids of the store")
    ap.add_argument("--model", required=True, help="checkpoint folder (signllm train)")
    ap.add_argument("--data", required=True, help="store directory")
    ap.add_argument("-o", "--output", type=Path, required=True)
    ap.add_argument("--max-frames", type=int, default=300)
    a = ap.parse_args()
    print(clip_strip(a.output, a.model, a.data, a.ids, a.max_frames))


if __name__ == "__main__":
    main()

"""Regenerate docs/frame_strip.png: what the default model signs, beside ground truth.

Rows (each drawn by the project's renderer into the same window of the signing space, so sizes
compare): the README's demo sentence as `translate` signs it; words the default model signs
itself; a held-out word as the model spells it (`model_spells=True`); the ground truth of that
word (composed from real letter recordings); a recorded PHOENIX sentence. Six frames a row.

    python scripts/frame_strip.py                         # -> docs/frame_strip.png
    python scripts/frame_strip.py --model runs/x --word hund --lang gsg -o /tmp/strip.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from _figures import build_clip, pose_row, stack_rows, write_png

from signllm.api import Translator
from signllm.assets import samples_dir
from signllm.data.fingerspell import default_lexicon, in_signing_space
from signllm.pose import Pose

EXTENT = (-1.8, -1.1, 1.8, 2.0)  # x0, y0, x1, y1 in shoulder widths (y down)
PANEL = 240
FRAMES = 6


def _row(title: str, pose: Pose) -> np.ndarray:
    return pose_row(title, pose, EXTENT, PANEL, FRAMES)


def frame_strip(out: Path, model: str | None, sentence: str, word: str, lang: str) -> Path:
    tr = Translator(model) if model else Translator()
    said = tr.translate(sentence, "gsg")
    known = tr.translate("regen gewitter nordwest", "gsg")  # words the model signs itself
    spells = Translator(model, model_spells=True) if model else Translator(model_spells=True)
    spelt = spells.translate(word, lang)  # the model's own spelling (not the letter recordings)
    how = ", ".join(f"{w.word}: {w.source}" for w in spelt.words)
    truth = in_signing_space([default_lexicon().compose(word, lang, fps=25)])[0]
    s = samples_dir()
    phoenix, _ = build_clip(f"{s / 'phoenix14t' / 'test.skels'}:lang=gsg")
    sources = ", ".join(sorted({w.source for w in said.words}))
    rows = [
        _row(f"translate '{sentence}' (DGS): {sources}", said.pose),
        _row(
            f"default model ({known.mode}): 'regen gewitter nordwest', words it was trained on",
            known.pose,
        ),
        _row(f"default model spelling '{word}' itself ({how}; held out of training)", spelt.pose),
        _row(f"ground truth: '{word}' ({lang}) from real letter recordings", truth),
    ]
    if phoenix is not None:
        rows.append(_row(f"ground truth: a recorded PHOENIX sentence ({phoenix.meta.id})", phoenix))
    return write_png(out, stack_rows(rows))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = Path(__file__).resolve().parent.parent
    ap.add_argument("-o", "--output", type=Path, default=root / "docs" / "frame_strip.png")
    ap.add_argument("--model", help="model folder (default: the shipped default model)")
    ap.add_argument("--sentence", default="und nun die wettervorhersage für morgen")
    ap.add_argument("--word", default="wolke", help="a word to fingerspell (held out of training)")
    ap.add_argument("--lang", default="gsg")
    a = ap.parse_args()
    print(frame_strip(a.output, a.model, a.sentence, a.word, a.lang))


if __name__ == "__main__":
    main()

"""Metrics shared by training (dev DTW-MJE) and evaluation: below both, importing neither.

`dtw`: DTW-MJE on poses; `text`: BLEU/chrF/ROUGE-L/WER/character accuracy of back-translations;
`pose`: hand-distance and duration ratios.
"""

from .dtw import HANDS, Alignment, aggregate, dtw, dtw_mje, dtw_mje_pose, frame_costs

__all__ = ["HANDS", "Alignment", "aggregate", "dtw", "dtw_mje", "dtw_mje_pose", "frame_costs"]

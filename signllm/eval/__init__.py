"""Evaluation: DTW-MJE on poses (back-translation BLEU/ROUGE live beside it)."""

from .dtw import HANDS, Alignment, aggregate, dtw, dtw_mje, dtw_mje_pose, frame_costs

__all__ = ["HANDS", "Alignment", "aggregate", "dtw", "dtw_mje", "dtw_mje_pose", "frame_costs"]

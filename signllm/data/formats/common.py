"""Small pieces shared by the readers."""

from __future__ import annotations

import numpy as np


def merge_wrists(data: np.ndarray, conf: np.ndarray, pairs: tuple[tuple[int, int], ...]) -> None:
    """Make each body wrist and its hand's root one point, in place.

    Body and hand models estimate the wrist separately and disagree by a few pixels; our skeleton
    treats them as one joint (a zero-length bone). The hand model's estimate wins where the hand
    was seen (it is the finer model and the fingers hang off it); elsewhere the body's wrist
    stands in for the hand root so the arm stays whole. data (t, j, 3), conf (t, j).
    """
    for body, hand in pairs:
        seen = conf[:, hand] > 0
        data[seen, body] = data[seen, hand]
        conf[seen, body] = np.maximum(conf[seen, body], conf[seen, hand])
        only_body = ~seen & (conf[:, body] > 0)
        data[only_body, hand] = data[only_body, body]
        conf[only_body, hand] = conf[only_body, body]

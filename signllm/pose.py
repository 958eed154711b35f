"""The one in-memory pose type every reader produces and every writer takes.

A `Pose` is one clip: `data` (frames, joints, 3) float32, `confidence` (frames, joints) float32 in
[0, 1] where 0 means "missing" (the coordinates there are 0 and mean nothing), the frame rate, the
skeleton's name, and metadata. 2D sources keep z = 0 and say `ndim = 2`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .skeleton import Skeleton, get_skeleton


def extra_flag(extra: dict[str, Any] | None, key: str) -> bool:
    """A yes/no field of `PoseMeta.extra` or a manifest row's `extra`: True, or the string
    "true" (any case) as CSV manifests and JSON rows carry it."""
    v = (extra or {}).get(key, False)
    return v is True or str(v).lower() == "true"


@dataclass
class PoseMeta:
    """Who signs what. Every field is optional: an unlabelled recording has only an id."""

    id: str = ""
    language: str = ""  # sign language, ISO 639-3 (ase, gsg, sgg, ...)
    text: str = ""  # spoken-language sentence
    gloss: str = ""
    signer: str = ""
    source: str = ""  # where it came from: a path, a corpus name
    spoken_language: str = ""
    split: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PoseMeta:
        names = {f.name for f in dataclasses.fields(cls)}
        known = {k: v for k, v in d.items() if k in names}
        extra = dict(known.pop("extra", {}) or {})
        extra.update({k: v for k, v in d.items() if k not in names})
        return cls(**known, extra=extra)


@dataclass
class Pose:
    data: np.ndarray  # (t, j, 3) float32
    confidence: np.ndarray  # (t, j) float32, 0 = missing
    fps: float
    skeleton: str = "prompt2sign50"
    meta: PoseMeta = field(default_factory=PoseMeta)
    ndim: int = 3  # 2 for 2D sources (z is 0 and meaningless)

    def __post_init__(self) -> None:
        self.data = np.ascontiguousarray(self.data, dtype=np.float32)
        self.confidence = np.ascontiguousarray(self.confidence, dtype=np.float32)
        if self.data.ndim != 3 or self.data.shape[2] != 3:
            raise ValueError(f"pose data must be (frames, joints, 3), got {self.data.shape}")
        if self.confidence.shape != self.data.shape[:2]:
            raise ValueError(
                f"confidence must be (frames, joints) = {self.data.shape[:2]}, "
                f"got {self.confidence.shape}"
            )
        sk = get_skeleton(self.skeleton)
        if self.data.shape[1] != sk.num_joints:
            raise ValueError(
                f"skeleton {sk.name} has {sk.num_joints} joints, data has {self.data.shape[1]}"
            )
        if not np.isfinite(self.data).all():
            raise ValueError("pose data contains NaN or inf; mark missing joints with confidence 0")
        if self.fps <= 0:
            raise ValueError(f"fps must be positive, got {self.fps}")
        self.fps = float(self.fps)

    @property
    def num_frames(self) -> int:
        return int(self.data.shape[0])

    @property
    def num_joints(self) -> int:
        return int(self.data.shape[1])

    @property
    def mask(self) -> np.ndarray:
        """(t, j) bool: True where the joint was observed."""
        return self.confidence > 0

    @property
    def skel(self) -> Skeleton:
        return get_skeleton(self.skeleton)

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps

    @property
    def missing_fraction(self) -> float:
        return float(1.0 - self.mask.mean()) if self.confidence.size else 0.0

    def shoulder_width(self, dims: int | None = None) -> float:
        """Median shoulder distance over frames that see both shoulders (NaN if none).

        The natural unit of a clip: dividing by it makes distances comparable across sources
        (pixels, `.skels` units, metres). `dims` defaults to the pose's own (2 or 3).
        """
        sk = self.skel
        left, right = sk.index("left_shoulder"), sk.index("right_shoulder")
        both = self.mask[:, left] & self.mask[:, right]
        d = dims or self.ndim
        v = self.data[both, left, :d].astype(np.float64) - self.data[both, right, :d]
        w = np.linalg.norm(v, axis=-1)
        w = w[w > 0]
        return float(np.median(w)) if w.size else float("nan")

    def copy(self) -> Pose:
        return dataclasses.replace(
            self,
            data=self.data.copy(),
            confidence=self.confidence.copy(),
            meta=dataclasses.replace(self.meta, extra=dict(self.meta.extra)),
        )

    def select_frames(self, index: slice | np.ndarray) -> Pose:
        return dataclasses.replace(
            self, data=self.data[index], confidence=self.confidence[index], meta=self.meta
        )

    def __repr__(self) -> str:
        return (
            f"Pose(id={self.meta.id!r}, frames={self.num_frames}, joints={self.num_joints}, "
            f"fps={self.fps:g}, ndim={self.ndim}, language={self.meta.language!r})"
        )

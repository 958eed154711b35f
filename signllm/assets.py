"""Where the files shipped inside the package live (`signllm/assets/`).

One module for these lookups so that data, the API and the CLI all import them downward; it
imports nothing of signllm.
"""

from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).resolve().parent / "assets"


def assets_dir() -> Path:
    """`signllm/assets/`: the sample data and the default model."""
    return ASSETS


def samples_dir() -> Path:
    """The real sample data shipped inside the package (see assets/samples/README.md)."""
    return ASSETS / "samples"


def sample_lexicon_dir() -> Path:
    """The bundled fingerspelling sample (letters A-C of ase and gsg)."""
    return ASSETS / "samples" / "fingerspelling"


def fingerspelling_dir() -> Path:
    """The fingerspelling letters shipped in the package: 626 letters of 20 sign languages
    (spoken-to-signed 0.4.0, MIT), packed into the compact store (see its SOURCE.txt)."""
    return ASSETS / "fingerspelling"


def default_model_dir() -> Path:
    """The model shipped inside the package (see its MODEL_CARD.md)."""
    return ASSETS / "models" / "default"


__all__ = [
    "ASSETS",
    "assets_dir",
    "default_model_dir",
    "fingerspelling_dir",
    "sample_lexicon_dir",
    "samples_dir",
]

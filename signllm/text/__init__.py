"""Text side of the pipeline: tokenizers for glosses and spoken-language sentences."""

from . import tokenizers
from .tokenizers import *  # noqa: F403  (the public names, listed once in tokenizers.__all__)

__all__ = tokenizers.__all__

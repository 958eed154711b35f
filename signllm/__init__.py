"""SignLLM: sign language production from text or prompts to 3D skeleton poses.

`signllm.translate("guten morgen", "DGS")` returns a `Pose`; see signllm.api.
"""

from typing import Any

from .errors import DataError, SignLLMError, UsageError
from .pose import Pose, PoseMeta

__version__ = "0.1.0"
__all__ = [
    "DataError",
    "Pose",
    "PoseMeta",
    "SignLLMError",
    "Translation",
    "Translator",
    "UsageError",
    "__version__",
    "get_language",
    "read_poses",
    "translate",
    "write_poses",
]

_LAZY = {  # imported on first use, so `import signllm` stays light (no torch)
    "translate": "api",
    "Translator": "api",
    "Translation": "api",
    "get_language": "languages",
    "read_poses": "data.formats",
    "write_poses": "data.formats",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'signllm' has no attribute {name!r}")

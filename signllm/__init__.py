"""SignLLM: sign language production from text or prompts to 3D skeleton poses.

`signllm.translate("guten morgen", "DGS")` returns a `Pose`; see signllm.api.
"""

from ._lazy import lazy_getattr
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

# imported on first use, so `import signllm` stays light (no torch)
__getattr__ = lazy_getattr(
    __name__,
    {
        "api": ("translate", "Translator", "Translation"),
        "languages": ("get_language",),
        "data.formats": ("read_poses", "write_poses"),
    },
)

"""SignLLM: sign language production from text or prompts to 3D skeleton poses."""

from .errors import DataError, SignLLMError, UsageError
from .pose import Pose, PoseMeta

__version__ = "0.1.0"
__all__ = ["DataError", "Pose", "PoseMeta", "SignLLMError", "UsageError", "__version__"]

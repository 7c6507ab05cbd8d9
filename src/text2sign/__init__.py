"""text2sign: sign language production toolkit (text in, signing out as poses and video)."""

from text2sign.errors import Text2SignError
from text2sign.pose import Layout, PoseSequence, get_layout

__version__ = "0.1.0"

__all__ = ["Layout", "PoseSequence", "Text2SignError", "__version__", "get_layout"]

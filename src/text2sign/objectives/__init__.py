"""Training objectives: thin wrappers that turn a network and a batch into losses."""

from text2sign.objectives.base import Objective

__all__ = ["Objective"]

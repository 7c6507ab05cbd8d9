"""The pose data type, skeleton layouts, normalization and file formats."""

from text2sign.pose.io import load_pose, read_npz, read_pose, read_skels, save_pose, write_npz, write_pose, write_skels
from text2sign.pose.layout import LAYOUT_NAMES, Component, Layout, get_layout
from text2sign.pose.normalize import FeatureStats, compute_feature_stats, normalize_by_shoulders
from text2sign.pose.sequence import PoseSequence

__all__ = [
    "LAYOUT_NAMES",
    "Component",
    "FeatureStats",
    "Layout",
    "PoseSequence",
    "compute_feature_stats",
    "get_layout",
    "load_pose",
    "normalize_by_shoulders",
    "read_npz",
    "read_pose",
    "read_skels",
    "save_pose",
    "write_npz",
    "write_pose",
    "write_skels",
]

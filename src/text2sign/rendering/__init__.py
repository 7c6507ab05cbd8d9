"""Pose to pictures: skeleton frames, animated GIF, H.264 MP4 and PNG contact sheets."""

from text2sign.rendering.render import (
    DEFAULT_HIDE,
    RENDER_SUFFIXES,
    render,
    render_frames,
    resample_for_output,
    write_contact_sheet,
    write_gif,
    write_mp4,
    write_side_by_side_gif,
)

__all__ = [
    "DEFAULT_HIDE",
    "RENDER_SUFFIXES",
    "render",
    "render_frames",
    "resample_for_output",
    "write_contact_sheet",
    "write_gif",
    "write_mp4",
    "write_side_by_side_gif",
]

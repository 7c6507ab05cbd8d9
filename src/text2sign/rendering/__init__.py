"""Pose to pictures (skeleton frames, animated GIF, H.264 MP4, PNG contact sheets), and
:func:`write_output`, which writes a pose or a video wherever its path says (:func:`write_signing`: as
``generate`` does, drawing a pose :data:`DEFAULT_POSE_SIZE` pixels square unless told)."""

from text2sign.rendering.render import (
    DEFAULT_HIDE,
    DEFAULT_POSE_SIZE,
    RENDER_SUFFIXES,
    check_output_kind,
    iter_frames,
    render,
    resample_for_output,
    write_contact_sheet,
    write_gif,
    write_mp4,
    write_output,
    write_side_by_side_gif,
    write_signing,
    write_video,
)

__all__ = [
    "DEFAULT_HIDE",
    "DEFAULT_POSE_SIZE",
    "RENDER_SUFFIXES",
    "check_output_kind",
    "iter_frames",
    "render",
    "resample_for_output",
    "write_contact_sheet",
    "write_gif",
    "write_mp4",
    "write_output",
    "write_side_by_side_gif",
    "write_signing",
    "write_video",
]

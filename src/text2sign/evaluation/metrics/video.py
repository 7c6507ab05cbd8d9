"""Video metrics: PSNR, SSIM and temporal consistency of rendered signing videos.

Inputs
======

A video is a uint8 RGB array ``(T, H, W, 3)`` with values 0-255, as the renderer writes frames.
Reference metrics take the prediction first and the reference second, ``f(pred, ref)``, and
need two videos of the same shape: resample and resize first, these functions never do. Every
function validates its inputs and raises :class:`~text2sign.errors.MetricInputError` with one
line naming the problem: not uint8, not ``(frames, height, width, 3)``, no frames or empty
frames, shapes that differ, frames smaller than SSIM's window, a one-frame video.

Metrics
=======

``psnr(pred, ref, max_db=None) -> float`` (dB, higher is better)
    Peak signal-to-noise ratio per frame, ``10 log10(255^2 / MSE)``, averaged over frames -- the
    per-frame convention of video generation evaluations (e.g. common_metrics_on_video_quality),
    not the PSNR of the whole video's MSE. A frame identical to its reference has MSE 0 and an
    infinite PSNR; see :func:`psnr` for how that is returned.
``ssim(pred, ref) -> float`` (at most 1, higher is better)
    Structural similarity per frame with scikit-image's ``structural_similarity`` in the
    settings of Wang et al. 2004 (Gaussian window, sigma 1.5, population covariances, data range
    255, colour channels averaged), averaged over frames.
``temporal_consistency(video) -> float`` (in [0, 1], lower is steadier)
    The mean absolute difference between consecutive frames of one (generated) video in units of
    the full 0-255 range: 0 for a static video, 1 for one that alternates black and white every
    frame. It is the frame-to-frame MAE that VBench's "temporal flickering" dimension is built on
    (VBench reports 1 minus it). It needs no reference: compare a generated video's value with
    its reference video's, since signing itself moves.
"""

from __future__ import annotations

import math

import numpy as np

from text2sign.errors import MetricInputError

__all__ = ["SSIM_MIN_SIZE", "psnr", "ssim", "temporal_consistency"]

_PEAK = 255.0

# Wang et al. 2004: an 11 x 11 Gaussian window (sigma 1.5, truncated at 3.5 sigma in
# scikit-image), population rather than sample covariances.
_SSIM_SIGMA = 1.5
SSIM_MIN_SIZE = 2 * int(3.5 * _SSIM_SIGMA + 0.5) + 1


def _check_video(video, who: str) -> np.ndarray:
    video = np.asarray(video)
    if video.dtype != np.uint8:
        raise MetricInputError(f"{who} must be a uint8 video (values 0-255), got dtype {video.dtype}")
    if video.ndim != 4 or video.shape[-1] != 3:
        raise MetricInputError(f"{who} must be a (frames, height, width, 3) RGB array, got shape {video.shape}")
    if video.shape[0] == 0:
        raise MetricInputError(f"{who} has no frames")
    if video.shape[1] == 0 or video.shape[2] == 0:
        raise MetricInputError(f"{who} has empty frames: shape {video.shape}")
    return video


def _check_video_pair(pred, ref) -> tuple[np.ndarray, np.ndarray]:
    pred = _check_video(pred, "pred")
    ref = _check_video(ref, "ref")
    if pred.shape != ref.shape:
        raise MetricInputError(
            f"pred and ref differ in shape: {pred.shape} vs {ref.shape}; resample and resize to one shape first"
        )
    return pred, ref


def psnr(pred, ref, max_db: float | None = None) -> float:
    """Mean over frames of the per-frame PSNR in dB, ``10 log10(255^2 / MSE_t)``.

    ``MSE_t`` is the mean squared difference over all pixels and colour channels of frame t.
    A frame identical to its reference (``MSE_t = 0``) has an infinite PSNR, and this is kept
    explicit rather than left to a division by zero: with ``max_db=None`` (the default) the
    result is ``math.inf`` as soon as one frame is identical, in particular for identical
    videos. Pass ``max_db`` (e.g. 100, as common_metrics_on_video_quality does) to cap every
    frame's PSNR at that value instead, which keeps the mean finite when, say, a first frame is
    copied from the reference.
    """
    pred, ref = _check_video_pair(pred, ref)
    if max_db is not None and (
        isinstance(max_db, bool)
        or not isinstance(max_db, (int, float, np.integer, np.floating))
        or not math.isfinite(max_db)
        or max_db <= 0
    ):
        raise MetricInputError(f"max_db must be a positive finite number of dB or None, got {max_db!r}")
    per_frame = np.empty(len(pred))
    for t in range(len(pred)):
        diff = pred[t].astype(np.float64) - ref[t].astype(np.float64)
        mse = float((diff**2).mean())
        per_frame[t] = math.inf if mse == 0.0 else 10.0 * math.log10(_PEAK**2 / mse)
    if max_db is not None:
        per_frame = np.minimum(per_frame, float(max_db))
    elif np.isinf(per_frame).any():
        return math.inf
    return float(per_frame.mean())


def ssim(pred, ref) -> float:
    """Mean over frames of the per-frame SSIM (Wang et al. 2004), at most 1 and 1 for identical frames.

    Each frame pair goes through ``skimage.metrics.structural_similarity`` with
    ``gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255,
    channel_axis=-1``: the paper's 11 x 11 Gaussian window on each colour channel, the three
    channel means averaged. Frames must be at least 11 x 11 pixels.
    """
    # Imported here: scikit-image takes a second to load, and only video evaluation needs it.
    from skimage.metrics import structural_similarity

    pred, ref = _check_video_pair(pred, ref)
    if min(pred.shape[1:3]) < SSIM_MIN_SIZE:
        raise MetricInputError(
            f"frames of {pred.shape[1]} x {pred.shape[2]} pixels are smaller than SSIM's "
            f"{SSIM_MIN_SIZE} x {SSIM_MIN_SIZE} window"
        )
    values = [
        structural_similarity(
            pred[t],
            ref[t],
            data_range=_PEAK,
            channel_axis=-1,
            gaussian_weights=True,
            sigma=_SSIM_SIGMA,
            use_sample_covariance=False,
        )
        for t in range(len(pred))
    ]
    return float(np.mean(values))


def temporal_consistency(video) -> float:
    """Mean absolute difference between consecutive frames of one video, in [0, 1] units.

    ``sum_t sum |video[t + 1] - video[t]| / ((T - 1) * H * W * 3 * 255)`` over every pixel and
    colour channel: 0 for a static video, 1 for one alternating black and white frames. Lower
    is steadier (less flicker); as signing moves, compare with the reference video's value
    rather than aiming at 0. Needs at least 2 frames. Integer sums, so the value is exact.
    """
    video = _check_video(video, "video")
    if len(video) < 2:
        raise MetricInputError("video has 1 frame: temporal consistency needs at least 2")
    total = 0
    for t in range(len(video) - 1):
        total += int(np.abs(video[t + 1].astype(np.int16) - video[t].astype(np.int16)).sum(dtype=np.int64))
    return total / ((len(video) - 1) * video[0].size * _PEAK)

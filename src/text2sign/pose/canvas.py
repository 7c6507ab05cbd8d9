"""Where a pose's joints land on a square or rectangular picture: the one transform that both the
drawing (:mod:`text2sign.rendering`) and the pose-conditioned video models use, so a model
conditioned on joint positions sees them exactly where the drawn frames it learnt from put them.
"""

from __future__ import annotations

import numpy as np

from text2sign.pose.sequence import PoseSequence

MARGIN = 0.05  # free space on each side of a fitted pose, as a fraction of the canvas

# The drawing box spans the 0.5th to 99.5th percentile of the points, widened by a tenth of that
# span on each side (never past the real extremes): a few glitched joints are left off the canvas
# instead of shrinking the signer to a dot, and a hand that briefly reaches out still fits.
BOX_PERCENTILES = (0.5, 99.5)
BOX_SLACK = 0.1


def robust_bounds(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-axis low and high of points ``(N, 2)`` for the drawing box (see BOX_PERCENTILES)."""
    low, high = np.percentile(xy, BOX_PERCENTILES, axis=0)
    slack = BOX_SLACK * (high - low)
    return np.maximum(low - slack, xy.min(axis=0)), np.minimum(high + slack, xy.max(axis=0))


def fit_to_canvas(seq: PoseSequence, width: int, height: int) -> PoseSequence:
    """Scale (uniformly) and shift x, y so the observed joints of every frame fit the canvas
    (robustly: a single joint at 1e30 must not shrink the signer to a dot)."""
    xy = seq.data[..., :2][seq.mask].astype(np.float64)  # float32 arithmetic on a glitch near its maximum overflows
    low, high = robust_bounds(xy)
    extent = high - low
    room = np.array([width, height], np.float64) * (1 - 2 * MARGIN)
    nonzero = extent > 1e-9
    # A pose with no extent along an axis (one joint, a flat line) is only centred along it.
    scale = float(np.min(room[nonzero] / extent[nonzero])) if nonzero.any() else 1.0
    centre_in = (low + high) / 2
    centre_out = np.array([width, height], np.float64) / 2
    data = seq.data.astype(np.float64)
    data[..., :2] = (data[..., :2] - centre_in) * scale + centre_out
    # A glitched joint far off the canvas stays off it, at a distance OpenCV's integer pixels can hold.
    far = 4 * max(width, height)
    data[..., :2] = np.clip(data[..., :2], -far, far)
    if data.shape[-1] > 2:
        data[..., 2:] *= scale
    # Masked joints are never drawn, but the visualizer still rounds them to int; keep them finite.
    data = np.where(seq.mask[..., None], data, 0.0).astype(np.float32)
    return PoseSequence(data, seq.mask, seq.fps, seq.layout, seq.confidence)


def canvas_positions(seq: PoseSequence, width: int, height: int) -> np.ndarray:
    """``(T, J, 3)`` float32: each joint's x / `width`, y / `height` once `seq` is fitted to the
    canvas as :func:`fit_to_canvas` draws it, and 1 where the joint is observed (0 and position 0
    where not)."""
    fitted = fit_to_canvas(seq, width, height)
    return _positions(fitted.data[..., :2], seq.mask, width, height)


def _positions(xy: np.ndarray, mask: np.ndarray, width: float, height: float) -> np.ndarray:
    out = np.zeros((*mask.shape, 3), np.float32)
    out[..., 0] = xy[..., 0] / width
    out[..., 1] = xy[..., 1] / height
    out[..., 2] = mask
    out[~mask] = 0.0
    return out


def frame_positions(seq: PoseSequence, resize: int | None, crop: int | None, width: int, height: int) -> np.ndarray:
    """``(T, J, 3)`` like :func:`canvas_positions` for a pose in the pixels of the video it was
    extracted from (its ``canvas``), after that video was shaped as ``prepare video-folder`` shapes
    frames: scaled so the shorter side is `resize` pixels, then the centre `crop` square kept, giving
    frames of `width` x `height`."""
    if seq.canvas is None:
        raise ValueError("the pose does not say which video's pixels its coordinates are (no canvas)")
    source_w, source_h = seq.canvas
    scale = resize / min(source_w, source_h) if resize else 1.0
    shaped_w, shaped_h = max(1, round(source_w * scale)), max(1, round(source_h * scale))
    left, top = ((shaped_w - crop) // 2, (shaped_h - crop) // 2) if crop else (0, 0)
    xy = seq.data[..., :2].astype(np.float64) * scale - np.array([left, top], np.float64)
    return _positions(np.clip(xy, -4.0 * width, 4.0 * width), seq.mask, width, height)


def placed_positions(
    seq: PoseSequence, centre: tuple[float, float], shoulder_width: float, width: int, height: int
) -> np.ndarray:
    """``(T, J, 3)`` for a pose from anywhere (another model, another camera) placed the way a
    model's training signer stood: its median shoulder centre at `centre` and its median shoulder
    width `shoulder_width`, both as fractions of the frame's width and height / width."""
    from text2sign.pose.normalize import normalize_by_shoulders

    normalized, _ = normalize_by_shoulders(seq)
    xy = normalized.data[..., :2].astype(np.float64) * shoulder_width * width
    xy += np.array([centre[0] * width, centre[1] * height])
    return _positions(np.clip(xy, -4.0 * width, 4.0 * width), seq.mask, width, height)

import math

import numpy as np
import pytest

from text2sign.errors import MetricInputError
from text2sign.evaluation import metrics as M


def constant(values, height=16, width=16):
    """A video whose frame t is filled with values[t] (one value or an RGB triple)."""
    frames = [np.broadcast_to(np.asarray(v, dtype=np.uint8), (height, width, 3)) for v in values]
    return np.stack(frames).astype(np.uint8)


def textured(frames=4, seed=0, size=32):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (size, size, 3))
    # Smooth the noise a little so SSIM has structure to compare, and move it over time.
    base = (base + np.roll(base, 1, axis=0) + np.roll(base, 1, axis=1)) // 3
    return np.stack([np.roll(base, t, axis=1) for t in range(frames)]).astype(np.uint8)


# --- PSNR -----------------------------------------------------------------------------------


def test_psnr_of_a_known_mse():
    # Every pixel off by 10: MSE 100, PSNR = 10 log10(255^2 / 100).
    assert M.psnr(constant([0, 0]), constant([10, 10])) == pytest.approx(10 * math.log10(255**2 / 100))
    # Per-frame values are averaged (not the PSNR of the mean MSE): MSE 100 and 400.
    expected = (10 * math.log10(255**2 / 100) + 10 * math.log10(255**2 / 400)) / 2
    assert M.psnr(constant([0, 0]), constant([10, 20])) == pytest.approx(expected)
    # Pred and ref are interchangeable, and an error on one channel counts over all three.
    assert M.psnr(constant([10]), constant([0])) == M.psnr(constant([0]), constant([10]))
    assert M.psnr(constant([(0, 0, 0)]), constant([(30, 0, 0)])) == pytest.approx(10 * math.log10(255**2 / 300))


def test_psnr_of_identical_frames_is_infinite_unless_capped():
    video = textured()
    assert M.psnr(video, video) == math.inf
    mixed_pred, mixed_ref = constant([0, 0]), constant([0, 10])  # frame 0 identical
    assert M.psnr(mixed_pred, mixed_ref) == math.inf
    assert M.psnr(video, video, max_db=100) == 100.0
    capped = M.psnr(mixed_pred, mixed_ref, max_db=100.0)
    assert capped == pytest.approx((100 + 10 * math.log10(255**2 / 100)) / 2)
    with pytest.raises(MetricInputError, match="max_db"):
        M.psnr(video, video, max_db=0)
    with pytest.raises(MetricInputError, match="max_db"):
        M.psnr(video, video, max_db=math.inf)


# --- SSIM -----------------------------------------------------------------------------------


def test_ssim_of_identical_frames_is_one():
    video = textured()
    assert M.ssim(video, video) == pytest.approx(1.0)
    flat = constant([7, 200])
    assert M.ssim(flat, flat) == pytest.approx(1.0)


def test_ssim_of_flat_frames_is_the_luminance_term():
    # No variance on either side: only (2 a b + C1) / (a^2 + b^2 + C1) is left, C1 = (0.01 * 255)^2.
    c1 = (0.01 * 255) ** 2
    a, b = 100.0, 150.0
    assert M.ssim(constant([a]), constant([b])) == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1))


def test_ssim_drops_for_shifted_and_noised_videos():
    video = textured(seed=1)
    shifted = np.roll(video, 3, axis=2)
    rng = np.random.default_rng(2)
    noised = np.clip(video.astype(int) + rng.normal(0, 25, video.shape).round(), 0, 255).astype(np.uint8)
    same = M.ssim(video, video)
    assert M.ssim(shifted, video) < same - 0.1
    assert M.ssim(noised, video) < same - 0.1
    assert M.psnr(noised, video) < M.psnr(video, np.clip(video.astype(int) + 1, 0, 255).astype(np.uint8))


def test_ssim_needs_frames_as_large_as_its_window():
    small = constant([0], height=10, width=32)
    with pytest.raises(MetricInputError, match="10 x 32 pixels are smaller than SSIM's 11 x 11 window"):
        M.ssim(small, small)


# --- temporal consistency -------------------------------------------------------------------


def test_temporal_consistency_of_static_and_alternating_videos():
    assert M.temporal_consistency(np.repeat(textured(frames=1), 5, axis=0)) == 0.0
    assert M.temporal_consistency(constant([0, 255, 0, 255])) == 1.0
    # Differences 51 and 0 over two pairs: 51 / 2 / 255 = 0.1.
    assert M.temporal_consistency(constant([0, 51, 51])) == pytest.approx(0.1)
    # One channel of half the pixels jumps by 255 once: 1/2 * 1/3 of the pixel values change fully.
    video = np.zeros((2, 4, 4, 3), np.uint8)
    video[1, :2, :, 0] = 255
    assert M.temporal_consistency(video) == pytest.approx(1 / 6)


def test_temporal_consistency_needs_two_frames():
    with pytest.raises(MetricInputError, match="needs at least 2"):
        M.temporal_consistency(constant([3]))


# --- input errors ---------------------------------------------------------------------------


def test_video_input_errors_are_one_clear_line():
    video = constant([0, 0, 0], height=16, width=16)
    cases = [
        ((video, video[:2]), r"differ in shape: \(3, 16, 16, 3\) vs \(2, 16, 16, 3\)"),
        ((video, video[:, :12]), "differ in shape"),
        ((video.astype(np.float32), video), "pred must be a uint8 video"),
        ((video, video.astype(np.int64)), "ref must be a uint8 video"),
        ((video[:0], video[:0]), "pred has no frames"),
        ((video[:, :0], video[:, :0]), "pred has empty frames"),
        ((video[0], video[0]), r"must be a \(frames, height, width, 3\) RGB array"),
        ((video[..., :1], video[..., :1]), r"must be a \(frames, height, width, 3\) RGB array"),
    ]
    for args, message in cases:
        for metric in (M.psnr, M.ssim):
            with pytest.raises(MetricInputError, match=message) as info:
                metric(*args)
            assert "\n" not in str(info.value)
    for bad, message in ((video[:0], "video has no frames"), (video.astype(float), "uint8")):
        with pytest.raises(MetricInputError, match=message):
            M.temporal_consistency(bad)

"""Feature-set metrics: Fréchet distance and diversity of recognizer features, ``(N, C)`` arrays.

``frechet_distance(features_a, features_b) -> float``
    The Fréchet distance between Gaussians fitted to two sets (an FID for poses, with the
    back-translation recognizer's features), computed as pytorch-fid does; lower is better.
``diversity(features, pairs=300, seed=0) -> float``
    The mean distance between random pairs of generated features, as Action2Motion and the
    HumanML3D text-to-motion evaluation define it; compare it with the references' value.

Inputs are validated and problems raise :class:`~text2sign.errors.MetricInputError` with one
line: not a 2-D numeric array, NaN or infinite values, too few samples, different channels.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from text2sign.errors import MetricInputError

__all__ = ["diversity", "frechet_distance"]


def _check_features(features, who: str, min_rows: int) -> np.ndarray:
    features = np.asarray(features)
    if features.dtype.kind not in "fiu":
        raise MetricInputError(f"{who} must be numeric, got dtype {features.dtype}")
    if features.ndim != 2:
        raise MetricInputError(f"{who} must be a (samples, channels) array, got shape {features.shape}")
    if features.shape[1] == 0:
        raise MetricInputError(f"{who} has no feature channels")
    if features.shape[0] < min_rows:
        raise MetricInputError(f"{who} has {features.shape[0]} samples; this metric needs at least {min_rows}")
    if not np.isfinite(features).all():
        raise MetricInputError(f"{who} contains NaN or infinite values")
    return features.astype(np.float64)


def frechet_distance(features_a, features_b, eps: float = 1e-6) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (FID, with recognizer features).

    ``||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 sqrtm(S_a S_b))`` with ``scipy.linalg.sqrtm``, as
    pytorch-fid computes it. Each set needs at least 2 samples. With fewer samples than channels
    the covariances are singular: the value is still defined but noisy and biased upwards, so
    compare such numbers only at equal sample counts. When sqrtm fails on a singular product,
    ``eps`` is added to both diagonals (pytorch-fid's fallback); imaginary parts from rounding
    are dropped, and a large one raises MetricInputError.
    """
    a = _check_features(features_a, "features_a", 2)
    b = _check_features(features_b, "features_b", 2)
    if a.shape[1] != b.shape[1]:
        raise MetricInputError(f"feature sets differ in channels: {a.shape[1]} vs {b.shape[1]}")
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))
    covmean = scipy.linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(covmean).all():
        offset = np.eye(len(cov_a)) * eps
        covmean = scipy.linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            largest = float(np.max(np.abs(covmean.imag)))
            raise MetricInputError(
                f"Fréchet distance is numerically unstable (imaginary part {largest:.3g}); use more samples"
            )
        covmean = covmean.real
    value = float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(covmean))
    # Identical sets give a tiny negative number from rounding; a distance is never below 0.
    return max(value, 0.0)


def diversity(features, pairs: int = 300, seed: int = 0) -> float:
    """Mean Euclidean distance between ``pairs`` random pairs of generated features.

    The definition used by Action2Motion and the HumanML3D text-to-motion evaluation: draw
    ``pairs`` indices twice, each time without replacement, and average the distances of the
    matched rows (a row may meet itself). Needs at least ``pairs`` samples; ``seed`` fixes the draw.
    """
    if isinstance(pairs, bool) or not isinstance(pairs, (int, np.integer)) or pairs < 1:
        raise MetricInputError(f"pairs must be a positive integer, got {pairs!r}")
    x = _check_features(features, "features", 2)
    if pairs > len(x):
        raise MetricInputError(
            f"diversity with {pairs} pairs needs at least {pairs} samples, got {len(x)}; lower pairs"
        )
    rng = np.random.default_rng(seed)
    first = rng.choice(len(x), pairs, replace=False)
    second = rng.choice(len(x), pairs, replace=False)
    return float(np.linalg.norm(x[first] - x[second], axis=1).mean())

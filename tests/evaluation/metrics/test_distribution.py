import numpy as np
import pytest

from text2sign.errors import MetricInputError
from text2sign.evaluation import metrics as M


def test_frechet_identical_is_zero_and_shift_is_squared_shift():
    rng = np.random.default_rng(7)
    a = rng.normal(size=(400, 6))
    assert M.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    shift = np.array([1.0, -2.0, 0.0, 0.5, 0.0, 3.0])
    assert M.frechet_distance(a, a + shift) == pytest.approx((shift**2).sum(), rel=1e-6)


def test_frechet_with_fewer_samples_than_channels_is_finite():
    rng = np.random.default_rng(8)
    value = M.frechet_distance(rng.normal(size=(4, 16)), rng.normal(size=(5, 16)))
    assert np.isfinite(value) and value > 0


def test_frechet_errors():
    with pytest.raises(MetricInputError, match="features_a has 1 samples"):
        M.frechet_distance(np.zeros((1, 3)), np.zeros((5, 3)))
    with pytest.raises(MetricInputError, match="differ in channels: 3 vs 4"):
        M.frechet_distance(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(MetricInputError, match="NaN"):
        M.frechet_distance(np.full((5, 3), np.nan), np.zeros((5, 3)))


def test_diversity_definition():
    rng = np.random.default_rng(9)
    x = rng.normal(size=(50, 8))
    assert M.diversity(np.ones((10, 4)), pairs=10) == 0.0
    assert M.diversity(x, pairs=20, seed=1) == M.diversity(x, pairs=20, seed=1)
    assert M.diversity(3 * x, pairs=20, seed=1) == pytest.approx(3 * M.diversity(x, pairs=20, seed=1))
    with pytest.raises(MetricInputError, match="needs at least 300 samples, got 50"):
        M.diversity(x)

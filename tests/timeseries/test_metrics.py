"""Metric formulas against hand-computed values and GluonTS' implementation."""
import numpy as np
import pytest
from polydiff.timeseries import metrics


def _data(seed=0, N=3, S=40, L=5, K=2):
    rng = np.random.default_rng(seed)
    samples = rng.normal(size=(N, S, L, K))
    target = rng.normal(size=(N, L, K)) + 2
    mask = rng.random((N, L, K)) < 0.6
    return samples, target, mask


def test_point_mass_crps_equals_mae():
    _, target, mask = _data()
    point = (target + np.random.default_rng(1).normal(size=target.shape))[:, None]
    point = np.repeat(point, 7, axis=1)
    assert metrics.sample_crps(point, target, mask) == pytest.approx(metrics.mae(point, target, mask))


def test_sample_crps_matches_pairwise_definition():
    samples, target, mask = _data()
    x = np.moveaxis(samples, 1, -1)[mask]
    y = target[mask]
    by_hand = (np.abs(x - y[:, None]).mean(1)
               - 0.5 * np.abs(x[:, :, None] - x[:, None, :]).mean((1, 2))).mean()
    assert metrics.sample_crps(samples, target, mask) == pytest.approx(by_hand, rel=1e-12)


def test_sample_crps_gaussian_closed_form():
    # CRPS(N(0,1), y) = y (2 Phi(y) - 1) + 2 phi(y) - 1/sqrt(pi) (Gneiting & Raftery 2007)
    from scipy.stats import norm
    rng = np.random.default_rng(0)
    y = np.array([[[0.3]], [[-1.2]]])
    s = rng.normal(size=(2, 20000, 1, 1))
    exact = np.mean([v * (2 * norm.cdf(v) - 1) + 2 * norm.pdf(v) - 1 / np.sqrt(np.pi) for v in (0.3, -1.2)])
    assert metrics.sample_crps(s, y, np.ones_like(y, bool)) == pytest.approx(exact, abs=5e-3)


def test_quantile_loss_matches_gluonts():
    from gluonts.evaluation.metrics import quantile_loss
    rng = np.random.default_rng(0)
    y, f = rng.normal(size=50), rng.normal(size=50)
    for q in (0.05, 0.5, 0.9):
        assert metrics.quantile_loss(y, f, q) == pytest.approx(float(quantile_loss(y, f, q)))


def test_quantile_crps_by_hand_and_point_mass():
    samples, target, mask = _data()
    y = target[mask]
    total = 0.0
    for q in metrics.QUANTILES:
        f = np.quantile(samples, q, axis=1)[mask]
        total += 2 * np.sum(np.abs((y - f) * ((y <= f) - q))) / np.abs(y).sum()
    assert metrics.quantile_crps(samples, target, mask) == pytest.approx(total / 19)
    # for a point forecast every quantile is the point: mean_q 2|y-f| max(q, 1-q)-ish weights
    point = target[:, None] + 0.5
    expected = np.mean([2 * 0.5 * len(y) * q for q in metrics.QUANTILES]) / np.abs(y).sum()
    assert metrics.quantile_crps(point, target, mask) == pytest.approx(expected)
    assert len(metrics.QUANTILES) == 19 and metrics.QUANTILES[0] == 0.05


def test_crps_sum_sums_features():
    samples, target, mask = _data()
    full = np.ones_like(mask)
    a = metrics.quantile_crps_sum(samples, target, full)
    b = metrics.quantile_crps(samples.sum(-1)[..., None], target.sum(-1)[..., None],
                              np.ones(target.shape[:2] + (1,), bool))
    assert a == pytest.approx(b)


def test_mae_rmse_of_median():
    target = np.zeros((1, 2, 1))
    samples = np.array([1.0, 2.0, 3.0])[None, :, None, None] * np.ones((1, 3, 2, 1))
    mask = np.ones((1, 2, 1), bool)
    assert metrics.mae(samples, target, mask) == 2.0
    assert metrics.rmse(samples, target, mask) == 2.0


def test_metric_input_errors():
    samples, target, mask = _data()
    with pytest.raises(ValueError, match="no entry"):
        metrics.mae(samples, target, np.zeros_like(mask))
    with pytest.raises(ValueError, match="shape mismatch"):
        metrics.mae(samples[:, :, :4], target, mask)

"""Calibration scores against closed forms and the exact state-space posterior."""
import numpy as np
import pytest
from polydiff.timeseries import calibration, metrics
from polydiff.timeseries.statespace import kalman_smoother, var1_model
from scipy.stats import norm


def test_gaussian_crps_matches_the_sample_crps_of_many_draws():
    rng = np.random.default_rng(0)
    m, s = rng.normal(size=(4, 3, 2)), rng.uniform(0.2, 2.0, size=(4, 3, 2))
    y = m + s * rng.normal(size=m.shape)
    mask = np.ones(y.shape, bool)
    draws = m[:, None] + s[:, None] * rng.normal(size=(4, 40000, 3, 2))
    assert calibration.gaussian_crps(m, s, y, mask) == pytest.approx(
        metrics.sample_crps(draws, y, mask), rel=5e-3)
    # a zero spread is a point forecast: the absolute error
    assert calibration.gaussian_crps(m, 0 * s, y, mask) == pytest.approx(np.abs(y - m).mean())
    with pytest.raises(TypeError, match="boolean"):
        calibration.gaussian_crps(m, s, y, mask.astype(int))


def test_energy_distance_matches_the_gaussian_shift_closed_form():
    # X ~ N(0, 1), Y ~ N(mu, 1): E|X - Y| = E|N(mu, 2)|, E|X - X'| = E|Y - Y'| = 2 / sqrt(pi)
    mu, N, S = 0.8, 40, 600
    sd = np.sqrt(2.0)
    e_xy = sd * np.sqrt(2 / np.pi) * np.exp(-mu ** 2 / 4) + mu * (1 - 2 * norm.cdf(-mu / sd))
    exact = 2 * e_xy - 2 * (2 / np.sqrt(np.pi))
    rng = np.random.default_rng(1)
    x = rng.normal(size=(N, S, 1, 1))
    mask = np.ones((N, 1, 1), bool)
    assert calibration.energy_distance(x, rng.normal(mu, 1, size=x.shape), mask) == pytest.approx(
        exact, abs=0.02)
    same = calibration.energy_distance(x, rng.normal(size=x.shape), mask)
    assert abs(same) < 0.01 < exact


def test_exact_posterior_is_calibrated_and_a_narrow_sampler_is_not():
    model = var1_model(3)
    truth = model.sample(150, 12, seed=0)
    hide = np.random.default_rng(1).random(truth.shape) < 0.5
    post = kalman_smoother(model, np.where(hide, np.nan, truth))
    exact = post.sample(200, seed=1)
    ref = post.sample(200, seed=2)
    sc = calibration.posterior_scores(exact, truth, hide, ref)
    # ~2,700 scored entries: binomial s.e. of a coverage <= 0.01
    assert sc["coverage-50%"] == pytest.approx(0.5, abs=0.03)
    assert sc["coverage-90%"] == pytest.approx(0.9, abs=0.02)
    assert sc["CRPS-ratio"] == pytest.approx(1.0, abs=0.02)
    assert abs(sc["energy-distance"]) < 0.02
    # the exact Gaussian CRPS of the posterior marginals is the sample CRPS's limit
    g = calibration.gaussian_crps(post.mean, np.sqrt(post.var), truth, hide)
    assert sc["CRPS-sample"] == pytest.approx(g * (1 + 1 / 200), rel=0.02)
    # the same means with half the spread: under-covers and scores worse
    narrow = post.mean[:, None] + 0.5 * (exact - post.mean[:, None])
    bad = calibration.posterior_scores(narrow, truth, hide, ref)
    assert bad["coverage-90%"] < 0.7 and bad["coverage-50%"] < 0.35
    assert bad["CRPS-ratio"] > 1.05 and bad["energy-distance"] > 0.1


def test_calibration_input_checks():
    s = np.zeros((2, 5, 3, 1))
    y, m = np.zeros((2, 3, 1)), np.ones((2, 3, 1), bool)
    with pytest.raises(ValueError, match="level"):
        calibration.interval_coverage(s, y, m, 1.5)
    with pytest.raises(ValueError, match="equal N"):
        calibration.energy_distance(s, np.zeros((3, 5, 3, 1)), m)
    with pytest.raises(ValueError, match="no entry"):
        calibration.energy_distance(s, s, ~m)
    with pytest.raises(ValueError, match="need at least"):
        calibration.posterior_scores(s, y + 1, m, s[:, :2])


class _ExactImputer:
    """An imputer that draws from the exact posterior: the plumbing check for the records."""

    def __init__(self, model):
        self.model = model

    def impute(self, X, n_samples, *, solver, steps, seed, max_batch=None):
        return kalman_smoother(self.model, X).sample(n_samples, seed=seed)


def test_statespace_records_score_an_exact_imputer_like_the_oracle():
    from polydiff.timeseries.statespace_eval import DATASET, statespace_records, statespace_split
    model = var1_model(2)
    _, test = statespace_split(model, 1, 150, 10)  # 1,500 scored entries
    recs = statespace_records(_ExactImputer(model), model, test, rates=(0.5,),
                              samplers=(("ddim", 5),), n_samples=100)
    by = {(r["method"], r["metric"]): r for r in recs}
    assert {r["dataset"] for r in recs} == {DATASET} and {r["setting"] for r in recs} == {"mcar-50%"}
    assert by["polydiff-csdi-ddim5", "CRPS"]["nfe"] == 5 and by["kalman-smoother", "CRPS"]["nfe"] is None
    for method in ("kalman-smoother", "polydiff-csdi-ddim5"):
        assert by[method, "CRPS-ratio"]["value"] == pytest.approx(1.0, abs=0.03)
        cov = by[method, "coverage-90%-error"]
        assert cov["coverage"] == pytest.approx(0.9, abs=0.04)
        assert cov["value"] == pytest.approx(abs(cov["coverage"] - 0.9)) and not cov["higher_is_better"]
    from polydiff.bench.schema import record_problems
    assert all(record_problems(r, domain="timeseries") == [] for r in recs)
    with pytest.raises(ValueError, match="without NaN"):
        statespace_records(_ExactImputer(model), model, np.where(test > 0, np.nan, test))

"""The Kalman smoother against brute-force Gaussian conditioning; the generator against its
stationary law; posterior draws against the posterior's moments."""
import numpy as np
import pytest
from polydiff.timeseries.statespace import (
    LinearGaussianSSM,
    gaussian_conditional,
    kalman_smoother,
    var1_model,
)


def _holes(Y, rate, seed):
    Y = Y.copy()
    Y[np.random.default_rng(seed).random(Y.shape) < rate] = np.nan
    return Y


@pytest.mark.parametrize("R", [0.05, 0.0])
def test_smoother_equals_brute_force_conditional(R):
    rng = np.random.default_rng(3)
    K = 3
    A = 0.5 * rng.normal(size=(K, K)) / np.sqrt(K)
    B = rng.normal(size=(K, K))
    model = LinearGaussianSSM(A, B @ B.T + 0.2 * np.eye(K), np.full(K, R), rng.normal(size=K))
    Y = _holes(model.sample(6, 5, seed=1), 0.5, 0)
    Y[0, 1] = np.nan          # a time step with nothing observed
    Y[1] = model.sample(1, 5, seed=9)[0]  # a fully observed series
    Y[2, 2:] = np.nan         # a missing tail
    a, b = kalman_smoother(model, Y), gaussian_conditional(model, Y)
    np.testing.assert_allclose(a.mean, b.mean, atol=1e-10)
    np.testing.assert_allclose(a.var, b.var, atol=1e-10)
    assert len(a.cov[1]) == 0
    for ca, cb in zip(a.cov, b.cov):
        np.testing.assert_allclose(ca, cb, atol=1e-10)
    obs = np.isfinite(Y)
    assert np.array_equal(a.mean[obs], Y[obs]) and (a.var[obs] == 0).all()
    assert (a.var[~obs] > 0).all()


def test_generator_has_the_stationary_law():
    model = var1_model(3)
    Y = model.sample(20000, 4, seed=0)
    C = model.joint_cov(4)
    emp = np.cov(Y.reshape(len(Y), -1), rowvar=False)
    # Gaussian standard error of a covariance entry: sqrt((C_ii C_jj + C_ij^2) / n)
    d = np.diag(C)
    se = np.sqrt((d[:, None] * d[None] + C ** 2) / len(Y))
    assert (np.abs(emp - C) < 5 * se).all()
    np.testing.assert_allclose(Y.mean((0, 1)), model.mu, atol=5 * np.sqrt(d.max() / len(Y)))


def test_posterior_draws_have_the_posterior_moments():
    model = var1_model(2)
    Y = _holes(model.sample(3, 6, seed=2), 0.6, 1)
    post = kalman_smoother(model, Y)
    S = 40000
    s = post.sample(S, seed=0)
    obs = np.isfinite(Y)
    assert np.array_equal(s[:, 0][obs], Y[obs])
    se = np.sqrt(post.var.max() / S)
    np.testing.assert_allclose(s.mean(1), post.mean, atol=6 * se)
    for n in range(3):
        idx = np.flatnonzero(post.missing[n])
        emp = np.cov(s[n].reshape(S, -1)[:, idx], rowvar=False)
        np.testing.assert_allclose(emp, post.cov[n], atol=0.03)


def test_bad_parameters_and_inputs_are_refused():
    with pytest.raises(ValueError, match="spectral radius"):
        LinearGaussianSSM(np.eye(2), np.eye(2), np.zeros(2), np.zeros(2))
    with pytest.raises(ValueError, match="positive definite"):
        LinearGaussianSSM(0.5 * np.eye(2), -np.eye(2), np.zeros(2), np.zeros(2))
    with pytest.raises(ValueError, match="R holds variances"):
        LinearGaussianSSM(0.5 * np.eye(2), np.eye(2), -np.ones(2), np.zeros(2))
    with pytest.raises(ValueError, match=r"mu must have shape \(2,\)"):
        LinearGaussianSSM(0.5 * np.eye(2), np.eye(2), np.zeros(2), np.zeros(3))
    model = var1_model(2)
    with pytest.raises(ValueError, match="K=2"):
        kalman_smoother(model, np.zeros((1, 4, 3)))
    with pytest.raises(ValueError, match="n_series"):
        model.sample(0, 4)
    with pytest.raises(ValueError, match="n_samples"):
        kalman_smoother(model, np.zeros((1, 4, 2))).sample(0)

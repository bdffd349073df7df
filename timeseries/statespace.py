"""A linear-Gaussian state-space data set whose imputation posterior is known exactly.

Model (a stationary VAR(1) observed with noise; Durbin & Koopman 2012, eq. 4.12)::

    x_1 ~ N(mu, P_inf),   x_t = mu + A (x_{t-1} - mu) + w_t,   w_t ~ N(0, Q)
    y_t = x_t + v_t,      v_t ~ N(0, diag(R))

with ``P_inf = A P_inf A^T + Q`` (the stationary covariance). Given the observed entries of
a window ``y [L, K]``, every missing entry has a Gaussian posterior:
:func:`kalman_smoother` computes its mean and the joint covariance of all missing entries
(Rauch, Tung & Striebel 1965; lag covariances ``Cov(x_s, x_t | y) = J_s Cov(x_{s+1}, x_t |
y)``, Shumway & Stoffer 2017, Property 6.3), and :func:`gaussian_conditional` computes the
same by conditioning the full ``LK``-dimensional Gaussian (the brute-force check).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from polydiff.core.validate import check_int

__all__ = ["GaussianPosterior", "LinearGaussianSSM", "gaussian_conditional", "kalman_smoother",
           "var1_model"]


def _matrix(value, name: str, shape: tuple[int, ...]) -> np.ndarray:
    a = _numbers(value, name)
    if a.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} must be finite")
    return a


def _numbers(value, name: str) -> np.ndarray:
    a = np.asarray(value)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers, got dtype {a.dtype}")
    return a.astype(np.float64)


@dataclass(frozen=True)
class LinearGaussianSSM:
    """Parameters of the stationary VAR(1)-plus-noise model above (``K`` features).

    Args:
        A: ``[K, K]`` transition, spectral radius < 1 (stationarity).
        Q: ``[K, K]`` state-noise covariance (symmetric positive definite).
        R: ``[K]`` observation-noise variances (>= 0; 0 observes the state exactly).
        mu: ``[K]`` stationary mean.
    """

    A: np.ndarray
    Q: np.ndarray
    R: np.ndarray
    mu: np.ndarray

    def __post_init__(self) -> None:
        A = _numbers(self.A, "A")
        if A.ndim != 2 or A.shape[0] != A.shape[1]:
            raise ValueError(f"A must be a square [K, K] matrix, got shape {A.shape}")
        K = A.shape[0]
        A = _matrix(A, "A", (K, K))
        Q = _matrix(self.Q, "Q", (K, K))
        R = _matrix(self.R, "R", (K,))
        mu = _matrix(self.mu, "mu", (K,))
        rho = float(np.abs(np.linalg.eigvals(A)).max())
        if rho >= 1.0:
            raise ValueError(f"A must have spectral radius < 1 (stationary), got {rho:.4f}")
        if not np.allclose(Q, Q.T) or np.linalg.eigvalsh(Q).min() <= 0:
            raise ValueError("Q must be symmetric positive definite")
        if (R < 0).any():
            raise ValueError(f"R holds variances and must be >= 0, got {R.tolist()}")
        for name, v in (("A", A), ("Q", Q), ("R", R), ("mu", mu)):
            object.__setattr__(self, name, v)

    @property
    def n_features(self) -> int:
        """``K``."""
        return self.A.shape[0]

    def stationary_cov(self) -> np.ndarray:
        """``P_inf`` solving the discrete Lyapunov equation ``P = A P A^T + Q``."""
        from scipy.linalg import solve_discrete_lyapunov

        P = solve_discrete_lyapunov(self.A, self.Q)
        return (P + P.T) / 2

    def joint_cov(self, length: int) -> np.ndarray:
        """Covariance ``[L K, L K]`` of a stationary window ``y`` flattened time-major:
        ``Cov(x_s, x_t) = A^(t-s) P_inf`` for ``t >= s``, plus ``diag(R)`` on the diagonal."""
        length = check_int(length, "length", low=1)
        K = self.n_features
        P = self.stationary_cov()
        C = np.zeros((length, length, K, K))
        lag = P
        for d in range(length):
            for s in range(length - d):
                C[s + d, s] = lag
                C[s, s + d] = lag.T
            lag = self.A @ lag
        C = C.transpose(0, 2, 1, 3).reshape(length * K, length * K)
        return C + np.diag(np.tile(self.R, length))

    def sample(self, n_series: int, length: int, seed: int = 0) -> np.ndarray:
        """``n_series`` independent stationary windows ``y [N, L, K]``."""
        for name, v in (("n_series", n_series), ("length", length)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name} must be an int >= 1, got {v!r}")
        rng = np.random.default_rng(check_int(seed, "seed", low=0))
        K = self.n_features
        x = rng.multivariate_normal(np.zeros(K), self.stationary_cov(), size=n_series)
        cq = np.linalg.cholesky(self.Q)
        out = np.empty((n_series, length, K))
        for t in range(length):
            if t:
                x = x @ self.A.T + rng.standard_normal((n_series, K)) @ cq.T
            out[:, t] = x
        out += rng.standard_normal(out.shape) * np.sqrt(self.R)
        return out + self.mu


def var1_model(n_features: int = 3) -> LinearGaussianSSM:
    """The benchmark's model: coupled VAR(1) (persistence 0.9 on the diagonal, 0.1 coupling
    to the next feature, eigenvalues of modulus <= 0.9 + 0.1), correlated state noise
    (``Q = 0.3 I + 0.1``), observation noise ``R = 0.05`` and means ``0, 1, 2, ...``."""
    if isinstance(n_features, (int, np.integer)) and n_features < 1:
        raise ValueError(f"n_features must be >= 1, got {n_features}")
    K = check_int(n_features, "n_features", low=1)
    A = 0.9 * np.eye(K) + 0.1 * np.eye(K, k=1) - 0.05 * np.eye(K, k=-1)
    Q = 0.3 * np.eye(K) + 0.1 * np.ones((K, K))
    return LinearGaussianSSM(A, Q, np.full(K, 0.05), np.arange(K, dtype=np.float64))


@dataclass
class GaussianPosterior:
    """Exact posterior of the missing entries of ``N`` windows ``[L, K]``.

    ``mean [N, L, K]`` (observed entries: their value), ``var [N, L, K]`` (observed: 0) and,
    per series, ``cov[n]`` the joint covariance of its missing entries in the order of
    ``np.flatnonzero(missing[n])`` (time-major flattening).
    """

    mean: np.ndarray
    var: np.ndarray
    cov: list[np.ndarray]
    missing: np.ndarray

    def sample(self, n_samples: int, seed: int = 0) -> np.ndarray:
        """Joint draws ``[N, S, L, K]`` (observed entries copied through)."""
        if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
            raise ValueError(f"n_samples must be an int >= 1, got {n_samples!r}")
        rng = np.random.default_rng(check_int(seed, "seed", low=0))
        N = len(self.mean)
        out = np.repeat(self.mean[:, None], n_samples, axis=1).reshape(N, n_samples, -1)
        for n in range(N):
            idx = np.flatnonzero(self.missing[n])
            if not len(idx):
                continue
            C = self.cov[n]
            # eigen-factor: exact for the (possibly singular, R = 0) joint covariance
            w, V = np.linalg.eigh((C + C.T) / 2)
            F = V * np.sqrt(np.clip(w, 0.0, None))
            out[n][:, idx] += rng.standard_normal((n_samples, len(idx))) @ F.T
        return out.reshape((N, n_samples) + self.mean.shape[1:])


def _check_windows(model: LinearGaussianSSM, Y) -> np.ndarray:
    if not isinstance(model, LinearGaussianSSM):
        raise TypeError(f"model must be a LinearGaussianSSM, got {type(model).__name__}")
    Y = _numbers(Y, "Y")
    if Y.ndim != 3 or Y.shape[2] != model.n_features or 0 in Y.shape:
        raise ValueError(f"Y must be a non-empty [N, L, K={model.n_features}] array (NaN = missing), got "
                         f"shape {Y.shape}")
    if np.isinf(Y).any():
        raise ValueError("Y contains infinite values; use NaN for missing entries")
    return Y


def _smooth_one(model: LinearGaussianSSM, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """RTS smoother for one window ``y [L, K]`` (centred); returns the state means ``[L, K]``
    and the joint state covariance ``[L, K, L, K]``."""
    L, K = y.shape
    A, Q, R = model.A, model.Q, model.R
    m_pred, P_pred = np.zeros(K), model.stationary_cov()
    mf, Pf, mp, Pp = (np.empty((L, K)), np.empty((L, K, K)), np.empty((L, K)), np.empty((L, K, K)))
    for t in range(L):
        if t:
            m_pred, P_pred = A @ mf[t - 1], A @ Pf[t - 1] @ A.T + Q
        mp[t], Pp[t] = m_pred, P_pred
        o = np.isfinite(y[t])
        if o.any():  # update with the observed coordinates (Durbin & Koopman Sec. 4.10)
            S = P_pred[np.ix_(o, o)] + np.diag(R[o])
            G = np.linalg.solve(S, P_pred[o]).T  # Kalman gain [K, |o|]
            m, P = m_pred + G @ (y[t, o] - m_pred[o]), P_pred - G @ P_pred[o]
        else:
            m, P = m_pred, P_pred
        mf[t], Pf[t] = m, (P + P.T) / 2
    ms, Ps = mf.copy(), Pf.copy()
    J = np.zeros((L, K, K))
    for t in range(L - 2, -1, -1):
        J[t] = np.linalg.solve(Pp[t + 1], A @ Pf[t]).T  # J_t = P_t|t A^T P_t+1|t^-1
        ms[t] = mf[t] + J[t] @ (ms[t + 1] - mp[t + 1])
        Ps[t] = Pf[t] + J[t] @ (Ps[t + 1] - Pp[t + 1]) @ J[t].T
    C = np.zeros((L, K, L, K))
    for t in range(L):
        C[t, :, t] = Ps[t]
        for s in range(t - 1, -1, -1):  # Cov(x_s, x_t | y) = J_s Cov(x_s+1, x_t | y)
            C[s, :, t] = J[s] @ C[s + 1, :, t]
            C[t, :, s] = C[s, :, t].T
    return ms, C


def _posterior(Y: np.ndarray, means: list[np.ndarray], covs: list[np.ndarray]) -> GaussianPosterior:
    if not all(np.isfinite(m).all() for m in means) or not all(np.isfinite(c).all() for c in covs):
        raise FloatingPointError(f"the posterior of Y is not finite in float64 (observed |Y| up to "
                                 f"{np.nanmax(np.abs(Y)):.3g}); rescale the series")
    missing = ~np.isfinite(Y)
    mean = np.where(missing, np.stack(means), Y)
    var = np.zeros_like(Y)
    cov = []
    for n, C in enumerate(covs):
        idx = np.flatnonzero(missing[n])
        cov.append(C[np.ix_(idx, idx)])
        var[n].reshape(-1)[idx] = np.diag(cov[-1])
    return GaussianPosterior(mean, var, cov, missing)


def kalman_smoother(model: LinearGaussianSSM, Y) -> GaussianPosterior:
    """Exact posterior of the missing entries (NaN) of each window ``Y [N, L, K]`` by the
    Kalman filter and RTS smoother; a missing ``y = x + v`` adds ``R`` to the state's
    posterior variance (``v`` is independent of everything observed)."""
    Y = _check_windows(model, Y)
    N, L, K = Y.shape
    means, covs = [], []
    for n in range(N):
        ms, C = _smooth_one(model, Y[n] - model.mu)
        means.append(ms + model.mu)
        covs.append(C.reshape(L * K, L * K) + np.diag(np.tile(model.R, L)))
    return _posterior(Y, means, covs)


def gaussian_conditional(model: LinearGaussianSSM, Y) -> GaussianPosterior:
    """The same posterior by conditioning the joint Gaussian of the window (``O((LK)^3)``):
    ``mean_m = mu_m + C_mo C_oo^-1 (y_o - mu_o)``, ``cov = C_mm - C_mo C_oo^-1 C_om``."""
    Y = _check_windows(model, Y)
    N, L, K = Y.shape
    C = model.joint_cov(L)
    mu = np.tile(model.mu, L)
    means, covs = [], []
    for n in range(N):
        y = Y[n].reshape(-1)
        o = np.isfinite(y)
        m = mu.copy()
        full = C.copy()
        if o.any():
            G = np.linalg.solve(C[np.ix_(o, o)], C[o]).T  # [LK, |o|]
            m = mu + G @ (y[o] - mu[o])
            full = C - G @ C[o]
        means.append(m.reshape(L, K))
        covs.append(full)
    return _posterior(Y, means, covs)

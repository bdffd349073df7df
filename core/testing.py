"""Test helpers shipped with polydiff (e3nn's ``assert_equivariant`` idea).

:class:`GaussianMixture` is an exact oracle: for data ``x0 ~ sum_k w_k N(mu_k, S_k)`` and any
Gaussian process ``x_t = alpha(t) x0 + sigma(t) eps`` the marginal is again a mixture,

    p_t(x) = sum_k w_k N(x; alpha mu_k, alpha^2 S_k + sigma^2 I),

so its log-density, score, Tweedie denoiser ``E[x0 | x_t] = (x + sigma^2 score) / alpha``
(Efron 2011) and noise ``E[eps | x_t] = -sigma score`` are known in closed form at every
``t``. :meth:`GaussianMixture.as_model` wraps them as a network ``model(x, t)`` with any
prediction type, so solvers, losses and likelihoods can be tested against exact answers.

:func:`convergence_order` fits the order of a solver from errors at several NFEs and
:func:`energy_distance` compares two samples (Szekely & Rizzo 2013).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from ._broadcast import append_dims
from .prediction import PREDICTIONS

__all__ = ["GaussianMixture", "convergence_order", "energy_distance", "mixture_target"]



def _f64(x, name: str) -> Tensor:
    if not isinstance(x, (Tensor, np.ndarray, list, tuple, float, int)):
        raise TypeError(f"{name} must be a tensor or array, got {type(x).__name__}")
    x = torch.as_tensor(x, dtype=torch.float64)
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or inf")
    return x


class GaussianMixture:
    """Exact Gaussian-mixture data distribution and its diffused marginals.

    Args:
        means: component means ``[K, D]``.
        stds: component standard deviations: a scalar, ``[K]`` (isotropic) or ``[K, D]``
            (diagonal). Give either ``stds`` or ``covs``.
        weights: mixture weights ``[K]`` (positive; normalised to sum to 1). Default uniform.
        covs: full covariances ``[K, D, D]`` (symmetric positive definite).
        process: default Gaussian process for the methods that take ``process=None``.

    Inputs ``x`` may have any shape ``[B, *dims]`` with ``prod(dims) == D``; times ``t`` are a
    scalar or per-sample ``[B]`` in the process's own time convention. All arithmetic is
    float64; outputs shaped like ``x`` come back in ``x``'s dtype.
    """

    def __init__(self, means, stds=None, weights=None, *, covs=None, process=None):
        mu = _f64(means, "means")
        if mu.ndim != 2 or mu.shape[0] < 1 or mu.shape[1] < 1:
            raise ValueError(f"means must have shape [K, D], got {tuple(mu.shape)}")
        k, d = mu.shape
        if (stds is None) == (covs is None):
            raise ValueError("give exactly one of stds and covs")
        self._U: Tensor | None = None
        if covs is not None:
            c = _f64(covs, "covs")
            if c.shape != (k, d, d):
                raise ValueError(f"covs must have shape [{k}, {d}, {d}], got {tuple(c.shape)}")
            if not torch.allclose(c, c.transpose(1, 2), atol=1e-10):
                raise ValueError("covs must be symmetric")
            lam, u = torch.linalg.eigh(c)
            if (lam <= 0).any():
                raise ValueError("covs must be positive definite")
            self._lam, self._U = lam, u  # S_k = U_k diag(lam_k) U_k^T
        else:
            s = _f64(stds, "stds")
            if s.ndim == 0:
                s = s.expand(k)
            if s.shape == (k,):
                s = s[:, None].expand(k, d)
            if s.shape != (k, d):
                raise ValueError(f"stds must be a scalar, [K]={k} or [K, D]=[{k}, {d}], got {tuple(s.shape)}")
            if (s <= 0).any():
                raise ValueError("stds must be positive")
            self._lam = (s**2).contiguous()
        w = torch.full((k,), 1.0 / k, dtype=torch.float64) if weights is None else _f64(weights, "weights")
        if w.shape != (k,):
            raise ValueError(f"weights must have shape [{k}], got {tuple(w.shape)}")
        if (w <= 0).any():
            raise ValueError("weights must be positive")
        self.means, self.weights = mu, w / w.sum()
        self.num_components, self.dim = k, d
        self.process = process

    # --- data distribution --------------------------------------------------------------
    def covariances(self) -> Tensor:
        """Component covariances ``[K, D, D]`` of the data."""
        if self._U is None:
            return torch.diag_embed(self._lam)
        return self._U @ torch.diag_embed(self._lam) @ self._U.transpose(1, 2)

    def mean(self) -> Tensor:
        """Mean ``[D]`` of the data distribution."""
        return self.weights @ self.means

    def covariance(self) -> Tensor:
        """Covariance ``[D, D]`` of the data distribution (law of total covariance)."""
        m = self.mean()
        second = self.covariances() + self.means[:, :, None] * self.means[:, None, :]
        return (self.weights[:, None, None] * second).sum(0) - m[:, None] * m[None, :]

    def sample(self, n: int, generator: torch.Generator | None = None, *,
               shape: Sequence[int] | None = None, dtype: torch.dtype = torch.float64) -> Tensor:
        """Draw ``n`` data samples, shape ``[n, D]`` (or ``[n, *shape]`` with ``prod(shape) == D``)."""
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}")
        comp = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        z = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        z = z * self._lam[comp].sqrt()
        if self._U is not None:
            z = torch.einsum("bkd,bd->bk", self._U[comp], z)
        x = self.means[comp] + z
        if shape is not None:
            shape = tuple(int(s) for s in shape)
            if math.prod(shape) != self.dim:
                raise ValueError(f"shape {shape} has {math.prod(shape)} entries, the mixture has D={self.dim}")
            x = x.reshape(n, *shape)
        return x.to(dtype)

    # --- diffused marginals -------------------------------------------------------------
    def _flat(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
        if x.ndim < 2 or x[0].numel() != self.dim:
            raise ValueError(f"x must have shape [B, *dims] with prod(dims) == D={self.dim}, got {tuple(x.shape)}")
        return x.reshape(x.shape[0], -1).to(torch.float64)

    def _coeffs(self, t, process, batch: int) -> tuple[Tensor, Tensor]:
        if t is None:  # the data distribution itself
            return torch.ones(batch, dtype=torch.float64), torch.zeros(batch, dtype=torch.float64)
        process = process if process is not None else self.process
        if process is None:
            raise ValueError("no process given: pass process= or construct GaussianMixture(..., process=...)")
        t = torch.as_tensor(t, dtype=torch.float64)
        if t.ndim == 0:
            t = t.expand(batch)
        if t.shape != (batch,):
            raise ValueError(f"t must be a scalar or of shape [{batch}], got {tuple(t.shape)}")
        a = torch.as_tensor(process.alpha(t), dtype=torch.float64)
        s = torch.as_tensor(process.sigma(t), dtype=torch.float64)
        return a.expand(batch), s.expand(batch)

    def _components(self, xf: Tensor, a: Tensor, s: Tensor):
        """Per-component log-densities ``[B, K]`` and scores ``[B, K, D]``."""
        dev = xf.device
        a, s, mu, lam = a.to(dev), s.to(dev), self.means.to(dev), self._lam.to(dev)
        u = None if self._U is None else self._U.to(dev)
        diff = xf[:, None, :] - a[:, None, None] * mu[None]
        y = diff if u is None else torch.einsum("bkd,kde->bke", diff, u)
        var = a[:, None, None] ** 2 * lam[None] + s[:, None, None] ** 2
        log_n = -0.5 * ((y**2 / var).sum(-1) + var.log().sum(-1) + self.dim * math.log(2 * math.pi))
        sc = -y / var
        if u is not None:
            sc = torch.einsum("bke,kde->bkd", sc, u)
        return log_n + self.weights.log().to(dev)[None], sc

    def log_responsibilities(self, x: Tensor, t=None, process=None) -> Tensor:
        """Exact class posterior ``log p(k | x_t)`` ``[B, K]`` (an exact noisy classifier)."""
        xf = self._flat(x)
        log_j, _ = self._components(xf, *self._coeffs(t, process, xf.shape[0]))
        return torch.log_softmax(log_j, dim=1)

    def log_prob(self, x: Tensor, t=None, process=None) -> Tensor:
        """Exact ``log p_t(x)`` per sample ``[B]`` (float64); ``t=None`` is the data density."""
        xf = self._flat(x)
        log_j, _ = self._components(xf, *self._coeffs(t, process, xf.shape[0]))
        return torch.logsumexp(log_j, dim=1)

    def score(self, x: Tensor, t=None, process=None) -> Tensor:
        """Exact ``grad_x log p_t(x)``, shaped like ``x``."""
        xf = self._flat(x)
        log_j, sc = self._components(xf, *self._coeffs(t, process, xf.shape[0]))
        r = torch.softmax(log_j, dim=1)
        return (r[:, :, None] * sc).sum(1).reshape(x.shape).to(x.dtype)

    def _x0_eps(self, x: Tensor, t, process) -> tuple[Tensor, Tensor]:
        xf = self._flat(x)
        a, s = self._coeffs(t, process, xf.shape[0])
        log_j, sc = self._components(xf, a, s)
        score = (torch.softmax(log_j, dim=1)[:, :, None] * sc).sum(1)
        a, s = a.to(xf.device), s.to(xf.device)
        x0 = (xf + s[:, None] ** 2 * score) / a[:, None]
        eps = -s[:, None] * score
        return x0.reshape(x.shape), eps.reshape(x.shape)

    def eps(self, x: Tensor, t, process=None) -> Tensor:
        """Exact ``E[eps | x_t] = -sigma(t) * score``, shaped like ``x``."""
        return self._x0_eps(x, t, process)[1].to(x.dtype)

    def x0(self, x: Tensor, t, process=None) -> Tensor:
        """Exact Tweedie denoiser ``E[x0 | x_t] = (x + sigma^2 score) / alpha``, shaped like ``x``."""
        return self._x0_eps(x, t, process)[0].to(x.dtype)

    def flow_solution(self, x: Tensor, process=None, t=None, *, tol: float = 1e-8) -> Tensor:
        """Where the probability-flow ODE takes ``x`` at time ``t`` (default ``t_max``): its
        data end, integrated with the exact score by adaptive RK45 (``rtol = atol = tol``) in
        Karras et al. (2022) coordinates ``y = x / alpha``, ``s = sigma / alpha`` from
        ``s(t)`` down to ``s = 1e-5``; the reference that solver errors are measured against."""
        from .process import EDM
        from .sample import sample

        process = process if process is not None else self.process
        if process is None:
            raise ValueError("flow_solution needs a process")
        t = torch.as_tensor(process.t_max if t is None else t, dtype=torch.float64)
        if t.ndim:
            raise ValueError(f"flow_solution takes one start time (a scalar), got shape {tuple(t.shape)}")
        if not tol > 0:
            raise ValueError(f"tol must be > 0, got {tol!r}")
        s0 = float(process.sigma(t) / process.alpha(t))
        edm = EDM(sigma_min=1e-5, sigma_max=s0)
        from .grids import make_grid

        grid = make_grid(edm, 2, "karras", final="none")
        y = x.to(torch.float64) / float(process.alpha(t))
        out = sample(self.as_model(edm, "eps"), edm, y, grid=grid, solver="rk45", rtol=tol, atol=tol)
        return out.to(x.dtype)

    def component(self, k: int) -> GaussianMixture:
        """The ``k``-th component alone (the exact class-conditional distribution)."""
        if not 0 <= k < self.num_components:
            raise ValueError(f"component index {k} outside [0, {self.num_components})")
        if self._U is None:
            return GaussianMixture(self.means[k : k + 1], self._lam[k : k + 1].sqrt(), process=self.process)
        return GaussianMixture(self.means[k : k + 1], covs=self.covariances()[k : k + 1], process=self.process)

    def as_model(self, process=None, prediction: str = "eps") -> Callable[..., Tensor]:
        """An exact network ``model(x, t, **cond) -> prediction`` in ``process``'s time.

        ``prediction`` is one of ``eps``, ``x0``, ``v``, ``score``, ``flow``, ``edm``, with the
        conventions of :mod:`polydiff.core.prediction`: the model is fed ``in_scale * x``
        (EDM's ``c_in``; 1 otherwise) and ``out`` solves ``x0_hat = x0_x x + x0_out out``.
        ``cond`` keywords are ignored.
        """
        process = process if process is not None else self.process
        if process is None:
            raise ValueError("as_model needs a process")
        if prediction not in PREDICTIONS:
            raise ValueError(f"unknown prediction {prediction!r}; expected one of {PREDICTIONS}")

        from .losses import _coefficients

        def model(x_in: Tensor, t: Tensor, **cond) -> Tensor:
            t64 = torch.as_tensor(t, dtype=torch.float64).cpu()
            t64 = t64.expand(x_in.shape[0]) if t64.ndim == 0 else t64
            _, _, coef, _ = _coefficients(process, prediction, t64)
            # the network sees in_scale * x (EDM's c_in); undo it to get the state x
            dev = x_in.device
            x = x_in.to(torch.float64) / append_dims(coef.in_scale.to(dev), x_in.ndim)
            x0, _ = self._x0_eps(x, t64, process)
            # out solves x0_hat = x0_x x + x0_out out (polydiff.core.prediction)
            out = (x0 - append_dims(coef.x0_x.to(dev), x.ndim) * x) / append_dims(coef.x0_out.to(dev), x.ndim)
            return out.to(x_in.dtype)

        model.prediction = prediction  # type: ignore[attr-defined]
        return model


def mixture_target(dim: int, modes: int, separation: float, std: float, scale: float = 1.0,
                   seed: int = 0) -> GaussianMixture:
    """A Gaussian-mixture target for solver studies: ``modes`` means in random directions at
    distance ``separation * scale`` from the origin (one mode: at the origin), isotropic
    components of standard deviation ``scale * std * U(0.5, 1.5)``, equal weights."""
    for name, v in (("dim", dim), ("modes", modes)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    for name, v in (("separation", separation), ("std", std), ("scale", scale)):
        if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0 or (v == 0 and name != "separation"):
            raise ValueError(f"{name} must be a finite number > 0 (separation >= 0), got {v!r}")
    g = torch.Generator().manual_seed(int(seed))
    means = torch.randn(modes, dim, generator=g, dtype=torch.float64)
    means = means / means.norm(dim=1, keepdim=True).clamp_min(1e-12) * separation * scale if modes > 1 \
        else torch.zeros(1, dim, dtype=torch.float64)
    stds = scale * std * (0.5 + torch.rand(modes, generator=g, dtype=torch.float64))
    return GaussianMixture(means, stds)


def convergence_order(errors: Sequence[float], nfes: Sequence[float]) -> float:
    """Least-squares order ``p`` in ``error ~ C * NFE^(-p)`` (minus the log-log slope).

    Args:
        errors: positive errors, one per NFE (measure them in the asymptotic regime).
        nfes: the numbers of function evaluations (or steps), same length, > 0.
    """
    e = np.asarray(errors, dtype=np.float64)
    n = np.asarray(nfes, dtype=np.float64)
    if e.shape != n.shape or e.ndim != 1 or e.size < 2:
        raise ValueError(f"errors and nfes must be 1-D of equal length >= 2, got {e.shape} and {n.shape}")
    if not (np.isfinite(e).all() and np.isfinite(n).all()) or (e <= 0).any() or (n <= 0).any():
        raise ValueError("errors and nfes must be finite and positive")
    if np.unique(n).size < 2:
        raise ValueError("nfes must contain at least two distinct values")
    slope = np.polyfit(np.log(n), np.log(e), 1)[0]
    return float(-slope)


def energy_distance(x: Tensor, y: Tensor, *, unbiased: bool = False) -> float:
    """Squared energy distance ``2 E|X-Y| - E|X-X'| - E|Y-Y'|`` (Szekely & Rizzo 2013).

    Samples are ``[N, *dims]`` and ``[M, *dims]`` (flattened per sample, Euclidean norm).
    The default V-statistic equals ``scipy.stats.energy_distance(x, y) ** 2`` in 1-D;
    ``unbiased=True`` drops the zero diagonal of the within-sample terms (U-statistic).
    """
    if not isinstance(x, Tensor) or not isinstance(y, Tensor):
        raise TypeError("energy_distance expects two torch tensors")
    if x.ndim < 1 or y.ndim < 1 or x.shape[1:] != y.shape[1:]:
        raise ValueError(f"samples must share their per-sample shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    n, m = x.shape[0], y.shape[0]
    if n < 2 or m < 2:
        raise ValueError("energy_distance needs at least 2 samples on each side")
    xf = x.reshape(n, -1).to(torch.float64)
    yf = y.reshape(m, -1).to(torch.float64)
    if not (torch.isfinite(xf).all() and torch.isfinite(yf).all()):
        raise ValueError("samples contain NaN or inf")
    dxy = torch.cdist(xf, yf).mean()
    dxx, dyy = torch.cdist(xf, xf).sum(), torch.cdist(yf, yf).sum()
    if unbiased:
        dxx, dyy = dxx / (n * (n - 1)), dyy / (m * (m - 1))
    else:
        dxx, dyy = dxx / n**2, dyy / m**2
    return float(2 * dxy - dxx - dyy)

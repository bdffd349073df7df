"""Single-step solvers: DDIM (Song et al. 2021), ancestral DDPM (Ho et al. 2020), Euler and
Heun on the probability-flow ODE in Karras et al. (2022) coordinates (Algorithm 1).

In the scaled coordinates ``y = x / alpha``, ``s = sigma / alpha`` the PF-ODE reads
``dy/ds = eps_hat``; Euler on it is exactly DDIM(eta=0) (Karras et al. 2022, sec. 3), which
is why ``euler`` and ``ddim`` coincide on the same grid; they differ in the default grids of
the diffusers schedulers they reproduce.
"""
from __future__ import annotations

import torch
from torch import Tensor

from ..denoiser import Denoiser
from ..grids import Grid
from ._common import Post, coefs, ratio

__all__ = ["ddim", "ddpm", "euler", "heun"]


def _ddim_tables(grid: Grid, eta: float):
    a, s = grid.alpha, grid.sigma
    a_s, s_s, a_t, s_t = a[:-1], s[:-1], a[1:], s[1:]
    # r = (alpha_s sigma_t) / (alpha_t sigma_s): the square root of the SNR ratio, <= 1
    r = ratio(a_s * s_t, a_t * s_s)
    noise_std = eta * s_t * torch.sqrt((1.0 - r**2).clamp_min(0))  # eq. 16 of DDIM
    dir_std = torch.sqrt((s_t**2 - noise_std**2).clamp_min(0))
    # x_t = alpha_t x0 + dir_std * eps,  eps = (x - alpha_s x0) / sigma_s
    c_x = dir_std / s_s
    c_x0 = a_t - dir_std * a_s / s_s
    return c_x, c_x0, noise_std


def ddim(den: Denoiser, grid: Grid, x: Tensor, *, post: Post, noise, eta: float = 0.0,
         reproject_eps: bool | None = None) -> Tensor:
    """DDIM, Song et al. (2021) eq. 12: ``x_t = alpha_t x0 + sqrt(sigma_t^2 - s^2) eps + s z``
    with ``s = eta * sigma_t sqrt(1 - SNR_s/SNR_t)`` (eq. 16).

    With a ``project_x0`` hook, ``eps`` is re-derived from the projected ``x0`` when
    ``reproject_eps`` is true (guided-diffusion) and is the network's own noise when false
    (``DDIMScheduler.step``); default: the process's ``reproject_eps``, else true.
    """
    if not 0.0 <= eta:
        raise ValueError(f"eta must be >= 0, got {eta}")
    if reproject_eps is None:
        reproject_eps = getattr(den.process, "reproject_eps", True)
    if not isinstance(reproject_eps, bool):
        raise TypeError(f"reproject_eps must be a bool or None, got {type(reproject_eps).__name__}")
    c_x, c_x0, std = (coefs(v, x) for v in _ddim_tables(grid, eta))
    a_t = coefs(grid.alpha[1:], x)
    stochastic = eta > 0
    for i in range(grid.steps):
        if reproject_eps or den.project_x0 is None:
            x0 = den(x, i)
            x = c_x[i] * x + c_x0[i] * x0
        else:  # alpha_t x0 + dir_std (x - alpha_s x0_raw) / sigma_s, with c_x0 = alpha_t - dir_std alpha_s / sigma_s
            x0, x0_raw = den.x0_pair(x, i)
            x = c_x[i] * x + a_t[i] * x0 + (c_x0[i] - a_t[i]) * x0_raw
        if stochastic:  # drawn on every step, as DDIMScheduler does (std is 0 on a clean landing)
            x = x + std[i] * noise(x, i)
        x = post(x, i + 1)
    return x


def ddpm(den: Denoiser, grid: Grid, x: Tensor, *, post: Post, noise) -> Tensor:
    """Ancestral sampling from the posterior ``q(x_t | x_s, x0_hat)`` (Ho et al. 2020, eq. 6-7)
    between consecutive grid points; no noise is added on a step that lands on clean data."""
    a, s = grid.alpha, grid.sigma
    a_s, s_s, a_t, s_t = a[:-1], s[:-1], a[1:], s[1:]
    a_ts = a_s / a_t  # alpha_{s|t}
    var_ts = (s_s**2 - a_ts**2 * s_t**2).clamp_min(0)  # sigma_{s|t}^2
    c_x = a_ts * s_t**2 / s_s**2
    c_x0 = a_t * var_ts / s_s**2
    std = torch.sqrt((var_ts * s_t**2 / s_s**2).clamp_min(1e-20 * (s_t > 0)))
    c_x, c_x0, std_c = coefs(c_x, x), coefs(c_x0, x), coefs(std, x)
    last_clean = grid.to_clean()
    for i in range(grid.steps):
        x0 = den(x, i)
        x = c_x[i] * x + c_x0[i] * x0
        if not (last_clean and i == grid.steps - 1):
            x = x + std_c[i] * noise(x, i)
        x = post(x, i + 1)
    return x


def euler(den: Denoiser, grid: Grid, x: Tensor, *, post: Post, noise=None) -> Tensor:
    """Euler on ``dy/ds = eps_hat`` (Karras et al. 2022, Alg. 1 without the Heun correction)."""
    a, s = grid.alpha, grid.sigma
    se = s / a
    c_x = coefs(a[1:] / a[:-1], x)
    c_eps = coefs(a[1:] * (se[1:] - se[:-1]), x)
    a_s, s_s = coefs(a[:-1], x), coefs(s[:-1], x)
    for i in range(grid.steps):
        x0 = den(x, i)
        eps = (x - a_s[i] * x0) / s_s[i]
        x = c_x[i] * x + c_eps[i] * eps
        x = post(x, i + 1)
    return x


def heun(den: Denoiser, grid: Grid, x: Tensor, *, post: Post, noise=None) -> Tensor:
    """Heun's 2nd-order method on ``dy/ds = eps_hat`` (Karras et al. 2022, Alg. 1); the
    correction is skipped on a step that lands on clean data (``2N - 1`` evaluations)."""
    a, s = grid.alpha, grid.sigma
    se = s / a
    c_x = coefs(a[1:] / a[:-1], x)
    c_eps = coefs(a[1:] * (se[1:] - se[:-1]), x)
    a_c, s_c = coefs(a, x), coefs(s, x)
    clean = (s[1:] == 0).reshape(s.shape[0] - 1, -1).all(1).tolist()
    for i in range(grid.steps):
        x0 = den(x, i)
        eps = (x - a_c[i] * x0) / s_c[i]
        x_next = c_x[i] * x + c_eps[i] * eps
        if not clean[i]:
            x0n = den(x_next, i + 1)
            eps_n = (x_next - a_c[i + 1] * x0n) / s_c[i + 1]
            x_next = c_x[i] * x + c_eps[i] * (0.5 * (eps + eps_n))
        x = post(x_next, i + 1)
    return x

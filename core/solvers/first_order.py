"""Single-step solvers: DDIM (Song et al. 2021), ancestral DDPM (Ho et al. 2020), Euler and
Heun on the probability-flow ODE in Karras et al. (2022) coordinates (Algorithm 1).

In the scaled coordinates ``y = x / alpha``, ``s = sigma / alpha`` the PF-ODE reads
``dy/ds = eps_hat``; Euler on it is exactly DDIM(eta=0) (Karras et al. 2022, sec. 3), which
is why ``euler`` and ``ddim`` coincide on the same grid; they differ in the default grids of
the diffusers schedulers they reproduce.
"""
from __future__ import annotations

from torch import Tensor

from ..denoiser import Denoiser
from ..grids import Grid
from ..lincomb import lincomb
from ._common import Post, Steps, sqrt

__all__ = ["ddim", "ddpm", "euler", "heun"]


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
    st = Steps(grid, x, post)
    alpha, sigma = st.alpha, st.sigma
    for i in range(st.steps):
        a_s, s_s, a_t, s_t = alpha[i], sigma[i], alpha[i + 1], sigma[i + 1]
        snr_ratio = (a_s * s_t / (a_t * s_s)) ** 2  # SNR_t / SNR_s <= 1 (t is the cleaner point)
        std = eta * s_t * sqrt(1 - snr_ratio)  # eq. 16
        c_eps = sqrt(s_t**2 - std**2)  # the "direction pointing to x_t"
        # x_t = alpha_t x0 + c_eps eps + std z, with eps = (x - alpha_s x0_raw) / sigma_s
        if reproject_eps or den.project_x0 is None:
            x0 = den(x, i)
            x = lincomb(c_eps / s_s, x, a_t - c_eps * a_s / s_s, x0)
        else:
            x0, x0_raw = den.x0_pair(x, i)
            x = lincomb(c_eps / s_s, x, a_t, x0, -c_eps * a_s / s_s, x0_raw)
        if eta > 0:  # drawn on every step, as DDIMScheduler does (std is 0 on a clean landing)
            x = lincomb(1.0, x, std, noise(x, i), out=x)
        x = post(x, i + 1)
    return x


def ddpm(den: Denoiser, grid: Grid, x: Tensor, *, post: Post, noise) -> Tensor:
    """Ancestral sampling from the posterior ``q(x_t | x_s, x0_hat)`` (Ho et al. 2020, eq. 6-7)
    between consecutive grid points; no noise is added on a step that lands on clean data."""
    st = Steps(grid, x, post)
    alpha, sigma = st.alpha, st.sigma
    for i in range(st.steps):
        a_s, s_s, a_t, s_t = alpha[i], sigma[i], alpha[i + 1], sigma[i + 1]
        a_st = a_s / a_t  # alpha_{s|t}: the forward step from t back to the noisier s
        var_st = s_s**2 - a_st**2 * s_t**2  # sigma_{s|t}^2
        # posterior mean (eq. 7) in x_s and x0_hat, and its standard deviation
        c_x, c_x0 = a_st * s_t**2 / s_s**2, a_t * var_st / s_s**2
        std = sqrt(var_st * s_t**2 / s_s**2)
        x0 = den(x, i)
        if st.clean[i + 1]:
            x = lincomb(c_x, x, c_x0, x0)
        else:
            x = lincomb(c_x, x, c_x0, x0, std, noise(x, i))
        x = post(x, i + 1)
    return x


def euler(den: Denoiser, grid: Grid, x: Tensor, *, post: Post, noise=None) -> Tensor:
    """Euler on ``dy/ds = eps_hat`` (Karras et al. 2022, Alg. 1 without the Heun correction)."""
    st = Steps(grid, x, post)
    alpha, sigma = st.alpha, st.sigma
    for i in range(st.steps):
        a_s, s_s, a_t, s_t = alpha[i], sigma[i], alpha[i + 1], sigma[i + 1]
        x0 = den(x, i)
        d = lincomb(1 / s_s, x, -a_s / s_s, x0)  # eps_hat = dy/ds, with y = x / alpha, s = sigma / alpha
        x = lincomb(a_t / a_s, x, a_t * (s_t / a_t - s_s / a_s), d, out=st.out(x))  # alpha_t (y + ds d)
        x = post(x, i + 1)
    return x


def heun(den: Denoiser, grid: Grid, x: Tensor, *, post: Post, noise=None) -> Tensor:
    """Heun's 2nd-order method on ``dy/ds = eps_hat`` (Karras et al. 2022, Alg. 1); the
    correction is skipped on a step that lands on clean data (``2N - 1`` evaluations)."""
    st = Steps(grid, x, post)
    alpha, sigma = st.alpha, st.sigma
    for i in range(st.steps):
        a_s, s_s, a_t, s_t = alpha[i], sigma[i], alpha[i + 1], sigma[i + 1]
        ds = s_t / a_t - s_s / a_s  # step in s = sigma / alpha
        x0 = den(x, i)
        d = lincomb(1 / s_s, x, -a_s / s_s, x0)  # eps_hat: dy/ds at s
        x_next = lincomb(a_t / a_s, x, a_t * ds, d)  # Euler step, alpha_t (y + ds d)
        if not st.clean[i + 1]:
            x0 = den(x_next, i + 1)
            d_next = lincomb(1 / s_t, x_next, -a_t / s_t, x0)  # dy/ds at t
            x_next = lincomb(a_t / a_s, x, 0.5 * a_t * ds, d, 0.5 * a_t * ds, d_next, out=x_next)
        x = post(x_next, i + 1)
    return x

"""Reverse-SDE solvers of score SDE (Song et al. 2021): Euler-Maruyama on
``dx = [f(t) x - g(t)^2 score] dt + g(t) dW`` (eq. 6) and the predictor-corrector sampler
with a Langevin corrector (Alg. 2-5), which on a VE process with ``predictor="none"`` is
NCSN's annealed Langevin dynamics (Song & Ermon 2019, Alg. 1).

Both march over the grid's noisy points; a last step onto clean data returns ``x0_hat``
(Tweedie's formula — score SDE's final "denoise" step).
"""
from __future__ import annotations

import torch
from torch import Tensor

from .._broadcast import append_dims
from ..denoiser import Denoiser
from ..grids import Grid
from ..lincomb import lincomb
from ._common import Post, Steps, sqrt

__all__ = ["euler_maruyama", "predictor_corrector"]


def _em_step(den: Denoiser, st: Steps, x: Tensor, x0: Tensor, noise, i: int) -> Tensor:
    """One Euler-Maruyama step of eq. 6 from point ``i`` to ``i + 1`` (``dt = t_i - t_{i+1}``):
    ``x <- x - [f x - g^2 score] dt + g sqrt(dt) z`` with ``score = -(x - alpha x0) / sigma^2``;
    onto clean data, Tweedie's ``alpha x0``."""
    if st.clean[i + 1]:
        return lincomb(st.alpha[i + 1], x0)
    dt = st.t[i] - st.t[i + 1]
    f, g2 = st.at(den.process.f, i), st.at(den.process.g2, i)
    k = g2 * dt / st.sigma[i] ** 2
    return lincomb(1 - f * dt - k, x, k * st.alpha[i], x0, sqrt(g2 * dt), noise(x, i))


def euler_maruyama(den: Denoiser, grid: Grid, x: Tensor, *, post: Post, noise) -> Tensor:
    """Euler-Maruyama on the reverse SDE between grid points (``dt = t_i - t_{i+1}``)."""
    dt = grid.t[:-1] - grid.t[1:]
    if (dt[grid.sigma[1:] > 0] <= 0).any():
        raise ValueError("euler_maruyama needs a strictly decreasing time grid")
    st = Steps(grid, x, post)
    for i in range(st.steps):
        x = post(_em_step(den, st, x, den(x, i), noise, i), i + 1)
    return x


def predictor_corrector(den: Denoiser, grid: Grid, x: Tensor, *, post: Post, noise, snr: float = 0.16,
                        n_corrector: int = 1, predictor: str = "euler_maruyama",
                        step_norm: str = "batch") -> Tensor:
    """Predictor-corrector sampling (Song et al. 2021, Alg. 1 with the Langevin corrector of
    Alg. 4-5): at every noisy grid point, ``n_corrector`` Langevin steps with step size
    ``2 alpha (snr ||z|| / ||score||)^2``, then one predictor step.

    ``predictor="none"`` keeps only the corrector (annealed Langevin dynamics, NCSN).
    Each Langevin step costs one model evaluation. ``step_norm="batch"`` averages the norms
    over the batch as score SDE does; ``"sample"`` uses each sample's own norms, which keeps
    a sample independent of its batch but is unstable in low dimension (a sample near a
    mode has a tiny score and gets a huge step).
    """
    if step_norm not in ("batch", "sample"):
        raise ValueError(f"step_norm must be 'batch' or 'sample', got {step_norm!r}")
    if predictor not in ("euler_maruyama", "none"):
        raise ValueError(f"predictor must be 'euler_maruyama' or 'none', got {predictor!r}")
    if not snr > 0 or int(n_corrector) < 0:
        raise ValueError(f"need snr > 0 and n_corrector >= 0, got {snr}, {n_corrector}")
    st = Steps(grid, x, post)
    alpha, sigma = st.alpha, st.sigma
    for i in range(st.steps):
        # score-SDE's corrector scales by alpha_i = 1 - beta_i for VP (1 for VE): the one-step
        # signal retention (alpha_{i+1}/alpha_i)^2 between neighbouring grid points.
        keep = 1.0 if st.clean[i + 1] else (alpha[i + 1] / alpha[i]) ** 2
        keep = keep if isinstance(keep, float) else torch.where(sigma[i + 1] > 0, keep, 1.0).to(x.dtype)
        for _ in range(int(n_corrector)):
            x0 = den(x, i)
            score = lincomb(alpha[i] / sigma[i] ** 2, x0, -1 / sigma[i] ** 2, x)  # -(x - alpha x0) / sigma^2
            z = noise(x, i)
            g_norm = score.reshape(score.shape[0], -1).norm(dim=1)
            z_norm = z.reshape(z.shape[0], -1).norm(dim=1)
            if step_norm == "batch":
                g_norm, z_norm = g_norm.mean().expand_as(g_norm), z_norm.mean().expand_as(z_norm)
            eps = append_dims(2 * (snr * z_norm / g_norm.clamp_min(1e-12)) ** 2, x.ndim) * keep
            x = x + eps * score + torch.sqrt(2 * eps) * z  # Langevin step (Alg. 4, line 6)
        if predictor == "none" and not st.clean[i + 1]:
            x = post(x, i + 1)
            continue
        x = post(_em_step(den, st, x, den(x, i), noise, i), i + 1)
    return x

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
from ._common import Post, coefs

__all__ = ["euler_maruyama", "predictor_corrector"]


def _sde_tables(den: Denoiser, grid: Grid):
    proc = den.process
    t = grid.t
    noisy = grid.sigma > 0
    t_eval = torch.where(noisy, t, torch.full_like(t, proc.t_min))
    f = torch.where(noisy, proc.f(t_eval).double(), torch.zeros_like(t))
    g2 = torch.where(noisy, proc.g2(t_eval).double(), torch.zeros_like(t))
    return f, g2


def euler_maruyama(den: Denoiser, grid: Grid, x: Tensor, *, post: Post, noise) -> Tensor:
    """Euler-Maruyama on the reverse SDE between grid points (``dt = t_i - t_{i+1}``)."""
    f, g2 = _sde_tables(den, grid)
    a, s, t = grid.alpha, grid.sigma, grid.t
    dt = t[:-1] - t[1:]
    if (dt[grid.sigma[1:] > 0] <= 0).any():
        raise ValueError("euler_maruyama needs a strictly decreasing time grid")
    # x <- x - [f x - g^2 score] dt + g sqrt(dt) z, score = -(x - alpha x0) / sigma^2
    s_safe = torch.where(s > 0, s, torch.ones_like(s))
    k = g2[:-1] * dt / s_safe[:-1] ** 2
    c_x = coefs(1.0 - f[:-1] * dt - k, x)
    c_x0 = coefs(k * a[:-1], x)
    c_z = coefs(torch.sqrt((g2[:-1] * dt).clamp_min(0)), x)
    clean = (s[1:] == 0).reshape(grid.steps, -1).all(1).tolist()
    for i in range(grid.steps):
        x0 = den(x, i)
        if clean[i]:
            x = x0 * a[-1].item() if grid.alpha.ndim == 1 else x0 * append_dims(a[-1].to(x), x.ndim)
        else:
            x = c_x[i] * x + c_x0[i] * x0 + c_z[i] * noise(x, i)
        x = post(x, i + 1)
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
    f, g2 = _sde_tables(den, grid)
    a, s, t = grid.alpha, grid.sigma, grid.t
    dt = t[:-1] - t[1:]
    s_safe = torch.where(s > 0, s, torch.ones_like(s))
    k = g2[:-1] * dt / s_safe[:-1] ** 2
    c_x = coefs(1.0 - f[:-1] * dt - k, x)
    c_x0 = coefs(k * a[:-1], x)
    c_z = coefs(torch.sqrt((g2[:-1] * dt).clamp_min(0)), x)
    # score-SDE's corrector scales by alpha_i = 1 - beta_i for VP (1 for VE): the one-step
    # signal retention (alpha_{i+1}/alpha_i)^2 between neighbouring grid points.
    keep = (a[1:] / a[:-1]) ** 2
    keep = torch.where(s[1:] > 0, keep, torch.ones_like(keep))
    clean = (s[1:] == 0).reshape(grid.steps, -1).all(1).tolist()
    a_c, s_c = coefs(a, x), coefs(s_safe, x)
    keep_t = keep.to(x.device, x.dtype)
    for i in range(grid.steps):
        for _ in range(int(n_corrector)):
            x0 = den(x, i)
            score = (a_c[i] * x0 - x) / (s_c[i] * s_c[i])
            z = noise(x, i)
            g_norm = score.reshape(score.shape[0], -1).norm(dim=1)
            z_norm = z.reshape(z.shape[0], -1).norm(dim=1)
            if step_norm == "batch":
                g_norm, z_norm = g_norm.mean().expand_as(g_norm), z_norm.mean().expand_as(z_norm)
            eps = 2 * keep_t[i] * (snr * z_norm / g_norm.clamp_min(1e-12)) ** 2
            eps = append_dims(eps, x.ndim)
            x = x + eps * score + torch.sqrt(2 * eps) * z
        if predictor == "none" and not clean[i]:
            x = post(x, i + 1)
            continue
        x0 = den(x, i)
        if clean[i]:
            x = x0 if grid.alpha.ndim == 1 else x0 * append_dims(a[-1].to(x), x.ndim)
        else:
            x = c_x[i] * x + c_x0[i] * x0 + c_z[i] * noise(x, i)
        x = post(x, i + 1)
    return x

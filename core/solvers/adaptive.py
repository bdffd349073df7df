"""Adaptive probability-flow ODE solver: Dormand-Prince RK5(4) with error control
(Dormand & Prince 1980; score SDE's "RK45" sampler, Song et al. 2021 sec. 4.3).

Integrates ``dy/du = s * eps_hat`` in ``u = log s``, with ``y = x / alpha`` and
``s = sigma / alpha`` (Karras et al. 2022 eq. 4 rewritten in log-sigma), from the grid's first
point to its last noisy point; a clean end point then takes ``x0_hat`` there.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .._broadcast import append_dims
from ..denoiser import Denoiser
from ..grids import Grid
from ._common import Post

__all__ = ["rk45"]

# Dormand-Prince tableau
_C = [0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1, 1]
_A = [[], [1 / 5], [3 / 40, 9 / 40], [44 / 45, -56 / 15, 32 / 9],
      [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
      [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
      [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84]]
_B5 = [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0]
_B4 = [5179 / 57600, 0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40]


def rk45(den: Denoiser, grid: Grid, x: Tensor, *, post: Post, noise=None, rtol: float = 1e-5,
         atol: float = 1e-5, max_evals: int = 100_000) -> Tensor:
    """Adaptive RK45 over the whole trajectory; the grid's intermediate points are ignored
    (only its start and last noisy point matter). ``den.nfe`` reports the evaluations used."""
    proc = den.process
    clean = (grid.sigma[-1] == 0).all()
    last = grid.steps - 1 if bool(clean) else grid.steps  # last noisy point
    t1 = grid.t[last]
    # per-sample endpoints in u = log(sigma/alpha); integrate in tau in [0, 1] with
    # u = u0 + tau (u1 - u0), so one adaptive step size serves samples with different t_start.
    u0 = torch.log(grid.sigma[0] / grid.alpha[0])
    u1 = torch.log(proc.sigma(t1).double() / proc.alpha(t1).double())
    du = u1 - u0
    du_b = du if du.ndim == 0 else append_dims(du, x.ndim)
    a0 = grid.alpha[0] if grid.alpha.ndim == 1 else append_dims(grid.alpha[0], x.ndim)

    def field(tau: float, y: Tensor) -> Tensor:
        u = u0 + tau * du
        t = proc.t_from_log_snr(-2.0 * u)
        alpha = proc.alpha(t).double()
        alpha_b = alpha if alpha.ndim == 0 else append_dims(alpha, x.ndim)
        x0 = den.at((alpha_b * y).to(x.dtype), t).double()
        return du_b * (y - x0)  # dy/du = s * eps_hat = y - x0_hat in scaled coordinates

    y = x.double() / a0
    u, h, u_end = 0.0, 1.0 / 20, 1.0
    k1 = field(u, y)
    evals = 1
    while u_end - u > 1e-12:
        if u + h > u_end:
            h = u_end - u
        ks = [k1]
        for j in range(1, 7):
            yj = y + h * sum(_A[j][m] * ks[m] for m in range(j) if _A[j][m] != 0)
            ks.append(field(u + _C[j] * h, yj))
        evals += 6
        y5 = y + h * sum(b * k for b, k in zip(_B5, ks) if b != 0)
        y4 = y + h * sum(b * k for b, k in zip(_B4, ks) if b != 0)
        scale = atol + rtol * torch.maximum(y.abs(), y5.abs())
        err = float(((y5 - y4) / scale).pow(2).mean().sqrt())
        if err <= 1.0:
            u, y, k1 = u + h, y5, ks[-1]  # FSAL: the 7th stage is f at the new point
        h = h * min(5.0, max(0.2, 0.9 * (err + 1e-16) ** -0.2))
        if evals > max_evals:
            raise RuntimeError(f"rk45 exceeded {max_evals} evaluations (rtol={rtol}, atol={atol})")
    a1 = proc.alpha(t1).double()
    x = ((a1 if a1.ndim == 0 else append_dims(a1, x.ndim)) * y).to(x.dtype)
    if bool(clean):
        x = den.at(x, t1)
    return post(x, grid.steps)

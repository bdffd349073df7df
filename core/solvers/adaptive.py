"""Adaptive probability-flow ODE solver: Dormand-Prince RK5(4) with error control
(Dormand & Prince 1980; score SDE's "RK45" sampler, Song et al. 2021 sec. 4.3).

Integrates ``dy/du = s * eps_hat`` in ``u = log s``, with ``y = x / alpha`` and
``s = sigma / alpha`` (Karras et al. 2022 eq. 4 rewritten in log-sigma), from the grid's first
point to its last noisy point; a clean end point then takes ``x0_hat`` there.
"""
from __future__ import annotations

import math

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
    if grid.t.ndim != 1:
        raise ValueError("rk45 needs a grid shared by the batch")
    proc = den.process
    noisy = int((grid.sigma > 0).sum())
    t0, t1 = grid.t[0], grid.t[noisy - 1]
    a0, s0 = float(grid.alpha[0]), float(grid.sigma[0])
    u0, u1 = math.log(s0 / a0), math.log(float(proc.sigma(t1)) / float(proc.alpha(t1)))
    xd = x.double()

    def field(u: float, y: Tensor) -> Tensor:
        s = math.exp(u)
        t = proc.t_from_log_snr(torch.tensor(-2.0 * u, dtype=torch.float64))
        alpha = float(proc.alpha(t))
        x0 = den.at((alpha * y).to(x.dtype), t).double()
        return y - x0  # dy/du = s * eps_hat, eps_hat = (y - x0_hat) / s in scaled coordinates

    y = xd / a0
    u, h = u0, (u1 - u0) / 20
    k1 = field(u, y)
    evals = 1
    while (u1 - u) * (h / abs(h)) > 1e-12:
        if (u + h - u1) * (h / abs(h)) > 0:
            h = u1 - u
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
    a1 = float(proc.alpha(t1))
    x = (a1 * y).to(x.dtype)
    if grid.to_clean():
        x = den.at(x, t1) * float(grid.alpha[-1])
    return post(x, grid.steps)

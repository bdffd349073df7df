"""Adaptive probability-flow ODE solver: Dormand-Prince RK5(4) with error control
(Dormand & Prince 1980; score SDE's "RK45" sampler, Song et al. 2021 sec. 4.3), the
integrator of :mod:`polydiff.core.ode` that the likelihood uses too.

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
from ..ode import dormand_prince
from ._common import Post

__all__ = ["rk45"]


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

    y, evals = dormand_prince(field, x.double() / a0, 0.0, 1.0, rtol=rtol, atol=atol, max_evals=max_evals)
    a1 = proc.alpha(t1).double()
    x = ((a1 if a1.ndim == 0 else append_dims(a1, x.ndim)) * y).to(x.dtype)
    if bool(clean):
        x = den.at(x, t1)
    return post(x, grid.steps)

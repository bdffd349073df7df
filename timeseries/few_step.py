"""Why few-step sampling collapses at low training budgets, and the check that refuses it.

A solver's first update from the prior at ``t_0 = T - 1`` uses the network's data prediction
``x0_hat = (x - sigma eps_hat) / alpha``: on CSDI's schedule ``sigma / alpha = 172`` there,
so an eps-prediction error ``e`` becomes an ``x0`` error of ``172 e`` (in standardised
units). The update to the next grid point ``t_1`` carries ``x0_hat`` with weight ``~alpha(t_1)``
against a noise level ``sigma(t_1)`` (DDIM, Song et al. 2021 eq. 12; DPM-Solver++, Lu et al.
2022 eq. 9), so it injects ``172 e * alpha(t_1) / sigma(t_1)`` noise standard deviations of
error. The 50-step ancestral sampler has ``alpha / sigma = 0.0075`` at ``t_1 = 48`` and later
steps correct it; 5 steps jump to ``t_1 = 39`` (``alpha / sigma = 0.071``). With the exact
denoiser 5 steps reach the posterior's CRPS within a few % (:mod:`.statespace_oracle`), so the
collapse is this product: a network trained briefly (quick mode: eps error 0.11 at the top
step, x0 error ~19) with a coarse grid.

The fix (:class:`~polydiff.timeseries.impute.ImputerConfig` ``x0_clip``, on by default):
clamp ``x0_hat`` per feature to the observed training range at every step. The exact
``E[x0 | x_t]`` is an average of data values and lies in that range, so an exact denoiser is
untouched, while the amplified error is cut to the data's spread (quick mode, MCAR 50%:
5-step DPM-Solver++(2M) SDE MAE 57.8 -> 10.8, the 50-step sampler 11.9 -> 11.5).

:func:`top_step_x0_error` measures the network's ``x0`` error at ``T - 1`` on training
windows; :func:`first_step_injection` is the error the first update adds for a grid.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .diffusion import csdi_loss_terms
from .masks import random_mask

__all__ = ["MAX_INJECTION", "first_step_injection", "top_step_x0_error"]

#: Largest first-step error (noise standard deviations) a sampler may inject.
MAX_INJECTION = 0.5


@torch.no_grad()
def top_step_x0_error(net: nn.Module, process, values: Tensor, observed_mask: Tensor,
                      timestamps: Tensor | None = None, seed: int = 0) -> float:
    """RMS error of ``x0_hat`` on random imputation targets at the top step ``T - 1``:
    ``(sigma / alpha) * sqrt(eps MSE)`` (standardised units), ``values [B, L, K]``."""
    g = torch.Generator().manual_seed(seed)
    cond = random_mask(observed_mask, g)
    t = torch.full((len(values),), float(process.num_train_timesteps - 1), dtype=torch.float64)
    eps = torch.randn(values.shape, generator=g, dtype=values.dtype)
    was_training = net.training
    net.eval()
    try:
        mse = csdi_loss_terms(net, process, values, observed_mask, cond, t, eps, timestamps)
    finally:
        net.train(was_training)
    ratio = process.sigma(t[:1]) / process.alpha(t[:1])
    return float(ratio * mse.sqrt())


def first_step_injection(process, x0_error: float, steps: int, solver: str,
                         grid: str | None = None) -> float:
    """Noise standard deviations of error that the first update of ``solver`` with ``steps``
    steps adds: ``x0_error * alpha(t_1) / sigma(t_1)``, ``t_1`` the grid's second point."""
    g = process.grid(steps, solver, grid)
    if len(g.t) < 2 or float(g.sigma[1]) == 0:
        return float("inf")  # one step straight to the data: x0_hat is the sample
    t1 = g.t[1:2].to(torch.float64)
    return float(x0_error * process.alpha(t1) / process.sigma(t1))

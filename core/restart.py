"""Restart sampling (Xu et al. 2023, "Restart Sampling for Improving Generative Processes", Alg. 1)
with the restart interval ending at the data: ``rounds`` times, diffuse the sample forward to
``t_restart`` with the process's kernel ``q(x_t | x_0) = N(alpha x_0, sigma^2 I)`` and solve back
with :func:`~polydiff.core.sample` (``t_start = t_restart``). The fresh noise contracts the errors a
single pass accumulated, at ``steps`` model evaluations per round.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from .hooks import GaussianNoise
from .process import GaussianProcess
from .sample import sample

__all__ = ["restart"]


def restart(model: Callable[..., Tensor], process: GaussianProcess, x0: Tensor, *, t_restart: float,
            rounds: int, steps: int, solver: str = "dpmpp_2m_sde", noise: Callable[[Tensor, int], Tensor] | None = None,
            generator: torch.Generator | list[torch.Generator] | None = None,
            project_x: Callable[[Tensor, Tensor], Tensor] | None = None, **sample_kwargs) -> Tensor:
    """Apply ``rounds`` restart rounds to the samples ``x0 [B, ...]`` and return the result.

    Args:
        model, process: as for :func:`~polydiff.core.sample`.
        x0: samples at the data end (e.g. the output of ``sample``).
        t_restart: top of the restart interval, inside the process's time range.
        rounds: number of rounds (0 returns ``x0``).
        steps: solver steps per round.
        solver: the solver of each backward solve.
        noise / generator: the forward noise and every solver draw (``noise(x, step)``, e.g. a
            CoM-free sampler), or a generator (list) for standard Gaussian noise.
        project_x: per-step projection, also applied to the re-noised state.
        **sample_kwargs: passed on to every ``sample`` call (``prediction``, ``cond``, ...).
    """
    from .validate import check_int, check_number

    rounds = check_int(rounds, "rounds", low=0)
    t = torch.as_tensor(check_number(t_restart, "t_restart"), dtype=torch.float64)
    if not (float(process.t_min) < float(t) <= float(process.t_max)):
        raise ValueError(f"t_restart must lie in ({process.t_min}, {process.t_max}], got {t_restart!r}")
    noise = noise if noise is not None else GaussianNoise(generator)
    a, s = float(process.alpha(t)), float(process.sigma(t))
    x = x0
    for _ in range(rounds):
        x_t = a * x + s * noise(x, -1)
        if project_x is not None:
            x_t = project_x(x_t, t)
        x = sample(model, process, x_t, steps, solver, t_start=float(t), noise=noise, project_x=project_x,
                   **sample_kwargs)
    return x

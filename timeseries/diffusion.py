"""CSDI on the shared engine: the process, the target-only loss and batched sampling.

- Process: the 50-step quadratic schedule ``beta = linspace(sqrt(1e-4), sqrt(0.5), 50)^2``
  (Tashiro et al. 2021, Appendix E.1) as a core ``DiscreteVP``; the network sees the step
  index ``t`` in ``[0, 49]`` as a float.
- Loss (CSDI eq. 6 / Algorithm 1): ``sum_target (eps - eps_theta(x_t, t | x_cond))^2 /
  n_target`` — only the imputation targets (observed, not conditioning) count.
- Sampling: CSDI conditions through its input channels (``cond_mask * x_obs``), not by
  replacement, so :func:`sample_imputations` passes the observed values as ``cond`` to
  :func:`polydiff.core.sample` with any core solver (``ddpm`` 50 = the paper's ancestral
  sampler; ``ddim`` / ``dpmpp_2m`` at 5-20 steps). All ``S`` samples of all ``N`` series run
  in one batch (repeat-interleaved to ``[N*S, L, K]``, chunked by ``max_batch``); every row
  has its own generator, so a row's result does not depend on the batch it ran in.
  Conditioning entries are copied through at the end.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import polydiff.core as pc
import torch
from polydiff.core.discrete import DiscreteVP
from polydiff.core.hooks import randn
from torch import Tensor, nn

from .masks import training_mask

__all__ = ["csdi_loss", "csdi_loss_terms", "csdi_process", "row_generators", "sample_imputations"]


def csdi_process(num_steps: int = 50, beta_start: float = 1e-4, beta_end: float = 0.5) -> DiscreteVP:
    """CSDI's quadratic-schedule discrete VP process (50 steps, beta 1e-4 .. 0.5)."""
    # "trailing" spacing: every grid starts at the last training step (t = T-1), so the
    # 5-20 step solvers begin at the prior like the 50-step ancestral sampler does
    return DiscreteVP.from_schedule("quad", num_steps, beta_start=beta_start, beta_end=beta_end,
                                    spacing="trailing")


def csdi_loss_terms(net: nn.Module, process: DiscreteVP, x0: Tensor, observed_mask: Tensor,
                    cond_mask: Tensor, t: Tensor, eps: Tensor,
                    timestamps: Tensor | None = None) -> Tensor:
    """Deterministic CSDI loss for given ``t [B]`` and ``eps [B, L, K]`` (mean over targets).

    ``x0`` holds the observed values (anything at missing entries: they are never read).
    """
    target = observed_mask - cond_mask
    if (target < 0).any():
        raise ValueError("cond_mask must be a subset of observed_mask")
    x0 = torch.where(observed_mask > 0, x0, torch.zeros_like(x0))
    x_t = process.marginal(x0, t, eps)
    eps_hat = net(x_t, t.to(x0.dtype), cond_values=x0, cond_mask=cond_mask, timestamps=timestamps)
    return ((eps - eps_hat) ** 2 * target).sum() / target.sum().clamp_min(1.0)


def csdi_loss(net: nn.Module, process: DiscreteVP, batch: dict, *, strategy: str = "random",
              horizon: int | None = None, generator: torch.Generator | None = None) -> Tensor:
    """One training loss: draw ``cond_mask`` by ``strategy``, ``t ~ U{0..T-1}``, ``eps ~ N(0, I)``.

    ``batch``: ``values [B, L, K]``, ``observed_mask [B, L, K]``, optional ``timestamps
    [B, L]`` and ``pattern_mask [B, L, K]`` (the historical strategy's pattern).
    """
    x0, obs = batch["values"], batch["observed_mask"]
    cond = training_mask(strategy, obs, pattern_mask=batch.get("pattern_mask"), horizon=horizon,
                         generator=generator)
    B = x0.shape[0]
    t = torch.randint(0, process.num_train_timesteps, (B,), generator=generator, device=x0.device)
    eps = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    return csdi_loss_terms(net, process, x0, obs, cond, t.to(torch.float64), eps,
                           batch.get("timestamps"))


def row_generators(seed: int, n_rows: int, device: str | torch.device = "cpu") -> list[torch.Generator]:
    """One generator per output row ``i`` seeded with ``seed * 1_000_003 + i`` (batch-invariant)."""
    return [torch.Generator(device).manual_seed(int(seed) * 1_000_003 + i) for i in range(n_rows)]


@torch.no_grad()
def sample_imputations(net: nn.Module, process: DiscreteVP, values: Tensor, cond_mask: Tensor, *,
                       n_samples: int, solver: str = "ddpm", steps: int = 50,
                       timestamps: Tensor | None = None, seed: int = 0,
                       generators: Sequence[torch.Generator] | None = None,
                       max_batch: int = 512, grid: str | None = None,
                       callback: Callable[[int, int], None] | None = None,
                       **solver_options) -> Tensor:
    """Draw ``n_samples`` imputations per series in batched passes.

    Args:
        net: a CSDI network ``net(x, t, cond_values=, cond_mask=, timestamps=)``.
        process: the CSDI :class:`DiscreteVP`.
        values: ``[N, L, K]`` observed values (entries outside ``cond_mask`` are ignored).
        cond_mask: ``[N, L, K]`` 1 on conditioning (observed) entries.
        n_samples: ``S`` draws per series.
        solver, steps: any name of ``polydiff.core.SOLVERS`` and its step count.
        timestamps: ``[N, L]`` (default ``0..L-1``).
        seed, generators: row ``n * S + s`` uses ``generators[n*S + s]`` (default
            :func:`row_generators`), so the result is independent of ``max_batch``.
        max_batch: rows per network call.
        grid: a grid kind of ``process.grid`` (default the process's ``trailing``); it must
            evaluate the network at integer steps only (see :func:`.nets.diffusion_step_embedding`).
        callback: ``callback(rows_done, rows_total)`` after each chunk.

    Returns:
        ``[N, S, L, K]`` samples with the conditioning entries equal to ``values``.
    """
    from polydiff.core.validate import check_finite, check_int

    from .masks import _check

    if not isinstance(values, Tensor) or not isinstance(cond_mask, Tensor):
        raise TypeError(f"values and cond_mask must be tensors, got {type(values).__name__} and "
                        f"{type(cond_mask).__name__}")
    if values.ndim != 3 or cond_mask.shape != values.shape:
        raise ValueError(f"values and cond_mask must both be [N, L, K]; got {tuple(values.shape)}, "
                         f"{tuple(cond_mask.shape)}")
    _check(cond_mask, "cond_mask")
    check_finite(values, "values")
    if isinstance(n_samples, (int, np.integer)) and n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    check_int(n_samples, "n_samples", low=1)
    if isinstance(max_batch, (int, np.integer)) and max_batch < 1:
        raise ValueError(f"max_batch must be >= 1, got {max_batch}")
    check_int(max_batch, "max_batch", low=1)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    g = process.grid(steps, solver, grid)
    evaluated = g.t[g.sigma > 0]
    if not torch.equal(evaluated, evaluated.round()):
        raise ValueError(f"grid {grid!r} evaluates the network between training steps (t = "
                         f"{[round(float(v), 2) for v in evaluated]}); CSDI's step embedding is "
                         "only trained at integer steps: use 'trailing', 'linspace' or 'leading'")
    N, L, K = values.shape
    S = int(n_samples)
    rows = N * S
    gens = list(generators) if generators is not None else row_generators(seed, rows)
    if len(gens) != rows:
        raise ValueError(f"need {rows} generators (N * n_samples), got {len(gens)}")
    m = cond_mask.to(values.dtype)
    vals = torch.where(m > 0, values, torch.zeros_like(values))
    ts = timestamps if timestamps is not None else torch.arange(L, dtype=values.dtype,
                                                                device=values.device).expand(N, L)
    was_training = net.training
    net.eval()
    out = torch.empty(rows, L, K, dtype=values.dtype, device=values.device)
    try:
        for a in range(0, rows, max_batch):
            b = min(rows, a + max_batch)
            src = torch.arange(a, b, device=values.device) // S  # series index of each row
            cond = {"cond_values": vals[src], "cond_mask": m[src], "timestamps": ts[src]}
            x_T = randn((b - a, L, K), gens[a:b], device=values.device, dtype=values.dtype)
            x_T = x_T * process.prior_std()
            out[a:b] = pc.sample(net, process, x_T, steps=steps, solver=solver, prediction="eps",
                                 grid=g, cond=cond, generator=gens[a:b], **solver_options)
            if callback is not None:
                callback(b, rows)
    finally:
        net.train(was_training)
    out = out.reshape(N, S, L, K)
    return torch.where(m[:, None] > 0, vals[:, None], out)

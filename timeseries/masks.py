"""CSDI training-mask strategies (Tashiro et al. 2021, Sec. 4.3 and Appendix B.2).

Each strategy splits the observed entries of a batch into *conditioning* entries
(``cond_mask == 1``) and *imputation targets* (``observed_mask - cond_mask``). All masks are
float tensors shaped like the batch, ``[B, L, K]`` (time, feature), with values in {0, 1};
``cond_mask <= observed_mask`` always holds, and the loss is computed on targets only.

- ``random``: per sample a missing ratio ``r ~ U[0, 1]``; ``round(r * n_observed)`` observed
  entries chosen uniformly become targets.
- ``historical``: the conditioning set is ``observed * pattern``, where ``pattern`` is
  another sample's missing pattern (default: the previous sample of the batch, as in the
  paper), so targets look like real missingness.
- ``mix``: per sample, ``random`` or ``historical`` with probability 1/2 each.
- ``forecast``: the last ``horizon`` time steps are targets (the forecasting pattern).
"""
from __future__ import annotations

import torch
from polydiff.core.validate import check_generator, check_int
from torch import Tensor

__all__ = [
    "STRATEGIES",
    "forecast_mask",
    "historical_mask",
    "mix_mask",
    "random_mask",
    "training_mask",
]

STRATEGIES = ("random", "historical", "mix", "forecast")


def _check(observed_mask: Tensor, name: str = "observed_mask", like: Tensor | None = None) -> None:
    """A ``[B, L, K]`` tensor of 0/1 values (``like``: of exactly that tensor's shape)."""
    if not isinstance(observed_mask, Tensor) or observed_mask.ndim != 3:
        raise ValueError(f"{name} must be a [B, L, K] tensor, got "
                         f"{getattr(observed_mask, 'shape', type(observed_mask))}")
    if like is not None and observed_mask.shape != like.shape:
        raise ValueError(f"{name} {tuple(observed_mask.shape)} must match observed_mask "
                         f"{tuple(like.shape)}")
    if observed_mask.is_complex() or not bool(((observed_mask == 0) | (observed_mask == 1)).all()):
        raise ValueError(f"{name} must hold only 0 and 1 (1 = observed), got values "
                         f"{observed_mask.unique()[:5].tolist()}")


def random_mask(observed_mask: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Random strategy: returns ``cond_mask`` with a U[0,1] share of observed entries removed."""
    _check(observed_mask)
    check_generator(generator, "generator")
    B = observed_mask.shape[0]
    obs = observed_mask.reshape(B, -1) > 0
    dev = observed_mask.device
    ratio = torch.rand(B, generator=generator, device=dev)
    n_target = torch.round(obs.sum(1) * ratio)
    scores = torch.rand(obs.shape, generator=generator, device=dev).masked_fill(~obs, -1.0)
    rank = scores.argsort(1, descending=True).argsort(1)  # 0 = highest score
    target = (rank < n_target[:, None]) & obs
    return (obs & ~target).to(observed_mask.dtype).reshape(observed_mask.shape)


def historical_mask(observed_mask: Tensor, pattern_mask: Tensor | None = None) -> Tensor:
    """Historical strategy: ``cond = observed * pattern``; ``pattern`` defaults to the
    observed mask of the previous sample in the batch (sample ``i`` uses ``i - 1``)."""
    _check(observed_mask)
    if pattern_mask is None:
        pattern_mask = observed_mask.roll(1, dims=0)
    _check(pattern_mask, "pattern_mask", like=observed_mask)
    return observed_mask * pattern_mask


def mix_mask(observed_mask: Tensor, pattern_mask: Tensor | None = None,
             generator: torch.Generator | None = None) -> Tensor:
    """Mix strategy: per sample, the random or the historical mask with probability 1/2."""
    rnd = random_mask(observed_mask, generator)
    hist = historical_mask(observed_mask, pattern_mask)
    pick = torch.rand(observed_mask.shape[0], generator=generator, device=observed_mask.device)
    return torch.where((pick > 0.5)[:, None, None], rnd, hist)


def forecast_mask(observed_mask: Tensor, horizon: int) -> Tensor:
    """Forecasting pattern: everything observed before the last ``horizon`` steps conditions."""
    _check(observed_mask)
    L = observed_mask.shape[1]
    horizon = check_int(horizon, "horizon")
    if not 1 <= horizon < L:
        raise ValueError(f"horizon must be in [1, {L - 1}] for windows of length {L}, got {horizon}")
    cond = observed_mask.clone()
    cond[:, L - horizon:] = 0
    return cond


def training_mask(strategy: str, observed_mask: Tensor, *, pattern_mask: Tensor | None = None,
                  horizon: int | None = None, generator: torch.Generator | None = None) -> Tensor:
    """Dispatch on ``strategy`` (one of :data:`STRATEGIES`) and return ``cond_mask``."""
    if strategy == "random":
        return random_mask(observed_mask, generator)
    if strategy == "historical":
        return historical_mask(observed_mask, pattern_mask)
    if strategy == "mix":
        return mix_mask(observed_mask, pattern_mask, generator)
    if strategy == "forecast":
        if horizon is None:
            raise ValueError("the forecast strategy needs horizon=")
        return forecast_mask(observed_mask, horizon)
    raise ValueError(f"unknown mask strategy {strategy!r}; choose from {STRATEGIES}")

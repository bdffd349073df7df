"""Beta tables of discrete-time diffusion models (pure functions returning float64 tensors).

Each returns ``betas`` of length ``T``; ``alphas_cumprod = cumprod(1 - betas)``.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["BETA_SCHEDULES", "beta_schedule", "rescale_zero_terminal_snr"]


def _linear(T: int, beta_start: float, beta_end: float) -> Tensor:
    # Ho et al. 2020, sec. 4: beta linear from 1e-4 to 0.02.
    return torch.linspace(beta_start, beta_end, T, dtype=torch.float64)


def _scaled_linear(T: int, beta_start: float, beta_end: float) -> Tensor:
    # Latent diffusion: linear in sqrt(beta).
    return torch.linspace(beta_start**0.5, beta_end**0.5, T, dtype=torch.float64) ** 2


def _quad(T: int, beta_start: float, beta_end: float) -> Tensor:
    # CSDI (Tashiro et al. 2021): linspace(sqrt(b0), sqrt(b1))^2. Numerically the same family
    # as scaled_linear; kept under the paper's name.
    return _scaled_linear(T, beta_start, beta_end)


def _sigmoid(T: int, beta_start: float, beta_end: float) -> Tensor:
    # GeoDiff (Xu et al. 2022): sigmoid(linspace(-6, 6)) mapped to [beta_start, beta_end].
    x = torch.linspace(-6.0, 6.0, T, dtype=torch.float64)
    return torch.sigmoid(x) * (beta_end - beta_start) + beta_start


def _alpha_bar_betas(T: int, alpha_bar, max_beta: float = 0.999) -> Tensor:
    i = torch.arange(T, dtype=torch.float64)
    ab1, ab2 = alpha_bar(i / T), alpha_bar((i + 1) / T)
    return torch.clamp(1.0 - ab2 / ab1, max=max_beta)


def _cosine(T: int, beta_start: float = 0.0, beta_end: float = 0.0) -> Tensor:
    # Nichol & Dhariwal 2021, eq. 17 ("squaredcos_cap_v2"), s = 0.008, beta capped at 0.999.
    return _alpha_bar_betas(T, lambda t: torch.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2)


def _sqrt(T: int, beta_start: float = 0.0, beta_end: float = 0.0) -> Tensor:
    # Diffusion-LM (Li et al. 2022, App. A): alpha_bar(t) = 1 - sqrt(t + 1e-4), t = i/T.
    return _alpha_bar_betas(T, lambda t: 1.0 - torch.sqrt(t + 1e-4))


BETA_SCHEDULES = {
    "linear": _linear,
    "scaled_linear": _scaled_linear,
    "quad": _quad,
    "sigmoid": _sigmoid,
    "cosine": _cosine,
    "squaredcos_cap_v2": _cosine,
    "sqrt": _sqrt,
}

_DEFAULTS = {"linear": (1e-4, 0.02), "scaled_linear": (0.00085, 0.012), "quad": (1e-4, 0.5),
             "sigmoid": (1e-7, 2e-3)}


def beta_schedule(name: str, T: int, beta_start: float | None = None, beta_end: float | None = None) -> Tensor:
    """Return the named beta table of length ``T`` (float64).

    Names: ``linear``, ``scaled_linear``, ``quad`` (CSDI), ``sigmoid`` (GeoDiff),
    ``cosine``/``squaredcos_cap_v2`` (improved DDPM), ``sqrt`` (Diffusion-LM).
    """
    from .validate import check_int, check_number

    if name not in BETA_SCHEDULES:
        raise ValueError(f"unknown beta schedule {name!r}; expected one of {sorted(BETA_SCHEDULES)}")
    T = check_int(T, "T", low=1)
    if name not in _DEFAULTS:
        given = [n for n, v in (("beta_start", beta_start), ("beta_end", beta_end)) if v is not None]
        if given:  # refused, not ignored: the caller would believe they shaped the table
            raise ValueError(f"beta schedule {name!r} is fixed by its paper and takes no {given}; leave "
                             f"{' and '.join(given)} out")
        return BETA_SCHEDULES[name](T)
    b0, b1 = _DEFAULTS[name]
    b0 = b0 if beta_start is None else check_number(beta_start, "beta_start", low=0.0, high=1.0, low_open=True,
                                                    high_open=True)
    b1 = b1 if beta_end is None else check_number(beta_end, "beta_end", low=0.0, high=1.0, low_open=True,
                                                  high_open=True)
    if not b0 <= b1:
        raise ValueError(f"need beta_start <= beta_end, got beta_start={b0:g}, beta_end={b1:g}")
    return BETA_SCHEDULES[name](T, b0, b1)


def rescale_zero_terminal_snr(betas: Tensor) -> Tensor:
    """Rescale betas so the final step has zero SNR (Lin et al. 2024, Algorithm 1).

    ``betas``: a 1-D float tensor of length ``T >= 2`` with entries in ``(0, 1)``."""
    from .validate import check_tensor

    check_tensor(betas, "betas", ndim=1, floating=True, low=0.0, high=1.0)
    if betas.numel() < 2 or not bool(((betas > 0) & (betas < 1)).all()):
        raise ValueError(f"betas must hold T >= 2 entries in (0, 1), got {betas.numel()} entries in "
                         f"[{float(betas.min()):g}, {float(betas.max()):g}]")
    ab_sqrt = torch.cumprod(1.0 - betas.double(), 0).sqrt()
    a0, aT = ab_sqrt[0].clone(), ab_sqrt[-1].clone()
    ab_sqrt = (ab_sqrt - aT) * a0 / (a0 - aT)
    ab = ab_sqrt**2
    alphas = torch.cat([ab[:1], ab[1:] / ab[:-1]])
    return 1.0 - alphas

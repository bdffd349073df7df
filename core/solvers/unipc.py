"""UniPC (Zhao et al. 2023): the UniP-p predictor and the UniC-p corrector, data-prediction
form, with the B(h) choices ``bh1`` (B(h) = h) and ``bh2`` (B(h) = e^h - 1), orders 1-3.

Each step evaluates the model once; that evaluation also corrects the state it was taken at
(UniC) before the predictor moves on, so the corrector costs no extra evaluation.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from ..denoiser import Denoiser
from ..grids import Grid
from ._common import Post, ratio

__all__ = ["unipc"]


def _rhos(rks: list[float], hh: float, variant: str, order: int, corrector: bool):
    """Solve for the UniPC coefficients (Zhao et al. 2023, Alg. 1-2; eq. 8)."""
    h_phi_1 = math.expm1(hh)
    h_phi_k = h_phi_1 / hh - 1.0
    B_h = hh if variant == "bh1" else math.expm1(hh)
    factorial = 1
    R, b = [], []
    rk = torch.tensor(rks + [1.0], dtype=torch.float64)
    for i in range(1, order + 1):
        R.append(rk ** (i - 1))
        b.append(h_phi_k * factorial / B_h)
        factorial *= i + 1
        h_phi_k = h_phi_k / hh - 1.0 / factorial
    R = torch.stack(R)
    b = torch.tensor(b, dtype=torch.float64)
    if corrector:
        rhos = torch.tensor([0.5]) if order == 1 else torch.linalg.solve(R, b)
    else:
        if order == 1:
            rhos = torch.zeros(0)
        elif order == 2:
            rhos = torch.tensor([0.5])
        else:
            rhos = torch.linalg.solve(R[:-1, :-1], b[:-1])
    return h_phi_1, B_h, rhos.tolist()


def unipc(den: Denoiser, grid: Grid, x: Tensor, *, post: Post, noise=None, order: int = 2,
          variant: str = "bh2", lower_order_final: bool = True, corrector: bool = True) -> Tensor:
    """UniPC multistep sampler with ``order`` in {1, 2, 3} and ``variant`` in {bh1, bh2}."""
    if order not in (1, 2, 3):
        raise ValueError(f"UniPC order must be 1, 2 or 3, got {order}")
    if variant not in ("bh1", "bh2"):
        raise ValueError(f"UniPC variant must be 'bh1' or 'bh2', got {variant!r}")
    if grid.t.ndim != 1:
        raise ValueError("unipc supports a grid shared by the batch (per-sample t_start: use dpmpp_2m)")
    a = grid.alpha.tolist()
    s = grid.sigma.tolist()
    lam = [math.log(ai) - math.log(si) if si > 0 else math.inf for ai, si in zip(a, s)]
    n = grid.steps
    ms: list[Tensor] = []
    x_last = None
    prev_order = 1
    for i in range(n):
        m_t = den(x, i)
        if corrector and i > 0:
            # UniC at point i, correcting the predictor that came from point i-1
            h = lam[i] - lam[i - 1]
            rks = [(lam[i - 1 - k] - lam[i - 1]) / h for k in range(1, prev_order)]
            h_phi_1, B_h, rhos = _rhos(rks, -h, variant, prev_order, corrector=True)
            m0 = ms[-1]
            x_ = (s[i] / s[i - 1]) * x_last - a[i] * h_phi_1 * m0
            corr = rhos[-1] * (m_t - m0)
            for k, rho in enumerate(rhos[:-1], start=1):
                corr = corr + rho * (ms[-(k + 1)] - m0) / rks[k - 1]
            x = x_ - a[i] * B_h * corr
        ms = (ms + [m_t])[-order:]
        o = min(order, n - i) if lower_order_final else order
        o = min(o, len(ms))
        x_last = x
        if s[i + 1] == 0:  # clean landing: the exact limit of every order is alpha x0_hat
            x = a[i + 1] * m_t if a[i + 1] != 1.0 else m_t.clone()
        else:
            h = lam[i + 1] - lam[i]
            rks = [(lam[i - k] - lam[i]) / h for k in range(1, o)]
            h_phi_1, B_h, rhos = _rhos(rks, -h, variant, o, corrector=False)
            x_new = (s[i + 1] / s[i]) * x - a[i + 1] * h_phi_1 * m_t
            if o > 1:
                pred = 0
                for k, rho in enumerate(rhos, start=1):
                    pred = pred + rho * (ms[-(k + 1)] - m_t) / rks[k - 1]
                x_new = x_new - a[i + 1] * B_h * pred
            x = x_new
        prev_order = o
        x = post(x, i + 1)
    return x

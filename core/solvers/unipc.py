"""UniPC (Zhao et al. 2023): the UniP-p predictor and the UniC-p corrector, data-prediction
form, with the B(h) choices ``bh1`` (B(h) = h) and ``bh2`` (B(h) = e^h - 1), orders 1-3.

Each step evaluates the model once; that evaluation also corrects the state it was taken at
(UniC) before the predictor moves on, so the corrector costs no extra evaluation.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from ..denoiser import Denoiser
from ..fused import as_coefficient, fused_lincomb
from ..grids import Grid
from ._common import Post

__all__ = ["unipc"]


def _rhos(rks: list[float], hh: float, variant: str, order: int, corrector: bool):
    """Solve for the UniPC coefficients (Zhao et al. 2023, Alg. 1-2; eq. 8)."""
    h_phi_1 = math.expm1(hh)
    h_phi_k = h_phi_1 / hh - 1.0
    B_h = hh if variant == "bh1" else math.expm1(hh)
    factorial = 1
    R, b = [], []
    rk = np.array(rks + [1.0])
    for i in range(1, order + 1):
        R.append(rk ** (i - 1))
        b.append(h_phi_k * factorial / B_h)
        factorial *= i + 1
        h_phi_k = h_phi_k / hh - 1.0 / factorial
    R, b = np.stack(R), np.array(b)
    if corrector:
        rhos = [0.5] if order == 1 else np.linalg.solve(R, b).tolist()
    else:
        rhos = [] if order == 1 else [0.5] if order == 2 else np.linalg.solve(R[:-1, :-1], b[:-1]).tolist()
    return h_phi_1, B_h, rhos


def _plan(a, s, lam, n, order, variant, lower_order_final, corrector):
    """Per-step coefficients, computed once before the loop (no work inside it but tensors)."""
    plan = []
    prev_order = 1
    for i in range(n):
        step = {"corr": None, "pred": None}
        if corrector and i > 0:
            h = lam[i] - lam[i - 1]
            rks = [(lam[i - 1 - k] - lam[i - 1]) / h for k in range(1, prev_order)]
            h_phi_1, B_h, rhos = _rhos(rks, -h, variant, prev_order, corrector=True)
            # x = (s_i/s_{i-1}) x_last - a_i h_phi_1 m0 - a_i B_h (sum_k rho_k (m_k - m0)/r_k + rho_last (m_t - m0))
            w = [-a[i] * B_h * rho / r for rho, r in zip(rhos[:-1], rks)]
            w_t = -a[i] * B_h * rhos[-1]
            w0 = -a[i] * h_phi_1 - sum(w) - w_t
            step["corr"] = (s[i] / s[i - 1], w0, w, w_t)
        o = min(order, n - i) if lower_order_final else order
        o = min(o, i + 1)
        if s[i + 1] == 0:  # clean landing: the exact limit of every order is alpha x0_hat
            step["pred"] = (0.0, a[i + 1], [])
        else:
            h = lam[i + 1] - lam[i]
            rks = [(lam[i - k] - lam[i]) / h for k in range(1, o)]
            h_phi_1, B_h, rhos = _rhos(rks, -h, variant, o, corrector=False)
            w = [-a[i + 1] * B_h * rho / r for rho, r in zip(rhos, rks)] if o > 1 else []
            step["pred"] = (s[i + 1] / s[i], -a[i + 1] * h_phi_1 - sum(w), w)
        plan.append(step)
        prev_order = o
    return plan


def _plan_for(a, s, n, order, variant, lower_order_final, corrector):
    lam = [math.log(ai) - math.log(si) if si > 0 else math.inf for ai, si in zip(a, s)]
    return _plan(a, s, lam, n, order, variant, lower_order_final, corrector)


def _stack_plans(plans, x: Tensor):
    from .._broadcast import append_dims

    def col(vals):
        return append_dims(torch.tensor(vals, dtype=x.dtype, device=x.device), x.ndim)

    out = []
    for i in range(len(plans[0])):
        step = {"corr": None, "pred": None}
        if plans[0][i]["corr"] is not None:
            cs = [p[i]["corr"] for p in plans]
            step["corr"] = (col([c[0] for c in cs]), col([c[1] for c in cs]),
                            [col([c[2][k] for c in cs]) for k in range(len(cs[0][2]))], col([c[3] for c in cs]))
        ps = [p[i]["pred"] for p in plans]
        if len({p[0] == 0.0 for p in ps}) > 1:
            raise ValueError("unipc with per-sample grids needs every sample to land on clean data at the same step")
        step["pred"] = (0.0 if ps[0][0] == 0.0 else col([p[0] for p in ps]), col([p[1] for p in ps]),
                        [col([p[2][k] for p in ps]) for k in range(len(ps[0][2]))])
        out.append(step)
    return out


def _combine(base: Tensor, c_base, terms: list[tuple], fused: bool = False) -> Tensor:
    """``c_base * base + sum c v`` with fused adds for float coefficients (one compiled kernel
    with ``fused=True``)."""
    if fused:
        args = [as_coefficient(c_base, base), base]
        for c, v in terms:
            args += [as_coefficient(c, base), v]
        return fused_lincomb(*args)
    out = base * c_base
    for c, v in terms:
        if isinstance(c, float):
            if c != 0.0:
                out.add_(v, alpha=c)
        else:
            out.addcmul_(c, v)
    return out


def unipc(den: Denoiser, grid: Grid, x: Tensor, *, post: Post, noise=None, order: int = 2,
          variant: str = "bh2", lower_order_final: bool = True, corrector: bool = True,
          fused: bool = False) -> Tensor:
    """UniPC multistep sampler with ``order`` in {1, 2, 3} and ``variant`` in {bh1, bh2};
    ``fused=True`` runs each update as one compiled kernel."""
    if order not in (1, 2, 3):
        raise ValueError(f"UniPC order must be 1, 2 or 3, got {order}")
    if variant not in ("bh1", "bh2"):
        raise ValueError(f"UniPC variant must be 'bh1' or 'bh2', got {variant!r}")
    n = grid.steps
    if grid.t.ndim == 1:
        plan = _plan_for(grid.alpha.tolist(), grid.sigma.tolist(), n, order, variant, lower_order_final, corrector)
    else:  # per-sample grids: one plan per sample, coefficients stacked into [B, 1, ...] tensors
        plans = [_plan_for(grid.alpha[:, b].tolist(), grid.sigma[:, b].tolist(), n, order, variant,
                           lower_order_final, corrector) for b in range(grid.t.shape[1])]
        plan = _stack_plans(plans, x)
    ms: list[Tensor] = []  # data predictions, newest last
    x_last = x
    for i in range(n):
        m_t = den(x, i)
        corr = plan[i]["corr"]
        if corr is not None:
            c_x, w0, w, w_t = corr
            terms = [(w0, ms[-1]), (w_t, m_t)] + [(wk, ms[-(k + 2)]) for k, wk in enumerate(w)]
            x = _combine(x_last, c_x, terms, fused)
        ms = (ms + [m_t])[-order:]
        x_last = x
        c_x, w0, w = plan[i]["pred"]
        terms = [(w0, m_t)] + [(wk, ms[-(k + 2)]) for k, wk in enumerate(w)]
        x = m_t * w0 if isinstance(c_x, float) and c_x == 0.0 else _combine(x, c_x, terms, fused)
        x = post(x, i + 1)
    return x

"""UniPC (Zhao et al. 2023): the UniP-p predictor and the UniC-p corrector, data-prediction
form, with the B(h) choices ``bh1`` (B(h) = h) and ``bh2`` (B(h) = e^h - 1), orders 1-3.

Each step evaluates the model once; that evaluation also corrects the state it was taken at
(UniC) before the predictor moves on, so the corrector costs no extra evaluation.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..denoiser import Denoiser
from ..grids import Grid
from ..lincomb import lincomb
from ._common import Post, Steps, Value, expm1

__all__ = ["unipc"]


def _rhos(rks: list[Value], hh: Value, variant: str, order: int, corrector: bool):
    """``h phi_1(h)``, ``B(h)`` and the coefficients ``rho`` of UniP-p / UniC-p (Zhao et al. 2023,
    Alg. 1-2): ``R rho = b`` with ``R_jk = r_k^j`` and ``b_j = j! h phi_{j+1}(h) / B(h)`` (eq. 8)."""
    h_phi_1 = expm1(hh)
    h_phi_k = h_phi_1 / hh - 1.0
    B_h = hh if variant == "bh1" else h_phi_1
    factorial, b = 1, []
    for j in range(1, order + 1):
        b.append(h_phi_k * factorial / B_h)
        factorial *= j + 1
        h_phi_k = h_phi_k / hh - 1.0 / factorial
    if order == 1:
        return h_phi_1, B_h, [0.5] if corrector else []
    if order == 2 and not corrector:
        return h_phi_1, B_h, [0.5]
    m = order if corrector else order - 1  # the predictor drops the last row and column
    rk = rks + [1.0]
    return h_phi_1, B_h, _solve([[rk[k] ** j for k in range(m)] for j in range(m)], b[:m])


def _solve(R: list[list[Value]], b: list[Value]) -> list[Value]:
    """``R^-1 b`` for floats, or batched over the samples for ``[B, 1, ...]`` tensors."""
    like = next((v for row in R + [b] for v in (row if isinstance(row, list) else [row]) if isinstance(v, Tensor)), None)
    if like is None:
        return np.linalg.solve(np.array(R), np.array(b)).tolist()
    col = lambda v: v.reshape(-1) if isinstance(v, Tensor) else torch.full((like.shape[0],), v, dtype=like.dtype,
                                                                           device=like.device)
    A = torch.stack([torch.stack([col(v) for v in row], -1) for row in R], -2)  # [B, m, m]
    rho = torch.linalg.solve_ex(A, torch.stack([col(v) for v in b], -1))[0]  # no host sync
    return [rho[:, k].reshape(like.shape) for k in range(len(b))]


def _update(st: Steps, s: int, t: int, x: Tensor, Ds: list[Tensor], order: int, variant: str,
            D_t: Tensor | None = None, out: Tensor | None = None) -> Tensor:
    """UniP-p from point ``s`` to ``t`` (``D_t`` None), or UniC-p with the evaluation ``D_t`` at ``t``:
    ``x_t = (sigma_t/sigma_s) x - alpha_t h phi_1 D_s - alpha_t B(h) (sum_k rho_k D1_k [+ rho_c (D_t - D_s)])``
    with ``D1_k = (D_{s-k} - D_s) / r_k`` and ``r_k = (lambda_{s-k} - lambda_s) / h`` (Alg. 1-2)."""
    alpha, sigma, lam = st.alpha, st.sigma, st.lam
    h = lam[t] - lam[s]
    rks = [(lam[s - k] - lam[s]) / h for k in range(1, order)]
    h_phi_1, B_h, rhos = _rhos(rks, -h, variant, order, corrector=D_t is not None)
    c = -alpha[t] * B_h
    terms, c_s = [sigma[t] / sigma[s], x], -alpha[t] * h_phi_1  # c_s: the weight of D_s
    for k, (rho, r) in enumerate(zip(rhos, rks)):
        terms += [c * rho / r, Ds[-(k + 2)]]
        c_s = c_s - c * rho / r
    if D_t is not None:
        terms += [c * rhos[-1], D_t]
        c_s = c_s - c * rhos[-1]
    return lincomb(*terms, c_s, Ds[-1], out=out)


def unipc(den: Denoiser, grid: Grid, x: Tensor, *, post: Post, noise=None, order: int = 2,
          variant: str = "bh2", lower_order_final: bool = True, corrector: bool = True) -> Tensor:
    """UniPC multistep sampler with ``order`` in {1, 2, 3} and ``variant`` in {bh1, bh2}."""
    if order not in (1, 2, 3):
        raise ValueError(f"UniPC order must be 1, 2 or 3, got {order}")
    if variant not in ("bh1", "bh2"):
        raise ValueError(f"UniPC variant must be 'bh1' or 'bh2', got {variant!r}")
    st = Steps(grid, x, post)
    n = st.steps
    den.keep(order + 1)
    Ds: list[Tensor] = []  # data predictions, newest last
    x_prev, prev_order = x, 1  # where the last predictor started, and its order
    for i in range(n):
        D = den(x, i)
        if corrector and i > 0:  # UniC: the evaluation at point i corrects the state there
            x = _update(st, i - 1, i, x_prev, Ds, prev_order, variant, D_t=D, out=st.out(x))
        Ds = (Ds + [D])[-order:]
        x_prev = x
        o = min(order, n - i) if lower_order_final else order
        o = min(o, i + 1)
        if st.clean[i + 1]:  # clean landing: the exact limit of every order is alpha x0_hat
            x = lincomb(st.alpha[i + 1], D)
        else:
            x = _update(st, i, i + 1, x, Ds, o, variant)
        prev_order = o
        x = post(x, i + 1)
    return x

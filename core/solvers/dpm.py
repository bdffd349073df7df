"""DPM-Solver++ multistep solvers (Lu et al. 2022, "DPM-Solver++", Alg. 2 and App. B) in the
data-prediction form, with ``h = lambda_t - lambda_s`` and ``lambda = log(alpha / sigma)``.

Lower-order warm-up on the first steps; the step that lands on clean data is first order
(it returns ``alpha_t x0_hat``), and with fewer than 15 steps the last steps drop order as in
diffusers' ``lower_order_final``.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from ..denoiser import Denoiser
from ..fused import as_coefficient, fused_lincomb, lincomb
from ..grids import Grid
from ._common import Post, coefs, ratio

__all__ = ["dpmpp_2m", "dpmpp_2m_sde", "dpmpp_3m"]


def _tables(grid: Grid):
    a, s = grid.alpha, grid.sigma
    lam = torch.log(a) - torch.log(s)  # +inf at clean points
    h = lam[1:] - lam[:-1]
    e = ratio(s[1:] * a[:-1], a[1:] * s[:-1])  # exp(-h), 0 on a clean landing
    return a, s, lam, h, e


def _orders(grid: Grid, max_order: int, lower_order_final: bool) -> list[int]:
    n = grid.steps
    clean_last = grid.to_clean()
    orders = []
    for i in range(n):
        o = min(max_order, i + 1)
        if i == n - 1 and (clean_last or (lower_order_final and n < 15)):
            o = 1
        if i == n - 2 and lower_order_final and n < 15:
            o = min(o, 2)
        orders.append(o)
    return orders


def _singlestep_first(den: Denoiser, grid: Grid, x: Tensor) -> tuple[Tensor, Tensor]:
    """First step by DPM-Solver++(2S) (Lu et al. 2022, Alg. 1, r = 1/2): one extra model
    evaluation at the log-SNR midpoint makes the warm-up step second order, so a multistep
    method keeps its order globally (a first-order start limits it to 2)."""
    if grid.t.ndim != 1 or float(grid.sigma[1]) == 0:
        raise ValueError("warmup='singlestep' needs a shared grid whose first step is noisy")
    proc = den.process
    a0, s0, a1, s1 = (float(v) for v in (grid.alpha[0], grid.sigma[0], grid.alpha[1], grid.sigma[1]))
    lam0, lam1 = math.log(a0 / s0), math.log(a1 / s1)
    t_mid = proc.t_from_log_snr(torch.tensor(lam0 + lam1, dtype=torch.float64))  # log-SNR = 2 lambda
    am, sm = float(proc.alpha(t_mid)), float(proc.sigma(t_mid))
    h = lam1 - lam0
    m0 = den(x, 0)
    x_mid = (sm / s0) * x - am * math.expm1(-h / 2) * m0
    m_mid = den.at(x_mid, t_mid)
    return (s1 / s0) * x - a1 * math.expm1(-h) * m_mid, m0


def dpmpp_2m(den: Denoiser, grid: Grid, x: Tensor, *, post: Post, noise=None,
             lower_order_final: bool = True, warmup: str = "multistep", fused: bool = False) -> Tensor:
    """DPM-Solver++(2M), midpoint form (Lu et al. 2022, Alg. 2).

    ``warmup="multistep"`` starts with a first-order step (diffusers' choice);
    ``"singlestep"`` makes the first step DPM-Solver++(2S) at one extra evaluation.
    ``fused=True`` runs each update as one compiled kernel (:mod:`polydiff.core.fused`).
    """
    a, s, lam, h, e = _tables(grid)
    r0 = torch.ones_like(h)
    r0[1:] = (lam[1:-1] - lam[:-2]) / torch.where(torch.isfinite(h[1:]), h[1:], torch.ones_like(h[1:]))
    c_x = coefs(ratio(s[1:], s[:-1]), x)
    c_d0 = coefs(a[1:] * (1 - e), x)
    c_d1 = coefs(0.5 * a[1:] * (1 - e) / r0, x)  # D1 = (m0 - m1) / r0
    orders = _orders(grid, 2, lower_order_final)
    m_prev = None
    start = 0
    if _check_warmup(warmup):
        x, m_prev = _singlestep_first(den, grid, x)
        x, start = post(x, 1), 1
    shared = grid.t.ndim == 1
    if fused:
        C = [[as_coefficient(c, x) for c in (c_x[i], c_d0[i], c_d1[i])] for i in range(grid.steps)]
    for i in range(start, grid.steps):
        m0 = den(x, i)
        if fused:
            cx, c0, c1 = C[i]
            if orders[i] == 1:
                x = fused_lincomb(cx, x, c0, m0)
            else:  # c_x x + (c0 + c1) m0 - c1 m_prev, one kernel
                x = fused_lincomb(cx, x, c0 + c1, m0, -c1, m_prev)
        elif orders[i] == 1:
            x = torch.mul(x, c_x[i]).add_(m0, alpha=c_d0[i]) if shared else c_x[i] * x + c_d0[i] * m0
        elif shared:  # c_x x + (c0 + c1) m0 - c1 m_prev: one allocation, two in-place passes
            x = torch.mul(x, c_x[i]).add_(m0, alpha=c_d0[i] + c_d1[i]).add_(m_prev, alpha=-c_d1[i])
        else:
            x = c_x[i] * x + c_d0[i] * m0 + c_d1[i] * (m0 - m_prev)
        m_prev = m0
        x = post(x, i + 1)
    return x


def _check_warmup(warmup: str) -> bool:
    if warmup not in ("multistep", "singlestep"):
        raise ValueError(f"warmup must be 'multistep' or 'singlestep', got {warmup!r}")
    return warmup == "singlestep"


def dpmpp_3m(den: Denoiser, grid: Grid, x: Tensor, *, post: Post, noise=None,
             lower_order_final: bool = True, warmup: str = "multistep", fused: bool = False) -> Tensor:
    """DPM-Solver++(3M) (Lu et al. 2022, App. B; the third-order multistep update).

    The second-difference term uses the Taylor coefficient ``2 (1/2 - phi_3)`` with
    ``phi_3 = (e^{-h} - 1 + h) / h^2``: ``D2 = (D1_0 - D1_1) / (r0 + r1)`` estimates
    ``h^2 x0''/2`` and ``int_0^h e^{u-h} u^2/2 du = h^2/2 - h + 1 - e^{-h}``. diffusers (0.35)
    and the DPM-Solver reference code use half of it, which leaves a third-order local error
    and makes their 3M a second-order method (measured in tests/core/test_solvers.py).

    ``warmup`` and ``fused`` as in :func:`dpmpp_2m` (``"singlestep"`` keeps global order 3).
    """
    comb = fused_lincomb if fused else lincomb
    a, s, lam, h, e = _tables(grid)
    n = grid.steps
    fin = torch.isfinite(h)
    hs = torch.where(fin, h, torch.ones_like(h))
    phi1 = e - 1.0  # exp(-h) - 1
    c_x = coefs(ratio(s[1:], s[:-1]), x)
    c_d0 = coefs(-a[1:] * phi1, x)
    c_d1_2 = coefs(a[1:] * (phi1 / hs + 1.0), x)
    c_d2 = coefs(-2.0 * a[1:] * ((phi1 + hs) / hs**2 - 0.5), x)
    c_mid = coefs(-0.5 * a[1:] * phi1, x)
    lam_l = lam.tolist() if lam.ndim == 1 else None
    orders = _orders(grid, 3, lower_order_final)
    ms: list[Tensor] = []
    start = 0
    if _check_warmup(warmup):
        x, m_first = _singlestep_first(den, grid, x)
        x, start, ms = post(x, 1), 1, [m_first]
    for i in range(start, n):
        m0 = den(x, i)
        ms = (ms + [m0])[-3:]
        o = orders[i]
        if o == 1:
            x = comb(_c(c_x[i], x, fused), x, _c(c_d0[i], x, fused), m0)
        else:
            if lam_l is not None:
                hi = lam_l[i + 1] - lam_l[i]
                r0 = (lam_l[i] - lam_l[i - 1]) / hi
            else:
                hi = hs[i]
                r0 = _b((lam[i] - lam[i - 1]) / hi, x)
            m1 = ms[-2]
            if o == 2:  # c_x x + c_d0 m0 + c_mid (m0 - m1) / r0
                x = comb(_c(c_x[i], x, fused), x, _c(c_d0[i] + c_mid[i] / r0, x, fused), m0,
                         _c(-c_mid[i] / r0, x, fused), m1)
            else:
                if lam_l is not None:
                    r1 = (lam_l[i - 1] - lam_l[i - 2]) / hi
                else:
                    r1 = _b((lam[i - 1] - lam[i - 2]) / hi, x)
                # D1 = D1_0 + r0/(r0+r1) (D1_0 - D1_1), D2 = (D1_0 - D1_1)/(r0+r1), expanded in m0, m1, m2
                q = 1.0 / (r0 + r1)
                k0 = c_d1_2[i] * (1 + r0 * q) + c_d2[i] * q  # weight of D1_0
                k1 = -(c_d1_2[i] * r0 * q + c_d2[i] * q)  # weight of D1_1
                w0 = c_d0[i] + k0 / r0
                w1 = -k0 / r0 + k1 / r1
                w2 = -k1 / r1
                x = comb(_c(c_x[i], x, fused), x, _c(w0, x, fused), m0, _c(w1, x, fused), m1,
                         _c(w2, x, fused), ms[-3])
        x = post(x, i + 1)
    return x


def _c(c, x: Tensor, fused: bool):
    return as_coefficient(c, x) if fused else c


def _b(v: Tensor, x: Tensor) -> Tensor:
    from .._broadcast import append_dims

    return append_dims(v.to(x.device, x.dtype), x.ndim)


def dpmpp_2m_sde(den: Denoiser, grid: Grid, x: Tensor, *, post: Post, noise,
                 lower_order_final: bool = True, fused: bool = False) -> Tensor:
    """SDE-DPM-Solver++(2M), midpoint form (Lu et al. 2022, App. C; diffusers' ``sde-dpmsolver++``):
    ``x_t = (sigma_t/sigma_s) e^{-h} x + alpha_t (1 - e^{-2h}) (D0 + D1/2) + sigma_t sqrt(1 - e^{-2h}) z``."""
    a, s, lam, h, e = _tables(grid)
    r0 = torch.ones_like(h)
    r0[1:] = (lam[1:-1] - lam[:-2]) / torch.where(torch.isfinite(h[1:]), h[1:], torch.ones_like(h[1:]))
    one_m_e2 = 1.0 - e**2
    c_x = coefs(ratio(s[1:], s[:-1]) * e, x)
    c_d0 = coefs(a[1:] * one_m_e2, x)
    c_d1 = coefs(0.5 * a[1:] * one_m_e2 / r0, x)
    c_z = coefs(s[1:] * torch.sqrt(one_m_e2.clamp_min(0)), x)
    orders = _orders(grid, 2, lower_order_final)
    m_prev = None
    comb = fused_lincomb if fused else lincomb
    for i in range(grid.steps):
        m0 = den(x, i)
        z = noise(x, i)
        cx, c0, c1, cz = (_c(c[i], x, fused) for c in (c_x, c_d0, c_d1, c_z))
        if orders[i] == 1:
            x = comb(cx, x, c0, m0, cz, z)
        else:
            x = comb(cx, x, c0 + c1, m0, -c1, m_prev, cz, z)
        m_prev = m0
        x = post(x, i + 1)
    return x

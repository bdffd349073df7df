"""DPM-Solver++ multistep solvers (Lu et al. 2022, "DPM-Solver++", Alg. 2 and App. B) in the
data-prediction form, with ``h = lambda_t - lambda_s`` and ``lambda = log(alpha / sigma)``.

Lower-order warm-up on the first steps; the step that lands on clean data is first order
(it returns ``alpha_t x0_hat``), and with fewer than 15 steps the last steps drop order as in
diffusers' ``lower_order_final``.
"""
from __future__ import annotations

import torch
from torch import Tensor

from ..denoiser import Denoiser
from ..grids import Grid
from ._common import Post, coefs, ratio

__all__ = ["dpmpp_2m", "dpmpp_3m", "dpmpp_2m_sde"]


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


def dpmpp_2m(den: Denoiser, grid: Grid, x: Tensor, *, post: Post, noise=None,
             lower_order_final: bool = True) -> Tensor:
    """DPM-Solver++(2M), midpoint form (Lu et al. 2022, Alg. 2)."""
    a, s, lam, h, e = _tables(grid)
    r0 = torch.ones_like(h)
    r0[1:] = (lam[1:-1] - lam[:-2]) / torch.where(torch.isfinite(h[1:]), h[1:], torch.ones_like(h[1:]))
    c_x = coefs(ratio(s[1:], s[:-1]), x)
    c_d0 = coefs(a[1:] * (1 - e), x)
    c_d1 = coefs(0.5 * a[1:] * (1 - e) / r0, x)  # D1 = (m0 - m1) / r0
    orders = _orders(grid, 2, lower_order_final)
    m_prev = None
    for i in range(grid.steps):
        m0 = den(x, i)
        if orders[i] == 1:
            x = c_x[i] * x + c_d0[i] * m0
        else:
            x = c_x[i] * x + c_d0[i] * m0 + c_d1[i] * (m0 - m_prev)
        m_prev = m0
        x = post(x, i + 1)
    return x


def dpmpp_3m(den: Denoiser, grid: Grid, x: Tensor, *, post: Post, noise=None,
             lower_order_final: bool = True) -> Tensor:
    """DPM-Solver++(3M) (Lu et al. 2022, App. B; the third-order multistep update)."""
    a, s, lam, h, e = _tables(grid)
    n = grid.steps
    fin = torch.isfinite(h)
    hs = torch.where(fin, h, torch.ones_like(h))
    phi1 = e - 1.0  # exp(-h) - 1
    c_x = coefs(ratio(s[1:], s[:-1]), x)
    c_d0 = coefs(-a[1:] * phi1, x)
    c_d1_2 = coefs(a[1:] * (phi1 / hs + 1.0), x)  # unused by 2nd order midpoint; kept for 3M
    c_d2 = coefs(-a[1:] * ((phi1 + hs) / hs**2 - 0.5), x)
    c_mid = coefs(-0.5 * a[1:] * phi1, x)
    lam_l = lam.tolist() if lam.ndim == 1 else None
    orders = _orders(grid, 3, lower_order_final)
    ms: list[Tensor] = []
    for i in range(n):
        m0 = den(x, i)
        ms = (ms + [m0])[-3:]
        o = orders[i]
        if o == 1:
            x = c_x[i] * x + c_d0[i] * m0
        else:
            if lam_l is not None:
                hi = lam_l[i + 1] - lam_l[i]
                r0 = (lam_l[i] - lam_l[i - 1]) / hi
            else:
                hi = hs[i]
                r0 = _b((lam[i] - lam[i - 1]) / hi, x)
            m1 = ms[-2]
            d1_0 = (m0 - m1) / r0
            if o == 2:
                x = c_x[i] * x + c_d0[i] * m0 + c_mid[i] * d1_0
            else:
                if lam_l is not None:
                    r1 = (lam_l[i - 1] - lam_l[i - 2]) / hi
                else:
                    r1 = _b((lam[i - 1] - lam[i - 2]) / hi, x)
                m2 = ms[-3]
                d1_1 = (m1 - m2) / r1
                d1 = d1_0 + (r0 / (r0 + r1)) * (d1_0 - d1_1)
                d2 = (d1_0 - d1_1) / (r0 + r1)
                x = c_x[i] * x + c_d0[i] * m0 + c_d1_2[i] * d1 + c_d2[i] * d2
        x = post(x, i + 1)
    return x


def _b(v: Tensor, x: Tensor) -> Tensor:
    from .._broadcast import append_dims

    return append_dims(v.to(x.device, x.dtype), x.ndim)


def dpmpp_2m_sde(den: Denoiser, grid: Grid, x: Tensor, *, post: Post, noise,
                 lower_order_final: bool = True) -> Tensor:
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
    for i in range(grid.steps):
        m0 = den(x, i)
        z = noise(x, i)
        if orders[i] == 1:
            x = c_x[i] * x + c_d0[i] * m0 + c_z[i] * z
        else:
            x = c_x[i] * x + c_d0[i] * m0 + c_d1[i] * (m0 - m_prev) + c_z[i] * z
        m_prev = m0
        x = post(x, i + 1)
    return x

"""DPM-Solver++ multistep solvers (Lu et al. 2022, "DPM-Solver++", Alg. 2 and App. B) in the
data-prediction form, with ``h = lambda_t - lambda_s`` and ``lambda = log(alpha / sigma)``.

Every update is ``x_t = (sigma_t / sigma_s) x_s - alpha_t (e^{-h} - 1) D`` (eq. 8 of the
paper, first order) with a better estimate ``D`` of the data prediction over the step.
Lower-order warm-up on the first steps; the step that lands on clean data is first order
(it returns ``alpha_t x0_hat``), and with fewer than 15 steps the last steps drop order as in
diffusers' ``lower_order_final``.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from ..denoiser import Denoiser
from ..grids import Grid
from ..lincomb import lincomb
from ._common import Post, Steps, exp, expm1, sqrt

__all__ = ["dpmpp_2m", "dpmpp_2m_sde", "dpmpp_3m"]


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


def _check_warmup(warmup: str) -> bool:
    if warmup not in ("multistep", "singlestep"):
        raise ValueError(f"warmup must be 'multistep' or 'singlestep', got {warmup!r}")
    return warmup == "singlestep"


def _singlestep_first(den: Denoiser, st: Steps, x: Tensor) -> tuple[Tensor, Tensor]:
    """First step by DPM-Solver++(2S) (Lu et al. 2022, Alg. 1, r = 1/2): one extra model
    evaluation at the log-SNR midpoint makes the warm-up step second order, so a multistep
    method keeps its order globally (a first-order start limits it to 2)."""
    if not st.shared or st.clean[1]:
        raise ValueError("warmup='singlestep' needs a shared grid whose first step is noisy")
    alpha, sigma, lam = st.alpha, st.sigma, st.lam
    h = lam[1] - lam[0]
    t_mid = den.process.t_from_log_snr(torch.tensor(lam[0] + lam[1], dtype=torch.float64))  # log-SNR = 2 lambda
    alpha_mid, sigma_mid = float(den.process.alpha(t_mid)), float(den.process.sigma(t_mid))
    D = den(x, 0)
    x_mid = lincomb(sigma_mid / sigma[0], x, -alpha_mid * math.expm1(-h / 2), D)
    D_mid = den.at(x_mid, t_mid)
    return lincomb(sigma[1] / sigma[0], x, -alpha[1] * math.expm1(-h), D_mid), D


def dpmpp_2m(den: Denoiser, grid: Grid, x: Tensor, *, post: Post, noise=None,
             lower_order_final: bool = True, warmup: str = "multistep") -> Tensor:
    """DPM-Solver++(2M), midpoint form (Lu et al. 2022, Alg. 2).

    ``warmup="multistep"`` starts with a first-order step (diffusers' choice);
    ``"singlestep"`` makes the first step DPM-Solver++(2S) at one extra evaluation.
    """
    st = Steps(grid, x, post)
    alpha, sigma, lam = st.alpha, st.sigma, st.lam
    order = _orders(grid, 2, lower_order_final)
    den.keep(2)  # D and D_prev
    D_prev, start = None, 0
    if _check_warmup(warmup):
        x, D_prev = _singlestep_first(den, st, x)
        x, start = post(x, 1), 1
    for i in range(start, st.steps):
        D = den(x, i)
        h = lam[i + 1] - lam[i]
        phi = -alpha[i + 1] * expm1(-h)  # alpha_t (1 - e^{-h})
        if order[i] == 1:  # x_t = (sigma_t / sigma_s) x - alpha_t (e^{-h} - 1) D
            x = lincomb(sigma[i + 1] / sigma[i], x, phi, D, out=st.out(x))
        else:  # Alg. 2: r = h_last / h, D1 = (1 + 1/(2r)) D - 1/(2r) D_prev
            r = (lam[i] - lam[i - 1]) / h
            x = lincomb(sigma[i + 1] / sigma[i], x, phi * (1 + 0.5 / r), D, -phi * 0.5 / r, D_prev,
                        out=st.out(x))
        D_prev = D
        x = post(x, i + 1)
    return x


def dpmpp_3m(den: Denoiser, grid: Grid, x: Tensor, *, post: Post, noise=None,
             lower_order_final: bool = True, warmup: str = "multistep") -> Tensor:
    """DPM-Solver++(3M) (Lu et al. 2022, App. B; the third-order multistep update).

    With ``r0 = h_0 / h``, ``r1 = h_1 / h`` (the two previous steps), ``D1_0 = (D - D_1) / r0``,
    ``D1_1 = (D_1 - D_2) / r1``, ``D1 = D1_0 + r0 / (r0 + r1) (D1_0 - D1_1)`` and
    ``D2 = (D1_0 - D1_1) / (r0 + r1)``:
    ``x_t = (sigma_t/sigma_s) x - alpha_t phi_1 D + alpha_t (phi_1 / h + 1) D1 - 2 alpha_t (phi_3 - 1/2) D2``
    with ``phi_1 = e^{-h} - 1`` and ``phi_3 = (e^{-h} - 1 + h) / h^2``. The second-difference
    term uses the Taylor coefficient ``2 (1/2 - phi_3)``: ``D2`` estimates ``h^2 x0''/2`` and
    ``int_0^h e^{u-h} u^2/2 du = h^2/2 - h + 1 - e^{-h}``. diffusers (0.35) and the DPM-Solver
    reference code use half of it, which leaves a third-order local error and makes their 3M a
    second-order method (measured in tests/core/test_solvers.py).

    ``warmup`` as in :func:`dpmpp_2m` (``"singlestep"`` keeps global order 3).
    """
    st = Steps(grid, x, post)
    alpha, sigma, lam = st.alpha, st.sigma, st.lam
    order = _orders(grid, 3, lower_order_final)
    den.keep(3)  # D, D_1, D_2
    Ds: list[Tensor] = []  # data predictions, newest last
    start = 0
    if _check_warmup(warmup):
        x, D_first = _singlestep_first(den, st, x)
        x, start, Ds = post(x, 1), 1, [D_first]
    for i in range(start, st.steps):
        D = den(x, i)
        Ds = (Ds + [D])[-3:]
        h = lam[i + 1] - lam[i]
        phi_1 = expm1(-h)
        c_x, c_D = sigma[i + 1] / sigma[i], -alpha[i + 1] * phi_1
        if order[i] == 1:
            x = lincomb(c_x, x, c_D, D, out=st.out(x))
            x = post(x, i + 1)
            continue
        r0 = (lam[i] - lam[i - 1]) / h
        if order[i] == 2:  # DPM-Solver++(2M): D1 = (D - D_1) / r0 with weight 1/2
            c1 = 0.5 * c_D / r0
            x = lincomb(c_x, x, c_D + c1, D, -c1, Ds[-2], out=st.out(x))
            x = post(x, i + 1)
            continue
        r1 = (lam[i - 1] - lam[i - 2]) / h
        c_D1 = alpha[i + 1] * (phi_1 / h + 1)
        c_D2 = -2 * alpha[i + 1] * ((phi_1 + h) / h**2 - 0.5)
        # c_D1 D1 + c_D2 D2 = k0 D1_0 + k1 D1_1, then D1_0 and D1_1 written out in D, D_1, D_2
        q = 1 / (r0 + r1)
        k0 = c_D1 * (1 + r0 * q) + c_D2 * q
        k1 = -(c_D1 * r0 * q + c_D2 * q)
        x = lincomb(c_x, x, c_D + k0 / r0, D, -k0 / r0 + k1 / r1, Ds[-2], -k1 / r1, Ds[-3],
                    out=st.out(x))
        x = post(x, i + 1)
    return x


def dpmpp_2m_sde(den: Denoiser, grid: Grid, x: Tensor, *, post: Post, noise,
                 lower_order_final: bool = True) -> Tensor:
    """SDE-DPM-Solver++(2M), midpoint form (Lu et al. 2022, App. C; diffusers' ``sde-dpmsolver++``):
    ``x_t = (sigma_t/sigma_s) e^{-h} x + alpha_t (1 - e^{-2h}) (D + D1/2) + sigma_t sqrt(1 - e^{-2h}) z``
    with ``D1 = (D - D_prev) / r``, ``r = h_last / h``."""
    st = Steps(grid, x, post)
    alpha, sigma, lam = st.alpha, st.sigma, st.lam
    order = _orders(grid, 2, lower_order_final)
    den.keep(2)
    D_prev = None
    for i in range(st.steps):
        D = den(x, i)
        z = noise(x, i)
        h = lam[i + 1] - lam[i]
        one_m_e2h = -expm1(-2 * h)  # 1 - e^{-2h}
        c_x = sigma[i + 1] / sigma[i] * exp(-h)
        c_D, c_z = alpha[i + 1] * one_m_e2h, sigma[i + 1] * sqrt(one_m_e2h)
        if order[i] == 1:
            x = lincomb(c_x, x, c_D, D, c_z, z, out=st.out(x))
        else:
            c1 = 0.5 * c_D / ((lam[i] - lam[i - 1]) / h)
            x = lincomb(c_x, x, c_D + c1, D, -c1, D_prev, c_z, z, out=st.out(x))
        D_prev = D
        x = post(x, i + 1)
    return x

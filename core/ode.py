"""One adaptive ODE integrator for the engine: Dormand-Prince RK5(4)7M with FSAL and error
control (Dormand & Prince 1980; Hairer, Norsett & Wanner, *Solving ODEs I*, sec. II.4-5).

Used by the ``rk45`` sampler (:mod:`polydiff.core.solvers.adaptive`) and by the
probability-flow likelihood (:func:`polydiff.core.likelihood.ode_nll`).
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

__all__ = ["dormand_prince"]

# Dormand-Prince tableau (the pair scipy's RK45 uses); _B5 is also the last row of _A (FSAL)
_C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
_A = (
    (),
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
    (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
)
_B5 = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0)
_B4 = (5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40)


def _norm(v: Tensor) -> Tensor:
    """Per-sample RMS over every entry but the first dim, then the worst sample."""
    return v.reshape(v.shape[0], -1).pow(2).mean(1).sqrt().max()


def dormand_prince(f: Callable[[float, Tensor], Tensor], y0: Tensor, t0: float, t1: float, *,
                   rtol: float, atol: float, max_evals: int = 100_000) -> tuple[Tensor, int]:
    """Integrate ``dy/dt = f(t, y)`` from ``t0`` to ``t1`` (either direction); return ``(y(t1), evaluations)``.

    ``y`` is ``[B, ...]``; a step is accepted when every sample's RMS of
    ``err / (atol + rtol max(|y|, |y_new|))`` is at most 1 (Hairer et al. II.4, eq. 4.11), so a
    sample's accuracy does not depend on its batch. First step: Hairer et al.'s heuristic
    ``h = 0.01 ||y0|| / ||f(t0, y0)||``; step factor ``0.9 err^(-1/5)`` within ``[0.2, 10]``.
    """
    if not (rtol > 0 and atol > 0):
        raise ValueError(f"need rtol > 0 and atol > 0, got rtol={rtol!r}, atol={atol!r}")
    if not isinstance(y0, Tensor) or y0.ndim < 1 or y0.shape[0] < 1:
        raise ValueError(f"y0 must be a tensor [B, ...], got {getattr(y0, 'shape', type(y0).__name__)}")
    span = t1 - t0
    if span == 0:
        return y0, 0
    direction = 1.0 if span > 0 else -1.0
    y, t, k1 = y0, t0, f(t0, y0)
    evals = 1
    scale0 = atol + rtol * y.abs()
    d0, d1 = float(_norm(y / scale0)), float(_norm(k1 / scale0))
    h = 0.01 * d0 / d1 if d0 > 1e-5 and d1 > 1e-5 else 1e-6 * abs(span)
    h = min(max(h, 1e-8 * abs(span)), abs(span))
    while direction * (t1 - t) > 1e-12 * abs(span):
        h = min(h, direction * (t1 - t))
        hs = direction * h
        ks = [k1]
        for i in range(1, 7):
            yi = y + hs * sum(a * k for a, k in zip(_A[i], ks) if a)
            ks.append(f(t + _C[i] * hs, yi))
        evals += 6
        y_new = y + hs * sum(c * k for c, k in zip(_B5, ks) if c)
        err = hs * sum((c5 - c4) * k for c5, c4, k in zip(_B5, _B4, ks) if c5 != c4)
        en = float(_norm(err / (atol + rtol * torch.maximum(y.abs(), y_new.abs()))))
        if en <= 1.0:
            t, y, k1 = t + hs, y_new, ks[6]  # FSAL: the last stage is f at the new point
        h = h * min(10.0, max(0.2, 0.9 * en ** -0.2 if en > 0 else 10.0))
        if evals > max_evals:
            raise RuntimeError(f"dormand_prince exceeded {max_evals} evaluations (rtol={rtol}, atol={atol}); "
                               f"stiff or non-finite field?")
    return y, evals

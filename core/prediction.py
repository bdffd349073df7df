"""What the network predicts, and the one place that converts between predictions.

Every parameterisation is linear in the state ``x`` and the network output ``out``::

    x0_hat  = x0_x  * x + x0_out  * out
    eps_hat = eps_x * x + eps_out * out

with coefficients that depend only on ``(alpha, sigma)`` (and ``d alpha/dt, d sigma/dt`` for
``flow``, ``sigma_data`` for ``edm``). The network sees ``in_scale * x`` (1 except for EDM's
``c_in``). Conventions:

- ``eps``: noise (Ho et al. 2020).
- ``x0``: clean data (diffusers' ``"sample"``).
- ``v``: ``v = alpha eps - sigma x0`` (Salimans & Ho 2022), inverted for any ``alpha^2+sigma^2``.
- ``score``: ``grad log p_t(x) = -eps / sigma``.
- ``flow``: velocity ``dx_t/dt = alpha' x0 + sigma' eps`` (flow matching; ``eps - x0`` for
  the linear interpolant).
- ``edm``: Karras et al. (2022) preconditioning, Table 1, in the scaled state ``x/alpha``:
  ``D = c_skip x + c_out F(c_in x)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["PREDICTIONS", "PredictionCoefficients", "convert", "prediction_coefficients", "target"]

PREDICTIONS = ("eps", "x0", "v", "score", "flow", "edm")


@dataclass(frozen=True)
class PredictionCoefficients:
    """Linear maps from ``(x, out)`` to ``x0_hat`` and ``eps_hat``, and the input scale."""

    in_scale: Tensor
    x0_x: Tensor
    x0_out: Tensor
    eps_x: Tensor
    eps_out: Tensor


def _check(prediction: str) -> None:
    if prediction not in PREDICTIONS:
        raise ValueError(f"unknown prediction {prediction!r}; expected one of {PREDICTIONS}")


def prediction_coefficients(prediction: str, alpha: Tensor, sigma: Tensor, *, dalpha: Tensor | None = None,
                            dsigma: Tensor | None = None, sigma_data: float | None = None) -> PredictionCoefficients:
    """Coefficients of the linear maps above (float64; any broadcastable shapes).

    ``eps`` coefficients where ``sigma == 0`` are returned as 0 (eps is undefined there).
    ``alpha > 0``, ``sigma >= 0`` (finite) are checked on the CPU, where every caller in
    polydiff computes them (float64 grids); device tensors are unchecked (no host sync).
    """
    from .validate import check_finite, check_number

    _check(prediction)
    a = torch.as_tensor(alpha, dtype=torch.float64)
    s = torch.as_tensor(sigma, dtype=torch.float64)
    try:
        torch.broadcast_shapes(a.shape, s.shape)
    except RuntimeError:
        raise ValueError(f"alpha {tuple(a.shape)} and sigma {tuple(s.shape)} do not broadcast") from None
    if a.device.type == "cpu":
        check_finite(a, "alpha")
        check_finite(s, "sigma")
        if bool((a <= 0).any()) or bool((s < 0).any()):
            raise ValueError(f"need alpha > 0 and sigma >= 0, got alpha in [{float(a.min()):g}, {float(a.max()):g}], "
                             f"sigma in [{float(s.min()):g}, {float(s.max()):g}]")
    if sigma_data is not None:
        sigma_data = check_number(sigma_data, "sigma_data", low=0.0, low_open=True)
    one, zero = torch.ones_like(a), torch.zeros_like(a)
    safe_s = torch.where(s > 0, s, one)
    inv_s = torch.where(s > 0, 1.0 / safe_s, zero)
    in_scale = one
    if prediction == "eps":
        eps_x, eps_out = zero, one
        x0_x, x0_out = 1.0 / a, -s / a
    elif prediction == "score":
        eps_x, eps_out = zero, -s
        x0_x, x0_out = 1.0 / a, s**2 / a
    elif prediction == "x0":
        x0_x, x0_out = zero, one
        eps_x, eps_out = inv_s, -a * inv_s
    elif prediction == "v":
        n = a**2 + s**2
        x0_x, x0_out = a / n, -s / n
        eps_x, eps_out = s / n, a / n
    elif prediction == "flow":
        if dalpha is None or dsigma is None:
            raise ValueError("prediction='flow' needs d alpha/dt and d sigma/dt of the process")
        da = torch.as_tensor(dalpha, dtype=torch.float64)
        ds = torch.as_tensor(dsigma, dtype=torch.float64)
        det = a * ds - s * da
        x0_x, x0_out = ds / det, -s / det
        eps_x, eps_out = -da / det, a / det
    else:  # edm
        if sigma_data is None:
            raise ValueError("prediction='edm' needs sigma_data (use an EDM process or pass sigma_data=)")
        se = s / a  # sigma of the scaled state x / alpha
        n = se**2 + sigma_data**2
        in_scale = 1.0 / (a * torch.sqrt(n))
        x0_x = sigma_data**2 / n / a
        x0_out = se * sigma_data / torch.sqrt(n)
        eps_x, eps_out = (1.0 - a * x0_x) * inv_s, -a * x0_out * inv_s
    return PredictionCoefficients(in_scale, x0_x + zero, x0_out + zero, eps_x + zero, eps_out + zero)


def convert(out: Tensor, x: Tensor, coef: PredictionCoefficients, to: str = "x0") -> Tensor:
    """Turn a network output into ``x0`` or ``eps`` with per-sample coefficients ``[B]`` or scalars."""
    from ._broadcast import append_dims

    if to not in ("x0", "eps"):
        raise ValueError(f"convert to 'x0' or 'eps', got {to!r}")
    cx, co = (coef.x0_x, coef.x0_out) if to == "x0" else (coef.eps_x, coef.eps_out)
    cx = append_dims(cx, x.ndim).to(x.dtype)
    co = append_dims(co, x.ndim).to(x.dtype)
    return cx * x + co * out


def target(prediction: str, x0: Tensor, eps: Tensor, alpha: Tensor, sigma: Tensor, *,
           dalpha: Tensor | None = None, dsigma: Tensor | None = None, sigma_data: float | None = None) -> Tensor:
    """Regression target of the network for training (inverse of the maps above).

    ``alpha``/``sigma`` (and derivatives) are per-sample ``[B]`` tensors or scalars.
    """
    from ._broadcast import append_dims

    _check(prediction)

    def b(c):
        return append_dims(torch.as_tensor(c, dtype=torch.float64), x0.ndim).to(x0.dtype)

    if prediction == "eps":
        return eps
    if prediction == "x0":
        return x0
    if prediction == "score":
        return -eps / b(sigma)
    if prediction == "v":
        return b(alpha) * eps - b(sigma) * x0
    if prediction == "flow":
        if dalpha is None or dsigma is None:
            raise ValueError("prediction='flow' needs d alpha/dt and d sigma/dt of the process")
        return b(dalpha) * x0 + b(dsigma) * eps
    coef = prediction_coefficients("edm", alpha, sigma, sigma_data=sigma_data)
    x = b(alpha) * x0 + b(sigma) * eps
    return (x0 - b(coef.x0_x) * x) / b(coef.x0_out)

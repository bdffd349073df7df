"""Likelihoods: probability-flow ODE NLL, bits per dimension, the exact DDPM bound.

- :func:`ode_nll` integrates the probability-flow ODE ``dx/dt = f(t) x - g(t)^2 score / 2``
  from ``t_min`` to ``t_max`` together with the instantaneous change of variables
  ``d log p_t(x_t)/dt = -div(drift)`` (Song et al. 2021, App. D.2; Chen et al. 2018), so
  ``log p_{t_min}(x) = log p_prior(x_{t_max}) + int div(drift) dt``. The divergence is exact
  (autograd over all ``D`` entries; small ``D``) or Hutchinson's estimate ``E[z^T J z]``
  with Rademacher or Gaussian probes ``z`` held fixed along the trajectory (Grathwohl et
  al. 2019, FFJORD).
- :func:`bits_per_dim` converts a continuous NLL of data scaled to ``[-1, 1]`` into bits per
  dimension of the underlying ``n_bins``-level integer data (uniform dequantisation).
- :func:`discrete_vlb` is the variational bound of a :class:`~polydiff.core.discrete.DiscreteVP`
  over all ``T`` steps (Ho et al. 2020, eq. 5).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import torch
from torch import Tensor

from .losses import _coefficients, _single_generator
from .ode import dormand_prince
from .prediction import PREDICTIONS
from .sample_checks import check_cond
from .validate import check_int, check_number, describe

__all__ = ["bits_per_dim", "discrete_vlb", "ode_nll"]

_HUTCHINSON = ("rademacher", "gaussian", "exact")

def _check_x(x: Tensor, name: str = "x") -> None:
    if not isinstance(x, Tensor) or not torch.is_floating_point(x):
        raise TypeError(f"{name} must be a floating-point tensor")
    if x.ndim < 2 or x.shape[0] < 1 or x[0].numel() < 1:
        raise ValueError(f"{name} must have shape [B, *dims], got {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or inf")


def _pf_drift_and_div(model, process, prediction, x: Tensor, t: float, probes, cond,
                      dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """Probability-flow drift (float64, like ``x``) and its divergence ``[B]`` at scalar ``t``;
    the model runs in ``dtype`` (the caller's), the ODE state stays float64."""
    b, dev = x.shape[0], x.device
    t1 = torch.full((1,), t, dtype=torch.float64)
    a, s, coef, _ = _coefficients(process, prediction, t1)  # shared t: python floats below
    da, ds = process.d_alpha_sigma(t1)
    a, s = float(a[0]), float(s[0])
    f = float(da[0]) / a  # d log alpha / dt
    g2 = 2.0 * s * float(ds[0]) - 2.0 * f * s**2  # Kingma et al. 2021, eq. 7-8
    in_scale, eps_x, eps_out = float(coef.in_scale[0]), float(coef.eps_x[0]), float(coef.eps_out[0])
    with torch.enable_grad():
        xr = x.detach().to(torch.float64).requires_grad_(True)
        out = model((in_scale * xr).to(dtype), torch.full((b,), t, dtype=dtype, device=dev), **cond)
        if not isinstance(out, Tensor) or out.shape != x.shape:
            raise ValueError(f"model output has shape {getattr(out, 'shape', None)}, expected {tuple(x.shape)}")
        if not torch.isfinite(out).all():
            raise ValueError(f"model output contains NaN or inf at t={t:.6g}")
        eps_hat = eps_x * xr + eps_out * out.to(torch.float64)
        drift = f * xr + (0.5 * g2 / s) * eps_hat  # score = -eps / sigma
        div = torch.zeros(b, dtype=torch.float64, device=dev)
        if probes is None:  # exact trace, one backward pass per entry
            flat = drift.flatten(1)
            for i in range(flat.shape[1]):
                (gi,) = torch.autograd.grad(flat[:, i].sum(), xr, retain_graph=True)
                div = div + gi.flatten(1)[:, i]
        else:
            for k, z in enumerate(probes):
                (vjp,) = torch.autograd.grad(drift, xr, grad_outputs=z, retain_graph=k < len(probes) - 1)
                div = div + (vjp * z).flatten(1).sum(1)
            div = div / len(probes)
    return drift.detach(), div.detach()


def ode_nll(model: Callable[..., Tensor], process, x: Tensor, prediction: str = "eps", *,
            hutchinson: str = "rademacher", n_probes: int = 1, method: str = "rk45",
            rtol: float = 1e-5, atol: float = 1e-5, steps: int = 200,
            generator: torch.Generator | None = None, cond: Mapping | None = None,
            return_nfe: bool = False):
    """Negative log-likelihood (nats) of ``x`` under the model's ``p_{t_min}`` via the PF-ODE.

    Args:
        model: ``model(in_scale * x, t, **cond)`` as in :func:`polydiff.core.sample`.
        process: a continuous Gaussian process.
        x: data ``[B, *dims]`` at ``t_min``.
        prediction: the model's prediction type.
        hutchinson: ``rademacher`` | ``gaussian`` (Hutchinson 1989 trace estimate with
            ``n_probes`` fixed probes per sample) or ``exact`` (``D`` backward passes).
        method: ``rk45`` (adaptive Dormand-Prince with ``rtol``/``atol``) or ``rk4`` (fixed
            ``steps`` of classical Runge-Kutta, uniform in ``t``).
        generator: draws the probes.
        return_nfe: also return the number of model evaluations.

    Returns:
        ``[B]`` float64 NLL in nats (and the NFE when ``return_nfe``).

    The only error with an exact model besides the ODE tolerance is the prior mismatch
    ``log p_{t_max} - log prior``: e.g. ~0.03 nats for ``VE(sigma_max=50)`` on data of scale 1
    (0.003 nats with ``sigma_max=500``), ~0.01 nats for the default ``VP``.
    """
    from .process import GaussianProcess

    if not isinstance(process, GaussianProcess):
        raise TypeError(f"process must be a GaussianProcess (VP, VE, EDM, Flow ...), got {describe(process)}")
    _check_x(x)
    if prediction not in PREDICTIONS:
        raise ValueError(f"unknown prediction {prediction!r}; expected one of {PREDICTIONS}")
    if hutchinson not in _HUTCHINSON:
        raise ValueError(f"unknown hutchinson estimator {hutchinson!r}; expected one of {_HUTCHINSON}")
    if method not in ("rk45", "rk4"):
        raise ValueError(f"unknown ODE method {method!r}; expected 'rk45' or 'rk4'")
    n_probes = check_int(n_probes, "n_probes", low=1)
    # relative/absolute tolerances of Dormand-Prince: meaningless at 1 or above
    rtol = check_number(rtol, "rtol", low=0.0, high=1.0, low_open=True, high_open=True)
    atol = check_number(atol, "atol", low=0.0, high=1.0, low_open=True, high_open=True)
    steps = check_int(steps, "steps", low=1)
    generator = _single_generator(generator)
    check_cond(cond)
    cond = dict(cond or {})
    probes = None
    if hutchinson != "exact":
        dev = generator.device if generator is not None else x.device
        z = torch.randn((n_probes, *x.shape), generator=generator, device=dev, dtype=torch.float64).to(x.device)
        probes = list(z.sign() if hutchinson == "rademacher" else z)
    dtype = x.dtype
    nfe = 0

    def fn(t: float, y: Tensor) -> tuple[Tensor, Tensor]:
        nonlocal nfe
        nfe += 1
        return _pf_drift_and_div(model, process, prediction, y.detach(), t, probes, cond, dtype)

    x64 = x.detach().to(torch.float64)
    t0, t1 = float(process.t_min), float(process.t_max)
    if method == "rk4":
        x_T, delta = _rk4(fn, x64, t0, t1, steps)
    else:
        x_T, delta = _rk45(fn, x64, t0, t1, rtol, atol)
    nll = -(process.prior_logp(x_T).to(torch.float64) + delta)
    return (nll, nfe) if return_nfe else nll


def _rk4(fn, x: Tensor, t0: float, t1: float, n: int) -> tuple[Tensor, Tensor]:
    h = (t1 - t0) / n
    delta = torch.zeros(x.shape[0], dtype=torch.float64, device=x.device)
    for i in range(n):
        t = t0 + i * h
        k1, d1 = fn(t, x)
        k2, d2 = fn(t + h / 2, x + h / 2 * k1)
        k3, d3 = fn(t + h / 2, x + h / 2 * k2)
        k4, d4 = fn(t + h, x + h * k3)
        x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        delta = delta + h / 6 * (d1 + 2 * d2 + 2 * d3 + d4)
    return x, delta


def _rk45(fn, x: Tensor, t0: float, t1: float, rtol: float, atol: float) -> tuple[Tensor, Tensor]:
    """:func:`~polydiff.core.ode.dormand_prince` on the joint state ``(x, delta)``."""
    b, shape = x.shape[0], x.shape
    y = torch.cat([x.flatten(1), torch.zeros(b, 1, dtype=torch.float64, device=x.device)], 1)

    def f(t, yy):
        k, d = fn(t, yy[:, :-1].reshape(shape))
        return torch.cat([k.flatten(1), d[:, None]], 1)

    y, _ = dormand_prince(f, y, t0, t1, rtol=rtol, atol=atol)
    return y[:, :-1].reshape(shape), y[:, -1]


def bits_per_dim(nll: Tensor, D: int, *, dequant: str = "uniform", n_bins: int = 256,
                 bin_width: float | None = None) -> Tensor:
    """Bits per dimension of integer data from a continuous NLL (nats) of its scaled version.

    Convention (``dequant="uniform"``): integer data ``k in {0, ..., n_bins-1}`` is scaled to
    ``x = k * delta - 1`` with ``delta = 2 / (n_bins - 1)`` (i.e. ``k / 127.5 - 1``: ``[-1, 1]``),
    and uniformly dequantised by ``u * delta``, ``u ~ U[0, 1)^D``. Since
    ``log P(k) >= E_u[log p(x + u delta)] + D log delta`` (Theis et al. 2016; Ho et al. 2020),

        bpd = (nll + D * log(1 / delta)) / (D * ln 2) = (nll + D log 127.5) / (D ln 2)  for 256 bins.

    ``bin_width`` overrides ``delta`` (score_sde's convention ``x = 2 (k + u)/256 - 1`` is
    ``bin_width = 2/256``, i.e. an offset of 7 bits). ``dequant="none"`` means ``nll`` is
    already a discrete NLL (e.g. from a discretised decoder): ``bpd = nll / (D ln 2)``.
    """
    nll = torch.as_tensor(nll)
    if not torch.is_floating_point(nll) or not torch.isfinite(nll).all():
        raise ValueError("nll must be a finite floating-point tensor")
    D = check_int(D, "D", low=1)
    if dequant == "none":
        return nll / (D * math.log(2))
    if dequant != "uniform":
        raise ValueError(f"unknown dequant {dequant!r}; expected 'uniform' or 'none'")
    n_bins = check_int(n_bins, "n_bins", low=2, high=2**64)  # float64 resolves 2 / (n_bins - 1)
    delta = 2.0 / (n_bins - 1) if bin_width is None else check_number(bin_width, "bin_width", low=0.0,
                                                                         low_open=True)
    return (nll - D * math.log(delta)) / (D * math.log(2))


def discrete_vlb(model: Callable[..., Tensor], process, x0: Tensor, prediction: str = "eps", *,
                 decoder: str = "gaussian", n_bins: int = 256, generator: torch.Generator | None = None,
                 cond: Mapping | None = None, return_terms: bool = False):
    """Variational bound ``L = L_T + sum_{t>1} L_{t-1} + L_0`` of a DiscreteVP (Ho et al. 2020, eq. 5).

    Index ``i`` of the process is Ho's ``t = i + 1``. Terms, per sample, in nats:

    - prior ``KL(q(x_{T-1} | x0) || N(0, I))``;
    - diffusion ``sum_{i=1}^{T-1} KL(q(x_{i-1} | x_i, x0) || p(x_{i-1} | x_i))`` with the
      model's posterior ``N(mu~(x_i, x0_hat), beta~_i I)`` (Ho's ``sigma_t^2 = beta~_t``), which is
      ``(SNR(i-1) - SNR(i)) / 2 * |x0 - x0_hat(x_i)|^2`` (Kingma et al. 2021, eq. 13), one fresh
      ``x_i ~ q(x_i | x0)`` per step;
    - decoder ``-log p(x0 | x_{i=0})``: ``gaussian`` is the continuous density
      ``N(x0; x0_hat, beta_0 I)`` (data of any scale; nats of a density), ``discretized`` is
      Ho's eq. 13 over ``n_bins`` levels in ``[-1, 1]`` (data must lie on the grid
      ``k * 2/(n_bins-1) - 1``; the result is a discrete NLL: use
      ``bits_per_dim(..., dequant="none")``).

    Returns ``[B]`` float64 (and a dict of the three terms when ``return_terms``).
    """
    _check_x(x0, "x0")
    if getattr(process, "num_train_timesteps", None) is None or not hasattr(process, "alphas_cumprod"):
        raise TypeError(f"discrete_vlb needs a DiscreteVP, got {type(process).__name__}")
    if prediction not in PREDICTIONS:
        raise ValueError(f"unknown prediction {prediction!r}; expected one of {PREDICTIONS}")
    if decoder not in ("gaussian", "discretized"):
        raise ValueError(f"unknown decoder {decoder!r}; expected 'gaussian' or 'discretized'")
    n_bins = check_int(n_bins, "n_bins", low=2)
    generator = _single_generator(generator)
    check_cond(cond)
    cond = dict(cond or {})
    x = x0.detach().to(torch.float64)
    b = x.shape[0]
    if decoder == "discretized":
        k = (x + 1) * (n_bins - 1) / 2
        if (k - k.round()).abs().max() > 1e-4 or x.min() < -1 - 1e-6 or x.max() > 1 + 1e-6:
            raise ValueError(f"decoder='discretized' needs data on the {n_bins}-level grid in [-1, 1]")
    ac = process.alphas_cumprod.to(torch.float64).cpu()  # python floats below
    T = int(process.num_train_timesteps)
    snr = ac / (1 - ac)

    def x0_hat(i: int) -> Tensor:
        eps = torch.randn(x.shape, generator=generator, dtype=torch.float64,
                          device=generator.device if generator is not None else x.device).to(x.device)
        xt = float(ac[i].sqrt()) * x + float((1 - ac[i]).sqrt()) * eps
        _, _, coef, _ = _coefficients(process, prediction, torch.full((1,), float(i), dtype=torch.float64))
        with torch.no_grad():
            out = model((float(coef.in_scale[0]) * xt).to(x0.dtype),
                        torch.full((b,), float(i), dtype=x0.dtype, device=x0.device), **cond)
        if not isinstance(out, Tensor) or out.shape != x0.shape or not torch.isfinite(out).all():
            raise ValueError(f"model output at step {i} is not finite or not shaped like x0")
        return float(coef.x0_x[0]) * xt + float(coef.x0_out[0]) * out.detach().to(torch.float64)

    a_T = float(ac[-1])
    prior = 0.5 * (a_T * x**2 + (1 - a_T) - 1 - math.log1p(-a_T)).flatten(1).sum(1)
    diffusion = torch.zeros(b, dtype=torch.float64, device=x.device)
    for i in range(1, T):
        err = (x - x0_hat(i)).pow(2).flatten(1).sum(1)
        diffusion = diffusion + 0.5 * float(snr[i - 1] - snr[i]) * err
    mean0, var0 = x0_hat(0), float(1 - ac[0])  # Ho: sigma_1^2 = beta_1
    if decoder == "gaussian":
        dec = 0.5 * ((x - mean0) ** 2 / var0 + math.log(2 * math.pi * var0)).flatten(1).sum(1)
    else:
        dec = -_discretized_log_lik(x, mean0, math.sqrt(var0), n_bins).flatten(1).sum(1)
    total = prior + diffusion + dec
    if return_terms:
        return total, {"prior": prior, "diffusion": diffusion, "decoder": dec}
    return total


def _discretized_log_lik(x: Tensor, mean: Tensor, std: float, n_bins: int) -> Tensor:
    """Ho et al. (2020) eq. 13: Gaussian mass of the bin around ``x`` (edges +-inf at the ends)."""
    half = 1.0 / (n_bins - 1)
    normal = torch.distributions.Normal(mean, std)
    upper = torch.where(x > 1 - 1e-6, torch.ones_like(x), normal.cdf(x + half))
    lower = torch.where(x < -1 + 1e-6, torch.zeros_like(x), normal.cdf(x - half))
    # log of the bin mass; log-cdf tails are handled by the clamp (as in Ho et al.'s code)
    return torch.log((upper - lower).clamp_min(1e-12))

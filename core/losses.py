"""Denoising score matching for every prediction type and weighting.

One loss, :func:`dsm_loss`: draw ``t`` and ``eps``, form ``x_t = alpha x0 + sigma eps``
(Ho et al. 2020; Song et al. 2021), ask the network for its prediction and regress it on the
exact target of :func:`polydiff.core.prediction.target`. Every weighting is a weight
``lambda(t)`` on the **x0-space** error ``|x0_hat - x0|^2`` (the convention of Hang et al.
2023, "Efficient Diffusion Training via Min-SNR Weighting Strategy", Sec. 3), turned into the
weight on the network's own output by the exact linear map between the two
(``x0_hat - x0 = x0_out * (out - target)``):

=============  =============================================  ==================================
weighting      lambda(t) on the x0-space error               equals
=============  =============================================  ==================================
``simple``     ``1 / x0_out^2``                               plain MSE on the network output
``snr``        ``SNR(t)``                                     eps-MSE for any prediction type
``min_snr``    ``min(SNR(t), gamma)``                         Hang et al. 2023, eq. 8
``likelihood`` ``g(t)^2 alpha^2 / sigma^4 = -dSNR/dt``        ``g^2/sigma^2`` on the eps-MSE
                                                              (Song et al. 2021, "Maximum
                                                              likelihood training", eq. 8)
``edm``        ``(sigma^2 + sd^2) / (sigma sd)^2``            Karras et al. 2022, Table 1
=============  =============================================  ==================================

with ``SNR = alpha^2/sigma^2``. For a :class:`~polydiff.core.discrete.DiscreteVP` (detected by
``num_train_timesteps``) times are integer indices ``i`` (given to the network as floats) and
``likelihood`` is the discrete bound's weight ``SNR(i-1) - SNR(i)`` (``1/beta_0`` at ``i = 0``,
the Gaussian decoder of :func:`polydiff.core.likelihood.discrete_vlb`), so that
``T * D / 2 * E_i[loss]`` is the bound's diffusion sum; in continuous time
``(t_max - t_min) * D / 2 * E_t[loss]`` is the diffusion term of the bound (``D`` = entries
per sample, the loss is a per-sample mean).

Time sampling: ``uniform``; ``antithetic`` (pairs ``t`` and ``t_min + t_max - t``);
``importance`` (``t`` drawn with density proportional to the eps-space weight
``lambda(t) / SNR(t)`` and the loss multiplied by ``1 / (density * range)`` so its
expectation is unchanged, as in Song et al. 2021, Sec. 5); ``lognormal`` (EDM:
``ln sigma ~ N(P_mean, P_std^2)``; the default for ``weighting="edm"``).
"""
from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping

import torch
from torch import Tensor

from ._broadcast import append_dims
from .prediction import PREDICTIONS, PredictionCoefficients, prediction_coefficients, target
from .sample_checks import check_cond
from .validate import check_generator, check_number, describe

__all__ = ["TIME_SAMPLINGS", "WEIGHTINGS", "dsm_loss", "loss_weight"]

WEIGHTINGS = ("simple", "snr", "min_snr", "likelihood", "edm")
TIME_SAMPLINGS = ("uniform", "antithetic", "importance", "lognormal")


# --- process helpers shared with likelihood/testing -------------------------------------------
def _is_discrete(process) -> bool:
    return getattr(process, "num_train_timesteps", None) is not None


def _coefficients(process, prediction: str, t: Tensor) -> tuple[Tensor, Tensor, PredictionCoefficients, dict]:
    """``alpha``, ``sigma`` (float64, per-sample), the prediction's linear maps at ``t`` and the
    extra keywords (``dalpha``/``dsigma``/``sigma_data``) that the prediction needs."""
    t = t.to(torch.float64)
    a = torch.as_tensor(process.alpha(t), dtype=torch.float64)
    s = torch.as_tensor(process.sigma(t), dtype=torch.float64)
    kw = {}
    if prediction == "flow":
        kw["dalpha"], kw["dsigma"] = process.d_alpha_sigma(t)
    if prediction == "edm":
        kw["sigma_data"] = _sigma_data(process)
    return a, s, prediction_coefficients(prediction, a, s, **kw), kw


def _sigma_data(process) -> float:
    sd = getattr(process, "sigma_data", None)
    if sd is None:
        raise ValueError(f"EDM preconditioning/weighting needs a process with sigma_data, got {type(process).__name__}")
    return float(sd)


def _randn(shape, generator, like: Tensor) -> Tensor:
    dev = generator.device if generator is not None else like.device
    return torch.randn(shape, generator=generator, device=dev, dtype=like.dtype).to(like.device)


def _rand(n: int, generator, device) -> Tensor:
    dev = generator.device if generator is not None else device
    return torch.rand(n, generator=generator, device=dev, dtype=torch.float64).to(device)


# --- weights ---------------------------------------------------------------------------------
def loss_weight(process, t: Tensor, weighting: str, *, min_snr_gamma: float = 5.0) -> Tensor:
    """``lambda(t)``, the weight on the x0-space squared error (float64 ``[B]``).

    ``simple`` has no x0-space form independent of the prediction type and is rejected here.
    ``t`` is range-checked by the process on the CPU (``dsm_loss`` passes CPU times).
    """
    min_snr_gamma = check_number(min_snr_gamma, "min_snr_gamma", low=0.0, low_open=True)
    t = torch.as_tensor(t, dtype=torch.float64)
    a, s = process.alpha(t).to(torch.float64), process.sigma(t).to(torch.float64)
    snr = a**2 / s**2
    if weighting == "snr":
        return snr
    if weighting == "min_snr":
        return snr.clamp(max=min_snr_gamma)
    if weighting == "edm":
        sd, se = _sigma_data(process), s / a
        return (se**2 + sd**2) / (se * sd) ** 2
    if weighting == "likelihood":
        if _is_discrete(process):
            i = t.round()
            prev = (i - 1).clamp(min=0)
            snr_prev = process.alpha(prev).double() ** 2 / process.sigma(prev).double() ** 2
            # i = 0: Gaussian decoder N(x0; x0_hat, beta_0 I) -> 1 / beta_0 = 1 / sigma(0)^2
            return torch.where(i > 0, snr_prev - snr, 1.0 / s**2)
        return process.g2(torch.as_tensor(t, dtype=torch.float64)).double() * a**2 / s**4
    raise ValueError(f"unknown weighting {weighting!r}; expected one of {WEIGHTINGS}")


_TABLES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _importance_table(process, weighting: str, gamma: float):
    """Piecewise-constant density ``p(t) ~ lambda(t)/SNR(t)`` on a fine grid: (edges, cdf, mass).

    Cached per process object (processes are immutable after construction)."""
    key = (weighting, float(gamma), float(process.t_min), float(process.t_max))
    try:
        cache = _TABLES.setdefault(process, {})
    except TypeError:  # not weak-referenceable: no cache
        cache = {}
    if key not in cache:
        cache[key] = _build_importance_table(process, weighting, gamma)
    return cache[key]


def _build_importance_table(process, weighting: str, gamma: float):
    lo, hi = process.t_min, process.t_max
    r = hi - lo
    u = torch.cat([torch.linspace(0, 1, 2049, dtype=torch.float64),
                   torch.logspace(-7, 0, 2049, dtype=torch.float64)]).unique()
    edges = lo + r * u
    w = _eps_weight(process, edges, weighting, gamma)
    mass = 0.5 * (w[1:] + w[:-1]) * (edges[1:] - edges[:-1])
    return edges, torch.cumsum(mass, 0) / mass.sum(), mass / mass.sum()


def _eps_weight(process, t: Tensor, weighting: str, gamma: float) -> Tensor:
    a, s = process.alpha(t).double(), process.sigma(t).double()
    return loss_weight(process, t, weighting, min_snr_gamma=gamma) * s**2 / a**2


def _sample_t(process, batch: int, time_sampling: str, weighting: str, gamma: float, generator,
              device, p_mean: float, p_std: float) -> tuple[Tensor, Tensor]:
    """Times ``[B]`` (float64) and the importance multiplier ``[B]`` (ones unless importance)."""
    one = torch.ones(batch, dtype=torch.float64, device=device)
    if time_sampling == "lognormal":
        from .process import EDM

        if not isinstance(process, EDM):
            raise ValueError("time_sampling='lognormal' (EDM) needs an EDM process")
        n = torch.randn(batch, generator=generator, dtype=torch.float64,
                        device=generator.device if generator is not None else device).to(device)
        return torch.exp(p_mean + p_std * n), one
    if _is_discrete(process):
        T = int(process.num_train_timesteps)
        if time_sampling == "importance":
            idx = torch.arange(T, dtype=torch.float64)
            p = _eps_weight(process, idx, weighting, gamma)
            p = p / p.sum()
            gdev = generator.device if generator is not None else "cpu"
            i = torch.multinomial(p.float().to(gdev), batch, replacement=True, generator=generator).cpu()
            return i.double().to(device), (1.0 / (p[i] * T)).to(device)
        u = _rand(batch, generator, device)
        if time_sampling == "antithetic":
            h = (batch + 1) // 2
            u = torch.cat([u[:h], 1.0 - u[: batch - h]])
        return (u * T).floor().clamp(max=T - 1), one
    lo, hi = process.t_min, process.t_max
    u = _rand(batch, generator, device)
    if time_sampling == "importance":
        edges, cdf, mass = _importance_table(process, weighting, gamma)
        j = torch.searchsorted(cdf, u.cpu().clamp(max=float(cdf[-1]))).clamp(max=mass.numel() - 1)
        left = torch.cat([torch.zeros(1, dtype=torch.float64), cdf])[j]
        frac = ((u.cpu() - left) / mass[j]).clamp(0, 1)
        width = edges[j + 1] - edges[j]
        t = edges[j] + frac * width
        density = mass[j] / width  # the exact density t was drawn from
        return t.to(device), (1.0 / (density * (hi - lo))).to(device)
    if time_sampling == "antithetic":
        h = (batch + 1) // 2
        u = torch.cat([u[:h], 1.0 - u[: batch - h]])
    return lo + (hi - lo) * u, one


# --- the loss --------------------------------------------------------------------------------
def dsm_loss(net: Callable[..., Tensor], process, x0: Tensor, *, prediction: str = "eps",
             weighting: str = "simple", cond: Mapping | None = None, mask: Tensor | None = None,
             generator: torch.Generator | None = None, t: Tensor | None = None,
             eps: Tensor | None = None, time_sampling: str | None = None,
             min_snr_gamma: float = 5.0, edm_p_mean: float = -1.2, edm_p_std: float = 1.2) -> Tensor:
    """Per-sample denoising score-matching loss ``[B]``.

    Args:
        net: ``net(x_in, t, **cond)`` with ``x_in = in_scale * x_t`` (``c_in`` for EDM, else
            ``x_t``) and ``t`` a float tensor ``[B]`` in the process's time.
        process: a Gaussian process (continuous or :class:`DiscreteVP`).
        x0: clean data ``[B, *dims]`` (any rank >= 2).
        prediction: what ``net`` outputs (``eps``, ``x0``, ``v``, ``score``, ``flow``, ``edm``).
        weighting: one of :data:`WEIGHTINGS` (see the module docstring).
        cond: keyword arguments for ``net`` (class labels, conditioning channels, ...).
        mask: weights shaped like ``x0`` (0/1 or soft); the loss is the mask-weighted mean of
            the squared error per sample (CSDI's loss on imputation targets only). A sample
            whose mask is all zero gets loss 0.
        generator: draws ``t`` and ``eps``.
        t: fixed times ``[B]`` instead of sampling (then no importance multiplier).
        eps: fixed noise shaped like ``x0``.
        time_sampling: ``uniform`` | ``antithetic`` | ``importance`` | ``lognormal``; default
            ``lognormal`` for ``weighting="edm"`` on an EDM process, else ``uniform``.
        min_snr_gamma: ``gamma`` of min-SNR weighting.
        edm_p_mean, edm_p_std: EDM's log-normal training distribution of sigma.

    Returns:
        ``[B]`` per-sample weighted mean squared error, in the network output's dtype.
    """
    from .process import GaussianProcess

    if not isinstance(process, GaussianProcess):
        raise TypeError(f"process must be a GaussianProcess (VP, VE, EDM, Flow, DiscreteVP ...), got "
                        f"{describe(process)}; masked token diffusion trains with mdlm_loss")
    _validate(x0, prediction, weighting, mask, cond, min_snr_gamma)
    generator = _single_generator(generator)
    # EDM's ln(sigma) ~ N(P_mean, P_std^2): sigma must stay a float64 number (|ln sigma| < 700)
    edm_p_mean = check_number(edm_p_mean, "edm_p_mean", low=-50.0, high=50.0)
    edm_p_std = check_number(edm_p_std, "edm_p_std", low=0.0, high=10.0, low_open=True)
    if time_sampling is None:
        from .process import EDM

        time_sampling = "lognormal" if weighting == "edm" and isinstance(process, EDM) else "uniform"
    if time_sampling not in TIME_SAMPLINGS:
        raise ValueError(f"unknown time_sampling {time_sampling!r}; expected one of {TIME_SAMPLINGS}")
    if time_sampling == "importance" and weighting == "simple":
        raise ValueError("time_sampling='importance' needs a weighting other than 'simple'")
    b = x0.shape[0]
    if t is None:
        t, mult = _sample_t(process, b, time_sampling, weighting, min_snr_gamma, generator, x0.device,
                            edm_p_mean, edm_p_std)
    else:
        t = torch.as_tensor(t, device=x0.device)
        if t.shape != (b,):
            raise ValueError(f"t must have shape [{b}], got {tuple(t.shape)}")
        process.check_t(t)
        t, mult = t.to(torch.float64), torch.ones(b, dtype=torch.float64, device=x0.device)
    if eps is None:
        eps = _randn(x0.shape, generator, x0)
    elif eps.shape != x0.shape or not torch.isfinite(eps).all():
        raise ValueError(f"eps must be finite and shaped like x0 {tuple(x0.shape)}, got {tuple(eps.shape)}")

    a, s, coef, kw = _coefficients(process, prediction, t.cpu())
    a, s = a.to(x0.device), s.to(x0.device)
    kw = {k: (v.to(x0.device) if isinstance(v, Tensor) else v) for k, v in kw.items()}
    x_t = append_dims(a, x0.ndim).to(x0) * x0 + append_dims(s, x0.ndim).to(x0) * eps
    tgt = target(prediction, x0, eps, a, s, **kw)
    x_in = append_dims(coef.in_scale, x0.ndim).to(x0) * x_t
    out = net(x_in, t.to(x0.dtype), **(dict(cond) if cond else {}))
    if not isinstance(out, Tensor) or out.shape != x0.shape:
        shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(f"net output has shape {shape}, expected x0's shape {tuple(x0.shape)}")
    if not torch.isfinite(out).all():
        if not torch.isfinite(x_in).all():  # the caller's x0 overflowed before the net saw it
            raise ValueError(f"x0 overflows {x0.dtype} once noised and scaled (x_t = alpha x0 + sigma eps); "
                             f"max |x0| = {float(x0.abs().max()):.3g}")
        raise ValueError("net output contains NaN or inf (its input x_t and cond were finite)")

    if weighting == "simple":
        w = torch.ones_like(mult)
    else:
        w = (loss_weight(process, t.cpu(), weighting, min_snr_gamma=min_snr_gamma) * coef.x0_out**2).to(x0.device)
    w = w * mult
    sq = (out - tgt.to(out.dtype)) ** 2
    if mask is None:
        per = sq.flatten(1).mean(1)
    else:
        m = mask.to(out.dtype)
        per = (m * sq).flatten(1).sum(1) / m.flatten(1).sum(1).clamp_min(torch.finfo(out.dtype).tiny)
    loss = w.to(out.dtype) * per
    if not torch.isfinite(loss).all():
        raise ValueError(f"the loss overflows {out.dtype}: max |x0| = {float(x0.abs().max()):.3g}, max |net "
                         f"output| = {float(out.abs().max()):.3g} (rescale x0 to unit variance)")
    return loss


def _single_generator(generator) -> torch.Generator | None:
    generator = check_generator(generator, "generator")
    if isinstance(generator, list):
        raise TypeError("generator must be one torch.Generator or None here (the batch shares one "
                        f"stream), got a list of {len(generator)}")
    return generator


def _validate(x0, prediction, weighting, mask, cond, gamma) -> None:
    if not isinstance(x0, Tensor) or not torch.is_floating_point(x0):
        raise TypeError(f"x0 must be a floating-point tensor, got {getattr(x0, 'dtype', type(x0).__name__)}")
    if x0.ndim < 2 or x0.shape[0] < 1 or x0[0].numel() < 1:
        raise ValueError(f"x0 must have shape [B, *dims] with B >= 1 and >= 1 entry, got {tuple(x0.shape)}")
    if not torch.isfinite(x0).all():
        raise ValueError("x0 contains NaN or inf")
    if prediction not in PREDICTIONS:
        raise ValueError(f"unknown prediction {prediction!r}; expected one of {PREDICTIONS}")
    if weighting not in WEIGHTINGS:
        raise ValueError(f"unknown weighting {weighting!r}; expected one of {WEIGHTINGS}")
    check_cond(cond)
    check_number(gamma, "min_snr_gamma", low=0.0, low_open=True)
    if mask is not None:
        if not isinstance(mask, Tensor) or mask.shape != x0.shape:
            raise ValueError(f"mask must be a tensor shaped like x0 {tuple(x0.shape)}, "
                             f"got {tuple(mask.shape) if isinstance(mask, Tensor) else type(mask).__name__}")
        mf = mask.to(torch.float64)
        if not torch.isfinite(mf).all() or (mf < 0).any():
            raise ValueError("mask must be finite and non-negative")
        if not (mf > 0).any():
            raise ValueError("mask selects no entries (all zero)")

"""Gaussian forward processes ``x_t = alpha(t) x_0 + sigma(t) eps`` in continuous time.

Data sits at ``t_min``, the prior at ``t_max``. Every process exposes the marginal
coefficients, the log-SNR ``lambda(t) = log(alpha^2 / sigma^2)`` and its inverse, the SDE
``dx = f(t) x dt + g(t) dW`` with ``f = d log alpha / dt`` and
``g^2 = d sigma^2/dt - 2 f sigma^2`` (Kingma et al. 2021, eq. 7-8), the prior and its
log-density. Families: :class:`VP`, :class:`SubVP`, :class:`VE`, :class:`EDM`, :class:`Flow`;
``DiscreteVP`` lives in :mod:`polydiff.core.discrete`.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from ._broadcast import append_dims, per_sample_sum
from .validate import check_finite, check_generator, check_number, check_shape, check_tensor

__all__ = ["EDM", "VE", "VP", "Flow", "GaussianProcess", "SubVP"]


class GaussianProcess:
    """Base class: subclasses define :meth:`alpha` and :meth:`sigma` (elementwise in ``t``).

    Times are checked against ``[t_min, t_max]`` (and for NaN) when they are Python numbers,
    lists or CPU tensors: no device synchronisation. Times on an accelerator are unchecked
    (a range check there costs a host sync per call in the sampling and training hot paths):
    callers validate them once with :meth:`check_t`.

    Attributes:
        t_min: time of the data end (smallest time a model is evaluated at).
        t_max: time of the prior end.
        default_grid: time-grid kind used by :func:`polydiff.core.sample` when none is given.
    """

    t_min: float = 0.0
    t_max: float = 1.0
    default_grid: str = "uniform_t"

    # --- marginal -------------------------------------------------------------------------
    def alpha(self, t: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def sigma(self, t: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def log_snr(self, t: Tensor) -> Tensor:
        """``lambda(t) = 2 (log alpha - log sigma)`` (``t`` checked on the CPU only, see class)."""
        t = self._as_t(t)
        return 2.0 * (torch.log(self.alpha(t)) - torch.log(self.sigma(t)))

    def t_from_log_snr(self, lam: Tensor) -> Tensor:
        """Inverse of :meth:`log_snr` (bisection in float64; subclasses override analytically)."""
        lam = self._as_lam(lam)
        lo = torch.full_like(lam, self.t_min)
        hi = torch.full_like(lam, self.t_max)
        for _ in range(100):  # log_snr is decreasing in t
            mid = 0.5 * (lo + hi)
            above = self.log_snr(mid) > lam
            lo = torch.where(above, mid, lo)
            hi = torch.where(above, hi, mid)
        return 0.5 * (lo + hi)

    def marginal(self, x0: Tensor, t: Tensor, eps: Tensor) -> Tensor:
        """Sample ``x_t = alpha(t) x0 + sigma(t) eps`` for per-sample ``t`` of shape ``[B]``.

        ``x0``, ``eps`` and ``t`` are checked (finite, ``t`` in range) on the CPU only: on an
        accelerator this is the training hot path and the caller validates its data once."""
        check_tensor(x0, "x0", floating=True, finite=False)
        check_tensor(eps, "eps", floating=True, finite=False)
        if x0.device.type == "cpu":
            check_finite(x0, "x0")
            check_finite(eps, "eps")
        if x0.shape != eps.shape:
            raise ValueError(f"x0 {tuple(x0.shape)} and eps {tuple(eps.shape)} differ in shape")
        t = self._as_t(t, batch=x0.shape[0])
        a = append_dims(self.alpha(t), x0.ndim).to(x0.dtype)
        s = append_dims(self.sigma(t), x0.ndim).to(x0.dtype)
        return a * x0 + s * eps

    # --- SDE --------------------------------------------------------------------------------
    def _ddt(self, fn, t: Tensor) -> Tensor:
        with torch.enable_grad():
            tt = t.detach().to(torch.float64).requires_grad_(True)
            y = fn(tt)
            if not y.requires_grad:  # constant in t (e.g. alpha = 1 for VE/EDM)
                return torch.zeros_like(t)
            (g,) = torch.autograd.grad(y.sum(), tt)
        return g.to(t.dtype)

    def d_alpha_sigma(self, t: Tensor) -> tuple[Tensor, Tensor]:
        """``(d alpha/dt, d sigma/dt)`` by autograd in float64 (zero where constant in ``t``)."""
        t = self._as_t(t).to(torch.float64)
        return self._ddt(self.alpha, t), self._ddt(self.sigma, t)

    def f(self, t: Tensor) -> Tensor:
        """Drift coefficient ``f(t) = d log alpha / dt`` (the SDE drift is ``f(t) x``)."""
        t = self._as_t(t)
        return self._ddt(lambda u: torch.log(self.alpha(u)), t)

    def g2(self, t: Tensor) -> Tensor:
        """Squared diffusion ``g(t)^2 = d sigma^2/dt - 2 f(t) sigma^2``."""
        t = self._as_t(t)
        s2 = self.sigma(t) ** 2
        return self._ddt(lambda u: self.sigma(u) ** 2, t) - 2.0 * self.f(t) * s2

    def sde(self, x: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """Forward SDE drift ``f(t) x`` and diffusion ``g(t)`` (broadcast to ``x``'s rank)."""
        t = self._as_t(t, batch=x.shape[0])
        drift = append_dims(self.f(t), x.ndim).to(x.dtype) * x
        return drift, append_dims(self.g2(t).clamp_min(0).sqrt(), x.ndim).to(x.dtype)

    # --- prior ------------------------------------------------------------------------------
    def prior_std(self) -> float:
        """Standard deviation of the prior ``N(0, prior_std^2 I)`` at ``t_max``."""
        return float(self.sigma(torch.tensor(self.t_max, dtype=torch.float64)))

    def prior_sample(
        self,
        shape: Sequence[int],
        generator: torch.Generator | Sequence[torch.Generator] | None = None,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> Tensor:
        """Draw ``x_T ~ N(0, prior_std^2 I)`` of the given shape; ``generator`` may be a list
        with one generator per row of ``shape[0]`` (per-sample seeds)."""
        from .hooks import randn

        if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
            raise TypeError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
        try:
            shape = check_shape(shape, "shape")
        except ValueError as e:
            raise ValueError(f"prior_sample needs a non-empty shape with positive sizes: {e}") from None
        if isinstance(generator, (list, tuple)):
            check_generator(generator, "generator", batch=shape[0])
        else:
            check_generator(generator, "generator")
        if isinstance(generator, torch.Generator) and device is None:
            device = generator.device
        return self.prior_std() * randn(shape, generator, device=device, dtype=dtype)

    def prior_logp(self, x: Tensor) -> Tensor:
        """Per-sample log-density of ``x`` under the prior (shape ``[B]``)."""
        check_tensor(x, "x", min_ndim=1, floating=True)
        s = self.prior_std()
        d = x[0].numel()
        return -0.5 * per_sample_sum(x.double() ** 2) / s**2 - d * (math.log(s) + 0.5 * math.log(2 * math.pi))

    # --- checks -----------------------------------------------------------------------------
    def _as_t(self, t, batch: int | None = None, name: str = "t") -> Tensor:
        if isinstance(t, bool) or not isinstance(t, (Tensor, float, int, list, tuple)) and not hasattr(t, "__array__"):
            raise TypeError(f"{name} must be a tensor or a real number, got {type(t).__name__}")
        t = torch.as_tensor(t)
        if not torch.is_floating_point(t):
            t = t.to(torch.float64)
        if t.device.type == "cpu" and not t.requires_grad:  # no device sync; see the class docstring
            self.check_t(t, name)
        if batch is not None:
            if t.ndim == 0:
                t = t.expand(batch)
            elif t.shape != (batch,):
                raise ValueError(f"t must be a scalar or of shape [{batch}], got {tuple(t.shape)}")
        return t

    def _as_lam(self, lam, name: str = "lam") -> Tensor:
        lam = torch.as_tensor(lam, dtype=torch.float64)
        if lam.device.type == "cpu":
            check_finite(lam, name)
        return lam

    def _checked_t_of_lam(self, t: Tensor, lam: Tensor) -> Tensor:
        """``t`` solved from ``lam``: on the CPU, a ``lam`` outside the process's log-SNR range
        (a ``t`` outside ``[t_min, t_max]``) is named."""
        if t.device.type == "cpu":
            tol = 1e-6 * max(1.0, abs(self.t_max))
            bad = ~((t >= self.t_min - tol) & (t <= self.t_max + tol))
            if bool(bad.any()):
                lo = float(self.log_snr(torch.tensor(self.t_max, dtype=torch.float64)))
                hi = float(self.log_snr(torch.tensor(self.t_min, dtype=torch.float64)))
                raise ValueError(f"lam must lie in the log-SNR range [{lo:.6g}, {hi:.6g}] of "
                                 f"{type(self).__name__}, got {float(lam.reshape(-1)[bad.reshape(-1)][0]):.6g}")
        return t

    def _check_coefficients(self) -> None:
        """The constructor's parameters must give a usable process: ``alpha(t_max)`` and
        ``sigma(t_min)`` positive and representable in float32, both finite on the range."""
        t = torch.tensor([self.t_min, self.t_max], dtype=torch.float64)
        a, s = self.alpha(t).double(), self.sigma(t).double()
        tiny = torch.finfo(torch.float32).tiny
        if not bool(torch.isfinite(a).all() and torch.isfinite(s).all()) or float(a[1]) < tiny or float(s[0]) < tiny:
            raise ValueError(f"{self!r} is degenerate: alpha(t_max) = {float(a[1]):.3g} and sigma(t_min) = "
                             f"{float(s[0]):.3g} must be finite and >= {tiny:.3g} (float32's smallest normal); "
                             "choose smaller rates/ranges")

    def check_t(self, t: Tensor, name: str = "t") -> None:
        """Raise ``ValueError`` if any ``t`` lies outside ``[t_min, t_max]`` or is not finite."""
        t = torch.as_tensor(t)
        if not torch.isfinite(t).all():
            raise ValueError(f"{name} contains NaN or inf")
        # a time that reached the model in float32 (then maybe cast back up) is still in range
        eps = torch.finfo(t.dtype).eps if t.is_floating_point() else 0.0
        tol = max(1e-6, 4 * eps) * max(1.0, abs(self.t_max))
        if (t < self.t_min - tol).any() or (t > self.t_max + tol).any():
            raise ValueError(
                f"{name} outside the process range [{self.t_min}, {self.t_max}]: "
                f"min {float(t.min()):.6g}, max {float(t.max()):.6g}"
            )

    def config(self) -> dict:
        """JSON-serialisable constructor arguments (saved beside checkpoints)."""
        return {"class": type(self).__name__}

    def x0_projection(self):
        """The ``project_x0(x0, t)`` hook :func:`~polydiff.core.sample` applies when the call
        gives none (none here; a :class:`~polydiff.core.DiscreteVP` from a diffusers config
        carries its ``clip_sample`` / ``thresholding``)."""
        return

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "class")
        return f"{type(self).__name__}({args})"


class VP(GaussianProcess):
    """Variance-preserving process (Song et al. 2021, eq. 11; Nichol & Dhariwal 2021 cosine).

    ``schedule="linear"``: ``log alpha(t) = -t^2 (beta_max - beta_min)/4 - t beta_min/2``.
    ``schedule="cosine"``: ``alpha(t)^2 = cos((t+s)/(1+s) pi/2)^2 / cos(s/(1+s) pi/2)^2``.
    """

    default_grid = "uniform_t"

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0, *, schedule: str = "linear",
                 t_min: float = 1e-3, t_max: float | None = None, s: float = 0.008):
        if schedule not in ("linear", "cosine"):
            raise ValueError(f"unknown VP schedule {schedule!r}; expected 'linear' or 'cosine'")
        beta_min = check_number(beta_min, "beta_min", low=0.0)
        beta_max = check_number(beta_max, "beta_max", low=beta_min, low_open=True)
        s = check_number(s, "s", low=0.0)  # Nichol & Dhariwal's offset; s < 0 puts cos at a pole
        self.schedule, self.beta_min, self.beta_max, self.s = schedule, beta_min, beta_max, s
        self.t_min = check_number(t_min, "t_min", low=0.0, low_open=True)
        # cosine: log-SNR diverges at t=1; DPM-Solver's choice of 0.9946 keeps it finite.
        t_max = t_max if t_max is not None else (1.0 if schedule == "linear" else 0.9946)
        # the schedule is defined on t in [0, 1] (Song et al. 2021, eq. 33; cosine: t < 1)
        self.t_max = check_number(t_max, "t_max", low=self.t_min, high=1.0, low_open=True,
                                  high_open=schedule == "cosine")
        self._check_coefficients()

    def log_alpha(self, t: Tensor) -> Tensor:
        t = self._as_t(t)
        if self.schedule == "linear":
            return -0.25 * t**2 * (self.beta_max - self.beta_min) - 0.5 * t * self.beta_min
        c = math.pi / 2 / (1 + self.s)
        return torch.log(torch.cos((t + self.s) * c)) - math.log(math.cos(self.s * c))

    def alpha(self, t: Tensor) -> Tensor:
        return torch.exp(self.log_alpha(t))

    def sigma(self, t: Tensor) -> Tensor:
        return torch.sqrt(-torch.expm1(2.0 * self.log_alpha(t)))

    def log_snr(self, t: Tensor) -> Tensor:
        la = self.log_alpha(t)
        return 2.0 * la - torch.log(-torch.expm1(2.0 * la))

    def t_from_log_snr(self, lam: Tensor) -> Tensor:
        lam = self._as_lam(lam)
        neg_log_a2 = torch.nn.functional.softplus(-lam)  # -log alpha^2
        if self.schedule == "linear":
            db = self.beta_max - self.beta_min
            t = (-self.beta_min + torch.sqrt(self.beta_min**2 + 2.0 * db * neg_log_a2)) / db
        else:
            c = math.pi / 2 / (1 + self.s)
            t = torch.arccos(torch.exp(-0.5 * neg_log_a2) * math.cos(self.s * c)) / c - self.s
        return self._checked_t_of_lam(t, lam)

    def prior_std(self) -> float:
        return 1.0

    def config(self) -> dict:
        return {"class": "VP", "beta_min": self.beta_min, "beta_max": self.beta_max,
                "schedule": self.schedule, "t_min": self.t_min, "t_max": self.t_max, "s": self.s}


class SubVP(VP):
    """Sub-VP process (Song et al. 2021, eq. 29): VP's ``alpha`` with ``sigma = 1 - alpha^2``."""

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0, *, t_min: float = 1e-3, t_max: float = 1.0):
        super().__init__(beta_min, beta_max, schedule="linear", t_min=t_min, t_max=t_max)

    def sigma(self, t: Tensor) -> Tensor:
        return -torch.expm1(2.0 * self.log_alpha(t))

    def log_snr(self, t: Tensor) -> Tensor:
        la = self.log_alpha(t)
        return 2.0 * la - 2.0 * torch.log(-torch.expm1(2.0 * la))

    def t_from_log_snr(self, lam: Tensor) -> Tensor:
        return self._checked_t_of_lam(GaussianProcess.t_from_log_snr(self, lam), torch.as_tensor(lam))

    def config(self) -> dict:
        return {"class": "SubVP", "beta_min": self.beta_min, "beta_max": self.beta_max,
                "t_min": self.t_min, "t_max": self.t_max}


class VE(GaussianProcess):
    """Variance-exploding process (Song et al. 2021, eq. 9; NCSN): ``alpha = 1``,
    ``sigma(t) = sigma_min (sigma_max / sigma_min)^t``."""

    default_grid = "uniform_t"

    def __init__(self, sigma_min: float = 0.01, sigma_max: float = 50.0, *, t_min: float = 1e-5, t_max: float = 1.0):
        self.sigma_min = check_number(sigma_min, "sigma_min", low=0.0, low_open=True)
        self.sigma_max = check_number(sigma_max, "sigma_max", low=self.sigma_min, low_open=True)
        self.t_min = check_number(t_min, "t_min", low=0.0, low_open=True)
        # sigma(t) = sigma_min (sigma_max/sigma_min)^t interpolates the two on t in [0, 1]
        self.t_max = check_number(t_max, "t_max", low=self.t_min, high=1.0, low_open=True)
        self._check_coefficients()

    def alpha(self, t: Tensor) -> Tensor:
        return torch.ones_like(self._as_t(t))

    def sigma(self, t: Tensor) -> Tensor:
        t = self._as_t(t)
        return self.sigma_min * (self.sigma_max / self.sigma_min) ** t

    def t_from_log_snr(self, lam: Tensor) -> Tensor:
        lam = self._as_lam(lam)
        t = (-0.5 * lam - math.log(self.sigma_min)) / math.log(self.sigma_max / self.sigma_min)
        return self._checked_t_of_lam(t, lam)

    def config(self) -> dict:
        return {"class": "VE", "sigma_min": self.sigma_min, "sigma_max": self.sigma_max,
                "t_min": self.t_min, "t_max": self.t_max}


class EDM(GaussianProcess):
    """Karras et al. (2022) process: ``alpha = 1``, ``sigma(t) = t`` (time is sigma).

    ``sigma_data`` sets the EDM preconditioning (Table 1) used with ``prediction="edm"``.
    """

    default_grid = "karras"

    def __init__(self, sigma_min: float = 0.002, sigma_max: float = 80.0, sigma_data: float = 0.5, rho: float = 7.0):
        self.sigma_min = check_number(sigma_min, "sigma_min", low=0.0, low_open=True)
        self.sigma_max = check_number(sigma_max, "sigma_max", low=self.sigma_min, low_open=True)
        self.sigma_data = check_number(sigma_data, "sigma_data", low=0.0, low_open=True)
        self.rho = check_number(rho, "rho", low=0.0, low_open=True)  # Karras et al. 2022, eq. 5
        self.t_min, self.t_max = self.sigma_min, self.sigma_max

    def alpha(self, t: Tensor) -> Tensor:
        return torch.ones_like(self._as_t(t))

    def sigma(self, t: Tensor) -> Tensor:
        return self._as_t(t).clone()

    def t_from_log_snr(self, lam: Tensor) -> Tensor:
        lam = self._as_lam(lam)
        return self._checked_t_of_lam(torch.exp(-0.5 * lam), lam)

    def config(self) -> dict:
        return {"class": "EDM", "sigma_min": self.sigma_min, "sigma_max": self.sigma_max,
                "sigma_data": self.sigma_data, "rho": self.rho}


class Flow(GaussianProcess):
    """Linear interpolant of rectified flow / flow matching (Liu et al. 2023; Lipman et al.
    2023): ``alpha(t) = 1 - t``, ``sigma(t) = t``; the velocity is ``eps - x0``."""

    default_grid = "uniform_t"

    def __init__(self, t_min: float = 1e-3, t_max: float = 1.0 - 1e-3):
        self.t_min = check_number(t_min, "t_min", low=0.0, low_open=True)
        self.t_max = check_number(t_max, "t_max", low=self.t_min, high=1.0, low_open=True, high_open=True)

    def alpha(self, t: Tensor) -> Tensor:
        return 1.0 - self._as_t(t)

    def sigma(self, t: Tensor) -> Tensor:
        return self._as_t(t).clone()

    def t_from_log_snr(self, lam: Tensor) -> Tensor:
        lam = self._as_lam(lam)
        return self._checked_t_of_lam(torch.sigmoid(-0.5 * lam), lam)

    def config(self) -> dict:
        return {"class": "Flow", "t_min": self.t_min, "t_max": self.t_max}

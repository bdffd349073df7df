"""Time grids: where a solver evaluates the model and where it steps to.

A :class:`Grid` holds, for ``N`` steps, ``N + 1`` points: the model time ``t`` and the state's
noise level ``(alpha, sigma)``. The last point is usually clean data (``sigma = 0``, ``alpha = 1``)
so the sample is fully denoised; the model is never evaluated there. A partial trajectory
(SDEdit, DiffPure) is just a grid that starts below ``t_max``.

Grid kinds for continuous processes place points uniformly in a coordinate ``c(t)``:
``uniform_t`` (t), ``log_snr`` (lambda; DPM-Solver's choice), ``karras`` (sigma/alpha to the
power 1/rho; Karras et al. 2022 eq. 5), ``quadratic`` (DDIM's quadratic spacing in t).
:class:`~polydiff.core.discrete.DiscreteVP` adds diffusers' ``leading``/``trailing``/``linspace``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .validate import check_int, check_number, describe

__all__ = ["FINALS", "GRID_KINDS", "Grid", "make_grid"]

GRID_KINDS = ("uniform_t", "log_snr", "karras", "quadratic")
FINALS = ("zero", "spaced", "none")  # how a grid ends (see make_grid)


@dataclass(frozen=True)
class Grid:
    """``N + 1`` points of a sampling trajectory (float64; shape ``[N+1]`` or ``[N+1, B]``).

    Attributes:
        t: model time at each point (``t[-1]`` is unused when ``sigma[-1] == 0``).
        alpha: signal coefficient of the state at each point.
        sigma: noise coefficient of the state at each point.
    """

    t: Tensor
    alpha: Tensor
    sigma: Tensor

    def __post_init__(self):
        for name in ("t", "alpha", "sigma"):
            object.__setattr__(self, name, _as_points(getattr(self, name), f"grid {name}"))
        if not (self.t.shape == self.alpha.shape == self.sigma.shape):
            raise ValueError(f"grid t, alpha and sigma must share one shape, got {tuple(self.t.shape)}, "
                             f"{tuple(self.alpha.shape)}, {tuple(self.sigma.shape)}")
        if self.t.ndim not in (1, 2) or self.t.shape[0] < 2:
            raise ValueError(f"a grid needs at least 2 points, shape [N+1] or [N+1, B]; got {tuple(self.t.shape)}")
        if not (torch.isfinite(self.alpha).all() and torch.isfinite(self.sigma).all()):
            raise ValueError("grid alpha/sigma must be finite")
        if (self.sigma < 0).any() or (self.alpha <= 0).any():
            raise ValueError("grid needs alpha > 0 and sigma >= 0")
        if not bool(torch.isfinite(self.t).all()):
            raise ValueError(f"grid t must be finite, got {self.t.tolist()}")
        if bool((self.t[1:] > self.t[:-1]).any()):  # a trajectory runs from noise to data
            raise ValueError(f"grid t must be non-increasing (from t_start down to data), got {self.t.tolist()}")

    @property
    def steps(self) -> int:
        return self.t.shape[0] - 1

    @property
    def log_snr(self) -> Tensor:
        """``lambda = 2 log(alpha / sigma)`` (``+inf`` where ``sigma = 0``)."""
        return 2.0 * (torch.log(self.alpha) - torch.log(self.sigma))

    def to_clean(self) -> bool:
        """Whether the last point is clean data (``sigma == 0``)."""
        return bool((self.sigma[-1] == 0).all())


def _as_points(v, name: str) -> Tensor:
    """A floating tensor of grid points; a (nested) list of real numbers becomes float64."""
    if isinstance(v, (list, tuple)):
        import numpy as np

        try:
            arr = np.asarray(v)
        except ValueError as e:
            raise ValueError(f"{name} must be a rectangular list of numbers: {e}") from None
        if arr.dtype.kind not in "fiu" or arr.size == 0:
            raise TypeError(f"{name} must hold real numbers, got a list of {arr.dtype} ({v!r:.80})")
        return torch.as_tensor(arr, dtype=torch.float64)
    if not isinstance(v, Tensor):
        raise TypeError(f"{name} must be a floating-point tensor or a list of numbers, got {describe(v)}")
    if not v.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {v.dtype}")
    return v


def _time_arg(v, name: str):
    if v is None or isinstance(v, Tensor):
        return v
    return check_number(v, name)


def _endpoints(process, t_start, t_end, batch):
    t_start, t_end = _time_arg(t_start, "t_start"), _time_arg(t_end, "t_end")
    t0 = torch.as_tensor(process.t_max if t_start is None else t_start, dtype=torch.float64)
    t1 = torch.as_tensor(process.t_min if t_end is None else t_end, dtype=torch.float64)
    process.check_t(t0, "t_start")
    process.check_t(t1, "t_end")
    if (t0 < t1).any():
        raise ValueError(f"t_start must not be below t_end (got {t0.tolist()} < {t1.tolist()})")
    return t0, t1


def make_grid(process, steps: int, kind: str | None = None, *, t_start: float | Tensor | None = None,
              t_end: float | Tensor | None = None, final: str = "zero", rho: float = 7.0) -> Grid:
    """Build a grid of ``steps`` steps for a continuous Gaussian process.

    Args:
        process: a :class:`~polydiff.core.process.GaussianProcess`.
        steps: number of steps (= model evaluations for one-evaluation-per-step solvers).
        kind: one of :data:`GRID_KINDS` (default: ``process.default_grid``).
        t_start: start time (scalar or per-sample ``[B]``); default ``t_max``.
        t_end: last evaluated time; default ``t_min``.
        final: ``"zero"`` evaluates at ``t_end`` and then steps onto a clean point (sigma = 0);
            ``"spaced"`` spaces ``steps + 1`` points from ``t_start`` to ``t_end`` and puts clean
            data in place of the last, so the step onto data is one of the evenly spaced steps
            (diffusers' ``linspace`` grids with ``final_sigmas_type="zero"`` end this way);
            ``"none"`` ends the trajectory at ``t_end``.
        rho: Karras exponent.
    """
    from .process import GaussianProcess

    if not isinstance(process, GaussianProcess):
        raise TypeError(f"process must be a GaussianProcess (VP, VE, EDM, Flow ...), got {describe(process)}")
    steps = check_int(steps, "steps", low=1)
    kind = kind or process.default_grid
    if kind not in GRID_KINDS:
        raise ValueError(f"unknown grid kind {kind!r} for {type(process).__name__}; expected one of {GRID_KINDS}")
    if final not in FINALS:
        raise ValueError(f"final must be one of {FINALS}, got {final!r}")
    if kind == "karras":
        # rho -> inf tends to log-SNR spacing; beyond 1e3 float64 loses the spacing itself
        rho = check_number(rho, "rho", low=0.0, high=1e3, low_open=True)
    t0, t1 = _endpoints(process, t_start, t_end, None)
    n_pts = steps if final == "zero" else steps + 1
    u = torch.linspace(0.0, 1.0, n_pts, dtype=torch.float64) if n_pts > 1 else torch.zeros(1, dtype=torch.float64)
    if t0.ndim or t1.ndim:
        u = u[:, None]
    if kind == "uniform_t":
        t = t0 + (t1 - t0) * u
    elif kind == "quadratic":
        t = t1 + (t0 - t1) * (1.0 - u) ** 2
    elif kind == "log_snr":
        l0, l1 = process.log_snr(t0), process.log_snr(t1)
        t = process.t_from_log_snr(l0 + (l1 - l0) * u)
    else:  # karras: uniform in (sigma/alpha)^(1/rho)
        s0 = (process.sigma(t0) / process.alpha(t0)) ** (1.0 / rho)
        s1 = (process.sigma(t1) / process.alpha(t1)) ** (1.0 / rho)
        s = (s0 + (s1 - s0) * u) ** rho
        t = process.t_from_log_snr(-2.0 * torch.log(s))
    # pin the endpoints exactly (inverse maps are accurate only to rounding)
    t = t.clone()
    if n_pts > 1:  # one evaluated point (steps=1, final="zero") is t_start itself
        t[-1] = t1
    t[0] = t0
    t = torch.minimum(torch.maximum(t, t1 if t1.ndim == 0 else t1[None]), t0 if t0.ndim == 0 else t0[None])
    alpha, sigma = process.alpha(t).double(), process.sigma(t).double()
    if final == "zero":
        t = torch.cat([t, t[-1:]])
        alpha = torch.cat([alpha, torch.ones_like(alpha[-1:])])
        sigma = torch.cat([sigma, torch.zeros_like(sigma[-1:])])
    elif final == "spaced":
        alpha, sigma = alpha.clone(), sigma.clone()
        alpha[-1], sigma[-1] = 1.0, 0.0
    return Grid(t=t, alpha=alpha, sigma=sigma)

"""Discrete-time VP process from a beta table (DDPM family), with diffusers' time grids.

The model sees ``t`` as the training timestep index (a float in ``[0, T-1]``), as diffusers'
models expect. Between integer indices ``sigma/alpha`` is interpolated linearly in ``t``
(diffusers' ``interpolation_type="linear"``), so integer points reproduce
``alphas_cumprod`` exactly.

``DiscreteVP.from_diffusers(config)`` keeps what decides the time grid (``timestep_spacing``,
``steps_offset``, ``set_alpha_to_one``, ``final_sigmas_type``, ``use_karras_sigmas``); the
grid used for a solver follows the diffusers scheduler that implements it, so
``pc.sample(model, proc, x_T, steps=n, solver="dpmpp_2m")`` reproduces
``DPMSolverMultistepScheduler`` and ``solver="ddim"`` reproduces ``DDIMScheduler``.

Known diffusers quirk (DDIMScheduler, all versions up to 0.42): ``step`` moves to
``t - T // N`` rather than to the next timestep of its own grid, which disagrees with
``timestep_spacing="linspace"`` (and ``"trailing"`` when ``N`` does not divide ``T``): the
state then sits at a noise level the next model call does not see. polydiff always steps to
the next grid point (the DDIM update of Song et al. 2021, eq. 12, on the grid itself).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .grids import GRID_KINDS, Grid
from .process import GaussianProcess
from .schedules import beta_schedule, rescale_zero_terminal_snr
from .validate import check_choice, check_int, check_number, describe

__all__ = ["DIFFUSERS_FAMILY", "DiscreteVP", "process_from_config"]

# which diffusers scheduler each polydiff solver reproduces (its grid conventions)
DIFFUSERS_FAMILY = {
    "ddim": "ddim", "ddpm": "ddpm",
    "dpmpp_2m": "dpm", "dpmpp_3m": "dpm", "dpmpp_2m_sde": "dpm", "unipc": "dpm",
    "euler": "euler", "heun": "euler",
}
_SPACINGS = ("leading", "trailing", "linspace")


def _table(values: Any, name: str) -> Tensor:
    """A 1-D float64 table (betas, alphas_cumprod); another rank is refused, not flattened."""
    if not isinstance(values, (Tensor, np.ndarray, list, tuple)):
        raise TypeError(f"{name} must be a 1-D tensor, array or list of numbers, got {describe(values)}")
    try:
        t = torch.as_tensor(np.asarray(values) if isinstance(values, (list, tuple)) else values, dtype=torch.float64)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name} must hold numbers: {e}") from None
    if t.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one entry per timestep), got shape {tuple(t.shape)}")
    return t


class DiscreteVP(GaussianProcess):
    """VP process defined by ``alphas_cumprod = cumprod(1 - betas)`` over ``T`` steps.

    Args:
        betas: the beta table (length ``T``).
        spacing: default diffusers ``timestep_spacing`` (``leading``/``trailing``/``linspace``)
            or a continuous grid kind.
        steps_offset: diffusers' ``steps_offset`` (added to ``leading`` timesteps).
        set_alpha_to_one: DDIM's final-step convention (final ``alpha_bar = 1``).
        final_sigmas_type: ``"zero"`` or ``"sigma_min"`` for the multistep/Euler grids.
        use_karras_sigmas: Karras sigmas in the DPM/UniPC/Euler grids.
        prediction_type: what a matching model predicts (informational; from diffusers).
        x0_clip: clip ``x0_hat`` to ``[-x0_clip, x0_clip]`` at every evaluation (diffusers'
            ``clip_sample`` / ``clip_sample_range``; DDPM's ``clip_denoised``).
        x0_threshold: ``(ratio, max_value)``: dynamic thresholding of ``x0_hat`` (Saharia et al.
            2022, sec. 2.3; diffusers' ``thresholding``, ``dynamic_thresholding_ratio``,
            ``sample_max_value``); takes precedence over ``x0_clip`` as in diffusers.
        reproject_eps: DDIM's direction term uses the noise re-derived from the projected
            ``x0_hat`` (guided-diffusion; diffusers' ``use_clipped_model_output=True``) when true,
            the network's own noise (``DDIMScheduler.step``'s default) when false.

    :func:`~polydiff.core.sample` applies ``x0_clip`` / ``x0_threshold`` with every solver
    unless the call passes its own ``project_x0``.
    """

    def __init__(self, betas: Tensor, *, spacing: str = "leading", steps_offset: int = 0,
                 set_alpha_to_one: bool = True, final_sigmas_type: str = "zero",
                 use_karras_sigmas: bool = False, prediction_type: str = "eps",
                 zero_terminal_snr: bool = False, lambda_min_clipped: float = -float("inf"),
                 alphas_cumprod: Tensor | None = None, x0_clip: float | None = None,
                 x0_threshold: tuple[float, float] | None = None, reproject_eps: bool = True):
        betas = _table(betas, "betas")
        if betas.numel() < 2:
            raise ValueError("DiscreteVP needs a beta table of at least 2 entries")
        if not torch.isfinite(betas).all() or (betas <= 0).any() or (betas > 1).any():
            raise ValueError("betas must be finite and lie in (0, 1]")
        if spacing not in _SPACINGS + GRID_KINDS:
            raise ValueError(f"unknown spacing {spacing!r}; expected one of {_SPACINGS + GRID_KINDS}")
        if final_sigmas_type not in ("zero", "sigma_min"):
            raise ValueError(f"final_sigmas_type must be 'zero' or 'sigma_min', got {final_sigmas_type!r}")
        from .prediction import PREDICTIONS

        steps_offset = check_int(steps_offset, "steps_offset", low=0)
        for flag, name in ((set_alpha_to_one, "set_alpha_to_one"), (use_karras_sigmas, "use_karras_sigmas"),
                           (zero_terminal_snr, "zero_terminal_snr")):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be a bool, got {describe(flag)}")
        check_choice(prediction_type, "prediction_type", PREDICTIONS)
        lambda_min_clipped = check_number(lambda_min_clipped, "lambda_min_clipped", allow_inf=True)
        self.betas = betas
        ac = torch.cumprod(1.0 - betas, 0) if alphas_cumprod is None else _table(alphas_cumprod, "alphas_cumprod")
        if zero_terminal_snr:
            # diffusers' floor 2^-24 keeps the terminal log-SNR finite; when the rescaled table
            # is already below it one step earlier, stay just below that step so log-SNR keeps
            # decreasing (diffusers' table is non-monotone there).
            ac = ac.clone()
            ac[-1] = min(2.0**-24, float(ac[-2]) * (1 - 1e-3))
        if ac.shape != betas.shape or not ((ac > 0) & (ac < 1)).all():
            raise ValueError("alphas_cumprod must match betas in length and lie in (0, 1)")
        self.alphas_cumprod = ac
        self.num_train_timesteps = int(betas.numel())
        self.t_min, self.t_max = 0.0, float(self.num_train_timesteps - 1)
        self._sig_edm = torch.sqrt((1.0 - ac) / ac)  # sigma/alpha at integer t
        self.default_grid = spacing
        self.steps_offset, self.set_alpha_to_one = int(steps_offset), bool(set_alpha_to_one)
        self.final_sigmas_type, self.use_karras_sigmas = final_sigmas_type, bool(use_karras_sigmas)
        self.prediction_type, self.zero_terminal_snr = prediction_type, bool(zero_terminal_snr)
        self.lambda_min_clipped = float(lambda_min_clipped)
        if x0_clip is not None and not (isinstance(x0_clip, (int, float)) and 0 < x0_clip < float("inf")):
            raise ValueError(f"x0_clip must be a positive finite number or None, got {x0_clip!r}")
        if x0_threshold is not None:
            if not (isinstance(x0_threshold, (tuple, list)) and len(x0_threshold) == 2
                    and 0 < float(x0_threshold[0]) < 1 and float(x0_threshold[1]) >= 1):
                raise ValueError(f"x0_threshold must be (ratio in (0, 1), max_value >= 1) or None, "
                                 f"got {x0_threshold!r}")
            x0_threshold = (float(x0_threshold[0]), float(x0_threshold[1]))
        if not isinstance(reproject_eps, bool):
            raise TypeError(f"reproject_eps must be a bool, got {type(reproject_eps).__name__}")
        self.x0_clip = None if x0_clip is None else float(x0_clip)
        self.x0_threshold, self.reproject_eps = x0_threshold, reproject_eps

    # --- construction -----------------------------------------------------------------------
    @classmethod
    def from_schedule(cls, name: str, T: int = 1000, *, beta_start: float | None = None,
                      beta_end: float | None = None, rescale_zero_snr: bool = False, **kw) -> DiscreteVP:
        """Build from a named schedule (see :func:`polydiff.core.schedules.beta_schedule`)."""
        betas = beta_schedule(name, T, beta_start, beta_end)
        if rescale_zero_snr:
            betas = rescale_zero_terminal_snr(betas)
        return cls(betas, zero_terminal_snr=rescale_zero_snr, **kw)

    @classmethod
    def from_diffusers(cls, config: Any) -> DiscreteVP:
        """Build from a diffusers scheduler config (a dict, a ``FrozenDict`` or a scheduler)."""
        if hasattr(config, "config") and not isinstance(config, Mapping):
            config = config.config
        if not isinstance(config, Mapping):
            raise TypeError(f"from_diffusers needs a scheduler config mapping, got {type(config).__name__}")
        cfg = dict(config)
        T = check_int(cfg.get("num_train_timesteps", 1000), "config['num_train_timesteps']", low=2)
        if cfg.get("trained_betas") is not None:
            betas = torch.as_tensor(np.asarray(cfg["trained_betas"]), dtype=torch.float64)
        else:
            name = cfg.get("beta_schedule", "linear")
            if name not in ("linear", "scaled_linear", "squaredcos_cap_v2", "sigmoid"):
                raise ValueError(f"unsupported diffusers beta_schedule {name!r}")
            # squaredcos_cap_v2 has no beta range: diffusers ignores the config's beta_start/beta_end
            ranged = name != "squaredcos_cap_v2"
            betas = beta_schedule(name, T, cfg.get("beta_start", 0.0001) if ranged else None,
                                  cfg.get("beta_end", 0.02) if ranged else None)
        zero = bool(cfg.get("rescale_betas_zero_snr", False))
        if zero:
            betas = rescale_zero_terminal_snr(betas)
        # diffusers keeps betas and their cumulative product in float32: reproduce its table
        ac = torch.cumprod(1.0 - betas.float(), 0).double()
        # clip_sample defaults to True in DDIMScheduler and DDPMScheduler (the classes that read it)
        clip = bool(cfg.get("clip_sample", cfg.get("_class_name") in ("DDIMScheduler", "DDPMScheduler")))
        threshold = None
        if cfg.get("thresholding", False):
            threshold = (float(cfg.get("dynamic_thresholding_ratio", 0.995)), float(cfg.get("sample_max_value", 1.0)))
        pred = {"epsilon": "eps", "v_prediction": "v", "sample": "x0"}.get(cfg.get("prediction_type", "epsilon"))
        if pred is None:
            raise ValueError(f"unsupported diffusers prediction_type {cfg.get('prediction_type')!r}")
        return cls(betas, spacing=cfg.get("timestep_spacing", "leading"),
                   steps_offset=check_int(cfg.get("steps_offset", 0), "config['steps_offset']", low=0),
                   set_alpha_to_one=bool(cfg.get("set_alpha_to_one", True)),
                   final_sigmas_type=cfg.get("final_sigmas_type", "zero") or "zero",
                   use_karras_sigmas=bool(cfg.get("use_karras_sigmas", False)),
                   prediction_type=pred, zero_terminal_snr=zero, alphas_cumprod=ac,
                   lambda_min_clipped=float(cfg.get("lambda_min_clipped", -float("inf"))),
                   x0_clip=float(cfg.get("clip_sample_range", 1.0)) if clip else None,
                   x0_threshold=threshold, reproject_eps=False)

    def x0_projection(self):
        """The projection of ``x0_hat`` this process applies by default (``x0_threshold``, else
        ``x0_clip``, else none), as a ``project_x0(x0, t)`` hook."""
        from .hooks import clip, dynamic_threshold

        if self.x0_threshold is not None:
            ratio, max_value = self.x0_threshold
            return dynamic_threshold(ratio, 1.0, s_max=max_value)
        if self.x0_clip is not None:
            return clip(-self.x0_clip, self.x0_clip)
        return None

    # --- marginal ---------------------------------------------------------------------------
    def sigma_edm(self, t: Tensor) -> Tensor:
        """``sigma/alpha`` at (fractional) index ``t``, linear interpolation between integers."""
        t = self._as_t(t).to(torch.float64)
        tc = t.clamp(0, self.t_max)
        lo = tc.floor().long().clamp(max=self.num_train_timesteps - 2)
        w = tc - lo
        s = self._sig_edm.to(t.device)
        return s[lo] * (1 - w) + s[lo + 1] * w

    def alpha(self, t: Tensor) -> Tensor:
        return torch.rsqrt(1.0 + self.sigma_edm(t) ** 2)

    def sigma(self, t: Tensor) -> Tensor:
        s = self.sigma_edm(t)
        return s * torch.rsqrt(1.0 + s**2)

    def log_snr(self, t: Tensor) -> Tensor:
        return -2.0 * torch.log(self.sigma_edm(t))

    def t_from_log_snr(self, lam: Tensor) -> Tensor:
        """Exact inverse of :meth:`log_snr` (``sigma/alpha`` is piecewise linear in ``t``)."""
        lam = torch.as_tensor(lam, dtype=torch.float64)
        s = torch.exp(-0.5 * lam).flatten()
        table = self._sig_edm
        s = s.clamp(float(table[0]), float(table[-1]))
        idx = torch.searchsorted(table, s).clamp(1, self.num_train_timesteps - 1)
        lo, hi = table[idx - 1], table[idx]
        w = ((s - lo) / (hi - lo)).clamp(0, 1)
        return ((idx - 1).double() + w).reshape(lam.shape)

    def _sigma_to_t_log(self, sigma: Tensor) -> Tensor:
        """diffusers' ``_sigma_to_t``: interpolate ``log sigma`` over the table (Karras grids)."""
        log_s = torch.log(torch.as_tensor(sigma, dtype=torch.float64)).flatten()
        table = torch.log(self._sig_edm)
        log_s = log_s.clamp(float(table[0]), float(table[-1]))
        idx = torch.searchsorted(table, log_s).clamp(1, self.num_train_timesteps - 1)
        lo, hi = table[idx - 1], table[idx]
        w = ((log_s - lo) / (hi - lo)).clamp(0, 1)
        return (idx - 1).double() + w

    def prior_std(self) -> float:
        return 1.0

    def config(self) -> dict:
        return {"class": "DiscreteVP", "betas": self.betas.tolist(), "spacing": self.default_grid,
                "steps_offset": self.steps_offset, "set_alpha_to_one": self.set_alpha_to_one,
                "final_sigmas_type": self.final_sigmas_type, "use_karras_sigmas": self.use_karras_sigmas,
                "prediction_type": self.prediction_type, "zero_terminal_snr": self.zero_terminal_snr,
                "lambda_min_clipped": self.lambda_min_clipped, "alphas_cumprod": self.alphas_cumprod.tolist(),
                "x0_clip": self.x0_clip, "x0_threshold": self.x0_threshold, "reproject_eps": self.reproject_eps}

    # --- diffusers' grids -------------------------------------------------------------------
    def diffusers_grid(self, steps: int, family: str, spacing: str | None = None) -> Grid:
        """The time grid of the diffusers scheduler ``family`` (ddim, ddpm, dpm, euler).

        Grids are remembered per ``(steps, family, spacing)`` (a few hundred microseconds of
        NumPy each, paid once instead of on every :func:`~polydiff.core.sample` call); a grid is
        never modified after it is built."""
        steps = check_int(steps, "steps", low=1)
        key = (steps, family, spacing or self.default_grid)
        cache = self.__dict__.setdefault("_grid_cache", {})
        if key not in cache:
            if len(cache) >= 64:
                cache.pop(next(iter(cache)))
            cache[key] = self._diffusers_grid(steps, family, spacing)
        return cache[key]

    def _diffusers_grid(self, steps: int, family: str, spacing: str | None = None) -> Grid:
        T, N = self.num_train_timesteps, int(steps)
        if N < 1 or N > T:
            raise ValueError(f"steps must lie in [1, {T}] for this DiscreteVP, got {steps}")
        spacing = spacing or self.default_grid
        if spacing not in _SPACINGS:
            raise ValueError(f"diffusers grids need spacing in {_SPACINGS}, got {spacing!r}")
        karras = self.use_karras_sigmas and family in ("dpm", "euler")
        if family in ("ddim", "ddpm"):
            if spacing == "leading":
                ts = np.arange(0, N)[::-1] * (T // N) + self.steps_offset
            elif spacing == "trailing":
                ts = np.round(np.arange(T, 0, -T / N)) - 1
            else:
                ts = np.linspace(0, T - 1, N).round()[::-1]
            t = torch.as_tensor(ts.copy(), dtype=torch.float64)
            final_one = family == "ddpm" or self.set_alpha_to_one
            ac = self.alphas_cumprod[t.long()]
            ac_final = torch.ones(1, dtype=torch.float64) if final_one else self.alphas_cumprod[:1]
            ac = torch.cat([ac, ac_final])
            return Grid(t=torch.cat([t, t.new_zeros(1)]), alpha=ac.sqrt(), sigma=(1 - ac).sqrt())
        if family == "dpm":
            # DPM-Solver's lambda_min_clipped: drop the tail where lambda = log(alpha/sigma) is below it
            lam_half = -torch.log(self._sig_edm)
            last = T - int(torch.searchsorted(torch.flip(lam_half, [0]), self.lambda_min_clipped))
            if spacing == "linspace":
                ts = np.linspace(0, last - 1, N + 1).round()[::-1][:-1]
            elif spacing == "leading":
                ts = (np.arange(0, N + 1) * (last // (N + 1))).round()[::-1][:-1] + self.steps_offset
            else:
                ts = np.arange(last, 0, -T / N).round() - 1
        elif family == "euler":
            if spacing == "linspace":
                ts = np.linspace(0, T - 1, N, dtype=np.float32)[::-1].astype(np.float64)
            elif spacing == "leading":
                ts = (np.arange(0, N) * (T // N)).round()[::-1] + self.steps_offset
            else:
                ts = np.arange(T, 0, -T / N).round() - 1
        else:
            raise ValueError(f"unknown diffusers family {family!r}")
        t = torch.as_tensor(ts.copy(), dtype=torch.float64)
        if not karras and N > 1 and bool((t[1:] >= t[:-1]).any()):
            raise ValueError(
                f"the diffusers {family} grid with {spacing!r} spacing at {N} of {T} steps repeats "
                f"timesteps (diffusers' scheduler does the same; a solver would divide by a zero "
                f"step): use spacing='trailing' or fewer steps")
        if karras:  # Karras et al. 2022 eq. 5 over the table's sigma range, rho = 7
            smin, smax = float(self._sig_edm[0]), float(self._sig_edm[-1])
            r = torch.linspace(0, 1, N, dtype=torch.float64)
            s = (smax ** (1 / 7) + r * (smin ** (1 / 7) - smax ** (1 / 7))) ** 7
            t = self._sigma_to_t_log(s)
            if family == "dpm":
                t = t.round()
        else:
            s = self.sigma_edm(t)
        s = s.float().double()  # diffusers keeps sigmas in float32
        last = 0.0 if self.final_sigmas_type == "zero" else float(self._sig_edm[0])
        s = torch.cat([s, torch.tensor([last], dtype=torch.float64)])
        alpha = torch.rsqrt(1 + s**2)
        return Grid(t=torch.cat([t, t.new_zeros(1)]), alpha=alpha, sigma=s * alpha)

    def grid(self, steps: int, solver: str | None = None, kind: str | None = None, *,
             t_start: float | Tensor | None = None, t_end: float | Tensor | None = None,
             final: str = "zero", rho: float = 7.0) -> Grid:
        """Default grid for ``solver``.

        With a diffusers spacing and a full trajectory this is the matching diffusers
        scheduler's grid (for ``rk45``, which has none, the whole trajectory from ``t_max``). A
        partial trajectory (``t_start``) on a diffusers spacing uses integer timesteps evenly
        spaced from ``t_start`` down to ``t_end`` (default 0), as diffusers' img2img pipelines
        do; continuous kinds go through :func:`~polydiff.core.grids.make_grid`.
        """
        from .grids import make_grid

        kind = kind or self.default_grid
        if solver == "rk45" and kind in _SPACINGS:
            # no diffusers scheduler to match, and rk45 reads only the grid's start and end: the
            # whole trajectory (a diffusers dpm grid of 2 leading steps would start at t = 666)
            kind = "uniform_t"
        if kind not in _SPACINGS:
            return make_grid(self, steps, kind, t_start=t_start, t_end=t_end, final=final, rho=rho)
        if t_start is None and t_end is None and final == "zero":
            return self.diffusers_grid(steps, DIFFUSERS_FAMILY.get(solver, "dpm"), kind)
        g = make_grid(self, steps, "uniform_t", t_start=t_start, t_end=t_end, final=final)
        t = g.t.round()
        n_eval = steps if final in ("zero", "spaced") else steps + 1
        if (t[1:n_eval] == t[: n_eval - 1]).any():
            raise ValueError(f"{steps} steps do not fit between integer timesteps {t_start} and {t_end}")
        alpha, sigma = self.alpha(t), self.sigma(t)
        if final in ("zero", "spaced"):
            alpha[-1], sigma[-1] = 1.0, 0.0
        return Grid(t=t, alpha=alpha, sigma=sigma)


def process_from_config(config: dict) -> GaussianProcess:
    """Rebuild a process from its :meth:`~GaussianProcess.config` (as saved beside checkpoints)."""
    from .process import EDM, VE, VP, Flow, SubVP

    if not isinstance(config, dict) or "class" not in config:
        raise ValueError("a process config must be a dict with a 'class' key (from process.config())")
    cfg = dict(config)
    name = cfg.pop("class")
    classes = {"VP": VP, "SubVP": SubVP, "VE": VE, "EDM": EDM, "Flow": Flow, "DiscreteVP": DiscreteVP}
    if name not in classes:
        raise ValueError(f"unknown process class {name!r}; expected one of {sorted(classes)}")
    required = {"DiscreteVP": ("betas",), "VP": ("beta_min", "beta_max"),
                "SubVP": ("beta_min", "beta_max")}.get(name, ())
    missing = [k for k in required if k not in cfg]
    if missing:
        raise ValueError(f"process config of class {name!r} lacks the keys {missing} "
                         f"(got keys {sorted(config)})")
    if name == "DiscreteVP":
        betas = cfg.pop("betas")
        spacing = cfg.pop("spacing", "leading")
        make = lambda **kw: DiscreteVP(torch.tensor(betas, dtype=torch.float64), spacing=spacing, **kw)
    else:
        make = classes[name]
    import inspect

    target = DiscreteVP if name == "DiscreteVP" else classes[name]
    accepted = set(inspect.signature(target.__init__).parameters) - {"self", "betas"}
    unknown = sorted(set(cfg) - accepted)
    if unknown:
        raise ValueError(f"process config of class {name!r} has keys {name} does not take: {unknown} "
                         f"(it takes {sorted(accepted)})")
    try:
        return make(**cfg)
    except (TypeError, ValueError) as e:  # a value out of range: name the config and the key
        raise type(e)(f"process config of class {name!r}: {e}") from None

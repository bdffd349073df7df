"""The front door: ``sample(model, process, x_T, steps, solver, prediction, **hooks)``."""
from __future__ import annotations

import functools
import inspect
import numbers
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from .defaults import default_grid
from .denoiser import Denoiser
from .discrete import DiscreteVP
from .grids import Grid, make_grid
from .hooks import CFG, ClassifierGuidance, GaussianNoise, Known, Projection
from .prediction import PREDICTIONS
from .process import GaussianProcess
from .sample_checks import check_cond, check_grid_for, check_solver_options, checked_noise
from .solvers import DEPRECATED_NAMES, SOLVERS
from .validate import check_generator, describe

__all__ = ["build_grid", "sample"]

_HALF = (torch.float16, torch.bfloat16)


def build_grid(process: GaussianProcess, steps: int, solver: str = "dpmpp_2m", kind: str | None = None, *,
               t_start: float | Tensor | None = None, t_end: float | Tensor | None = None,
               final: str | None = None) -> Grid:
    """The grid :func:`sample` uses for these arguments (see :mod:`polydiff.core.grids`).

    With ``kind``, ``t_end`` and ``final`` all left out, the measured default of
    :func:`polydiff.core.defaults.default_grid` for this process and solver; otherwise the
    given kind (default ``process.default_grid``) ending as ``final`` (default ``"zero"``).
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    if solver in DEPRECATED_NAMES:
        solver = DEPRECATED_NAMES[solver]
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; expected one of {sorted(SOLVERS)}")
    if isinstance(process, DiscreteVP):
        return process.grid(steps, solver, kind, t_start=t_start, t_end=t_end, final=final or "zero")
    if kind is None and t_end is None and final is None:
        kind, final = default_grid(process, solver)
    return make_grid(process, steps, kind, t_start=t_start, t_end=t_end, final=final or "zero")


class _Shifted:
    """A view of a denoiser on a sub-grid starting at index ``offset``."""

    def __init__(self, den: Denoiser, offset: int):
        self.den, self.offset, self.process, self.project_x0 = den, offset, den.process, den.project_x0

    def __call__(self, x, i):
        return self.den(x, i + self.offset)

    def x0_pair(self, x, i):
        return self.den.x0_pair(x, i + self.offset)

    def at(self, x, t, step=-1):
        return self.den.at(x, t, step)

    def keep(self, n):
        self.den.keep(n)


def _sub(grid: Grid, i0: int, i1: int) -> Grid:
    return Grid(t=grid.t[i0:i1 + 1], alpha=grid.alpha[i0:i1 + 1], sigma=grid.sigma[i0:i1 + 1])


def sample(
    model: Callable[..., Tensor],
    process: GaussianProcess,
    x_T: Tensor,
    steps: int = 10,
    solver: str = "dpmpp_2m",
    prediction: str = "eps",
    *,
    grid: Grid | str | None = None,
    t_start: float | Tensor | None = None,
    t_end: float | Tensor | None = None,
    final: str | None = None,
    cond: Mapping[str, Any] | None = None,
    guidance: CFG | ClassifierGuidance | None = None,
    known: Known | None = None,
    project_x0: Projection | None = None,
    project_x: Projection | None = None,
    noise: Callable[[Tensor, int], Tensor] | None = None,
    generator: torch.Generator | Sequence[torch.Generator] | None = None,
    callback: Callable[[dict], None] | None = None,
    model_dtype: torch.dtype | None = None,
    check_finite: bool = True,
    differentiable: bool = False,
    **solver_options: Any,
) -> Tensor:
    """Solve the reverse process from ``x_T`` and return the (fully denoised) sample.

    Args:
        model: ``model(x, t, **cond)``; ``t`` is a float tensor ``[B]`` in the process's time.
        process: the forward process the model was trained with.
        x_T: the start state ``[B, ...]`` (any rank); at ``t_max`` unless ``t_start`` is given.
        steps: number of solver steps (model evaluations for the one-call-per-step solvers).
        solver: a name in :data:`SOLVERS`.
        prediction: what the model outputs, one of ``eps, x0, v, score, flow, edm``.
        grid: a :class:`Grid` or a grid kind name; default the measured one for this process
            and solver (:mod:`polydiff.core.defaults`; e.g. quadratic in ``t`` on VP).
        t_start: start time of a partial trajectory (SDEdit, DiffPure); scalar or ``[B]``.
        t_end: last evaluated time (default ``t_min``); ``final="none"`` stops there noisy.
        final: how the grid ends (:func:`~polydiff.core.grids.make_grid`): ``"zero"``,
            ``"spaced"`` or ``"none"``; default the measured one, else ``"zero"``.
        cond: extra keyword arguments of the model (class labels, conditioning images).
        guidance: :class:`CFG` or :class:`ClassifierGuidance`.
        known: :class:`Known` values imposed after every step (RePaint when ``resample > 1``).
        project_x0: per-evaluation projection of ``x0_hat`` (clamping, thresholding); default
            the process's own (:meth:`~polydiff.core.GaussianProcess.x0_projection`: a
            ``DiscreteVP`` from a diffusers config applies its ``clip_sample``/``thresholding``).
        project_x: per-step projection of the state (zero centre of mass).
        noise: noise sampler ``noise(x, step)``; default Gaussian from ``generator``.
        generator: a ``torch.Generator`` or one per sample.
        callback: called after every step with ``{"step", "x", "t", "nfe"}``.
        model_dtype: cast the network input ``x`` to this floating dtype; ``t`` always reaches the
            model in float32, so time stays exact (a 1000-step discrete grid keeps integer
            timesteps). A half-precision ``x_T`` (float16/bfloat16) runs the network in that
            dtype by default while the solver state and arithmetic stay in float32 (the
            scaled states of Heun/Euler on Flow or VE lose every digit in bfloat16); the
            result comes back in ``x_T``'s dtype.
        check_finite: after the loop, raise if any ``x0_hat`` was NaN/inf, naming the step
            (one host sync; a CUDA graph capture turns it off and checks the output instead).
        differentiable: record the autograd graph of the whole solve (gradients through
            sampling, e.g. attacks on a purifier); memory then grows with ``steps``. By default
            the solve runs under :func:`torch.no_grad` whatever the caller's grad mode.
        **solver_options: options of the solver (``eta``, ``order``, ``variant``, ``snr`` ...).

    Returns:
        The sample, shaped and typed like ``x_T``.
    """
    if not isinstance(differentiable, bool):
        raise TypeError(f"differentiable must be a bool, got {describe(differentiable)}")
    if not isinstance(check_finite, bool):
        raise TypeError(f"check_finite must be a bool, got {describe(check_finite)}")
    if not callable(model):
        raise TypeError(f"model must be callable as model(x, t, **cond), got {describe(model)}")
    for name, hook in (("callback", callback), ("project_x0", project_x0), ("project_x", project_x)):
        if hook is not None and not callable(hook):
            raise TypeError(f"{name} must be callable or None, got {describe(hook)}")
    with torch.set_grad_enabled(differentiable and torch.is_grad_enabled()):
        return _sample(model, process, x_T, steps, solver, prediction, grid=grid, t_start=t_start,
                       t_end=t_end, final=final, cond=cond, guidance=guidance, known=known,
                       project_x0=project_x0, project_x=project_x, noise=noise, generator=generator,
                       callback=callback, model_dtype=model_dtype, check_finite=check_finite,
                       solver_options=solver_options)


@functools.cache
def solver_options_of(solver: str) -> tuple[str, ...]:
    """The keyword options ``solver`` takes (``eta``, ``order`` ...), from its signature."""
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; expected one of {sorted(SOLVERS)}")
    params = inspect.signature(SOLVERS[solver]).parameters.values()
    return tuple(p.name for p in params if p.kind is p.KEYWORD_ONLY and p.name not in ("post", "noise"))


def _check_options(solver: str, options: Mapping[str, Any]) -> None:
    allowed = solver_options_of(solver)
    if "fused" in options:
        raise TypeError("the fused option was removed (issue #25): the compiled updates were slower than "
                        "the eager ones at every size measured; call without it")
    check_solver_options(solver, allowed, options)


def _sample(model, process, x_T, steps, solver, prediction, *, grid, t_start, t_end, final, cond,
            guidance, known, project_x0, project_x, noise, generator, callback, model_dtype,
            check_finite, solver_options) -> Tensor:
    if solver in DEPRECATED_NAMES:
        warnings.warn(f"solver {solver!r} is deprecated; use {DEPRECATED_NAMES[solver]!r}", DeprecationWarning,
                      stacklevel=3)
        solver = DEPRECATED_NAMES[solver]
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; expected one of {sorted(SOLVERS)}")
    if prediction not in PREDICTIONS:
        raise ValueError(f"unknown prediction {prediction!r}; expected one of {PREDICTIONS}")
    if not isinstance(process, GaussianProcess):
        raise TypeError(f"process must be a GaussianProcess, got {type(process).__name__}")
    if not isinstance(x_T, Tensor) or not x_T.is_floating_point():
        got = f"a {x_T.dtype} tensor" if isinstance(x_T, Tensor) else type(x_T).__name__
        raise TypeError(f"x_T must be a floating-point tensor, got {got}")
    if model_dtype is not None and not (isinstance(model_dtype, torch.dtype) and model_dtype.is_floating_point):
        raise TypeError(f"model_dtype must be a floating-point torch.dtype or None, got {model_dtype!r}")
    if x_T.ndim < 1 or x_T.shape[0] < 1 or x_T.numel() == 0:
        raise ValueError(f"x_T must be a non-empty batch [B, ...], got shape {tuple(x_T.shape)}")
    # a sum is finite iff every entry is (up to overflow, which the full check then rules out)
    if check_finite and not torch.isfinite(x_T.sum()) and not torch.isfinite(x_T).all():
        raise ValueError("x_T contains NaN or inf")
    check_cond(cond)
    if isinstance(guidance, CFG):
        check_cond(guidance.uncond, "guidance.uncond")
    generator = check_generator(generator, "generator", batch=x_T.shape[0])
    if noise is not None:
        noise = checked_noise(noise)
    if guidance is not None and not isinstance(guidance, (CFG, ClassifierGuidance)):
        raise TypeError("guidance must be a polydiff.core.CFG or ClassifierGuidance")
    if known is not None and not isinstance(known, Known):
        raise TypeError("known must be a polydiff.core.Known")
    _check_options(solver, solver_options)
    if isinstance(grid, Grid):
        check_grid_for(grid, process)
        g = grid
    else:
        if isinstance(steps, numbers.Integral) and not isinstance(steps, bool):
            steps = int(steps)  # NumPy integers too
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
        g = build_grid(process, steps, solver, grid, t_start=t_start, t_end=t_end, final=final)
    if g.t.ndim == 2 and g.t.shape[1] != x_T.shape[0]:
        raise ValueError(f"per-sample times for {g.t.shape[1]} samples but x_T has batch {x_T.shape[0]}")
    if known is not None:
        try:
            torch.broadcast_shapes(known.values.shape, x_T.shape)
        except RuntimeError:
            raise ValueError(f"known values {tuple(known.values.shape)} do not match x_T {tuple(x_T.shape)}") from None

    out_dtype = x_T.dtype
    if x_T.dtype in _HALF:  # the network runs in half precision, the solver state in float32
        model_dtype = model_dtype or x_T.dtype
        x_T = x_T.float()
    if project_x0 is None:
        project_x0 = process.x0_projection()
    user_noise = noise
    noise = noise if noise is not None else GaussianNoise(generator)
    den = Denoiser(model, process, g, prediction, x_T, cond=cond, guidance=guidance,
                   project_x0=project_x0, model_dtype=model_dtype,
                   check_grid=False)  # a given grid was checked above
    clean = (g.sigma == 0).reshape(g.t.shape[0], -1).all(1).tolist()
    if known is not None:  # the levels alpha_i, sigma_i the known values are noised to
        from ._broadcast import append_dims

        def level(v):
            return float(v) if v.ndim == 0 else append_dims(v, x_T.ndim)

        a_l = [level(v) for v in g.alpha.to(x_T.device, x_T.dtype)]
        s_l = [level(v) for v in g.sigma.to(x_T.device, x_T.dtype)]

    def post(x: Tensor, i: int) -> Tensor:
        if known is not None:
            z = None if clean[i] or not known.noised else noise(x, i)
            x = known.impose(x, a_l[i], s_l[i], z)
        if project_x is not None:
            x = project_x(x, g.t[i])
        if callback is not None:
            callback({"step": i, "x": x, "t": g.t[i], "nfe": den.nfe})
        return x

    # nothing outside the solver sees the state: it may be updated in place, and a non-finite
    # x0_hat can only come from the model (so the input states need no finiteness sums)
    post.private = known is None and project_x is None and callback is None and not torch.is_grad_enabled()
    den.track_inputs = not (post.private and user_noise is None)
    fn = SOLVERS[solver]
    x = x_T
    if known is not None:
        x = post(x, 0) if not clean[0] else x
    if known is not None and known.resample > 1:
        x = _repaint(fn, den, g, x, post, noise, known, solver_options)
    else:
        x = fn(den, g, x, post=post, noise=noise, **solver_options)
    if check_finite:
        den.check_finite()
    return x.to(out_dtype)


def _repaint(fn, den, g: Grid, x: Tensor, post, noise, known: Known, options) -> Tensor:
    """RePaint's resampling schedule (Lugmayr et al. 2022, Alg. 1 and sec. 4.2): solve
    ``jump_length`` steps, diffuse back up by the same steps with ``q(x_hi | x_lo)``, and
    re-solve, ``resample - 1`` extra times per chunk; the last chunk is not repeated."""
    from ._broadcast import append_dims

    n, j = g.steps, int(known.jump_length)
    i = 0
    while i < n:
        i1 = min(i + j, n)
        x_start = None
        for r in range(known.resample):
            if r > 0:
                # forward jump from point i1 back to point i: x_i = a_{i|i1} x + s_{i|i1} z
                a_hi, s_hi, a_lo, s_lo = g.alpha[i], g.sigma[i], g.alpha[i1], g.sigma[i1]
                a_rel = a_hi / a_lo
                s_rel = torch.sqrt((s_hi**2 - a_rel**2 * s_lo**2).clamp_min(0))
                def c(v: Tensor, ref: Tensor = x) -> Tensor | float:
                    return float(v) if v.ndim == 0 else append_dims(v.to(ref), ref.ndim)

                x = c(a_rel) * x + c(s_rel) * noise(x, i1)
            x_start = x
            x = fn(_Shifted(den, i), _sub(g, i, i1), x_start,
                   post=lambda y, k, _o=i: post(y, k + _o), noise=noise, **options)
            if i1 == n or bool((g.sigma[i1] == 0).all()):
                break
        i = i1
    return x

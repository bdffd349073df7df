"""Time steps fitted to a model: choose the ``N`` evaluation times that bring the ``N``-step
solution closest to a fine reference solution from the same prior samples (the objective of
"Align Your Steps", Sabour et al. 2024, and of GITS, Chen et al. 2024, here minimised directly).

The grid keeps its first point (``t_start``) and ends on clean data (``final="spaced"``); the
``N - 1`` inner points are placed in log-SNR by cyclic coordinate search: each point in turn
is moved by golden-section search between its neighbours, and a move is kept only if it lowers
the RMSE against the reference on the fitting samples. No gradients flow through the model, so
any solver and any model work.

Cost: a trial that moves point ``k`` leaves the evaluations at points ``0 .. k-1`` unchanged
(a deterministic solver's state there does not depend on later points), so they are replayed
from the best trial so far instead of recomputed (:class:`_Replay`, exact: a call is replayed
only when its inputs equal the recorded ones bit for bit): about ``N / 2`` evaluations per
trial instead of ``N``.
"""
from __future__ import annotations

import inspect
import json
import math
import pathlib
import time
from collections.abc import Callable

import torch
from torch import Tensor

from .grids import GRID_KINDS, Grid, make_grid
from .process import GaussianProcess
from .validate import check_file

__all__ = ["grid_from_json", "grid_to_json", "optimize_grid"]

_GOLD = (math.sqrt(5.0) - 1.0) / 2.0


def _grid_from_log_snr(process: GaussianProcess, lam: Tensor, t0: Tensor) -> Grid:
    """Evaluated points at log-SNR ``lam`` (the first is ``t0`` itself), then clean data."""
    t = process.t_from_log_snr(lam).double().clone()
    t[0] = t0
    t = torch.cat([t, t[-1:]])
    alpha = torch.cat([process.alpha(t[:-1]).double(), torch.ones(1, dtype=torch.float64)])
    sigma = torch.cat([process.sigma(t[:-1]).double(), torch.zeros(1, dtype=torch.float64)])
    return Grid(t=t, alpha=alpha, sigma=sigma)


class _Replay:
    """``model`` that replays the leading calls of a recorded trial whose inputs recur exactly.

    A trial records every call ``(x, t, kwargs, out)`` in order; :meth:`promote` makes a trial
    the one replayed. In the next trials, call ``i`` returns the recorded output of call ``i``
    while ``t``, ``x`` and every keyword tensor equal the recorded ones (``torch.equal``); from
    the first difference on, the model runs. Inputs and outputs are copied (solvers update
    states and outputs in place).
    """

    def __init__(self, model: Callable[..., Tensor]):
        self.model, self.base, self.trace, self.calls = model, [], [], 0

    def start(self) -> None:
        """Begin a trial: replay from its first call."""
        self.trace, self.calls = [], 0

    def promote(self) -> None:
        """Replay the trial just run in the following ones (it is the best so far)."""
        self.base = self.trace

    def __call__(self, x: Tensor, t: Tensor, **kw) -> Tensor:
        i = len(self.trace)
        if (i == self.calls and i < len(self.base) and self.base[i][3] is not None
                and _same((x, t, kw), self.base[i][:3])):
            self.calls += 1
            self.trace.append(self.base[i])
            return self.base[i][3].clone()
        out = self.model(x, t, **kw)  # an output that is no tensor is recorded as not replayable
        self.trace.append((x.clone(), t.clone(), dict(kw), out.clone() if isinstance(out, Tensor) else None))
        return out


def _same(a, b) -> bool:
    """Exact equality of nested (tensor, tensor, {name: value}) call inputs."""
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return (isinstance(a, Tensor) and isinstance(b, Tensor) and a.shape == b.shape and a.dtype == b.dtype
                and a.device == b.device and torch.equal(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same(u, v) for u, v in zip(a, b))
    if a is b:
        return True
    try:
        return type(a) is type(b) and bool(a == b)
    except (TypeError, ValueError, RuntimeError):  # values without a plain equality: not replayed
        return False


def optimize_grid(model: Callable[..., Tensor], process: GaussianProcess, x_T: Tensor, steps: int,
                  solver: str = "dpmpp_2m", prediction: str = "eps", *, reference: Tensor | None = None,
                  start: Grid | None = None, sweeps: int = 3, iters: int = 12, budget_s: float = 60.0,
                  **sample_kwargs) -> Grid:
    """Fit the ``steps``-step grid of ``solver`` to ``model`` on the prior samples ``x_T``.

    Args:
        model, process, solver, prediction: as for :func:`~polydiff.core.sample`.
        x_T: fitting samples from the prior ``[B, ...]`` at the start time (``t_max``, or the
            first point of ``start``); a few hundred; keep others to check.
        steps: number of steps of the fitted grid.
        reference: the target ``x_0`` for ``x_T`` (default: adaptive RK45 at ``rtol = 1e-6``
            from the start time; on a slow model pass a fine fixed-step solution instead).
        start: the starting grid, ending on clean data (default: the best on ``x_T`` of
            ``sample``'s default grid, when it starts at ``t_max``, and every grid kind with
            ``final="spaced"``); the result is never worse than the start on ``x_T``. The
            fitted grid starts where the start does: a ``DiscreteVP`` default grid with
            diffusers' ``leading`` spacing starts below ``t_max`` (830 of 999 at 5 steps) and is
            no candidate, as ``x_T`` is a sample at ``t_max``.
        sweeps: passes over the inner points.
        iters: golden-section iterations per point and sweep (each shrinks the point's
            interval by 0.618; the trials per point are ``iters + 2``).
        budget_s: wall-clock budget in seconds; the search stops after the point that exceeds it.
        **sample_kwargs: passed to every :func:`~polydiff.core.sample` call (``cond`` ...).

    Returns:
        A :class:`Grid` for ``sample(..., grid=...)`` (save it with :func:`grid_to_json`).
    """
    from .sample import _check_options, build_grid, sample
    from .sample_checks import check_grid_for
    from .solvers import SOLVERS
    from .validate import check_tensor

    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
        raise ValueError(f"steps must be an integer >= 2 (one step has no inner point), got {steps!r}")
    if not isinstance(x_T, Tensor) or not x_T.is_floating_point() or x_T.ndim < 2:
        raise TypeError(f"x_T must be a floating-point tensor [B, ...], got {getattr(x_T, 'shape', type(x_T).__name__)}")
    if isinstance(sweeps, bool) or not isinstance(sweeps, int) or sweeps < 1:
        raise ValueError(f"sweeps must be a positive int, got {sweeps!r}")
    if isinstance(iters, bool) or not isinstance(iters, int) or iters < 1:
        raise ValueError(f"iters must be a positive int, got {iters!r}")
    if not budget_s > 0:
        raise ValueError(f"budget_s must be > 0, got {budget_s!r}")
    if start is not None and (not isinstance(start, Grid) or start.t.ndim != 1 or start.steps != steps
                              or not start.to_clean()):
        raise ValueError(f"start must be a shared Grid of {steps} steps ending on clean data")
    if start is not None:
        check_grid_for(start, process, "start")
    # the solver's own options (eta, order ...) go to the fitted solver only, never to the
    # rk45 reference; checked here so that a bad one is named before the reference is solved
    sample_params = set(inspect.signature(sample).parameters)
    options = {k: v for k, v in sample_kwargs.items() if k not in sample_params}
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; expected one of {sorted(SOLVERS)}")
    _check_options(solver, options)
    ref_kwargs = {k: v for k, v in sample_kwargs.items() if k in sample_params}
    t0 = start.t[0] if start is not None else torch.tensor(float(process.t_max), dtype=torch.float64)
    if reference is None:  # rk45 uses the grid's start and end only
        reference = sample(model, process, x_T, solver="rk45", prediction=prediction, rtol=1e-6, atol=1e-6,
                           grid=make_grid(process, 2, "uniform_t", t_start=float(t0)), **ref_kwargs)
    check_tensor(reference, "reference", floating=True)
    if reference.shape != x_T.shape:
        raise ValueError(f"reference {tuple(reference.shape)} must match x_T {tuple(x_T.shape)}")

    t_begin = time.perf_counter()
    lam_max = float(process.log_snr(torch.tensor(process.t_min, dtype=torch.float64)))

    replay = _Replay(model)
    record = {"best": math.inf}

    def loss(lam_try: Tensor) -> float:
        """RMSE of the trial grid on x_T; the best trial so far is the one replayed."""
        g = _grid_from_log_snr(process, lam_try, t0)
        replay.start()
        out = sample(replay, process, x_T, grid=g, solver=solver, prediction=prediction, **sample_kwargs)
        err = float((out.double() - reference.double()).pow(2).mean().sqrt())
        err = err if math.isfinite(err) else math.inf
        if err < record["best"]:
            record["best"] = err
            replay.promote()
        return err

    # start: the given grid, else the best on x_T of sample's default (when it starts at t0,
    # where x_T lives) and the analytic kinds
    starts = [start] if start is not None else [g for g in [build_grid(process, steps, solver)] if g.t[0] == t0] + [
        make_grid(process, steps, kind, final="spaced") for kind in GRID_KINDS]
    best, lam = math.inf, None
    for g in starts:
        cand = process.log_snr(g.t[:steps]).double().clone()  # evaluated points; cand[0] stays
        f = loss(cand)
        if lam is None or f < best:
            best, lam = f, cand
    for _ in range(sweeps):
        for k in range(1, steps):
            lo = float(lam[k - 1])
            hi = float(lam[k + 1]) if k + 1 < steps else lam_max
            if hi > lo:
                best, lam = _golden(loss, lam, k, lo, hi, best, iters)
            if time.perf_counter() - t_begin > budget_s:
                return _grid_from_log_snr(process, lam, t0)
    return _grid_from_log_snr(process, lam, t0)


def _golden(loss, lam: Tensor, k: int, lo: float, hi: float, best: float, iters: int = 12):
    """Golden-section search of point ``k`` strictly inside ``(lo, hi)``; keep the best seen."""
    pad = 1e-3 * (hi - lo)
    a, b = lo + pad, hi - pad

    def at(v: float) -> float:
        trial = lam.clone()
        trial[k] = v
        return loss(trial)

    c, d = b - _GOLD * (b - a), a + _GOLD * (b - a)
    fc, fd = at(c), at(d)
    best_v, best_f = float(lam[k]), best
    for v, f in ((c, fc), (d, fd)):
        if f < best_f:
            best_v, best_f = v, f
    for _ in range(iters):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - _GOLD * (b - a)
            fc = at(c)
            if fc < best_f:
                best_v, best_f = c, fc
        else:
            a, c, fc = c, d, fd
            d = a + _GOLD * (b - a)
            fd = at(d)
            if fd < best_f:
                best_v, best_f = d, fd
    out = lam.clone()
    out[k] = best_v
    return best_f, out


def grid_to_json(grid: Grid, path: str | pathlib.Path) -> None:
    """Save a shared grid as JSON (``t``, ``alpha``, ``sigma`` lists), e.g. beside a model."""
    if not isinstance(grid, Grid) or grid.t.ndim != 1:
        raise TypeError(f"grid_to_json saves a shared Grid (t of shape [N+1]), got {type(grid).__name__}")
    doc = {"format": "polydiff-grid-1", "t": grid.t.tolist(), "alpha": grid.alpha.tolist(), "sigma": grid.sigma.tolist()}
    pathlib.Path(path).write_text(json.dumps(doc, indent=1))


def grid_from_json(path: str | pathlib.Path) -> Grid:
    """Load a grid saved by :func:`grid_to_json` (exact float64 round trip)."""
    path = check_file(path, "path")
    try:
        doc = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not valid JSON, truncated or corrupt ({e})") from None
    if not isinstance(doc, dict) or doc.get("format") != "polydiff-grid-1":
        raise ValueError(f"{path} is not a polydiff grid file (format 'polydiff-grid-1')")
    missing = [k for k in ("t", "alpha", "sigma") if not isinstance(doc.get(k), list)]
    if missing:
        raise ValueError(f"{path}: grid file lacks the lists {missing}")
    try:
        return Grid(**{k: doc[k] for k in ("t", "alpha", "sigma")})  # lists checked and converted by Grid
    except (TypeError, ValueError, RuntimeError) as e:
        raise ValueError(f"{path}: not a valid grid ({e})") from None

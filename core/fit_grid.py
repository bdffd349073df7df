"""Time steps fitted to a model: choose the ``N`` evaluation times that bring the ``N``-step
solution closest to a fine reference solution from the same prior samples (the objective of
"Align Your Steps", Sabour et al. 2024, and of GITS, Chen et al. 2024, here minimised directly).

The grid keeps its first point (``t_start``) and ends on clean data (``final="spaced"``); the
``N - 1`` inner points are placed in log-SNR by cyclic coordinate search: each point in turn
is moved by golden-section search between its neighbours, and a move is kept only if it lowers
the RMSE against the reference on the fitting samples. No gradients flow through the model, so
any solver and any model work; the cost is ``N`` evaluations per trial.
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


def optimize_grid(model: Callable[..., Tensor], process: GaussianProcess, x_T: Tensor, steps: int,
                  solver: str = "dpmpp_2m", prediction: str = "eps", *, reference: Tensor | None = None,
                  start: Grid | None = None, sweeps: int = 3, budget_s: float = 60.0,
                  **sample_kwargs) -> Grid:
    """Fit the ``steps``-step grid of ``solver`` to ``model`` on the prior samples ``x_T``.

    Args:
        model, process, solver, prediction: as for :func:`~polydiff.core.sample`.
        x_T: fitting samples from the prior ``[B, ...]`` (a few hundred; keep others to check).
        steps: number of steps of the fitted grid.
        reference: the target ``x_0`` for ``x_T`` (default: adaptive RK45 at ``rtol = 1e-6``).
        start: the starting grid, ending on clean data (default: the best on ``x_T`` of
            ``sample``'s default grid and every grid kind with ``final="spaced"``); the result
            is never worse than the start on ``x_T``.
        sweeps: passes over the inner points.
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
    if reference is None:
        reference = sample(model, process, x_T, steps=2, solver="rk45", prediction=prediction, rtol=1e-6,
                           atol=1e-6, **ref_kwargs)
    check_tensor(reference, "reference", floating=True)
    if reference.shape != x_T.shape:
        raise ValueError(f"reference {tuple(reference.shape)} must match x_T {tuple(x_T.shape)}")

    t_begin = time.perf_counter()
    lam_max = float(process.log_snr(torch.tensor(process.t_min, dtype=torch.float64)))

    def loss(lam_try: Tensor) -> float:
        g = _grid_from_log_snr(process, lam_try, t0)
        out = sample(model, process, x_T, grid=g, solver=solver, prediction=prediction, **sample_kwargs)
        err = float((out.double() - reference.double()).pow(2).mean().sqrt())
        return err if math.isfinite(err) else math.inf

    # start: the given grid, else the best on x_T of sample's default and the analytic kinds
    starts = [start] if start is not None else [build_grid(process, steps, solver)] + [
        make_grid(process, steps, kind, final="spaced") for kind in GRID_KINDS]
    t0 = starts[0].t[0]
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
                best, lam = _golden(loss, lam, k, lo, hi, best)
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

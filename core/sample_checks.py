"""The checks of :func:`~polydiff.core.sample` on what the caller passed: solver options, the
conditioning inputs, a ready-made grid, a noise sampler. Each names the argument at fault."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .grids import Grid
from .process import GaussianProcess
from .validate import check_choice, check_finite, check_int, check_number, describe

__all__ = ["check_cond", "check_grid_for", "check_solver_options", "checked_noise"]


def _flag(v: Any, name: str) -> bool:
    if not isinstance(v, bool):
        raise TypeError(f"{name} must be a bool, got {describe(v)}")
    return v


#: Option name -> check (the value's range is the one the solver's paper defines).
_OPTION_CHECKS: dict[str, Callable[[Any, str], Any]] = {
    # DDIM eq. 16: eta in [0, 1] interpolates deterministic DDIM (0) and DDPM (1); above 1 the
    # direction term sqrt(sigma_t^2 - s^2) would be imaginary.
    "eta": lambda v, n: check_number(v, n, low=0.0, high=1.0),
    # Song et al. 2021, Alg. 4: Langevin step 2 (snr |z| / |grad|)^2; their snr is 0.01-0.17,
    # and beyond 1 the corrector step outgrows the score it follows
    "snr": lambda v, n: check_number(v, n, low=0.0, high=1.0, low_open=True),
    "n_corrector": lambda v, n: check_int(v, n, low=0),
    "order": lambda v, n: check_int(v, n, low=1, high=3),
    # tolerances of an adaptive solver: relative/absolute errors, meaningless at 1 or above
    "rtol": lambda v, n: check_number(v, n, low=0.0, high=1.0, low_open=True, high_open=True),
    "atol": lambda v, n: check_number(v, n, low=0.0, high=1.0, low_open=True, high_open=True),
    "max_evals": lambda v, n: check_int(v, n, low=1),
    "lower_order_final": _flag,
    "corrector": _flag,
    "reproject_eps": lambda v, n: v if v is None else _flag(v, n),
    "variant": lambda v, n: check_choice(v, n, ("bh1", "bh2")),
    "warmup": lambda v, n: check_choice(v, n, ("multistep", "singlestep")),
    "predictor": lambda v, n: check_choice(v, n, ("euler_maruyama", "none")),
    "step_norm": lambda v, n: check_choice(v, n, ("batch", "sample")),
}


def check_solver_options(solver: str, allowed: tuple[str, ...], options: Mapping[str, Any]) -> None:
    """Unknown options are a ``TypeError``; known ones must lie in their paper's range."""
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise TypeError(f"solver {solver!r} takes the options {list(allowed)}, got unknown {unknown}")
    for name, value in options.items():
        check = _OPTION_CHECKS.get(name)
        if check is not None:
            check(value, name)


def check_cond(cond: Mapping[str, Any] | None, name: str = "cond") -> None:
    """Every numeric value in ``cond`` (a mapping of model keyword arguments) is finite: tensors,
    NumPy arrays, Python numbers and (nested) lists of numbers. Values are not converted: the
    model receives what the caller passed."""
    if cond is None:
        return
    if not isinstance(cond, Mapping):
        raise TypeError(f"{name} must be a mapping of model keyword arguments, got {describe(cond)}")
    for key, value in cond.items():
        _check_value(value, f"{name}[{key!r}]")


def _check_value(value: Any, name: str) -> None:
    if isinstance(value, Tensor):
        check_finite(value, name)
        return
    if isinstance(value, bool):
        return
    if isinstance(value, numbers.Real):
        if not math.isfinite(float(value)):
            raise ValueError(f"{name} must be finite, got {value!r}")
        return
    if isinstance(value, (np.ndarray, list, tuple)):
        try:
            arr = np.asarray(value)
        except (ValueError, TypeError):  # ragged or mixed: not numeric data
            return
        if arr.dtype.kind in "fc" and arr.size:
            bad = ~np.isfinite(arr)
            if bad.any():
                first = tuple(int(i) for i in np.argwhere(bad)[0])
                kind = "NaN" if np.isnan(arr).any() else "inf"
                raise ValueError(
                    f"{name} contains {int(bad.sum())} non-finite value(s) ({kind} first at index {first})"
                )


def check_grid_for(grid: Grid, process: GaussianProcess, name: str = "grid") -> None:
    """A ready-made ``grid`` must have been built for ``process``: its times inside the process
    range and its ``(alpha, sigma)`` the process's at those times (a grid of another process
    would evaluate the model at noise levels it was never trained on)."""
    noisy = grid.sigma > 0
    noisy[-1] = False  # the last point is never evaluated
    if not bool(noisy.any()):
        return
    t = grid.t[noisy]
    lo, hi = float(t.min()), float(t.max())
    if lo < process.t_min - 1e-9 or hi > process.t_max + 1e-9:
        raise ValueError(
            f"{name} has times in [{lo:g}, {hi:g}], outside the range [{process.t_min:g}, "
            f"{process.t_max:g}] of {type(process).__name__}: it was built for another process"
        )
    t64 = t.to(torch.float64)
    a = process.alpha(t64).to(torch.float64)
    s = process.sigma(t64).to(torch.float64)
    err = torch.maximum(
        ((grid.alpha[noisy] - a).abs() / a.abs()).max(), ((grid.sigma[noisy] - s).abs() / s.abs()).max()
    )
    if float(err) > 1e-3:
        raise ValueError(
            f"{name}'s (alpha, sigma) differ from {type(process).__name__}'s at its own times "
            f"(relative error {float(err):.3g}): it was built for another process; build it with "
            "make_grid(process, ...)"
        )


def checked_noise(noise: Callable[[Tensor, int], Tensor], name: str = "noise") -> Callable:
    """``noise`` wrapped so that each draw must be a tensor shaped like the state (never
    broadcast: a ``[1, D]`` draw would give every sample the same noise)."""
    if not callable(noise):
        raise TypeError(f"{name} must be callable as noise(x, step), got {describe(noise)}")

    def draw(x: Tensor, step: int = 0) -> Tensor:
        z = noise(x, step)
        if not isinstance(z, Tensor) or z.shape != x.shape:
            got = tuple(z.shape) if isinstance(z, Tensor) else describe(z)
            raise ValueError(
                f"{name}(x, step) must return a tensor of the state's shape {tuple(x.shape)}, "
                f"got {got} at step {step}"
            )
        return z  # finiteness: the denoiser's end-of-solve check (no host sync per step)

    return draw

"""Train the purification model until its denoising loss stops improving.

DiffPure only helps when its diffusion model has learnt the data (the issue's "a diffusion model
trained until its denoising loss stops improving"), so the full-mode bench does not fix its
step count: :func:`denoising_loss_fn` is the training loop's ``eval_fn``, the denoising score
matching loss (eps-prediction, Ho et al. 2020 eq. 14) of the EMA weights on fixed validation
images at fixed, stratified times in ``(t_min, t_max]`` with fixed noise (the same draws at every
evaluation: the differences along the curve are the model's alone), and :func:`plateau` reads the
curve: the run has stopped improving when that loss fell by at most ``tol`` (relative) over the
last ``window`` of its steps. :func:`stages` gives the step counts tried, each ``growth`` times
the previous one, up to a cap (``train_diffusion(val=..., max_steps=...)``, which writes the
verdict to :func:`plateau_file`).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import polydiff.core as pc
import torch
from polydiff.core.losses import dsm_loss
from polydiff.core.validate import check_int, check_number
from torch import Tensor, nn

from .purify import check_images

__all__ = ["KEY", "denoising_loss_fn", "plateau", "plateau_file", "stages"]

#: The metrics-log key :func:`plateau` reads.
KEY = "eval/val_dsm"


def denoising_loss_fn(x: Tensor, process: pc.GaussianProcess, *, t_max: float | None = None, repeats: int = 2,
                      batch_size: int = 256, seed: int = 0) -> Callable[[nn.Module, int], dict[str, float]]:
    """``eval_fn(net, step)`` for :class:`~polydiff.core.training.Trainer`: ``{"val_dsm"}``, the
    mean eps-prediction DSM loss of ``net`` on ``repeats`` copies of the images ``x`` (in [0, 1],
    scaled to [-1, 1] as in training) at times stratified over ``(t_min, t_max]`` (one per copy,
    midpoints of ``len(x) * repeats`` equal strata, shuffled once) and noise drawn from ``seed``:
    the same times and noise at every call."""
    check_images(x)
    repeats = check_int(repeats, "repeats", low=1)
    batch_size = check_int(batch_size, "batch_size", low=1)
    seed = check_int(seed, "seed")
    hi = process.t_max if t_max is None else check_number(t_max, "t_max", low=process.t_min, low_open=True,
                                                         high=process.t_max)
    n = x.shape[0] * repeats
    g = torch.Generator().manual_seed(seed)
    u = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    t = (process.t_min + (hi - process.t_min) * u)[torch.randperm(n, generator=g)]
    x0 = (2.0 * x - 1.0).repeat(repeats, *([1] * (x.dim() - 1)))
    noise = torch.randn(x0.shape, generator=g, dtype=x0.dtype)

    def evaluate(net: nn.Module, step: int) -> dict[str, float]:
        dev = next(net.parameters()).device
        total = 0.0
        with torch.no_grad():
            for i in range(0, n, batch_size):
                sl = slice(i, i + batch_size)
                loss = dsm_loss(net, process, x0[sl].to(dev), prediction="eps", t=t[sl].to(dev),
                                eps=noise[sl].to(dev))
                total += float(loss.sum())
        return {"val_dsm": total / n}

    return evaluate


def plateau(curve: dict[int, float], last_step: int, *, window: float = 0.25, tol: float = 0.01) -> dict:
    """Whether a run of ``last_step`` steps has stopped improving by its validation loss ``curve``
    (``{step: loss}``, only steps ``<= last_step`` read): ``{"last_step", "from_step",
    "relative_drop", "still_improving"}``, where ``relative_drop = (L(from) - L(last)) / L(from)``
    and ``from_step`` is the last evaluation at or before ``(1 - window) * last_step``. Without an
    evaluation at ``last_step`` or one that early there is no evidence of a plateau:
    ``still_improving`` is then True (``relative_drop`` None)."""
    last_step = check_int(last_step, "last_step", low=1)
    check_number(window, "window", low=0.0, low_open=True, high=1.0, high_open=True)
    check_number(tol, "tol", low=0.0)
    start = (1.0 - window) * last_step
    early = [s for s in curve if s <= start]
    out = {"last_step": last_step, "from_step": max(early) if early else None, "relative_drop": None,
           "still_improving": True, "window": window, "tol": tol}
    if last_step in curve and early:
        before, after = curve[out["from_step"]], curve[last_step]
        if not (math.isfinite(before) and math.isfinite(after) and before > 0):
            raise ValueError(f"curve: validation losses must be finite and positive, got {before} at step "
                             f"{out['from_step']} and {after} at step {last_step}")
        out["relative_drop"] = (before - after) / before
        out["still_improving"] = out["relative_drop"] > tol
    return out


def stages(steps: int, max_steps: int, *, growth: float = 1.5, multiple: int = 1) -> list[int]:
    """The step counts a run is checked at: ``steps``, then each ``growth`` times the previous one
    rounded up to a ``multiple`` (the evaluation period, so that each stage ends on an
    evaluation), up to ``max_steps`` (the last stage)."""
    steps = check_int(steps, "steps", low=1)
    max_steps = check_int(max_steps, "max_steps", low=steps)
    check_number(growth, "growth", low=1.0, low_open=True)
    multiple = check_int(multiple, "multiple", low=1)
    out = [steps]
    while out[-1] < max_steps:
        out.append(min(max_steps, multiple * math.ceil(out[-1] * growth / multiple)))
    return out


def plateau_file(run_dir: str | Path) -> Path:
    """Where ``train_diffusion`` writes the stages it trained and the verdict of the last one."""
    return Path(run_dir) / "plateau.json"

"""Image-to-image synthesis by SDEdit (Meng et al. 2022).

A guide image (a stroke painting, a corrupted or out-of-domain image) is perturbed by the
forward process to time ``t0`` and denoised back from there (sec. 3, Alg. 1): small ``t0``
keeps the guide (faithfulness), large ``t0`` yields a realistic image that forgets it.
``strength`` in ``(0, 1]`` places ``t0`` between the process's ``t_min`` and ``t_max``.
"""
from __future__ import annotations

import torch
from polydiff.core.validate import check_int, check_number, describe
from torch import Tensor

from ._common import check_flag, check_image_shape, net_prediction, randn_like, sample_kwargs
from .data import check_images, from_model_range, to_model_range

__all__ = ["sdedit", "strength_to_time", "stroke_painting"]


def strength_to_time(process, strength: float) -> float:
    """``t0 = t_min + strength * (t_max - t_min)`` (for DiscreteVP: a timestep index)."""
    strength = check_number(strength, "strength", low=0.0, high=1.0, low_open=True)
    return float(process.t_min + strength * (process.t_max - process.t_min))


def stroke_painting(images: Tensor, cells: int = 7, levels: int = 4) -> Tensor:
    """A crude "stroke painting" guide: block-average to ``cells`` x ``cells`` and quantise
    to ``levels`` grey/colour levels, then up-sample with nearest neighbours (SDEdit's
    stroke-based inputs, synthesised from real images)."""
    check_images(images)
    cells, levels = check_int(cells, "cells", low=1), check_int(levels, "levels", low=2)
    if cells > min(images.shape[-2:]):
        raise ValueError(f"cells must be at most the image side {min(images.shape[-2:])} "
                         f"(images {tuple(images.shape[-2:])}), got {cells}")
    small = torch.nn.functional.adaptive_avg_pool2d(images, cells)
    small = torch.round(small * (levels - 1)) / (levels - 1)
    return torch.nn.functional.interpolate(small, size=images.shape[-2:], mode="nearest")


@torch.no_grad()
def sdedit(net, process, guide: Tensor, strength: float = 0.5, *, steps: int = 50,
           solver: str = "ddim", generator: torch.Generator | None = None,
           cond: dict | None = None, guidance=None, clip: bool = True, prediction: str | None = None,
           **solver_options) -> Tensor:
    """Perturb ``guide`` (``[N, C, H, W]`` in [0, 1]) to ``t0`` and solve back to data.

    ``x_t0 = alpha(t0) x_guide + sigma(t0) eps`` (eq. 4), then
    ``pc.sample(..., t_start=t0)`` runs the partial reverse trajectory with any solver;
    ``clip`` clamps every ``x0_hat`` to ``[-1, 1]``.
    ``prediction`` (what ``net`` outputs) defaults to the U-Net config's.
    """
    import polydiff.core as pc
    check_images(guide, "guide")
    check_image_shape(net, guide.shape[1:], "guide's (C, H, W)")
    t0 = strength_to_time(process, strength)
    kw = sample_kwargs(steps, solver, generator, solver_options)
    check_flag(clip, "clip")
    if cond is not None and not isinstance(cond, dict):
        raise TypeError(f"cond must be a dict of conditioning tensors or None, got {describe(cond)}")
    dev = next(net.parameters()).device
    x0 = to_model_range(guide.to(dev))
    eps = randn_like(x0, kw.pop("generator"))
    x_t0 = process.marginal(x0, torch.full((len(x0),), t0, dtype=torch.float64), eps)
    out = pc.sample(net, process, x_t0, prediction=net_prediction(net, prediction), t_start=t0, cond=cond,
                    guidance=guidance, project_x0=pc.clip() if clip else None, generator=generator, **kw)
    return from_model_range(out)

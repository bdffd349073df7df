"""Image-to-image synthesis by SDEdit (Meng et al. 2022).

A guide image (a stroke painting, a corrupted or out-of-domain image) is perturbed by the
forward process to time ``t0`` and denoised back from there (sec. 3, Alg. 1): small ``t0``
keeps the guide (faithfulness), large ``t0`` yields a realistic image that forgets it.
``strength`` in ``(0, 1]`` places ``t0`` between the process's ``t_min`` and ``t_max``.
"""
from __future__ import annotations

import torch
from torch import Tensor

from ._common import net_prediction, randn_like, sample_kwargs
from .data import check_images, from_model_range, to_model_range

__all__ = ["sdedit", "strength_to_time", "stroke_painting"]


def strength_to_time(process, strength: float) -> float:
    """``t0 = t_min + strength * (t_max - t_min)`` (for DiscreteVP: a timestep index)."""
    if not isinstance(strength, (int, float)) or not 0.0 < strength <= 1.0:
        raise ValueError(f"strength must lie in (0, 1], got {strength!r}")
    return float(process.t_min + strength * (process.t_max - process.t_min))


def stroke_painting(images: Tensor, cells: int = 7, levels: int = 4) -> Tensor:
    """A crude "stroke painting" guide: block-average to ``cells`` x ``cells`` and quantise
    to ``levels`` grey/colour levels, then up-sample with nearest neighbours (SDEdit's
    stroke-based inputs, synthesised from real images)."""
    check_images(images)
    if cells < 1 or levels < 2:
        raise ValueError(f"need cells >= 1 and levels >= 2, got {cells}, {levels}")
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
    t0 = strength_to_time(process, strength)
    kw = sample_kwargs(steps, solver, generator, solver_options)
    dev = next(net.parameters()).device
    x0 = to_model_range(guide.to(dev))
    eps = randn_like(x0, kw.pop("generator"))
    x_t0 = process.marginal(x0, torch.full((len(x0),), t0, dtype=torch.float64), eps)
    out = pc.sample(net, process, x_t0, prediction=net_prediction(net, prediction), t_start=t0, cond=cond,
                    guidance=guidance, project_x0=pc.clip() if clip else None, generator=generator, **kw)
    return from_model_range(out)

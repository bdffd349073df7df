"""Super-resolution by iterative refinement (SR3, Saharia et al. 2022).

The low-resolution image is up-sampled bicubically to the target size and concatenated to
the noisy image on the channel axis (sec. 2.1: ``f(x_lr_upsampled, y_t, gamma)``). The
optional ``consistent=True`` projects every ``x0_hat`` (and the output) onto the images in
the valid range whose ``factor``-fold area down-sampling equals the input (the
data-consistency step of ILVR/DDRM-style samplers). Per low-resolution pixel that set is a
capped simplex ``{v in [-1, 1]^(f*f) : mean(v) = x_lr}``, whose Euclidean projection is
``clamp(v + c, -1, 1)`` with the scalar ``c`` found by bisection.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ._common import prior, sample_kwargs
from .data import check_images, from_model_range, to_model_range
from .nets import UNet

__all__ = [
    "bicubic",
    "consistency_projection",
    "downsample",
    "regression_loss",
    "regression_upsample",
    "super_resolve",
    "superres_loss",
]


def downsample(images: Tensor, factor: int) -> Tensor:
    """Area (box-filter) down-sampling by an integer ``factor`` — the degradation model."""
    check_images(images, unit_range=False)
    if not isinstance(factor, int) or factor < 1:
        raise ValueError(f"factor must be a positive int, got {factor!r}")
    h, w = images.shape[-2:]
    if h % factor or w % factor:
        raise ValueError(f"image size {h}x{w} is not divisible by factor {factor}")
    return F.avg_pool2d(images, factor)


def bicubic(lowres: Tensor, factor: int) -> Tensor:
    """Bicubic up-sampling by ``factor``, clamped to [0, 1] (the baseline and SR3's input)."""
    check_images(lowres)
    out = F.interpolate(lowres, scale_factor=factor, mode="bicubic", align_corners=False)
    return out.clamp(0.0, 1.0)


def consistency_projection(lowres_model: Tensor, factor: int):
    """``project_x0`` hook mapping ``x0_hat`` onto ``{x : down_area(x) = lowres}`` (model range)."""
    def project(x0: Tensor, t: Tensor | None) -> Tensor:
        n, c, h, w = x0.shape
        f = factor
        blocks = x0.double().reshape(n, c, h // f, f, w // f, f).permute(0, 1, 2, 4, 3, 5)
        blocks = blocks.reshape(n, c, h // f, w // f, f * f)
        target = lowres_model.double().to(x0.device).unsqueeze(-1)
        lo = -1.0 - blocks.amax(-1, keepdim=True)  # shift that clamps everything to -1
        hi = 1.0 - blocks.amin(-1, keepdim=True)   # ... and to +1
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            low = (blocks + mid).clamp(-1.0, 1.0).mean(-1, keepdim=True) < target
            lo, hi = torch.where(low, mid, lo), torch.where(low, hi, mid)
        out = (blocks + 0.5 * (lo + hi)).clamp(-1.0, 1.0)
        out = out.reshape(n, c, h // f, w // f, f, f).permute(0, 1, 2, 4, 3, 5).reshape(n, c, h, w)
        return out.to(x0.dtype)
    return project


def _check_net(net: UNet) -> None:
    c = net.config
    if c.cond_channels != c.in_channels:
        raise ValueError(f"an SR3 U-Net needs cond_channels == in_channels, got {c.cond_channels}, {c.in_channels}")


def superres_loss(net: UNet, process, highres: Tensor, factor: int, *,
                  generator: torch.Generator | None = None) -> Tensor:
    """SR3 training loss (eq. 6, eps-prediction) on ``[0, 1]`` high-resolution images."""
    from polydiff.core.losses import dsm_loss
    _check_net(net)
    cond = to_model_range(bicubic(downsample(highres, factor), factor))
    return dsm_loss(net, process, to_model_range(highres), prediction="eps",
                              cond={"x_cond": cond}, generator=generator).mean()


@torch.no_grad()
def super_resolve(net: UNet, process, lowres: Tensor, factor: int, *, steps: int = 50,
                  solver: str = "ddim", consistent: bool = False, clip: bool = True,
                  generator: torch.Generator | None = None, **solver_options) -> Tensor:
    """Up-sample ``[N, C, h, w]`` images in [0, 1] by ``factor``; returns ``[N, C, h*f, w*f]``.

    ``clip`` clamps every ``x0_hat`` to ``[-1, 1]``; ``consistent`` projects it onto the
    images whose down-sampling equals ``lowres`` (see the module docstring).
    """
    import polydiff.core as pc
    _check_net(net)
    check_images(lowres, "lowres", channels=net.config.in_channels)
    if not isinstance(factor, int) or factor < 1:
        raise ValueError(f"factor must be a positive int, got {factor!r}")
    kw = sample_kwargs(steps, solver, generator, solver_options)
    dev = next(net.parameters()).device
    lowres = lowres.to(dev)
    cond = to_model_range(bicubic(lowres, factor))
    x_T = prior(process, cond.shape, kw.pop("generator"), dev)
    project = consistency_projection(to_model_range(lowres), factor) if consistent else None
    if project is None and clip:  # DDPM's clip_denoised (the consistency projection clamps too)
        project = pc.clip()
    x0 = pc.sample(net, process, x_T, prediction="eps", cond={"x_cond": cond},
                   project_x0=project, generator=generator, **kw)
    if consistent:
        x0 = project(x0, None)  # the final output lies in the consistency set too
    return from_model_range(x0)


def regression_loss(net: UNet, highres: Tensor, factor: int) -> Tensor:
    """Baseline: a U-Net regressing the high-resolution image from its bicubic up-sampling
    (the same network as SR3 with its noisy-image input and time fixed to 0; MSE loss)."""
    _check_net(net)
    cond = to_model_range(bicubic(downsample(highres, factor), factor))
    t = torch.zeros(len(cond), device=cond.device)
    return ((net(cond, t, x_cond=cond) - to_model_range(highres)) ** 2).mean()


@torch.no_grad()
def regression_upsample(net: UNet, lowres: Tensor, factor: int) -> Tensor:
    """Apply a network trained with :func:`regression_loss` (one evaluation, no sampling)."""
    _check_net(net)
    check_images(lowres, "lowres", channels=net.config.in_channels)
    dev = next(net.parameters()).device
    cond = to_model_range(bicubic(lowres.to(dev), factor))
    return from_model_range(net(cond, torch.zeros(len(cond), device=dev), x_cond=cond))

"""Super-resolution by iterative refinement (SR3, Saharia et al. 2022).

The low-resolution image is up-sampled bicubically to the target size and concatenated to
the noisy image on the channel axis (sec. 2.1: ``f(x_lr_upsampled, y_t, gamma)``).

Two choices are read from the U-Net's config, so a checkpoint is sampled as it was trained:

* ``prediction`` — what the network outputs. :func:`polydiff.vision.train.build_net` makes
  SR networks predict ``v = alpha eps - sigma x0`` (Salimans & Ho 2022, sec. 4): with
  eps-prediction the clean-image estimate ``(x - sigma eps_hat) / alpha`` multiplies the
  network's error by ``1/alpha`` ~ 150 near ``t = T``, where SR sampling starts.
* ``residual`` — the network models ``r = hr - bicubic(lr)`` (in the model range) instead of
  ``hr`` (SRDiff, Li et al. 2022, sec. 3.2; ResShift, Yue et al. 2023): a network that
  predicts ``r = 0`` returns the bicubic image, so sampling starts from bicubic quality.
  Residual networks predict ``x0`` (= r) by default, as ResShift does: a zero output is
  then the bicubic image, while a zero ``v`` would leave the start noise in the output.

The optional ``consistent=True`` projects every ``x0_hat`` (and the output) onto the images
in the valid range whose ``factor``-fold area down-sampling equals the input (the
data-consistency step of ILVR/DDRM-style samplers). Per low-resolution pixel that set is a
capped simplex ``{v in [-1, 1]^(f*f) : mean(v) = x_lr}``, whose Euclidean projection is
``clamp(v + c, -1, 1)`` with the scalar ``c`` found by bisection.

A posterior sample cannot match a regression model's PSNR (it pays the posterior variance
twice); :func:`super_resolve_mean` averages ``k`` samples, which tends to the posterior mean.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from polydiff.core.validate import check_int
from torch import Tensor

from ._common import check_flag, check_image_shape, net_prediction, prior, sample_kwargs
from .data import check_images, from_model_range, to_model_range
from .nets import UNet

__all__ = [
    "bicubic",
    "consistency_projection",
    "downsample",
    "regression_loss",
    "regression_upsample",
    "super_resolve",
    "super_resolve_mean",
    "superres_loss",
]


def downsample(images: Tensor, factor: int) -> Tensor:
    """Area (box-filter) down-sampling by an integer ``factor`` — the degradation model."""
    check_images(images, unit_range=False)
    factor = check_int(factor, "factor", low=1)
    h, w = images.shape[-2:]
    if h % factor or w % factor:
        raise ValueError(f"image size {h}x{w} is not divisible by factor {factor}")
    return F.avg_pool2d(images, factor)


def bicubic(lowres: Tensor, factor: int) -> Tensor:
    """Bicubic up-sampling by ``factor``, clamped to [0, 1] (the baseline and SR3's input)."""
    check_images(lowres, "lowres")
    _check_factor(factor)
    out = F.interpolate(lowres, scale_factor=factor, mode="bicubic", align_corners=False)
    return out.clamp(0.0, 1.0)


def consistency_projection(lowres_model: Tensor, factor: int):
    """``project_x0`` hook mapping ``x0_hat`` onto ``{x : down_area(x) = lowres}`` (model range)."""
    check_images(lowres_model, "lowres_model", unit_range=False)
    _check_factor(factor)
    want = (*lowres_model.shape[:2], lowres_model.shape[2] * factor, lowres_model.shape[3] * factor)

    def project(x0: Tensor, t: Tensor | None) -> Tensor:
        if tuple(x0.shape) != want:
            raise ValueError(f"x0 must have shape {want} (lowres_model up-sampled by factor={factor}), "
                             f"got {tuple(x0.shape)}")
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
    c = getattr(net, "config", None)
    if c is None or not hasattr(c, "cond_channels"):
        raise TypeError(f"net must be an SR3 UNet (with a UNetConfig), got {type(net).__name__}")
    if c.cond_channels != c.in_channels:
        raise ValueError(f"an SR3 U-Net needs cond_channels == in_channels, got {c.cond_channels}, {c.in_channels}")


def _check_factor(factor) -> None:
    if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
        raise ValueError(f"factor must be a positive int, got {factor!r}")


def _residual_of(net: UNet, residual: bool | None) -> bool:
    if residual is None:
        residual = net.config.residual
    if not isinstance(residual, bool):
        raise TypeError(f"residual must be a bool or None, got {type(residual).__name__}")
    return residual


def _scale(net, residual: bool) -> float:
    return float(getattr(net.config, "residual_scale", 1.0)) if residual else 1.0


def superres_loss(net: UNet, process, highres: Tensor, factor: int, *, prediction: str | None = None,
                  residual: bool | None = None, generator: torch.Generator | None = None) -> Tensor:
    """SR3 training loss (eq. 6 with the network's ``prediction`` target) on ``[0, 1]`` images.

    ``prediction`` / ``residual`` default to the U-Net's config; pass them explicitly when
    ``net`` is a wrapper (DDP) whose attributes should not be read. With ``residual`` the
    clean sample is ``residual_scale * (to_model_range(hr) - to_model_range(bicubic(lr)))``
    (``residual_scale`` from the config; 1 when ``net`` has none).
    """
    from polydiff.core.losses import dsm_loss
    if residual is None:
        _check_net(net)
    residual = _residual_of(net, residual)
    prediction = net_prediction(net, prediction)
    check_images(highres, "highres")
    _check_factor(factor)
    cond = to_model_range(bicubic(downsample(highres, factor), factor))
    x0 = (to_model_range(highres) - cond) * _scale(net, residual) if residual else to_model_range(highres)
    return dsm_loss(net, process, x0, prediction=prediction, cond={"x_cond": cond}, generator=generator).mean()


@torch.no_grad()
def super_resolve(net: UNet, process, lowres: Tensor, factor: int, *, steps: int = 50,
                  solver: str = "ddim", consistent: bool = False, clip: bool = True,
                  prediction: str | None = None, residual: bool | None = None,
                  generator: torch.Generator | None = None, **solver_options) -> Tensor:
    """Up-sample ``[N, C, h, w]`` images in [0, 1] by ``factor``; returns ``[N, C, h*f, w*f]``.

    ``clip`` clamps every ``x0_hat`` image to ``[-1, 1]``; ``consistent`` projects it onto the
    images whose down-sampling equals ``lowres`` (see the module docstring). ``prediction``
    and ``residual`` default to what the U-Net's config records. NFE = the solver's
    evaluations for ``steps`` (one per step for ``ddim``/``ddpm``/``dpmpp_2m``).
    """
    import polydiff.core as pc
    _check_net(net)
    prediction, residual = net_prediction(net, prediction), _residual_of(net, residual)
    check_images(lowres, "lowres", channels=net.config.in_channels)
    _check_factor(factor)
    c, h, w = lowres.shape[1:]
    check_image_shape(net, (c, h * factor, w * factor), "lowres' (C, H * factor, W * factor)")
    kw = sample_kwargs(steps, solver, generator, solver_options)
    check_flag(consistent, "consistent")
    check_flag(clip, "clip")
    dev = next(net.parameters()).device
    lowres = lowres.to(dev)
    up = bicubic(lowres, factor)
    cond = to_model_range(up)
    x_T = prior(process, cond.shape, kw.pop("generator"), dev)
    if consistent:
        project = consistency_projection(to_model_range(lowres), factor)
    else:  # DDPM's clip_denoised (the consistency projection clamps too)
        project = pc.clip() if clip else None
    hook, scale = project, _scale(net, residual)
    if residual and project is not None:  # project the image cond + r / scale, hand back its residual
        hook = lambda r, t: (project(cond + r / scale, t) - cond) * scale
    x0 = pc.sample(net, process, x_T, prediction=prediction, cond={"x_cond": cond},
                   project_x0=hook, generator=generator, **kw)
    if residual:  # in [0, 1]: bicubic + r / (2 scale), so r = 0 returns the bicubic image exactly
        out = up + x0 / (2 * scale)
        if consistent:
            return from_model_range(project(to_model_range(out), None))
        return out.clamp(0.0, 1.0) if clip else out
    if consistent:
        x0 = project(x0, None)  # the final output lies in the consistency set too
    return from_model_range(x0)


@torch.no_grad()
def super_resolve_mean(net: UNet, process, lowres: Tensor, factor: int, k: int, *,
                       generator: torch.Generator | None = None, **kwargs) -> Tensor:
    """Mean of ``k`` :func:`super_resolve` samples per image (a Monte-Carlo estimate of the
    posterior mean ``E[hr | lr]``, the PSNR-optimal estimate); NFE is ``k`` times a sample's.

    The ``k`` samples of each image are drawn in one batch of ``k * N``; ``generator`` must be
    a single ``torch.Generator`` (or ``None``). ``kwargs`` go to :func:`super_resolve`.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    check_images(lowres, "lowres")
    reps = lowres.repeat_interleave(k, dim=0)
    out = super_resolve(net, process, reps, factor, generator=generator, **kwargs)
    return out.reshape(len(lowres), k, *out.shape[1:]).mean(1)


def regression_loss(net: UNet, highres: Tensor, factor: int) -> Tensor:
    """Baseline: a U-Net regressing the high-resolution image from its bicubic up-sampling
    (the same network as SR3 with its noisy-image input and time fixed to 0; MSE loss)."""
    _check_net(net)
    check_images(highres, "highres")
    _check_factor(factor)
    cond = to_model_range(bicubic(downsample(highres, factor), factor))
    t = torch.zeros(len(cond), device=cond.device)
    return ((net(cond, t, x_cond=cond) - to_model_range(highres)) ** 2).mean()


@torch.no_grad()
def regression_upsample(net: UNet, lowres: Tensor, factor: int) -> Tensor:
    """Apply a network trained with :func:`regression_loss` (one evaluation, no sampling)."""
    _check_net(net)
    check_images(lowres, "lowres", channels=net.config.in_channels)
    _check_factor(factor)
    dev = next(net.parameters()).device
    cond = to_model_range(bicubic(lowres.to(dev), factor))
    return from_model_range(net(cond, torch.zeros(len(cond), device=dev), x_cond=cond))

"""Class-conditional generation with classifier-free guidance (Ho & Salimans 2022).

Training drops the label to the null class with probability ``p_uncond`` (Alg. 1), so one
network learns both ``eps(x, t, y)`` and ``eps(x, t, null)``; sampling combines them as
``eps_u + w (eps_c - eps_u)`` through :class:`polydiff.core.CFG` (``w = 0`` unconditional,
``w = 1`` conditional, ``w > 1`` guided; the paper's ``w`` is our ``scale - 1``).
"""
from __future__ import annotations

import torch
from polydiff.core.validate import check_int, check_number, describe
from torch import Tensor

from ._common import (
    check_flag,
    check_generator,
    check_image_shape,
    check_process,
    net_prediction,
    prior,
    sample_kwargs,
)
from .data import check_images, from_model_range, to_model_range
from .nets import UNet, UNetConfig

__all__ = ["drop_labels", "generate", "generate_loss"]


def _check_labels(net: UNet, y: Tensor, allow_null: bool) -> None:
    if not isinstance(getattr(net, "config", None), UNetConfig):
        raise TypeError(f"net must be a class-conditional polydiff UNet, got {type(net).__name__}")
    if not isinstance(y, Tensor) or y.ndim != 1 or y.dtype not in (torch.int32, torch.int64):
        raise TypeError(f"labels must be a 1-D integer tensor, got {describe(y)}")
    if y.numel() == 0:
        raise ValueError("labels must not be empty, got shape (0,)")
    top = net.null_class if allow_null else net.null_class - 1
    if (y < 0).any() or (y > top).any():
        raise ValueError(f"labels must lie in 0..{top}, got values in [{int(y.min())}, {int(y.max())}]")


def drop_labels(y: Tensor, p_uncond: float, null_class: int, generator: torch.Generator | None = None) -> Tensor:
    """Replace each label by ``null_class`` with probability ``p_uncond`` (CFG training)."""
    p_uncond = check_number(p_uncond, "p_uncond", low=0.0, high=1.0)
    if not isinstance(y, Tensor) or y.dtype not in (torch.int32, torch.int64):
        raise TypeError(f"y must be an integer tensor of class labels, got {describe(y)}")
    null_class = check_int(null_class, "null_class", low=0)
    check_generator(generator)
    drop = torch.rand(y.shape, generator=generator, device=y.device) < p_uncond
    return torch.where(drop, torch.full_like(y, null_class), y)


def generate_loss(net: UNet, process, images: Tensor, labels: Tensor, *, p_uncond: float = 0.1,
                  prediction: str | None = None, generator: torch.Generator | None = None) -> Tensor:
    """Mean denoising loss (DDPM eq. 14 for eps; the ``prediction`` target in general, default
    the U-Net config's) on ``[0, 1]`` images with label dropout."""
    from polydiff.core.losses import dsm_loss
    check_images(images)
    _check_labels(net, labels, allow_null=False)
    if labels.shape[0] != images.shape[0]:
        raise ValueError(f"labels must hold one label per image ({images.shape[0]}), got {labels.shape[0]}")
    y = drop_labels(labels, p_uncond, net.null_class, generator)
    return dsm_loss(net, process, to_model_range(images), prediction=net_prediction(net, prediction),
                              cond={"y": y}, generator=generator).mean()


@torch.no_grad()
def generate(net: UNet, process, labels: Tensor, *, scale: float = 1.0, steps: int = 50,
             solver: str = "ddim", generator: torch.Generator | None = None,
             shape: tuple[int, ...] | None = None, clip: bool = True, prediction: str | None = None,
             **solver_options) -> Tensor:
    """Sample one image per label with guidance scale ``scale`` (a finite number >= 0);
    returns ``[N, C, H, W]`` in [0, 1].

    ``shape`` is the image shape ``(C, H, W)`` (default: ``in_channels`` x 28 x 28).
    Any core solver and step count can be used; ``pc.sample`` does the work. ``clip``
    clamps every ``x0_hat`` to the data range ``[-1, 1]`` (DDPM's ``clip_denoised``).
    ``prediction`` (what the network outputs) defaults to the U-Net config's.
    """
    import polydiff.core as pc
    _check_labels(net, labels, allow_null=True)
    check_process(process)
    scale = check_number(scale, "scale", low=0.0)
    prediction = net_prediction(net, prediction)
    kw = sample_kwargs(steps, solver, generator, solver_options)
    shape = check_image_shape(net, shape if shape is not None else (net.config.in_channels, 28, 28), "shape")
    check_flag(clip, "clip")
    dev = next(net.parameters()).device
    x_T = prior(process, (len(labels), *shape), kw.pop("generator"), dev)
    null = torch.full_like(labels, net.null_class).to(dev)
    x0 = pc.sample(net, process, x_T, prediction=prediction, cond={"y": labels.to(dev)},
                   guidance=pc.CFG(scale, {"y": null}), project_x0=pc.clip() if clip else None,
                   generator=generator, **kw)
    return from_model_range(x0)

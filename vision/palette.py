"""Inpainting with a mask-conditioned denoiser: Palette (Saharia et al. 2022).

RePaint (:mod:`.inpaint`) asks an *unconditional* model to agree with the known pixels, which
it only does through replacement; Palette trains the denoiser for the task. The network sees
the known image (holes set to 0 in model range) and the mask as ``x_cond`` channels
(``cond_channels = C + 1``), is trained on random masks with the loss on the missing pixels
only (the reference code's masked L2), and at sampling the known pixels of ``x_t`` are the
forward-noised known image (its eq. 3 sampler with the known region replaced). Masks use
**1 = known pixel, 0 = pixel to fill**, as in :mod:`.inpaint`.
"""
from __future__ import annotations

import torch
from polydiff.core.validate import check_generator
from torch import Tensor

from ._common import (
    check_flag,
    check_inpaint_inputs,
    check_mask,
    net_prediction,
    prior,
    sample_kwargs,
)
from .data import check_images, from_model_range, to_model_range
from .inpaint import MASK_KINDS, make_mask

__all__ = ["palette_cond", "palette_inpaint", "palette_loss", "training_masks"]


def _check_palette_net(net) -> None:
    c = getattr(net, "config", None)
    if c is None or not hasattr(c, "cond_channels"):
        raise TypeError(f"net must be a Palette UNet (with a UNetConfig), got {type(net).__name__}")
    if c.cond_channels != c.in_channels + 1:
        raise ValueError(f"a Palette U-Net needs cond_channels == in_channels + 1 (known image and mask), "
                         f"got cond_channels={c.cond_channels}, in_channels={c.in_channels}")


def training_masks(n: int, size: int | tuple[int, int], generator: torch.Generator | None = None) -> Tensor:
    """``[n, 1, H, W]`` training masks: each sample draws one of :data:`~.inpaint.MASK_KINDS`
    uniformly; a centre box gets a random side in ``[0.3, 0.6]`` of the image and a random
    offset of up to a quarter of the free margin (Palette trains on boxes and free-form masks)."""
    check_generator(generator, "generator")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    dev = generator.device if generator is not None else torch.device("cpu")
    kinds = torch.randint(len(MASK_KINDS), (n,), generator=generator, device=dev).cpu()
    out = []
    for k in kinds.tolist():
        kind = MASK_KINDS[k]
        if kind != "center":
            out.append(make_mask(kind, 1, size, generator=generator))
            continue
        box = 0.3 + 0.3 * float(torch.rand((), generator=generator, device=dev))
        m = make_mask("center", 1, size, box=box)
        h, w = m.shape[-2:]
        # shift the box by up to a quarter of the margin left around it, either way
        dy, dx = (round(float(torch.rand((), generator=generator, device=dev) * 2 - 1)
                            * (side * (1 - box) / 4)) for side in (h, w))
        out.append(torch.roll(m, shifts=(dy, dx), dims=(-2, -1)))
    return torch.cat(out)


def palette_cond(images: Tensor, mask: Tensor) -> Tensor:
    """``x_cond`` ``[N, C + 1, H, W]``: the known image in model range with its holes at 0,
    then the mask (1 = known)."""
    check_images(images)
    return _cond(to_model_range(images), check_mask(mask, images))


def _cond(values: Tensor, m: Tensor) -> Tensor:
    """:func:`palette_cond` of checked model-range ``values`` and a checked mask ``m``."""
    m = m.expand(len(values), 1, *values.shape[-2:])
    return torch.cat([values * m, m], 1)


def palette_loss(net, process, images: Tensor, *, prediction: str | None = None,
                 masks: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
    """Palette's training loss on ``[0, 1]`` images: DSM (eq. 2, the network's ``prediction``
    target) with the known image and mask as condition, averaged over the missing pixels only.
    ``masks`` default to :func:`training_masks`; pass ``prediction`` when ``net`` is a DDP
    wrapper whose config should not be read."""
    from polydiff.core.losses import dsm_loss
    check_images(images)
    if prediction is None:
        _check_palette_net(net)
    prediction = net_prediction(net, prediction)
    if masks is None:
        masks = training_masks(len(images), tuple(images.shape[-2:]), generator).to(images.device)
    m = check_mask(masks, images, "masks")
    x0 = to_model_range(images)
    return dsm_loss(net, process, x0, prediction=prediction, cond={"x_cond": _cond(x0, m)},
                    mask=(1 - m).expand_as(images), generator=generator).mean()


@torch.no_grad()
def palette_inpaint(net, process, images: Tensor, mask: Tensor, *, steps: int = 50, solver: str = "ddim",
                    generator: torch.Generator | None = None, clip: bool = True,
                    **solver_options) -> Tensor:
    """Fill the ``mask == 0`` pixels of ``[N, C, H, W]`` images in [0, 1] with a Palette U-Net.

    The known pixels of the state are the forward-noised known image after every step
    (:class:`polydiff.core.Known`), so the result equals ``images`` exactly where ``mask == 1``.
    ``clip`` clamps every ``x0_hat`` to ``[-1, 1]``. NFE = the solver's evaluations for ``steps``.
    """
    import polydiff.core as pc
    _check_palette_net(net)
    m = check_inpaint_inputs(net, images, mask)
    kw = sample_kwargs(steps, solver, generator, solver_options)
    check_flag(clip, "clip")
    dev = next(net.parameters()).device
    images, m = images.to(dev), m.to(dev)
    x_T = prior(process, images.shape, kw.pop("generator"), dev)
    values = to_model_range(images)
    x0 = pc.sample(net, process, x_T, prediction=net_prediction(net, None), known=pc.Known(values, m),
                   cond={"x_cond": _cond(values, m)}, project_x0=pc.clip() if clip else None,
                   generator=generator, **kw)
    return torch.where(m.expand_as(images) == 1, images, from_model_range(x0))

"""Inpainting with an unconditional denoiser: RePaint (Lugmayr et al. 2022).

The known pixels are imposed after every solver step by the forward-noised known image
(replacement, eq. 8) and RePaint's resampling schedule re-noises the state by
``jump_length`` steps ``resample`` times (sec. 4.2, Alg. 1), all through
:class:`polydiff.core.Known`. ``resample=1`` is plain replacement without resampling.
Masks use **1 = known pixel, 0 = pixel to fill**.
"""
from __future__ import annotations

import itertools

import numpy as np
import torch
from polydiff.core.validate import check_generator, check_int, check_number, check_shape, describe
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

__all__ = ["MASK_KINDS", "PAPER_REPAINT", "biharmonic", "exemplar_fill", "inpaint", "make_mask", "repaint_settings"]

MASK_KINDS = ("center", "half", "strokes")

#: RePaint's resampling schedule (Lugmayr et al. 2022, sec. 5 / App. B): T = 250 steps,
#: jumps of j = 10 steps, each re-solved r = 10 times (2,410 network evaluations with
#: :class:`polydiff.core.Known`'s schedule).
PAPER_REPAINT = {"steps": 250, "jump_length": 10, "resample": 10}


def repaint_settings(steps: int, resample: int = PAPER_REPAINT["resample"]) -> dict[str, int]:
    """RePaint's schedule scaled to a ``steps`` budget: the jump keeps the paper's length *in
    time* (``j / T = 10 / 250`` of the trajectory, at least one step) and each jump is re-solved
    ``resample`` times (the paper's 10 by default). Returns ``inpaint`` keyword arguments.

    NFE is about ``steps * resample`` (25 x 10: 241, a tenth of the paper's 2,410).
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if isinstance(resample, bool) or not isinstance(resample, int) or resample < 1:
        raise ValueError(f"resample must be a positive int, got {resample!r}")
    jump = max(1, round(steps * PAPER_REPAINT["jump_length"] / PAPER_REPAINT["steps"]))
    return {"steps": steps, "jump_length": jump, "resample": resample}


def make_mask(kind: str, n: int, size: int | tuple[int, int], *, box: float = 0.5,
              strokes: int = 4, width: float = 0.08,
              generator: torch.Generator | None = None) -> Tensor:
    """Known-pixel masks ``[n, 1, H, W]`` (1 = known, 0 = missing).

    Args:
        kind: ``"center"`` (a centred square of side ``box * H`` missing), ``"half"`` (the
            right half missing) or ``"strokes"`` (random thick poly-line strokes missing,
            the free-form masks of RePaint's evaluation).
        box: side fraction of the centre box.
        strokes: number of strokes per mask.
        width: stroke width as a fraction of the image side.

    ``box``, ``strokes``, ``width`` and ``generator`` are checked whatever the kind, so a bad
    value is refused even where that kind does not use it.
    """
    if kind not in MASK_KINDS:
        raise ValueError(f"unknown mask kind {kind!r}; expected one of {MASK_KINDS}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    hw = check_shape((size, size) if isinstance(size, int) and not isinstance(size, bool) else size, "size")
    if len(hw) != 2:
        raise ValueError(f"size must be an int or (H, W), got {size!r}")
    h, w = hw
    box = check_number(box, "box", low=0.0, high=1.0, low_open=True, high_open=True)
    strokes = check_int(strokes, "strokes", low=1)
    width = check_number(width, "width", low=0.0, high=1.0, low_open=True)
    check_generator(generator, "generator")
    if isinstance(generator, list):
        raise TypeError("generator must be one torch.Generator for make_mask, got a list")
    m = torch.ones(n, 1, h, w)
    if kind == "center":
        bh, bw = max(1, round(box * h)), max(1, round(box * w))
        m[..., (h - bh) // 2:(h - bh) // 2 + bh, (w - bw) // 2:(w - bw) // 2 + bw] = 0
    elif kind == "half":
        m[..., w // 2:] = 0
    else:
        yy, xx = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
        r = max(0.5, width * max(h, w) / 2)
        for i in range(n):
            for _ in range(strokes):
                pts = torch.rand(4, 2, generator=generator) * torch.tensor([h, w])
                for a, b in itertools.pairwise(pts):  # distance of every pixel to the segment a-b
                    ab = b - a
                    u = ((yy - a[0]) * ab[0] + (xx - a[1]) * ab[1]) / max(float(ab @ ab), 1e-9)
                    u = u.clamp(0, 1)
                    d2 = (yy - a[0] - u * ab[0]) ** 2 + (xx - a[1] - u * ab[1]) ** 2
                    m[i, 0][d2 <= r * r] = 0
    return m


@torch.no_grad()
def inpaint(net, process, images: Tensor, mask: Tensor, *, steps: int = 50, solver: str = "ddim",
            jump_length: int = 1, resample: int = 1, generator: torch.Generator | None = None,
            cond: dict | None = None, clip: bool = True, prediction: str | None = None,
            **solver_options) -> Tensor:
    """Fill the ``mask == 0`` pixels of ``[N, C, H, W]`` images in [0, 1].

    The returned images equal ``images`` exactly where ``mask == 1`` (core's
    :class:`~polydiff.core.Known` ends on the exact known values; the final composite only
    removes the rounding of the ``[-1, 1] -> [0, 1]`` conversion). ``clip`` clamps every
    ``x0_hat`` to ``[-1, 1]`` (DDPM's ``clip_denoised``).
    ``prediction`` (what ``net`` outputs) defaults to the U-Net config's.
    """
    import polydiff.core as pc
    m = check_inpaint_inputs(net, images, mask)
    kw = sample_kwargs(steps, solver, generator, solver_options)
    jump_length, resample = check_int(jump_length, "jump_length", low=1), check_int(resample, "resample", low=1)
    check_flag(clip, "clip")
    if cond is not None and not isinstance(cond, dict):
        raise TypeError(f"cond must be a dict of conditioning tensors or None, got {describe(cond)}")
    dev = next(net.parameters()).device
    images, m = images.to(dev), m.to(dev)
    values = to_model_range(images)
    x_T = prior(process, images.shape, kw.pop("generator"), dev)
    known = pc.Known(values, m, jump_length=jump_length, resample=resample)
    x0 = pc.sample(net, process, x_T, prediction=net_prediction(net, prediction), known=known, cond=cond,
                   project_x0=pc.clip() if clip else None, generator=generator, **kw)
    return torch.where(m.expand_as(images) == 1, images, from_model_range(x0))


def biharmonic(images: Tensor, mask: Tensor) -> Tensor:
    """Baseline: biharmonic inpainting (``skimage.restoration.inpaint_biharmonic``)."""
    from skimage.restoration import inpaint_biharmonic
    check_images(images)
    m = check_mask(mask, images).expand_as(images)
    out = []
    for x, mk in zip(images.cpu().double().numpy(), m.cpu().numpy()):
        hole = mk[0] == 0  # skimage marks the pixels to fill with True
        if x.shape[0] == 1:
            out.append(inpaint_biharmonic(x[0], hole)[None])
        else:
            out.append(np.moveaxis(inpaint_biharmonic(np.moveaxis(x, 0, -1), hole, channel_axis=-1), -1, 0))
    res = torch.from_numpy(np.stack(out)).to(images.dtype).clamp(0, 1)
    return torch.where(m.cpu() == 1, images.cpu(), res)


def exemplar_fill(images: Tensor, mask: Tensor, exemplars: Tensor, batch: int = 4096) -> Tensor:
    """Baseline: fill each hole from the exemplar that best matches the known pixels.

    Data-driven completion in the spirit of Hays & Efros (2007, "Scene completion using
    millions of photographs"), reduced to its core: the exemplar ``[M, C, H, W]`` with the
    least squared error over the known pixels (``mask == 1``) lends its hole pixels. With the
    training set as exemplars this samples the *empirical* posterior's mode, a reference for
    how much of the hole the known pixels determine.
    """
    check_images(images)
    check_images(exemplars, "exemplars", channels=images.shape[1])
    if exemplars.shape[-2:] != images.shape[-2:]:
        raise ValueError(f"exemplars {tuple(exemplars.shape[-2:])} and images {tuple(images.shape[-2:])} "
                         "differ in size")
    m = check_mask(mask, images).expand_as(images)
    batch = check_int(batch, "batch", low=1)
    x, e = images.flatten(1).double(), exemplars.flatten(1).double()
    out = torch.empty_like(images)
    for i, (xi, mi) in enumerate(zip(x, m.flatten(1).double())):
        best, best_err = 0, float("inf")
        for j in range(0, len(e), batch):
            err = (((e[j:j + batch] - xi) ** 2) * mi).sum(1)
            k = int(err.argmin())
            if float(err[k]) < best_err:
                best, best_err = j + k, float(err[k])
        out[i] = exemplars[best].to(images.dtype)
    return torch.where(m == 1, images, out)

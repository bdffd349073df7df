"""Hooks: how a domain steers sampling without forking a solver.

- guidance: :class:`CFG` (classifier-free, Ho & Salimans 2022) and
  :class:`ClassifierGuidance` (Dhariwal & Nichol 2021, eq. 14 in score form);
- conditioning on known values: :class:`Known` (replacement; RePaint resampling, Lugmayr et
  al. 2022, with ``jump_length``/``resample``);
- per-step projections of ``x0_hat`` or ``x``: :func:`clip`, :func:`dynamic_threshold`
  (Saharia et al. 2022), :func:`zero_center` (centre of mass, molecules),
  :func:`nearest_embedding` (Diffusion-LM's clamping trick);
- noise samplers: :class:`GaussianNoise` (one generator or one generator per sample).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch import Tensor

from ._broadcast import append_dims
from .validate import (
    check_finite,
    check_generator,
    check_int,
    check_number,
    check_shape,
    check_tensor,
    describe,
)

#: Largest guidance scale accepted: beyond it ``scale * (out_c - out_u)`` (or the classifier
#: gradient) overflows float32 within a few steps; published scales are below 100.
MAX_GUIDANCE_SCALE = 1e4

__all__ = [
    "CFG",
    "ClassifierGuidance",
    "GaussianNoise",
    "Known",
    "NoiseSampler",
    "Projection",
    "clip",
    "dynamic_threshold",
    "nearest_embedding",
    "randn",
    "zero_center",
]

Projection = Callable[[Tensor, Tensor], Tensor]  # (value, t [B]) -> projected value


class NoiseSampler(Protocol):
    """``noise(x, step) -> Tensor`` shaped like ``x``: the Gaussian draws of a stochastic solver."""

    def __call__(self, x: Tensor, step: int) -> Tensor: ...


@dataclass(frozen=True)
class CFG:
    """Classifier-free guidance: ``out = out_u + scale * (out_c - out_u)``.

    ``scale = 0`` is the unconditional model, ``scale = 1`` the conditional one. ``uncond``
    holds the model keyword arguments of the unconditional branch (e.g. ``{"y": null_labels}``);
    the conditional branch uses ``cond`` of :func:`~polydiff.core.sample`.
    """

    scale: float
    uncond: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self):
        check_number(self.scale, "CFG scale", low=-MAX_GUIDANCE_SCALE, high=MAX_GUIDANCE_SCALE)
        if not isinstance(self.uncond, Mapping):
            raise TypeError(f"CFG uncond must be a mapping of model keyword arguments, got {describe(self.uncond)}")


@dataclass(frozen=True)
class ClassifierGuidance:
    """Classifier guidance: ``score += scale * grad_x log p(y | x_t)``.

    ``log_prob(x, t, **cond) -> Tensor[B]`` is differentiated w.r.t. ``x`` at every model call;
    equivalently ``eps_hat -= scale * sigma * grad`` (Dhariwal & Nichol 2021, Alg. 2).
    """

    log_prob: Callable[..., Tensor]
    scale: float = 1.0

    def __post_init__(self):
        if not callable(self.log_prob):
            raise TypeError(f"ClassifierGuidance log_prob must be callable as log_prob(x, t, **cond), "
                            f"got {describe(self.log_prob)}")
        check_number(self.scale, "ClassifierGuidance scale", low=-MAX_GUIDANCE_SCALE, high=MAX_GUIDANCE_SCALE)


@dataclass
class Known:
    """Known entries ``values[mask == 1]`` imposed after every step (replacement method).

    At a grid point with coefficients ``(alpha, sigma)`` the known entries are replaced by
    ``alpha * values + sigma * noise``; at a clean end point they equal ``values`` exactly.
    ``resample > 1`` turns on RePaint's schedule: after every ``jump_length`` steps the state
    is diffused forward again by ``jump_length`` steps and re-solved, ``resample`` times.
    ``noised=False`` imposes the clean values at every step instead (DiffuSeq's anchoring of
    the source, Gong et al. 2023, where the source is never noised).
    Entries where ``mask == 0`` are never read: missing data may be written there as NaN.
    """

    values: Tensor
    mask: Tensor
    jump_length: int = 1
    resample: int = 1
    noised: bool = True

    def __post_init__(self):
        check_tensor(self.values, "known.values", floating=True, finite=False)
        check_tensor(self.mask, "known.mask", finite=False)
        try:
            torch.broadcast_shapes(self.mask.shape, self.values.shape)
        except RuntimeError:
            raise ValueError(f"known.mask {tuple(self.mask.shape)} does not broadcast to known.values "
                             f"{tuple(self.values.shape)}") from None
        m = self.mask
        if not bool(((m == 0) | (m == 1)).all()):
            raise ValueError("known.mask must contain only 0 and 1")
        keep = m.expand_as(self.values).bool()
        check_finite(torch.where(keep, self.values, torch.zeros_like(self.values)), "known.values (where mask == 1)")
        self.jump_length = check_int(self.jump_length, "known.jump_length", low=1)
        self.resample = check_int(self.resample, "known.resample", low=1)
        if not isinstance(self.noised, bool):
            raise TypeError(f"known.noised must be a bool, got {describe(self.noised)}")

    def impose(self, x: Tensor, alpha, sigma, noise: Tensor | None) -> Tensor:
        keep = self.mask.to(x.device).bool()
        # where, not lerp: NaN written at the missing (mask == 0) entries must not reach x
        v = torch.where(keep, self.values.to(x), torch.zeros((), dtype=x.dtype, device=x.device))
        if not self.noised:
            known = v
        else:
            known = v * alpha if noise is None else v * alpha + noise * sigma
        return torch.where(keep, known, x)


class GaussianNoise:
    """Standard Gaussian noise from one ``torch.Generator`` or a list of per-sample ones.

    Per-sample generators make sample ``i`` independent of the batch it was drawn in.
    """

    def __init__(self, generator: torch.Generator | Sequence[torch.Generator] | None = None):
        self.generator = check_generator(generator, "generator")

    def __call__(self, x: Tensor, step: int = 0) -> Tensor:
        return randn(x.shape, self.generator, device=x.device, dtype=x.dtype)


def randn(shape: Sequence[int], generator=None, *, device=None, dtype=torch.float32) -> Tensor:
    """``torch.randn`` that accepts a list of per-sample generators (one per row of ``shape[0]``)
    and an int ``n`` for the shape ``(n,)``."""
    shape = check_shape(shape, "shape")
    generator = check_generator(generator, "generator", batch=shape[0] if isinstance(generator, (list, tuple)) else None)
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
    if isinstance(generator, list):
        rows = [torch.randn(shape[1:], generator=g, device=g.device, dtype=dtype) for g in generator]
        return torch.stack(rows).to(device) if rows else torch.empty(shape, device=device, dtype=dtype)
    if generator is not None and device is not None and torch.device(device) != generator.device:
        return torch.randn(shape, generator=generator, device=generator.device, dtype=dtype).to(device)
    return torch.randn(shape, generator=generator, device=device, dtype=dtype)


# --- projections -----------------------------------------------------------------------------

def clip(lo: float = -1.0, hi: float = 1.0) -> Projection:
    """Value clipping of ``x0_hat`` to ``[lo, hi]`` (DDPM's ``clip_denoised``)."""
    lo = check_number(lo, "lo", allow_inf=True)
    hi = check_number(hi, "hi", allow_inf=True)
    if not lo < hi:
        raise ValueError(f"clip needs lo < hi, got lo={lo:g}, hi={hi:g}")
    return lambda v, t: v.clamp(lo, hi)


def dynamic_threshold(p: float = 0.995, max_value: float = 1.0, *, s_max: float = math.inf) -> Projection:
    """Dynamic thresholding (Saharia et al. 2022, sec. 2.3): per sample, ``s = quantile(|x0|, p)``
    clamped to ``[max_value, s_max]``; ``x0 <- clamp(x0, -s, s) / s * max_value``.

    ``dynamic_threshold(ratio, 1.0, s_max=sample_max_value)`` is diffusers' ``_threshold_sample``.
    """
    p = check_number(p, "p", low=0.0, high=1.0, low_open=True, high_open=True)
    max_value = check_number(max_value, "max_value", low=0.0, low_open=True)
    s_max = check_number(s_max, "s_max", low=max_value, allow_inf=True)

    def project(v: Tensor, t: Tensor) -> Tensor:
        q = torch.quantile(v.reshape(v.shape[0], -1).abs().float(), p, dim=1)
        s = q.clamp(min=max_value, max=s_max).to(v.dtype)
        s = append_dims(s, v.ndim)
        return torch.maximum(torch.minimum(v, s), -s) / s * max_value

    return project


def zero_center(mask: Tensor | None = None, dim: int = 1) -> Projection:
    """Remove the centre of mass along ``dim`` (atoms), optionally over ``mask``-ed rows only
    (``mask`` non-negative, broadcastable to the state, e.g. ``[B, N, 1]``)."""
    dim = check_int(dim, "dim")
    if mask is not None:
        check_tensor(mask, "mask", low=0.0)

    def project(v: Tensor, t: Tensor) -> Tensor:
        if not -v.ndim <= dim < v.ndim:
            raise ValueError(f"zero_center dim={dim} is out of range for a state of shape {tuple(v.shape)}")
        if mask is not None:
            try:
                if torch.broadcast_shapes(mask.shape, v.shape) != v.shape:
                    raise RuntimeError
            except RuntimeError:
                raise ValueError(f"zero_center mask {tuple(mask.shape)} does not broadcast to the state "
                                 f"{tuple(v.shape)}") from None
        if mask is None:
            return v - v.mean(dim=dim, keepdim=True)
        m = mask.to(v.dtype)
        com = (v * m).sum(dim=dim, keepdim=True) / m.sum(dim=dim, keepdim=True).clamp_min(1)
        return (v - com) * m

    return project


def nearest_embedding(embeddings: Tensor | Callable[[], Tensor]) -> Projection:
    """Diffusion-LM's clamping trick (Li et al. 2022, sec. 4.2): replace every vector along the
    last dim by its nearest row of ``embeddings`` ``[V, D]`` (Euclidean). A callable (a live
    embedding table) is read at every call and checked for shape only (no host sync)."""
    if isinstance(embeddings, Tensor):
        check_tensor(embeddings, "embeddings", ndim=2, floating=True)
    elif not callable(embeddings):
        raise TypeError(f"embeddings must be a [V, D] tensor or a callable returning one, got {describe(embeddings)}")

    def project(v: Tensor, t: Tensor) -> Tensor:
        E = embeddings() if callable(embeddings) else embeddings
        check_tensor(E, "embeddings", ndim=2, floating=True, finite=False)
        if E.shape[1] != v.shape[-1]:
            raise ValueError(f"embeddings must be [V, {v.shape[-1]}], got {tuple(E.shape)}")
        flat = v.reshape(-1, v.shape[-1])
        E = E.to(flat.dtype)
        d = (flat**2).sum(1, keepdim=True) - 2 * flat @ E.T + (E**2).sum(1)[None]
        return E[d.argmin(1)].reshape(v.shape)

    return project

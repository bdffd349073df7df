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
from .validate import check_generator

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
        if not isinstance(self.scale, (int, float)) or not math.isfinite(self.scale):
            raise ValueError(f"guidance scale must be a finite number, got {self.scale!r}")


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
            raise TypeError("ClassifierGuidance needs a callable log_prob(x, t, **cond)")
        if not isinstance(self.scale, (int, float)) or not math.isfinite(self.scale):
            raise ValueError(f"guidance scale must be a finite number, got {self.scale!r}")


@dataclass
class Known:
    """Known entries ``values[mask == 1]`` imposed after every step (replacement method).

    At a grid point with coefficients ``(alpha, sigma)`` the known entries are replaced by
    ``alpha * values + sigma * noise``; at a clean end point they equal ``values`` exactly.
    ``resample > 1`` turns on RePaint's schedule: after every ``jump_length`` steps the state
    is diffused forward again by ``jump_length`` steps and re-solved, ``resample`` times.
    ``noised=False`` imposes the clean values at every step instead (DiffuSeq's anchoring of
    the source, Gong et al. 2023, where the source is never noised).
    """

    values: Tensor
    mask: Tensor
    jump_length: int = 1
    resample: int = 1
    noised: bool = True

    def __post_init__(self):
        if not isinstance(self.values, Tensor) or not isinstance(self.mask, Tensor):
            raise TypeError("Known needs tensors values and mask")
        try:
            torch.broadcast_shapes(self.mask.shape, self.values.shape)
        except RuntimeError:
            raise ValueError(f"Known mask {tuple(self.mask.shape)} does not broadcast to values "
                             f"{tuple(self.values.shape)}") from None
        m = self.mask
        if not ((m == 0) | (m == 1)).all():
            raise ValueError("Known mask must contain only 0 and 1")
        if not torch.isfinite(self.values[m.expand_as(self.values).bool()]).all():
            raise ValueError("Known values contain NaN or inf at known (mask == 1) entries")
        if int(self.jump_length) < 1 or int(self.resample) < 1:
            raise ValueError(f"jump_length and resample must be >= 1, got {self.jump_length}, {self.resample}")

    def impose(self, x: Tensor, alpha, sigma, noise: Tensor | None) -> Tensor:
        m = self.mask.to(x.dtype)
        v = self.values.to(x.dtype)
        if not self.noised:
            known = v
        else:
            known = v * alpha if noise is None else v * alpha + noise * sigma
        return torch.lerp(x, known, m) if m.shape == x.shape else x * (1 - m) + known * m


class GaussianNoise:
    """Standard Gaussian noise from one ``torch.Generator`` or a list of per-sample ones.

    Per-sample generators make sample ``i`` independent of the batch it was drawn in.
    """

    def __init__(self, generator: torch.Generator | Sequence[torch.Generator] | None = None):
        self.generator = check_generator(generator, "generator")

    def __call__(self, x: Tensor, step: int = 0) -> Tensor:
        return randn(x.shape, self.generator, device=x.device, dtype=x.dtype)


def randn(shape: Sequence[int], generator=None, *, device=None, dtype=torch.float32) -> Tensor:
    """``torch.randn`` that accepts a list of per-sample generators (one per row of ``shape[0]``)."""
    shape = tuple(shape)
    if isinstance(generator, (list, tuple)):
        if len(generator) != shape[0]:
            raise ValueError(f"got {len(generator)} generators for a batch of {shape[0]}")
        rows = [torch.randn(shape[1:], generator=g, device=g.device, dtype=dtype) for g in generator]
        return torch.stack(rows).to(device) if rows else torch.empty(shape, device=device, dtype=dtype)
    if generator is not None and device is not None and torch.device(device) != generator.device:
        return torch.randn(shape, generator=generator, device=generator.device, dtype=dtype).to(device)
    return torch.randn(shape, generator=generator, device=device, dtype=dtype)


# --- projections -----------------------------------------------------------------------------

def clip(lo: float = -1.0, hi: float = 1.0) -> Projection:
    """Value clipping of ``x0_hat`` to ``[lo, hi]`` (DDPM's ``clip_denoised``)."""
    if not lo < hi:
        raise ValueError(f"clip needs lo < hi, got {lo}, {hi}")
    return lambda v, t: v.clamp(lo, hi)


def dynamic_threshold(p: float = 0.995, max_value: float = 1.0, *, s_max: float = math.inf) -> Projection:
    """Dynamic thresholding (Saharia et al. 2022, sec. 2.3): per sample, ``s = quantile(|x0|, p)``
    clamped to ``[max_value, s_max]``; ``x0 <- clamp(x0, -s, s) / s * max_value``.

    ``dynamic_threshold(ratio, 1.0, s_max=sample_max_value)`` is diffusers' ``_threshold_sample``.
    """
    if not 0 < p < 1:
        raise ValueError(f"dynamic_threshold needs 0 < p < 1, got {p}")
    if not max_value > 0 or not s_max >= max_value:
        raise ValueError(f"dynamic_threshold needs 0 < max_value <= s_max, got max_value={max_value}, s_max={s_max}")

    def project(v: Tensor, t: Tensor) -> Tensor:
        q = torch.quantile(v.reshape(v.shape[0], -1).abs().float(), p, dim=1)
        s = q.clamp(min=max_value, max=s_max).to(v.dtype)
        s = append_dims(s, v.ndim)
        return torch.maximum(torch.minimum(v, s), -s) / s * max_value

    return project


def zero_center(mask: Tensor | None = None, dim: int = 1) -> Projection:
    """Remove the centre of mass along ``dim`` (atoms), optionally over ``mask``-ed rows only."""

    def project(v: Tensor, t: Tensor) -> Tensor:
        if mask is None:
            return v - v.mean(dim=dim, keepdim=True)
        m = mask.to(v.dtype)
        com = (v * m).sum(dim=dim, keepdim=True) / m.sum(dim=dim, keepdim=True).clamp_min(1)
        return (v - com) * m

    return project


def nearest_embedding(embeddings: Tensor | Callable[[], Tensor]) -> Projection:
    """Diffusion-LM's clamping trick (Li et al. 2022, sec. 4.2): replace every vector along the
    last dim by its nearest row of ``embeddings`` ``[V, D]`` (Euclidean)."""

    def project(v: Tensor, t: Tensor) -> Tensor:
        E = embeddings() if callable(embeddings) else embeddings
        if E.ndim != 2 or E.shape[1] != v.shape[-1]:
            raise ValueError(f"embeddings must be [V, {v.shape[-1]}], got {tuple(E.shape)}")
        flat = v.reshape(-1, v.shape[-1])
        E = E.to(flat.dtype)
        d = (flat**2).sum(1, keepdim=True) - 2 * flat @ E.T + (E**2).sum(1)[None]
        return E[d.argmin(1)].reshape(v.shape)

    return project

"""Rank-agnostic broadcasting helpers (k-diffusion's ``append_dims`` idea).

Core math never hard-codes an image rank: a per-sample coefficient of shape ``[B]`` (or a
scalar) is reshaped to ``[B, 1, ..., 1]`` so it broadcasts against any ``x`` of rank >= 1.
"""
from __future__ import annotations

import torch
from torch import Tensor


def append_dims(c: Tensor, ndim: int) -> Tensor:
    """Append trailing singleton dims to ``c`` until it has ``ndim`` dims.

    Args:
        c: a scalar (0-dim) or per-sample ``[B]`` tensor.
        ndim: the rank of the tensor it must broadcast against.
    """
    if c.ndim > ndim:
        raise ValueError(f"cannot broadcast a coefficient of rank {c.ndim} to rank {ndim}")
    return c.reshape(c.shape + (1,) * (ndim - c.ndim))


def per_sample_sum(x: Tensor) -> Tensor:
    """Sum over every dim but the first (the per-sample reduction of core)."""
    return x.reshape(x.shape[0], -1).sum(1)


def per_sample_mean(x: Tensor) -> Tensor:
    """Mean over every dim but the first."""
    return x.reshape(x.shape[0], -1).mean(1)


def as_time(t: Tensor | float, batch: int | None = None, *, dtype=torch.float64, device=None) -> Tensor:
    """Turn a float or tensor time into a float tensor (``[B]`` when ``batch`` is given)."""
    t = torch.as_tensor(t, dtype=dtype, device=device)
    if batch is not None:
        if t.ndim == 0:
            t = t.expand(batch)
        elif t.shape != (batch,):
            raise ValueError(f"time must be a scalar or shape [{batch}], got {tuple(t.shape)}")
    return t

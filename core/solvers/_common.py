"""Shared pieces of the solvers: the step hook type and per-step coefficient tables."""
from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import torch
from torch import Tensor

from ..denoiser import Coefs, Denoiser
from ..grids import Grid

__all__ = ["Post", "Solver", "coefs", "ratio"]

Post = Callable[[Tensor, int], Tensor]  # (x at grid point i, i) -> x, applied after every step


class Solver(Protocol):
    """``solver(den, grid, x, *, post, noise, **options) -> x`` at the grid's last point."""

    def __call__(self, den: Denoiser, grid: Grid, x: Tensor, *, post: Post, noise, **options) -> Tensor: ...


def coefs(values: Tensor, x: Tensor) -> Coefs:
    """Per-step coefficient table (floats for a shared grid, broadcastable tensors per sample)."""
    return Coefs(values, x.ndim, x.dtype, x.device)


def ratio(num: Tensor, den: Tensor) -> Tensor:
    """``num / den`` with ``0 / 0 = 0`` (steps that land on clean data)."""
    return torch.where(den > 0, num / torch.where(den > 0, den, torch.ones_like(den)), torch.zeros_like(num))

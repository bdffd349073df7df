"""Shared pieces of the solvers: the step hook type and :class:`Steps`, the view of a grid
that hands a solver body ``alpha``, ``sigma`` and ``lambda`` at point ``i``.

Per-sample grids (``grid.t`` of shape ``[N + 1, B]``) are handled here, once: a shared grid
gives python floats, a per-sample grid ``[B, 1, ...]`` tensors, and the solver bodies do the
same arithmetic on either (:func:`exp`, :func:`expm1`, :func:`sqrt` take both).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

import torch
from torch import Tensor

from .._broadcast import append_dims
from ..denoiser import Denoiser
from ..grids import Grid

__all__ = ["Post", "Solver", "Steps", "Value", "exp", "expm1", "sqrt"]

Post = Callable[[Tensor, int], Tensor]  # (x at grid point i, i) -> x, applied after every step
Value = float | Tensor  # a float on a shared grid, a [B, 1, ...] float64 tensor per sample


class Solver(Protocol):
    """``solver(den, grid, x, *, post, noise, **options) -> x`` at the grid's last point."""

    def __call__(self, den: Denoiser, grid: Grid, x: Tensor, *, post: Post, noise, **options) -> Tensor: ...


class Steps:
    """``t[i]``, ``alpha[i]``, ``sigma[i]``, ``lam[i] = log(alpha_i / sigma_i)`` (``+inf`` on clean
    data) and ``clean[i]`` at grid point ``i``; ``steps`` intervals.

    ``out(x)`` is the buffer the next state may be written into: ``x`` itself when nothing
    outside the solver can see it (``post`` marked ``private`` by :func:`~polydiff.core.sample`:
    no callback, ``known`` or ``project_x``) and it is not the caller's start state; else ``None``
    (allocate). A solver passes it only where it no longer needs ``x`` after the update.
    """

    def __init__(self, grid: Grid, x: Tensor, post: Post | None = None):
        a, s = grid.alpha, grid.sigma
        lam = torch.log(a) - torch.log(s)
        self.steps = grid.steps
        self.shared = grid.t.ndim == 1
        if self.shared:
            self.t, self.alpha, self.sigma, self.lam = grid.t.tolist(), a.tolist(), s.tolist(), lam.tolist()
        else:
            rows = lambda v: list(append_dims(v.t(), x.ndim + 1).to(x.device).unbind(1))
            self.t, self.alpha, self.sigma, self.lam = rows(grid.t.double()), rows(a), rows(s), rows(lam)
        self.clean = (s == 0).reshape(s.shape[0], -1).all(1).tolist()
        self._private = bool(getattr(post, "private", False))
        self._start = x
        self._t, self._ndim, self._device = grid.t, x.ndim, x.device

    def at(self, fn: Callable[[Tensor], Tensor], i: int) -> Value:
        """``fn(t_i)`` of a process function of time (``f``, ``g2``) at grid point ``i``."""
        v = fn(self._t[i]).double()
        return float(v) if self.shared else append_dims(v, self._ndim).to(self._device)

    def out(self, x: Tensor) -> Tensor | None:
        return x if self._private and x is not self._start else None


def exp(v: Value) -> Value:
    return math.exp(v) if isinstance(v, float) else torch.exp(v)


def expm1(v: Value) -> Value:
    return math.expm1(v) if isinstance(v, float) else torch.expm1(v)


def sqrt(v: Value) -> Value:
    return math.sqrt(max(v, 0.0)) if isinstance(v, float) else torch.sqrt(v.clamp_min(0))

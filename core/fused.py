"""Fused solver updates: the linear combinations ``sum_k c_k v_k`` of a multistep step as one
kernel (``torch.compile``), so a step costs one pass over memory instead of one per term.

Eager and fused paths compute the same numbers (tested); the fused path keeps coefficients
as 0-dim tensors on the state's device, so one compiled kernel serves every step and a CUDA
graph can capture it.
"""
from __future__ import annotations

import functools

import torch
from torch import Tensor

__all__ = ["as_coefficient", "fused_lincomb", "lincomb"]


def lincomb(*terms) -> Tensor:
    """``c0 * v0 + c1 * v1 + ...`` for ``terms = (c0, v0, c1, v1, ...)`` (eager)."""
    out = terms[0] * terms[1]
    for k in range(2, len(terms), 2):
        out = out + terms[k] * terms[k + 1]
    return out


@functools.cache
def _compiled(n_terms: int):
    def f(*terms):
        out = terms[0] * terms[1]
        for k in range(2, 2 * n_terms, 2):
            out = out + terms[k] * terms[k + 1]
        return out

    return torch.compile(f, dynamic=False, fullgraph=True)


def fused_lincomb(*terms) -> Tensor:
    """:func:`lincomb` as one compiled kernel (coefficients: 0-dim or broadcastable tensors)."""
    if len(terms) % 2 or not terms:
        raise ValueError("fused_lincomb takes coefficient/tensor pairs")
    return _compiled(len(terms) // 2)(*terms)


def as_coefficient(c, like: Tensor):
    """A python float as a 0-dim tensor on ``like``'s device and dtype (tensors pass through)."""
    if isinstance(c, Tensor):
        return c
    return torch.tensor(float(c), dtype=like.dtype, device=like.device)

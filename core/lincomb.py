"""The one linear-combination helper of the solvers: ``sum_k c_k v_k`` over tensors.

Every solver update (and the denoiser's ``x0_hat``) is such a combination: one multiply and
one in-place multiply-add per further term, written into ``out`` when the caller owns a buffer
(no allocation per step). A compiled one-kernel variant (``fused=True``, issue #25) was removed:
it was slower at every size measured (2.1x on ``[16, 4, 64, 64]``, 11x on ``[1, 2]`` on CPU).
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["lincomb"]

Coefficient = float | Tensor  # a python float, or a tensor broadcastable against the terms


def lincomb(*terms: Coefficient | Tensor, out: Tensor | None = None) -> Tensor:
    """``c0 * v0 + c1 * v1 + ...`` for ``terms = (c0, v0, c1, v1, ...)``.

    Args:
        terms: coefficient/tensor pairs; a coefficient is a float or a tensor broadcastable to
            ``v0`` (per-sample ``[B, 1, ...]``), cast to ``v0``'s dtype.
        out: write the result here (it may be ``v0`` itself, never a later ``v_k``); ignored
            while autograd records (a new tensor keeps the graph intact).
    """
    n = len(terms)
    if n % 2 or not n:
        raise ValueError("lincomb takes coefficient/tensor pairs")
    c0, v0 = terms[0], terms[1]
    if isinstance(c0, Tensor):
        c0 = c0.to(v0.dtype)
    if out is None or torch.is_grad_enabled():
        out = torch.mul(v0, c0)
    elif out is v0:
        out.mul_(c0)
    else:
        torch.mul(v0, c0, out=out)
    for k in range(2, n, 2):
        c = terms[k]
        if isinstance(c, Tensor):
            out.addcmul_(terms[k + 1], c.to(v0.dtype))
        else:
            out.add_(terms[k + 1], alpha=c)
    return out

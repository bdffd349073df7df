"""Confidence-ordered decoding of a masked-diffusion model (MaskGIT, Chang et al. 2022, §3.2).

At each of ``steps`` iterations the model predicts every masked slot; a token is drawn per
slot (``temperature = 0``: its argmax) and scored by its probability, and the most confident
predictions are kept so that ``ceil(M gamma((k + 1) / steps))`` slots stay masked after step
``k`` (``M``: the row's free slots, ``gamma(r) = cos(pi r / 2)``, MaskGIT's cosine schedule,
eq. 2 ff.). The rest are re-masked and predicted again with more context. Unlike MDLM's
ancestral sampler, which reveals slots in random order, this one fills the easy slots first.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from polydiff.core.validate import check_generator, check_int, check_number, check_tensor
from torch import Tensor

from .checks import check_ids

__all__ = ["confidence_sample"]


def uniform_draws(shape: Sequence[int], generator: torch.Generator | Sequence[torch.Generator] | None,
                  device: torch.device | str | None = None) -> Tensor:
    """``U[0, 1)`` draws (float64) on ``device``; ``generator`` may be a list with one generator
    per row. Each generator draws on its own device (a CPU generator gives the same draws
    whatever the model's device)."""
    if isinstance(shape, (str, bytes)) or not isinstance(shape, (Sequence, torch.Size)) or len(shape) == 0 or \
            any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in shape):
        raise ValueError(f"shape must be a non-empty tuple of non-negative ints, got {shape!r}")
    generator = check_generator(generator, "generator", batch=shape[0])
    if isinstance(generator, list):
        u = torch.stack([torch.rand(shape[1:], generator=g, device=g.device, dtype=torch.float64)
                         for g in generator])
    else:
        dev = generator.device if generator is not None else device
        u = torch.rand(shape, generator=generator, device=dev, dtype=torch.float64)
    return u if device is None else u.to(device)


@torch.no_grad()
def confidence_sample(model: Callable[[Tensor, Tensor], Tensor], x: Tensor, fixed: Tensor, *, steps: int,
                      mask_id: int, temperature: float = 0.0,
                      generator: torch.Generator | Sequence[torch.Generator] | None = None) -> Tensor:
    """Fill the non-``fixed`` slots of ``x`` ``[B, L]`` in ``steps`` model calls, most confident first.

    ``model(z, t) -> logits [B, L, V]`` (core's token-model contract; ``t`` is the fraction of
    the row's free slots still masked). ``fixed`` (bool ``[B, L]``) marks the given tokens,
    which never change; every other slot starts as ``mask_id``. Returns ids ``[B, L]``.
    """
    if not isinstance(x, Tensor) or x.dtype != torch.long or x.ndim != 2:
        raise TypeError(f"x must be a long tensor [B, L], got {getattr(x, 'dtype', type(x).__name__)} "
                        f"{tuple(getattr(x, 'shape', ()))}")
    check_ids(x, "x")
    if not isinstance(fixed, Tensor) or fixed.shape != x.shape or fixed.dtype != torch.bool:
        raise ValueError(f"fixed must be a bool tensor of shape {tuple(x.shape)}, got "
                         f"{getattr(fixed, 'dtype', type(fixed).__name__)} {tuple(getattr(fixed, 'shape', ()))}")
    steps = check_int(steps, "steps", low=1)
    temperature = check_number(temperature, "temperature", low=0.0)
    mask_id = check_int(mask_id, "mask_id", low=0)
    generator = check_generator(generator, "generator", batch=x.shape[0])
    if (x[fixed] == mask_id).any():
        raise ValueError("fixed slots hold the mask id; give their tokens in x")
    z = torch.where(fixed, x, torch.full_like(x, mask_id))
    free = (~fixed).sum(1)
    for k in range(steps):
        masked = z == mask_id
        left = masked.sum(1)
        if not bool(left.any()):
            break
        logits = _checked_logits(model(z, left.double() / free.clamp_min(1)), z, mask_id, k)
        logits[..., mask_id] = -math.inf
        logp = logits.log_softmax(-1)
        if temperature == 0:
            tok = logp.argmax(-1)
        else:  # Gumbel-max draw from softmax(logits / temperature)
            g = -torch.log(-torch.log(uniform_draws(logp.shape, generator, logp.device).clamp_min(1e-300)))
            tok = (logp / temperature + g).argmax(-1)
        conf = logp.gather(-1, tok[..., None]).squeeze(-1).masked_fill(~masked, -math.inf)
        stay = torch.ceil(free.double() * math.cos(0.5 * math.pi * (k + 1) / steps)).long()
        stay = torch.minimum(stay, left - 1).clamp_min(0) if k < steps - 1 else torch.zeros_like(left)
        rank = conf.argsort(1, descending=True).argsort(1)  # 0 = most confident
        reveal = masked & (rank < (left - stay)[:, None])
        z = torch.where(reveal, tok, z)
    return z


def _checked_logits(logits, z: Tensor, mask_id: int, step: int) -> Tensor:
    """The model's logits as float64, if they are ``[B, L, V]`` with ``V > mask_id`` and hold no NaN
    and no ``+inf`` (``-inf`` is allowed: a model may rule tokens out)."""
    if not isinstance(logits, Tensor) or logits.ndim != 3 or logits.shape[:2] != z.shape \
            or logits.shape[2] <= mask_id:
        raise ValueError(f"model(z, t) must return logits [B, L, V] = [{z.shape[0]}, {z.shape[1]}, > mask_id], "
                         f"got {getattr(logits, 'shape', type(logits).__name__)} at step {step}")
    check_tensor(logits, "model(z, t) logits", floating=True, finite=False)
    if bool((torch.isnan(logits) | (logits == math.inf)).any()):
        raise FloatingPointError(f"the model returned NaN or +inf logits at decoding step {step} (its inputs "
                                 f"were valid); logits must be finite or -inf")
    return logits.double()

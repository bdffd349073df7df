"""Held-out likelihood per real token: the first gate of a language model.

- :func:`ar_nll` — the autoregressive model's exact NLL (chain rule).
- :func:`masked_elbo` — the masked-diffusion model's negative ELBO (MDLM, Sahoo et al. 2024,
  eq. 10, with the length term of :func:`~polydiff.text.masked.masked_nelbo`), an upper bound
  on its exact NLL, estimated with ``samples`` stratified times per row.

Both count the same tokens of a row (its text and EOS; never a pad, never the source), so
``exp(per_token)`` of the two are comparable perplexities (MDLM's is an upper bound).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from polydiff.core.discrete_state import MaskedDiffusion
from polydiff.core.validate import check_int, check_number, describe
from torch import Tensor, nn

from .checks import check_ids, check_loss_mask, check_one_generator
from .masked_objective import masked_nelbo

__all__ = ["HeldOutNLL", "ar_nll", "masked_elbo"]


def exp_perplexity(per_token: float) -> float:
    """``exp(per_token)``, or a ``ValueError`` naming the perplexity when it overflows."""
    try:
        return math.exp(per_token)
    except OverflowError:
        raise ValueError(f"perplexity = exp({per_token:g} nats per token) overflows a float (the model "
                         f"assigns the tokens almost no probability)") from None


@dataclass(frozen=True)
class HeldOutNLL:
    """Total negative log-likelihood (or its bound) ``nats`` over ``tokens`` real tokens of ``rows`` rows."""

    nats: float
    tokens: int
    rows: int

    def __post_init__(self) -> None:
        check_number(self.nats, "HeldOutNLL.nats", low=0.0)
        check_int(self.tokens, "HeldOutNLL.tokens", low=1)
        check_int(self.rows, "HeldOutNLL.rows", low=1)

    @property
    def per_token(self) -> float:
        """Nats per real token."""
        return self.nats / self.tokens

    @property
    def perplexity(self) -> float:
        """``exp(nats per token)``; a ``ValueError`` when it overflows a float (over 709 nats per token)."""
        return exp_perplexity(self.per_token)


def _check_rows(ids: Tensor, batch_size: int, net: nn.Module, vocab_size: int | None) -> int:
    check_ids(ids, "ids", vocab_size=vocab_size)
    seq_len = getattr(net, "seq_len", None)
    if isinstance(seq_len, int) and ids.shape[1] > seq_len:
        raise ValueError(f"ids must have rows of at most the net's seq_len={seq_len} tokens, got shape "
                         f"{tuple(ids.shape)}")
    return check_int(batch_size, "batch_size", low=1)


@torch.no_grad()
def ar_nll(net: nn.Module, ids: Tensor, loss_mask: Tensor, *, batch_size: int = 256) -> HeldOutNLL:
    """Exact NLL ``-sum_i log p(x_i | x_<i)`` of the tokens where ``loss_mask[:, 1:]`` is 1.

    ``net.token_nll(ids, loss_mask) -> [B]`` is an :class:`~polydiff.text.nets.ARTransformer`
    (``loss_mask`` from :meth:`~polydiff.text.ar.ARBaseline.loss_mask`: target and EOS).
    """
    if not callable(getattr(net, "token_nll", None)):
        raise TypeError(f"net must be an autoregressive model with token_nll(ids, loss_mask) (an ARTransformer), "
                        f"got {describe(net)}")
    batch_size = _check_rows(ids, batch_size, net, getattr(net, "vocab_size", None))
    check_loss_mask(loss_mask, "loss_mask", ids.shape)
    tokens = int(loss_mask[:, 1:].sum())
    if tokens == 0:
        raise ValueError("loss_mask must count at least one token (at positions >= 1), got none")
    nats = sum(float(net.token_nll(ids[i:i + batch_size], loss_mask[i:i + batch_size]).double().sum())
               for i in range(0, len(ids), batch_size))
    return HeldOutNLL(nats, tokens, len(ids))


@torch.no_grad()
def masked_elbo(net: nn.Module, process: MaskedDiffusion, ids: Tensor, *, src_len: int, eos_id: int,
                samples: int = 16, batch_size: int = 256,
                generator: torch.Generator | None = None) -> HeldOutNLL:
    """Negative ELBO of masked diffusion: :func:`~polydiff.text.masked.masked_nelbo` averaged
    over ``samples`` times per row, stratified (``t_r = t_eps + (1 - t_eps)(r + u_r) / samples``,
    ``r = 0..samples-1``: an unbiased estimate of the expectation over ``t ~ U[t_eps, 1]``)."""
    if not isinstance(process, MaskedDiffusion):
        raise TypeError(f"process must be a MaskedDiffusion, got {type(process).__name__}")
    batch_size = _check_rows(ids, batch_size, net, process.vocab_size)
    samples = check_int(samples, "samples", low=1)
    src_len = check_int(src_len, "src_len", low=0, high=ids.shape[1] - 1)
    eos_id = check_int(eos_id, "eos_id", low=0, high=process.vocab_size - 1)
    generator = check_one_generator(generator)
    nats, tokens = 0.0, 0
    for i in range(0, len(ids), batch_size):
        x = ids[i:i + batch_size]
        for r in range(samples):
            u = torch.rand(len(x), generator=generator, dtype=torch.float64)
            t = process.t_eps + (1.0 - process.t_eps) * (r + u) / samples
            per_row, count = masked_nelbo(net, process, x, src_len=src_len, eos_id=eos_id,
                                          generator=generator, t=t)
            nats += float(per_row.double().sum()) / samples
        tokens += int(count.sum())
    return HeldOutNLL(nats, tokens, len(ids))

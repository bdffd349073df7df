"""The masked-diffusion objective on a (source, target) row: the target's length ``n`` before
its EOS is scored by the network's length head, and only those ``n`` target tokens are masked
and scored (EOS and PAD never enter). Kept apart from :mod:`.masked` (the model) so that
:mod:`.likelihood` can use it without importing the model's room.
"""
from __future__ import annotations

import torch
from polydiff.core.discrete_state import MaskedDiffusion, mdlm_loss
from polydiff.core.validate import check_int
from torch import Tensor, nn

from .checks import check_ids

__all__ = ["length_layout", "masked_nelbo"]


def length_layout(ids: Tensor, src_len: int, eos_id: int) -> tuple[Tensor, Tensor]:
    """``(n [B], scored [B, L])``: the number of target tokens before the first EOS of the
    target half ``ids[:, src_len:]``, and the bool mask of those ``n`` positions (the only
    ones the masked objective corrupts and scores).

    Raises:
        ValueError: a row has no EOS in its target half.
    """
    check_ids(ids, "ids")
    src_len = check_int(src_len, "src_len", low=0, high=ids.shape[1] - 1)
    eos_id = check_int(eos_id, "eos_id", low=0)
    is_eos = ids[:, src_len:] == eos_id
    missing = ~is_eos.any(1)
    if missing.any():
        k = int(missing.nonzero()[0])
        raise ValueError(f"row {k} has no EOS (id {eos_id}) at positions >= src_len={src_len}")
    n = is_eos.int().argmax(1)
    scored = torch.zeros_like(ids, dtype=torch.bool)
    scored[:, src_len:] = torch.arange(ids.shape[1] - src_len, device=ids.device)[None] < n[:, None]
    return n, scored


def masked_nelbo(net: nn.Module, process: MaskedDiffusion, ids: Tensor, *, src_len: int, eos_id: int,
                 generator: torch.Generator | None = None, t: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Negative ELBO of each row in nats ``[B]`` and its real-token count ``n + 1`` ``[B]``.

    ``-log p(n | source)`` (the net's length logits) ``+`` MDLM's NELBO of the ``n`` target
    tokens (Sahoo et al. 2024, eq. 10; :func:`~polydiff.core.discrete_state.mdlm_loss` with the
    source, EOS and pad slots fixed), one draw of ``t`` per row (``t`` given: those times).
    ``net(z) -> (logits, length_logits)`` is a :class:`~polydiff.text.nets.TokenDenoiser`.
    """
    if not isinstance(process, MaskedDiffusion):
        raise TypeError(f"process must be a MaskedDiffusion, got {type(process).__name__}")
    net_vocab = getattr(net, "vocab_size", None)
    if isinstance(net_vocab, int) and net_vocab != process.vocab_size:
        raise ValueError(f"process.vocab_size={process.vocab_size} differs from the net's vocab_size={net_vocab}: "
                         f"the process must be built for the net's vocabulary")
    check_ids(ids, "ids", vocab_size=process.vocab_size)
    check_int(eos_id, "eos_id", low=0, high=process.vocab_size - 1)
    if bool((ids == process.mask_id).any()):
        k = tuple(int(i) for i in (ids == process.mask_id).nonzero()[0])
        raise ValueError(f"ids must be clean token rows without the mask id {process.mask_id}, got it at index {k}")
    n, scored = length_layout(ids, src_len, eos_id)
    seen: dict[str, Tensor] = {}

    def model(z: Tensor, _t: Tensor) -> Tensor:  # MDLM's denoiser takes no time input
        logits, seen["length"] = net(z)
        return logits

    per_token = mdlm_loss(model, process, ids, generator=generator, t=t, fixed=~scored)
    length_logits = seen["length"]
    if length_logits.shape != (ids.shape[0], ids.shape[1] - src_len):
        raise ValueError(f"length logits must be [{ids.shape[0]}, {ids.shape[1] - src_len}], "
                         f"got {tuple(length_logits.shape)}")
    length_nll = nn.functional.cross_entropy(length_logits.float(), n, reduction="none")
    return per_token * n.to(per_token.dtype) + length_nll.to(per_token.dtype), n + 1

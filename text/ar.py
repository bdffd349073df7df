"""The autoregressive baseline: a causal transformer with the same tokenizer and layout.

Two modes share one class:

- seq2seq (``src_len > 0``): the DiffuSeq layout ``[source | <sep> | pads][target | EOS]``;
  the loss counts target tokens only; decoding continues the fixed-length source prefix.
- language model (``src_len == 0``): ``[BOS | text | EOS | pads]``; used for unconditional
  samples and as the held-out LM that scores fluency (perplexity).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from polydiff.core.validate import check_int
from torch import Tensor, nn

from .checks import check_ids, check_texts
from .nets import ARTransformer
from .token_config import TokenModelConfig
from .tokenizer import Tokenizer, check_model_parts

__all__ = ["ARBaseline", "ARConfig"]


@dataclass(frozen=True)
class ARConfig(TokenModelConfig):
    """Sizes of the AR baseline (``seq_len`` includes the source half when ``src_len > 0``)."""


class ARBaseline(nn.Module):
    """Causal transformer LM / seq2seq model with a tied head."""

    def __init__(self, config: ARConfig, tokenizer: Tokenizer):
        super().__init__()
        check_model_parts(config, ARConfig, tokenizer)
        self.config, self.tokenizer = config, tokenizer
        self.net = ARTransformer(config.vocab_size, config.seq_len, config.hidden, config.layers, config.heads,
                                 config.dropout)

    @property
    def tgt_len(self) -> int:
        return self.config.tgt_len

    def encode_sources(self, sources: Sequence[str], truncate: bool = False) -> Tensor:
        """``[B, src_len]`` source ids with ``<sep>`` (the DiffuSeq source half)."""
        from .diffuseq import encode_sources
        return encode_sources(self.tokenizer, sources, self.config.src_len, truncate)

    def encode(self, texts: Sequence[str], sources: Sequence[str] | None = None,
               truncate: bool = False) -> Tensor:
        """Training rows ``[B, seq_len]`` (LM: BOS text EOS; seq2seq: source half + target)."""
        tok, c = self.tokenizer, self.config
        if c.src_len == 0:
            return tok.encode_batch(texts, c.seq_len, bos=True, truncate=truncate)
        if sources is None or len(sources) != len(texts):
            raise ValueError("a seq2seq AR model needs one source per target text")
        return torch.cat([self.encode_sources(sources, truncate),
                          tok.encode_batch(texts, self.tgt_len, truncate=truncate)], 1)

    def loss_mask(self, ids: Tensor) -> Tensor:
        """1 on the predicted tokens: the target half (seq2seq) up to and including EOS."""
        c = self.config
        check_ids(ids, "ids", vocab_size=c.vocab_size)
        first = max(c.src_len, 1)
        m = torch.zeros_like(ids, dtype=torch.float32)
        m[:, first:] = 1.0
        # count pads after EOS? no: the first EOS ends the sequence
        after_eos = (ids == self.tokenizer.eos_id).float().cumsum(1) - (ids == self.tokenizer.eos_id).float()
        return m * (after_eos == 0).float()

    def loss(self, ids: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Mean per-token NLL of the counted tokens."""
        check_ids(ids, "ids", vocab_size=self.config.vocab_size)
        return ar_loss(self.net, ids, self.loss_mask(ids))

    def nll(self, ids: Tensor, *, batch_size: int = 256):
        """Exact held-out NLL of the rows ``ids`` over the tokens of :meth:`loss_mask`
        (:func:`~polydiff.text.likelihood.ar_nll`, a :class:`~polydiff.text.likelihood.HeldOutNLL`)."""
        from .likelihood import ar_nll
        return ar_nll(self.net, ids, self.loss_mask(ids), batch_size=batch_size)

    @torch.no_grad()
    def sample_ids(self, sources: Sequence[str] | None = None, n: int = 1, *, temperature: float = 1.0,
                   top_k: int | None = None, truncate: bool = False,
                   generator: torch.Generator | Sequence[torch.Generator] | None = None) -> Tensor:
        """Target ids ``[B * n, tgt_len]`` (seq2seq, ``n`` per source in source-major order) or
        ``[n, seq_len - 1]`` (LM);
        ``generator`` may be a list with one per row (see :meth:`ARTransformer.generate`)."""
        tok, c = self.tokenizer, self.config
        device = next(self.net.parameters()).device
        if c.src_len == 0:
            if sources is not None:
                raise ValueError("this AR model is a language model: pass sources=None")
            n = check_int(n, "n", low=1)
            prefix = torch.full((n, 1), tok.bos_id, dtype=torch.long, device=device)
            return self.net.generate(prefix, c.seq_len - 1, eos_id=tok.eos_id, temperature=temperature,
                                     top_k=top_k, generator=generator)
        if sources is None:
            raise ValueError("a seq2seq AR model needs sources")
        n = check_int(n, "n", low=1)
        sources = [s for s in check_texts(sources, "sources") for _ in range(n)]
        prefix = self.encode_sources(sources, truncate).to(device)
        return self.net.generate(prefix, self.tgt_len, eos_id=tok.eos_id, temperature=temperature,
                                 top_k=top_k, generator=generator)

    def generate(self, sources: Sequence[str] | None = None, n: int = 1, steps: int | None = None,
                 solver: str | None = None, **kw) -> list[str]:
        """``n`` texts per source. The AR model decodes one token per step: ``steps`` (if given, a
        positive int) is accepted for a uniform interface and unused; it has no ``solver``, which
        must be ``None``."""
        n = check_int(n, "n", low=1)
        if steps is not None:
            check_int(steps, "steps", low=1)
        if solver is not None:
            raise ValueError(f"solver must be None for the AR baseline (it decodes one token per step), "
                             f"got {solver!r}")
        if sources is None:
            return self.tokenizer.decode_batch(self.sample_ids(None, n, **kw))
        sources = check_texts(sources, "sources")
        reps = [s for s in sources for _ in range(n)]
        return self.tokenizer.decode_batch(self.sample_ids(reps, **kw))

    def save(self, directory: str | Path) -> None:
        from .diffusion_lm import save_model
        save_model(self, directory, {"config": self.config.to_dict()})

    @classmethod
    def load(cls, directory: str | Path) -> ARBaseline:
        from .diffusion_lm import load_model_files, load_weights, model_from_meta
        meta, tok, state = load_model_files(directory)
        m = model_from_meta(cls, ARConfig, meta, tok, directory)
        load_weights(m, state, directory)
        return m


def ar_loss(net: ARTransformer, ids: Tensor, loss_mask: Tensor) -> Tensor:
    """Mean next-token NLL over the tokens with ``loss_mask == 1`` (position ``i >= 1``)."""
    return net.token_nll(ids, loss_mask).sum() / loss_mask[:, 1:].sum().clamp_min(1.0)

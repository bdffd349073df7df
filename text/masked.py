"""Masked (absorbing-state) diffusion language model on core's discrete-state process.

MDLM (Sahoo et al. 2024) / D3PM-absorbing (Austin et al. 2021): tokens are replaced by
``<mask>`` with probability ``1 - alpha(t)``; the network predicts the clean tokens; the loss
is MDLM's continuous-time NELBO (:func:`polydiff.core.discrete_state.mdlm_loss`) and decoding
is its ancestral sampler (:func:`polydiff.core.discrete_state.masked_sample`) at any number
of steps. For data-to-text the sequence uses DiffuSeq's layout ``[source | <sep> | pads]
[target | EOS | pads]``: source positions are ``fixed`` (never masked, never scored), the
masked-diffusion counterpart of partial noising.

**Length and padding.** A row's target is ``n`` tokens, EOS, pads. The model factorises
``p(target | source) = p(n | source) p(tokens | n, source)`` (Mask-Predict, Ghazvininejad et
al. 2019): the EOS and pad slots are fixed once ``n`` is known, so no PAD slot is ever masked
or scored, and the negative ELBO of a row (:func:`masked_nelbo`) is
``-log p(n | source) + MDLM NELBO of the n tokens``, an upper bound on the row's exact NLL
that counts ``n + 1`` real tokens (text and EOS), as the autoregressive NLL does.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from polydiff.core.discrete_state import TOKEN_SCHEDULES, MaskedDiffusion, masked_sample
from polydiff.core.validate import check_choice, check_generator, check_int, check_number
from torch import Tensor, nn

from .checks import check_ids, check_one_generator, check_texts
from .decoding import confidence_sample, uniform_draws
from .diffuseq import _encode_targets, encode_sources
from .masked_objective import length_layout, masked_nelbo  # re-exported: part of this room's API
from .nets import TokenDenoiser
from .token_config import TokenModelConfig
from .tokenizer import Tokenizer, check_model_parts

__all__ = ["SOLVERS", "MaskedConfig", "MaskedDiffusionLM", "length_layout", "masked_nelbo", "masked_prior"]

SOLVERS = ("ancestral", "confidence")


@dataclass(frozen=True)
class MaskedConfig(TokenModelConfig):
    """Sizes of a masked-diffusion LM (``src_len > 0``: seq2seq with a fixed source half) and
    its masking schedule."""

    schedule: str = "linear"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice(self.schedule, "MaskedConfig.schedule", TOKEN_SCHEDULES)


def masked_prior(net: nn.Module, mask_id: int, pad_id: int, eos_id: int, prefix: Tensor, tgt_len: int, *,
                 temperature: float = 1.0,
                 generator: torch.Generator | Sequence[torch.Generator] | None = None) -> tuple[Tensor, Tensor]:
    """The decoder's start ``(z [B, S + tgt_len], fixed [B, S + tgt_len])``: the given
    ``prefix`` ``[B, S]`` (the source half; ``S = 0`` unconditional), a length ``n`` drawn
    from the net's ``p(n | prefix)`` (``temperature = 0``: its mode), ``n`` masks, EOS, pads.
    ``fixed`` marks everything but the ``n`` masks."""
    temperature = check_number(temperature, "temperature", low=0.0)
    vocab, seq_len = getattr(net, "vocab_size", None), getattr(net, "seq_len", None)
    top = vocab - 1 if isinstance(vocab, int) else None
    mask_id = check_int(mask_id, "mask_id", low=0, high=top)
    pad_id = check_int(pad_id, "pad_id", low=0, high=top)
    eos_id = check_int(eos_id, "eos_id", low=0, high=top)
    if len({mask_id, pad_id, eos_id}) < 3:
        raise ValueError(f"mask_id, pad_id and eos_id must differ, got {mask_id}, {pad_id}, {eos_id}")
    check_ids(prefix, "prefix", nonempty=False)
    tgt_len = check_int(tgt_len, "tgt_len", low=1)
    B, S = prefix.shape
    if isinstance(seq_len, int) and S + tgt_len > seq_len:
        raise ValueError(f"tgt_len must leave the prefix's {S} positions inside the net's seq_len={seq_len}, "
                         f"got tgt_len={tgt_len} ({S} + {tgt_len} > {seq_len})")
    if B == 0:
        raise ValueError(f"prefix must hold at least one row, got shape {tuple(prefix.shape)}")
    generator = check_generator(generator, "generator", batch=B)
    z = torch.cat([prefix, torch.full((B, tgt_len), mask_id, dtype=torch.long, device=prefix.device)], 1)
    _, length_logits = net(z)
    if temperature == 0:
        n = length_logits.argmax(-1)
    else:  # Gumbel-max with one generator per row when given a list
        u = uniform_draws(length_logits.shape, generator, length_logits.device).clamp(1e-20, 1 - 1e-7)
        n = (length_logits.double() / temperature - torch.log(-torch.log(u))).argmax(-1)
    pos = torch.arange(tgt_len, device=z.device)[None]
    tail = torch.where(pos < n[:, None], mask_id, torch.where(pos == n[:, None], eos_id, pad_id))
    z[:, S:] = tail
    return z, z != mask_id


class MaskedDiffusionLM(nn.Module):
    """Token denoiser + core's :class:`~polydiff.core.discrete_state.MaskedDiffusion`."""

    def __init__(self, config: MaskedConfig, tokenizer: Tokenizer):
        super().__init__()
        check_model_parts(config, MaskedConfig, tokenizer)
        self.config, self.tokenizer = config, tokenizer
        self.net = TokenDenoiser(config.vocab_size, config.seq_len, config.hidden, config.layers, config.heads,
                                 config.dropout, src_len=config.src_len)
        self.process = MaskedDiffusion(config.vocab_size, tokenizer.mask_id, config.schedule)

    @property
    def tgt_len(self) -> int:
        return self.config.tgt_len

    def fixed_mask(self, batch: int) -> Tensor:
        """Bool ``[B, L]``: the source positions (never masked, never scored)."""
        m = torch.zeros(batch, self.config.seq_len, dtype=torch.bool)
        m[:, : self.config.src_len] = True
        return m

    def encode_pairs(self, sources: Sequence[str], targets: Sequence[str],
                     truncate: bool = False) -> tuple[Tensor, Tensor]:
        """``(ids [B, seq_len], fixed [B, seq_len])`` in DiffuSeq's layout."""
        if self.config.src_len == 0:
            raise ValueError("this masked LM has no source half (src_len=0): use encode()")
        sources, targets = check_texts(sources, "sources"), check_texts(targets, "targets")
        if len(sources) != len(targets):
            raise ValueError(f"{len(sources)} sources but {len(targets)} targets")
        src = encode_sources(self.tokenizer, sources, self.config.src_len, truncate)
        tgt = _encode_targets(self.tokenizer, targets, self.tgt_len, truncate)
        return torch.cat([src, tgt], 1), self.fixed_mask(len(src))

    def encode(self, texts: Sequence[str], truncate: bool = False) -> Tensor:
        """Unconditional rows ``[B, seq_len]`` (text, EOS, pads)."""
        return self.tokenizer.encode_batch(texts, self.config.seq_len, truncate=truncate)

    def loss_fn(self):
        """``loss_fn(net, batch, generator)`` for the core Trainer: the batch's negative ELBO
        per real token (:func:`masked_nelbo` summed over rows / their ``n + 1`` tokens)."""
        proc, src_len, eos = self.process, self.config.src_len, self.tokenizer.eos_id

        def loss_fn(net, batch: Tensor, generator=None) -> Tensor:
            nats, tokens = masked_nelbo(net, proc, batch, src_len=src_len, eos_id=eos, generator=generator)
            return nats.sum() / tokens.sum()

        return loss_fn

    def check_rows(self, ids: Tensor, name: str = "ids") -> Tensor:
        """``ids`` if they are rows ``[B, L]`` of token ids this model scores (``L == seq_len``
        for seq2seq, ``L <= seq_len`` otherwise)."""
        check_ids(ids, name, vocab_size=self.config.vocab_size)
        L, c = ids.shape[1], self.config
        if (c.src_len and L != c.seq_len) or L > c.seq_len:
            want = f"= seq_len = {c.seq_len}" if c.src_len else f"<= seq_len = {c.seq_len}"
            raise ValueError(f"{name} must have rows of length {want}, got shape {tuple(ids.shape)}")
        mask_id = self.tokenizer.mask_id
        if bool((ids == mask_id).any()):
            k = tuple(int(i) for i in (ids == mask_id).nonzero()[0])
            raise ValueError(f"{name} must be clean token rows without the <mask> id {mask_id}, got it at "
                             f"index {k}")
        return ids

    def loss(self, ids: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Negative ELBO per real token of the rows ``ids`` (one ``t`` draw per row)."""
        return self.loss_fn()(self.net, self.check_rows(ids), check_one_generator(generator))

    def nll(self, ids: Tensor, *, samples: int = 16, batch_size: int = 256,
            generator: torch.Generator | None = None):
        """Held-out negative ELBO of the rows ``ids`` per real token
        (:func:`~polydiff.text.likelihood.masked_elbo`, a :class:`~polydiff.text.likelihood.HeldOutNLL`)."""
        from .likelihood import masked_elbo
        return masked_elbo(self.net, self.process, self.check_rows(ids), src_len=self.config.src_len, eos_id=self.tokenizer.eos_id,
                           samples=samples, batch_size=batch_size, generator=generator)

    def denoiser(self, z: Tensor, t: Tensor | None = None) -> Tensor:
        """Core's token-model contract ``model(z, t) -> logits``; ``t`` is unused (no time input)."""
        return self.net(z)[0]

    @torch.no_grad()
    def sample_ids(self, sources: Sequence[str] | None = None, n: int = 1, steps: int = 50, *,
                   temperature: float = 1.0, truncate: bool = False, solver: str = "ancestral",
                   generator: torch.Generator | Sequence[torch.Generator] | None = None) -> Tensor:
        """Targets ``[B * n, tgt_len]`` for the ``B`` ``sources`` (seq2seq; ``n`` per source,
        source-major order) or ``n`` rows ``[n, seq_len]``:
        a length from ``p(n | source)``, then ``solver`` over the ``n`` masks: ``ancestral``
        (MDLM's sampler, random order) or ``confidence`` (MaskGIT's most-confident-first,
        :func:`~polydiff.text.decoding.confidence_sample`). ``temperature`` applies to the
        length and the tokens; 0 is greedy."""
        check_choice(solver, "solver", SOLVERS)
        steps = check_int(steps, "steps", low=1)
        temperature = check_number(temperature, "temperature", low=0.0)
        c, tok = self.config, self.tokenizer
        if c.src_len == 0:
            if sources is not None:
                raise ValueError("this masked LM is unconditional: pass sources=None")
            n = check_int(n, "n", low=1)
            prefix = torch.zeros(n, 0, dtype=torch.long)
        else:
            if sources is None:
                raise ValueError("a seq2seq masked LM needs sources")
            n = check_int(n, "n", low=1)
            sources = [s for s in check_texts(sources, "sources") for _ in range(n)]
            prefix = encode_sources(tok, sources, c.src_len, truncate)
        prefix = prefix.to(next(self.net.parameters()).device)
        z, fixed = masked_prior(self.net, tok.mask_id, tok.pad_id, tok.eos_id, prefix, self.tgt_len,
                                temperature=temperature, generator=generator)
        if solver == "confidence":
            out = confidence_sample(self.denoiser, z, fixed, steps=steps, mask_id=tok.mask_id,
                                    temperature=temperature, generator=generator)
        else:
            out = masked_sample(self.denoiser, self.process, steps=steps, x=z, fixed=fixed,
                                temperature=temperature, generator=generator)
        return out[:, c.src_len:]

    def generate(self, sources: Sequence[str] | None = None, n: int = 1, steps: int = 50,
                 solver: str = "ancestral", **kw) -> list[str]:
        """``n`` texts per source (or ``n`` unconditional ones), decoded by ``solver``
        (``ancestral`` or ``confidence``, see :meth:`sample_ids`)."""
        check_choice(solver, "solver", SOLVERS)
        n = check_int(n, "n", low=1)
        if sources is None:
            return self.tokenizer.decode_batch(self.sample_ids(None, n, steps, solver=solver, **kw))
        sources = check_texts(sources, "sources")
        reps = [s for s in sources for _ in range(n)]
        return self.tokenizer.decode_batch(self.sample_ids(reps, 1, steps, solver=solver, **kw))

    def save(self, directory: str | Path) -> None:
        from .diffusion_lm import save_model
        save_model(self, directory, {"config": self.config.to_dict()})

    @classmethod
    def load(cls, directory: str | Path) -> MaskedDiffusionLM:
        from .diffusion_lm import load_model_files, load_weights, model_from_meta
        meta, tok, state = load_model_files(directory)
        m = model_from_meta(cls, MaskedConfig, meta, tok, directory)
        load_weights(m, state, directory)
        return m

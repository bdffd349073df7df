"""Masked (absorbing-state) diffusion language model on core's discrete-state process.

MDLM (Sahoo et al. 2024) / D3PM-absorbing (Austin et al. 2021): tokens are replaced by
``<mask>`` with probability ``1 - alpha(t)``; the network predicts the clean tokens; the loss
is MDLM's continuous-time NELBO (:func:`polydiff.core.discrete_state.mdlm_loss`) and decoding
is its ancestral sampler (:func:`polydiff.core.discrete_state.masked_sample`) at any number
of steps. For data-to-text the sequence uses DiffuSeq's layout ``[source | <sep> | pads]
[target | EOS | pads]``: source positions are ``fixed`` (never masked, never scored), the
masked-diffusion counterpart of partial noising.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from polydiff.core.discrete_state import MaskedDiffusion, masked_sample, mdlm_loss
from torch import Tensor, nn

from .diffuseq import encode_sources
from .nets import TokenDenoiser
from .token_config import TokenModelConfig
from .tokenizer import Tokenizer

__all__ = ["MaskedConfig", "MaskedDiffusionLM"]


@dataclass(frozen=True)
class MaskedConfig(TokenModelConfig):
    """Sizes of a masked-diffusion LM (``src_len > 0``: seq2seq with a fixed source half) and
    its masking schedule."""

    schedule: str = "linear"


class MaskedDiffusionLM(nn.Module):
    """Token denoiser + core's :class:`~polydiff.core.discrete_state.MaskedDiffusion`."""

    def __init__(self, config: MaskedConfig, tokenizer: Tokenizer):
        super().__init__()
        if tokenizer.vocab_size != config.vocab_size:
            raise ValueError(f"tokenizer has {tokenizer.vocab_size} pieces, config {config.vocab_size}")
        self.config, self.tokenizer = config, tokenizer
        self.net = TokenDenoiser(config.vocab_size, config.seq_len, config.hidden, config.layers, config.heads)
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
        if len(sources) != len(targets):
            raise ValueError(f"{len(sources)} sources but {len(targets)} targets")
        src = encode_sources(self.tokenizer, sources, self.config.src_len, truncate)
        tgt = self.tokenizer.encode_batch(targets, self.tgt_len, truncate=truncate)
        return torch.cat([src, tgt], 1), self.fixed_mask(len(src))

    def encode(self, texts: Sequence[str], truncate: bool = False) -> Tensor:
        """Unconditional rows ``[B, seq_len]`` (text, EOS, pads)."""
        return self.tokenizer.encode_batch(texts, self.config.seq_len, truncate=truncate)

    def loss_fn(self):
        """``loss_fn(net, batch, generator)`` for the core Trainer: mean MDLM NELBO per token."""
        proc, src_len = self.process, self.config.src_len

        def loss_fn(net, batch: Tensor, generator=None) -> Tensor:
            fixed = None
            if src_len:
                fixed = torch.zeros(batch.shape, dtype=torch.bool, device=batch.device)
                fixed[:, :src_len] = True
            return mdlm_loss(net, proc, batch, generator=generator, fixed=fixed).mean()

        return loss_fn

    def loss(self, ids: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return self.loss_fn()(self.net, ids, generator)

    @torch.no_grad()
    def sample_ids(self, sources: Sequence[str] | None = None, n: int = 1, steps: int = 50, *,
                   temperature: float = 1.0, truncate: bool = False,
                   generator: torch.Generator | Sequence[torch.Generator] | None = None) -> Tensor:
        """Targets ``[B, tgt_len]`` for ``sources`` (seq2seq) or ``n`` rows ``[n, seq_len]``."""
        c = self.config
        if c.src_len == 0:
            if sources is not None:
                raise ValueError("this masked LM is unconditional: pass sources=None")
            return masked_sample(self.net, self.process, (n, c.seq_len), steps=steps,
                                 temperature=temperature, generator=generator)
        if sources is None:
            raise ValueError("a seq2seq masked LM needs sources")
        src = encode_sources(self.tokenizer, sources, c.src_len, truncate)
        x = torch.cat([src, torch.full((len(src), self.tgt_len), self.tokenizer.mask_id)], 1)
        out = masked_sample(self.net, self.process, steps=steps, x=x, fixed=self.fixed_mask(len(src)),
                            temperature=temperature, generator=generator)
        return out[:, c.src_len:]

    def generate(self, sources: Sequence[str] | None = None, n: int = 1, steps: int = 50,
                 solver: str = "ancestral", **kw) -> list[str]:
        """``n`` texts per source (or ``n`` unconditional ones); the only solver is MDLM's
        ancestral sampler."""
        if solver != "ancestral":
            raise ValueError(f"masked diffusion decodes with solver='ancestral', got {solver!r}")
        if sources is None:
            return self.tokenizer.decode_batch(self.sample_ids(None, n, steps, **kw))
        if isinstance(sources, str):
            raise TypeError("sources must be a list of strings, not one str")
        reps = [s for s in sources for _ in range(n)]
        return self.tokenizer.decode_batch(self.sample_ids(reps, 1, steps, **kw))

    def save(self, directory: str | Path) -> None:
        from .diffusion_lm import save_model
        save_model(self, directory, {"config": self.config.to_dict()})

    @classmethod
    def load(cls, directory: str | Path) -> MaskedDiffusionLM:
        from .diffusion_lm import load_model_files
        meta, tok, state = load_model_files(directory)
        m = cls(MaskedConfig(**meta["config"]), tok)
        m.load_state_dict(state)
        return m

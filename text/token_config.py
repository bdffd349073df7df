"""Sizes shared by the text models (the AR baseline, masked diffusion and embedding diffusion)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

__all__ = ["TokenModelConfig"]


@dataclass(frozen=True)
class TokenModelConfig:
    """Transformer sizes over token ids; ``src_len > 0``: seq2seq, the first ``src_len``
    positions of each ``seq_len`` row hold the source; ``dropout``: of the transformer layers
    (0.1 in MDLM's and GPT-2's configurations; 0 keeps the earlier checkpoints' behaviour)."""

    vocab_size: int
    seq_len: int
    hidden: int = 128
    layers: int = 4
    heads: int = 4
    src_len: int = 0
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if min(self.vocab_size, self.seq_len, self.hidden, self.layers, self.heads) < 1:
            raise ValueError(f"{type(self).__name__} sizes must be >= 1")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if not 0 <= self.src_len < self.seq_len:
            raise ValueError(f"src_len must be in [0, seq_len), got {self.src_len}")

    @property
    def tgt_len(self) -> int:
        """Target positions per row: ``seq_len - src_len``."""
        return self.seq_len - self.src_len

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

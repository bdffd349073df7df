"""Sizes shared by the text models (the AR baseline, masked diffusion and embedding diffusion)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from polydiff.core.validate import check_int, check_number

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
        name = type(self).__name__
        for k in ("vocab_size", "seq_len", "hidden", "layers", "heads"):
            check_int(getattr(self, k), f"{name}.{k}", low=1)
        if self.hidden % self.heads:
            raise ValueError(f"{name}.hidden must be divisible by {name}.heads, got hidden={self.hidden}, "
                             f"heads={self.heads}")
        check_number(self.dropout, f"{name}.dropout", low=0.0, high=1.0, high_open=True)
        check_int(self.src_len, f"{name}.src_len", low=0, high=self.seq_len - 1)

    @property
    def tgt_len(self) -> int:
        """Target positions per row: ``seq_len - src_len``."""
        return self.seq_len - self.src_len

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

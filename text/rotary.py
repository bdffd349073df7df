"""A pre-norm transformer encoder with rotary position embeddings (RoFormer, Su et al. 2021).

Rotary embeddings rotate each query/key pair of channels ``(2i, 2i + 1)`` at position ``m``
by the angle ``m theta_i``, ``theta_i = 10000^(-2i / d)`` (Su et al. 2021, eq. 34), so the
attention score of two tokens depends on their offset ``m - n`` only: a masked slot finds its
neighbours by relative position without learning it from absolute position vectors. MDLM's
denoiser uses them (Sahoo et al. 2024, App. B: a DiT with rotary embeddings).
"""
from __future__ import annotations

import torch
from polydiff.core.validate import check_int
from torch import Tensor, nn

__all__ = ["RotaryEncoder", "apply_rotary", "rotary_tables"]


def rotary_tables(length: int, head_dim: int, *, base: float = 10000.0,
                  device: torch.device | None = None) -> tuple[Tensor, Tensor]:
    """``(cos, sin)`` ``[length, head_dim / 2]`` of the angles ``m theta_i``."""
    length = check_int(length, "length", low=0)
    head_dim = check_int(head_dim, "head_dim", low=2)
    if head_dim % 2:
        raise ValueError(f"rotary embeddings need an even head dimension, got {head_dim}")
    theta = base ** (-torch.arange(0, head_dim, 2, device=device, dtype=torch.float32) / head_dim)
    ang = torch.arange(length, device=device, dtype=torch.float32)[:, None] * theta[None]
    return ang.cos(), ang.sin()


def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate channel pairs of ``x`` ``[B, heads, L, head_dim]`` by the tables of :func:`rotary_tables`."""
    x1, x2 = x[..., 0::2], x[..., 1::2]
    out = torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)
    return out.flatten(-2).to(x.dtype)


class _Block(nn.Module):
    def __init__(self, hidden: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(hidden), nn.LayerNorm(hidden)
        self.qkv, self.proj = nn.Linear(hidden, 3 * hidden), nn.Linear(hidden, hidden)
        self.mlp = nn.Sequential(nn.Linear(hidden, 4 * hidden), nn.GELU(), nn.Linear(4 * hidden, hidden))
        self.drop = nn.Dropout(dropout)

    def forward(self, h: Tensor, cos: Tensor, sin: Tensor, mask: Tensor | None) -> Tensor:
        B, L, D = h.shape
        q, k, v = self.qkv(self.norm1(h)).reshape(B, L, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        a = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        h = h + self.drop(self.proj(a.transpose(1, 2).reshape(B, L, D)))
        return h + self.drop(self.mlp(self.norm2(h)))


class RotaryEncoder(nn.Module):
    """``layers`` pre-norm blocks (attention with rotary queries/keys, GELU MLP of width
    ``4 hidden``): the parameter count of ``nn.TransformerEncoder`` with ``norm_first=True``.

    ``forward(h [B, L, hidden], mask=None)``; ``mask`` ``[L, L]`` is added to the attention
    scores (``-inf`` blocks a query-key pair), as ``nn.TransformerEncoder``'s float mask.
    """

    def __init__(self, hidden: int, layers: int, heads: int, dropout: float = 0.0):
        super().__init__()
        if min(hidden, layers, heads) < 1 or hidden % heads or (hidden // heads) % 2:
            raise ValueError(f"need hidden divisible by heads with an even head dimension, got "
                             f"hidden={hidden}, heads={heads}")
        self.hidden, self.heads = hidden, heads
        self.blocks = nn.ModuleList(_Block(hidden, heads, dropout) for _ in range(layers))

    def forward(self, h: Tensor, mask: Tensor | None = None) -> Tensor:
        if h.ndim != 3 or h.shape[-1] != self.hidden:
            raise ValueError(f"h must be [B, L, {self.hidden}], got {tuple(h.shape)}")
        cos, sin = rotary_tables(h.shape[1], self.hidden // self.heads, device=h.device)
        for blk in self.blocks:
            h = blk(h, cos, sin, mask)
        return h

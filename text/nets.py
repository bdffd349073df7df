"""Networks for text diffusion and its baselines.

- :class:`TransformerDenoiser` — Diffusion-LM / DiffuSeq denoiser (Li et al. 2022, §4;
  Gong et al. 2023, §3): learned word embeddings ``E`` (``[V, D]``), a bidirectional
  transformer over ``x_t`` (``[B, L, D]``) with a sinusoidal time embedding, predicting
  ``x0``; the LM head is tied to ``E`` (``logits = x E^T``, the rounding term's
  ``p(w | x)``).
- :class:`TokenDenoiser` — the masked-diffusion network over token ids (MDLM, Sahoo et al.
  2024): ids (``<mask>`` included) to logits.
- :class:`ARTransformer` — the autoregressive baseline (causal, tied LM head).
- :class:`NoisyEmbeddingClassifier` — ``p(c | x_t, t)`` for classifier-guided control on
  noisy embeddings (Li et al. 2022, §5.2).
- :class:`TokenCNNClassifier` — an independent evaluation classifier over token ids (a
  Kim-2014 style CNN: another architecture and input than the guiding classifier).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = [
    "ARTransformer",
    "NoisyEmbeddingClassifier",
    "TokenCNNClassifier",
    "TokenDenoiser",
    "TransformerDenoiser",
    "count_params",
    "timestep_embedding",
]


def count_params(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def timestep_embedding(t: Tensor, dim: int, max_period: float = 10000.0) -> Tensor:
    """Sinusoidal embedding of (float) times ``t`` of shape ``[B]`` -> ``[B, dim]``
    (Vaswani et al. 2017; Ho et al. 2020)."""
    if t.ndim != 1:
        raise ValueError(f"t must have shape [B], got {tuple(t.shape)}")
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    return nn.functional.pad(emb, (0, dim % 2))


def _encoder(hidden: int, layers: int, heads: int, dropout: float) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(hidden, heads, 4 * hidden, dropout, batch_first=True,
                                       norm_first=True, activation="gelu")
    return nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)


def _check_ids(ids: Tensor, vocab_size: int, seq_len: int) -> None:
    if ids.dtype != torch.long:
        raise TypeError(f"token ids must be torch.long, got {ids.dtype}")
    if ids.ndim != 2:
        raise ValueError(f"token ids must be [B, L], got shape {tuple(ids.shape)}")
    if ids.shape[1] > seq_len:
        raise ValueError(f"sequence length {ids.shape[1]} exceeds the model's seq_len={seq_len}")
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise ValueError(f"token ids outside [0, {vocab_size})")


class TransformerDenoiser(nn.Module):
    """``x0_hat = net(x_t, t)`` over ``[B, L, D]`` embeddings, with tied embeddings/LM head.

    Args:
        vocab_size: ``V``. seq_len: maximum ``L``. emb_dim: ``D`` (16 for E2E in Li et al.).
        hidden, layers, heads, dropout: transformer size.
    """

    def __init__(self, vocab_size: int, seq_len: int, emb_dim: int = 16, hidden: int = 128,
                 layers: int = 4, heads: int = 4, dropout: float = 0.0):
        super().__init__()
        if min(vocab_size, seq_len, emb_dim, hidden, layers, heads) < 1 or hidden % heads:
            raise ValueError("sizes must be positive and hidden divisible by heads")
        self.vocab_size, self.seq_len, self.emb_dim, self.hidden = vocab_size, seq_len, emb_dim, hidden
        self.embed = nn.Embedding(vocab_size, emb_dim)
        nn.init.normal_(self.embed.weight, std=1.0)  # unit-scale embeddings, as the prior
        self.in_proj = nn.Sequential(nn.Linear(emb_dim, hidden), nn.Tanh(), nn.Linear(hidden, hidden))
        self.pos = nn.Parameter(torch.randn(1, seq_len, hidden) * 0.02)
        self.time = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.encoder = _encoder(hidden, layers, heads, dropout)
        self.out = nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, hidden), nn.Tanh(),
                                 nn.Linear(hidden, emb_dim))

    def embed_tokens(self, ids: Tensor) -> Tensor:
        """``E[w]``: ``[B, L]`` ids -> ``[B, L, D]``."""
        _check_ids(ids, self.vocab_size, self.seq_len)
        return self.embed(ids)

    def logits(self, x: Tensor) -> Tensor:
        """Tied LM head ``x E^T`` -> ``[B, L, V]`` (the rounding distribution ``p(w | x)``)."""
        return x @ self.embed.weight.t()

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        if x.ndim != 3 or x.shape[-1] != self.emb_dim or x.shape[1] > self.seq_len:
            raise ValueError(f"x must be [B, L<={self.seq_len}, {self.emb_dim}], got {tuple(x.shape)}")
        t = torch.as_tensor(t, device=x.device).reshape(-1).expand(x.shape[0])
        h = self.in_proj(x) + self.pos[:, : x.shape[1]]
        h = h + self.time(timestep_embedding(t, self.hidden))[:, None]
        return self.out(self.encoder(h))


class TokenDenoiser(nn.Module):
    """Logits ``[B, L, V]`` of the clean tokens from ids with ``<mask>`` entries (MDLM).

    The time input is optional (MDLM's absorbing process needs none; Sahoo et al. 2024, §3.2)
    and used when given, through a sinusoidal embedding of ``t`` scaled by ``t_scale``.
    """

    def __init__(self, vocab_size: int, seq_len: int, hidden: int = 128, layers: int = 4,
                 heads: int = 4, dropout: float = 0.0, t_scale: float = 1000.0):
        super().__init__()
        self.vocab_size, self.seq_len, self.hidden, self.t_scale = vocab_size, seq_len, hidden, t_scale
        self.embed = nn.Embedding(vocab_size, hidden)
        nn.init.normal_(self.embed.weight, std=0.02)  # GPT-2 init: the tied head starts near uniform
        self.pos = nn.Parameter(torch.randn(1, seq_len, hidden) * 0.02)
        self.time = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.encoder = _encoder(hidden, layers, heads, dropout)
        self.norm = nn.LayerNorm(hidden)

    def forward(self, ids: Tensor, t: Tensor | None = None) -> Tensor:
        _check_ids(ids, self.vocab_size, self.seq_len)
        h = self.embed(ids) + self.pos[:, : ids.shape[1]]
        if t is not None:
            t = torch.as_tensor(t, device=ids.device).reshape(-1).expand(ids.shape[0])
            h = h + self.time(timestep_embedding(t * self.t_scale, self.hidden))[:, None]
        return self.norm(self.encoder(h)) @ self.embed.weight.t()


class ARTransformer(nn.Module):
    """Causal transformer language model with a tied LM head (the autoregressive baseline)."""

    def __init__(self, vocab_size: int, seq_len: int, hidden: int = 128, layers: int = 4,
                 heads: int = 4, dropout: float = 0.0):
        super().__init__()
        self.vocab_size, self.seq_len, self.hidden = vocab_size, seq_len, hidden
        self.embed = nn.Embedding(vocab_size, hidden)
        nn.init.normal_(self.embed.weight, std=0.02)  # GPT-2 init: the tied head starts near uniform
        self.pos = nn.Parameter(torch.randn(1, seq_len, hidden) * 0.02)
        self.encoder = _encoder(hidden, layers, heads, dropout)
        self.norm = nn.LayerNorm(hidden)

    def forward(self, ids: Tensor) -> Tensor:
        """Next-token logits ``[B, L, V]`` (position ``i`` predicts token ``i + 1``)."""
        _check_ids(ids, self.vocab_size, self.seq_len)
        L = ids.shape[1]
        causal = torch.triu(torch.full((L, L), float("-inf"), device=ids.device), diagonal=1)
        h = self.encoder(self.embed(ids) + self.pos[:, :L], mask=causal, is_causal=True)
        return self.norm(h) @ self.embed.weight.t()

    def token_nll(self, ids: Tensor, loss_mask: Tensor) -> Tensor:
        """Per-sequence summed NLL of the tokens where ``loss_mask[:, 1:]`` is 1 -> ``[B]``."""
        logits = self(ids[:, :-1])
        nll = nn.functional.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none")
        return (nll * loss_mask[:, 1:].to(nll.dtype)).sum(1)

    @torch.no_grad()
    def generate(self, prefix: Tensor, max_new: int, *, eos_id: int, temperature: float = 1.0,
                 top_k: int | None = None, generator: torch.Generator | None = None) -> Tensor:
        """Sample continuations of ``prefix`` ``[B, P]`` until EOS or ``max_new`` tokens.

        ``temperature == 0`` is greedy decoding. Returns ``[B, max_new]`` (EOS-padded after EOS).
        """
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        if prefix.shape[1] + max_new > self.seq_len:
            raise ValueError(f"prefix {prefix.shape[1]} + max_new {max_new} > seq_len {self.seq_len}")
        ids, done = prefix, torch.zeros(prefix.shape[0], dtype=torch.bool, device=prefix.device)
        out = []
        for _ in range(max_new):
            logits = self(ids)[:, -1]
            if temperature == 0:
                nxt = logits.argmax(-1)
            else:
                logits = logits / temperature
                if top_k is not None:
                    kth = logits.topk(top_k, dim=-1).values[:, -1:]
                    logits = logits.masked_fill(logits < kth, float("-inf"))
                nxt = torch.multinomial(logits.softmax(-1), 1, generator=generator)[:, 0]
            nxt = torch.where(done, torch.full_like(nxt, eos_id), nxt)
            done = done | (nxt == eos_id)
            out.append(nxt)
            ids = torch.cat([ids, nxt[:, None]], 1)
            if bool(done.all()):
                break
        res = torch.stack(out, 1)
        return nn.functional.pad(res, (0, max_new - res.shape[1]), value=eos_id)


class NoisyEmbeddingClassifier(nn.Module):
    """Multi-label attribute logits ``[B, K]`` from noisy embeddings ``x_t`` and ``t``."""

    def __init__(self, emb_dim: int, seq_len: int, n_labels: int, hidden: int = 64,
                 layers: int = 2, heads: int = 4):
        super().__init__()
        self.emb_dim, self.seq_len, self.n_labels, self.hidden = emb_dim, seq_len, n_labels, hidden
        self.in_proj = nn.Linear(emb_dim, hidden)
        self.pos = nn.Parameter(torch.randn(1, seq_len, hidden) * 0.02)
        self.time = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.encoder = _encoder(hidden, layers, heads, 0.0)
        self.head = nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, n_labels))

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        if x.ndim != 3 or x.shape[-1] != self.emb_dim:
            raise ValueError(f"x must be [B, L, {self.emb_dim}], got {tuple(x.shape)}")
        t = torch.as_tensor(t, device=x.device).reshape(-1).expand(x.shape[0])
        h = self.in_proj(x) + self.pos[:, : x.shape[1]]
        h = h + self.time(timestep_embedding(t, self.hidden))[:, None]
        return self.head(self.encoder(h).mean(1))


class TokenCNNClassifier(nn.Module):
    """Multi-label attribute logits ``[B, K]`` from token ids (Kim 2014 text CNN)."""

    def __init__(self, vocab_size: int, n_labels: int, hidden: int = 64, widths=(2, 3, 4), pad_id: int = 0):
        super().__init__()
        self.vocab_size, self.n_labels = vocab_size, n_labels
        self.embed = nn.Embedding(vocab_size, hidden, padding_idx=pad_id)
        self.convs = nn.ModuleList(nn.Conv1d(hidden, hidden, w, padding=w - 1) for w in widths)
        self.head = nn.Linear(hidden * len(widths), n_labels)

    def forward(self, ids: Tensor) -> Tensor:
        _check_ids(ids, self.vocab_size, 1 << 30)
        h = self.embed(ids).transpose(1, 2)
        pooled = [torch.relu(c(h)).amax(-1) for c in self.convs]
        return self.head(torch.cat(pooled, -1))

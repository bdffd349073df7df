"""Networks for text diffusion and its baselines.

- :class:`TransformerDenoiser` — Diffusion-LM / DiffuSeq denoiser (Li et al. 2022, §4;
  Gong et al. 2023, §3): learned word embeddings ``E`` (``[V, D]``), a bidirectional
  transformer over ``x_t`` (``[B, L, D]``) with N(0, 1) learned positions, a LayerNorm on
  the summed input and time through a zero-initialised adaptive LayerNorm, predicting
  ``x0``; the LM head is tied to ``E`` (``logits = x E^T``, the rounding term's
  ``p(w | x)``).
- :class:`TokenDenoiser` — the masked-diffusion network over token ids (MDLM, Sahoo et al.
  2024): ids (``<mask>`` included) to logits, without a time input, plus the length
  distribution ``p(n | source)``.
- :class:`ARTransformer` — the autoregressive baseline (causal, tied LM head).
- :class:`NoisyEmbeddingClassifier` — ``p(c | x_t, t)`` for classifier-guided control on
  noisy embeddings (Li et al. 2022, §5.2).
- :class:`TokenCNNClassifier` — an independent evaluation classifier over token ids (a
  Kim-2014 style CNN: another architecture and input than the guiding classifier).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from polydiff.core.validate import (
    check_finite,
    check_generator,
    check_int,
    check_number,
    check_tensor,
    describe,
)
from torch import Tensor, nn

from .checks import check_ids, check_loss_mask
from .decoding import uniform_draws
from .rotary import RotaryEncoder

__all__ = [
    "ARTransformer",
    "NoisyEmbeddingClassifier",
    "TokenCNNClassifier",
    "TokenDenoiser",
    "TransformerDenoiser",
    "count_params",
    "timestep_embedding",
]


#: Position encodings of :class:`TransformerDenoiser`.
POSITIONS = ("rotary", "learned")


def count_params(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def timestep_embedding(t: Tensor, dim: int, max_period: float = 10000.0) -> Tensor:
    """Sinusoidal embedding of (float) times ``t`` of shape ``[B]`` -> ``[B, dim]``
    (Vaswani et al. 2017; Ho et al. 2020)."""
    check_tensor(t, "t", ndim=1, finite=False, nonempty=False)
    dim = check_int(dim, "dim", low=1)
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    return nn.functional.pad(emb, (0, dim % 2))


def _encoder(hidden: int, layers: int, heads: int, dropout: float) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(hidden, heads, 4 * hidden, dropout, batch_first=True,
                                       norm_first=True, activation="gelu")
    return nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)


def _check_sizes(*, heads: int | None = None, dropout: float | None = None, **sizes: int) -> dict:
    """Each of ``sizes`` a positive int (by its argument name), ``hidden`` divisible by ``heads``,
    ``dropout`` in ``[0, 1)``; returns the checked sizes (``heads`` included)."""
    out = {k: check_int(v, k, low=1) for k, v in sizes.items()}
    if heads is not None:
        out["heads"] = heads = check_int(heads, "heads", low=1)
        if "hidden" in out and out["hidden"] % heads:
            raise ValueError(f"hidden must be divisible by heads={heads}, got hidden={out['hidden']}")
    if dropout is not None:
        check_number(dropout, "dropout", low=0.0, high=1.0, high_open=True)
    return out


def _check_ids(ids: Tensor, vocab_size: int, seq_len: int, name: str = "ids") -> None:
    if not isinstance(ids, Tensor):
        raise TypeError(f"{name} must be a torch.long tensor of token ids [B, L], got {describe(ids)}")
    if ids.dtype != torch.long:
        raise TypeError(f"{name}: token ids must be torch.long, got {ids.dtype}")
    if ids.ndim != 2:
        raise ValueError(f"{name}: token ids must be [B, L], got shape {tuple(ids.shape)}")
    if ids.shape[1] > seq_len:
        raise ValueError(f"{name}: sequence length {ids.shape[1]} exceeds the model's seq_len={seq_len}")
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise ValueError(f"{name}: token ids must lie in [0, {vocab_size}) (the model's vocabulary), got values in "
                         f"[{int(ids.min())}, {int(ids.max())}]")


class TransformerDenoiser(nn.Module):
    """``x0_hat = net(x_t, t)`` over ``[B, L, D]`` embeddings, with tied embeddings/LM head.

    Positions (``positions``):

    - ``"rotary"`` (default): ``LayerNorm(in_proj(x_t))`` into a transformer with rotary
      queries and keys in every layer (:class:`~polydiff.text.rotary.RotaryEncoder`, the trunk
      of the masked model :class:`TokenDenoiser`): token content at full strength and relative
      offsets in every attention score. Measured on E2E at the bench's full sizes and 1,200
      steps (#26, ``scripts/diffuseq_positions_ablation.py``): the one-step token accuracy of
      the target half at t = 1,000 is 0.39 against 0.28 with learned absolute positions.
    - ``"learned"``: ``LayerNorm(in_proj(x_t) + P)`` with learned positions ``P ~ N(0, 1)``, as
      in the DiffuSeq reference (Gong et al. 2023), into ``nn.TransformerEncoder``; the
      positions outweigh the projected tokens about 3 to 1 at initialisation. Checkpoints
      saved before the option existed load as this.

    Time enters through an adaptive LayerNorm ``h (1 + s(t)) + b(t)`` whose projection starts
    at zero (adaLN-zero, Peebles & Xie 2023, §3.2): at initialisation the network sees the
    tokens and positions only, and the time signal can modulate them but never replace them.

    Args:
        vocab_size: ``V``. seq_len: maximum ``L``. emb_dim: ``D`` (16 for E2E in Li et al.).
        hidden, layers, heads, dropout: transformer size. positions: ``"rotary"`` or ``"learned"``.
    """

    def __init__(self, vocab_size: int, seq_len: int, emb_dim: int = 16, hidden: int = 128,
                 layers: int = 4, heads: int = 4, dropout: float = 0.0, positions: str = "rotary"):
        super().__init__()
        _check_sizes(vocab_size=vocab_size, seq_len=seq_len, emb_dim=emb_dim, hidden=hidden, layers=layers,
                     heads=heads, dropout=dropout)
        if positions not in POSITIONS:
            raise ValueError(f"positions must be one of {POSITIONS}, got {positions!r}")
        self.vocab_size, self.seq_len, self.emb_dim, self.hidden = vocab_size, seq_len, emb_dim, hidden
        self.positions = positions
        self.embed = nn.Embedding(vocab_size, emb_dim)
        nn.init.normal_(self.embed.weight, std=1.0)  # unit-scale embeddings, as the prior
        self.in_proj = nn.Sequential(nn.Linear(emb_dim, hidden), nn.Tanh(), nn.Linear(hidden, hidden))
        if positions == "learned":
            self.pos = nn.Parameter(torch.randn(1, seq_len, hidden))
        self.in_norm = nn.LayerNorm(hidden, elementwise_affine=False)
        self.time = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, 2 * hidden))
        nn.init.zeros_(self.time[-1].weight)
        nn.init.zeros_(self.time[-1].bias)
        if positions == "learned":
            self.encoder = _encoder(hidden, layers, heads, dropout)
        else:
            self.encoder = RotaryEncoder(hidden, layers, heads, dropout)
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
        """``x0_hat`` ``[B, L, D]`` from ``x_t`` ``[B, L, D]`` and times ``t`` (scalar or ``[B]``)."""
        check_tensor(x, "x", floating=True, finite=False, nonempty=False)
        if x.ndim != 3 or x.shape[-1] != self.emb_dim or x.shape[1] > self.seq_len:
            raise ValueError(f"x must be [B, L<={self.seq_len}, {self.emb_dim}], got {tuple(x.shape)}")
        check_finite(x, "x")
        t = _batch_times(t, x)
        h = self.in_proj(x)
        if self.positions == "learned":
            h = h + self.pos[:, : x.shape[1]]
        h = self.in_norm(h)
        scale, shift = self.time(timestep_embedding(t, self.hidden))[:, None].chunk(2, dim=-1)
        return self.out(self.encoder(h * (1 + scale) + shift))


def _batch_times(t, x: Tensor) -> Tensor:
    if isinstance(t, bool) or not isinstance(t, (Tensor, int, float)):
        raise TypeError(f"t must be a number or a tensor of times, got {describe(t)}")
    t = torch.as_tensor(t, device=x.device)
    if t.ndim > 1 or (t.ndim == 1 and t.shape[0] not in (1, x.shape[0])):
        raise ValueError(f"t must be a scalar or of shape [{x.shape[0]}], got {tuple(t.shape)}")
    check_finite(t, "t")
    return t.reshape(-1).expand(x.shape[0])


class TokenDenoiser(nn.Module):
    """Masked-diffusion network over token ids (MDLM, Sahoo et al. 2024): ``net(z)`` returns
    ``(logits [B, L, V], length_logits [B, L - src_len])``.

    - **No time input**: under the absorbing process the masks already tell the noise level,
      and with the SUBS parameterisation the denoising target does not depend on ``t``
      (Sahoo et al. 2024, §3.2; their released models run without time conditioning).
    - **Positions**: rotary embeddings in every attention layer
      (:class:`~polydiff.text.rotary.RotaryEncoder`, as MDLM's DiT), over ``LayerNorm(E[z])``:
      a ``<mask>`` slot differs from its neighbours by its offset to every other slot, at full
      strength from the first step.
    - **Length**: the first ``src_len`` positions (the source of a seq2seq row) attend only
      to each other, so ``length_logits = head(mean of the source states)`` is a function of
      the source alone: ``log p(n | source)`` for the number ``n`` of target tokens before
      EOS (a learned categorical when ``src_len == 0``), as the length predictor of
      Mask-Predict (Ghazvininejad et al. 2019, §3).
    """

    def __init__(self, vocab_size: int, seq_len: int, hidden: int = 128, layers: int = 4,
                 heads: int = 4, dropout: float = 0.0, src_len: int = 0):
        super().__init__()
        _check_sizes(vocab_size=vocab_size, seq_len=seq_len, hidden=hidden, layers=layers, heads=heads,
                     dropout=dropout)
        src_len = check_int(src_len, "src_len", low=0)
        if not 0 <= src_len < seq_len:
            raise ValueError(f"src_len must be in [0, seq_len={seq_len}), got {src_len}")
        self.vocab_size, self.seq_len, self.hidden, self.src_len = vocab_size, seq_len, hidden, src_len
        self.tgt_len = seq_len - src_len
        self.embed = nn.Embedding(vocab_size, hidden)
        nn.init.normal_(self.embed.weight, std=0.02)  # GPT-2 init: the tied head starts near uniform
        self.in_norm = nn.LayerNorm(hidden)
        self.encoder = RotaryEncoder(hidden, layers, heads, dropout)
        self.norm = nn.LayerNorm(hidden)
        self.length_head = nn.Linear(hidden, seq_len - src_len)
        # no source: the head reads a learned unit-scale vector (as a LayerNormed source state
        # would be), so Adam moves the length logits as fast as in the seq2seq case
        self.length_query = nn.Parameter(torch.randn(hidden)) if src_len == 0 else None

    def forward(self, ids: Tensor) -> tuple[Tensor, Tensor]:
        """``(logits [B, L, V], length_logits [B, seq_len - src_len])`` for ids ``[B, L]``
        (``L == seq_len`` when ``src_len > 0``)."""
        _check_ids(ids, self.vocab_size, self.seq_len)
        L, S = ids.shape[1], self.src_len
        if S and L != self.seq_len:
            raise ValueError(f"a seq2seq TokenDenoiser needs rows of seq_len={self.seq_len}, got {L}")
        h = self.in_norm(self.embed(ids))
        mask = None
        if S:  # the source never reads the target: its states (and the length) depend on it alone
            mask = torch.zeros(L, L, device=ids.device)
            mask[:S, S:] = float("-inf")
        h = self.norm(self.encoder(h, mask=mask))
        pooled = h[:, :S].mean(1) if S else self.length_query.expand(len(h), -1)
        return h @ self.embed.weight.t(), self.length_head(pooled)


class ARTransformer(nn.Module):
    """Causal transformer language model with a tied LM head (the autoregressive baseline)."""

    def __init__(self, vocab_size: int, seq_len: int, hidden: int = 128, layers: int = 4,
                 heads: int = 4, dropout: float = 0.0):
        super().__init__()
        _check_sizes(vocab_size=vocab_size, seq_len=seq_len, hidden=hidden, layers=layers, heads=heads,
                     dropout=dropout)
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
        _check_ids(ids, self.vocab_size, self.seq_len)
        check_loss_mask(loss_mask, "loss_mask", ids.shape)
        logits = self(ids[:, :-1])
        nll = nn.functional.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none")
        return (nll * loss_mask[:, 1:].to(nll.dtype)).sum(1)

    @torch.no_grad()
    def generate(self, prefix: Tensor, max_new: int, *, eos_id: int, temperature: float = 1.0,
                 top_k: int | None = None,
                 generator: torch.Generator | Sequence[torch.Generator] | None = None) -> Tensor:
        """Sample continuations of ``prefix`` ``[B, P]`` until EOS or ``max_new`` tokens.

        ``temperature == 0`` is greedy decoding. ``generator``: one stream for the batch, or a
        list with one per row (Gumbel-max draws; a row's tokens then do not depend on the
        other rows). Returns ``[B, max_new]`` (EOS-padded after EOS).
        """
        temperature = check_number(temperature, "temperature", low=0.0)
        if top_k is not None:
            top_k = check_int(top_k, "top_k", low=1, high=self.vocab_size)
        check_ids(prefix, "prefix", vocab_size=self.vocab_size)
        generator = check_generator(generator, "generator", batch=prefix.shape[0])
        max_new = check_int(max_new, "max_new", low=1)
        eos_id = check_int(eos_id, "eos_id", low=0, high=self.vocab_size - 1)
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
                if isinstance(generator, list):
                    u = uniform_draws(logits.shape, generator, logits.device).clamp_min(1e-300)
                    nxt = (logits.double().log_softmax(-1) - torch.log(-torch.log(u))).argmax(-1)
                else:
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
        _check_sizes(emb_dim=emb_dim, seq_len=seq_len, n_labels=n_labels, hidden=hidden, layers=layers, heads=heads)
        self.emb_dim, self.seq_len, self.n_labels, self.hidden = emb_dim, seq_len, n_labels, hidden
        self.in_proj = nn.Linear(emb_dim, hidden)
        self.pos = nn.Parameter(torch.randn(1, seq_len, hidden) * 0.02)
        self.time = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.encoder = _encoder(hidden, layers, heads, 0.0)
        self.head = nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, n_labels))

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        check_tensor(x, "x", floating=True, finite=False, nonempty=False)
        if x.ndim != 3 or x.shape[-1] != self.emb_dim or x.shape[1] > self.seq_len:
            raise ValueError(f"x must be [B, L<={self.seq_len}, {self.emb_dim}], got {tuple(x.shape)}")
        t = _batch_times(t, x)
        h = self.in_proj(x) + self.pos[:, : x.shape[1]]
        h = h + self.time(timestep_embedding(t, self.hidden))[:, None]
        return self.head(self.encoder(h).mean(1))


class TokenCNNClassifier(nn.Module):
    """Multi-label attribute logits ``[B, K]`` from token ids (Kim 2014 text CNN)."""

    def __init__(self, vocab_size: int, n_labels: int, hidden: int = 64, widths=(2, 3, 4), pad_id: int = 0):
        super().__init__()
        _check_sizes(vocab_size=vocab_size, n_labels=n_labels, hidden=hidden)
        if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence) or not widths:
            raise ValueError(f"widths must be a non-empty sequence of kernel widths, got {widths!r}")
        widths = [check_int(w, f"widths[{i}]", low=1) for i, w in enumerate(widths)]
        pad_id = check_int(pad_id, "pad_id", low=0, high=vocab_size - 1)
        self.vocab_size, self.n_labels = vocab_size, n_labels
        self.embed = nn.Embedding(vocab_size, hidden, padding_idx=pad_id)
        self.convs = nn.ModuleList(nn.Conv1d(hidden, hidden, w, padding=w - 1) for w in widths)
        self.head = nn.Linear(hidden * len(widths), n_labels)

    def forward(self, ids: Tensor) -> Tensor:
        _check_ids(ids, self.vocab_size, 1 << 30)
        h = self.embed(ids).transpose(1, 2)
        pooled = [torch.relu(c(h)).amax(-1) for c in self.convs]
        return self.head(torch.cat(pooled, -1))

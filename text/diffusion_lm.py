"""Diffusion-LM (Li et al. 2022, "Diffusion-LM Improves Controllable Text Generation").

Continuous diffusion over learned word embeddings:

- **Embedding and rounding** (§4.1): ``q_phi(x0 | w) = N(E(w), sigma_0^2 I)``; the LM head
  ``p(w | x0) = softmax(x0 E^T)`` is tied to the embeddings.
- **Loss** (eq. 2, ``L_e2e_simple``, App. F): ``||f(x_t, t) - x0||^2`` (at ``t = 0`` against
  ``E(w)``) ``+ ||alpha_T x0||^2`` (the prior / ``x_T`` term) ``- log p(w | x0)``, with ``x0``
  sampled around the embedding, the network predicting ``x0`` and the sqrt schedule
  (``alpha_bar(t) = 1 - sqrt(t/T + 1e-4)``) on core's :class:`~polydiff.core.DiscreteVP`.
- **Clamping trick** (§4.2): ``x0_hat`` replaced by its nearest embedding row, a core
  ``project_x0`` hook; decoding by rounding to the nearest embedding.
- **Control** (§5.2): after every denoising step a few gradient steps on ``x_{t-1}`` raise
  ``log p(c | x_{t-1})`` of a classifier trained on noisy embeddings while a fluency term
  ``lambda ||x_{t-1} - x_{t-1}^{unguided}||^2 / (2 sigma_t^2)`` keeps it near the
  unguided step (a core ``project_x`` hook).
- **Infilling**: fixed tokens at given positions through core's ``pc.Known``.
"""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polydiff.core as pc
import torch
from polydiff.core.hooks import nearest_embedding as _core_clamp
from polydiff.core.validate import check_generator, check_int, check_number, check_tensor, describe
from torch import Tensor, nn

from .checks import check_config_dict, check_ids, check_loss_mask
from .nets import POSITIONS, NoisyEmbeddingClassifier, TransformerDenoiser
from .token_config import TokenModelConfig
from .tokenizer import Tokenizer, check_model_parts

__all__ = [
    "ControlHook",
    "DiffusionLM",
    "EmbeddingDiffusionConfig",
    "VocabularyMixin",
    "check_solver",
    "clamp_hook",
    "config_from_meta",
    "embedding_diffusion_loss",
    "embedding_process",
    "forward_sample",
    "load_model_files",
    "load_weights",
    "model_from_meta",
    "nearest_token",
    "partial_noising",
    "round_to_tokens",
    "save_model",
]


@dataclass(frozen=True)
class EmbeddingDiffusionConfig(TokenModelConfig):
    """Sizes of an embedding-diffusion model (Diffusion-LM / DiffuSeq): the token-model sizes
    (``vocab_size``, ``seq_len``, ``hidden``, ``layers``, ``heads``; ``src_len > 0`` for DiffuSeq,
    whose positions ``[0, src_len)`` hold the source and ``<sep>``) plus

    Attributes:
        emb_dim: word-embedding dimension ``D`` (16 for E2E in Li et al.; 128 in DiffuSeq).
        T: number of diffusion steps (2,000 in both papers; at least 2).
        schedule: beta schedule name for ``pc.DiscreteVP.from_schedule`` ("sqrt").
        positions: the denoiser's position encoding, ``"rotary"`` or ``"learned"``
            (:class:`~polydiff.text.nets.TransformerDenoiser`); a saved config without the key
            predates it and loads as ``"learned"``.
    """

    emb_dim: int = 16
    T: int = 2000
    schedule: str = "sqrt"
    positions: str = "rotary"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int(self.emb_dim, "EmbeddingDiffusionConfig.emb_dim", low=1)
        check_int(self.T, "EmbeddingDiffusionConfig.T", low=2)  # a beta table needs two entries
        if not isinstance(self.schedule, str):
            raise TypeError(f"EmbeddingDiffusionConfig.schedule must be a schedule name, got {describe(self.schedule)}")
        if self.positions not in POSITIONS:
            raise ValueError(f"EmbeddingDiffusionConfig.positions must be one of {POSITIONS}, got {self.positions!r}")


def embedding_process(config: EmbeddingDiffusionConfig) -> pc.DiscreteVP:
    """The model's ``DiscreteVP`` (``config.schedule`` over ``config.T`` steps) with *trailing*
    time spacing: every solver's grid starts at the noisiest timestep ``T - 1``, where the prior
    sample lives, and stays free of repeated timesteps up to ``steps = T`` (the papers' 2,000).
    The ``leading`` default of a bare ``DiscreteVP`` starts DPM-Solver's grid at
    ``N (T // (N + 1))`` (t = 1,800 of 2,000 at 200 steps) and collapses it to t = 0 at N = T."""
    return pc.DiscreteVP.from_schedule(config.schedule, config.T, spacing="trailing")


def check_solver(solver: str) -> None:
    """Raise ``ValueError`` for a solver name core does not know."""
    if not isinstance(solver, str):
        raise TypeError(f"solver must be a solver name (str), got {describe(solver)}")
    names = getattr(pc, "SOLVERS", None)
    if names is not None and solver not in names:
        raise ValueError(f"unknown solver {solver!r}; expected one of {sorted(names)}")


def nearest_token(x: Tensor, weight: Tensor) -> Tensor:
    """Index of the nearest (L2) row of ``weight`` ``[V, D]`` for every vector of ``x`` ``[..., D]``."""
    check_tensor(x, "x", min_ndim=1, floating=True)
    check_tensor(weight, "weight", ndim=2, floating=True)
    if x.shape[-1] != weight.shape[-1]:
        raise ValueError(f"x has dim {x.shape[-1]} but the embeddings have {weight.shape[-1]}")
    flat = x.reshape(-1, x.shape[-1]).to(weight.dtype)
    d2 = (flat**2).sum(-1, keepdim=True) - 2.0 * flat @ weight.t() + (weight**2).sum(-1)[None]
    if not bool(torch.isfinite(d2).all()):
        raise ValueError(f"x (max |x| = {float(flat.abs().max()):g}) or weight (max |w| = "
                         f"{float(weight.abs().max()):g}) is too large: the squared distances overflow "
                         f"{weight.dtype}")
    return d2.argmin(-1).reshape(x.shape[:-1])


def clamp_hook(weight: Tensor):
    """The clamping trick (Li et al. §4.2) as a ``project_x0(x0_hat, t)`` hook: core's
    :func:`polydiff.core.hooks.nearest_embedding` over the (detached) table ``[V, D]``."""
    check_tensor(weight, "weight", ndim=2, floating=True)
    return _core_clamp(weight.detach())


class VocabularyMixin:
    """Optional restriction of clamping and rounding to the tokens seen in training.

    Li et al. build the vocabulary from the training words; a sentencepiece model also holds
    byte-fallback pieces and pieces never used by the training split, whose embeddings never
    receive a gradient from the x0 loss and would capture rounding. ``allowed_ids`` (sorted
    ids, saved in ``config.json``) limits the table to the observed tokens.
    """

    allowed_ids: Tensor | None = None

    def restrict_vocabulary(self, rows: Tensor) -> None:
        """Allow only the token ids occurring in ``rows`` (e.g. the training target rows)."""
        check_ids(rows, "rows", vocab_size=self.config.vocab_size, ndim=None, long=False)
        ids = torch.unique(rows.flatten())
        if ids.numel() < 2:
            raise ValueError(f"rows must hold at least two distinct token ids, got {ids.tolist()}")
        self.allowed_ids = ids.sort().values

    def _table(self) -> tuple[Tensor, Tensor | None]:
        W = self.net.embed.weight
        if self.allowed_ids is None:
            return W, None
        return W[self.allowed_ids], self.allowed_ids

    def _round(self, x: Tensor, rounding: str = "nearest") -> Tensor:
        """Token ids of ``x`` ``[B, L, D]``: the nearest embedding (``"nearest"``, Li et al. §4.2)
        or the argmax of the trained rounding head ``p(w | x) ∝ exp(x E^T)`` (``"logits"``, what
        DiffuSeq's decoder reads off its final sample: ``get_logits`` then top-1)."""
        check_rounding(rounding)
        W, allowed = self._table()
        if rounding == "nearest":
            idx = round_to_tokens(x, W)
        else:
            check_tensor(x, "x", ndim=3, floating=True)
            idx = (x.to(W.dtype) @ W.detach().t()).argmax(-1)
        return idx if allowed is None else allowed[idx]

    def _meta(self) -> dict:
        return {"allowed_ids": None if self.allowed_ids is None else self.allowed_ids.tolist()}

    def _load_meta(self, meta: dict, directory: str | Path = "") -> None:
        a = meta.get("allowed_ids")
        if a is not None and (not isinstance(a, list) or not all(isinstance(i, int) and 0 <= i < self.config.vocab_size
                                                                 for i in a)):
            raise ValueError(f"{Path(directory) / 'config.json'} ['allowed_ids'] must be a list of token ids in "
                             f"[0, {self.config.vocab_size}), got {describe(a)}")
        self.allowed_ids = None if a is None else torch.tensor(a, dtype=torch.long)


ROUNDINGS = ("nearest", "logits")


def check_rounding(rounding: str) -> None:
    """Raise ``ValueError`` for a rounding other than :data:`ROUNDINGS`."""
    if rounding not in ROUNDINGS:
        raise ValueError(f"rounding must be one of {ROUNDINGS}, got {rounding!r}")


def round_to_tokens(x: Tensor, weight: Tensor) -> Tensor:
    """Rounding (Li et al. §4.2): ``[B, L, D]`` -> token ids ``[B, L]`` of the nearest embeddings."""
    check_tensor(x, "x", ndim=3, floating=True)
    return nearest_token(x, weight)


def forward_sample(net: TransformerDenoiser, process, ids: Tensor, *, noise_mask: Tensor | None = None,
                   generator: torch.Generator | None = None,
                   t: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Draw ``(emb, x0, t, x_t)`` for a training step.

    ``emb = E(w)``; ``x0 = emb + sigma_0 eps'`` with ``sigma_0 = sigma(t_min)`` (Li et al.
    §4.1, ``q_phi(x0 | w)``); ``t`` uniform over the training indices (float64 ``[B]``) unless
    given (integer indices ``[B]``, e.g. from a loss-aware sampler);
    ``x_t = alpha_t x0 + sigma_t eps``, with ``x0`` kept where ``noise_mask == 0`` (DiffuSeq's
    partial noising).
    """
    B = ids.shape[0]
    dev = ids.device
    emb = net.embed_tokens(ids)
    if t is None:
        t = torch.randint(0, int(process.num_train_timesteps), (B,), generator=generator, device=dev)
    else:
        check_tensor(t, "t", ndim=1, floating=False)
        if t.shape[0] != B or bool(((t < 0) | (t >= int(process.num_train_timesteps))).any()):
            raise ValueError(f"t must hold {B} indices (rows of ids) in [0, {int(process.num_train_timesteps)}), "
                             f"got shape {tuple(t.shape)}, range [{int(t.min())}, {int(t.max())}]")
        t = t.to(dev)
    t = t.to(torch.float64)
    sigma0 = float(process.sigma(torch.tensor(process.t_min, dtype=torch.float64)))
    x0 = emb + sigma0 * torch.randn(emb.shape, generator=generator, device=dev, dtype=emb.dtype)
    eps = torch.randn(emb.shape, generator=generator, device=dev, dtype=emb.dtype)
    x_t = process.marginal(x0, t, eps)
    if noise_mask is not None:
        x_t = partial_noising(x_t, x0, noise_mask)
    return emb, x0, t, x_t


def embedding_diffusion_loss(net: TransformerDenoiser, process, ids: Tensor, *,
                             noise_mask: Tensor | None = None,
                             generator: torch.Generator | None = None, t: Tensor | None = None) -> Tensor:
    """Per-sample ``L_e2e_simple`` (Li et al. 2022, eq. 2 / App. F) -> ``[B]``.

    With ``(emb, x0, t, x_t)`` from :func:`forward_sample`: ``mse = ||net(x_t, t) - x0||^2``
    (against ``E(w)`` where ``t = 0``); ``prior = ||alpha(T) x0||^2`` (the ``x_T`` term);
    ``rounding = -log p(w | x0)`` with the tied LM head. Each term is a mean over the counted
    positions.

    Args:
        noise_mask: ``[B, L]`` with 1 where positions are noised and counted (DiffuSeq's
            target side); 0 positions keep ``x0`` in ``x_t`` (partial noising). ``None``: all.
        t: integer indices ``[B]`` to train at (``None``: uniform draws).
    """
    check_ids(ids, "ids", vocab_size=net.vocab_size)
    if noise_mask is not None:
        check_loss_mask(noise_mask, "noise_mask", ids.shape)
    emb, x0, t, x_t = forward_sample(net, process, ids, noise_mask=noise_mask, generator=generator, t=t)
    B, L = ids.shape
    m = torch.ones(B, L, device=ids.device, dtype=emb.dtype) if noise_mask is None else noise_mask.to(emb.dtype)
    x0_hat = net(x_t, t.to(emb.dtype))
    target = torch.where((t == 0)[:, None, None], emb, x0)
    count = m.sum(1).clamp_min(1.0)
    mse = (((x0_hat - target) ** 2).mean(-1) * m).sum(1) / count
    a_T = process.alpha(torch.tensor(process.t_max, dtype=torch.float64)).to(emb.dtype)
    prior = (((a_T * x0) ** 2).mean(-1) * m).sum(1) / count
    nll = nn.functional.cross_entropy(net.logits(x0).transpose(1, 2), ids, reduction="none")
    rounding = (nll * m).sum(1) / count
    return mse + prior + rounding


def partial_noising(x_t: Tensor, x0: Tensor, noise_mask: Tensor) -> Tensor:
    """DiffuSeq partial noising (Gong et al. 2023, §3): keep ``x0`` where ``noise_mask == 0``.

    Args:
        x_t, x0: ``[B, L, D]``. noise_mask: ``[B, L]``, 1 on the noised (target) positions.
    """
    check_tensor(x_t, "x_t", ndim=3, finite=False, nonempty=False)
    check_tensor(x0, "x0", ndim=3, finite=False, nonempty=False)
    if x0.shape != x_t.shape:
        raise ValueError(f"x0 must have the shape of x_t {tuple(x_t.shape)}, got {tuple(x0.shape)}")
    check_loss_mask(noise_mask, "noise_mask", x_t.shape[:2])
    return torch.where(noise_mask[..., None].bool(), x_t, x0)


class ControlHook:
    """Per-step control of Li et al. (2022, §5.2) as a ``project_x(x, t)`` hook.

    After the solver's step to time ``t``, ``k`` gradient-ascent steps on ``x'`` (started at
    the unguided ``x``) maximise ``log p(c | x', t) - lam ||x' - x||^2 / (2 sigma_t^2)``;
    the step is ``step_size * sigma_t^2 * grad`` (a score-scaled step, stable for
    ``step_size * lam < 1``).

    Args:
        classifier: ``NoisyEmbeddingClassifier`` (multi-label logits).
        label: ``[B]`` attribute index per sample (the wanted label is present).
        process: the diffusion process (for ``sigma_t``).
    """

    def __init__(self, classifier: NoisyEmbeddingClassifier, label: Tensor, process, *,
                 steps: int = 3, step_size: float = 0.5, fluency: float = 1.0):
        steps = check_int(steps, "control_steps", low=1)
        step_size = check_number(step_size, "control_step_size", low=0.0, low_open=True)
        fluency = check_number(fluency, "fluency", low=0.0)
        check_ids(label, "label", ndim=1, vocab_size=getattr(classifier, "n_labels", None))
        self.classifier, self.label, self.process = classifier, label, process
        self.steps, self.step_size, self.fluency = steps, step_size, fluency

    def __call__(self, x: Tensor, t: Tensor | float) -> Tensor:
        t = torch.as_tensor(t, dtype=torch.float64).reshape(-1).expand(x.shape[0])
        if float(t.max()) <= self.process.t_min:
            return x
        s2 = (self.process.sigma(t) ** 2).to(x.dtype)[:, None, None]
        anchor = x.detach()
        y = anchor.clone()
        with torch.enable_grad():
            for _ in range(self.steps):
                y.requires_grad_(True)
                logits = self.classifier(y, t.to(x.dtype))
                logp = nn.functional.logsigmoid(logits.gather(1, self.label[:, None])).sum()
                fl = (self.fluency * ((y - anchor) ** 2) / (2 * s2)).sum()
                (g,) = torch.autograd.grad(logp - fl, y)
                y = (y + self.step_size * s2 * g).detach()
                if not bool(torch.isfinite(y).all()):
                    raise ValueError(f"control guidance diverged (non-finite x at t={float(t.max()):g}): "
                                     f"control_step_size={self.step_size:g} is too large for fluency="
                                     f"{self.fluency:g}; the step is stable for control_step_size * fluency < 1")
        return y


class DiffusionLM(VocabularyMixin, nn.Module):
    """A trained Diffusion-LM: denoiser + embeddings, tokenizer, process, optional guide.

    Args:
        config: sizes. tokenizer: the sentencepiece tokenizer. attributes: control vocabulary
            (``"field : value"`` strings) of the guiding classifier, if any.
    """

    def __init__(self, config: EmbeddingDiffusionConfig, tokenizer: Tokenizer,
                 attributes: Sequence[str] = ()):
        super().__init__()
        check_model_parts(config, EmbeddingDiffusionConfig, tokenizer)
        self.config, self.tokenizer = config, tokenizer
        self.net = TransformerDenoiser(config.vocab_size, config.seq_len, config.emb_dim,
                                       config.hidden, config.layers, config.heads, config.dropout,
                                       config.positions)
        self.process = embedding_process(config)
        if isinstance(attributes, (str, bytes)) or not isinstance(attributes, Sequence):
            raise TypeError(f"attributes must be a list of 'field : value' strings, got {describe(attributes)}")
        for i, a in enumerate(attributes):
            if not isinstance(a, str) or not a.strip():
                raise TypeError(f"attributes[{i}] must be a non-empty 'field : value' str, got {describe(a)}")
        dup = sorted({a for a in attributes if list(attributes).count(a) > 1})
        if dup:
            raise ValueError(f"attributes must be distinct (one classifier output each), got {dup} more than once")
        self.attributes = list(attributes)
        self.classifier = (NoisyEmbeddingClassifier(config.emb_dim, config.seq_len, len(self.attributes))
                           if self.attributes else None)

    # --- data -------------------------------------------------------------------------------
    def encode(self, texts: Sequence[str], truncate: bool = False) -> Tensor:
        """``[B, seq_len]`` ids (text, EOS, pads); over-length texts raise unless ``truncate``."""
        return self.tokenizer.encode_batch(texts, self.config.seq_len, truncate=truncate)

    def loss(self, ids: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Mean ``L_e2e_simple`` over the batch (see :func:`embedding_diffusion_loss`)."""
        return embedding_diffusion_loss(self.net, self.process, ids, generator=generator).mean()

    def classifier_loss(self, ids: Tensor, labels: Tensor, generator: torch.Generator | None = None,
                        classifier: nn.Module | None = None) -> Tensor:
        """BCE of the guide ``p(c | x_t, t)`` on ``x_t`` of the (frozen) embeddings at uniform
        ``t`` (Li et al. §5.2); ``labels`` is multi-hot ``[B, K]``."""
        clf = classifier if classifier is not None else self.classifier
        if clf is None:
            raise ValueError("this DiffusionLM has no control attributes")
        check_ids(ids, "ids", vocab_size=self.config.vocab_size)
        check_tensor(labels, "labels", ndim=2, low=0.0, high=1.0)
        if labels.shape != (ids.shape[0], len(self.attributes)):
            raise ValueError(f"labels must be multi-hot [{ids.shape[0]}, {len(self.attributes)}] (rows of ids x "
                             f"attributes), got {tuple(labels.shape)}")
        with torch.no_grad():
            x0 = self.net.embed_tokens(ids)
        B = ids.shape[0]
        t = torch.randint(0, self.config.T, (B,), generator=generator, device=ids.device).to(torch.float64)
        eps = torch.randn(x0.shape, generator=generator, device=ids.device)
        x_t = self.process.marginal(x0, t, eps)
        logits = clf(x_t, t.float())
        return nn.functional.binary_cross_entropy_with_logits(logits, labels.float())

    # --- sampling ---------------------------------------------------------------------------
    def control_index(self, control: str) -> int:
        from .data import parse_control
        return self.attributes.index(parse_control(control, self.attributes))

    @torch.no_grad()
    def sample_ids(self, n: int, steps: int = 200, solver: str = "ddpm", *, clamp: bool = True,
                   control: str | None = None, control_steps: int = 3, control_step_size: float = 4.0,
                   fluency: float = 0.1, infill: Tensor | None = None,
                   generator: torch.Generator | Sequence[torch.Generator] | None = None) -> Tensor:
        """Sample ``[n, seq_len]`` token ids with a core solver.

        The default is Li et al.'s decoder, the ancestral sampler at 200 steps: on E2E (the
        bench's full sizes, 9,600 training steps) unguided samples scored perplexity 16.1 under
        the bench's AR LM at DDPM-200 and 14.5 at DDPM-50, against 45.3 for DDIM-50 (48 samples,
        issue 26); the deterministic solvers carry rounding errors to the end.

        Args:
            control: an attribute (``"food : Chinese"``) to steer towards (needs the guide).
            infill: ``[n, seq_len]`` ids with ``-1`` at free positions; others are kept
                (``pc.Known`` replacement), e.g. a fixed prefix/suffix.
            generator: one generator, or a list of ``n`` (row ``i`` draws only from
                ``generator[i]``: a sample does not depend on the batch it is drawn in).
        """
        n = check_int(n, "n", low=1)
        check_solver(solver)
        if not isinstance(clamp, bool):
            raise TypeError(f"clamp must be a bool, got {describe(clamp)}")
        generator = check_generator(generator, "generator", batch=n)
        c = self.config
        W = self.net.embed.weight
        W_allowed, _ = self._table()
        x_T = self.process.prior_sample((n, c.seq_len, c.emb_dim), generator=generator)
        kw: dict = {}
        if clamp:
            kw["project_x0"] = clamp_hook(W_allowed)
        if control is not None:
            if self.classifier is None:
                raise ValueError("control needs a DiffusionLM trained with a guiding classifier")
            lab = torch.full((n,), self.control_index(control), dtype=torch.long)
            kw["project_x"] = ControlHook(self.classifier, lab, self.process, steps=control_steps,
                                          step_size=control_step_size, fluency=fluency)
        if infill is not None:
            if not isinstance(infill, Tensor) or infill.dtype not in (torch.int32, torch.int64):
                raise TypeError(f"infill must be an integer tensor of token ids, got "
                                f"{getattr(infill, 'dtype', type(infill).__name__)}")
            if infill.shape != (n, c.seq_len):
                raise ValueError(f"infill must be [{n}, {c.seq_len}], got {tuple(infill.shape)}")
            if (infill < -1).any() or (infill >= c.vocab_size).any():
                raise ValueError(f"infill ids must be -1 (free) or token ids in [0, {c.vocab_size}), got "
                                 f"[{int(infill.min())}, {int(infill.max())}]")
            keep = infill >= 0
            values = W[infill.clamp_min(0)].detach()
            mask = keep[..., None].expand_as(values).to(values.dtype)
            kw["known"] = pc.Known(values, mask)
        x0 = pc.sample(self._denoiser, self.process, x_T, steps=steps, solver=solver,
                       prediction="x0", generator=generator, **kw)
        return self._round(x0)

    def _denoiser(self, x: Tensor, t: Tensor) -> Tensor:
        return self.net(x, t.to(x.dtype))

    def generate(self, controls: Sequence[str] | None = None, n: int = 1, steps: int = 200,
                 solver: str = "ddpm", **kw) -> list[str]:
        """``n`` sentences per control (or ``n`` unconditional ones when ``controls`` is None)."""
        n = check_int(n, "n", low=1)
        if controls is None:
            return self.tokenizer.decode_batch(self.sample_ids(n, steps, solver, **kw))
        if isinstance(controls, str):
            raise TypeError("controls must be a list of attribute strings, not one str")
        if not isinstance(controls, Sequence) or len(controls) == 0:
            raise ValueError(f"controls must be a non-empty list of attribute strings (or None), got "
                             f"{describe(controls)}")
        out: list[str] = []
        for ctrl in controls:
            out += self.tokenizer.decode_batch(self.sample_ids(n, steps, solver, control=ctrl, **kw))
        return out

    # --- checkpoints ------------------------------------------------------------------------
    def save(self, directory: str | Path) -> None:
        """``model.safetensors`` + ``config.json`` + ``tokenizer.model``."""
        save_model(self, directory, {"config": self.config.to_dict(), "attributes": self.attributes,
                                     **self._meta()})

    @classmethod
    def load(cls, directory: str | Path) -> DiffusionLM:
        meta, tok, state = load_model_files(directory)
        if "attributes" not in meta:
            raise ValueError(f"{Path(directory) / 'config.json'} lacks the key 'attributes' (has {sorted(meta)})")
        attributes = meta["attributes"]
        if not isinstance(attributes, list) or not all(isinstance(a, str) for a in attributes):
            raise ValueError(f"{Path(directory) / 'config.json'} ['attributes'] must be a list of strings, "
                             f"got {describe(attributes)}")
        m = model_from_meta(cls, EmbeddingDiffusionConfig, meta, tok, directory, attributes)
        load_weights(m, state, directory)
        m._load_meta(meta, directory)
        return m


def save_model(module: nn.Module, directory: str | Path, meta: dict) -> None:
    """Write ``model.safetensors`` (weights), ``config.json`` (meta) and ``tokenizer.model``."""
    from safetensors.torch import save_file
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    (d / "config.json").write_text(json.dumps(meta, indent=2))
    module.tokenizer.save(d / "tokenizer.model")
    # weights last, renamed into place: a complete model.safetensors means a complete folder
    # (the bench cache tests for it), also when the writer is killed half-way
    tmp = d / "model.safetensors.tmp"
    save_file({k: v.detach().contiguous() for k, v in module.state_dict().items()}, str(tmp))
    os.replace(tmp, d / "model.safetensors")


def load_model_files(directory: str | Path) -> tuple[dict, Tokenizer, dict]:
    """Read what :func:`save_model` wrote (no unpickling; a truncated or corrupt file, or a
    ``config.json`` that is not a JSON object, raises an error that names the file)."""
    from polydiff.core.training.serialize import read_json, read_safetensors
    if not isinstance(directory, (str, os.PathLike)):
        raise TypeError(f"directory must be a path (str or os.PathLike), got {describe(directory)}")
    d = Path(directory)
    for f in ("model.safetensors", "config.json", "tokenizer.model"):
        if not (d / f).is_file():
            raise FileNotFoundError(f"checkpoint {d} lacks {f}")
    meta = read_json(d / "config.json")
    if not isinstance(meta, dict):
        raise TypeError(f"{d / 'config.json'} must hold a JSON object, got {describe(meta)}")
    return meta, Tokenizer.load(d / "tokenizer.model"), read_safetensors(d / "model.safetensors")


def config_from_meta(config_cls: type, meta: dict, directory: str | Path, key: str = "config"):
    """``config_cls`` from ``meta[key]`` of a checkpoint's ``config.json``; a missing key (only
    ``dropout`` may be absent) or an unknown one raises a ``ValueError`` naming it and the file."""
    source = Path(directory) / "config.json"
    if key not in meta:
        raise ValueError(f"{source} lacks the key {key!r} (has {sorted(meta)})")
    data = meta[key]
    if config_cls is EmbeddingDiffusionConfig and isinstance(data, dict) and "positions" not in data:
        data = {**data, "positions": "learned"}  # saved before the option: learned absolute positions
    # dropout came after the first checkpoints; its default (0) is their behaviour
    return check_config_dict(config_cls, data, f"{source} [{key!r}]", optional=("dropout",))


def model_from_meta(cls: type, config_cls: type, meta: dict, tokenizer: Tokenizer, directory: str | Path,
                    *args) -> nn.Module:
    """``cls(config, tokenizer, *args)`` for a checkpoint; a config that does not fit the folder's
    tokenizer (``vocab_size``) raises a ``ValueError`` naming ``config.json``."""
    config = config_from_meta(config_cls, meta, directory)
    try:
        return cls(config, tokenizer, *args)
    except ValueError as e:
        raise ValueError(f"{Path(directory) / 'config.json'} does not fit {Path(directory) / 'tokenizer.model'}: "
                         f"{e}") from None


def load_weights(module: nn.Module, state: dict, directory: str | Path) -> None:
    """``module.load_state_dict(state)``; weights that do not fit the module raise a
    ``ValueError`` naming the weights file."""
    for k, v in state.items():
        if isinstance(v, Tensor) and (v.is_floating_point() or v.is_complex()) and not bool(torch.isfinite(v).all()):
            raise ValueError(f"{Path(directory) / 'model.safetensors'} holds non-finite (NaN/inf) weights in {k!r}")
    try:
        module.load_state_dict(state)
    except RuntimeError as e:
        detail = " ".join(str(e).split())[:300]
        raise ValueError(f"{Path(directory) / 'model.safetensors'} does not fit this {type(module).__name__} "
                         f"(saved by another model or size?): {detail}") from None


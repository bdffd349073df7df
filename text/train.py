"""Train a text model on E2E with the core training loop.

    polydiff train text --model diffuseq --steps 3000 --batch-size 64 --out runs/diffuseq
    torchrun --nproc_per_node 2 -m polydiff.text.train --out runs/diffuseq   # data parallel
    python -m polydiff.text.train --model diffusion-lm --steps 3000 --out runs/dlm   # + control guide
    python -m polydiff.text.train --model masked --out runs/mdlm
    python -m polydiff.text.train --model ar --out runs/ar
    python -m polydiff.text.train --model ar-lm --out runs/ar-lm   # fluency LM for perplexity

Every model sees the same data: the bundled E2E pairs (or ``--data PATH`` in the same
format), split by restaurant name; the sentencepiece tokenizer is trained on the training
split only. Weights are saved as safetensors + JSON config + tokenizer model under ``--out``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polydiff.core as pc
import torch
from polydiff.core.training import TrainConfig, Trainer
from polydiff.core.training.cli import run_script
from polydiff.core.validate import check_int
from torch import nn

from .checks import check_ids
from .data import E2EExample, attribute_vocabulary, load_e2e, split_by_restaurant
from .tokenizer import Tokenizer, train_tokenizer

__all__ = ["EMBEDDING_KINDS", "MODELS", "TIME_SAMPLERS", "E2EData", "attribute_labels", "build_model",
           "embedding_loss_fn", "heldout_nll_fn", "main", "prepare_e2e", "train_guide", "train_model"]

MODELS = ("diffusion-lm", "diffuseq", "masked", "ar", "ar-lm")
EMBEDDING_KINDS = ("diffusion-lm", "diffuseq")
TIME_SAMPLERS = ("uniform", "lossaware")


@dataclass
class E2EData:
    """The restaurant-split E2E data with its tokenizer and control vocabulary."""

    train: list[E2EExample]
    test: list[E2EExample]
    tokenizer: Tokenizer
    attributes: list[str]


def prepare_e2e(path: str | Path | None = None, *, vocab_size: int = 1000, test_fraction: float = 0.2,
                seed: int = 0, cache_dir: str | Path | None = None, limit: int | None = None) -> E2EData:
    """Load E2E, split by restaurant, train the tokenizer on training texts and sources."""
    ex = load_e2e(path, limit=limit)
    train, test = split_by_restaurant(ex, test_fraction, seed)
    tok = train_tokenizer([e.text for e in train] + [e.compact_source for e in train], vocab_size,
                          cache_dir=cache_dir)
    return E2EData(train, test, tok, attribute_vocabulary(train))


def attribute_labels(examples: list[E2EExample], attributes: list[str]) -> torch.Tensor:
    """Multi-hot ``[N, K]`` attribute labels."""
    if isinstance(attributes, str) or not isinstance(attributes, (list, tuple)):
        raise TypeError(f"attributes must be a list of 'field : value' strings, got {type(attributes).__name__}")
    idx = {a: i for i, a in enumerate(attributes)}
    y = torch.zeros(len(examples), len(attributes))
    for n, e in enumerate(examples):
        for a in e.attributes:
            if a in idx:
                y[n, idx[a]] = 1.0
    return y


def build_model(kind: str, tok: Tokenizer, *, src_len: int = 48, tgt_len: int = 48, emb_dim: int = 16,
                hidden: int = 128, layers: int = 4, heads: int = 4, T: int = 2000,
                attributes: list[str] | None = None, dropout: float = 0.0) -> nn.Module:
    """A fresh model of ``kind`` (one of :data:`MODELS`) with shared sizes."""
    if kind not in MODELS:
        raise ValueError(f"unknown model {kind!r}; expected one of {MODELS}")
    if not isinstance(tok, Tokenizer):
        raise TypeError(f"tok must be a polydiff Tokenizer, got {type(tok).__name__}")
    src_len = check_int(src_len, "src_len", low=0)
    tgt_len = check_int(tgt_len, "tgt_len", low=1)
    V = tok.vocab_size
    if kind == "diffusion-lm":
        from .diffusion_lm import DiffusionLM, EmbeddingDiffusionConfig
        return DiffusionLM(EmbeddingDiffusionConfig(V, tgt_len, hidden, layers, heads, dropout=dropout,
                                                    emb_dim=emb_dim, T=T),
                           tok, attributes or [])
    if kind == "diffuseq":
        from .diffuseq import DiffuSeq
        from .diffusion_lm import EmbeddingDiffusionConfig
        return DiffuSeq(EmbeddingDiffusionConfig(V, src_len + tgt_len, hidden, layers, heads, src_len,
                                                 dropout=dropout, emb_dim=emb_dim, T=T), tok)
    if kind == "masked":
        from .masked import MaskedConfig, MaskedDiffusionLM
        return MaskedDiffusionLM(MaskedConfig(V, src_len + tgt_len, hidden, layers, heads, src_len=src_len,
                                              dropout=dropout), tok)
    from .ar import ARBaseline, ARConfig
    if kind == "ar":
        return ARBaseline(ARConfig(V, src_len + tgt_len, hidden, layers, heads, src_len=src_len,
                                   dropout=dropout), tok)
    return ARBaseline(ARConfig(V, tgt_len + 1, hidden, layers, heads, src_len=0, dropout=dropout), tok)


def training_rows(model: nn.Module, kind: str, examples: list[E2EExample]) -> torch.Tensor:
    """Token rows the model trains on (targets truncated to the layout, never silently:
    the caller chose ``tgt_len``)."""
    texts = [e.text for e in examples]
    srcs = [e.compact_source for e in examples]
    if kind == "diffusion-lm":
        return model.encode(texts, truncate=True)
    if kind == "ar-lm":
        return model.encode(texts, truncate=True)
    if kind == "ar":
        return model.encode(texts, srcs, truncate=True)
    return model.encode_pairs(srcs, texts, truncate=True)[0]


def _fit(net: nn.Module, loss_fn: Callable, dataset, cfg: TrainConfig, net_config: dict,
         resume: bool = False, eval_fn: Callable | None = None) -> list[dict]:
    trainer = Trainer(cfg, net, loss_fn, dataset, net_config=net_config, eval_fn=eval_fn)
    history = trainer.fit(resume=resume)
    if trainer.ema is not None:  # sample with the EMA weights
        net.load_state_dict(trainer.ema.state_dict())
    return history


def heldout_nll_fn(model: nn.Module, kind: str, rows: torch.Tensor, *, samples: int = 4, seed: int = 0) -> Callable:
    """``eval_fn(net, step) -> {"nll-per-token": ...}`` for the core Trainer: the held-out NLL
    per real token of ``rows`` (exact for ``ar``/``ar-lm``, the negative ELBO with ``samples``
    stratified times per row for ``masked``; the same draws at every call)."""
    from .likelihood import ar_nll, masked_elbo
    if kind not in ("ar", "ar-lm", "masked"):
        raise ValueError(f"held-out NLL is implemented for 'ar', 'ar-lm' and 'masked', got {kind!r}")
    samples = check_int(samples, "samples", low=1)
    check_ids(rows, "rows", vocab_size=model.config.vocab_size)

    def eval_fn(net, step: int) -> dict:
        if kind == "masked":
            r = masked_elbo(net, model.process, rows, src_len=model.config.src_len, eos_id=model.tokenizer.eos_id,
                            samples=samples, generator=torch.Generator().manual_seed(seed))
        else:
            r = ar_nll(net, rows, model.loss_mask(rows))
        return {"nll-per-token": r.per_token}

    return eval_fn


def embedding_loss_fn(process, src_len: int, time_sampler: str = "uniform") -> Callable:
    """The Trainer's loss for Diffusion-LM / DiffuSeq (``src_len > 0``: only the target half is
    noised and counted). ``time_sampler="lossaware"`` draws the training index with
    :class:`polydiff.core.LossSecondMomentResampler` (Gong et al.'s DiffuSeq setting) and weights
    each sample's loss by ``1 / (T p_t)``, the same objective in expectation; the sampler's loss
    history lives in the returned closure's ``sampler`` (``None`` for uniform draws; a resumed run
    warms it up again, uniform meanwhile; under ``torchrun`` each rank keeps its own history, where
    the reference all-gathers the losses: each rank's weighted draw is unbiased either way)."""
    if time_sampler not in TIME_SAMPLERS:
        raise ValueError(f"time_sampler must be one of {TIME_SAMPLERS}, got {time_sampler!r}")
    from .diffusion_lm import embedding_diffusion_loss
    sampler = pc.LossSecondMomentResampler(int(process.num_train_timesteps)) if time_sampler == "lossaware" else None

    def loss_fn(net, batch, g):
        mask = None
        if src_len:
            mask = torch.zeros(batch.shape, device=batch.device)
            mask[:, src_len:] = 1.0
        if sampler is None:
            return embedding_diffusion_loss(net, process, batch, noise_mask=mask, generator=g).mean()
        t, w = sampler.sample(batch.shape[0], g, batch.device)
        per_sample = embedding_diffusion_loss(net, process, batch, noise_mask=mask, generator=g, t=t)
        sampler.update(t, per_sample.detach())
        return (per_sample * w).mean()

    loss_fn.sampler = sampler
    return loss_fn


def train_model(model: nn.Module, kind: str, examples: list[E2EExample], cfg: TrainConfig,
                attributes: list[str] | None = None, classifier_steps: int = 0,
                resume: bool = False, eval_examples: list[E2EExample] | None = None,
                time_sampler: str = "uniform") -> nn.Module:
    """Train ``model`` in place with :class:`polydiff.core.training.Trainer`; for Diffusion-LM
    with attributes, then train the guiding classifier on noisy embeddings for
    ``classifier_steps`` steps (embeddings frozen). ``resume`` continues the main network's
    run from ``cfg.ckpt_dir`` (the classifier, a short second stage, is retrained).

    ``eval_examples`` (``ar``, ``ar-lm``, ``masked``): every ``cfg.eval_every`` steps the held-out
    NLL per real token of those examples (:func:`heldout_nll_fn`); the Trainer's history
    (loss and ``eval/nll-per-token`` records) is left in ``model.history``. ``time_sampler``
    (Diffusion-LM / DiffuSeq only): see :func:`embedding_loss_fn`."""
    if time_sampler != "uniform" and kind not in EMBEDDING_KINDS:
        raise ValueError(f"time_sampler={time_sampler!r} applies to {EMBEDDING_KINDS} only, got kind {kind!r}")
    rows = training_rows(model, kind, examples)
    meta = {"kind": kind, **model.config.to_dict()}
    if kind in EMBEDDING_KINDS:
        loss_fn = embedding_loss_fn(model.process, model.config.src_len, time_sampler)
    elif kind == "masked":
        loss_fn = model.loss_fn()
    else:
        from .ar import ar_loss

        def loss_fn(net, batch, g):
            return ar_loss(net, batch, model.loss_mask(batch))
    eval_fn = None
    if eval_examples is not None:
        eval_fn = heldout_nll_fn(model, kind, training_rows(model, kind, eval_examples))
    model.history = _fit(model.net, loss_fn, rows, cfg, meta, resume=resume, eval_fn=eval_fn)
    if kind in ("diffusion-lm", "diffuseq"):  # round only to tokens the training targets use
        model.restrict_vocabulary(rows[:, model.config.src_len:])
    if kind == "diffusion-lm" and model.classifier is not None and classifier_steps > 0:
        train_guide(model, examples, cfg.replace(steps=classifier_steps, ema_decay=None, ckpt_dir=None))
    return model


def train_guide(model: nn.Module, examples: list[E2EExample], cfg: TrainConfig,
                guide: nn.Module | None = None) -> nn.Module:
    """Train Diffusion-LM's guide ``p(c | x_t, t)`` (``model.classifier``, or ``guide``) on noisy
    embeddings of ``examples`` for ``cfg.steps`` steps, the embeddings frozen (Li et al. §5.2:
    the classifier is trained after the language model). Returns the guide."""
    clf = guide if guide is not None else model.classifier
    if clf is None:
        raise ValueError("model has no control attributes, so no guide to train")
    data = torch.utils.data.TensorDataset(training_rows(model, "diffusion-lm", examples),
                                          attribute_labels(examples, model.attributes))
    model.net.requires_grad_(False)
    try:
        def closs(c, batch, g):
            return model.classifier_loss(batch[0], batch[1], generator=g, classifier=c)
        _fit(clf, closs, data, cfg, {"kind": "noisy-classifier"})
    finally:
        model.net.requires_grad_(True)
    return clf.eval()


def main(argv: list[str] | None = None) -> None:
    from polydiff.core.training import (
        is_main_process,
        seeded_init,
        setup_distributed,
        train_config,
        train_parser,
    )
    from polydiff.core.training.distributed import barrier

    p = train_parser("text", __doc__, steps=3000, batch_size=64, lr=1e-3)
    p.add_argument("--model", choices=MODELS, default="diffuseq",
                   help="what to train (default: diffuseq, the data-to-text model)")
    p.add_argument("--data", default=None, help="E2E file (MR||sentence lines); default: bundled")
    p.add_argument("--vocab-size", type=int, default=1000)
    p.add_argument("--src-len", type=int, default=48)
    p.add_argument("--tgt-len", type=int, default=48)
    p.add_argument("--emb-dim", type=int, default=16)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--dropout", type=float, default=0.0, help="dropout of the transformer layers")
    p.add_argument("--lr-schedule", default="constant", choices=("constant", "cosine"))
    p.add_argument("--ema-decay", type=float, default=0.999)
    p.add_argument("--eval-every", type=int, default=0,
                   help="held-out NLL per real token every N steps (ar, ar-lm, masked)")
    p.add_argument("--T", type=int, default=2000)
    p.add_argument("--classifier-steps", type=int, default=1000)
    p.add_argument("--time-sampler", choices=TIME_SAMPLERS, default="uniform",
                   help="training-time draw of diffusion-lm / diffuseq: uniform, or lossaware "
                        "(DiffuSeq's schedule_sampler, Nichol & Dhariwal eq. 17)")
    a = p.parse_args(argv)
    if a.time_sampler != "uniform" and a.model not in EMBEDDING_KINDS:
        p.error(f"--time-sampler {a.time_sampler} applies to {', '.join(EMBEDDING_KINDS)}, not --model {a.model}")
    setup_distributed(a.device)  # under torchrun: rank 0 trains the tokenizer, the others read it
    cache = Path(a.out) / "tokenizer-cache"
    if not is_main_process():
        barrier()
    data = prepare_e2e(a.data, vocab_size=a.vocab_size, cache_dir=cache)
    if is_main_process():
        barrier()
    model = seeded_init(lambda: build_model(a.model, data.tokenizer, src_len=a.src_len, tgt_len=a.tgt_len,
                                            emb_dim=a.emb_dim, hidden=a.hidden, layers=a.layers, heads=a.heads,
                                            T=a.T, attributes=data.attributes, dropout=a.dropout), a.seed)
    cfg = train_config(a, ckpt_dir=Path(a.out) / "run", warmup_steps=min(200, a.steps // 10),
                       lr_schedule=a.lr_schedule, ema_decay=a.ema_decay, log_every=max(1, a.steps // 20),
                       eval_every=a.eval_every)
    train_model(model, a.model, data.train, cfg, data.attributes, a.classifier_steps, resume=a.resume,
                eval_examples=data.test if a.eval_every else None, time_sampler=a.time_sampler)
    if is_main_process():
        for rec in model.history:
            if "eval/nll-per-token" in rec:
                print(f"step {rec['step']}: held-out nll-per-token {rec['eval/nll-per-token']:.4f}")
        model.save(a.out)
        print(f"saved {a.model} to {a.out}")


if __name__ == "__main__":
    run_script(main)

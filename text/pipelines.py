"""Trained text models as pipelines (:mod:`polydiff.core.pipeline`).

:class:`MaskedTextPipeline` is data-to-text generation with the masked diffusion LM (MDLM,
Sahoo et al. 2024; :mod:`polydiff.text.masked`): the sentencepiece tokenizer (its model bytes
as a ``uint8`` tensor), the denoiser's configuration and weights, the masking process and the
decoding defaults (solver ``confidence`` = MaskGIT's most-confident-first or ``ancestral`` =
MDLM's sampler, steps, temperature), saved and loaded without pickle::

    pipe = MaskedTextPipeline.from_run("runs/mdlm")   # `polydiff train text --model masked --out runs/mdlm`
    pipe.save_pretrained("pretrained/e2e-mdlm")
    pipe = MaskedTextPipeline.from_pretrained("pretrained/e2e-mdlm")
    texts = pipe(["name : The Vaults | eatType : pub"], generator=torch.Generator().manual_seed(0))

:class:`ARTextPipeline` is the autoregressive baseline (:mod:`polydiff.text.ar`) in the same
format (tokenizer, transformer, sampling defaults: temperature and top-k).

A list of generators (one per source) makes each output independent of the batch it was
decoded in (what ``polydiff text`` does, :mod:`polydiff.text.commands`).
"""
from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from polydiff.core.pipeline import Component, ModelCard, Pipeline, PipelineError
from polydiff.core.validate import check_choice, check_int, check_number, describe

from .ar import ARBaseline, ARConfig
from .checks import check_config_dict, check_texts
from .masked import SOLVERS, MaskedConfig, MaskedDiffusionLM
from .tokenizer import Tokenizer

__all__ = ["ARTextPipeline", "MaskedTextPipeline", "Seq2SeqTextPipeline", "tokenizer_component",
           "tokenizer_from"]

_SPECIALS = {"pad": Tokenizer.pad_id, "unk": Tokenizer.unk_id, "bos": Tokenizer.bos_id,
             "eos": Tokenizer.eos_id, "sep": Tokenizer.sep_id, "mask": Tokenizer.mask_id}


def tokenizer_component(tok: Tokenizer) -> Component:
    """The tokenizer as a component: its sentencepiece model protobuf as a ``uint8`` tensor."""
    proto = torch.frombuffer(bytearray(tok.model_proto), dtype=torch.uint8).clone()
    config = {"class": "SentencePieceTokenizer", "vocab_size": tok.vocab_size, "special_ids": _SPECIALS,
              "sha256_16": tok.digest}
    return Component(config, {"model_proto": proto})


def tokenizer_from(component: Component, where: str = "tokenizer") -> Tokenizer:
    """The :class:`Tokenizer` of :func:`tokenizer_component` (every mismatch names the file)."""
    c = component.config
    if c.get("class") != "SentencePieceTokenizer":
        raise PipelineError(f"{where}/config.json: expected class 'SentencePieceTokenizer', got {c.get('class')!r}")
    if c.get("special_ids") != _SPECIALS:
        raise PipelineError(f"{where}/config.json: special ids {c.get('special_ids')!r} differ from "
                            f"polydiff's {_SPECIALS}")
    proto = component.tensors.get("model_proto")
    if proto is None or proto.dtype != torch.uint8 or proto.ndim != 1:
        raise PipelineError(f"{where}/weights.safetensors: expected a 1-D uint8 tensor 'model_proto', got "
                            f"{describe(proto)}")
    try:
        tok = Tokenizer(proto.numpy().tobytes())
    except ValueError as e:
        raise PipelineError(f"{where}/weights.safetensors: {e}") from None
    if tok.vocab_size != c.get("vocab_size"):
        raise PipelineError(f"{where}/config.json: vocab_size {c.get('vocab_size')!r}, but the model has "
                            f"{tok.vocab_size} pieces")
    return tok


def _check_decoding(temperature: float, top_k: int | None, truncate: bool) -> tuple[float, int | None]:
    temperature = float(check_number(temperature, "temperature", low=0.0))
    if top_k is not None:
        top_k = check_int(top_k, "top_k", low=1)
    if not isinstance(truncate, bool):
        raise TypeError(f"truncate must be a bool, got {describe(truncate)}")
    return temperature, top_k


def _check_card(card: Any) -> ModelCard:
    if card is None:
        return ModelCard()
    if not isinstance(card, ModelCard):
        raise TypeError(f"card must be a polydiff.core.pipeline.ModelCard or None, got {describe(card)}")
    return card


class Seq2SeqTextPipeline(Pipeline):
    """What every source-to-text pipeline shares: a ``model`` with a ``tokenizer``, a ``net`` and
    a source half of ``config.src_len`` slots (the last one for ``<sep>``)."""

    model: MaskedDiffusionLM | ARBaseline

    @property
    def tokenizer(self) -> Tokenizer:
        return self.model.tokenizer

    @property
    def device(self) -> torch.device:
        return next(self.model.net.parameters()).device

    @property
    def max_source_tokens(self) -> int:
        """Longest source (in tokens) that fits before ``<sep>``: ``src_len - 1``."""
        return self.model.config.src_len - 1

    def source_tokens(self, source: str) -> int:
        """Number of tokens of one (non-blank) source."""
        return len(self.tokenizer.encode(source))


class MaskedTextPipeline(Seq2SeqTextPipeline):
    """Data-to-text generation with a seq2seq masked diffusion LM: ``pipe(sources) -> texts``.

    Args:
        model: a :class:`MaskedDiffusionLM` with a source half (``config.src_len > 0``).
        solver: default decoder, ``confidence`` (MaskGIT, Chang et al. 2022) or ``ancestral``
            (MDLM's sampler, Sahoo et al. 2024, eq. 7).
        steps: default number of denoiser calls per text.
        temperature: default temperature of the length and the tokens (0: greedy).
        truncate: cut sources longer than ``src_len - 1`` tokens instead of refusing them.
    """

    component_names: ClassVar[tuple[str, ...]] = ("tokenizer", "denoiser", "process", "sampler")

    def __init__(self, model: MaskedDiffusionLM, *, solver: str = "confidence", steps: int = 50,
                 temperature: float = 0.0, truncate: bool = False, card: ModelCard | None = None):
        if not isinstance(model, MaskedDiffusionLM):
            raise TypeError(f"model must be a polydiff.text.masked.MaskedDiffusionLM, got {describe(model)}")
        if model.config.src_len == 0:
            raise ValueError("model must be seq2seq (config.src_len > 0); this one is unconditional")
        check_choice(solver, "solver", SOLVERS)
        self.steps = check_int(steps, "steps", low=1)
        self.temperature, _ = _check_decoding(temperature, None, truncate)
        self.model, self.solver, self.truncate = model.eval(), solver, truncate
        self.card = _check_card(card)

    @torch.no_grad()
    def __call__(self, sources: Sequence[str], *, steps: int | None = None, solver: str | None = None,
                 temperature: float | None = None, truncate: bool | None = None,
                 generator: torch.Generator | Sequence[torch.Generator] | None = None) -> list[str]:
        """One text per source (same order); unset arguments use the pipeline's defaults."""
        sources = check_texts(sources, "sources")
        ids = self.model.sample_ids(sources, 1, self.steps if steps is None else steps,
                                    solver=self.solver if solver is None else solver,
                                    temperature=self.temperature if temperature is None else temperature,
                                    truncate=self.truncate if truncate is None else truncate,
                                    generator=generator)
        return self.tokenizer.decode_batch(ids)

    # --- the pipeline format ----------------------------------------------------------------
    def components(self) -> dict[str, Component]:
        m = self.model
        denoiser = Component({"class": "MaskedConfig", **m.config.to_dict()},
                             {k: v.detach() for k, v in m.net.state_dict().items()})
        process = {"class": "MaskedDiffusion", "vocab_size": m.process.vocab_size, "mask_id": m.process.mask_id,
                   "schedule": m.process.schedule, "t_eps": m.process.t_eps}
        sampler = {"prediction": "x0-logits", "solver": self.solver, "steps": self.steps,
                   "temperature": self.temperature, "truncate": self.truncate}
        return {"tokenizer": tokenizer_component(m.tokenizer), "denoiser": denoiser,
                "process": Component(process), "sampler": Component(sampler)}

    @classmethod
    def from_components(cls, components: dict[str, Component], device: str | torch.device) -> MaskedTextPipeline:
        from polydiff.core.training.checkpoint import load_weights

        tok = tokenizer_from(components["tokenizer"])
        cfg = dict(components["denoiser"].config)
        if cfg.pop("class", None) != "MaskedConfig":
            raise PipelineError(f"denoiser/config.json: expected class 'MaskedConfig', got "
                                f"{components['denoiser'].config.get('class')!r}")
        config = check_config_dict(MaskedConfig, cfg, "denoiser/config.json")
        model = MaskedDiffusionLM(config, tok)
        load_weights(model.net, components["denoiser"].tensors, "denoiser/weights.safetensors")
        p = components["process"].config
        want = {"class": "MaskedDiffusion", "vocab_size": config.vocab_size, "mask_id": tok.mask_id,
                "schedule": config.schedule}
        got = {k: p.get(k) for k in want}
        if got != want or not (isinstance(p.get("t_eps"), float) and math.isfinite(p["t_eps"])):
            raise PipelineError(f"process/config.json: {p} does not match the denoiser and tokenizer "
                                f"(expected {want} and a float t_eps)")
        if not 0.0 < p["t_eps"] < 1.0:
            raise PipelineError(f"process/config.json: t_eps must lie in (0, 1), got {p['t_eps']!r}")
        model.process.t_eps = p["t_eps"]
        s = components["sampler"].config
        if s.get("prediction") != "x0-logits":
            raise PipelineError(f"sampler/config.json: prediction {s.get('prediction')!r} is not 'x0-logits'")
        try:
            return cls(model.to(device), solver=s["solver"], steps=s["steps"], temperature=s["temperature"],
                       truncate=s["truncate"])
        except (TypeError, ValueError) as e:
            raise PipelineError(f"sampler/config.json: {e}") from None

    @classmethod
    def from_run(cls, run_dir: str | os.PathLike, *, device: str | torch.device = "cpu",
                 **defaults: Any) -> MaskedTextPipeline:
        """The pipeline of a ``polydiff train text --model masked --out RUN_DIR`` run (the
        folder holds the EMA weights, ``config.json`` and ``tokenizer.model``)."""
        try:
            model = MaskedDiffusionLM.load(run_dir)
        except ValueError as e:
            raise ValueError(f"{run_dir}: not a masked-diffusion run of polydiff.text.train ({e})") from None
        return cls(model.to(device), **defaults)


class ARTextPipeline(Seq2SeqTextPipeline):
    """Data-to-text generation with the seq2seq autoregressive baseline: ``pipe(sources) -> texts``.

    Args:
        model: an :class:`ARBaseline` with a source half (``config.src_len > 0``).
        temperature: default sampling temperature (0: greedy decoding).
        top_k: default top-k filter (``None``: the whole vocabulary).
        truncate: cut sources longer than ``src_len - 1`` tokens instead of refusing them.
    """

    component_names: ClassVar[tuple[str, ...]] = ("tokenizer", "transformer", "sampler")

    def __init__(self, model: ARBaseline, *, temperature: float = 0.0, top_k: int | None = None,
                 truncate: bool = False, card: ModelCard | None = None):
        if not isinstance(model, ARBaseline):
            raise TypeError(f"model must be a polydiff.text.ar.ARBaseline, got {describe(model)}")
        if model.config.src_len == 0:
            raise ValueError("model must be seq2seq (config.src_len > 0); this one is a language model")
        self.temperature, self.top_k = _check_decoding(temperature, top_k, truncate)
        if self.top_k is not None and self.top_k > model.config.vocab_size:
            raise ValueError(f"top_k must be <= the vocabulary size {model.config.vocab_size}, got {top_k}")
        self.model, self.truncate = model.eval(), truncate
        self.card = _check_card(card)

    @torch.no_grad()
    def __call__(self, sources: Sequence[str], *, temperature: float | None = None, top_k: int | None = None,
                 truncate: bool | None = None,
                 generator: torch.Generator | Sequence[torch.Generator] | None = None) -> list[str]:
        """One text per source (same order); unset arguments use the pipeline's defaults."""
        ids = self.model.sample_ids(check_texts(sources, "sources"),
                                    temperature=self.temperature if temperature is None else temperature,
                                    top_k=self.top_k if top_k is None else top_k,
                                    truncate=self.truncate if truncate is None else truncate, generator=generator)
        return self.tokenizer.decode_batch(ids)

    def components(self) -> dict[str, Component]:
        m = self.model
        transformer = Component({"class": "ARConfig", **m.config.to_dict()},
                                {k: v.detach() for k, v in m.net.state_dict().items()})
        sampler = {"prediction": "next-token-logits", "temperature": self.temperature, "top_k": self.top_k,
                   "truncate": self.truncate}
        return {"tokenizer": tokenizer_component(m.tokenizer), "transformer": transformer,
                "sampler": Component(sampler)}

    @classmethod
    def from_components(cls, components: dict[str, Component], device: str | torch.device) -> ARTextPipeline:
        from polydiff.core.training.checkpoint import load_weights

        tok = tokenizer_from(components["tokenizer"])
        cfg = dict(components["transformer"].config)
        if cfg.pop("class", None) != "ARConfig":
            raise PipelineError(f"transformer/config.json: expected class 'ARConfig', got "
                                f"{components['transformer'].config.get('class')!r}")
        model = ARBaseline(check_config_dict(ARConfig, cfg, "transformer/config.json"), tok)
        load_weights(model.net, components["transformer"].tensors, "transformer/weights.safetensors")
        s = components["sampler"].config
        if s.get("prediction") != "next-token-logits":
            raise PipelineError(f"sampler/config.json: prediction {s.get('prediction')!r} is not 'next-token-logits'")
        try:
            return cls(model.to(device), temperature=s["temperature"], top_k=s["top_k"], truncate=s["truncate"])
        except (TypeError, ValueError) as e:
            raise PipelineError(f"sampler/config.json: {e}") from None

    @classmethod
    def from_run(cls, run_dir: str | os.PathLike, *, device: str | torch.device = "cpu",
                 **defaults: Any) -> ARTextPipeline:
        """The pipeline of a ``polydiff train text --model ar --out RUN_DIR`` run."""
        try:
            model = ARBaseline.load(run_dir)
        except ValueError as e:
            raise ValueError(f"{run_dir}: not an autoregressive run of polydiff.text.train ({e})") from None
        return cls(model.to(device), **defaults)

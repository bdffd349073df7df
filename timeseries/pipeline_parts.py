"""A fitted :class:`~.impute.CSDIImputer` as pipeline components, and back.

Components (see :mod:`polydiff.core.pipeline`)::

    net/       {"class": "CSDINet", CSDIConfig fields} + the weights (safetensors)
    process/   the CSDI discrete VP process (``process.config()``)
    sampler/   {"prediction": "eps", "solver", "steps", "max_batch", "x0_clip", "range_margin"}
    scaler/    {"scaling", "mean", "std", "train_lo", "train_hi", "default_scale"}: the
               observed-only standardisation (:class:`.data.Normalizer`), the training range
               of the out-of-range guard and the x0 clamp, GluonTS mean scaling's fallback
    training/  the remaining ImputerConfig fields (mask strategy, budget, ...) and the steps run

The statistics are JSON lists of float64 (exact: JSON writes the shortest round-trip repr),
so ``save_pretrained(dtype=torch.float16)`` halves the weights and never the statistics.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch
from polydiff.core.pipeline import Component, PipelineError

from .data import Normalizer
from .impute import CSDIImputer, ImputerConfig
from .nets import CSDIConfig

__all__ = ["SAMPLER_FIELDS", "imputer_components", "imputer_from_components"]

#: ``sampler/config.json`` key -> ImputerConfig field.
SAMPLER_FIELDS = {"solver": "solver", "steps": "sample_steps", "max_batch": "max_batch",
                  "x0_clip": "x0_clip", "range_margin": "range_margin"}
_RUNTIME = ("device",)  # chosen when loading, not stored


def _floats(v: np.ndarray | None) -> list[float] | None:
    return None if v is None else [float(x) for x in np.asarray(v, dtype=np.float64).ravel()]


def imputer_components(imp: CSDIImputer) -> dict[str, Component]:
    """The five components of a fitted imputer (weights detached, on the CPU)."""
    norm = imp._normalizer()  # raises if not fitted
    cfg = dataclasses.asdict(imp.config)
    net = Component({"class": "CSDINet", **imp.net_config.to_dict()},
                    {k: v.detach().cpu().contiguous() for k, v in imp.net.state_dict().items()})
    sampler = {"prediction": "eps", **{k: cfg[f] for k, f in SAMPLER_FIELDS.items()}}
    lo, hi = (None, None) if imp.train_range is None else imp.train_range
    scaler = {"scaling": imp.config.scaling, "mean": _floats(norm.mean), "std": _floats(norm.std),
              "train_lo": _floats(lo), "train_hi": _floats(hi),
              "default_scale": _floats(getattr(imp, "default_scale", None))}
    training = {k: v for k, v in cfg.items() if k not in set(SAMPLER_FIELDS.values()) | set(_RUNTIME)}
    training["trained_steps"] = int(getattr(imp, "trained_steps", 0))
    return {"net": net, "process": Component(imp.process.config()), "sampler": Component(sampler),
            "scaler": Component(scaler), "training": Component(training)}


def _vector(scaler: dict[str, Any], key: str, K: int, *, optional: bool = False) -> np.ndarray | None:
    v = scaler.get(key)
    if v is None and optional:
        return None
    a = np.asarray(v, dtype=np.float64) if isinstance(v, list) else None
    if a is None or a.shape != (K,) or not np.isfinite(a).all():
        raise PipelineError(f"scaler/config.json: {key!r} must be a list of {K} finite numbers, got {v!r}")
    return a


def imputer_from_components(components: dict[str, Component], device: str | torch.device) -> CSDIImputer:
    """Rebuild the imputer (eval mode, on ``device``); each mismatch names its file."""
    from polydiff.core import process_from_config
    from polydiff.core.training.checkpoint import load_weights

    net_cfg = dict(components["net"].config)
    if net_cfg.pop("class", None) != "CSDINet":
        raise PipelineError(f"net/config.json: expected class 'CSDINet', got "
                            f"{components['net'].config.get('class')!r}")
    known = {f.name for f in dataclasses.fields(CSDIConfig)}
    if set(net_cfg) - known:
        raise PipelineError(f"net/config.json: unknown CSDIConfig keys {sorted(set(net_cfg) - known)}")
    K = net_cfg.pop("n_features", None)
    s = dict(components["sampler"].config)
    if s.pop("prediction", None) != "eps":
        raise PipelineError(f"sampler/config.json: prediction {components['sampler'].config.get('prediction')!r} "
                            "is not 'eps' (CSDI predicts the noise)")
    if set(s) != set(SAMPLER_FIELDS):
        raise PipelineError(f"sampler/config.json: expected the keys {sorted(SAMPLER_FIELDS)}, got {sorted(s)}")
    training = dict(components["training"].config)
    trained_steps = training.pop("trained_steps", 0)
    fields = {f.name for f in dataclasses.fields(ImputerConfig)}
    if set(training) - fields:
        raise PipelineError(f"training/config.json: unknown ImputerConfig keys {sorted(set(training) - fields)}")
    config = ImputerConfig(**training, **{SAMPLER_FIELDS[k]: v for k, v in s.items()})
    imp = CSDIImputer(K, net=net_cfg, config=config)
    imp.process = process_from_config(components["process"].config)
    load_weights(imp.net, components["net"].tensors, "net/weights.safetensors")  # keys, shapes
    sc = components["scaler"].config
    if sc.get("scaling") != config.scaling:
        raise PipelineError(f"scaler/config.json: scaling {sc.get('scaling')!r} differs from "
                            f"training/config.json's {config.scaling!r}")
    imp.normalizer = Normalizer(_vector(sc, "mean", K), _vector(sc, "std", K))
    if (imp.normalizer.std <= 0).any():
        raise PipelineError("scaler/config.json: 'std' must be > 0")
    lo, hi = _vector(sc, "train_lo", K, optional=True), _vector(sc, "train_hi", K, optional=True)
    imp.train_range = None if lo is None or hi is None else (lo, hi)
    imp.default_scale = _vector(sc, "default_scale", K, optional=True)
    imp.trained_steps = int(trained_steps)
    imp.net.to(device).eval()
    return imp

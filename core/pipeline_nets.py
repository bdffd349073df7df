"""A network configured by a dataclass, as a pipeline component and back (JSON config with a
``class`` key + safetensors state dict; tuples stored as JSON lists). Errors name the folder."""
from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import nn

from .pipeline import Component
from .pipeline_format import PipelineError

__all__ = ["network_component", "network_from"]


def network_component(net: nn.Module) -> Component:
    """``net`` (whose ``net.config`` is a dataclass) as a component."""
    config: dict[str, Any] = {"class": type(net).__name__, **dataclasses.asdict(net.config)}
    config = {k: list(v) if isinstance(v, tuple) else v for k, v in config.items()}
    return Component(config, {k: v.detach() for k, v in net.state_dict().items()})


def network_from(component: Component, where: str, net_cls: type[nn.Module], config_cls: type,
                 device: str | torch.device) -> nn.Module:
    """The ``net_cls(config_cls(...))`` of ``component`` (folder ``where``), weights loaded with
    their keys and shapes checked, on ``device`` in eval mode."""
    from .training.checkpoint import load_weights

    cfg = dict(component.config)
    if cfg.pop("class", None) != net_cls.__name__:
        raise PipelineError(f"{where}/config.json: expected class {net_cls.__name__!r}, "
                            f"got {component.config.get('class')!r}")
    unknown = sorted(set(cfg) - {f.name for f in dataclasses.fields(config_cls)})
    if unknown:
        raise PipelineError(f"{where}/config.json: unknown {config_cls.__name__} keys {unknown}")
    try:
        net = net_cls(config_cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items()}))
    except (TypeError, ValueError) as err:
        raise PipelineError(f"{where}/config.json: invalid {config_cls.__name__} ({err})") from None
    load_weights(net, component.tensors, f"{where}/weights.safetensors")
    return net.to(device).eval()

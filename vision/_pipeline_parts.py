"""The parts every vision pipeline shares (not public API): the U-Net as a component and back,
the checks of the sampling defaults, the process and the ``sampler`` component."""
from __future__ import annotations

from typing import Any

import torch
from polydiff.core import SOLVERS
from polydiff.core.pipeline import Component, PipelineError
from polydiff.core.pipeline_nets import network_component, network_from

from .nets import UNet, UNetConfig


def unet_component(net: UNet) -> Component:
    """The U-Net as a component: its :class:`UNetConfig` as JSON and its state dict."""
    return network_component(net)


def unet_from(component: Component, where: str, device: str | torch.device) -> UNet:
    """The U-Net of ``component`` (folder ``where``) on ``device`` in eval mode; named errors."""
    return network_from(component, where, UNet, UNetConfig, device)


def image_shape_for(unet: UNet, image_shape) -> tuple[int, int, int]:
    """``image_shape`` as ``(C, H, W)``: three positive ints that ``unet`` can take."""
    from ._common import check_image_shape

    shape = tuple(image_shape) if isinstance(image_shape, (tuple, list)) else (image_shape,)
    if len(shape) != 3 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in shape):
        raise ValueError(f"image_shape must be three positive ints (C, H, W), got {image_shape!r}")
    if shape[0] != unet.config.in_channels:
        raise ValueError(f"image_shape has {shape[0]} channels, the unet {unet.config.in_channels}")
    check_image_shape(unet, shape, "image_shape")  # sides divisible by its down-sampling
    return shape


def check_defaults(solver: str, steps: int) -> None:
    """A pipeline's default ``solver`` (a core solver name) and ``steps`` (a positive int)."""
    if not isinstance(solver, str):
        raise TypeError(f"solver must be a str, got {type(solver).__name__}")
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {list(SOLVERS)}, got {solver!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")


def check_process(process) -> None:
    """``process`` must be a core process (it has a JSON ``config``)."""
    if not hasattr(process, "config"):
        raise TypeError(f"process must be a polydiff.core process, got {type(process).__name__}")


def sampler_config(components: dict[str, Component], task: str, keys: set[str]) -> dict[str, Any]:
    """The ``sampler`` component's config, its task and ``keys`` checked (named errors)."""
    s = components["sampler"].config
    if s.get("task", task) != task:
        raise PipelineError(f"sampler/config.json: task {s.get('task')!r} is not {task!r}")
    missing = sorted(keys - set(s))
    if missing:
        raise PipelineError(f"sampler/config.json: missing keys {missing}")
    return s


def process_from(components: dict[str, Component]):
    """The process of the ``process`` component; its errors name ``process/config.json``."""
    from polydiff.core import process_from_config

    try:
        return process_from_config(components["process"].config)
    except (TypeError, ValueError, KeyError) as err:
        raise PipelineError(f"process/config.json: {err}") from None


def check_recorded(s: dict[str, Any], unet: UNet, keys: tuple[str, ...]) -> None:
    """The sampler's copy of ``keys`` (prediction, residual ...) must equal the U-Net config's."""
    for key in keys:
        if s.get(key) != getattr(unet.config, key):
            raise PipelineError(f"sampler/config.json: {key} {s.get(key)!r} differs from the unet's "
                                f"{getattr(unet.config, key)!r} (unet/config.json)")

"""Trained vision models as pipelines (:mod:`polydiff.core.pipeline`).

:class:`VisionGenerationPipeline` is class-conditional generation with classifier-free
guidance (Ho & Salimans 2022): the U-Net, DDPM's process, eps-prediction and a default
solver, steps and guidance scale, saved and loaded without pickle::

    pipe = VisionGenerationPipeline.from_run("runs/gen")        # a `polydiff train vision` run
    pipe.save_pretrained("pretrained/mnist-cfg", dtype=torch.float16)
    pipe = VisionGenerationPipeline.from_pretrained("mnist-cfg")
    images = pipe(torch.arange(10), generator=torch.Generator().manual_seed(0))  # [10, 1, 28, 28]
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any, ClassVar

import torch
from polydiff.core import SOLVERS
from polydiff.core.pipeline import Component, ModelCard, Pipeline, PipelineError
from torch import Tensor

from ._common import check_image_shape
from .nets import UNet, UNetConfig

__all__ = ["VisionGenerationPipeline"]


def _unet_component(net: UNet) -> Component:
    config = {"class": "UNet", **dataclasses.asdict(net.config)}
    config = {k: list(v) if isinstance(v, tuple) else v for k, v in config.items()}
    return Component(config, {k: v.detach() for k, v in net.state_dict().items()})


def _unet_from(component: Component, where: str, device: str | torch.device) -> UNet:
    from polydiff.core.training.checkpoint import load_weights

    cfg = dict(component.config)
    if cfg.pop("class", None) != "UNet":
        raise PipelineError(f"{where}/config.json: expected class 'UNet', got {component.config.get('class')!r}")
    fields = {f.name for f in dataclasses.fields(UNetConfig)}
    unknown = sorted(set(cfg) - fields)
    if unknown:
        raise PipelineError(f"{where}/config.json: unknown UNetConfig keys {unknown}")
    try:
        net = UNet(UNetConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items()}))
    except (TypeError, ValueError) as err:
        raise PipelineError(f"{where}/config.json: invalid UNetConfig ({err})") from None
    load_weights(net, component.tensors, f"{where}/weights.safetensors")  # keys and shapes checked
    return net.to(device).eval()


class VisionGenerationPipeline(Pipeline):
    """Class-conditional image generation: ``pipe(labels) -> images in [0, 1]``.

    Args:
        unet: a class-conditional :class:`UNet` (``num_classes > 0``; its null class is the
            unconditional input of CFG).
        process: the forward process it was trained with (a core ``GaussianProcess``).
        image_shape: ``(C, H, W)`` of the generated images.
        solver, steps, guidance_scale: sampling defaults (``scale`` of
            :func:`polydiff.vision.generate.generate`: 0 unconditional, 1 conditional).
    """

    component_names: ClassVar[tuple[str, ...]] = ("unet", "process", "sampler")

    def __init__(self, unet: UNet, process, image_shape: tuple[int, int, int], *, solver: str = "ddim",
                 steps: int = 25, guidance_scale: float = 3.0, card: ModelCard | None = None):
        if not isinstance(unet, UNet):
            raise TypeError(f"unet must be a polydiff.vision.nets.UNet, got {type(unet).__name__}")
        if unet.config.num_classes < 1:
            raise ValueError(f"unet must be class-conditional (num_classes >= 1), got {unet.config.num_classes}")
        if not hasattr(process, "config"):
            raise TypeError(f"process must be a polydiff.core process, got {type(process).__name__}")
        shape = tuple(image_shape) if isinstance(image_shape, (tuple, list)) else (image_shape,)
        if len(shape) != 3 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in shape):
            raise ValueError(f"image_shape must be three positive ints (C, H, W), got {image_shape!r}")
        if shape[0] != unet.config.in_channels:
            raise ValueError(f"image_shape has {shape[0]} channels, the unet {unet.config.in_channels}")
        check_image_shape(unet, shape, "image_shape")
        if not isinstance(solver, str):
            raise TypeError(f"solver must be a str, got {type(solver).__name__}")
        if solver not in SOLVERS:
            raise ValueError(f"solver must be one of {list(SOLVERS)}, got {solver!r}")
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps must be a positive int, got {steps!r}")
        if (isinstance(guidance_scale, bool) or not isinstance(guidance_scale, (int, float))
                or not 0 <= guidance_scale < float("inf")):
            raise ValueError(f"guidance_scale must be a number >= 0 (and finite), got {guidance_scale!r}")
        self.unet, self.process, self.image_shape = unet.eval(), process, shape
        self.solver, self.steps, self.guidance_scale = solver, steps, float(guidance_scale)
        self.card = card if card is not None else ModelCard()

    @property
    def num_classes(self) -> int:
        return self.unet.config.num_classes

    @torch.no_grad()
    def __call__(self, labels: Tensor, *, guidance_scale: float | None = None, steps: int | None = None,
                 solver: str | None = None, generator: torch.Generator | list | None = None) -> Tensor:
        """One image per label, ``[N, C, H, W]`` in [0, 1]; unset arguments use the defaults."""
        from .generate import generate

        return generate(self.unet, self.process, labels,
                        scale=self.guidance_scale if guidance_scale is None else guidance_scale,
                        steps=self.steps if steps is None else steps,
                        solver=self.solver if solver is None else solver,
                        generator=generator, shape=self.image_shape)

    # --- the pipeline format ----------------------------------------------------------------
    def components(self) -> dict[str, Component]:
        sampler = {"prediction": "eps", "solver": self.solver, "steps": self.steps,
                   "guidance_scale": self.guidance_scale, "image_shape": list(self.image_shape),
                   "clip_x0": True}
        return {"unet": _unet_component(self.unet), "process": Component(self.process.config()),
                "sampler": Component(sampler)}

    @classmethod
    def from_components(cls, components: dict[str, Component], device: str | torch.device
                        ) -> VisionGenerationPipeline:
        from polydiff.core import process_from_config

        s = components["sampler"].config
        if s.get("prediction") != "eps":
            raise PipelineError(f"sampler/config.json: prediction {s.get('prediction')!r} is not 'eps'")
        missing = sorted({"image_shape", "solver", "steps", "guidance_scale"} - set(s))
        if missing:
            raise PipelineError(f"sampler/config.json: missing keys {missing}")
        unet = _unet_from(components["unet"], "unet", device)
        try:
            process = process_from_config(components["process"].config)
        except (TypeError, ValueError, KeyError) as err:
            raise PipelineError(f"process/config.json: {err}") from None
        try:
            return cls(unet, process, s["image_shape"], solver=s["solver"], steps=s["steps"],
                       guidance_scale=s["guidance_scale"])
        except (TypeError, ValueError) as err:
            raise PipelineError(f"sampler/config.json: {err}") from None

    @classmethod
    def from_run(cls, run_dir: str | os.PathLike, *, device: str | torch.device = "cpu",
                 **defaults: Any) -> VisionGenerationPipeline:
        """The pipeline of a ``polydiff train vision --task generate`` run (its EMA weights)."""
        from .train import load_trained

        net, process, extra = load_trained(run_dir, device=str(device))
        if extra.get("task") != "generate":
            raise ValueError(f"{run_dir}: is a {extra.get('task')!r} run, not a 'generate' run")
        return cls(net, process, tuple(extra["image_shape"]), **defaults)

"""A trained Palette inpainting model as a pipeline (:mod:`polydiff.core.pipeline`).

:class:`PaletteInpaintingPipeline` holds the mask-conditioned U-Net of
:mod:`polydiff.vision.palette` (Saharia et al. 2022), DDPM's process and a ``sampler``
component, saved and loaded without pickle. It is called like
:class:`~polydiff.vision.pipelines.InpaintingPipeline` (RePaint), without RePaint's
resampling: the network is trained for the task, so one pass of the solver fills the hole::

    pipe = PaletteInpaintingPipeline.from_run("runs/palette")     # --task palette
    filled = pipe(images, known_mask)                              # mask: 1 = known, 0 = fill
"""
from __future__ import annotations

import os
from typing import Any, ClassVar

import torch
from polydiff.core.pipeline import Component, ModelCard, Pipeline, PipelineError
from polydiff.core.validate import check_int
from torch import Tensor

from ._pipeline_parts import (
    check_defaults,
    check_process,
    check_recorded,
    image_shape_for,
    process_from,
    sampler_config,
    unet_component,
    unet_from,
)
from .nets import UNet

__all__ = ["PaletteInpaintingPipeline"]


class PaletteInpaintingPipeline(Pipeline):
    """Palette inpainting: ``pipe(images, mask) -> filled images in [0, 1]``.

    The mask is ``[N or 1, 1, H, W]`` with **1 = known pixel, 0 = pixel to fill**; the known
    pixels come back unchanged. Images of another size than ``image_shape`` work when their
    sides are divisible by the U-Net's down-sampling, but it fills best at its own size.

    Args:
        unet: a Palette :class:`UNet` (``cond_channels == in_channels + 1``: the known image
            and the mask; no classes).
        process: the forward process it was trained with.
        image_shape: ``(C, H, W)`` of its training images.
        solver, steps: sampling defaults.
        clip: clamp ``x0_hat`` to the data range.
    """

    component_names: ClassVar[tuple[str, ...]] = ("unet", "process", "sampler")

    def __init__(self, unet: UNet, process, image_shape: tuple[int, int, int], *, solver: str = "ddpm",
                 steps: int = 25, clip: bool = True, card: ModelCard | None = None):
        if not isinstance(unet, UNet):
            raise TypeError(f"unet must be a polydiff.vision.nets.UNet, got {type(unet).__name__}")
        c = unet.config
        if c.cond_channels != c.in_channels + 1 or c.num_classes:
            raise ValueError(f"unet must be a Palette U-Net (cond_channels == in_channels + 1, no classes), got "
                             f"cond_channels={c.cond_channels}, in_channels={c.in_channels}, "
                             f"num_classes={c.num_classes}")
        check_process(process)
        shape = image_shape_for(unet, image_shape)
        check_defaults(solver, steps)
        if not isinstance(clip, bool):
            raise TypeError(f"clip must be a bool, got {type(clip).__name__}")
        self.unet, self.process, self.image_shape = unet.eval(), process, shape
        self.solver, self.steps, self.clip = solver, steps, clip
        self.card = card if card is not None else ModelCard()

    @property
    def channels(self) -> int:
        """Channels of the images it fills (1 grayscale, 3 RGB)."""
        return self.unet.config.in_channels

    @torch.no_grad()
    def __call__(self, images: Tensor, mask: Tensor, *, steps: int | None = None, solver: str | None = None,
                 generator: torch.Generator | list | None = None, **solver_options: Any) -> Tensor:
        """Fill the ``mask == 0`` pixels of ``[N, C, H, W]`` images in [0, 1]; unset arguments
        use the defaults; ``solver_options`` (e.g. ``callback``) go to the solver."""
        from .palette import palette_inpaint

        return palette_inpaint(self.unet, self.process, images, mask,
                               steps=self.steps if steps is None else check_int(steps, "steps", low=1),
                               solver=self.solver if solver is None else solver, clip=self.clip,
                               generator=generator, **solver_options)

    # --- the pipeline format ----------------------------------------------------------------
    def components(self) -> dict[str, Component]:
        sampler = {"task": "palette", "prediction": self.unet.config.prediction,
                   "image_shape": list(self.image_shape), "solver": self.solver, "steps": self.steps,
                   "clip": self.clip, "mask": "1 = known, 0 = fill"}
        return {"unet": unet_component(self.unet), "process": Component(self.process.config()),
                "sampler": Component(sampler)}

    @classmethod
    def from_components(cls, components: dict[str, Component], device: str | torch.device
                        ) -> PaletteInpaintingPipeline:
        s = sampler_config(components, "palette", {"prediction", "image_shape", "solver", "steps", "clip"})
        unet, process = unet_from(components["unet"], "unet", device), process_from(components)
        check_recorded(s, unet, ("prediction",))
        try:
            return cls(unet, process, s["image_shape"], solver=s["solver"], steps=s["steps"], clip=s["clip"])
        except (TypeError, ValueError) as err:
            raise PipelineError(f"sampler/config.json: {err}") from None

    @classmethod
    def from_run(cls, run_dir: str | os.PathLike, *, device: str | torch.device = "cpu",
                 **defaults: Any) -> PaletteInpaintingPipeline:
        """The pipeline of a ``polydiff train vision --task palette`` run (its EMA weights and
        image size); ``defaults`` are the constructor's keyword arguments."""
        from .train import load_trained

        net, process, extra = load_trained(run_dir, device=str(device))
        if extra.get("task") != "palette":
            raise ValueError(f"{run_dir}: is a {extra.get('task')!r} run, not a 'palette' run")
        return cls(net, process, tuple(extra["image_shape"]), **defaults)

"""Trained vision models as pipelines (:mod:`polydiff.core.pipeline`).

Each pipeline holds the U-Net (config + safetensors weights), DDPM's process and a
``sampler`` component with the task's defaults, saved and loaded without pickle:

* :class:`VisionGenerationPipeline`: class-conditional generation with classifier-free
  guidance (Ho & Salimans 2022);
* :class:`SuperResolutionPipeline`: SR3 super-resolution (Saharia et al. 2022,
  :mod:`polydiff.vision.superres`), residual or not, x2/x4/...;
* :class:`InpaintingPipeline`: RePaint inpainting with an unconditional U-Net (Lugmayr et
  al. 2022, :mod:`polydiff.vision.inpaint`).

::

    pipe = VisionGenerationPipeline.from_run("runs/gen")        # a `polydiff train vision` run
    pipe.save_pretrained("pretrained/mnist-cfg", dtype=torch.float16)
    pipe = VisionGenerationPipeline.from_pretrained("mnist-cfg")
    images = pipe(torch.arange(10), generator=torch.Generator().manual_seed(0))  # [10, 1, 28, 28]

    sr = SuperResolutionPipeline.from_run("runs/sr")             # --task superres
    highres = sr(lowres)                                         # [N, C, 4h, 4w] in [0, 1]
    inp = InpaintingPipeline.from_run("runs/inp")                # --task inpaint
    filled = inp(images, known_mask)                             # mask: 1 = known, 0 = fill
"""
from __future__ import annotations

import os
from typing import Any, ClassVar

import torch
from polydiff.core.pipeline import Component, ModelCard, Pipeline, PipelineError
from polydiff.core.validate import check_int, check_number
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

__all__ = ["InpaintingPipeline", "SuperResolutionPipeline", "VisionGenerationPipeline"]


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
        check_process(process)
        shape = image_shape_for(unet, image_shape)
        check_defaults(solver, steps)
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

        if guidance_scale is not None:
            guidance_scale = check_number(guidance_scale, "guidance_scale", low=0.0)
        return generate(self.unet, self.process, labels,
                        scale=self.guidance_scale if guidance_scale is None else guidance_scale,
                        steps=self.steps if steps is None else steps,
                        solver=self.solver if solver is None else solver,
                        generator=generator, shape=self.image_shape)

    # --- the pipeline format ----------------------------------------------------------------
    def components(self) -> dict[str, Component]:
        sampler = {"task": "generate", "prediction": "eps", "solver": self.solver, "steps": self.steps,
                   "guidance_scale": self.guidance_scale, "image_shape": list(self.image_shape),
                   "clip_x0": True}
        return {"unet": unet_component(self.unet), "process": Component(self.process.config()),
                "sampler": Component(sampler)}

    @classmethod
    def from_components(cls, components: dict[str, Component], device: str | torch.device
                        ) -> VisionGenerationPipeline:
        s = components["sampler"].config
        if s.get("prediction") != "eps":
            raise PipelineError(f"sampler/config.json: prediction {s.get('prediction')!r} is not 'eps'")
        s = sampler_config(components, "generate", {"image_shape", "solver", "steps", "guidance_scale"})
        unet, process = unet_from(components["unet"], "unet", device), process_from(components)
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


class SuperResolutionPipeline(Pipeline):
    """SR3 super-resolution (Saharia et al. 2022): ``pipe(lowres) -> highres in [0, 1]``.

    What the U-Net outputs (``prediction``: ``v`` or ``x0``) and whether it models the
    residual over bicubic (``residual``, SRDiff/ResShift; with its ``residual_scale``) are
    read from its config, so the pipeline samples as the network was trained; the ``sampler``
    component records them too, beside the factor and the sampling defaults.

    Args:
        unet: an SR3 :class:`UNet` (``cond_channels == in_channels``: the bicubic image is its
            condition).
        process: the forward process it was trained with.
        factor: the up-sampling factor it was trained for (``--factor`` of the run).
        solver, steps: sampling defaults.
        consistent: project every ``x0_hat`` onto the images whose ``factor``-fold area
            down-sampling equals the input (:func:`~polydiff.vision.superres.consistency_projection`).
        clip: clamp ``x0_hat`` to the data range (DDPM's ``clip_denoised``).
    """

    component_names: ClassVar[tuple[str, ...]] = ("unet", "process", "sampler")

    def __init__(self, unet: UNet, process, factor: int, *, solver: str = "ddim", steps: int = 50,
                 consistent: bool = False, clip: bool = True, card: ModelCard | None = None):
        if not isinstance(unet, UNet):
            raise TypeError(f"unet must be a polydiff.vision.nets.UNet, got {type(unet).__name__}")
        if unet.config.cond_channels != unet.config.in_channels or unet.config.num_classes:
            c = unet.config
            raise ValueError(f"unet must be an SR3 U-Net (cond_channels == in_channels, no classes), "
                             f"got cond_channels={c.cond_channels}, in_channels={c.in_channels}, "
                             f"num_classes={c.num_classes}")
        check_process(process)
        if isinstance(factor, bool) or not isinstance(factor, int) or factor < 2:
            raise ValueError(f"factor must be an int >= 2, got {factor!r}")
        check_defaults(solver, steps)
        for name, flag in (("consistent", consistent), ("clip", clip)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be a bool, got {type(flag).__name__}")
        self.unet, self.process, self.factor = unet.eval(), process, factor
        self.solver, self.steps, self.consistent, self.clip = solver, steps, consistent, clip
        self.card = card if card is not None else ModelCard()

    @property
    def channels(self) -> int:
        """Channels of the images it takes and returns (1 grayscale, 3 RGB)."""
        return self.unet.config.in_channels

    @torch.no_grad()
    def __call__(self, lowres: Tensor, *, steps: int | None = None, solver: str | None = None,
                 consistent: bool | None = None, generator: torch.Generator | list | None = None,
                 **solver_options: Any) -> Tensor:
        """``[N, C, h, w]`` images in [0, 1] up-sampled to ``[N, C, h * factor, w * factor]``;
        unset arguments use the defaults; ``solver_options`` (e.g. ``callback``) go to the solver."""
        from .superres import super_resolve

        return super_resolve(self.unet, self.process, lowres, self.factor,
                             steps=self.steps if steps is None else steps,
                             solver=self.solver if solver is None else solver,
                             consistent=self.consistent if consistent is None else consistent,
                             clip=self.clip, generator=generator, **solver_options)

    # --- the pipeline format ----------------------------------------------------------------
    def components(self) -> dict[str, Component]:
        c = self.unet.config
        sampler = {"task": "superres", "factor": self.factor, "prediction": c.prediction,
                   "residual": c.residual, "residual_scale": c.residual_scale, "solver": self.solver,
                   "steps": self.steps, "consistent": self.consistent, "clip": self.clip}
        return {"unet": unet_component(self.unet), "process": Component(self.process.config()),
                "sampler": Component(sampler)}

    @classmethod
    def from_components(cls, components: dict[str, Component], device: str | torch.device
                        ) -> SuperResolutionPipeline:
        s = sampler_config(components, "superres", {"factor", "prediction", "residual", "residual_scale",
                                                    "solver", "steps", "consistent", "clip"})
        unet, process = unet_from(components["unet"], "unet", device), process_from(components)
        check_recorded(s, unet, ("prediction", "residual", "residual_scale"))
        try:
            return cls(unet, process, s["factor"], solver=s["solver"], steps=s["steps"],
                       consistent=s["consistent"], clip=s["clip"])
        except (TypeError, ValueError) as err:
            raise PipelineError(f"sampler/config.json: {err}") from None

    @classmethod
    def from_run(cls, run_dir: str | os.PathLike, *, device: str | torch.device = "cpu",
                 **defaults: Any) -> SuperResolutionPipeline:
        """The pipeline of a ``polydiff train vision --task superres`` run (its EMA weights and
        ``--factor``); ``defaults`` are the constructor's keyword arguments."""
        from .train import load_trained

        net, process, extra = load_trained(run_dir, device=str(device))
        if extra.get("task") != "superres":
            raise ValueError(f"{run_dir}: is a {extra.get('task')!r} run, not a 'superres' run")
        return cls(net, process, int(extra["factor"]), **defaults)


class InpaintingPipeline(Pipeline):
    """RePaint inpainting (Lugmayr et al. 2022): ``pipe(images, mask) -> filled images in [0, 1]``.

    The mask is ``[N or 1, 1, H, W]`` with **1 = known pixel, 0 = pixel to fill** (as
    :func:`~polydiff.vision.inpaint.inpaint`); the known pixels come back unchanged. The U-Net
    is convolutional: images of other sizes than ``image_shape`` (the training size) work
    when their sides are divisible by its down-sampling, but it fills best at its own size.

    Args:
        unet: an unconditional :class:`UNet` (no classes, no conditioning image).
        process: the forward process it was trained with.
        image_shape: ``(C, H, W)`` of its training images.
        solver, steps: sampling defaults.
        jump_length, resample: RePaint's schedule (sec. 4.2): re-noise by ``jump_length`` steps,
            ``resample`` times; ``jump_length=None`` keeps the paper's jump length in time
            (:func:`~polydiff.vision.inpaint.repaint_settings`). ``resample=1``: replacement only.
        clip: clamp ``x0_hat`` to the data range.
    """

    component_names: ClassVar[tuple[str, ...]] = ("unet", "process", "sampler")

    def __init__(self, unet: UNet, process, image_shape: tuple[int, int, int], *, solver: str = "ddim",
                 steps: int = 25, jump_length: int | None = None, resample: int = 10, clip: bool = True,
                 card: ModelCard | None = None):
        from .inpaint import repaint_settings

        if not isinstance(unet, UNet):
            raise TypeError(f"unet must be a polydiff.vision.nets.UNet, got {type(unet).__name__}")
        if unet.config.num_classes or unet.config.cond_channels:
            c = unet.config
            raise ValueError(f"unet must be unconditional (num_classes=0, cond_channels=0), got "
                             f"num_classes={c.num_classes}, cond_channels={c.cond_channels}")
        check_process(process)
        shape = image_shape_for(unet, image_shape)
        check_defaults(solver, steps)
        if jump_length is None:
            jump_length = repaint_settings(steps)["jump_length"]
        for name, v in (("jump_length", jump_length), ("resample", resample)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if not isinstance(clip, bool):
            raise TypeError(f"clip must be a bool, got {type(clip).__name__}")
        self.unet, self.process, self.image_shape = unet.eval(), process, shape
        self.solver, self.steps, self.clip = solver, steps, clip
        self.jump_length, self.resample = jump_length, resample
        self.card = card if card is not None else ModelCard()

    @property
    def channels(self) -> int:
        """Channels of the images it fills (1 grayscale, 3 RGB)."""
        return self.unet.config.in_channels

    @torch.no_grad()
    def __call__(self, images: Tensor, mask: Tensor, *, steps: int | None = None, solver: str | None = None,
                 jump_length: int | None = None, resample: int | None = None,
                 generator: torch.Generator | list | None = None, **solver_options: Any) -> Tensor:
        """Fill the ``mask == 0`` pixels of ``[N, C, H, W]`` images in [0, 1].

        Unset arguments use the defaults; with ``steps`` given and ``jump_length`` not, the jump
        keeps its fraction of the trajectory (``jump_length * steps / self.steps``, at least 1).
        """
        from .inpaint import inpaint

        return inpaint(self.unet, self.process, images, mask, **self.schedule(steps, jump_length, resample),
                       solver=self.solver if solver is None else solver, clip=self.clip,
                       generator=generator, **solver_options)

    def schedule(self, steps: int | None = None, jump_length: int | None = None,
                 resample: int | None = None) -> dict[str, int]:
        """``{"steps", "jump_length", "resample"}`` a call with these arguments samples with."""
        if steps is not None:
            steps = check_int(steps, "steps", low=1)
        if jump_length is not None:
            jump_length = check_int(jump_length, "jump_length", low=1)
        if resample is not None:
            resample = check_int(resample, "resample", low=1)
        if jump_length is None:
            jump_length = (self.jump_length if steps is None
                           else max(1, round(self.jump_length * steps / self.steps)))
        return {"steps": self.steps if steps is None else steps, "jump_length": jump_length,
                "resample": self.resample if resample is None else resample}

    # --- the pipeline format ----------------------------------------------------------------
    def components(self) -> dict[str, Component]:
        sampler = {"task": "inpaint", "prediction": self.unet.config.prediction,
                   "image_shape": list(self.image_shape), "solver": self.solver, "steps": self.steps,
                   "jump_length": self.jump_length, "resample": self.resample, "clip": self.clip,
                   "mask": "1 = known, 0 = fill"}
        return {"unet": unet_component(self.unet), "process": Component(self.process.config()),
                "sampler": Component(sampler)}

    @classmethod
    def from_components(cls, components: dict[str, Component], device: str | torch.device
                        ) -> InpaintingPipeline:
        s = sampler_config(components, "inpaint", {"prediction", "image_shape", "solver", "steps",
                                                   "jump_length", "resample", "clip"})
        unet, process = unet_from(components["unet"], "unet", device), process_from(components)
        check_recorded(s, unet, ("prediction",))
        try:
            return cls(unet, process, s["image_shape"], solver=s["solver"], steps=s["steps"],
                       jump_length=s["jump_length"], resample=s["resample"], clip=s["clip"])
        except (TypeError, ValueError) as err:
            raise PipelineError(f"sampler/config.json: {err}") from None

    @classmethod
    def from_run(cls, run_dir: str | os.PathLike, *, device: str | torch.device = "cpu",
                 **defaults: Any) -> InpaintingPipeline:
        """The pipeline of a ``polydiff train vision --task inpaint`` run (its EMA weights and
        image size); ``defaults`` are the constructor's keyword arguments."""
        from .train import load_trained

        net, process, extra = load_trained(run_dir, device=str(device))
        if extra.get("task") != "inpaint":
            raise ValueError(f"{run_dir}: is a {extra.get('task')!r} run, not an 'inpaint' run")
        return cls(net, process, tuple(extra["image_shape"]), **defaults)

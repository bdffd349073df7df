"""A trained DiffPure defence as a pipeline (:mod:`polydiff.core.pipeline`).

:class:`PurificationPipeline` holds what applying DiffPure (Nie et al. 2022) needs: the
diffusion denoiser (vision's U-Net), the classifier, the VP process, and the purification
settings (``t*``, solver, steps, grid, repeats) plus the adaptive-evaluation settings
(gradient mode, EOT draws; Lee & Kim 2023) that go with the defence. Saved and loaded without
pickle::

    pipe = PurificationPipeline.from_run("runs/dm", "runs/clf", t_star=0.1, steps=10)
    pipe.save_pretrained("pretrained/mnist-diffpure")
    pipe = PurificationPipeline.from_pretrained("mnist-diffpure")
    out = pipe(images, seed=0, repeats=4)       # images [B, 1, 28, 28] in [0, 1]
    out.predicted, out.majority, out.probs      # [B], [B], [B, K]
    attacked = pipe.purified_classifier()       # the nn.Module an adaptive attack should attack
"""
from __future__ import annotations

import dataclasses
import os
import pathlib
from collections.abc import Sequence
from typing import Any, ClassVar

import polydiff.core as pc
import torch
from polydiff.core import SOLVERS
from polydiff.core.pipeline import Component, ModelCard, Pipeline, PipelineError
from polydiff.core.pipeline_nets import network_component, network_from
from polydiff.core.validate import check_int, describe
from torch import Tensor, nn

from .gradients import GRADIENT_MODES
from .nets import Classifier, ClassifierConfig, UNet, UNetConfig
from .purify import PurifiedClassifier, Purifier, _mix

__all__ = ["PurificationOutput", "PurificationPipeline"]

#: The denoiser's data range: images in [0, 1] are scaled by ``x0 = 2 x - 1`` (:class:`Purifier`).
MODEL_RANGE = [-1.0, 1.0]


@dataclasses.dataclass(frozen=True)
class PurificationOutput:
    """What :meth:`PurificationPipeline.__call__` returns for ``B`` inputs and ``R`` repeats.

    Attributes:
        purified: ``[R, B, C, H, W]`` purified images in (about) [0, 1], one per draw.
        logits: ``[R, B, K]`` the classifier's logits on each purified image.
    """

    purified: Tensor
    logits: Tensor

    @property
    def mean_logits(self) -> Tensor:
        """``[B, K]`` logits averaged over the repeats (DiffPure's repetition, as in
        :class:`PurifiedClassifier`)."""
        return self.logits.mean(0)

    @property
    def probs(self) -> Tensor:
        """``[B, K]`` softmax of :attr:`mean_logits`."""
        return torch.softmax(self.mean_logits, dim=-1)

    @property
    def predicted(self) -> Tensor:
        """``[B]`` class of the averaged logits."""
        return self.mean_logits.argmax(-1)

    @property
    def votes(self) -> Tensor:
        """``[B, K]`` how many repeats predicted each class."""
        k = self.logits.shape[-1]
        return torch.nn.functional.one_hot(self.logits.argmax(-1), k).sum(0)

    @property
    def majority(self) -> Tensor:
        """``[B]`` majority vote over the repeats (ties go to the lowest class index)."""
        return self.votes.argmax(-1)


def _net_from(component: Component, where: str, cls: type[nn.Module], device: str | torch.device) -> nn.Module:
    return network_from(component, where, cls, ClassifierConfig if cls is Classifier else UNetConfig, device)


def _check_image_shape(shape: Any, denoiser: UNet, classifier: Classifier) -> tuple[int, int, int]:
    ok = isinstance(shape, (tuple, list)) and len(shape) == 3 and all(
        isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in shape)
    if not ok:
        raise ValueError(f"image_shape must be three positive ints (C, H, W), got {shape!r}")
    c, h, w = shape
    if c != denoiser.config.in_channels or c != classifier.config.in_channels:
        raise ValueError(f"image_shape has {c} channel(s); the denoiser takes {denoiser.config.in_channels}, "
                         f"the classifier {classifier.config.in_channels}")
    f = 2 ** (len(denoiser.config.mults) - 1)
    if h % f or w % f:
        raise ValueError(f"image_shape: H and W must be divisible by {f} (the denoiser's "
                         f"{len(denoiser.config.mults)} levels), got {tuple(shape)}")
    return (c, h, w)


def _positive(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


class PurificationPipeline(Pipeline):
    """DiffPure: ``pipe(images) -> purified images and the classifier's verdicts``.

    Args:
        denoiser: an unconditional :class:`UNet` trained on images scaled to [-1, 1] with
            ``process`` (its config's ``prediction`` says what it predicts).
        classifier: a :class:`Classifier` on [0, 1] images with the denoiser's channels.
        process: the VP-family process the denoiser was trained with (default ``pc.VP()``, the
            default of :func:`polydiff.robustness.train.train_diffusion`).
        image_shape: ``(C, H, W)`` of the inputs (default ``(C, 28, 28)``, MNIST).
        t_star: diffusion time ``t*`` (DiffPure eq. 4) on ``process``'s time scale; default 0.1
            (DiffPure's CIFAR-10 value) for a continuous-time process. A ``DiscreteVP`` counts
            steps ``0..T-1`` and has no default: pass the step (e.g. 100 of 1000).
        solver, steps, grid: the reverse solve (default Euler–Maruyama with ``dt = 1e-3``,
            DiffPure eq. 5); see :class:`Purifier`.
        repeats: purifications per input by default (logits averaged; majority vote reported).
        gradient: the gradient mode an adaptive attack should use (:data:`GRADIENT_MODES`).
        eot_iter: gradient draws per attack step of that evaluation (EOT; Athalye et al. 2018),
            e.g. ``make_attack(..., eot_iter=pipe.eot_iter)``.
        class_names: ``K`` names of the classes (default ``"0" .. "K-1"``).
    """

    component_names: ClassVar[tuple[str, ...]] = ("denoiser", "classifier", "process", "purifier")

    def __init__(self, denoiser: UNet, classifier: Classifier, process: pc.GaussianProcess | None = None, *,
                 image_shape: Sequence[int] | None = None, t_star: float | None = None, solver: str = "euler_maruyama",
                 steps: int | None = None, grid: str = "uniform_t", repeats: int = 1, gradient: str = "full",
                 eot_iter: int = 1, class_names: Sequence[str] | None = None, card: ModelCard | None = None):
        if not isinstance(denoiser, UNet):
            raise TypeError(f"denoiser must be a polydiff.vision.nets.UNet, got {type(denoiser).__name__}")
        c = denoiser.config
        if c.num_classes or c.cond_channels or (c.out_channels or c.in_channels) != c.in_channels:
            raise ValueError("denoiser must be an unconditional U-Net with out_channels == in_channels "
                             f"(num_classes=0, cond_channels=0), got {c}")
        if not isinstance(classifier, Classifier):
            raise TypeError(f"classifier must be a polydiff.vision.nets.Classifier, got {type(classifier).__name__}")
        process = process if process is not None else pc.VP()
        if not isinstance(process, pc.GaussianProcess):
            raise TypeError(f"process must be a polydiff.core GaussianProcess, got {type(process).__name__}")
        shape = _check_image_shape(tuple(image_shape) if isinstance(image_shape, list) else image_shape,
                                   denoiser, classifier) if image_shape is not None else (
            _check_image_shape((c.in_channels, 28, 28), denoiser, classifier))
        if not isinstance(solver, str) or solver not in SOLVERS:
            raise ValueError(f"solver must be one of {sorted(SOLVERS)}, got {solver!r}")
        if steps is not None:
            _positive(steps, "steps")
        _positive(repeats, "repeats")
        _positive(eot_iter, "eot_iter")
        if gradient not in GRADIENT_MODES:
            raise ValueError(f"gradient must be one of {GRADIENT_MODES}, got {gradient!r}")
        k = classifier.config.num_classes
        if class_names is None:
            class_names = [str(i) for i in range(k)]
        if (isinstance(class_names, str) or not isinstance(class_names, Sequence)
                or not all(isinstance(n, str) and n for n in class_names)):
            raise TypeError(f"class_names must be a list of non-empty strs, got {describe(class_names)}")
        if len(class_names) != k or len(set(class_names)) != k:
            raise ValueError(f"class_names must hold {k} distinct names (the classifier's classes), "
                             f"got {list(class_names)}")
        self.denoiser, self.classifier, self.process = denoiser.eval(), classifier.eval(), process
        self.image_shape, self.class_names = shape, list(class_names)
        self.repeats, self.gradient, self.eot_iter = repeats, gradient, eot_iter
        if t_star is None:
            if isinstance(process, pc.DiscreteVP):
                raise ValueError(f"t_star must be given for a DiscreteVP process: its time counts steps "
                                 f"0..{process.t_max:g}, so the continuous-time default 0.1 would be step 0.1 "
                                 f"(no purification); pass a step, e.g. t_star={0.1 * process.t_max:g}")
            t_star = 0.1
        # validates t_star against the process, the gradient mode against the solver, and
        # resolves steps=None from DiffPure's dt = 1e-3
        p = self._purifier(t_star, solver, steps, grid, gradient)
        self.t_star, self.solver, self.steps, self.grid = p.t_star, p.solver, p.steps, p.grid_kind
        self.card = card if card is not None else ModelCard()

    @property
    def num_classes(self) -> int:
        return self.classifier.config.num_classes

    @property
    def device(self) -> torch.device:
        return next(self.denoiser.parameters()).device

    def purifier(self, *, t_star: float | None = None, solver: str | None = None, steps: int | None = None,
                 grid: str | None = None, gradient: str | None = None) -> Purifier:
        """A :class:`Purifier` with this pipeline's settings; each argument overrides one."""
        return self._purifier(self.t_star if t_star is None else t_star, self.solver if solver is None else solver,
                              self.steps if steps is None else steps, self.grid if grid is None else grid,
                              self.gradient if gradient is None else gradient)

    def _purifier(self, t_star: float, solver: str, steps: int | None, grid: str, gradient: str) -> Purifier:
        return Purifier(self.denoiser, self.process, t_star=t_star, solver=solver, steps=steps, grid=grid,
                        prediction=self.denoiser.config.prediction, gradient=gradient,
                        image_shape=self.image_shape)

    def purified_classifier(self, *, gradient: str | None = None, repeats: int | None = None) -> PurifiedClassifier:
        """``classifier(purifier(x))`` as one module, what an adaptive attack should attack
        (with ``eot_iter=self.eot_iter`` draws per step)."""
        return PurifiedClassifier(self.purifier(gradient=gradient), self.classifier,
                                  repeats=self.repeats if repeats is None else repeats)

    @torch.no_grad()
    def __call__(self, x: Tensor, *, seed: int | Sequence[int] = 0, repeats: int | None = None,
                 steps: int | None = None, solver: str | None = None, t_star: float | None = None
                 ) -> PurificationOutput:
        """Purify ``x`` (``[B, C, H, W]`` in [0, 1]) ``repeats`` times and classify each draw.

        ``seed``: an int seeds sample ``i`` with ``mix(seed, i)``; a sequence gives each sample
        its own seed, so a sample's result does not depend on the batch it is in (the
        sample-``i`` seeds of an int seed reproduce ``pipe(x, seed=s)`` batch by batch).
        Repeat ``r`` of a sample with seed ``s`` draws with ``mix(s, r)``. Unset arguments use
        the pipeline's defaults.
        """
        repeats = self.repeats if repeats is None else _positive(repeats, "repeats")
        if not isinstance(x, Tensor) or x.ndim != 4:
            raise ValueError(f"x must be an image batch [B, C, H, W], got {describe(x)}")
        b = x.shape[0]
        if isinstance(seed, int) and not isinstance(seed, bool):
            seeds = [_mix(check_int(seed, "seed", low=0), i) for i in range(b)]
        elif isinstance(seed, Sequence) and not isinstance(seed, (str, bytes)):
            seeds = [check_int(s, f"seed[{i}]", low=0) for i, s in enumerate(seed)]
            if len(seeds) != b:
                raise ValueError(f"seed holds {len(seeds)} seeds for a batch of {b}")
        else:
            raise TypeError(f"seed must be an int or a sequence of ints, got {describe(seed)}")
        purifier = self.purifier(t_star=t_star, solver=solver, steps=steps, gradient="none")
        x = x.to(self.device)
        xr = x.repeat(repeats, 1, 1, 1)
        draws = [_mix(s, r) for r in range(repeats) for s in seeds]
        purified = purifier.purify(xr, "none", seeds=draws)
        logits = self.classifier(purified)
        return PurificationOutput(purified.reshape(repeats, *x.shape), logits.reshape(repeats, b, -1))

    # --- the pipeline format ----------------------------------------------------------------
    def components(self) -> dict[str, Component]:
        settings = {"prediction": self.denoiser.config.prediction, "model_range": MODEL_RANGE,
                    "image_shape": list(self.image_shape), "t_star": self.t_star, "solver": self.solver,
                    "steps": self.steps, "grid": self.grid, "repeats": self.repeats,
                    "gradient": self.gradient, "eot_iter": self.eot_iter, "class_names": self.class_names}
        return {"denoiser": network_component(self.denoiser), "classifier": network_component(self.classifier),
                "process": Component(self.process.config()), "purifier": Component(settings)}

    @classmethod
    def from_components(cls, components: dict[str, Component], device: str | torch.device
                        ) -> PurificationPipeline:
        s = components["purifier"].config
        keys = {"prediction", "model_range", "image_shape", "t_star", "solver", "steps", "grid", "repeats",
                "gradient", "eot_iter", "class_names"}
        missing, unknown = sorted(keys - set(s)), sorted(set(s) - keys)
        if missing or unknown:
            raise PipelineError(f"purifier/config.json: missing keys {missing}, unknown keys {unknown}")
        if s["model_range"] != MODEL_RANGE:
            raise PipelineError(f"purifier/config.json: model_range {s['model_range']!r} is not {MODEL_RANGE} "
                                "(the only scaling this polydiff applies)")
        denoiser = _net_from(components["denoiser"], "denoiser", UNet, device)
        if s["prediction"] != denoiser.config.prediction:
            raise PipelineError(f"purifier/config.json: prediction {s['prediction']!r} differs from the "
                                f"denoiser's {denoiser.config.prediction!r} (denoiser/config.json)")
        classifier = _net_from(components["classifier"], "classifier", Classifier, device)
        try:
            process = pc.process_from_config(components["process"].config)
        except (TypeError, ValueError, KeyError) as err:
            raise PipelineError(f"process/config.json: {err}") from None
        try:
            return cls(denoiser, classifier, process, image_shape=s["image_shape"], t_star=s["t_star"],
                       solver=s["solver"], steps=s["steps"], grid=s["grid"], repeats=s["repeats"],
                       gradient=s["gradient"], eot_iter=s["eot_iter"], class_names=s["class_names"])
        except (TypeError, ValueError) as err:
            raise PipelineError(f"purifier/config.json: {err}") from None

    @classmethod
    def from_run(cls, diffusion_dir: str | os.PathLike, classifier_dir: str | os.PathLike, *,
                 device: str | torch.device = "cpu", **settings: Any) -> PurificationPipeline:
        """The pipeline of two ``python -m polydiff.robustness.train`` outputs: ``diffusion``'s
        ``--out`` and ``classifier``'s (or ``adversarial``'s) ``--out``.

        The process comes from the diffusion run's checkpoint (``<diffusion_dir>/run``) when
        it is there, else it is ``pc.VP()`` (what the training script uses). ``settings`` are
        the constructor's keyword arguments (``t_star``, ``steps``, ...).
        """
        from . import nets

        loaded = []
        for folder, want in ((diffusion_dir, UNet), (classifier_dir, Classifier)):
            net = nets.load(folder, device=device)
            if not isinstance(net, want):  # a file-content error, not a wrong argument type
                raise ValueError(f"{pathlib.Path(folder) / 'config.json'}: holds a {type(net).__name__}, "  # noqa: TRY004
                                 f"expected a {want.__name__} here")
            loaded.append(net.eval())
        process = settings.pop("process", None)
        run = pathlib.Path(diffusion_dir) / "run"
        if process is None and run.is_dir():
            from polydiff.core.training.checkpoint import load_checkpoint

            extra = load_checkpoint(run, weights_only=True).extra
            if isinstance(extra, dict) and "process" in extra:
                process = pc.process_from_config(extra["process"])
        return cls(loaded[0], loaded[1], process, **settings)

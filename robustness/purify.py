"""Diffusion purification (DiffPure, Nie et al. 2022) as differentiable modules.

:class:`Purifier` maps images in [0, 1] to purified images in (about) [0, 1]:

1. scale to the model's range, ``x0 = 2 x - 1``;
2. diffuse to ``t*`` with the VP process, ``x_t* = alpha(t*) x0 + sigma(t*) eps``
   (DiffPure eq. 4);
3. solve the reverse SDE/ODE from ``t*`` back to clean data with any core solver
   (:func:`polydiff.core.sample` on a partial grid; DiffPure eq. 5 is Euler–Maruyama with
   ``dt = 1e-3``, the default here);
4. scale back, ``(x0_hat + 1) / 2``.

Every draw's randomness (the forward ``eps`` and each solver step's noise) comes from
generators seeded per sample and per step, so a draw can be recomputed exactly; that is what
the ``"checkpoint"`` and ``"adjoint"`` gradient modes of :mod:`.gradients` need.
:class:`PurifiedClassifier` chains purifier and classifier into one ``nn.Module`` (logits
averaged over ``repeats`` purifications) that attack libraries take unchanged.
:func:`tweedie_purifier` is the one-step baseline: Gaussian noise, then a single denoising
step to the Tweedie estimate ``E[x0 | x_t*]``.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import polydiff.core as pc
import torch
from polydiff.core.grids import Grid, make_grid
from polydiff.core.validate import check_int, check_number, check_shape, describe
from polydiff.vision._common import check_t_star
from torch import Tensor, nn

from .gradients import GRADIENT_MODES, bpda, run_chain

__all__ = ["ONE_STEP_SOLVERS", "PurifiedClassifier", "Purifier", "check_images", "tweedie_purifier"]

# Solvers whose step k depends only on x_k (no multistep history): a solve is then the
# composition of 2-point-grid solves, which "checkpoint" and "adjoint" modes need.
ONE_STEP_SOLVERS = ("ddpm", "ddim", "euler", "heun", "euler_maruyama", "predictor_corrector")

_MASK64 = (1 << 64) - 1
#: Most solver steps a default ``steps`` (from ``dt``) may give: DiffPure's dt = 1e-3 gives 100.
MAX_STEPS = 1_000_000


def _mix(*values: int) -> int:
    """SplitMix64 hash of a tuple of ints (Steele et al. 2014): independent seeds per key."""
    h = 0x9E3779B97F4A7C15
    for v in values:
        h = (h ^ (int(v) & _MASK64)) & _MASK64
        h = (h + 0x9E3779B97F4A7C15) & _MASK64
        z = h
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        h = z ^ (z >> 31)
    return h & ((1 << 63) - 1)


def check_images(x: Any, shape: Sequence[int] | None = None, *, name: str = "x") -> Tensor:
    """Validate a batch of images ``[B, C, H, W]`` with finite values in [0, 1].

    Raises:
        TypeError: not a floating-point tensor.
        ValueError: wrong rank or shape, empty batch, NaN/inf, or values outside [0, 1].
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not torch.is_floating_point(x):
        raise TypeError(f"{name} must be a floating-point tensor in [0, 1], got dtype {x.dtype}")
    if x.ndim != 4 or x.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty image batch [B, C, H, W], got shape {tuple(x.shape)}")
    if shape is not None and tuple(x.shape[1:]) != tuple(shape):
        raise ValueError(f"{name} must have per-image shape {tuple(shape)}, got {tuple(x.shape[1:])}")
    xd = x.detach()
    if not torch.isfinite(xd).all():
        raise ValueError(f"{name} contains NaN or inf")
    lo, hi = float(xd.min()), float(xd.max())
    if lo < -1e-6 or hi > 1 + 1e-6:
        raise ValueError(f"{name} must lie in [0, 1] (unnormalised images), got [{lo:.4g}, {hi:.4g}]")
    return x


class _Noise:
    """Per-sample, per-step seeded Gaussian noise: ``noise(like, step)`` for :func:`pc.sample`.

    Sample ``i`` at global step ``offset + step`` draws from a generator seeded by
    ``(seed_i, step)``; repeated calls within one step continue that generator, so a step
    recomputed with a fresh ``_Noise`` reproduces its draws exactly. The generators are CPU
    generators whatever the device (one batched copy per call): draws are the same on every
    device, and a CUDA batch costs no per-sample kernel launches or device generators.
    """

    def __init__(self, seeds: Sequence[int], offset: int = 0):
        self.seeds, self.offset, self.gens = list(seeds), offset, {}

    def __call__(self, like: Tensor, step: int) -> Tensor:
        k = self.offset + int(step)
        if k not in self.gens:
            self.gens[k] = [torch.Generator().manual_seed(_mix(s, k)) for s in self.seeds]
        if like.shape[0] != len(self.seeds):
            raise ValueError(f"noise asked for batch {like.shape[0]} but {len(self.seeds)} seeds are set")
        z = torch.stack([torch.randn(like.shape[1:], generator=g, dtype=like.dtype) for g in self.gens[k]])
        return z.to(like.device, non_blocking=True)


def _partial_grid(process: pc.GaussianProcess, steps: int, kind: str, t_star: float) -> Grid:
    """``steps`` noisy points from ``t*`` down to ``t_min`` then the clean point; a single step
    goes from ``t*`` straight to clean data (``make_grid`` would pin its only noisy point to
    ``t_end`` in that case)."""
    if steps > 1:
        return make_grid(process, steps, kind, t_start=t_star, final="zero")
    t = torch.tensor([t_star, t_star], dtype=torch.float64)
    a, s = process.alpha(t[:1]).double(), process.sigma(t[:1]).double()
    return Grid(t=t, alpha=torch.cat([a, torch.ones(1, dtype=torch.float64)]),
                sigma=torch.cat([s, torch.zeros(1, dtype=torch.float64)]))


class Purifier(nn.Module):
    """DiffPure: diffuse to ``t*`` and solve back (see the module docstring).

    Args:
        net: denoiser ``net(x, t) -> prediction`` trained on images scaled to [-1, 1]
            with ``process``.
        process: a VP-family process (default ``pc.VP()``, beta 0.1..20 as in DiffPure).
        t_star: diffusion time ``t*`` on ``process``'s own time scale (DiffPure: 0.1 on CIFAR-10,
            0.15 on ImageNet, with ``pc.VP()``). A ``DiscreteVP`` counts steps ``0..T-1``: pass
            the step (e.g. 100 of 1000), a ``t_star`` <= 1 there is refused.
        solver: any name in ``pc.SOLVERS`` (default Euler–Maruyama, the paper's solver).
        steps: solver steps; default ``ceil((t* - t_min) / dt) + 1`` (the last step goes
            to clean data).
        dt: step size used for the default ``steps`` (DiffPure: 1e-3).
        grid: time-grid kind for :func:`make_grid` (default uniform in ``t``).
        prediction: what ``net`` predicts ("eps", "x0", "v", ...).
        gradient: one of :data:`GRADIENT_MODES` (how attacks differentiate the purifier).
        image_shape: expected ``(C, H, W)``; checked on every call when given.
        seed: base seed; draw ``c`` of sample ``i`` uses seeds mixed from (seed, c, i).
        solver_options: extra keyword arguments for :func:`pc.sample`.
    """

    def __init__(self, net: nn.Module, process: pc.GaussianProcess | None = None, *, t_star: float = 0.1,
                 solver: str = "euler_maruyama", steps: int | None = None, dt: float = 1e-3,
                 grid: str = "uniform_t", prediction: str = "eps", gradient: str = "full",
                 image_shape: Sequence[int] | None = None, seed: int = 0,
                 solver_options: dict | None = None):
        super().__init__()
        if not isinstance(net, nn.Module):
            raise TypeError(f"net must be an nn.Module, got {type(net).__name__}")
        self.net = net
        self.process = process if process is not None else pc.VP()
        if not isinstance(self.process, pc.GaussianProcess):
            raise TypeError(f"process must be a polydiff.core GaussianProcess, got {type(self.process).__name__}")
        t_min = self.process.t_min
        t_star = check_t_star(self.process, t_star)
        known = getattr(pc, "SOLVERS", None)
        if known is not None and solver not in known:
            raise ValueError(f"unknown solver {solver!r}; expected one of {tuple(known)}")
        if gradient not in GRADIENT_MODES:
            raise ValueError(f"unknown gradient mode {gradient!r}; expected one of {GRADIENT_MODES}")
        if gradient in ("checkpoint", "adjoint") and solver not in ONE_STEP_SOLVERS:
            raise ValueError(f"gradient={gradient!r} recomputes single steps and needs a one-step solver "
                             f"{ONE_STEP_SOLVERS}, got {solver!r}")
        dt = check_number(dt, "dt", low=0.0, low_open=True)
        if steps is None:
            steps = math.ceil((t_star - t_min) / dt - 1e-9) + 1
            if steps > MAX_STEPS:
                raise ValueError(f"dt={dt:g} gives {steps} solver steps from t*={t_star:g} (more than "
                                 f"{MAX_STEPS}); pass a larger dt or steps=")
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps must be an int >= 1, got {steps!r}")
        if prediction not in pc.PREDICTIONS:
            raise ValueError(f"prediction must be one of {tuple(pc.PREDICTIONS)}, got {describe(prediction)}")
        if image_shape is not None:
            image_shape = check_shape(image_shape, "image_shape")
            if len(image_shape) != 3:
                raise ValueError(f"image_shape must be (C, H, W), got {image_shape}")
        if solver_options is not None and not isinstance(solver_options, Mapping):
            raise TypeError(f"solver_options must be a dict of pc.sample options, got {describe(solver_options)}")
        self.t_star, self.solver, self.steps, self.grid_kind = float(t_star), solver, steps, grid
        self.prediction, self.gradient = prediction, gradient
        self.image_shape = image_shape
        self.seed, self.solver_options = check_int(seed, "seed"), dict(solver_options or {})
        self._draw, self._calls = 0, 0
        self.last_nfe: int | None = None
        self.grid: Grid = _partial_grid(self.process, steps, grid, self.t_star)

    @property
    def nfe(self) -> int:
        """Network evaluations of the last purification's forward pass (counted; before the
        first call, the number of solver steps). Heun, the predictor-corrector and RK45 spend
        more than one evaluation per step."""
        return self.last_nfe if self.last_nfe is not None else self.steps

    def reseed(self, seed: int | None = None) -> None:
        """Restart the draw counter (and optionally the base seed): draws repeat exactly."""
        if seed is not None:
            self.seed = check_int(seed, "seed")
        self._draw = 0

    def _seeds(self, batch: int) -> list[int]:
        c, self._draw = self._draw, self._draw + 1
        return [_mix(self.seed, c, i) for i in range(batch)]

    def _model(self, x: Tensor, t: Tensor, **cond: Any) -> Tensor:
        self._calls += 1
        return self.net(x, t, **cond)

    def _sample(self, x: Tensor, grid: Grid, noise: _Noise) -> Tensor:
        return pc.sample(self._model, self.process, x, steps=grid.steps, solver=self.solver,
                         prediction=self.prediction, grid=grid, noise=noise, differentiable=True,
                         **self.solver_options)

    def _solve(self, x_t: Tensor, seeds: list[int], mode: str) -> Tensor:
        g = self.grid
        if mode in ("full", "none"):  # one call on the whole grid (multistep solvers keep history)
            with torch.set_grad_enabled(mode == "full" and torch.is_grad_enabled()):
                return self._sample(x_t, g, _Noise(seeds))

        def step(x: Tensor, k: int) -> Tensor:
            sub = Grid(t=g.t[k:k + 2], alpha=g.alpha[k:k + 2], sigma=g.sigma[k:k + 2])
            return self._sample(x, sub, _Noise(seeds, offset=k))

        return run_chain(step, x_t, g.steps, mode, params=list(self.net.parameters()))

    def purify(self, x: Tensor, gradient: str | None = None, *, seeds: Sequence[int] | None = None) -> Tensor:
        """Purify ``x`` (``[B, C, H, W]`` in [0, 1], the dtype of the denoiser's weights) with the
        given gradient mode (default: own).

        ``seeds`` gives each sample its own seed (non-negative ints, one per sample): its draw
        then depends on that seed alone, not on its batch or the draw counter (which it leaves
        unchanged). Default: seeds mixed from (base seed, draw counter, position in the batch).
        """
        mode = gradient or self.gradient
        if mode not in GRADIENT_MODES:
            raise ValueError(f"unknown gradient mode {mode!r}; expected one of {GRADIENT_MODES}")
        check_images(x, self.image_shape)
        dtype = next((p.dtype for p in self.net.parameters() if p.is_floating_point()), x.dtype)
        if x.dtype != dtype:
            raise TypeError(f"x must have the dtype of the denoiser's weights ({dtype}), got {x.dtype}")
        if seeds is None:
            seeds = self._seeds(x.shape[0])
        else:
            if isinstance(seeds, (str, bytes, Tensor)) or not isinstance(seeds, Sequence):
                raise TypeError(f"seeds must be a sequence of ints, got {describe(seeds)}")
            seeds = [check_int(s, f"seeds[{i}]", low=0) for i, s in enumerate(seeds)]
            if len(seeds) != x.shape[0]:
                raise ValueError(f"seeds holds {len(seeds)} seeds for a batch of {x.shape[0]}")
        self._calls = 0
        if mode == "bpda":  # identity backward over the whole purifier (noising included)
            out = bpda(lambda z: self._purify(z, seeds, "none"), x)
        else:
            out = self._purify(x, seeds, mode)
        self.last_nfe = self._calls
        return out

    def _purify(self, x: Tensor, seeds: list[int], mode: str) -> Tensor:
        x0 = 2.0 * x - 1.0
        eps = _Noise(seeds, offset=-1)(x0, 0)  # the forward-diffusion draw
        t = torch.full((x0.shape[0],), self.t_star, dtype=torch.float64, device=x0.device)
        x_t = self.process.marginal(x0, t, eps)
        return (self._solve(x_t, seeds, mode) + 1.0) / 2.0

    def forward(self, x: Tensor) -> Tensor:
        return self.purify(x)


class PurifiedClassifier(nn.Module):
    """``classifier(purifier(x))`` as one module: what an attack library should attack.

    Args:
        purifier: a :class:`Purifier` (or any module mapping [0, 1] images to images).
        classifier: logits ``[B, K]`` from images in [0, 1].
        repeats: purify each input ``repeats`` times and average the logits (DiffPure's
            optional repetition); one forward is still one random draw for EOT purposes.
    """

    def __init__(self, purifier: nn.Module, classifier: nn.Module, repeats: int = 1):
        super().__init__()
        if not isinstance(purifier, nn.Module) or not isinstance(classifier, nn.Module):
            raise TypeError("purifier and classifier must be nn.Modules")
        if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
            raise ValueError(f"repeats must be an int >= 1, got {repeats!r}")
        self.purifier, self.classifier, self.repeats = purifier, classifier, repeats

    def forward(self, x: Tensor) -> Tensor:
        check_images(x)
        b = x.shape[0]
        xr = x.repeat(self.repeats, *([1] * (x.ndim - 1))) if self.repeats > 1 else x
        logits = self.classifier(self.purifier(xr))
        return logits.reshape(self.repeats, b, *logits.shape[1:]).mean(0)


def tweedie_purifier(net: nn.Module, process: pc.GaussianProcess | None = None, *, t_star: float = 0.1,
                     prediction: str = "eps", **kwargs: Any) -> Purifier:
    """Baseline: Gaussian noise to ``t*`` then one denoising step to the Tweedie estimate.

    A one-step DDIM solve from ``t*`` to clean data returns ``x0_hat(x_t*, t*)``, the posterior
    mean ``E[x0 | x_t*]`` (Tweedie's formula; Efron 2011) of the same diffusion model.
    """
    return Purifier(net, process, t_star=t_star, solver="ddim", steps=1, prediction=prediction, **kwargs)

"""Small helpers shared by the vision task modules (not public API)."""
from __future__ import annotations

import torch
from polydiff.core.validate import check_choice, check_number, check_shape
from polydiff.core.validate import check_generator as _check_generator
from torch import Tensor

PROCESS = {"class": "DiscreteVP", "schedule": "linear", "T": 1000, "beta_start": 1e-4, "beta_end": 0.02}


def default_process():
    """DDPM's process: linear betas 1e-4..0.02 over T=1000 steps (Ho et al. 2020, sec. 4)."""
    import polydiff.core as pc
    return pc.DiscreteVP.from_schedule(PROCESS["schedule"], PROCESS["T"], beta_start=PROCESS["beta_start"],
                                       beta_end=PROCESS["beta_end"])


def check_generator(generator) -> None:
    _check_generator(generator, "generator")


def check_process(process, name: str = "process"):
    """``process`` if it is a polydiff.core GaussianProcess (DiscreteVP, VP, VE, ...)."""
    from polydiff.core.process import GaussianProcess
    if not isinstance(process, GaussianProcess):
        raise TypeError(f"{name} must be a polydiff.core GaussianProcess (e.g. default_process()), "
                        f"got {type(process).__name__}")
    return process


def check_t_star(process, t_star, name: str = "t_star") -> float:
    """``t_star`` as a float time on ``process``'s own scale, within ``[t_min, t_max]``.

    A :class:`~polydiff.core.DiscreteVP` counts time in steps ``0..T-1``: a ``t_star`` <= 1
    there is (nearly) no noise at all and almost always a fraction of the trajectory given by
    mistake, so it is refused, naming the step it would have to be (``fraction * (T - 1)``).
    """
    import polydiff.core as pc
    t = check_number(t_star, name)
    t_min, t_max = float(process.t_min), float(process.t_max)
    if isinstance(process, pc.DiscreteVP) and t <= 1.0 < t_max:
        raise ValueError(f"{name} is a time on the process's own scale, and DiscreteVP counts steps "
                         f"{t_min:g}..{t_max:g}: {name}={t:g} is step {t:g}, next to no noise. For a "
                         f"fraction of the trajectory pass the step, e.g. {t:g} * {t_max:g} = {t * t_max:g}")
    if not t_min <= t <= t_max:
        raise ValueError(f"{name} must lie in the process's time range [t_min, t_max] = "
                         f"[{t_min:g}, {t_max:g}], got {t:g}")
    return t


def check_flag(value, name: str) -> bool:
    """``value`` if it is a bool (``clip``, ``consistent``, ...): a string such as ``"no"`` is not."""
    return check_choice(value, name, (True, False))


def check_image_shape(net, shape, name: str) -> tuple[int, int, int]:
    """``(C, H, W)`` images ``net`` can take: its channels, sides divisible by its down-sampling."""
    shape = check_shape(shape, name)
    if len(shape) != 3:
        raise ValueError(f"{name} must be (C, H, W), got {shape}")
    c = getattr(net, "config", None)
    if c is not None and hasattr(c, "mults") and hasattr(c, "in_channels"):
        if shape[0] != c.in_channels:
            raise ValueError(f"{name} must have {c.in_channels} channel(s) (the net's in_channels), got {shape}")
        f = 2 ** (len(c.mults) - 1)
        if shape[1] % f or shape[2] % f:
            raise ValueError(f"{name}: H and W must be divisible by {f} (the net's {len(c.mults)} levels), "
                             f"got {shape}")
    return shape


def check_mask(mask: Tensor, like: Tensor, name: str = "mask") -> Tensor:
    """A 0/1 float mask ``[N or 1, 1 or C, H, W]`` that broadcasts to ``like``."""
    if not isinstance(mask, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(mask).__name__}")
    if mask.ndim != 4:
        raise ValueError(f"{name} must have shape [N, 1, H, W], got {tuple(mask.shape)}")
    try:
        fits = torch.broadcast_shapes(mask.shape, like.shape) == like.shape
    except RuntimeError:
        fits = False
    if not fits:
        raise ValueError(f"{name} {tuple(mask.shape)} does not broadcast to images {tuple(like.shape)}")
    if not ((mask == 0) | (mask == 1)).all():
        raise ValueError(f"{name} must contain only 0 and 1")
    return mask.to(like.dtype)


def check_inpaint_inputs(net, images: Tensor, mask: Tensor) -> Tensor:
    """Check ``[N, C, H, W]`` images in [0, 1] the net can take and their 0/1 ``mask`` (1 =
    known) with at least one pixel to fill per image; returns the mask as a float tensor."""
    from .data import check_images
    check_images(images)
    check_image_shape(net, images.shape[1:], "images' (C, H, W)")
    m = check_mask(mask, images)
    if (m.flatten(1).sum(1) == m[0].numel()).any():
        raise ValueError("a mask marks every pixel as known: nothing to inpaint")
    return m


def sample_kwargs(steps: int, solver: str, generator, extra: dict) -> dict:
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if not isinstance(solver, str):
        raise TypeError(f"solver must be a solver name, got {type(solver).__name__}")
    check_generator(generator)
    return {"steps": steps, "solver": solver, "generator": generator, **extra}


def randn_like(x: Tensor, generator=None) -> Tensor:
    """Standard normal noise shaped like ``x`` from one generator or a list (one per sample)."""
    if isinstance(generator, (list, tuple)):
        if len(generator) != x.shape[0]:
            raise ValueError(f"got {len(generator)} generators for a batch of {x.shape[0]}")
        return torch.stack([torch.randn(x.shape[1:], generator=g, device=g.device, dtype=x.dtype)
                            for g in generator]).to(x.device)
    dev = generator.device if generator is not None else x.device
    return torch.randn(x.shape, generator=generator, device=dev, dtype=x.dtype).to(x.device)


def prior(process, shape, generator=None, device=None) -> Tensor:
    """``x_T`` from the process's prior; ``generator`` may be a list (one per sample), so a
    sample's start noise does not depend on the batch it is drawn in."""
    if isinstance(generator, (list, tuple)):
        return process.prior_std() * randn_like(torch.empty(tuple(shape), device=device), generator)
    return process.prior_sample(tuple(shape), generator=generator, device=device)


def net_prediction(net, prediction: str | None) -> str:
    """What ``net``'s output means: ``prediction`` when given, else the ``prediction`` recorded
    in the network's config (a :class:`~polydiff.vision.nets.UNet` saves it with its weights)."""
    from .nets import UNET_PREDICTIONS
    if prediction is None:
        prediction = getattr(getattr(net, "config", None), "prediction", None)
        if prediction is None:
            raise TypeError(f"prediction=None needs a net whose config records its prediction (a polydiff "
                            f"UNet); {type(net).__name__} has none: pass prediction= one of {UNET_PREDICTIONS}")
    if prediction not in UNET_PREDICTIONS:
        raise ValueError(f"prediction must be one of {UNET_PREDICTIONS}, got {prediction!r}")
    return prediction

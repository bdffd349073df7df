"""Networks: the MNIST classifier and the diffusion denoiser, both from polydiff.vision.

Sibling import (the one docs/design.md allows for robustness): the U-Net denoiser and the small
CNN classifier live in :mod:`polydiff.vision.nets`; this module only fixes the sizes used
here and the time convention of the continuous VP process.
"""
from __future__ import annotations

import pathlib

# Allowed sibling import: robustness reuses polydiff.vision's networks (docs/design.md, Layout).
from polydiff.core.validate import check_int
from polydiff.vision.nets import Classifier, ClassifierConfig, UNet, UNetConfig, load_net, save_net
from torch import nn

__all__ = ["Classifier", "ClassifierConfig", "UNet", "UNetConfig", "classifier", "denoiser", "load_net", "save_net"]


def classifier(width: int = 16, in_channels: int = 1, num_classes: int = 10) -> Classifier:
    """Small CNN (three conv blocks with GroupNorm, global pooling, linear head) on [0, 1]
    images; the same architecture serves the undefended and the PGD-trained baselines."""
    width, in_channels = check_int(width, "width"), check_int(in_channels, "in_channels", low=1)
    num_classes = check_int(num_classes, "num_classes", low=2)
    if width < 8 or width % 8:
        raise ValueError(f"width must be a positive multiple of 8 (GroupNorm groups), got {width}")
    return Classifier(ClassifierConfig(in_channels=in_channels, num_classes=num_classes, width=width))


def denoiser(base: int = 16, mults: tuple[int, ...] = (1, 2), num_res_blocks: int = 1,
             attention_levels: tuple[int, ...] = (), in_channels: int = 1) -> UNet:
    """Unconditional U-Net ``net(x, t) -> eps`` for [-1, 1] images of 28x28.

    ``time_scale=1000`` embeds the continuous VP time ``t in [1e-3, 1]`` like DDPM's
    integer steps (Song et al. 2021 use the same ``999 t`` scaling).
    """
    base, num_res_blocks = check_int(base, "base", low=1), check_int(num_res_blocks, "num_res_blocks", low=1)
    in_channels = check_int(in_channels, "in_channels", low=1)
    mults = tuple(check_int(m, f"mults[{i}]", low=1) for i, m in enumerate(mults))
    if not mults:
        raise ValueError("mults must hold at least one level multiplier, got ()")
    if 28 % (2 ** (len(mults) - 1)):
        raise ValueError(f"mults {mults} downsample 28x28 to a non-integer size")
    return UNet(UNetConfig(in_channels=in_channels, base=base, mults=tuple(mults),
                           num_res_blocks=num_res_blocks, attention_levels=tuple(attention_levels),
                           groups=8, time_scale=1000.0))


def load(folder: str | pathlib.Path, device: str = "cpu") -> nn.Module:
    """Load a network saved with :func:`save_net` (safetensors + JSON, no unpickling)."""
    return load_net(folder, device)

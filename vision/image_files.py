"""Image files of the vision task commands: PNGs read into ``[C, H, W]`` tensors in [0, 1] and
written back as 8-bit PNGs, atomically (a crash leaves no half file under the final name).

Grayscale files (8- or 16-bit) give one channel, RGB files three; an alpha channel is
accepted only where every pixel is opaque (it is dropped). Inpainting masks are read as
**white = missing (the pixels to fill), black = known**, the convention of most inpainting
tools; :func:`read_mask` returns polydiff's ``1 = known`` mask.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from polydiff.core.atomic import atomic_file
from polydiff.core.validate import check_finite, describe
from torch import Tensor

__all__ = ["png_files", "read_image", "read_mask", "save_png"]

_GRAY16 = ("I;16", "I;16B", "I;16L", "I")


def _open(path: Path):
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        image = Image.open(path)
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise ValueError(f"{path}: not a readable image ({err})") from None
    return image


def _opaque(image, path: Path):
    """``image`` without its alpha channel, which must be fully opaque."""
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        alpha = np.asarray(image.getchannel("A"))
        if alpha.min() < 255:
            raise ValueError(f"{path}: has transparent pixels (alpha < 255); save it without "
                             "transparency")
        image = image.convert("RGB" if image.mode == "RGBA" else "L")
    return image


def read_image(path: str | os.PathLike, channels: int | None = None) -> Tensor:
    """The image at ``path`` as a float32 ``[C, H, W]`` tensor in [0, 1] (C = 1 or 3).

    ``channels`` (1 or 3): refuse an image with another number of channels, naming both.
    """
    path = Path(path)
    image = _opaque(_open(path), path)
    if image.mode == "1":
        image = image.convert("L")
    if image.mode == "L":
        array = np.asarray(image, dtype=np.float32)[None] / 255.0
    elif image.mode in _GRAY16:
        array = np.asarray(image, dtype=np.float32)[None] / 65535.0
    elif image.mode == "RGB":
        array = np.transpose(np.asarray(image, dtype=np.float32), (2, 0, 1)) / 255.0
    else:
        raise ValueError(f"{path}: image mode {image.mode!r} is not grayscale or RGB")
    kinds = {1: "grayscale (1 channel)", 3: "RGB (3 channels)"}
    if channels is not None and array.shape[0] != channels:
        raise ValueError(f"{path}: is {kinds[array.shape[0]]}, the model takes "
                         f"{kinds.get(channels, f'{channels} channels')}")
    return torch.from_numpy(np.ascontiguousarray(array)).clamp(0.0, 1.0)


def read_mask(path: str | os.PathLike) -> Tensor:
    """An inpainting mask PNG as a ``[1, H, W]`` float tensor, **1 = known, 0 = to fill**.

    In the file white (gray >= 128 of 255) marks the missing pixels, black the known ones;
    colour masks are converted to gray first.
    """
    path = Path(path)
    image = _opaque(_open(path), path)
    if image.mode in _GRAY16:
        gray = np.asarray(image, dtype=np.float32) / 65535.0
    else:
        gray = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    return torch.from_numpy((gray < 0.5).astype(np.float32))[None]


def check_unit_image(image, name: str = "image") -> Tensor:
    """``image`` if it is a finite float ``[C, H, W]`` tensor (C = 1 or 3) with values in [0, 1]
    (up to 1e-6 of rounding, which the 8-bit conversion clamps away): nothing is clipped."""
    if not isinstance(image, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {describe(image)}")
    if image.ndim != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"{name} must be [C, H, W] with C in (1, 3), got shape {tuple(image.shape)}")
    if not image.is_floating_point():
        raise TypeError(f"{name} must be a float tensor in [0, 1], got {image.dtype}")
    check_finite(image.detach(), name)
    lo, hi = float(image.min()), float(image.max())
    if lo < -1e-6 or hi > 1 + 1e-6:
        raise ValueError(f"{name} must lie in [0, 1] (a PNG cannot hold other values; scale or clamp it "
                         f"first), got values in [{lo:.4g}, {hi:.4g}]")
    return image


def save_png(image: Tensor, path: str | os.PathLike) -> None:
    """Write one ``[C, H, W]`` image in [0, 1] (C = 1 or 3) as an 8-bit PNG.

    The file is written under a temporary name in the same folder and renamed into place,
    so ``path`` is either absent or complete.
    """
    from PIL import Image

    check_unit_image(image)
    path = Path(path)
    array = (image.detach().clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
    array = array[0] if array.shape[0] == 1 else np.transpose(array, (1, 2, 0))
    with atomic_file(path, "wb") as f:
        Image.fromarray(array).save(f, format="PNG")


def png_files(folder: str | os.PathLike) -> list[Path]:
    """The ``.png`` files of ``folder`` (not its sub-folders, not hidden ones), sorted by name."""
    return sorted(p for p in Path(folder).iterdir()
                  if p.is_file() and p.suffix.lower() == ".png" and not p.name.startswith("."))

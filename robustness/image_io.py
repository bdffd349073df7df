"""Image files for ``polydiff purify``: read images into [0, 1] tensors of a model's shape,
write PNGs and CSVs so that a crash never leaves a half file under its final name.

Nothing is resized or converted between grayscale and colour: an image the model cannot take
as it is raises an error naming the file (and how to convert it).
"""
from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from polydiff.core.atomic import atomic_file
from polydiff.core.validate import check_shape
from polydiff.vision.image_files import check_unit_image
from torch import Tensor

__all__ = ["IMAGE_SUFFIXES", "list_images", "probe_image", "read_image", "write_csv", "write_png"]

#: File endings read from an input folder (any format Pillow reads may be given as a file).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
_KIND = {1: "grayscale (1 channel)", 3: "RGB (3 channels)"}
_CHANNELS = {"1": 1, "L": 1, "LA": 1, "I;16": 1, "P": 3, "RGB": 3, "RGBA": 3}


def list_images(path: str | os.PathLike) -> tuple[Path, list[Path]]:
    """``(folder, files)``: a single image file, or the images directly inside a folder (sorted
    by name). Raises ``FileNotFoundError``/``ValueError`` naming the path."""
    path = Path(path)
    if path.is_file():
        return path.parent, [path]
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such file or folder")
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"{path}: holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return path, files


def probe_image(path: Path, shape: tuple[int, int, int]) -> None:
    """Check from the header alone that ``path`` is a ``shape = (C, H, W)`` image."""
    from PIL import Image, UnidentifiedImageError

    shape = check_shape(shape, "shape")
    if len(shape) != 3 or shape[0] not in _KIND:
        raise ValueError(f"shape must be (C, H, W) with C = 1 (grayscale) or 3 (RGB), got {shape}")

    try:
        with Image.open(path) as im:
            mode, (w, h) = im.mode, im.size
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"{path}: not an image Pillow can read ({err})") from None
    c = _CHANNELS.get(mode)
    if c is None:
        raise ValueError(f"{path}: image mode {mode!r} is not supported (grayscale or RGB, 8 bit)")
    if mode == "P":  # a palette may be all grays: decide on the decoded colours
        c = shape[0]
    if c != shape[0]:
        fix = "convert('L')" if shape[0] == 1 else "convert('RGB')"
        raise ValueError(f"{path}: {_KIND[c]} image, the model takes {_KIND.get(shape[0], shape[0])} images; "
                         f"convert it first (Pillow: Image.open(f).{fix})")
    if (h, w) != tuple(shape[1:]):
        raise ValueError(f"{path}: {h}x{w} image (H x W), the model takes {shape[1]}x{shape[2]}; resize it first")


def read_image(path: Path, shape: tuple[int, int, int]) -> Tensor:
    """The image at ``path`` as a float32 ``[C, H, W]`` tensor in [0, 1] (8-bit values / 255,
    16-bit / 65535); an alpha channel must be fully opaque and is dropped."""
    from PIL import Image

    probe_image(path, shape)
    with Image.open(path) as im:
        im.load()
        if im.mode == "P":
            im = im.convert("RGBA")
            if shape[0] == 1:
                rgb = np.asarray(im)[..., :3]
                if not (rgb == rgb[..., :1]).all():
                    raise ValueError(f"{path}: palette image with colours, the model takes grayscale images")
                im = im.convert("LA")
        if im.mode == "I;16":
            array = np.asarray(im, dtype=np.float32) / 65535.0
        else:
            if im.mode == "1":
                im = im.convert("L")
            array = np.asarray(im, dtype=np.float32) / 255.0
    if array.ndim == 2:
        array = array[..., None]
    if im.mode in ("LA", "RGBA"):
        if (array[..., -1] < 1.0).any():
            raise ValueError(f"{path}: has transparent pixels; flatten it onto a background first")
        array = array[..., :-1]
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))


def write_png(image: Tensor, path: Path) -> None:
    """Write one finite ``[C, H, W]`` image in [0, 1] (C = 1 or 3) as an 8-bit PNG, atomically;
    NaN or values outside [0, 1] are refused, not clipped."""
    from PIL import Image

    check_unit_image(image)
    array = (image.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
    array = array[0] if array.shape[0] == 1 else np.transpose(array, (1, 2, 0))
    with atomic_file(path, "wb") as f:
        Image.fromarray(array).save(f, format="PNG")


def write_csv(path: Path, header: list[str], rows: Iterable[list]) -> None:
    """Write a CSV file atomically (see :func:`atomic_file`)."""
    with atomic_file(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)

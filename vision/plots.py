"""PNG figures: sample grids, side-by-side comparisons, anomaly maps, segmentation overlays."""
from __future__ import annotations

import pathlib
from collections.abc import Sequence

import numpy as np
from polydiff.core.validate import check_int
from torch import Tensor

__all__ = ["save_grid", "save_overlay", "save_side_by_side"]


def _img(x: Tensor) -> np.ndarray:
    x = x.detach().cpu().float()
    return x[0].numpy() if x.shape[0] == 1 else x.permute(1, 2, 0).clamp(0, 1).numpy()


def _figure(path, rows: int, cols: int, scale: float = 1.2):
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(rows, cols, figsize=(cols * scale, rows * scale), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    return plt, fig, axes


def save_grid(images: Tensor, path: str | pathlib.Path, *, ncol: int = 10, title: str | None = None) -> pathlib.Path:
    """A grid of ``[N, C, H, W]`` images in [0, 1]."""
    if images.ndim != 4:
        raise ValueError(f"images must be [N, C, H, W], got {tuple(images.shape)}")
    ncol = check_int(ncol, "ncol", low=1)
    n = len(images)
    rows = max(1, -(-n // ncol))
    plt, fig, axes = _figure(path, rows, min(ncol, n), 0.9)
    for i in range(n):
        axes.ravel()[i].imshow(_img(images[i]), cmap="gray", vmin=0, vmax=1)
    if title:
        fig.suptitle(title, fontsize=9)
    path = pathlib.Path(path)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return path


def save_side_by_side(columns: Sequence[tuple[str, Tensor]], path: str | pathlib.Path, *,
                      rows: int = 6, cmap: str = "gray") -> pathlib.Path:
    """One column per (name, ``[N, C, H, W]`` or ``[N, H, W]``) entry, ``rows`` examples."""
    if not columns:
        raise ValueError("need at least one column")
    rows = min(rows, *(len(c[1]) for c in columns))
    plt, fig, axes = _figure(path, rows, len(columns), 1.3)
    for j, (name, imgs) in enumerate(columns):
        axes[0, j].set_title(name, fontsize=8)
        for i in range(rows):
            im = imgs[i] if imgs.ndim == 4 else imgs[i][None]
            axes[i, j].imshow(_img(im), cmap=cmap, vmin=0, vmax=None if imgs.ndim == 3 else 1)
    path = pathlib.Path(path)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return path


def save_overlay(images: Tensor, labels: Tensor, preds: Tensor, path: str | pathlib.Path,
                 rows: int = 4) -> pathlib.Path:
    """Segmentation: image, ground truth and prediction side by side (label colours)."""
    rows = min(rows, len(images))
    plt, fig, axes = _figure(path, rows, 3, 1.6)
    for j, name in enumerate(("image", "labels", "prediction")):
        axes[0, j].set_title(name, fontsize=8)
    k = int(max(labels.max(), preds.max())) + 1
    for i in range(rows):
        axes[i, 0].imshow(_img(images[i]), cmap="gray")
        axes[i, 1].imshow(labels[i].cpu().numpy(), cmap="viridis", vmin=0, vmax=max(k - 1, 1))
        axes[i, 2].imshow(preds[i].cpu().numpy(), cmap="viridis", vmin=0, vmax=max(k - 1, 1))
    path = pathlib.Path(path)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return path

"""PNG plots of probabilistic imputations / forecasts (CSDI Fig. 4 style)."""
from __future__ import annotations

import pathlib
from collections.abc import Sequence

import numpy as np

__all__ = ["plot_imputation"]


def plot_imputation(samples: np.ndarray, observed: np.ndarray, path: str | pathlib.Path, *,
                    truth: np.ndarray | None = None, features: Sequence[int] | None = None,
                    names: Sequence[str] | None = None, title: str = "") -> pathlib.Path:
    """Plot one series: observed points, the sample median and the 5-95 % band.

    Args:
        samples: ``[S, L, K]`` draws for one series.
        observed: ``[L, K]`` values given to the model (NaN = missing).
        path: PNG file to write.
        truth: ``[L, K]`` held-out values to show as crosses (optional).
        features: feature indices to draw (default: the first up to 6).
        names: feature names for the panel titles.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples, observed = np.asarray(samples, dtype=float), np.asarray(observed, dtype=float)
    if samples.ndim != 3 or observed.shape != samples.shape[1:]:
        raise ValueError(f"samples must be [S, L, K] and observed [L, K]; got {samples.shape}, "
                         f"{observed.shape}")
    L, K = observed.shape
    feats = list(features) if features is not None else list(range(min(K, 6)))
    if any(not 0 <= k < K for k in feats) or not feats:
        raise ValueError(f"features must be indices in [0, {K}), got {feats}")
    lo, med, hi = np.quantile(samples, [0.05, 0.5, 0.95], axis=0)
    cols = min(3, len(feats))
    rows = -(-len(feats) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.6 * rows), squeeze=False)
    t = np.arange(L)
    for ax, k in zip(axes.flat, feats):
        ax.fill_between(t, lo[:, k], hi[:, k], color="tab:green", alpha=0.3, label="5-95%")
        ax.plot(t, med[:, k], color="tab:green", label="median")
        ax.plot(t, observed[:, k], "o", color="tab:blue", ms=3, label="observed")
        if truth is not None:
            ax.plot(t, truth[:, k], "x", color="tab:red", ms=4, label="held out")
        ax.set_title(names[k] if names is not None else f"feature {k}", fontsize=9)
    for ax in list(axes.flat)[len(feats):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path

"""Percentile-bootstrap intervals for segmentation mIoU over test images.

:func:`~polydiff.vision.metrics.miou` pools pixels over the whole test set (per class, IoU =
summed intersection / summed union; the classes present averaged), so a resample of the images
re-pools their per-image counts. With a baseline's predictions on the same images the paired
difference is resampled with the same images (Efron & Tibshirani 1993, ch. 13: percentile
intervals). Neighbouring slices or tiles are correlated, so the intervals treat them as more
independent than they are: read them as a lower bound on the uncertainty.
"""
from __future__ import annotations

import numpy as np
from polydiff.core.validate import check_int, check_number
from torch import Tensor

from .metrics import _labels

__all__ = ["miou_interval"]


def _counts(pred: Tensor, target: Tensor, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-image intersection and union counts ``[N, num_classes]`` (shape and class ids checked)."""
    _labels(pred, target, num_classes)
    p = pred.cpu().numpy().reshape(pred.shape[0], -1)
    t = target.cpu().numpy().reshape(target.shape[0], -1)
    k = np.arange(num_classes)[None, :, None]
    pk, tk = p[:, None, :] == k, t[:, None, :] == k
    return (pk & tk).sum(-1), (pk | tk).sum(-1)


def _miou(inter: np.ndarray, union: np.ndarray) -> np.ndarray:
    """mIoU of pooled counts; leading axes are resamples: ``[..., N, C] -> [...]``."""
    i, u = inter.sum(-2), union.sum(-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(u > 0, i / np.maximum(u, 1), np.nan)
    return np.nanmean(iou, axis=-1)


def miou_interval(pred: Tensor, target: Tensor, num_classes: int, *, baseline: Tensor | None = None,
                  n_resamples: int = 2000, level: float = 0.95, seed: int = 0) -> dict[str, float]:
    """``{"value", "ci_low", "ci_high"}``: the mIoU of ``pred`` ``[N, ...]`` against ``target``
    and its percentile-bootstrap interval over the ``N`` images; with ``baseline`` predictions also
    ``{"difference", "difference_ci_low", "difference_ci_high"}`` for ``miou(pred) -
    miou(baseline)``, both resampled with the same images."""
    num_classes = check_int(num_classes, "num_classes", low=1)
    n_resamples = check_int(n_resamples, "n_resamples", low=100)
    level = check_number(level, "level", low=0.0, high=1.0, low_open=True, high_open=True)
    seed = check_int(seed, "seed")
    if pred.ndim < 2:
        raise ValueError(f"pred must be label maps [N, ...] (one per image), got shape {tuple(pred.shape)}")
    inter, union = _counts(pred, target, num_classes)
    idx = np.random.default_rng(seed).integers(0, len(inter), size=(n_resamples, len(inter)))
    q = [100 * (1 - level) / 2, 100 * (1 + level) / 2]
    boot = _miou(inter[idx], union[idx])
    out = {"value": float(_miou(inter, union))}
    out["ci_low"], out["ci_high"] = (float(v) for v in np.nanpercentile(boot, q))
    if baseline is not None:
        if baseline.shape != pred.shape:
            raise ValueError(f"baseline must be shaped like pred {tuple(pred.shape)}, got {tuple(baseline.shape)}")
        bi, bu = _counts(baseline, target, num_classes)
        diff = boot - _miou(bi[idx], bu[idx])
        out["difference"] = out["value"] - float(_miou(bi, bu))
        out["difference_ci_low"], out["difference_ci_high"] = (float(v) for v in np.nanpercentile(diff, q))
    return out

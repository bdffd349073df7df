"""Imputation / forecasting metrics, scored on the evaluation entries only.

Shapes: ``samples [N, S, L, K]`` (``S`` draws per series), ``target [N, L, K]``,
``mask [N, L, K]`` (1/True = an entry to score). Two CRPS conventions, kept apart by name:

- :func:`quantile_crps` — the *normalised quantile loss* over the 19 levels
  ``0.05, 0.10, ..., 0.95`` that CSDI (Tashiro et al. 2021, Appendix C / eq. 19) and GluonTS
  (``mean_wQuantileLoss``) report as "CRPS":
  ``(1/19) sum_q 2 sum_i |(y_i - q_i)(1{y_i <= q_i} - q)| / sum_i |y_i|``.
- :func:`sample_crps` — the exact CRPS of the empirical sample distribution (energy form,
  Gneiting & Raftery 2007, eq. 21): ``E|X - y| - 1/2 E|X - X'|``, averaged over entries.
  For a point mass it equals the absolute error.

:func:`quantile_crps_sum` is CRPS-sum (Salinas et al. 2019): the quantile CRPS of the sum
over features. MAE and RMSE are those of the sample median (CSDI's deterministic score).
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "QUANTILES",
    "mae",
    "median",
    "quantile_crps",
    "quantile_crps_sum",
    "quantile_loss",
    "rmse",
    "sample_crps",
    "sample_quantiles",
]

QUANTILES = tuple(np.round(np.arange(1, 20) * 0.05, 2))


def _prep(samples: np.ndarray, target: np.ndarray, mask: np.ndarray):
    samples, target = np.asarray(samples, dtype=np.float64), np.asarray(target, dtype=np.float64)
    mask = np.asarray(mask).astype(bool)
    if samples.ndim != target.ndim + 1:
        raise ValueError(f"samples must be [N, S, ...] with target [N, ...]; got "
                         f"{samples.shape} and {target.shape}")
    if samples.shape[:1] + samples.shape[2:] != target.shape or mask.shape != target.shape:
        raise ValueError(f"shape mismatch: samples {samples.shape}, target {target.shape}, "
                         f"mask {mask.shape}")
    if not mask.any():
        raise ValueError("mask selects no entry to evaluate")
    if not np.isfinite(target[mask]).all():
        raise ValueError("target has NaN/inf on evaluated entries")
    return samples, target, mask


def median(samples: np.ndarray) -> np.ndarray:
    """Per-entry median over the sample axis 1: ``[N, S, ...] -> [N, ...]``."""
    return np.median(np.asarray(samples, dtype=np.float64), axis=1)


def mae(samples: np.ndarray, target: np.ndarray, mask: np.ndarray) -> float:
    """Mean absolute error of the sample median over the masked entries."""
    samples, target, mask = _prep(samples, target, mask)
    return float(np.abs(median(samples) - target)[mask].mean())


def rmse(samples: np.ndarray, target: np.ndarray, mask: np.ndarray) -> float:
    """Root mean squared error of the sample median over the masked entries."""
    samples, target, mask = _prep(samples, target, mask)
    return float(np.sqrt(((median(samples) - target)[mask] ** 2).mean()))


def quantile_loss(target: np.ndarray, forecast: np.ndarray, q: float) -> float:
    """``2 sum |(y - f)(1{y <= f} - q)|`` — GluonTS' ``quantile_loss`` (pinball loss x 2)."""
    y, f = np.asarray(target, dtype=np.float64), np.asarray(forecast, dtype=np.float64)
    return float(2.0 * np.sum(np.abs((y - f) * ((y <= f) - q))))


def sample_quantiles(samples: np.ndarray, quantiles, method: str = "linear") -> np.ndarray:
    """Quantiles over axis 1 -> ``[Q, N, ...]``. ``"linear"``: interpolated (``torch.quantile``,
    CSDI's evaluation); ``"gluonts"``: the sorted sample of rank ``round((S - 1) q)``
    (``gluonts.model.forecast.SampleForecast.quantile``)."""
    if method == "linear":
        return np.quantile(samples, quantiles, axis=1)
    if method == "gluonts":
        srt = np.sort(samples, axis=1)
        idx = [int(np.round((samples.shape[1] - 1) * q)) for q in quantiles]
        return np.moveaxis(srt[:, idx], 1, 0)
    raise ValueError(f"unknown quantile method {method!r}; expected 'linear' or 'gluonts'")


def quantile_crps(samples: np.ndarray, target: np.ndarray, mask: np.ndarray,
                  quantiles: tuple[float, ...] = QUANTILES, method: str = "linear") -> float:
    """Normalised 19-quantile loss ("CRPS" in CSDI and GluonTS' ``mean_wQuantileLoss``).

    ``method="linear"`` interpolates sample quantiles as CSDI does (``torch.quantile``);
    ``method="gluonts"`` uses GluonTS' nearest-rank sample quantile, which reproduces
    ``Evaluator``'s ``mean_wQuantileLoss`` exactly. The two differ slightly for few samples.
    """
    samples, target, mask = _prep(samples, target, mask)
    y = target[mask]
    denom = np.abs(y).sum()
    if denom == 0:
        raise ValueError("quantile CRPS is undefined when all evaluated targets are 0")
    qs = sample_quantiles(samples, quantiles, method)  # [Q, N, ...]
    return float(np.mean([quantile_loss(y, qs[i][mask], q) / denom for i, q in enumerate(quantiles)]))


def quantile_crps_sum(samples: np.ndarray, target: np.ndarray, mask: np.ndarray,
                      quantiles: tuple[float, ...] = QUANTILES, method: str = "linear") -> float:
    """CRPS-sum: :func:`quantile_crps` of the feature sums at time steps with any masked entry.

    Feature axis is the last one. Unmasked entries enter the sums with the target values
    (observed) — pass samples with observed values copied through, as CSDI does; entries
    without ground truth (NaN target) are left out of both sums.
    """
    samples, target, mask = _prep(samples, target, mask)
    valid = np.isfinite(target)  # entries with no ground truth drop out of both sums
    y = np.where(valid, target, 0.0)
    x = np.where(valid[:, None], samples, 0.0)
    return quantile_crps(x.sum(-1), y.sum(-1), mask.any(-1), quantiles, method)


def sample_crps(samples: np.ndarray, target: np.ndarray, mask: np.ndarray) -> float:
    """Exact CRPS of the empirical distribution of the samples, mean over masked entries.

    ``CRPS(F_S, y) = (1/S) sum_i |x_i - y| - 1/(2 S^2) sum_ij |x_i - x_j|`` (energy form,
    Gneiting & Raftery 2007 eq. 21); the pair sum uses sorted samples:
    ``sum_ij |x_i - x_j| = 2 sum_i (2i - S - 1) x_(i)`` with 1-based ranks ``i``.
    """
    samples, target, mask = _prep(samples, target, mask)
    x = np.moveaxis(samples, 1, -1)[mask]  # [M, S]
    y = target[mask]
    S = x.shape[1]
    term1 = np.abs(x - y[:, None]).mean(1)
    xs = np.sort(x, axis=1)
    w = 2.0 * np.arange(1, S + 1) - S - 1
    term2 = (2.0 * (xs * w).sum(1)) / (2.0 * S * S)
    return float((term1 - term2).mean())

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
from polydiff.core.validate import check_choice, check_number

__all__ = [
    "QUANTILES",
    "check_mask",
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


def _numbers(x, name: str) -> np.ndarray:
    """``x`` as a float64 array; a ``TypeError`` naming ``name`` for non-numeric input."""
    a = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers, got dtype {a.dtype}")
    return a.astype(np.float64)


def check_mask(mask, shape: tuple[int, ...], name: str = "mask") -> np.ndarray:
    """``mask`` as a boolean array of exactly ``shape`` (no broadcasting): booleans, or numbers
    that are all 0 or 1; at least one entry selected."""
    m = np.asarray(mask.detach().cpu().numpy() if hasattr(mask, "detach") else mask)
    if m.dtype != bool:
        if m.dtype.kind not in "iuf":
            raise TypeError(f"{name} must be boolean or 0/1 numbers, got dtype {m.dtype}")
        bad = ~np.isin(m, (0, 1))
        if bad.any():
            raise ValueError(f"{name} must hold only 0 and 1 (True = score the entry), got "
                             f"{m[bad].ravel()[0]!r} at index {tuple(int(i) for i in np.argwhere(bad)[0])}")
    if m.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {m.shape}")
    if not m.any():
        raise ValueError(f"{name} selects no entry to evaluate")
    return m.astype(bool)


def _prep(samples: np.ndarray, target: np.ndarray, mask: np.ndarray):
    samples, target = _numbers(samples, "samples"), _numbers(target, "target")
    if samples.ndim != target.ndim + 1 or samples.ndim < 2:
        raise ValueError(f"samples must be [N, S, ...] with target [N, ...]; got "
                         f"{samples.shape} and {target.shape}")
    if samples.shape[:1] + samples.shape[2:] != target.shape:
        raise ValueError(f"shape mismatch: samples {samples.shape}, target {target.shape}")
    if samples.shape[1] < 1:
        raise ValueError(f"samples must hold at least one draw (axis 1), got shape {samples.shape}")
    mask = check_mask(mask, target.shape)
    if not np.isfinite(target[mask]).all():
        raise ValueError("target has NaN/inf on evaluated entries")
    if not np.isfinite(np.moveaxis(samples, 1, -1)[mask]).all():
        raise ValueError("samples have NaN/inf on evaluated entries")
    return samples, target, mask


def _levels(quantiles, name: str = "quantiles", *, open_ends: bool = False, allow_empty: bool = False,
            distinct: bool = False) -> list[float]:
    """``quantiles`` as a list of floats in ``[0, 1]`` (``(0, 1)`` if ``open_ends``): non-empty
    unless ``allow_empty``, without repeats if ``distinct`` (levels that key a dict)."""
    if isinstance(quantiles, (str, bytes)) or not np.iterable(quantiles):
        raise TypeError(f"{name} must be a sequence of levels, got {type(quantiles).__name__}")
    qs = [check_number(q, f"{name}[{i}]", low=0.0, high=1.0, low_open=open_ends, high_open=open_ends)
          for i, q in enumerate(quantiles)]
    if not qs and not allow_empty:
        raise ValueError(f"{name} must hold at least one level, got none")
    if distinct and len(set(qs)) != len(qs):
        raise ValueError(f"{name} must hold distinct levels (each keys one result), got {qs}")
    return qs


def median(samples: np.ndarray) -> np.ndarray:
    """Per-entry median over the sample axis 1: ``[N, S, T, ...] -> [N, T, ...]``."""
    s = _numbers(samples, "samples")
    if s.ndim < 3 or s.shape[1] < 1:  # a [T, K] window is not [N, S]
        raise ValueError(f"samples must be [N, S, T, ...] with S >= 1, got shape {s.shape}")
    return np.median(s, axis=1)


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
    y, f = _numbers(target, "target"), _numbers(forecast, "forecast")
    q = check_number(q, "q", low=0.0, high=1.0, low_open=True, high_open=True)
    if y.shape != f.shape:
        raise ValueError(f"forecast must have the shape of target {y.shape}, got {f.shape}")
    if not (np.isfinite(y).all() and np.isfinite(f).all()):
        raise ValueError("target and forecast must be finite")
    return float(2.0 * np.sum(np.abs((y - f) * ((y <= f) - q))))


def sample_quantiles(samples: np.ndarray, quantiles, method: str = "linear") -> np.ndarray:
    """Quantiles over axis 1 -> ``[Q, N, ...]``. ``"linear"``: interpolated (``torch.quantile``,
    CSDI's evaluation); ``"gluonts"``: the sorted sample of rank ``round((S - 1) q)``
    (``gluonts.model.forecast.SampleForecast.quantile``)."""
    check_choice(method, "method", ("linear", "gluonts"))
    quantiles = _levels(quantiles)
    samples = _numbers(samples, "samples")
    if samples.ndim < 2 or samples.shape[1] < 1:
        raise ValueError(f"samples must be [N, S, ...] with S >= 1, got shape {samples.shape}")
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
    quantiles = _levels(quantiles, open_ends=True)
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

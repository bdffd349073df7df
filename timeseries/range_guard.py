"""The out-of-range guard: windows far outside the training distribution are flagged.

A diffusion imputer trained on standardised values extrapolates badly far from its training
range (on statsmodels' macrodata, test windows beyond it gave samples 10x the truth). Per
feature, with ``[lo, hi]`` the observed training range and margin ``m``, a value is out of
range outside ``[lo - m (hi - lo), hi + m (hi - lo)]``; :func:`out_of_range_windows` lists the
windows holding one and :func:`flag_windows` raises :class:`OutOfRangeError` or warns.
"""
from __future__ import annotations

import warnings

import numpy as np

__all__ = ["OUT_OF_RANGE", "OutOfRangeError", "flag_windows", "out_of_range_windows"]

OUT_OF_RANGE = ("raise", "warn", "ignore")


class OutOfRangeError(ValueError):
    """Windows (observed inputs or samples) lie far outside the training range."""


def out_of_range_windows(Z: np.ndarray, lo: np.ndarray, hi: np.ndarray, margin: float) -> np.ndarray:
    """Indices of the windows of ``Z [N, ..., K]`` (NaN ignored) with a value outside
    ``[lo - margin (hi - lo), hi + margin (hi - lo)]`` for its feature (``lo, hi [K]``)."""
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    if not margin >= 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    w = margin * (hi - lo)
    Z = np.asarray(Z, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        bad = (Z < lo - w) | (Z > hi + w)
    return np.flatnonzero(bad.reshape(len(Z), -1).any(1))


def flag_windows(bad: np.ndarray, values: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                 margin: float, what: str, action: str) -> None:
    """Raise :class:`OutOfRangeError` (``action="raise"``) or warn (``"warn"``) about windows
    ``bad`` of ``values [N, ..., K]`` (original units, as ``lo``/``hi``), naming the feature
    farthest out; nothing for ``"ignore"`` or no window."""
    if action not in OUT_OF_RANGE:
        raise ValueError(f"action must be one of {OUT_OF_RANGE}, got {action!r}")
    if not len(bad) or action == "ignore":
        return
    vals = np.asarray(values, dtype=np.float64)
    vals = vals[bad].reshape(len(bad), -1, vals.shape[-1])
    excess = np.nanmax(np.abs(vals - (lo + hi) / 2), (0, 1)) / np.maximum(hi - lo, 1e-300)
    k = int(np.nanargmax(excess))
    msg = (f"windows {bad[:10].tolist()}{' ...' if len(bad) > 10 else ''} ({len(bad)} of "
           f"{len(values)}): {what} far outside the training range (feature {k}: values "
           f"{np.nanmin(vals[..., k]):.4g} .. {np.nanmax(vals[..., k]):.4g}, training saw "
           f"{lo[k]:.4g} .. {hi[k]:.4g}, margin {margin} x range). The samples would not be "
           "trustworthy: scale each series (e.g. the forecaster's scaling='mean'), retrain on "
           "data that covers this range, or pass out_of_range='warn' / 'ignore'")
    if action == "raise":
        raise OutOfRangeError(msg)
    warnings.warn(msg, RuntimeWarning, stacklevel=3)

"""Input checks and the training data set of the CSDI imputer.

:func:`check_series` validates series ``[N, T, K]`` (NaN = missing), :func:`check_timestamps`
their observation times, and :class:`WindowDataset` serves normalised windows to the core
training loop.
"""
from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = ["MAX_TIMESTAMP", "WindowDataset", "blame", "check_series", "check_timestamps"]


def check_series(X, name: str = "X", *, allow_all_missing: bool = False) -> np.ndarray:
    """Validate a batch of series ``[N, T, K]`` (NaN = missing) and return it as float64.

    Raises ``TypeError`` for non-numeric input and ``ValueError`` for a wrong rank, empty
    axes, infinite values or (unless allowed) a series with no observed value.
    """
    if isinstance(X, dict):
        raise TypeError(f"{name} must be an array [N, T, K]; for PyPOTS' dict {{'X': ...}} call "
                        f"fit(train_set=...), impute(...) or predict(...), which unpack it")
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    X = np.asarray(X)
    if X.dtype.kind not in "fiu":
        raise TypeError(f"{name} must hold numbers (NaN for missing), got dtype {X.dtype}")
    X = X.astype(np.float64)
    if X.ndim != 3:
        raise ValueError(f"{name} must be [N, T, K] (series, time, features), got rank {X.ndim} "
                         f"with shape {X.shape}")
    if min(X.shape) < 1:
        raise ValueError(f"{name} has an empty axis: shape {X.shape}")
    if np.isinf(X).any():
        raise ValueError(f"{name} contains infinite values; use NaN for missing entries")
    empty = np.flatnonzero(~np.isfinite(X).reshape(len(X), -1).any(1))
    if len(empty) and not allow_all_missing:
        raise ValueError(f"{name}: series {empty[:10].tolist()} are entirely missing (all NaN)")
    return X


#: The largest ``|timestamp|``: float32, the embedding's dtype, holds every integer up to 2**24.
MAX_TIMESTAMP = float(2**24)


def check_timestamps(timestamps, shape: tuple[int, ...]) -> np.ndarray:
    """Validate ``timestamps [N, T]`` for series ``shape = (N, T, K)``; ``None`` -> ``0..T-1``.
    Irregular series (clinical visits) pass their observation times, e.g. in hours."""
    N, T = shape[0], shape[1]
    if timestamps is None:
        return np.tile(np.arange(T, dtype=np.float64), (N, 1))
    ts = np.asarray(timestamps.detach().cpu().numpy() if hasattr(timestamps, "detach") else timestamps)
    if ts.dtype.kind not in "iuf":
        raise TypeError(f"timestamps must hold numbers (observation times), got dtype {ts.dtype}")
    ts = ts.astype(np.float64)
    if ts.shape != (N, T):
        raise ValueError(f"timestamps must be [N, T] = [{N}, {T}], got shape {ts.shape}")
    if not np.isfinite(ts).all():
        raise ValueError("timestamps must be finite (fill padded positions with any time)")
    if np.abs(ts).max() > MAX_TIMESTAMP:
        raise ValueError(f"timestamps must lie within +-{MAX_TIMESTAMP:g} (the float32 time embedding "
                         f"resolves no finer than one unit beyond), got up to {np.abs(ts).max():.3g}; "
                         "subtract the first time or use coarser units")
    return ts


@contextlib.contextmanager
def blame(name: str):
    """Re-raise the imputer's input errors about ``X`` (``"X: ..."``, ``"X contains ..."``) as
    errors about ``name``, the caller's argument that ``X`` was built from."""
    try:
        yield
    except (ValueError, FloatingPointError) as e:
        msg = str(e)
        if type(e) in (ValueError, FloatingPointError) and msg.startswith(("X:", "X ")):
            raise type(e)(name + msg[1:]) from e
        raise


class WindowDataset(Dataset):
    """Training samples ``{"values", "observed_mask", "timestamps"}`` from ``X [N, L, K]``
    (already normalised; NaN = missing, stored as 0 with mask 0) and optional per-series
    ``timestamps [N, L]`` (default ``0..L-1``: regular series)."""

    def __init__(self, X: np.ndarray, timestamps: np.ndarray | None = None):
        obs = np.isfinite(X)
        self.values = torch.as_tensor(np.where(obs, X, 0.0), dtype=torch.float32)
        self.mask = torch.as_tensor(obs, dtype=torch.float32)
        ts = check_timestamps(timestamps, X.shape)
        self.timestamps = torch.as_tensor(ts, dtype=torch.float32)

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, i: int) -> dict:
        return {"values": self.values[i], "observed_mask": self.mask[i],
                "timestamps": self.timestamps[i]}

"""PyPOTS' data-set dicts for :class:`~polydiff.timeseries.impute.CSDIImputer`.

PyPOTS (Du et al. 2023) passes data as ``{"X": [N, T, K]}`` (NaN = missing) and validation
sets as ``{"X": ..., "X_ori": ...}``, where ``X_ori`` holds the values that ``X`` hides;
``CSDI.predict(test_set, n_sampling_times=S)`` returns ``{"imputation": [N, S, T, K]}``.
:func:`unpack_set` reads such a dict; :func:`indicating_mask` is PyPOTS' mask of the entries
to score (observed in ``X_ori``, missing in ``X``).
"""
from __future__ import annotations

import numpy as np

__all__ = ["PYPOTS_KEYS", "indicating_mask", "unpack_set"]

PYPOTS_KEYS = ("X", "X_ori")


def unpack_set(data, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """``(X, X_ori or None)`` of a PyPOTS dict ``{"X": ..., "X_ori": ...}`` (arrays or tensors).

    Raises ``TypeError`` for a path (PyPOTS' HDF5 files are not read here) or a dict without
    ``"X"``, ``ValueError`` for keys other than :data:`PYPOTS_KEYS` or mismatched shapes.
    """
    if isinstance(data, (str, bytes)) or hasattr(data, "__fspath__"):
        raise TypeError(f"{name}: file paths (PyPOTS' HDF5 sets) are not supported; pass "
                        f"{{'X': array [N, T, K]}}, got {data!r}")
    if not isinstance(data, dict):
        raise TypeError(f"{name} must be a dict {{'X': [N, T, K]}}, got {type(data).__name__}")
    if "X" not in data:
        raise TypeError(f"{name} must hold the key 'X' (series [N, T, K], NaN = missing); got "
                        f"keys {sorted(data)}")
    extra = sorted(set(data) - set(PYPOTS_KEYS))
    if extra:
        raise ValueError(f"{name}: unexpected keys {extra}; expected {list(PYPOTS_KEYS)}")
    X = _array(data["X"])
    X_ori = None if data.get("X_ori") is None else _array(data["X_ori"])
    if X_ori is not None and X_ori.shape != X.shape:
        raise ValueError(f"{name}['X_ori'] must have the shape of {name}['X'] {X.shape}, got "
                         f"{X_ori.shape}")
    return X, X_ori


def _array(v) -> np.ndarray:
    if hasattr(v, "detach"):
        v = v.detach().cpu().numpy()
    return np.asarray(v)


def indicating_mask(X: np.ndarray, X_ori: np.ndarray) -> np.ndarray:
    """Entries observed in ``X_ori`` and missing in ``X`` (PyPOTS' ``indicating_mask``)."""
    X, X_ori = np.asarray(X, dtype=np.float64), np.asarray(X_ori, dtype=np.float64)
    if X.shape != X_ori.shape:
        raise ValueError(f"X_ori must have the shape of X {X.shape}, got {X_ori.shape}")
    lost = np.isfinite(X) & ~np.isfinite(X_ori)
    if lost.any():
        raise ValueError(f"X_ori must observe every entry X observes (X is X_ori with entries hidden), "
                         f"got {int(lost.sum())} entries observed in X and missing in X_ori, first at "
                         f"index {tuple(int(i) for i in np.argwhere(lost)[0])}")
    return np.isfinite(X_ori) & ~np.isfinite(X)

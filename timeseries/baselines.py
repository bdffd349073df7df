"""Non-diffusion baselines and the PyPOTS peer, on the same ``[N, L, K]`` windows.

Imputation (point estimates, NaN = to fill): :func:`linear_interpolation` (per window and
feature, constant extrapolation at the ends), :func:`locf` (last observation carried
forward, leading gaps carried backward), :func:`mean_impute` (per-feature training mean).
A window whose feature has no observation falls back to ``fallback`` (the training mean).
Peer: :func:`pypots_csdi` trains ``pypots.imputation.CSDI`` with the same architecture,
schedule and optimizer-step budget. Forecasting: GluonTS ``SeasonalNaivePredictor`` and
statsmodels ETS (Hyndman et al. 2008) in :mod:`.forecast`.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["linear_interpolation", "locf", "mean_impute", "pypots_csdi", "pypots_csdi_model"]


def _check(X: np.ndarray, fallback) -> tuple[np.ndarray, np.ndarray]:
    from .inputs import check_series

    X = check_series(X, allow_all_missing=True)
    fb = np.asarray(fallback, dtype=np.float64)
    if fb.shape not in ((), (X.shape[2],)):
        raise ValueError(f"fallback must be one value or one per feature [K={X.shape[2]}], got shape {fb.shape}")
    fb = np.broadcast_to(fb, (X.shape[2],))
    if not np.isfinite(fb).all():
        raise ValueError("fallback values must be finite")
    return X, fb


def linear_interpolation(X: np.ndarray, fallback, times: np.ndarray | None = None) -> np.ndarray:
    """Fill NaNs by linear interpolation in time inside each window (``np.interp``).

    ``times [N, L]`` (increasing along each row) are the observation times of irregular
    series, e.g. clinical visits; default ``0..L-1``."""
    X, fb = _check(X, fallback)
    out = X.copy()
    t = np.broadcast_to(np.arange(X.shape[1], dtype=np.float64), X.shape[:2])
    if times is not None:
        t = np.asarray(times, dtype=np.float64)
        if t.shape != X.shape[:2]:
            raise ValueError(f"times must be [N, L] = {list(X.shape[:2])}, got shape {t.shape}")
        if not np.isfinite(t).all() or (np.diff(t, axis=1) <= 0).any():
            raise ValueError("times must be finite and strictly increasing along each series")
    for n in range(X.shape[0]):
        for k in range(X.shape[2]):
            y = X[n, :, k]
            obs = np.isfinite(y)
            if obs.all():
                continue
            out[n, :, k] = np.interp(t[n], t[n][obs], y[obs]) if obs.any() else fb[k]
    return out


def locf(X: np.ndarray, fallback) -> np.ndarray:
    """Last observation carried forward (then next observation backward for leading gaps)."""
    X, fb = _check(X, fallback)
    N, L, K = X.shape
    flat = pd.DataFrame(X.transpose(1, 0, 2).reshape(L, N * K))
    filled = flat.ffill().bfill().to_numpy().reshape(L, N, K).transpose(1, 0, 2)
    return np.where(np.isfinite(filled), filled, fb)


def mean_impute(X: np.ndarray, fallback) -> np.ndarray:
    """Replace every NaN of feature ``k`` by ``fallback[k]`` (the training mean)."""
    X, fb = _check(X, fallback)
    return np.where(np.isfinite(X), X, fb)


def pypots_csdi_model(n_steps: int, n_features: int, *, steps: int, n_train: int,
                      batch_size: int = 16, layers: int = 4, channels: int = 64, heads: int = 8,
                      time_emb_dim: int = 128, feature_emb_dim: int = 16,
                      diffusion_emb_dim: int = 128, lr: float = 1e-3, device: str = "cpu",
                      seed: int = 0):
    """An untrained ``pypots.imputation.CSDI`` with CSDI's configuration and the schedule of
    :func:`polydiff.timeseries.diffusion.csdi_process`, set to train for ``~steps`` optimizer
    steps: PyPOTS counts epochs, ``epochs = ceil(steps / ceil(n_train / batch_size))``."""
    try:
        from pypots.imputation import CSDI
        from pypots.optim import Adam
        from pypots.utils.random import set_random_seed
    except ModuleNotFoundError as err:  # pragma: no cover
        raise ImportError("the PyPOTS peer needs pypots (pip install pypots)") from err
    set_random_seed(seed)
    epochs = max(1, math.ceil(steps / math.ceil(n_train / batch_size)))
    return CSDI(n_steps=n_steps, n_features=n_features, n_layers=layers, n_heads=heads,
                n_channels=channels, d_time_embedding=time_emb_dim,
                d_feature_embedding=feature_emb_dim, d_diffusion_embedding=diffusion_emb_dim,
                n_diffusion_steps=50, target_strategy="random", schedule="quad",
                beta_start=1e-4, beta_end=0.5, batch_size=batch_size, epochs=epochs,
                optimizer=Adam(lr=lr, weight_decay=1e-6), device=device, verbose=False)


def pypots_csdi(X_train: np.ndarray, X_test: np.ndarray, *, n_samples: int, steps: int, **kw):
    """Train :func:`pypots_csdi_model` on ``X_train`` and draw ``n_samples`` imputations of
    ``X_test``; returns ``(model, samples [N, S, L, K])`` in the inputs' scale."""
    model = pypots_csdi_model(X_train.shape[1], X_train.shape[2], steps=steps,
                              n_train=len(X_train), **kw)
    model.fit({"X": X_train.astype(np.float32)})
    res = model.predict({"X": X_test.astype(np.float32)}, n_sampling_times=n_samples)
    s = np.asarray(res["imputation"], dtype=np.float64)
    return model, (s[:, None] if s.ndim == 3 else s)

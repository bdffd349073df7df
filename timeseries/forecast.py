"""Probabilistic forecasting with CSDI: the future is the imputation target.

CSDI forecasts by treating the ``prediction_length`` future steps of a window as missing
(Tashiro et al. 2021, Sec. 6.3 / Appendix F): training uses the ``forecast`` mask strategy
(everything observed in the context conditions, the future is the target) and sampling
imputes a window whose future is NaN. Baselines: GluonTS ``SeasonalNaivePredictor`` and a
statsmodels ETS (Hyndman et al. 2008) with simulated sample paths.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .impute import CSDIImputer, ImputerConfig, check_series

__all__ = ["CSDIForecaster", "ets_samples", "forecast_windows", "seasonal_naive"]


def forecast_windows(values: np.ndarray, context_length: int, prediction_length: int,
                     stride: int = 1) -> np.ndarray:
    """All windows ``[N, context + prediction, K]`` of ``values [T, K]`` starting every ``stride``."""
    from .data import windows
    if context_length < 1 or prediction_length < 1:
        raise ValueError("context_length and prediction_length must be >= 1")
    return windows(values, context_length + prediction_length, stride)


class CSDIForecaster:
    """CSDI trained with the forecasting mask.

    Args:
        n_features: ``K``.
        context_length, prediction_length: window = context + prediction steps.
        net: :class:`~polydiff.timeseries.nets.CSDIConfig` fields.
        **config: :class:`~polydiff.timeseries.impute.ImputerConfig` fields (``strategy`` and
            ``horizon`` are fixed to the forecasting pattern).
    """

    def __init__(self, n_features: int, context_length: int, prediction_length: int, *,
                 net: dict | None = None, progress: Callable[[str], None] | None = None, **config):
        if context_length < 1 or prediction_length < 1:
            raise ValueError("context_length and prediction_length must be >= 1")
        self.context_length, self.prediction_length = int(context_length), int(prediction_length)
        config = dict(config, strategy="forecast", horizon=self.prediction_length)
        self.imputer = CSDIImputer(n_features, net=net, config=ImputerConfig(**config),
                                   progress=progress)

    def fit(self, windows_: np.ndarray) -> CSDIForecaster:
        """Train on windows ``[N, context + prediction, K]`` (NaN = missing)."""
        W = check_series(windows_, "windows")
        if W.shape[1] != self.context_length + self.prediction_length:
            raise ValueError(f"windows must have length {self.context_length + self.prediction_length}"
                             f", got {W.shape[1]}")
        self.imputer.fit(W)
        return self

    def forecast(self, history: np.ndarray, n_samples: int = 100, **kw) -> np.ndarray:
        """Sample futures ``[N, S, prediction_length, K]`` given ``history [N, context, K]``
        (the last ``context_length`` steps are used; shorter histories are NaN-padded)."""
        H = check_series(history, "history")
        C, P = self.context_length, self.prediction_length
        H = H[:, -C:]
        if H.shape[1] < C:
            pad = np.full((H.shape[0], C - H.shape[1], H.shape[2]), np.nan)
            H = np.concatenate([pad, H], axis=1)
        X = np.concatenate([H, np.full((H.shape[0], P, H.shape[2]), np.nan)], axis=1)
        return self.imputer.impute(X, n_samples, **kw)[:, :, C:]


def seasonal_naive(history: np.ndarray, prediction_length: int, season_length: int) -> np.ndarray:
    """Repeat the last season: ``y_hat[T + h] = y[T + h - m * ceil(h / m)]``. ``history [N, T, K]``."""
    H = np.asarray(history, dtype=np.float64)
    if H.shape[1] < season_length:
        raise ValueError(f"history ({H.shape[1]}) shorter than the season ({season_length})")
    idx = H.shape[1] - season_length + (np.arange(prediction_length) % season_length)
    return H[:, idx]


def ets_samples(history: np.ndarray, prediction_length: int, season_length: int,
                n_samples: int = 100, seed: int = 0) -> np.ndarray:
    """Additive-error ETS(A,N,A) fitted per series by statsmodels; ``n_samples`` simulated
    future paths ``[N, S, prediction_length, K]`` for ``history [N, T, K]`` (no NaN)."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    H = np.asarray(history, dtype=np.float64)
    if not np.isfinite(H).all():
        raise ValueError("ets_samples needs complete histories (no NaN)")
    N, _T, K = H.shape
    out = np.empty((N, n_samples, prediction_length, K))
    for n in range(N):
        for k in range(K):
            fit = ETSModel(H[n, :, k], error="add", trend=None, seasonal="add",
                           seasonal_periods=season_length).fit(disp=False, maxiter=200)
            sims = fit.simulate(prediction_length, repetitions=n_samples, anchor="end",
                                rng=np.random.default_rng(seed + n * K + k))
            out[n, :, :, k] = np.asarray(sims).reshape(prediction_length, n_samples).T
    return out

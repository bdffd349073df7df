"""Probabilistic forecasting with CSDI: the future is the imputation target.

CSDI forecasts by treating the ``prediction_length`` future steps of a window as missing
(Tashiro et al. 2021, Sec. 6.3 / Appendix F): training uses the ``forecast`` mask strategy
(everything observed in the context conditions, the future is the target) and sampling
imputes a window whose future is NaN. Baselines: GluonTS ``SeasonalNaivePredictor`` and a
statsmodels ETS (Hyndman et al. 2008) with simulated sample paths.
"""
from __future__ import annotations

import json
import pathlib
from collections.abc import Callable

import numpy as np
from polydiff.core.validate import check_int

from .data import mean_scale
from .impute import CSDIImputer, ImputerConfig, _check_keys, _check_path, check_series
from .inputs import blame

__all__ = ["SCALINGS", "CSDIForecaster", "ets_samples", "forecast_windows", "mean_scale",
           "seasonal_naive"]

SCALINGS = ("none", "mean")


def forecast_windows(values: np.ndarray, context_length: int, prediction_length: int,
                     stride: int = 1) -> np.ndarray:
    """All windows ``[N, context + prediction, K]`` of ``values [T, K]`` starting every ``stride``."""
    from .data import windows
    _check_lengths(context_length, prediction_length)
    return windows(values, context_length + prediction_length, check_int(stride, "stride", low=1))


def _check_lengths(context_length, prediction_length) -> None:
    for name, v in (("context_length", context_length), ("prediction_length", prediction_length)):
        if isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v < 1:
            raise ValueError(f"context_length and prediction_length must be >= 1, got {name}={v}")
        check_int(v, name, low=1)


class CSDIForecaster:
    """CSDI trained with the forecasting mask.

    Args:
        n_features: ``K``.
        context_length, prediction_length: window = context + prediction steps.
        net: :class:`~polydiff.timeseries.nets.CSDIConfig` fields.
        scaling: ``"none"`` (the imputer's per-feature standardisation only) or ``"mean"``
            (GluonTS' per-series mean scaling, :func:`mean_scale` of each window's context,
            before that standardisation).
        **config: :class:`~polydiff.timeseries.impute.ImputerConfig` fields (``strategy`` and
            ``horizon`` are fixed to the forecasting pattern).
    """

    def __init__(self, n_features: int, context_length: int, prediction_length: int, *,
                 net: dict | None = None, progress: Callable[[str], None] | None = None,
                 scaling: str = "none", **config):
        _check_lengths(context_length, prediction_length)
        if scaling not in SCALINGS:
            raise ValueError(f"scaling must be one of {SCALINGS}, got {scaling!r}")
        self.context_length, self.prediction_length = int(context_length), int(prediction_length)
        self.scaling = scaling
        self.default_scale: np.ndarray | None = None
        _check_keys(config, ImputerConfig, "config", exclude=("strategy", "horizon"))
        config = dict(config, strategy="forecast", horizon=self.prediction_length)
        self.imputer = CSDIImputer(n_features, net=net, config=ImputerConfig(**config),
                                   progress=progress)

    def _scale(self, context: np.ndarray) -> np.ndarray:
        if self.scaling == "none":
            return np.ones((len(context), 1, context.shape[2]))
        return mean_scale(context, self.default_scale)

    def _check_windows(self, windows_, name: str) -> np.ndarray:
        W = check_series(windows_, name)
        if W.shape[1] != self.context_length + self.prediction_length:
            raise ValueError(f"{name} must have length {self.context_length + self.prediction_length}"
                             f", got {W.shape[1]}")
        return W

    def fit(self, windows_: np.ndarray, val_windows: np.ndarray | None = None,
            **fit_options) -> CSDIForecaster:
        """Train on windows ``[N, context + prediction, K]`` (NaN = missing); ``val_windows``
        (same layout) are scored with the forecasting loss (``self.imputer.val_loss``).
        ``fit_options``: :meth:`.CSDIImputer.fit`'s ``eval_every``, ``ckpt_dir``,
        ``ckpt_every``, ``resume``."""
        W = self._check_windows(windows_, "windows")
        V = None if val_windows is None else self._check_windows(val_windows, "val_windows")
        C = self.context_length
        if self.scaling == "mean":  # the batch-level fallback of MeanScaler, fixed at training
            ctx = W[:, :C]
            n = np.isfinite(ctx).sum((0, 1))
            s = np.nansum(np.abs(ctx), (0, 1)) / np.maximum(n, 1)
            self.default_scale = np.where(s > 0, s, 1.0)
        self.imputer.fit(W / self._scale(W[:, :C]),
                         None if V is None else V / self._scale(V[:, :C]), **fit_options)
        return self

    def forecast(self, history: np.ndarray, n_samples: int = 100, **kw) -> np.ndarray:
        """Sample futures ``[N, S, prediction_length, K]`` given ``history [N, context, K]``
        (the last ``context_length`` steps are used; shorter histories are NaN-padded)."""
        H = check_series(history, "history")
        self.imputer._check_features(H, "history")
        C, P = self.context_length, self.prediction_length
        H = H[:, -C:]
        blind = np.flatnonzero(~np.isfinite(H).reshape(len(H), -1).any(1))
        if len(blind):
            raise ValueError(f"history: series {blind[:10].tolist()} have no observed value in their last "
                             f"context_length={C} steps (all NaN); nothing to forecast from")
        if H.shape[1] < C:
            pad = np.full((H.shape[0], C - H.shape[1], H.shape[2]), np.nan)
            H = np.concatenate([pad, H], axis=1)
        scale = self._scale(H)
        X = np.concatenate([H / scale, np.full((H.shape[0], P, H.shape[2]), np.nan)], axis=1)
        with blame("history"):
            return self.imputer.impute(X, n_samples, **kw)[:, :, C:] * scale[:, None]

    def save(self, path) -> pathlib.Path:
        """Write the imputer checkpoint (safetensors + JSON) and ``forecaster.json`` under ``path``."""
        _check_path(path)
        path = pathlib.Path(path)
        self.imputer.save(path)
        meta = {"context_length": self.context_length, "prediction_length": self.prediction_length,
                "scaling": self.scaling,
                "default_scale": None if self.default_scale is None else self.default_scale.tolist()}
        (path / "forecaster.json").write_text(json.dumps(meta, indent=1))
        return path

    @classmethod
    def load(cls, path) -> CSDIForecaster:
        """Rebuild a forecaster written by :meth:`save` (never unpickles)."""
        _check_path(path)
        path = pathlib.Path(path)
        meta = _read_meta(path)
        imp = CSDIImputer.load(path)
        f = path / FORECASTER_FILE
        C, P = meta["context_length"], meta["prediction_length"]
        if imp.config.strategy != "forecast" or imp.config.horizon != P:
            raise ValueError(f"{f}: prediction_length={P}, but the checkpoint's imputer has strategy "
                             f"{imp.config.strategy!r} with horizon {imp.config.horizon} (a forecaster "
                             "of prediction_length steps needs strategy 'forecast' with that horizon)")
        ds = meta["default_scale"]
        if ds is not None:
            a = np.asarray(ds, dtype=np.float64) if isinstance(ds, list) else None
            K = imp.net_config.n_features
            if a is None or a.shape != (K,) or not (np.isfinite(a) & (a > 0)).all():
                raise ValueError(f"{f}: 'default_scale' must be null or a list of {K} finite numbers > 0, "
                                 f"got {ds!r}")
            ds = a
        obj = cls.__new__(cls)
        obj.context_length, obj.prediction_length = C, P
        obj.scaling = meta["scaling"]
        obj.default_scale = ds
        obj.imputer = imp
        return obj


#: The file :meth:`CSDIForecaster.save` writes beside the imputer checkpoint.
FORECASTER_FILE = "forecaster.json"


def _read_meta(path: pathlib.Path) -> dict:
    """``path/forecaster.json``, checked: the window lengths and the scaling."""
    f = path / FORECASTER_FILE
    if not path.is_dir():
        raise FileNotFoundError(f"path: {path} does not exist or is not a folder (expected a "
                                "CSDIForecaster checkpoint, written by CSDIForecaster.save)")
    if not f.is_file():
        what = ("an imputer checkpoint (CSDIImputer.save); load it with CSDIImputer.load"
                if (path / "latest").exists() or any(path.glob("step_*")) else "not a CSDIForecaster checkpoint")
        raise FileNotFoundError(f"path: {path} has no {FORECASTER_FILE}: {what}; expected a folder "
                                "written by CSDIForecaster.save")
    try:
        meta = json.loads(f.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{f}: not valid JSON ({e})") from None
    keys = ("context_length", "prediction_length", "scaling", "default_scale")
    if not isinstance(meta, dict) or set(meta) != set(keys):
        got = sorted(meta) if isinstance(meta, dict) else type(meta).__name__
        raise ValueError(f"{f}: expected an object with the keys {sorted(keys)}, got {got}")
    for k in ("context_length", "prediction_length"):
        v = meta[k]
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{f}: {k!r} must be an int >= 1, got {v!r}")
    if meta["scaling"] not in SCALINGS:
        raise ValueError(f"{f}: 'scaling' must be one of {SCALINGS}, got {meta['scaling']!r}")
    return meta


def _history(history, prediction_length, season_length) -> np.ndarray:
    """``history`` as a float64 ``[N, T, K]`` array; the horizon and season as ints >= 1."""
    check_int(prediction_length, "prediction_length", low=1)
    check_int(season_length, "season_length", low=1)
    H = np.asarray(history)
    if H.dtype.kind not in "iuf":
        raise TypeError(f"history must hold numbers, got dtype {H.dtype}")
    if H.ndim != 3 or 0 in H.shape:
        raise ValueError(f"history must be a non-empty [N, T, K] array, got shape {H.shape}")
    return H.astype(np.float64)


def seasonal_naive(history: np.ndarray, prediction_length: int, season_length: int) -> np.ndarray:
    """Repeat the last season: ``y_hat[T + h] = y[T + h - m * ceil(h / m)]``. ``history [N, T, K]``."""
    H = _history(history, prediction_length, season_length)
    if H.shape[1] < season_length:
        raise ValueError(f"history ({H.shape[1]}) shorter than the season ({season_length})")
    if not np.isfinite(H[:, -season_length:]).all():
        raise ValueError(f"history must be finite over its last season ({season_length} steps): the "
                         "seasonal-naive forecast repeats it")
    idx = H.shape[1] - season_length + (np.arange(prediction_length) % season_length)
    return H[:, idx]


def ets_samples(history: np.ndarray, prediction_length: int, season_length: int,
                n_samples: int = 100, seed: int = 0) -> np.ndarray:
    """Additive-error ETS(A,N,A) fitted per series by statsmodels; ``n_samples`` simulated
    future paths ``[N, S, prediction_length, K]`` for ``history [N, T, K]`` (no NaN)."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    H = _history(history, prediction_length, season_length)
    check_int(n_samples, "n_samples", low=1)  # statsmodels' simulate corrupts memory with 0 paths
    check_int(seed, "seed", low=0)
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

"""Trained CSDI models as pipelines (:mod:`polydiff.core.pipeline`): imputation and forecasting.

CSDI (Tashiro et al. 2021) imputes the missing entries of a window given its observed ones
(Sec. 4, Alg. 2) and forecasts by treating the future as missing (Sec. 6.3). A pipeline holds
what applying it needs: the network, the process, eps-prediction, the default solver and
steps, the normalisation statistics and training range, the feature names and the window
length (components: :mod:`.pipeline_parts`), saved and loaded without pickle::

    pipe = ImputationPipeline.from_run("runs/csdi-weather")       # a `polydiff train timeseries` run
    pipe.save_pretrained("pretrained/csdi-weather")
    pipe = ImputationPipeline.from_pretrained("csdi-weather")
    out = pipe.impute_series(values, n_samples=50, quantiles=(0.1, 0.9))   # values [T, K], NaN = missing
    out.median, out.quantiles[0.1]                                          # [T, K] each

    fc = ForecastPipeline.from_run("runs/csdi-taylor")
    fc.forecast_series(history, quantiles=(0.1, 0.9)).median                # [prediction_length, K]
"""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from polydiff.core.pipeline import Component, ModelCard, Pipeline, PipelineError

from .forecast import CSDIForecaster
from .impute import CSDIImputer
from .inputs import blame
from .pipeline_parts import imputer_components, imputer_from_components

__all__ = ["RUN_DATA", "ForecastPipeline", "ImputationPipeline", "SeriesSummary"]

#: The file ``polydiff train timeseries`` writes beside its checkpoint: the task, the window
#: lengths and the feature names (what :meth:`ImputationPipeline.from_run` needs).
RUN_DATA = "data.json"


@dataclass
class SeriesSummary:
    """Per-entry summaries of the samples of one series: ``median`` and ``quantiles[q]``,
    each ``[T, K]`` float64 (observed entries equal to the input, bit for bit)."""

    median: np.ndarray
    quantiles: dict[float, np.ndarray]


def _check_features(features: Sequence[str] | None, K: int) -> list[str] | None:
    if features is None:
        return None
    if isinstance(features, str) or not all(isinstance(f, str) and f for f in features):
        raise TypeError(f"features must be a sequence of non-empty str, got {features!r}")
    features = list(features)
    if len(features) != K or len(set(features)) != K:
        raise ValueError(f"features must be {K} distinct names (one per feature), got {features!r}")
    return features


def _summary(samples: np.ndarray, observed: np.ndarray, values: np.ndarray,
             quantiles: Sequence[float]) -> SeriesSummary:
    """Median and quantiles over axis 0 of ``samples [S, T, K]``; observed cells re-copied
    (``(a + a) / 2`` may overflow for |a| near the float64 maximum)."""

    def keep(z: np.ndarray) -> np.ndarray:
        return np.where(observed, values, z)

    return SeriesSummary(keep(np.median(samples, 0)),
                         {q: keep(np.quantile(samples, q, 0)) for q in quantiles})


def _quantile_levels(quantiles: Sequence[float]) -> list[float]:
    """The summary's levels: distinct, in ``[0, 1]``; none (the median only) is allowed."""
    from .metrics import _levels

    return _levels(quantiles, allow_empty=True, distinct=True)


def _series(values: np.ndarray, K: int, name: str) -> np.ndarray:
    v = np.asarray(values)
    if v.dtype.kind not in "fiu" or v.ndim != 2 or v.shape[1] != K or len(v) == 0:
        raise ValueError(f"{name} must be a non-empty numeric [T, {K}] array, got "
                         f"{v.dtype} shape {v.shape}")
    v = v.astype(np.float64)
    if np.isinf(v).any():
        t, k = np.argwhere(np.isinf(v))[0]
        raise ValueError(f"{name} must be finite or NaN (NaN = missing), got inf at row {t}, feature {k}")
    return v


def _series_times(timestamps, T: int) -> np.ndarray:
    """The observation times ``[T]`` of one series (one per row), as float64."""
    from .inputs import check_timestamps

    ts = timestamps.detach().cpu().numpy() if hasattr(timestamps, "detach") else np.asarray(timestamps)
    if ts.ndim != 1:
        raise ValueError(f"timestamps must be [T] = [{T}] (one time per row of the series), got shape {ts.shape}")
    return check_timestamps(ts[None], (1, T))[0]


def window_starts(T: int, L: int) -> list[int]:
    """Starts of the windows covering ``T`` rows with windows of ``L``: every ``L`` rows, the
    last one ending at row ``T`` (overlapping its neighbour) so that no window is padded;
    a series shorter than ``L`` is one window of its own length."""
    if T <= L:
        return [0]
    starts = list(range(0, T - L + 1, L))
    return starts if starts[-1] + L == T else [*starts, T - L]


def _card_from_run(run: Path, data: dict[str, Any]) -> ModelCard:
    scores = run / "scores.json"
    metrics = []
    if scores.is_file():
        metrics = [{"task": data.get("task", ""), "dataset": data.get("data", ""), "metric": k,
                    "value": float(v)} for k, v in json.loads(scores.read_text()).items()]
    return ModelCard(training_command=data.get("command", ""), data=data.get("data", ""), metrics=metrics)


def _run_data(run_dir: str | os.PathLike, task: str) -> dict[str, Any]:
    if not isinstance(run_dir, (str, os.PathLike)):
        raise TypeError(f"run_dir must be a path (str or os.PathLike), got {type(run_dir).__name__}")
    if not Path(run_dir).is_dir():
        raise FileNotFoundError(f"run_dir: {run_dir} does not exist or is not a folder "
                                f"(expected a `polydiff train timeseries --task {task}` run)")
    f = Path(run_dir) / RUN_DATA
    if not f.is_file():
        return {}
    try:
        data = json.loads(f.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{f}: not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{f}: expected a JSON object, got {type(data).__name__}")  # noqa: TRY004 - the file's content, not an argument
    if data.get("task") != task:
        raise ValueError(f"{f}: is a {data.get('task')!r} run, not a {task!r} run")
    return data


class ImputationPipeline(Pipeline):
    """Probabilistic imputation of windows: ``pipe(X [N, T, K]) -> samples [N, S, T, K]``.

    Args:
        imputer: a fitted :class:`~.impute.CSDIImputer` (its solver/steps are the defaults).
        window_length: the window ``L`` it was trained on; :meth:`impute_series` cuts long
            series into windows of ``L`` rows.
        features: the ``K`` feature names (CSV headers), or ``None`` when unknown.
    """

    component_names: ClassVar[tuple[str, ...]] = ("net", "process", "sampler", "scaler", "training", "data")

    def __init__(self, imputer: CSDIImputer, window_length: int, features: Sequence[str] | None = None,
                 *, card: ModelCard | None = None):
        if not isinstance(imputer, CSDIImputer):
            raise TypeError(f"imputer must be a polydiff.timeseries.CSDIImputer, got {type(imputer).__name__}")
        if imputer.normalizer is None:
            raise ValueError("imputer is not fitted (no normalisation statistics); call fit() first")
        if imputer.config.strategy == "forecast":
            raise ValueError("imputer was trained to forecast (strategy='forecast': its last "
                             f"{imputer.config.horizon} steps are always the target), not to impute; "
                             "wrap it in a CSDIForecaster and a ForecastPipeline")
        if isinstance(window_length, bool) or not isinstance(window_length, int) or window_length < 1:
            raise ValueError(f"window_length must be a positive int, got {window_length!r}")
        self.imputer, self.window_length = imputer, window_length
        self.features = _check_features(features, self.n_features)
        self.imputer.net.eval()
        self.card = card if card is not None else ModelCard()

    @property
    def n_features(self) -> int:
        return self.imputer.net_config.n_features

    @property
    def device(self) -> torch.device:
        return next(self.imputer.net.parameters()).device

    def __call__(self, X: np.ndarray, n_samples: int = 100, *, seed: int = 0, steps: int | None = None,
                 solver: str | None = None, **options: Any) -> np.ndarray:
        """``n_samples`` imputations ``[N, S, T, K]`` of windows ``X [N, T, K]`` (NaN = missing);
        ``options``: :meth:`.CSDIImputer.impute`'s (``out_of_range``, ``progress_bar``, ...)."""
        return self.imputer.impute(X, n_samples, seed=seed, steps=steps, solver=solver, **options)

    def impute_series(self, values: np.ndarray, n_samples: int = 100, quantiles: Sequence[float] = (),
                      *, seed: int = 0, timestamps=None, **options: Any) -> SeriesSummary:
        """Impute one long series ``values [T, K]``: windows of ``window_length`` rows
        (:func:`window_starts`) sampled together, each row summarised from the first window
        that covers it. ``quantiles``: the distinct levels to summarise besides the median
        (none by default); ``timestamps [T]``: the rows' observation times (default ``0..T-1``)."""
        v = _series(values, self.n_features, "values")
        qs = _quantile_levels(quantiles)
        L = self.window_length
        starts = window_starts(len(v), L)
        X = np.stack([v[s:s + L] for s in starts])
        if timestamps is not None:
            ts = _series_times(timestamps, len(v))
            options["timestamps"] = np.stack([ts[s:s + L] for s in starts])
        blind = [s for s, w in zip(starts, X) if not np.isfinite(w).any()]
        if blind:
            s = blind[0]
            raise ValueError(f"values: rows {s}..{s + X.shape[1] - 1} have no observed value; every "
                             f"window of window_length={L} rows needs one to condition on")
        with blame("values"):
            smp = self(X, n_samples, seed=seed, **options)  # [W, S, L', K]
        out = np.empty((n_samples, *v.shape))
        for s, w in zip(starts[::-1], smp[::-1]):  # earlier windows overwrite the overlap
            out[:, s:s + w.shape[1]] = w
        return _summary(out, np.isfinite(v), v, qs)

    # --- the pipeline format ----------------------------------------------------------------
    def components(self) -> dict[str, Component]:
        return {**imputer_components(self.imputer),
                "data": Component({"features": self.features, "window_length": self.window_length})}

    @classmethod
    def from_components(cls, components: dict[str, Component], device: str | torch.device
                        ) -> ImputationPipeline:
        d = components["data"].config
        return cls(imputer_from_components(components, device), d["window_length"], d["features"])

    @classmethod
    def from_run(cls, run_dir: str | os.PathLike, *, window_length: int | None = None,
                 features: Sequence[str] | None = None, device: str | torch.device = "cpu") -> ImputationPipeline:
        """The pipeline of a ``polydiff train timeseries --task impute`` run: its saved imputer,
        the window length and feature names of its ``data.json`` (arguments override them;
        runs older than that file need ``window_length``) and a model card with its scores."""
        data = _run_data(run_dir, "impute")
        L = window_length if window_length is not None else data.get("window_length")
        if L is None:
            raise ValueError(f"{run_dir}: no {RUN_DATA} (an older run); pass window_length=")
        imp = CSDIImputer.load(run_dir)
        imp.net.to(device)
        return cls(imp, L, features if features is not None else data.get("features"),
                   card=_card_from_run(Path(run_dir), data))


class ForecastPipeline(Pipeline):
    """Probabilistic forecasting: ``pipe(history [N, T, K]) -> samples [N, S, prediction_length, K]``.

    Args:
        forecaster: a fitted :class:`~.forecast.CSDIForecaster`.
        features: the ``K`` feature names (CSV headers), or ``None`` when unknown.
    """

    component_names: ClassVar[tuple[str, ...]] = ("net", "process", "sampler", "scaler", "training", "data")

    def __init__(self, forecaster: CSDIForecaster, features: Sequence[str] | None = None, *,
                 card: ModelCard | None = None):
        if not isinstance(forecaster, CSDIForecaster):
            raise TypeError(f"forecaster must be a polydiff.timeseries.CSDIForecaster, got "
                            f"{type(forecaster).__name__}")
        if forecaster.imputer.normalizer is None:
            raise ValueError("forecaster is not fitted (no normalisation statistics); call fit() first")
        self.forecaster = forecaster
        self.features = _check_features(features, self.n_features)
        self.forecaster.imputer.net.eval()
        self.card = card if card is not None else ModelCard()

    @property
    def n_features(self) -> int:
        return self.forecaster.imputer.net_config.n_features

    @property
    def context_length(self) -> int:
        return self.forecaster.context_length

    @property
    def prediction_length(self) -> int:
        return self.forecaster.prediction_length

    @property
    def device(self) -> torch.device:
        return next(self.forecaster.imputer.net.parameters()).device

    def __call__(self, history: np.ndarray, n_samples: int = 100, *, seed: int = 0, steps: int | None = None,
                 solver: str | None = None, **options: Any) -> np.ndarray:
        """Future samples ``[N, S, prediction_length, K]`` after ``history [N, T, K]`` (its last
        ``context_length`` rows; shorter ones are NaN-padded)."""
        return self.forecaster.forecast(history, n_samples, seed=seed, steps=steps, solver=solver, **options)

    def forecast_series(self, history: np.ndarray, n_samples: int = 100, quantiles: Sequence[float] = (),
                        *, seed: int = 0, **options: Any) -> SeriesSummary:
        """Median and quantiles ``[prediction_length, K]`` of the future of one series ``[T, K]``
        (``quantiles``: the distinct levels besides the median, none by default)."""
        h = _series(history, self.n_features, "history")
        qs = _quantile_levels(quantiles)
        smp = self(h[None], n_samples, seed=seed, **options)[0]
        nothing = np.zeros(smp.shape[1:], dtype=bool)
        return _summary(smp, nothing, nothing, qs)

    # --- the pipeline format ----------------------------------------------------------------
    def components(self) -> dict[str, Component]:
        fc = self.forecaster
        data = {"features": self.features, "context_length": fc.context_length,
                "prediction_length": fc.prediction_length, "scaling": fc.scaling,
                "default_scale": None if fc.default_scale is None else [float(x) for x in fc.default_scale]}
        return {**imputer_components(fc.imputer), "data": Component(data)}

    @classmethod
    def from_components(cls, components: dict[str, Component], device: str | torch.device) -> ForecastPipeline:
        d = components["data"].config
        imp = imputer_from_components(components, device)
        if imp.config.strategy != "forecast" or imp.config.horizon != d["prediction_length"]:
            raise PipelineError(f"training/config.json: strategy {imp.config.strategy!r} with horizon "
                                f"{imp.config.horizon} is not a forecaster of {d['prediction_length']} steps")
        fc = CSDIForecaster.__new__(CSDIForecaster)
        fc.context_length, fc.prediction_length = int(d["context_length"]), int(d["prediction_length"])
        fc.scaling, fc.imputer = d["scaling"], imp
        ds = d["default_scale"]
        fc.default_scale = None if ds is None else np.asarray(ds, dtype=np.float64)
        if fc.scaling not in ("none", "mean") or (ds is not None and fc.default_scale.shape != (imp.net_config.n_features,)):
            raise PipelineError(f"data/config.json: bad scaling {fc.scaling!r} / default_scale {ds!r}")
        return cls(fc, d["features"])

    @classmethod
    def from_run(cls, run_dir: str | os.PathLike, *, features: Sequence[str] | None = None,
                 device: str | torch.device = "cpu") -> ForecastPipeline:
        """The pipeline of a ``polydiff train timeseries --task forecast`` run (its saved
        forecaster, feature names from its ``data.json``, a model card with its scores)."""
        data = _run_data(run_dir, "forecast")
        fc = CSDIForecaster.load(run_dir)
        fc.imputer.net.to(device)
        return cls(fc, features if features is not None else data.get("features"),
                   card=_card_from_run(Path(run_dir), data))

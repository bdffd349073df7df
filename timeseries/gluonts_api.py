"""GluonTS interface: ``CSDIEstimator.train(dataset) -> CSDIPredictor`` yielding ``SampleForecast``.

Uses only GluonTS' core objects (no ``gluonts.torch`` / lightning), so
``make_evaluation_predictions`` and ``Evaluator`` / ``MultivariateEvaluator`` work unchanged::

    from gluonts.evaluation import Evaluator, make_evaluation_predictions
    predictor = CSDIEstimator(prediction_length=24, context_length=72).train(train_ds)
    fcst, ts = make_evaluation_predictions(test_ds, predictor, num_samples=100)
    agg, _ = Evaluator(quantiles=metrics.QUANTILES)(ts, fcst)   # agg["mean_wQuantileLoss"]

A univariate entry has ``target [T]``; a multivariate one (``MultivariateGrouper``) has
``target [K, T]`` and gets ``SampleForecast`` samples ``[S, H, K]``.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from gluonts.dataset.common import Dataset
from gluonts.model.estimator import Estimator
from gluonts.model.forecast import SampleForecast
from gluonts.model.predictor import Predictor

from .forecast import CSDIForecaster

__all__ = ["CSDIEstimator", "CSDIPredictor"]


def _as_tk(target, multivariate: bool) -> np.ndarray:
    y = np.asarray(target, dtype=np.float64)
    if multivariate:
        if y.ndim != 2:
            raise ValueError(f"multivariate entries need target [K, T], got shape {y.shape}")
        return y.T
    if y.ndim != 1:
        raise ValueError(f"univariate entries need target [T], got shape {y.shape}; "
                         "use multivariate=True for [K, T]")
    return y[:, None]


class CSDIPredictor(Predictor):
    """Draws CSDI forecasts for every entry of a dataset in one batched sampling pass."""

    def __init__(self, forecaster: CSDIForecaster, *, multivariate: bool = False,
                 num_samples: int = 100, solver: str = "ddpm", steps: int = 50, seed: int = 0,
                 lead_time: int = 0):
        super().__init__(prediction_length=forecaster.prediction_length, lead_time=lead_time)
        self.forecaster, self.multivariate = forecaster, multivariate
        self.num_samples, self.solver, self.steps, self.seed = num_samples, solver, steps, seed

    def predict(self, dataset: Dataset, num_samples: int | None = None, **kwargs) -> Iterator[SampleForecast]:
        entries = list(dataset)
        if not entries:
            return iter(())
        C = self.forecaster.context_length
        hist = []
        for e in entries:
            y = _as_tk(e["target"], self.multivariate)[-C:]
            if len(y) < C:
                y = np.concatenate([np.full((C - len(y), y.shape[1]), np.nan), y])
            hist.append(y)
        S = int(num_samples or self.num_samples)
        samples = self.forecaster.forecast(np.stack(hist), S, solver=self.solver,
                                           steps=self.steps, seed=self.seed)
        out = []
        for e, s in zip(entries, samples):
            start = e["start"] + _as_tk(e["target"], self.multivariate).shape[0]
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
        net: :class:`~polydiff.timeseries.nets.CSDIConfig` fields.
        num_samples, solver, steps, seed: the predictor's sampling settings.
        **config: :class:`~polydiff.timeseries.impute.ImputerConfig` fields
            (``train_steps``, ``batch_size``, ``lr`` ...).
    """

    def __init__(self, prediction_length: int, context_length: int | None = None, *,
                 multivariate: bool = False, stride: int = 1, net: dict | None = None,
                 num_samples: int = 100, solver: str = "ddpm", steps: int = 50, seed: int = 0,
                 lead_time: int = 0, **config):
        super().__init__(lead_time=lead_time)
        if prediction_length < 1 or stride < 1:
            raise ValueError("prediction_length and stride must be >= 1")
        self.prediction_length = int(prediction_length)
        self.context_length = int(context_length or 2 * prediction_length)
        self.multivariate, self.stride, self.net = multivariate, int(stride), net
        self.sampling = {"num_samples": num_samples, "solver": solver, "steps": steps, "seed": seed}
        self.config = dict(config, seed=seed)

    def train(self, training_data: Dataset, validation_data: Dataset | None = None,
              **kwargs) -> CSDIPredictor:
        L = self.context_length + self.prediction_length
        wins = []
        for e in training_data:
            y = _as_tk(e["target"], self.multivariate)
            if len(y) < L:
                continue
            starts = np.arange(len(y) - L, -1, -self.stride)[::-1]  # windows aligned to the end
            wins.extend(y[s: s + L] for s in starts)
        if not wins:
            raise ValueError(f"no training series is at least context + prediction = {L} long")
        W = np.stack(wins)
        W = W[np.isfinite(W).reshape(len(W), -1).any(1)]
        fc = CSDIForecaster(W.shape[2], self.context_length, self.prediction_length,
                            net=self.net, **self.config).fit(W)
        return CSDIPredictor(fc, multivariate=self.multivariate, lead_time=self.lead_time,
                             **self.sampling)

"""GluonTS Estimator/Predictor pass through make_evaluation_predictions and the Evaluators;
our quantile CRPS equals GluonTS' mean_wQuantileLoss on the same forecasts."""
import numpy as np
import pandas as pd
import pytest
import torch
from polydiff.timeseries import metrics
from polydiff.timeseries.forecast import CSDIForecaster, ets_samples, seasonal_naive
from polydiff.timeseries.gluonts_api import CSDIEstimator

torch.set_num_threads(1)
TINY = {"layers": 1, "channels": 8, "heads": 2, "time_emb_dim": 16, "feature_emb_dim": 4,
        "diffusion_emb_dim": 16}


def _ds(K=None, T=60, n=3):
    from gluonts.dataset.common import ListDataset
    t = np.arange(T)
    rows = []
    for i in range(n):
        base = 10 + np.sin(2 * np.pi * t / 12 + i)
        target = base if K is None else np.stack([base * (k + 1) for k in range(K)])
        rows.append({"target": target, "start": pd.Period("2020-01-01 00:00", freq="h"),
                     "item_id": str(i)})
    return ListDataset(rows, freq="h", one_dim_target=K is None)


def test_univariate_predictor_through_evaluator():
    from gluonts.evaluation import Evaluator, make_evaluation_predictions
    from gluonts.model.forecast import SampleForecast
    est = CSDIEstimator(prediction_length=6, context_length=12, net=TINY, train_steps=3,
                        batch_size=8, stride=6, num_samples=8, solver="ddim", steps=4)
    ds = _ds()
    pred = est.train(ds)
    fit, ts = make_evaluation_predictions(ds, pred, num_samples=8)
    fit, ts = list(fit), list(ts)
    assert all(isinstance(f, SampleForecast) and f.samples.shape == (8, 6) for f in fit)
    assert fit[0].start_date == pd.Period("2020-01-01 00:00", freq="h") + 54
    agg, _ = Evaluator(quantiles=metrics.QUANTILES, num_workers=0)(iter(ts), iter(fit))
    assert np.isfinite(agg["mean_wQuantileLoss"]) and np.isfinite(agg["MSE"])
    # the same number from polydiff's metric
    samples = np.stack([f.samples for f in fit])[..., None]           # [N, S, H, 1]
    target = np.stack([t.to_numpy()[-6:, 0] for t in ts])[..., None]  # [N, H, 1]
    ones = np.ones_like(target, bool)
    ours = metrics.quantile_crps(samples, target, ones, method="gluonts")
    assert ours == pytest.approx(agg["mean_wQuantileLoss"], rel=1e-6)  # float32 samples
    linear = metrics.quantile_crps(samples, target, ones)  # CSDI's interpolated quantiles
    assert linear == pytest.approx(ours, rel=0.2)


def test_multivariate_predictor_through_multivariate_evaluator():
    from gluonts.evaluation import MultivariateEvaluator, make_evaluation_predictions
    est = CSDIEstimator(prediction_length=4, context_length=8, multivariate=True, net=TINY,
                        train_steps=2, batch_size=8, stride=4, num_samples=6, solver="ddim", steps=3)
    ds = _ds(K=2)
    pred = est.train(ds)
    fit, ts = make_evaluation_predictions(ds, pred, num_samples=6)
    fit = list(fit)
    assert fit[0].samples.shape == (6, 4, 2)
    ev = MultivariateEvaluator(quantiles=(0.1, 0.5, 0.9), target_agg_funcs={"sum": np.sum},
                               num_workers=0)
    agg, _ = ev(ts, iter(fit))
    assert np.isfinite(agg["m_sum_mean_wQuantileLoss"]) and np.isfinite(agg["mean_wQuantileLoss"])


def test_forecaster_keeps_history_and_checks_input():
    fc = CSDIForecaster(1, 6, 3, net=TINY, train_steps=2, batch_size=4)
    W = np.sin(np.arange(40))[:, None]
    from polydiff.timeseries.forecast import forecast_windows
    fc.fit(forecast_windows(W, 6, 3))
    out = fc.forecast(W[None, -10:], n_samples=5, solver="ddim", steps=3)
    assert out.shape == (1, 5, 3, 1) and np.isfinite(out).all()
    with pytest.raises(ValueError, match="length 9"):
        fc.fit(np.ones((2, 8, 1)))
    est = CSDIEstimator(prediction_length=100)
    with pytest.raises(ValueError, match="at least"):
        est.train(_ds())


def test_seasonal_naive_and_ets_baselines():
    h = np.arange(10.0)[None, :, None]
    assert np.array_equal(seasonal_naive(h, 5, 4)[0, :, 0], [6, 7, 8, 9, 6])
    y = 10 + np.sin(2 * np.pi * np.arange(48) / 12)
    s = ets_samples(y[None, :, None], 6, 12, n_samples=20)
    assert s.shape == (1, 20, 6, 1)
    truth = 10 + np.sin(2 * np.pi * np.arange(48, 54) / 12)
    assert np.abs(np.median(s[0, :, :, 0], 0) - truth).max() < 0.3

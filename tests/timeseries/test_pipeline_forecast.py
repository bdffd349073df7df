"""ForecastPipeline: save/load round trip, the forecaster's scaling kept, named errors, a
training run as a pipeline."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from polydiff.core.pipeline import INDEX, PipelineError
from polydiff.timeseries.forecast import CSDIForecaster
from polydiff.timeseries.pipelines import ForecastPipeline

TINY = {"layers": 1, "channels": 8, "heads": 2, "time_emb_dim": 16, "feature_emb_dim": 4,
        "diffusion_emb_dim": 16, "ff_dim": 8}


def _fc_pipe(scaling: str = "mean") -> ForecastPipeline:
    rng = np.random.default_rng(0)
    W = 5 + np.sin(np.arange(7)[None, :, None] / 2 + rng.normal(size=(8, 1, 2)))
    fc = CSDIForecaster(2, 5, 2, net=TINY, scaling=scaling, train_steps=2, batch_size=4, solver="ddim",
                        sample_steps=3).fit(W)
    return ForecastPipeline(fc, ["load", "price"])


def _history(T=9) -> np.ndarray:
    return 5 + np.sin(np.arange(T)[:, None] / 2 + np.array([[0.0, 1.0]]))


def test_round_trip_gives_identical_forecasts(tmp_path):
    pipe = _fc_pipe()
    pipe.save_pretrained(tmp_path / "f")
    loaded = ForecastPipeline.from_pretrained(tmp_path / "f")
    h = _history()
    a, b = pipe.forecast_series(h, 4, (0.1, 0.9), seed=2), loaded.forecast_series(h, 4, (0.1, 0.9), seed=2)
    assert a.median.shape == (2, 2) and np.array_equal(a.median, b.median)
    assert all(np.array_equal(a.quantiles[q], b.quantiles[q]) for q in (0.1, 0.9))
    assert np.array_equal(pipe(h[None], 3, seed=1, steps=2), loaded(h[None], 3, seed=1, steps=2))
    assert (loaded.context_length, loaded.prediction_length, loaded.features) == (5, 2, ["load", "price"])
    assert loaded.forecaster.scaling == "mean"
    np.testing.assert_array_equal(loaded.forecaster.default_scale, pipe.forecaster.default_scale)


def test_an_imputer_folder_is_not_a_forecaster(tmp_path):
    pipe = _fc_pipe("none")
    pipe.save_pretrained(tmp_path / "f")
    f = tmp_path / "f"
    t = json.loads((f / "training" / "config.json").read_text())
    blob = json.dumps({**t, "strategy": "random", "horizon": None}).encode()
    (f / "training" / "config.json").write_bytes(blob)
    idx = json.loads((f / INDEX).read_text())
    idx["files"]["training/config.json"] = {"bytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest()}
    (f / INDEX).write_text(json.dumps(idx))
    with pytest.raises(PipelineError, match=r"training/config\.json: strategy 'random'.*not a forecaster"):
        ForecastPipeline.from_pretrained(f)
    from polydiff.timeseries.pipelines import ImputationPipeline
    with pytest.raises(PipelineError, match="holds a polydiff.timeseries.pipelines:ForecastPipeline"):
        ImputationPipeline.from_pretrained(f)


def test_from_forecast_training_run(tmp_path):
    from polydiff.timeseries.train import main

    out = tmp_path / "run"
    main(["--task", "forecast", "--data", "taylor", "--context", "8", "--horizon", "4", "--stride", "200",
          "--batch-size", "8", "--layers", "1", "--channels", "8", "--heads", "2", "--samples", "2",
          "--solver", "ddim", "--solver-steps", "2", "--steps", "1", "--out", str(out)])
    pipe = ForecastPipeline.from_run(out)
    assert (pipe.context_length, pipe.prediction_length, pipe.features) == (8, 4, ["demand"])
    pipe.save_pretrained(tmp_path / "p")
    again = ForecastPipeline.from_pretrained(tmp_path / "p")
    h = np.linspace(20000, 30000, 8)[:, None]
    assert np.array_equal(pipe(h[None], 2, out_of_range="ignore"), again(h[None], 2, out_of_range="ignore"))


def test_bad_arguments_are_rejected():
    pipe = _fc_pipe()
    with pytest.raises(TypeError, match="forecaster must be a polydiff.timeseries.CSDIForecaster"):
        ForecastPipeline(pipe.forecaster.imputer)
    with pytest.raises(ValueError, match="forecaster is not fitted"):
        ForecastPipeline(CSDIForecaster(2, 5, 2, net=TINY))
    with pytest.raises(ValueError, match="features must be 2 distinct names"):
        ForecastPipeline(pipe.forecaster, ["x"])
    with pytest.raises(ValueError, match=r"history must be a non-empty numeric \[T, 2\] array"):
        pipe.forecast_series(np.zeros((0, 2)))

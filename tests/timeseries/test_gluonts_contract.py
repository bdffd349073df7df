"""The GluonTS contract: serialize/deserialize round trip, validation data, GluonTS' mean
scaling (against gluonts.torch.scaler.MeanScaler), the out-of-range guard, the sampling bar."""
import importlib.util
import json
import pathlib

import numpy as np
import pandas as pd
import pytest
import torch
from polydiff.timeseries.forecast import CSDIForecaster, mean_scale
from polydiff.timeseries.gluonts_api import CSDIEstimator, CSDIPredictor
from polydiff.timeseries.impute import CSDIImputer, OutOfRangeError

torch.set_num_threads(1)
TINY = {"layers": 1, "channels": 8, "heads": 2, "time_emb_dim": 16, "feature_emb_dim": 4,
        "diffusion_emb_dim": 16}


def _ds(level=10.0, T=60, n=3):
    from gluonts.dataset.common import ListDataset
    t = np.arange(T)
    rows = [{"target": level * (1 + 0.1 * np.sin(2 * np.pi * t / 12 + i)),
             "start": pd.Period("2020-01-01 00:00", freq="h"), "item_id": str(i)} for i in range(n)]
    return ListDataset(rows, freq="h")


def _estimator(**kw):
    return CSDIEstimator(prediction_length=6, context_length=12, net=TINY, train_steps=3,
                         batch_size=8, stride=6, num_samples=5, solver="ddim", steps=3,
                         progress_bar=False, **kw)


def test_serialize_deserialize_round_trip(tmp_path):
    from gluonts.model.predictor import Predictor
    pred = _estimator().train(_ds(), validation_data=_ds(n=2))
    pred.serialize(tmp_path)
    assert (tmp_path / "gluonts-config.json").exists()
    assert (tmp_path / "predictor.json").exists()
    assert list(tmp_path.rglob("*.safetensors")), "weights must be written"
    back = Predictor.deserialize(tmp_path)  # GluonTS' entry point dispatches on the type
    assert isinstance(back, CSDIPredictor)
    a = [f.samples for f in pred.predict(_ds())]
    b = [f.samples for f in back.predict(_ds())]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert back.validation_loss == pred.validation_loss
    assert back.forecaster.default_scale.tolist() == pred.forecaster.default_scale.tolist()
    with pytest.raises(TypeError, match="unknown CSDIPredictor settings"):
        CSDIPredictor.deserialize(tmp_path, temperature=2)
    with pytest.raises(FileNotFoundError, match="predictor.json"):
        CSDIPredictor.deserialize(tmp_path / "csdi")


def test_validation_data_is_scored_with_the_forecasting_loss():
    est = _estimator()
    assert est.train(_ds()).validation_loss is None
    pred = est.train(_ds(), validation_data=_ds(n=2))
    # the loss on the last window of each validation series, by hand
    fc = pred.forecaster
    V = np.stack([e["target"][-18:, None] for e in _ds(n=2)])
    by_hand = fc.imputer.loss(V / fc._scale(V[:, :12]))
    assert pred.validation_loss == pytest.approx(by_hand, rel=1e-6)
    with pytest.raises(ValueError, match="no validation series"):
        est.train(_ds(), validation_data=_ds(T=10))
    with pytest.raises(TypeError, match="unexpected arguments"):
        est.train(_ds(), num_epochs=3)


def test_mean_scale_matches_gluonts_mean_scaler():
    # gluonts.torch's package __init__ needs lightning; the scaler module itself does not
    import gluonts
    path = pathlib.Path(gluonts.__file__).parent / "torch" / "scaler.py"
    spec = importlib.util.spec_from_file_location("_gluonts_scaler", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rng = np.random.default_rng(0)
    Z = rng.normal(3, 2, size=(5, 7, 2))
    Z[rng.random(Z.shape) < 0.3] = np.nan
    Z[1, :, 0] = np.nan  # no observation: the batch default
    Z[2, :, 1] = 0.0     # observed zeros: the minimum scale
    obs = np.isfinite(Z)
    data = torch.tensor(np.where(obs, Z, 0.0))  # [N, T, K], time on dim 1
    _, _, scale = mod.MeanScaler(dim=1, keepdim=True)(data, torch.tensor(obs).double())
    np.testing.assert_allclose(mean_scale(Z), scale.numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match=r"\[N, C, K\]"):
        mean_scale(Z[0])


def test_mean_scaled_forecaster_follows_a_level_it_never_saw():
    # trained at level 10, asked at level 1000: GluonTS-style scaling makes the scaled history
    # the same as at level 10, so the guard lets it pass and the forecasts scale exactly
    fc = _estimator().train(_ds(level=10.0)).forecaster
    hist = np.stack([e["target"][-12:, None] for e in _ds(level=10.0)])
    out10 = fc.forecast(hist, 4, solver="ddim", steps=3, seed=1, out_of_range="ignore")
    out1000 = fc.forecast(100 * hist, 4, solver="ddim", steps=3, seed=1)
    np.testing.assert_allclose(out1000, 100 * out10, rtol=1e-5)  # float32 network
    unscaled = CSDIForecaster(1, 12, 6, net=TINY, train_steps=3, batch_size=8, scaling="none")
    unscaled.fit(np.stack([e["target"][:18, None] for e in _ds(level=10.0)]))
    with pytest.raises(OutOfRangeError, match="far outside the training range"):
        unscaled.forecast(100 * hist, 4, solver="ddim", steps=3)


def test_out_of_range_guard_and_progress_bar(capsys):
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, size=(16, 8, 2))
    imp = CSDIImputer(2, net=TINY, train_steps=2, batch_size=8, range_margin=1.0).fit(X)
    Y = X[:3].copy()
    Y[:, ::2] = np.nan
    lo, hi = X[..., 0].min(), X[..., 0].max()
    Y[0, 1, 0] = hi + 0.9 * (hi - lo)  # inside the band [lo - (hi - lo), hi + (hi - lo)]
    Y[1, 1, 0] = hi + 1.1 * (hi - lo)  # just outside
    Y[2, 3, 1] = 50.0                  # far outside
    assert imp.out_of_range_windows(imp.normalizer.transform(Y)).tolist() == [1, 2]
    with pytest.raises(OutOfRangeError, match=r"windows \[1, 2\].*feature 1.*50"):
        imp.impute(Y, 2, solver="ddim", steps=2)
    with pytest.warns(RuntimeWarning, match="far outside"):
        imp.impute(Y[2:], 2, solver="ddim", steps=2, out_of_range="warn")
    ok = imp.impute(Y[:1], 2, solver="ddim", steps=2, out_of_range="ignore", progress_bar=True)
    assert ok.shape == (1, 2, 8, 2)
    assert "csdi sampling" in capsys.readouterr().err
    with pytest.raises(ValueError, match="out_of_range must be one of"):
        imp.impute(Y[:1], 2, out_of_range="clip")


def test_saved_range_reloads(tmp_path):
    X = np.random.default_rng(1).uniform(0, 1, size=(8, 6, 1))
    imp = CSDIImputer(1, net=TINY, train_steps=1, batch_size=4).fit(X)
    imp.save(tmp_path)
    back = CSDIImputer.load(tmp_path)
    for a, b in zip(imp.train_range, back.train_range):
        np.testing.assert_array_equal(a, b)
    assert json.loads(json.dumps(back.config.range_margin)) == 1.0


def test_checkpoint_without_range_loads_with_a_warning(tmp_path):
    X = np.random.default_rng(1).uniform(0, 1, size=(8, 6, 1))
    imp = CSDIImputer(1, net=TINY, train_steps=1, batch_size=4).fit(X)
    imp.train_range = None  # as in checkpoints written before the range was recorded
    imp.save(tmp_path)
    with pytest.warns(RuntimeWarning, match="guard and the x0 clamp are off"):
        old = CSDIImputer.load(tmp_path)
    assert old.train_range is None and len(old.out_of_range_windows(np.full((1, 6, 1), 1e9))) == 0


def test_imputer_mean_scaling_is_scale_equivariant(tmp_path):
    # per-window mean scaling: a window 100x larger (a level the network never saw) is
    # imputed as exactly 100x the original window, and the guard does not fire
    rng = np.random.default_rng(2)
    X = 5 + np.sin(np.arange(8)[None, :, None] / 2 + rng.normal(size=(10, 1, 2)))
    imp = CSDIImputer(2, net=TINY, train_steps=2, batch_size=4, scaling="mean").fit(X)
    Y = X[:3].copy()
    Y[:, 2::3] = np.nan
    a = imp.impute(Y, 3, solver="ddim", steps=3, seed=1)
    b = imp.impute(100 * Y, 3, solver="ddim", steps=3, seed=1)
    np.testing.assert_allclose(b, 100 * a, rtol=1e-5)  # float32 network
    imp.save(tmp_path)
    back = CSDIImputer.load(tmp_path)
    np.testing.assert_array_equal(back.default_scale, imp.default_scale)
    np.testing.assert_array_equal(back.impute(Y, 3, solver="ddim", steps=3, seed=1), a)
    with pytest.raises(ValueError, match="scaling must be 'none' or 'mean'"):
        CSDIImputer(2, scaling="max")

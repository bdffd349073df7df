"""ImputationPipeline: save/load round trip, half precision, named file errors, a training run
as a pipeline, argument checks."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch
from polydiff.core.pipeline import INDEX, ModelCard, PipelineError
from polydiff.timeseries.impute import CSDIImputer
from polydiff.timeseries.pipelines import ImputationPipeline, window_starts

TINY = {"layers": 1, "channels": 8, "heads": 2, "time_emb_dim": 16, "feature_emb_dim": 4,
        "diffusion_emb_dim": 16, "ff_dim": 8}
FEATURES = ["temp", "humid"]


def _windows(N=8, L=6, K=2, seed=0, p_missing=0.3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = np.sin(np.arange(L)[None, :, None] / 2 + rng.normal(size=(N, 1, K))) + 0.1 * rng.normal(size=(N, L, K))
    X[rng.random(X.shape) < p_missing] = np.nan
    X[:, 0, 0] = 0.5  # every window observes something
    return X


def _pipe(**config) -> ImputationPipeline:
    settings = {"train_steps": 2, "batch_size": 4, "solver": "ddim", "sample_steps": 3, **config}
    return ImputationPipeline(CSDIImputer(2, net=TINY, **settings).fit(_windows()), 6, FEATURES)


def _series(T=15, seed=1) -> np.ndarray:
    v = _windows(1, T, seed=seed)[0]
    v[3:5] = np.nan  # a gap across both features
    return v


def test_round_trip_gives_identical_imputations(tmp_path):
    pipe = _pipe()
    card = ModelCard(training_command="polydiff train timeseries --steps 2", data="tiny")
    pipe.save_pretrained(tmp_path / "p", card=card)
    loaded = ImputationPipeline.from_pretrained(tmp_path / "p")
    v = _series()
    a, b = pipe.impute_series(v, 4, (0.1, 0.9), seed=3), loaded.impute_series(v, 4, (0.1, 0.9), seed=3)
    assert a.median.shape == (15, 2) and np.array_equal(a.median, b.median)
    assert all(np.array_equal(a.quantiles[q], b.quantiles[q]) for q in (0.1, 0.9))
    obs = np.isfinite(v)
    assert np.array_equal(a.median[obs], v[obs]) and np.isfinite(a.median).all()
    assert (a.quantiles[0.1] <= a.quantiles[0.9]).all() and not np.array_equal(a.quantiles[0.1], a.quantiles[0.9])
    X = _windows(3, seed=5)
    assert np.array_equal(pipe(X, 2, seed=1), loaded(X, 2, seed=1))
    assert np.array_equal(pipe(X, 2, seed=1, steps=2), loaded(X, 2, seed=1, steps=2))  # overrides
    assert (loaded.window_length, loaded.features, loaded.card) == (6, FEATURES, card)
    assert (loaded.imputer.config.solver, loaded.imputer.config.sample_steps) == ("ddim", 3)
    for a_, b_ in zip(pipe.imputer.train_range, loaded.imputer.train_range):
        assert np.array_equal(a_, b_)
    assert set(json.loads((tmp_path / "p" / INDEX).read_text())["components"]) == {
        "net", "process", "sampler", "scaler", "training", "data"}
    assert not loaded.imputer.net.training


def test_half_precision_keeps_the_statistics_exact(tmp_path):
    pipe = _pipe(scaling="mean")
    pipe.save_pretrained(tmp_path / "h", dtype=torch.float16)
    loaded = ImputationPipeline.from_pretrained(tmp_path / "h")
    np.testing.assert_array_equal(loaded.imputer.normalizer.mean, pipe.imputer.normalizer.mean)
    np.testing.assert_array_equal(loaded.imputer.default_scale, pipe.imputer.default_scale)
    pipe.imputer.net.load_state_dict({k: v.half().float() for k, v in pipe.imputer.net.state_dict().items()})
    X = _windows(2, seed=4)
    assert np.array_equal(loaded(X, 2, seed=0), pipe(X, 2, seed=0))


def _rewrite(folder, name: str, text: str) -> None:
    """Replace a component file and its checksum (a consistent but wrong folder)."""
    blob = text.encode()
    (folder / name).write_bytes(blob)
    idx = json.loads((folder / INDEX).read_text())
    idx["files"][name] = {"bytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest()}
    (folder / INDEX).write_text(json.dumps(idx))


def test_missing_corrupt_and_wrong_files_are_named(tmp_path):
    _pipe().save_pretrained(tmp_path / "p")
    p = tmp_path / "p"
    (p / "scaler" / "config.json").write_text("{}")
    with pytest.raises(PipelineError, match=r"scaler/config\.json: corrupt"):
        ImputationPipeline.from_pretrained(p)
    cfg = json.loads(json.dumps({"scaling": "none", "mean": [0.0], "std": [1.0, 1.0], "train_lo": None,
                                 "train_hi": None, "default_scale": None}))
    _rewrite(p, "scaler/config.json", json.dumps(cfg))
    with pytest.raises(PipelineError, match=r"scaler/config\.json: 'mean' must be a list of 2 finite numbers"):
        ImputationPipeline.from_pretrained(p)
    net = json.loads((p / "net" / "config.json").read_text())
    _rewrite(p, "net/config.json", json.dumps({**net, "channels": 16, "heads": 2}))
    with pytest.raises(PipelineError, match=r"net/weights\.safetensors: .*shape mismatch"):
        ImputationPipeline.from_pretrained(p)
    (p / "net" / "weights.safetensors").unlink()
    with pytest.raises(PipelineError, match=r"net/weights\.safetensors: file is missing"):
        ImputationPipeline.from_pretrained(p)


def test_from_training_run(tmp_path):
    from polydiff.timeseries.train import main

    out = tmp_path / "run"
    main(["--data", "airquality", "--length", "10", "--stride", "10", "--batch-size", "8", "--layers", "1",
          "--channels", "8", "--heads", "2", "--samples", "2", "--solver", "ddim", "--solver-steps", "2",
          "--steps", "1", "--out", str(out)])
    pipe = ImputationPipeline.from_run(out)
    assert pipe.window_length == 10 and pipe.features == ["Ozone", "Solar.R", "Wind", "Temp"]
    assert pipe.card.training_command.startswith("polydiff train timeseries --data airquality")
    assert {m["metric"] for m in pipe.card.metrics} == {"MAE", "RMSE", "CRPS", "CRPS-sample"}
    pipe.save_pretrained(tmp_path / "p")
    again = ImputationPipeline.from_pretrained(tmp_path / "p")
    X = _windows(2, 10, 4, seed=2)
    assert np.array_equal(pipe(X, 2, seed=0, out_of_range="ignore"), again(X, 2, seed=0, out_of_range="ignore"))
    with pytest.raises(ValueError, match="not a 'forecast' run"):
        from polydiff.timeseries.pipelines import ForecastPipeline
        ForecastPipeline.from_run(out)


def test_bad_arguments_are_rejected():
    pipe = _pipe()
    with pytest.raises(TypeError, match="imputer must be a polydiff.timeseries.CSDIImputer, got dict"):
        ImputationPipeline({}, 6)
    with pytest.raises(ValueError, match="imputer is not fitted"):
        ImputationPipeline(CSDIImputer(2, net=TINY), 6)
    with pytest.raises(ValueError, match="window_length must be a positive int, got 0"):
        ImputationPipeline(pipe.imputer, 0)
    with pytest.raises(ValueError, match=r"features must be 2 distinct names"):
        ImputationPipeline(pipe.imputer, 6, ["a", "a"])
    with pytest.raises(TypeError, match="features must be a sequence of non-empty str"):
        ImputationPipeline(pipe.imputer, 6, "ab")
    with pytest.raises(ValueError, match=r"values must be a non-empty numeric \[T, 2\] array"):
        pipe.impute_series(np.zeros((4, 3)), 2)
    v = _series()
    v[6:12] = np.nan
    with pytest.raises(ValueError, match="values: rows 6..11 have no observed value"):
        pipe.impute_series(v, 2)


def test_window_starts_cover_the_series_without_padding():
    assert window_starts(4, 6) == [0]
    assert window_starts(12, 6) == [0, 6]
    assert window_starts(15, 6) == [0, 6, 9]

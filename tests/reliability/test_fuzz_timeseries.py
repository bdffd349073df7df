"""Fuzz of the timeseries front door: ``CSDIImputer.fit`` / ``impute`` with random missingness
patterns, ranks, infinities, magnitudes and sample counts. Each example ends in a named error
raised by polydiff or in finite samples that copy the observed entries bit for bit."""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fuzz import FUZZ, outcome

pytest.importorskip("polydiff.timeseries")
from polydiff.timeseries.impute import CSDIImputer

TINY = {"layers": 1, "channels": 8, "heads": 2, "time_emb_dim": 16, "feature_emb_dim": 4,
        "diffusion_emb_dim": 16}
K = 3
VALID = [None] * 6


def _series(seed: int, n: int, length: int, k: int, missing: float, scale: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = scale * (np.sin(np.arange(length)[None, :, None] / 3.0 + rng.normal(size=(n, 1, k)))
                 + 0.1 * rng.normal(size=(n, length, k)))
    X[rng.random(X.shape) < missing] = np.nan
    X[:, 0, :] = scale * rng.normal(size=(n, k))  # every series and feature keeps an observation
    return X


@pytest.fixture(scope="module")
def fitted() -> CSDIImputer:
    return CSDIImputer(K, net=TINY, train_steps=2, batch_size=4, sample_steps=3).fit(_series(0, 6, 8, K, 0.3, 1.0))


@FUZZ
@given(seed=st.integers(0, 2**16), n=st.integers(1, 3), length=st.integers(1, 9), missing=st.floats(0, 0.95),
       n_samples=st.integers(1, 3), solver=st.sampled_from(["ddpm", "ddim", "dpmpp_2m_sde"]),
       steps=st.integers(1, 3), scale=st.sampled_from([1e-6, 1.0, 1e3]),
       fault=st.sampled_from(VALID + ["rank2", "rank4", "inf", "all-missing-row", "features", "n_samples0",
                                      "n_samples-float", "strings", "empty", "steps0", "solver", "timestamps"]))
def test_impute_random_missingness(fitted, seed, n, length, missing, n_samples, solver, steps, scale, fault):
    X = _series(seed, n, length, K, missing, scale)
    ts = None
    if fault == "rank2":
        X = X[0]
    elif fault == "rank4":
        X = X[None]
    elif fault == "inf":
        X[0, -1, 0] = np.inf
    elif fault == "all-missing-row":
        X[-1] = np.nan
    elif fault == "features":
        X = np.concatenate([X, X[..., :1]], axis=2)
    elif fault in ("n_samples0", "n_samples-float"):
        n_samples = 0 if fault == "n_samples0" else 2.0
    elif fault == "strings":
        X = X.astype(str)
    elif fault == "empty":
        X = X[:0]
    elif fault == "steps0":
        steps = 0
    elif fault == "solver":
        solver = "magic"
    elif fault == "timestamps":
        ts = np.zeros((n, length + 1))
    # magnitudes 1e3 / 1e-6 x the training data: the out-of-range guard (tested in
    # tests/timeseries/test_gluonts_contract.py) is off here, this fuzzes input validation
    out, err = outcome(lambda: fitted.impute(X, n_samples, solver=solver, steps=steps, seed=seed, timestamps=ts,
                                             out_of_range="ignore"))
    assert (err is None) == (fault is None), err
    if out is not None:
        assert out.shape == (n, n_samples, length, K)
        obs = np.isfinite(X)
        assert np.array_equal(np.broadcast_to(X[:, None], out.shape)[np.broadcast_to(obs[:, None], out.shape)],
                              out[np.broadcast_to(obs[:, None], out.shape)])


@FUZZ
@given(seed=st.integers(0, 2**16), n=st.integers(1, 4), length=st.integers(1, 6), missing=st.floats(0, 0.9),
       scale=st.sampled_from([1e-300, 1e-6, 1.0, 1e6, 1e200]),
       fault=st.sampled_from(VALID + ["feature-never-observed", "nan-everywhere", "inf", "rank", "bool",
                                      "tensor-nan-row"]))
@example(seed=1, n=3, length=5, missing=0.3, scale=1e200, fault=None)  # squares overflowed: NaN samples
@example(seed=1, n=3, length=5, missing=0.3, scale=1e-300, fault=None)  # variance underflowed to 0
def test_fit_on_random_missingness_and_magnitudes(seed, n, length, missing, scale, fault):
    X = _series(seed, n, length, K, missing, scale)
    if fault == "feature-never-observed":
        X[..., 1] = np.nan
    elif fault == "nan-everywhere":
        X[:] = np.nan
    elif fault == "inf":
        X[0, 0, 0] = -np.inf
    elif fault == "rank":
        X = X.reshape(n, -1)
    elif fault == "bool":
        X = np.isfinite(X)
    elif fault == "tensor-nan-row":
        X = torch.from_numpy(X)
        X[0] = float("nan")
    imp = CSDIImputer(K, net=TINY, train_steps=1, batch_size=2, sample_steps=2)
    fit, err = outcome(lambda: imp.fit(X))
    assert (err is None) == (fault is None), err
    if fit is not None:
        assert all(np.isfinite(fit.train_losses))
        Xa = np.asarray(X, dtype=np.float64)
        out, err = outcome(lambda: fit.impute(Xa, 1, steps=2))
        assert err is None, err
        assert np.isfinite(out).all()
        sd = np.nanstd(Xa.reshape(-1, K) / scale, axis=0)  # the normaliser's spread is the data's
        np.testing.assert_allclose(fit.normalizer.std, np.where(sd > 0, sd * scale, 1.0), rtol=1e-9)


# --- metrics and calibration: masks, draws and levels ------------------------------------------
MASK_FAULTS = ["mask-2", "mask-half", "mask-nan", "mask-broadcast", "mask-empty", "samples-nan", "samples-inf",
               "no-draws", "target-nan", "level"]


@settings(FUZZ, max_examples=100)  # cheap per example: every fault kind is drawn
@given(seed=st.integers(0, 2**16), n=st.integers(1, 3), s=st.integers(1, 6), length=st.integers(1, 5),
       k=st.integers(1, 3), mask_kind=st.sampled_from(["bool", "int", "float"]),
       fn=st.sampled_from(["mae", "rmse", "sample_crps", "quantile_crps", "quantile_crps_sum", "coverage"]),
       level=st.one_of(st.floats(-1, 2), st.just(float("nan"))), fault=st.sampled_from(VALID + MASK_FAULTS))
def test_metrics_masks_draws_and_levels(seed, n, s, length, k, mask_kind, fn, level, fault):
    from polydiff.timeseries import calibration, metrics

    rng = np.random.default_rng(seed)
    samples, target = rng.normal(size=(n, s, length, k)), 1.0 + rng.random((n, length, k))
    mask = rng.random((n, length, k)) < 0.7
    mask.flat[0] = True
    m = mask.astype({"bool": bool, "int": np.int64, "float": np.float64}[mask_kind])
    ok_level = 0.5
    if fault == "mask-2":
        m = np.where(mask, 2, 0)
    elif fault == "mask-half":
        m = np.where(mask, 0.5, 0.0)
    elif fault == "mask-nan":
        m = np.where(mask, np.nan, 0.0)
    elif fault == "mask-broadcast":
        m = m[:1, None] if n == 1 else m[:1]  # n == 1: a rank-4 mask instead
    elif fault == "mask-empty":
        m = np.zeros_like(m)
    elif fault in ("samples-nan", "samples-inf"):
        samples[0, -1][mask[0]] = np.nan if fault == "samples-nan" else np.inf
    elif fault == "no-draws":
        samples = samples[:, :0]
    elif fault == "target-nan":
        target[0][mask[0]] = np.nan
    elif fault == "level":
        ok_level = level
    calls = {"mae": lambda: metrics.mae(samples, target, m), "rmse": lambda: metrics.rmse(samples, target, m),
             "sample_crps": lambda: metrics.sample_crps(samples, target, m),
             "quantile_crps": lambda: metrics.quantile_crps(samples, target, m,
                                                            quantiles=(0.1, ok_level) if fault == "level" else
                                                            metrics.QUANTILES),
             "quantile_crps_sum": lambda: metrics.quantile_crps_sum(samples, target, m),
             "coverage": lambda: calibration.interval_coverage(samples, target, m, ok_level)}
    out, err = outcome(calls[fn])
    expect_error = fault is not None and not (fault == "level" and (fn not in ("quantile_crps", "coverage")
                                                                    or 0 < level < 1))
    assert (err is None) == (not expect_error), (fault, fn, err)
    if err is not None and fault.startswith("mask"):
        assert "mask" in str(err)
    if err is not None and fault.startswith("samples"):
        assert "samples" in str(err)
    if out is not None and fn != "coverage":  # a 0/1 mask of any dtype scores what the boolean mask scores
        m = mask  # the calls read ``m`` when they run
        assert out == pytest.approx(calls[fn]())


# --- training masks: observed / pattern masks of random values and shapes -----------------------
@settings(FUZZ, max_examples=100)  # cheap per example: every fault kind is drawn
@given(seed=st.integers(0, 2**16), b=st.integers(1, 4), length=st.integers(2, 6), k=st.integers(1, 3),
       strategy=st.sampled_from(["random", "historical", "mix", "forecast"]), horizon=st.integers(1, 5),
       fault=st.sampled_from(VALID + ["values-2", "values-nan", "values-half", "pattern-broadcast", "pattern-values",
                                      "pattern-numpy", "horizon-float", "horizon-bool", "generator-int", "rank2"]))
def test_training_masks(seed, b, length, k, strategy, horizon, fault):
    from polydiff.timeseries import masks

    g = torch.Generator().manual_seed(seed)
    obs = (torch.rand(b, length, k, generator=g) < 0.7).float()
    pattern, gen, h = (torch.rand(b, length, k, generator=g) < 0.5).float(), torch.Generator().manual_seed(seed), horizon
    if fault == "values-2":
        obs[0, 0, 0] = 2.0
    elif fault == "values-nan":
        obs[0, 0, 0] = float("nan")
    elif fault == "values-half":
        obs = 0.5 * obs + 0.25  # every entry 0.25 or 0.75
    elif fault == "pattern-broadcast":
        pattern = pattern[:1, :, :1] if b > 1 or k > 1 else pattern[..., :0]
    elif fault == "pattern-values":
        pattern = pattern + 0.5
    elif fault == "pattern-numpy":
        pattern = pattern.numpy()
    elif fault == "horizon-float":
        h = horizon + 0.5
    elif fault == "horizon-bool":
        h = True
    elif fault == "generator-int":
        gen = seed
    elif fault == "rank2":
        obs = obs[0]
    pattern_used = strategy in ("historical", "mix")
    uses = {"pattern-broadcast": pattern_used, "pattern-values": pattern_used, "pattern-numpy": pattern_used,
            "horizon-float": strategy == "forecast", "horizon-bool": strategy == "forecast",
            "generator-int": strategy in ("random", "mix")}
    cond, err = outcome(lambda: masks.training_mask(strategy, obs, pattern_mask=pattern, horizon=h, generator=gen))
    expect_error = (fault is not None and uses.get(fault, True)) or (strategy == "forecast" and horizon >= length
                                                                    and fault not in ("horizon-float", "rank2"))
    assert (err is None) == (not expect_error), (fault, strategy, err)
    if cond is not None:
        assert cond.shape == obs.shape and bool(((cond == 0) | (cond == 1)).all()) and bool((cond <= obs).all())


# --- the GluonTS predictor: num_samples and data entries ---------------------------------------
@pytest.fixture(scope="module")
def predictor():
    from polydiff.timeseries.gluonts_api import CSDIEstimator

    train = [{"start": __import__("pandas").Period("2020-01-01", freq="D"), "target": np.sin(np.arange(30.0)) + 2}]
    return CSDIEstimator(2, 4, net=TINY, train_steps=1, batch_size=2, num_samples=2, steps=2, solver="ddim",
                         progress_bar=False, out_of_range="ignore").train(train)


@FUZZ
@given(seed=st.integers(0, 2**16), n_entries=st.integers(1, 3), length=st.integers(1, 12),
       num_samples=st.one_of(st.none(), st.integers(-2, 3), st.floats(-1, 3), st.booleans()),
       fault=st.sampled_from(VALID + ["inf", "all-nan", "context-nan", "strings", "no-target", "rank2", "not-dict"]))
def test_gluonts_predict_entries(predictor, seed, n_entries, length, num_samples, fault):
    import pandas as pd

    rng = np.random.default_rng(seed)
    start = pd.Period("2021-01-01", freq="D")
    entries = [{"start": start, "target": 2 + rng.normal(size=length)} for _ in range(n_entries)]
    bad = entries[-1]
    if fault == "inf":
        bad["target"][0] = np.inf
    elif fault == "all-nan":
        bad["target"][:] = np.nan
    elif fault == "context-nan":  # observed only before the last context_length = 4 steps
        bad["target"] = np.r_[np.ones(3), np.full(4, np.nan)]
    elif fault == "strings":
        bad["target"] = bad["target"].astype(str)
    elif fault == "no-target":
        del bad["target"]
    elif fault == "rank2":
        bad["target"] = bad["target"][None].repeat(2, 0)
    elif fault == "not-dict":
        entries[-1] = bad["target"]
    forecasts, err = outcome(lambda: list(predictor.predict(entries, num_samples=num_samples)))
    good_n = num_samples is None or (isinstance(num_samples, int) and not isinstance(num_samples, bool)
                                     and num_samples >= 1)
    assert (err is None) == (fault is None and good_n), (fault, num_samples, err)
    if err is not None and fault is not None and good_n:
        assert f"dataset entry {n_entries - 1}" in str(err), err
    if forecasts is not None:
        assert len(forecasts) == n_entries
        for f in forecasts:
            assert f.samples.shape == (num_samples or 2, 2) and np.isfinite(f.samples).all()


# --- the exact state-space posterior: random windows -------------------------------------------
@settings(FUZZ, max_examples=100)  # cheap per example: every fault kind is drawn
@given(seed=st.integers(0, 2**16), n=st.integers(0, 3), length=st.integers(0, 5), missing=st.floats(0, 1),
       method=st.sampled_from(["kalman", "conditional"]),
       fault=st.sampled_from(VALID + ["inf", "features", "strings", "rank2"]))
def test_statespace_posterior_random_windows(seed, n, length, missing, method, fault):
    from polydiff.timeseries.statespace import gaussian_conditional, kalman_smoother, var1_model

    model = var1_model(2)
    Y = model.sample(max(n, 1), max(length, 1), seed=seed)[:n, :length]
    Y[np.random.default_rng(seed).random(Y.shape) < missing] = np.nan
    if fault == "inf" and Y.size:
        Y.flat[0] = np.inf
    elif fault == "features":
        Y = np.concatenate([Y, Y[..., :1]], axis=2)
    elif fault == "strings":
        Y = Y.astype(str)
    elif fault == "rank2":
        Y = Y[..., 0]
    fn = kalman_smoother if method == "kalman" else gaussian_conditional
    post, err = outcome(lambda: fn(model, Y))
    assert (err is None) == (fault is None and n > 0 and length > 0), (fault, Y.shape, err)
    if post is not None:
        obs = np.isfinite(Y)
        assert np.array_equal(post.mean[obs], Y[obs]) and (post.var >= -1e-12).all()
        assert np.isfinite(post.mean).all() and (post.var[obs] == 0).all()


@pytest.fixture(scope="module")
def series_pipe():
    from polydiff.timeseries.pipelines import ImputationPipeline

    imp = CSDIImputer(K, net=TINY, train_steps=1, batch_size=4, solver="ddim", sample_steps=1)
    return ImputationPipeline(imp.fit(_series(0, 4, 5, K, 0.3, 1.0)), 5)


@FUZZ
@given(seed=st.integers(0, 2**16), length=st.integers(1, 12), missing=st.floats(0, 0.9),
       quantiles=st.lists(st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0]), max_size=3),
       fault=st.sampled_from(VALID + ["level-out", "level-nan", "level-str", "repeat", "quantiles-float",
                                      "timestamps-windows", "timestamps-huge", "inf", "rank3"]))
@example(seed=0, length=7, missing=0.2, quantiles=[], fault=None)  # the default: the median only (#31)
def test_impute_series_levels_and_times(series_pipe, seed, length, missing, quantiles, fault):
    """impute_series with any list of distinct levels in [0, 1] (none included) gives the median and
    one [T, K] array per level; repeated, out-of-range or non-numeric levels, windows-shaped or
    huge timestamps, inf and a wrong rank are named errors."""
    v = _series(seed, 1, length, K, missing, 1.0)[0]
    qs, ts = list(dict.fromkeys(quantiles)), None  # distinct unless the fault repeats one
    if fault == "level-out":
        qs = [*qs, 1.5]
    elif fault == "level-nan":
        qs = [*qs, float("nan")]
    elif fault == "level-str":
        qs = [*qs, "0.5"]
    elif fault == "repeat":
        qs = [*qs, 0.5, 0.5]
    elif fault == "quantiles-float":
        qs = 0.5
    elif fault == "timestamps-windows":
        ts = np.zeros((1, length))
    elif fault == "timestamps-huge":
        ts = 1e30 * np.arange(length, dtype=float)
    elif fault == "inf":
        v[-1, 0] = np.inf
    elif fault == "rank3":
        v = v[None]
    out, err = outcome(lambda: series_pipe.impute_series(v, 2, qs, seed=seed, steps=1, timestamps=ts,
                                                         out_of_range="ignore"))
    assert (err is None) == (fault is None), (fault, err)
    if out is not None:
        assert sorted(out.quantiles) == sorted(qs)
        obs = np.isfinite(v)
        for arr in (out.median, *out.quantiles.values()):
            assert arr.shape == v.shape and np.array_equal(arr[obs], v[obs])

"""Fuzz of the timeseries front door: ``CSDIImputer.fit`` / ``impute`` with random missingness
patterns, ranks, infinities, magnitudes and sample counts. Each example ends in a named error
raised by polydiff or in finite samples that copy the observed entries bit for bit."""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import example, given
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

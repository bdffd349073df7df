"""The PyPOTS contract: fit(train_set={"X": ...}, val_set={"X", "X_ori"}), predict(test_set,
n_sampling_times=) returning PyPOTS' keys and layout (checked against pypots' CSDI itself)."""
import numpy as np
import pytest
import torch
from polydiff.timeseries.impute import CSDIImputer
from polydiff.timeseries.pypots_api import indicating_mask, unpack_set

torch.set_num_threads(1)
TINY = {"layers": 1, "channels": 8, "heads": 2, "time_emb_dim": 16, "feature_emb_dim": 4,
        "diffusion_emb_dim": 16}


def _X(seed=0, N=8, T=10, K=3, rate=0.3):
    rng = np.random.default_rng(seed)
    X = np.sin(np.arange(T)[None, :, None] / 2 + rng.normal(size=(N, 1, K)))
    X_ori = X.copy()
    X[rng.random(X.shape) < rate] = np.nan
    X[:, 0] = X_ori[:, 0]
    return X, X_ori


def test_pypots_dicts_in_and_out_like_pypots_csdi():
    X, X_ori = _X()
    imp = CSDIImputer(3, net=TINY, train_steps=2, batch_size=4, sample_steps=2, solver="ddim")
    imp.fit(train_set={"X": X}, val_set={"X": X, "X_ori": X_ori}, n_sampling_times=3)
    assert np.isfinite(imp.val_loss) and np.isfinite(imp.val_mae)
    # val_mae by hand: median of 3 draws on the indicating mask
    hide = indicating_mask(X, X_ori)
    smp = imp.impute(X, 3)
    assert imp.val_mae == pytest.approx(np.abs(np.median(smp, 1) - X_ori)[hide].mean())
    res = imp.predict({"X": X}, n_sampling_times=2)
    assert set(res) == {"imputation"} and res["imputation"].shape == (8, 2, 10, 3)
    assert imp.predict({"X": torch.from_numpy(X)})["imputation"].shape == (8, 1, 10, 3)  # PyPOTS' default
    np.testing.assert_array_equal(imp.impute({"X": X}, n_sampling_times=2), res["imputation"])
    # the same keys and layout as pypots' CSDI on the same input
    from polydiff.timeseries.baselines import pypots_csdi_model
    peer = pypots_csdi_model(10, 3, steps=1, n_train=8, batch_size=8, layers=1, channels=8,
                             heads=2, time_emb_dim=16, feature_emb_dim=4, diffusion_emb_dim=16)
    peer.fit({"X": X.astype(np.float32)})
    ref = peer.predict({"X": X.astype(np.float32)}, n_sampling_times=2)
    # pypots also returns "reconstruction" (the raw network output, noise at observed entries)
    assert ref["imputation"].shape == res["imputation"].shape


def test_pypots_input_errors_name_the_problem():
    X, X_ori = _X()
    imp = CSDIImputer(3, net=TINY, train_steps=1, batch_size=4)
    with pytest.raises(TypeError, match="HDF5"):
        imp.fit(train_set="data.h5")
    with pytest.raises(TypeError, match="key 'X'"):
        imp.fit(train_set={"x": X})
    with pytest.raises(ValueError, match=r"unexpected keys \['y'\]"):
        unpack_set({"X": X, "y": np.zeros(8)}, "train_set")
    with pytest.raises(ValueError, match="shape"):
        unpack_set({"X": X, "X_ori": X_ori[:2]}, "val_set")
    with pytest.raises(TypeError, match="fit\\(train_set="):
        imp.loss({"X": X})
    imp.fit({"X": X})
    with pytest.raises(ValueError, match="not both"):
        imp.predict({"X": X}, n_samples=2, n_sampling_times=2)
    with pytest.raises(ValueError, match="nothing to score"):
        imp.fit({"X": X}, val_set={"X": X, "X_ori": X})

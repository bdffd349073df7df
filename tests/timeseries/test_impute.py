"""Sampling and the PyPOTS-style API: observed values pass through, batching is invisible,
bad input is rejected clearly, checkpoints round-trip."""
import numpy as np
import pytest
import torch
from polydiff.timeseries.diffusion import csdi_process, row_generators, sample_imputations
from polydiff.timeseries.impute import CSDIImputer
from polydiff.timeseries.nets import CSDIConfig, CSDINet

torch.set_num_threads(1)
TINY = {"layers": 1, "channels": 8, "heads": 2, "time_emb_dim": 16, "feature_emb_dim": 4,
        "diffusion_emb_dim": 16}


def _net(K=3, seed=0):
    torch.manual_seed(seed)
    net = CSDINet(CSDIConfig(n_features=K, **TINY))
    torch.nn.init.normal_(net.output_projection2.weight, std=0.05)
    return net.eval()


def _series(N=6, L=8, K=3, seed=0, p_missing=0.3):
    rng = np.random.default_rng(seed)
    X = np.cumsum(rng.normal(size=(N, L, K)), axis=1) + 5
    X[rng.random(X.shape) < p_missing] = np.nan
    X[:, 0, :] = 1.0  # no series is entirely missing
    return X


@pytest.mark.parametrize("solver,steps", [("ddpm", 20), ("ddim", 5), ("dpmpp_2m", 5)])
def test_batched_equals_per_sample(solver, steps):
    net, proc = _net(), csdi_process()
    vals = torch.randn(2, 8, 3)
    mask = (torch.rand(2, 8, 3, generator=torch.Generator().manual_seed(1)) < 0.5).float()
    S = 3
    batched = sample_imputations(net, proc, vals, mask, n_samples=S, solver=solver, steps=steps,
                                 generators=row_generators(7, 2 * S), max_batch=64)
    single = sample_imputations(net, proc, vals, mask, n_samples=S, solver=solver, steps=steps,
                                generators=row_generators(7, 2 * S), max_batch=1)
    assert torch.allclose(batched, single, rtol=1e-4, atol=1e-5)
    # and one series alone, with its own rows' generators, gives the same draws
    alone = sample_imputations(net, proc, vals[1:], mask[1:], n_samples=S, solver=solver,
                               steps=steps, generators=row_generators(7, 2 * S)[S:])
    assert torch.allclose(batched[1:], alone, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(batched[:, 0], batched[:, 1])  # samples differ from each other
    assert torch.equal(batched[mask[:, None].expand_as(batched) > 0],
                       vals[:, None].expand_as(batched)[mask[:, None].expand_as(batched) > 0])


def test_imputer_fit_impute_predict_save_load(tmp_path):
    X = _series()
    imp = CSDIImputer(3, net=TINY, train_steps=3, batch_size=4)
    imp.fit(X, val_X=_series(seed=1))
    assert np.isfinite(imp.val_loss) and len(imp.train_losses) >= 1
    s = imp.impute(X, n_samples=4, solver="ddim", steps=4)
    assert s.shape == (6, 4, 8, 3) and np.isfinite(s).all()
    obs = np.isfinite(X)
    assert np.array_equal(s[:, 2][obs], X[obs])  # observed entries come out bit-exact
    out = imp.predict(X, n_samples=4, quantiles=(0.05, 0.5, 0.95), solver="ddim", steps=4)
    assert out["imputation"].shape == (6, 8, 3)
    assert np.allclose(out["quantiles"][0.5], out["imputation"])
    assert (out["quantiles"][0.05] <= out["quantiles"][0.95] + 1e-12).all()
    imp.save(tmp_path / "run")
    again = CSDIImputer.load(tmp_path / "run")
    s2 = again.impute(X, n_samples=4, solver="ddim", steps=4)
    assert np.allclose(s, s2, atol=1e-5)
    assert not list((tmp_path / "run").rglob("*.pt")) and list((tmp_path / "run").rglob("*.safetensors"))


def test_imputer_rejects_bad_input():
    imp = CSDIImputer(3, net=TINY, train_steps=1, batch_size=2)
    X = _series()
    with pytest.raises(ValueError, match="rank 2"):
        imp.fit(X[0])
    Xall = X.copy()
    Xall[2] = np.nan
    with pytest.raises(ValueError, match=r"series \[2\] are entirely missing"):
        imp.fit(Xall)
    Xinf = X.copy()
    Xinf[0, 1, 1] = np.inf
    with pytest.raises(ValueError, match="infinite"):
        imp.fit(Xinf)
    with pytest.raises(TypeError, match="numbers"):
        imp.fit(np.array([[["a"]]]))
    with pytest.raises(ValueError, match="not fitted"):
        imp.impute(X, n_samples=2)
    imp.fit(X)
    with pytest.raises(ValueError, match="n_samples"):
        imp.impute(X, n_samples=0)
    with pytest.raises(ValueError, match="features"):
        imp.impute(X[:, :, :2], n_samples=1)
    with pytest.raises(ValueError, match="unknown solver"):
        imp.impute(X, n_samples=1, solver="nope")
    for bad in (0, -3):  # not silently replaced by the configured step count
        with pytest.raises(ValueError, match="steps"):
            imp.impute(X, n_samples=1, steps=bad)
    with pytest.raises(ValueError, match="unknown solver"):
        imp.impute(X, n_samples=1, solver="")
    with pytest.raises(ValueError, match="timestamps must be"):
        imp.impute(X, n_samples=1, timestamps=np.zeros((6, 7)))


def test_irregular_timestamps_and_mix_strategy():
    """Irregular clinical series (PBC visits) train and sample with their own times."""
    from polydiff.timeseries.data import load_pbc
    v, t, _ = load_pbc(max_visits=6)
    v, t = v[:24], t[:24]
    imp = CSDIImputer(v.shape[2], net=TINY, train_steps=2, batch_size=8, strategy="mix")
    imp.fit(v, timestamps=t)
    s = imp.impute(v[:3], n_samples=2, solver="ddim", steps=3, timestamps=t[:3])
    obs = np.isfinite(v[:3])
    assert s.shape == (3, 2, 6, 12) and np.isfinite(s).all()
    assert np.array_equal(s[:, 1][obs], v[:3][obs])
    # the times reach the network: other times give other samples
    s2 = imp.impute(v[:3], n_samples=2, solver="ddim", steps=3, timestamps=t[:3] * 10)
    assert not np.allclose(s, s2)


def test_ddpm50_equals_csdi_algorithm_2():
    """pc.sample(ddpm, 50) reproduces CSDI's ancestral sampler (Tashiro et al. 2021, Alg. 2):
    x_{t-1} = (x_t - beta_t / sqrt(1 - abar_t) eps) / sqrt(1 - beta_t) + sigma_t z, with
    sigma_t^2 = beta_t (1 - abar_{t-1}) / (1 - abar_t), fed the same noise."""
    net, proc = _net(), csdi_process()
    vals = torch.randn(1, 8, 3)
    mask = (torch.rand(1, 8, 3, generator=torch.Generator().manual_seed(2)) < 0.5).float()
    ours = sample_imputations(net, proc, vals, mask, n_samples=1, solver="ddpm", steps=50,
                              generators=row_generators(3, 1))[:, 0]
    beta = torch.linspace(1e-4 ** 0.5, 0.5 ** 0.5, 50, dtype=torch.float64) ** 2
    abar = torch.cumprod(1 - beta, 0)
    g = row_generators(3, 1)[0]
    x = torch.randn((8, 3), generator=g)[None].double()
    with torch.no_grad():
        for t in range(49, -1, -1):
            eps = net(x.float(), torch.tensor([float(t)]), cond_values=vals, cond_mask=mask).double()
            x = (x - beta[t] / (1 - abar[t]).sqrt() * eps) / (1 - beta[t]).sqrt()
            if t > 0:
                sig = (beta[t] * (1 - abar[t - 1]) / (1 - abar[t])).sqrt()
                x = x + sig * torch.randn((8, 3), generator=g)[None].double()
    ref = torch.where(mask > 0, vals, x.float())
    assert torch.allclose(ours, ref, rtol=1e-4, atol=1e-4)


def test_max_batch_override_changes_speed_not_samples():
    X = _series(N=5)
    imp = CSDIImputer(3, net=TINY, train_steps=1, batch_size=2, sample_steps=3).fit(X)
    ref = imp.impute(X, 3, seed=4)  # the configured 512 rows per call: one call
    for mb in (1, 4):
        np.testing.assert_allclose(imp.impute(X, 3, seed=4, max_batch=mb), ref, rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="max_batch"):
        imp.impute(X, 3, max_batch=0)


def test_continuous_grid_is_refused_with_the_reason():
    """CSDI's step embedding is only trained at integer steps: a grid between them is refused."""
    net = CSDINet(CSDIConfig(n_features=2, layers=1, channels=8, heads=2))
    vals = torch.zeros(1, 4, 2)
    mask = torch.ones(1, 4, 2)
    mask[0, 1, 0] = 0
    with pytest.raises(ValueError, match="integer steps"):
        sample_imputations(net, csdi_process(), vals, mask, n_samples=1, solver="ddim", steps=5,
                           grid="log_snr")
    out = sample_imputations(net, csdi_process(), vals, mask, n_samples=1, solver="ddim", steps=5,
                             grid="linspace")
    assert out.shape == (1, 1, 4, 2)

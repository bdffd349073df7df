"""The few-step collapse: the first-step error arithmetic on CSDI's schedule, and the x0 clamp
that keeps a wrong network's samples inside the training range."""
import numpy as np
import pytest
import torch
from polydiff.timeseries.diffusion import csdi_process
from polydiff.timeseries.few_step import first_step_injection, top_step_x0_error
from polydiff.timeseries.impute import CSDIImputer

torch.set_num_threads(1)
TINY = {"layers": 1, "channels": 8, "heads": 2, "time_emb_dim": 16, "feature_emb_dim": 4,
        "diffusion_emb_dim": 16}


def test_first_step_injection_on_the_csdi_schedule():
    p = csdi_process()
    ab = torch.cumprod(1 - torch.linspace(1e-4 ** 0.5, 0.5 ** 0.5, 50, dtype=torch.float64) ** 2, 0)
    snr = lambda t: float((ab[t] / (1 - ab[t])).sqrt())  # alpha / sigma at integer step t
    assert 1 / snr(49) == pytest.approx(172.7, rel=1e-3)
    # 5 trailing steps jump 49 -> 39, 50 steps 49 -> 48
    assert first_step_injection(p, 10.0, 5, "dpmpp_2m_sde") == pytest.approx(10 * snr(39), rel=1e-9)
    assert first_step_injection(p, 10.0, 50, "ddpm") == pytest.approx(10 * snr(48), rel=1e-9)
    assert first_step_injection(p, 10.0, 5, "ddim") > 9 * first_step_injection(p, 10.0, 50, "ddpm")


class _WrongEps(torch.nn.Module):
    """A network off by a constant 0.5 in eps: x0_hat = (x - sigma eps)/alpha explodes at t = 49."""

    def __init__(self):
        super().__init__()
        self.unused = torch.nn.Parameter(torch.zeros(1))  # the imputer reads the device from it

    def forward(self, x, t, *, cond_values, cond_mask, timestamps=None):
        return torch.full_like(x, 0.5)


@pytest.mark.parametrize("solver,steps", [("ddim", 5), ("dpmpp_2m_sde", 5)])
def test_x0_clamp_keeps_a_wrong_network_inside_the_training_range(solver, steps):
    rng = np.random.default_rng(0)
    X = rng.uniform(2.0, 5.0, size=(8, 6, 2))
    imp = CSDIImputer(2, net=TINY, train_steps=1, batch_size=4).fit(X)
    imp.net = _WrongEps()
    Y = X[:2].copy()
    Y[:, 1::2] = np.nan
    miss = np.isnan(Y)[:, None].repeat(3, 1)
    clamped = imp.impute(Y, 3, solver=solver, steps=steps, out_of_range="ignore")
    assert clamped[miss].min() >= X.min() - 1e-5 and clamped[miss].max() <= X.max() + 1e-5
    imp.config = type(imp.config)(**{**imp.config.__dict__, "x0_clip": False})
    free = imp.impute(Y, 3, solver=solver, steps=steps, out_of_range="ignore")
    assert np.abs(free[miss] - 3.5).max() > 10 * 1.5  # far outside without the clamp
    # the diagnostic sees the same error: (sigma / alpha)(49) * 0.5 eps error, in std units
    ds_vals = torch.as_tensor(imp.normalizer.transform(X), dtype=torch.float32)
    err = top_step_x0_error(imp.net, imp.process, ds_vals, torch.ones_like(ds_vals))
    assert err == pytest.approx(172.7 * np.sqrt(0.25 + 1.0), rel=0.05)  # E(eps - 0.5)^2 = 1.25

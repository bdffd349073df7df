"""Likelihoods: PF-ODE NLL against exact densities, Hutchinson unbiasedness, bits/dim, DDPM bound."""
import math

import polydiff.core as pc
import pytest
import torch
from polydiff.core.discrete import DiscreteVP
from polydiff.core.likelihood import bits_per_dim, discrete_vlb, ode_nll
from polydiff.core.losses import dsm_loss
from polydiff.core.testing import GaussianMixture


def _mixture(d=4):
    g = torch.Generator().manual_seed(0)
    return GaussianMixture(0.5 * torch.randn(2, d, generator=g, dtype=torch.float64),
                           torch.tensor([0.3, 0.5]), torch.tensor([0.4, 0.6]))


@pytest.mark.parametrize("proc,prediction", [(pc.VP(), "eps"), (pc.VE(), "eps"), (pc.VP(), "v"),
                                             (pc.EDM(), "edm"), (pc.Flow(), "flow")],
                         ids=["vp-eps", "ve-eps", "vp-v", "edm-edm", "flow-flow"])
def test_ode_nll_matches_exact_log_density(proc, prediction):
    """Song et al. 2021 App. D: with the exact score the PF-ODE NLL is the exact -log p_{t_min}."""
    gm = _mixture()
    x = gm.sample(6, torch.Generator().manual_seed(1)) * proc.alpha(torch.tensor(proc.t_min)) \
        + proc.sigma(torch.tensor(proc.t_min)) * torch.randn(6, 4, dtype=torch.float64)
    exact = -gm.log_prob(x, proc.t_min, proc)
    nll = ode_nll(gm.as_model(proc, prediction), proc, x, prediction, hutchinson="exact")
    assert ((nll - exact).abs() <= 0.01 * exact.abs().clamp_min(1.0)).all(), (nll, exact)


def test_ode_nll_float32_model_and_rank_3_input():
    gm, proc = GaussianMixture(torch.zeros(1, 6), 0.3), pc.VP()
    x = gm.sample(3, torch.Generator().manual_seed(2), shape=(2, 3))
    exact = -gm.log_prob(x, proc.t_min, proc)
    nll = ode_nll(gm.as_model(proc, "eps"), proc, x.float(), "eps", hutchinson="exact")
    assert nll.shape == (3,) and ((nll - exact).abs() <= 0.01 * exact.abs().clamp_min(1.0)).all()


@pytest.mark.parametrize("kind", ["rademacher", "gaussian"])
def test_hutchinson_estimate_is_unbiased(kind):
    gm, proc = _mixture(3), pc.VP()
    x = gm.sample(1, torch.Generator().manual_seed(3))
    model = gm.as_model(proc, "eps")
    exact = ode_nll(model, proc, x, "eps", hutchinson="exact")
    n = 200
    est = ode_nll(model, proc, x.expand(n, 3).clone(), "eps", hutchinson=kind,
                  generator=torch.Generator().manual_seed(4))
    se = float(est.std()) / math.sqrt(n)
    assert abs(float(est.mean() - exact)) < 4 * se
    more = ode_nll(model, proc, x.expand(64, 3).clone(), "eps", hutchinson=kind, n_probes=4,
                   generator=torch.Generator().manual_seed(5))
    assert float(more.std()) < 0.75 * float(est.std())  # the variance falls like 1/n_probes


def test_rk4_agrees_with_rk45():
    gm, proc = _mixture(2), pc.VP()
    x = gm.sample(4, torch.Generator().manual_seed(6))
    model = gm.as_model(proc, "x0")
    a, nfe = ode_nll(model, proc, x, "x0", hutchinson="exact", return_nfe=True)
    b = ode_nll(model, proc, x, "x0", hutchinson="exact", method="rk4", steps=40)
    torch.testing.assert_close(a, b, rtol=0, atol=2e-4)
    assert nfe < 400


def test_bits_per_dim_convention():
    """A model density uniform over the dequantised cube [-1, 1 + delta)^D gives log2(n_bins)."""
    D, n_bins = 3072, 256
    delta = 2.0 / (n_bins - 1)
    nll = torch.tensor([D * math.log(n_bins * delta)])
    assert float(bits_per_dim(nll, D)) == pytest.approx(8.0, abs=1e-12)
    # the formula spelled out: (nll + D log 127.5) / (D ln 2)
    v = torch.tensor([1234.5, -200.0], dtype=torch.float64)
    torch.testing.assert_close(bits_per_dim(v, D), (v + D * math.log(127.5)) / (D * math.log(2)))
    # a histogram density P(k)/delta on the bins recovers -log2 P(k) per dimension exactly
    p = torch.softmax(torch.randn(n_bins, generator=torch.Generator().manual_seed(0), dtype=torch.float64), 0)
    k = torch.tensor([0, 17, 255])
    nll_x = -(p[k] / delta).log()
    torch.testing.assert_close(bits_per_dim(nll_x, 1), -p[k].log2())
    # score_sde's convention x = 2(k+u)/256 - 1: an offset of 7 bits
    assert float(bits_per_dim(torch.tensor([0.0]), 10, bin_width=2 / 256)) == pytest.approx(7.0)
    assert float(bits_per_dim(torch.tensor([10 * 8 * math.log(2)]), 10, dequant="none")) == pytest.approx(8.0)
    with pytest.raises(ValueError, match="dequant"):
        bits_per_dim(nll, D, dequant="variational")
    with pytest.raises(ValueError, match="D must be"):
        bits_per_dim(nll, 0)


def _log_snr_vp(T, lam_max=8.0, lam_min=-8.0):
    """A DiscreteVP whose log-SNR falls uniformly from lam_max to lam_min over T steps."""
    ab = torch.sigmoid(torch.linspace(lam_max, lam_min, T, dtype=torch.float64))
    ab = torch.cat([torch.ones(1, dtype=torch.float64), ab])
    return DiscreteVP(1 - ab[1:] / ab[:-1])


def test_discrete_vlb_bounds_the_true_nll_and_tightens_with_T():
    """E[VLB] >= E[-log p_data] (cross-entropy >= entropy), and the gap shrinks as T grows."""
    gm, n = GaussianMixture(torch.zeros(1, 2), 0.5), 1000
    x = gm.sample(n, torch.Generator().manual_seed(0))
    true_nll = -gm.log_prob(x)
    gaps = []
    for T in (10, 40, 160):
        proc = _log_snr_vp(T)
        vlb = discrete_vlb(gm.as_model(proc, "eps"), proc, x, "eps", generator=torch.Generator().manual_seed(T))
        diff = vlb - true_nll
        se = float(diff.std()) / math.sqrt(n)
        assert float(diff.mean()) > -4 * se
        gaps.append((float(diff.mean()), se))
    assert gaps[0][0] > gaps[1][0] + 4 * gaps[1][1] and gaps[1][0] > gaps[2][0] + 4 * gaps[2][1], gaps
    assert gaps[2][0] < 0.5 * gaps[0][0]


def test_discrete_vlb_diffusion_term_is_the_likelihood_weighted_dsm_loss():
    """T D / 2 * E_i[dsm_loss(weighting='likelihood')] = diffusion + quadratic part of the decoder."""
    gm, n, T = GaussianMixture(torch.zeros(1, 2), 0.5), 4000, 40
    proc = _log_snr_vp(T)
    x = gm.sample(n, torch.Generator().manual_seed(0))
    model = gm.as_model(proc, "eps")
    _, terms = discrete_vlb(model, proc, x, "eps", generator=torch.Generator().manual_seed(1), return_terms=True)
    beta0 = float(1 - proc.alphas_cumprod[0])
    lhs = terms["diffusion"] + terms["decoder"] - math.log(2 * math.pi * beta0)  # D/2 log(2 pi b0), D = 2
    loss = dsm_loss(model, proc, x, weighting="likelihood", time_sampling="importance",
                    generator=torch.Generator().manual_seed(2)) * T * 2 / 2
    se = math.hypot(float(lhs.std()), float(loss.std())) / math.sqrt(n)
    assert abs(float(lhs.mean() - loss.mean())) < 4 * se, (float(lhs.mean()), float(loss.mean()), se)


def test_discretized_decoder_is_density_times_bin_width():
    """With decoder std >> bin width, Ho's discretised decoder ~ Gaussian density * bin width."""
    gm = GaussianMixture(torch.zeros(1, 3), 0.3)
    proc = _log_snr_vp(20, lam_max=4.0)  # beta_0 ~ 0.018: std 0.13 >> 2/255
    k = torch.randint(60, 196, (50, 3), generator=torch.Generator().manual_seed(0))
    x = k.double() / 127.5 - 1
    model = gm.as_model(proc, "eps")
    _, tg = discrete_vlb(model, proc, x, "eps", generator=torch.Generator().manual_seed(1), return_terms=True)
    _, td = discrete_vlb(model, proc, x, "eps", decoder="discretized", generator=torch.Generator().manual_seed(1),
                         return_terms=True)
    torch.testing.assert_close(td["decoder"], tg["decoder"] - 3 * math.log(2 / 255), rtol=0, atol=2e-3)
    with pytest.raises(ValueError, match="grid"):
        discrete_vlb(model, proc, x + 1e-3, "eps", decoder="discretized")


def test_bad_input_raises():
    gm, proc = _mixture(2), pc.VP()
    model = gm.as_model(proc, "eps")
    x = torch.zeros(2, 2)
    with pytest.raises(ValueError, match="unknown hutchinson"):
        ode_nll(model, proc, x, hutchinson="skilling")
    with pytest.raises(ValueError, match="unknown prediction"):
        ode_nll(model, proc, x, "noise")
    with pytest.raises(ValueError, match="NaN"):
        ode_nll(model, proc, torch.full((2, 2), float("nan")))
    with pytest.raises(ValueError, match="n_probes"):
        ode_nll(model, proc, x, n_probes=0)
    with pytest.raises(ValueError, match="model output has shape"):
        ode_nll(lambda x, t: x[:, :1], proc, x)
    with pytest.raises(ValueError, match="NaN or inf at t="):
        ode_nll(lambda x, t: x * float("nan"), proc, x)
    with pytest.raises(TypeError, match="needs a DiscreteVP"):
        discrete_vlb(model, proc, x)
    with pytest.raises(ValueError, match="unknown decoder"):
        discrete_vlb(model, _log_snr_vp(5), x, decoder="logistic")

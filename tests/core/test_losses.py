"""Denoising score matching (``polydiff.core.losses.dsm_loss``): weightings, masks, time sampling."""
import math

import polydiff.core as pc
import pytest
import torch
from polydiff.core.discrete import DiscreteVP
from polydiff.core.losses import dsm_loss
from polydiff.core.testing import GaussianMixture

S0 = 0.7  # data std of the single-Gaussian data set used below


def _gauss(d=4):
    return GaussianMixture(torch.zeros(1, d), S0)


def _eps_net(scale=0.9):
    """A deliberately inexact eps-network: a fixed shrinkage of x (the same for every t)."""
    return lambda x, t: scale * x


def _as(pred, eps_net, process):
    """Wrap an eps-network as a network predicting ``pred`` (independent textbook formulas)."""

    def net(x, t):
        e = eps_net(x, t)
        a = process.alpha(t.double()).to(x)[:, None]
        s = process.sigma(t.double()).to(x)[:, None]
        x0 = (x - s * e) / a
        return {"eps": e, "x0": x0, "v": a * e - s * x0, "score": -e / s}[pred]

    return net


@pytest.mark.parametrize("prediction", ["eps", "x0"])
@pytest.mark.parametrize("proc", [pc.VP(), pc.VE(), pc.Flow()], ids=["vp", "ve", "flow"])
def test_exact_model_attains_the_analytic_minimum(prediction, proc):
    """For x0 ~ N(0, s0^2 I): E|eps - E[eps|x_t]|^2 / D = a^2 s0^2 / (a^2 s0^2 + s^2) and
    E|x0 - E[x0|x_t]|^2 / D = s0^2 s^2 / (a^2 s0^2 + s^2) (Gaussian conditional variances)."""
    gm, n = _gauss(), 20000
    g = torch.Generator().manual_seed(0)
    x0 = gm.sample(n, g)
    t = torch.full((n,), proc.t_min + 0.3 * (proc.t_max - proc.t_min), dtype=torch.float64)
    a, s = float(proc.alpha(t[:1])), float(proc.sigma(t[:1]))
    eps = torch.randn(x0.shape, generator=g, dtype=torch.float64)
    loss = dsm_loss(gm.as_model(proc, prediction), proc, x0, prediction=prediction, t=t, eps=eps)
    v = a**2 * S0**2 + s**2
    expected = a**2 * S0**2 / v if prediction == "eps" else S0**2 * s**2 / v
    se = float(loss.std()) / math.sqrt(n)
    assert abs(float(loss.mean()) - expected) < 4 * se
    worse = dsm_loss(lambda x, tt: gm.as_model(proc, prediction)(x, tt) + 0.05, proc, x0,
                     prediction=prediction, t=t, eps=eps)
    assert float(worse.mean()) > float(loss.mean())


@pytest.mark.parametrize("prediction", ["eps", "x0", "v", "score"])
def test_snr_weighting_is_the_eps_mse_for_every_prediction(prediction):
    proc, x0 = pc.VP(), _gauss().sample(16, torch.Generator().manual_seed(1)).float()
    ref = dsm_loss(_eps_net(), proc, x0, prediction="eps", weighting="simple",
                   generator=torch.Generator().manual_seed(2))
    got = dsm_loss(_as(prediction, _eps_net(), proc), proc, x0, prediction=prediction, weighting="snr",
                   generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(got, ref, rtol=2e-4, atol=1e-7)


def test_x0_loss_is_the_eps_loss_divided_by_snr():
    proc, x0 = pc.VP(), _gauss().sample(16, torch.Generator().manual_seed(1))
    t = torch.linspace(0.05, 0.95, 16, dtype=torch.float64)
    eps = torch.randn(16, 4, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    le = dsm_loss(_eps_net(), proc, x0, prediction="eps", t=t, eps=eps)
    lx = dsm_loss(_as("x0", _eps_net(), proc), proc, x0, prediction="x0", t=t, eps=eps)
    snr = (proc.alpha(t) / proc.sigma(t)) ** 2
    torch.testing.assert_close(lx, le / snr)


def test_min_snr_matches_hang_et_al_for_eps_and_diffusers_for_v():
    """Hang et al. 2023: eps-loss weight min(SNR, g)/SNR; v-loss weight min(SNR, g)/(SNR + 1)
    (the formula of diffusers' train_text_to_image.py)."""
    proc, x0 = pc.VP(), _gauss().sample(32, torch.Generator().manual_seed(1))
    t = torch.linspace(0.01, 0.99, 32, dtype=torch.float64)
    eps = torch.randn(32, 4, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    snr = (proc.alpha(t) / proc.sigma(t)) ** 2
    for pred, w in (("eps", snr.clamp(max=5.0) / snr), ("v", snr.clamp(max=5.0) / (snr + 1))):
        net = _as(pred, _eps_net(), proc)
        plain = dsm_loss(net, proc, x0, prediction=pred, t=t, eps=eps)
        got = dsm_loss(net, proc, x0, prediction=pred, t=t, eps=eps, weighting="min_snr", min_snr_gamma=5.0)
        torch.testing.assert_close(got, w * plain)


def test_likelihood_weighting_is_beta_over_sigma2_on_eps_for_vp():
    """Song et al. 2021 (ML training): lambda = g^2 on the score loss; VP: g^2 = beta(t)."""
    proc, x0 = pc.VP(), _gauss().sample(8, torch.Generator().manual_seed(1))
    t = torch.linspace(0.01, 1.0, 8, dtype=torch.float64)
    eps = torch.randn(8, 4, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    beta = proc.beta_min + t * (proc.beta_max - proc.beta_min)
    plain = dsm_loss(_eps_net(), proc, x0, t=t, eps=eps)
    got = dsm_loss(_eps_net(), proc, x0, t=t, eps=eps, weighting="likelihood")
    torch.testing.assert_close(got, beta / proc.sigma(t) ** 2 * plain)
    # the same weight expressed on the score network's own output is g^2 (eps-MSE / sigma^2)
    got_s = dsm_loss(_as("score", _eps_net(), proc), proc, x0, prediction="score", t=t, eps=eps,
                     weighting="likelihood")
    torch.testing.assert_close(got_s, got)


def test_edm_weighting_and_lognormal_sampling():
    proc = pc.EDM()
    x0 = _gauss().sample(4000, torch.Generator().manual_seed(1))
    seen = {}

    def d_net(x, t):  # an x0 (denoiser D) network: D = x / (1 + sigma)
        seen["t"] = t
        return x / (1 + t[:, None])

    g = torch.Generator().manual_seed(5)
    loss = dsm_loss(d_net, proc, x0, prediction="x0", weighting="edm", generator=g)
    sig = seen["t"].double()
    ln = sig.log()
    assert abs(float(ln.mean()) + 1.2) < 0.06 and abs(float(ln.std()) - 1.2) < 0.05  # P_mean, P_std
    # E[loss | sigma] = lambda(sigma) sigma^2 (1 + s0^2) / (1 + sigma)^2 for this D, data N(0, s0^2)
    sd = proc.sigma_data
    cond_mean = (sig**2 + sd**2) / sd**2 * (1 + S0**2) / (1 + sig) ** 2
    assert abs(float((loss - cond_mean).mean())) < 4 * float((loss - cond_mean).std()) / math.sqrt(4000)
    t = torch.tensor([0.1, 1.0, 10.0], dtype=torch.float64)
    eps = torch.randn(3, 4, generator=g, dtype=torch.float64)
    plain = dsm_loss(d_net, proc, x0[:3], prediction="x0", t=t, eps=eps)
    got = dsm_loss(d_net, proc, x0[:3], prediction="x0", t=t, eps=eps, weighting="edm")
    torch.testing.assert_close(got, (t**2 + sd**2) / (t * sd) ** 2 * plain)
    # with the "edm" (F) prediction, Karras' weighting makes the loss a plain MSE on F
    f_net = gm_f = _gauss().as_model(proc, "edm")
    lf = dsm_loss(lambda x, tt: gm_f(x, tt) + 0.1, proc, x0[:3], prediction="edm", t=t, eps=eps, weighting="edm")
    ls = dsm_loss(lambda x, tt: f_net(x, tt) + 0.1, proc, x0[:3], prediction="edm", t=t, eps=eps)
    torch.testing.assert_close(lf, ls)


def test_mask_ignores_entries_outside_it_in_loss_and_gradients():
    torch.manual_seed(0)
    net = torch.nn.Linear(1, 1).double()  # pointwise, so entries do not mix
    proc = pc.VP()

    def model(x, t):
        return net(x.unsqueeze(-1)).squeeze(-1) * (1 + t[:, None, None])

    x0 = torch.randn(3, 2, 5, dtype=torch.float64)
    mask = (torch.rand(3, 2, 5, generator=torch.Generator().manual_seed(1)) > 0.5).double()
    mask[:, 0, 0] = 1.0
    out = []
    for x in (x0, torch.where(mask > 0, x0, x0 + 10.0 * torch.randn_like(x0))):
        net.zero_grad()
        loss = dsm_loss(model, proc, x, mask=mask, generator=torch.Generator().manual_seed(2))
        loss.sum().backward()
        out.append((loss.detach(), net.weight.grad.clone(), net.bias.grad.clone()))
    for a, b in zip(*out):
        torch.testing.assert_close(a, b)
    # normalisation: the mean over the selected entries of the per-entry squared error
    t = torch.full((3,), 0.4, dtype=torch.float64)
    eps = torch.randn(3, 2, 5, dtype=torch.float64)
    full = dsm_loss(model, proc, x0, t=t, eps=eps)
    ones = dsm_loss(model, proc, x0, t=t, eps=eps, mask=torch.ones_like(x0))
    torch.testing.assert_close(full, ones)
    with torch.no_grad():
        xt = proc.alpha(t)[:, None, None] * x0 + proc.sigma(t)[:, None, None] * eps
        sq = (model(xt, t) - eps) ** 2
    got = dsm_loss(model, proc, x0, t=t, eps=eps, mask=mask)
    torch.testing.assert_close(got, (sq * mask).sum((1, 2)) / mask.sum((1, 2)))


def test_rank_agnostic():
    gm, proc = GaussianMixture(torch.zeros(1, 12), S0), pc.VP()
    x0 = gm.sample(4, torch.Generator().manual_seed(0))
    eps = torch.randn(4, 12, dtype=torch.float64)
    t = torch.tensor([0.1, 0.3, 0.6, 0.9], dtype=torch.float64)
    ref = dsm_loss(gm.as_model(proc, "v"), proc, x0, prediction="v", t=t, eps=eps, weighting="min_snr")
    for shape in ((3, 4), (2, 2, 3)):
        got = dsm_loss(gm.as_model(proc, "v"), proc, x0.reshape(4, *shape), prediction="v", t=t,
                       eps=eps.reshape(4, *shape), weighting="min_snr")
        torch.testing.assert_close(got, ref)


def test_antithetic_pairs_and_discrete_indices():
    seen = []

    def net(x, t):
        seen.append(t.clone())
        return torch.zeros_like(x)

    proc = pc.VP()
    dsm_loss(net, proc, torch.zeros(7, 3), generator=torch.Generator().manual_seed(0), time_sampling="antithetic")
    t = seen[-1].double()
    torch.testing.assert_close(t[:3] + t[4:7], torch.full((3,), proc.t_min + proc.t_max, dtype=torch.float64), rtol=0, atol=1e-6)
    dvp = DiscreteVP.from_schedule("linear", 100, beta_start=1e-4, beta_end=0.02)
    dsm_loss(net, dvp, torch.zeros(500, 3), generator=torch.Generator().manual_seed(0))
    t = seen[-1]
    assert torch.equal(t, t.round()) and t.min() >= 0 and t.max() <= 99 and t.unique().numel() > 90
    dsm_loss(net, dvp, torch.zeros(6, 3), generator=torch.Generator().manual_seed(0), time_sampling="antithetic")
    torch.testing.assert_close(seen[-1][:3] + seen[-1][3:], torch.full((3,), 99.0, dtype=torch.float32))


@pytest.mark.parametrize("discrete", [False, True], ids=["vp", "discrete"])
def test_importance_sampling_is_unbiased_and_reduces_variance(discrete):
    """E_uniform[lambda L] is kept; the exact model's eps-MSE at t is a^2 s0^2/(a^2 s0^2+s^2)."""
    proc = DiscreteVP.from_schedule("linear", 200, beta_start=1e-4, beta_end=0.04) if discrete else pc.VP()
    gm, n = GaussianMixture(torch.zeros(1, 16), S0), 4000
    model = gm.as_model(proc, "eps")
    x0 = gm.sample(n, torch.Generator().manual_seed(0))
    res = {}
    for ts in ("uniform", "importance"):
        res[ts] = dsm_loss(model, proc, x0, weighting="likelihood", time_sampling=ts,
                           generator=torch.Generator().manual_seed(1))
    if discrete:
        tq = torch.arange(200, dtype=torch.float64)
    else:
        tq = torch.linspace(proc.t_min, proc.t_max, 200001, dtype=torch.float64)
    a, s = proc.alpha(tq), proc.sigma(tq)
    from polydiff.core.losses import loss_weight

    per_t = loss_weight(proc, tq, "likelihood") * s**2 / a**2 * (a**2 * S0**2 / (a**2 * S0**2 + s**2))
    exact = float(per_t.mean()) if discrete else float(torch.trapezoid(per_t, tq) / (proc.t_max - proc.t_min))
    for ts, v in res.items():
        se = float(v.std()) / math.sqrt(n)
        assert abs(float(v.mean()) - exact) < 4 * se + 1e-3 * exact, (ts, float(v.mean()), exact, se)
    assert float(res["importance"].std()) < 0.5 * float(res["uniform"].std())


def test_bad_input_raises():
    proc, x0, net = pc.VP(), torch.zeros(2, 3), (lambda x, t: x)
    with pytest.raises(ValueError, match="unknown weighting"):
        dsm_loss(net, proc, x0, weighting="snr2")
    with pytest.raises(ValueError, match="unknown prediction"):
        dsm_loss(net, proc, x0, prediction="noise")
    with pytest.raises(ValueError, match="unknown time_sampling"):
        dsm_loss(net, proc, x0, time_sampling="sobol")
    with pytest.raises(ValueError, match="NaN"):
        dsm_loss(net, proc, torch.full((2, 3), float("nan")))
    with pytest.raises(TypeError, match="floating"):
        dsm_loss(net, proc, torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="mask must be a tensor shaped like x0"):
        dsm_loss(net, proc, x0, mask=torch.ones(2, 4))
    with pytest.raises(ValueError, match="all zero"):
        dsm_loss(net, proc, x0, mask=torch.zeros(2, 3))
    with pytest.raises(ValueError, match="net output has shape"):
        dsm_loss(lambda x, t: x[:, :2], proc, x0)
    with pytest.raises(ValueError, match="net output contains NaN"):
        dsm_loss(lambda x, t: x * float("nan"), proc, x0)
    with pytest.raises(TypeError, match="cond must be a mapping"):
        dsm_loss(net, proc, x0, cond=[1])
    with pytest.raises(ValueError, match="needs an EDM process"):
        dsm_loss(net, proc, x0, time_sampling="lognormal")
    with pytest.raises(ValueError, match="outside the process range"):
        dsm_loss(net, proc, x0, t=torch.tensor([0.5, 2.0]))
    with pytest.raises(ValueError, match="sigma_data"):
        dsm_loss(net, proc, x0, weighting="edm")

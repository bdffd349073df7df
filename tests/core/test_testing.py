"""The Gaussian-mixture oracle and the measuring helpers of ``polydiff.core.testing``."""
import math

import numpy as np
import polydiff.core as pc
import pytest
import torch
from polydiff.core.testing import GaussianMixture, convergence_order, energy_distance


def _mixtures():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(3, 3, 3, generator=g, dtype=torch.float64)
    covs = a @ a.transpose(1, 2) + 0.2 * torch.eye(3, dtype=torch.float64)
    means = torch.randn(3, 3, generator=g, dtype=torch.float64)
    return {
        "isotropic": GaussianMixture(means, torch.tensor([0.3, 0.5, 0.8]), torch.tensor([0.2, 0.3, 0.5])),
        "diagonal": GaussianMixture(means, torch.rand(3, 3, generator=g, dtype=torch.float64) + 0.1),
        "full": GaussianMixture(means, covs=covs, weights=torch.tensor([0.5, 0.25, 0.25])),
    }


PROCESSES = {"vp": pc.VP(), "ve": pc.VE(), "flow": pc.Flow(), "edm": pc.EDM(), "cosine": pc.VP(schedule="cosine")}


@pytest.mark.parametrize("kind", ["isotropic", "diagonal", "full"])
@pytest.mark.parametrize("proc", ["vp", "ve", "flow", "edm"])
def test_score_is_gradient_of_log_prob(kind, proc):
    gm, process = _mixtures()[kind], PROCESSES[proc]
    g = torch.Generator().manual_seed(1)
    x = 2 * torch.randn(6, 3, generator=g, dtype=torch.float64)
    u = torch.rand(6, generator=g, dtype=torch.float64)
    t = process.t_min + (process.t_max - process.t_min) * u  # per-sample t
    xr = x.clone().requires_grad_(True)
    (auto,) = torch.autograd.grad(gm.log_prob(xr, t, process).sum(), xr)
    torch.testing.assert_close(gm.score(x, t, process), auto, rtol=1e-9, atol=1e-10)


def test_log_prob_matches_torch_multivariate_normal_and_integrates_to_one():
    gm = _mixtures()["full"]
    process, t = pc.VP(), torch.tensor(0.3, dtype=torch.float64)
    a, s = process.alpha(t), process.sigma(t)
    x = torch.randn(10, 3, dtype=torch.float64)
    comps = [torch.distributions.MultivariateNormal(a * m, a**2 * c + s**2 * torch.eye(3, dtype=torch.float64))
             for m, c in zip(gm.means, gm.covariances())]
    ref = torch.logsumexp(torch.stack([c.log_prob(x) + w.log() for c, w in zip(comps, gm.weights)], 1), 1)
    torch.testing.assert_close(gm.log_prob(x, t, process), ref, rtol=1e-12, atol=1e-12)
    # the 2-D marginal integrates to one on a grid (midpoint rule)
    gm2 = GaussianMixture(torch.tensor([[0.5, -0.5], [-1.0, 1.0]]), torch.tensor([0.3, 0.6]), process=pc.VE())
    h = 0.02
    ax = torch.arange(-6 + h / 2, 6, h, dtype=torch.float64)
    grid = torch.stack(torch.meshgrid(ax, ax, indexing="ij"), -1).reshape(-1, 2)
    mass = gm2.log_prob(grid, torch.tensor(0.2)).exp().sum() * h * h
    assert abs(float(mass) - 1.0) < 1e-6


def test_log_prob_matches_monte_carlo_of_data_convolved_with_noise():
    """p_t(x) = E_{x0 ~ data}[N(x; alpha x0, sigma^2 I)] estimated by Monte Carlo."""
    gm = _mixtures()["diagonal"]
    process, t = pc.VP(), 0.6
    a, s = float(process.alpha(torch.tensor(t))), float(process.sigma(torch.tensor(t)))
    x0 = gm.sample(200_000, torch.Generator().manual_seed(3))
    x = torch.tensor([[0.1, -0.2, 0.3], [1.0, 0.5, -0.5]], dtype=torch.float64)
    logn = -0.5 * ((x[:, None] - a * x0[None]) ** 2).sum(-1) / s**2 - 3 * math.log(s * math.sqrt(2 * math.pi))
    mc = torch.logsumexp(logn, 1) - math.log(x0.shape[0])
    torch.testing.assert_close(gm.log_prob(x, t, process), mc, rtol=0, atol=0.02)


def test_tweedie_denoiser_of_one_gaussian_is_the_linear_posterior_mean():
    g = torch.Generator().manual_seed(2)
    m = torch.randn(1, 3, generator=g, dtype=torch.float64)
    c = torch.tensor([[1.0, 0.3, 0.0], [0.3, 0.5, 0.1], [0.0, 0.1, 0.2]], dtype=torch.float64)
    gm, process = GaussianMixture(m, covs=c[None]), pc.VP()
    t = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64)
    x = torch.randn(3, 3, generator=g, dtype=torch.float64)
    ref = []
    for i in range(3):
        a, s = process.alpha(t[i]), process.sigma(t[i])
        gain = a * c @ torch.linalg.inv(a**2 * c + s**2 * torch.eye(3, dtype=torch.float64))
        ref.append(m[0] + gain @ (x[i] - a * m[0]))
    torch.testing.assert_close(gm.x0(x, t, process), torch.stack(ref), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("proc", ["vp", "ve", "flow", "edm", "cosine"])
def test_as_model_predictions_are_consistent(proc):
    """alpha x0_hat + sigma eps_hat = x (Tweedie), and each prediction matches its formula."""
    gm, process = _mixtures()["isotropic"], PROCESSES[proc]
    x = torch.randn(4, 3, dtype=torch.float64) * 2
    t = torch.linspace(process.t_min, process.t_max, 6, dtype=torch.float64)[1:5]
    out = {p: gm.as_model(process, p)(x, t) for p in ("eps", "x0", "v", "score", "flow")}
    a, s = process.alpha(t)[:, None], process.sigma(t)[:, None]
    torch.testing.assert_close(a * out["x0"] + s * out["eps"], x, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(out["score"], -out["eps"] / s)
    torch.testing.assert_close(out["v"], a * out["eps"] - s * out["x0"])
    if proc == "flow":  # rectified-flow velocity eps - x0
        torch.testing.assert_close(out["flow"], out["eps"] - out["x0"])
    if proc == "edm":  # D = c_skip x + c_out F(c_in x) (Karras et al. 2022, Table 1)
        sd = process.sigma_data
        f = gm.as_model(process, "edm")(x / (s**2 + sd**2).sqrt(), t)
        d = sd**2 / (s**2 + sd**2) * x + s * sd / (s**2 + sd**2).sqrt() * f
        torch.testing.assert_close(d, out["x0"])


def test_any_rank_input_is_flattened():
    gm = GaussianMixture(torch.zeros(2, 12), torch.tensor([0.5, 1.0]), process=pc.VP())
    x = torch.randn(3, 2, 2, 3)
    t = torch.tensor([0.2, 0.5, 0.8])
    sc = gm.score(x, t)
    assert sc.shape == x.shape and sc.dtype == torch.float32
    torch.testing.assert_close(sc.reshape(3, 12), gm.score(x.reshape(3, 12), t))
    assert gm.as_model(prediction="x0")(x, t).shape == x.shape
    assert gm.sample(5, shape=(2, 2, 3)).shape == (5, 2, 2, 3)


def test_sample_moments():
    gm = _mixtures()["full"]
    x = gm.sample(200_000, torch.Generator().manual_seed(5))
    torch.testing.assert_close(x.mean(0), gm.mean(), atol=0.02, rtol=0)
    torch.testing.assert_close(torch.cov(x.T), gm.covariance(), atol=0.05, rtol=0.02)


def test_responsibilities_are_bayes_posterior():
    gm, process = _mixtures()["isotropic"], pc.VP()
    x, t = torch.randn(5, 3, dtype=torch.float64), 0.4
    lr = gm.log_responsibilities(x, t, process)
    joint = torch.stack([gm.component(k).log_prob(x, t, process) + gm.weights[k].log() for k in range(3)], 1)
    torch.testing.assert_close(lr, joint - gm.log_prob(x, t, process)[:, None])


def test_convergence_order_recovers_power_law():
    n = np.array([10, 20, 40, 80])
    assert convergence_order(3.0 * n**-2.0, n) == pytest.approx(2.0, abs=1e-12)
    assert convergence_order(list(0.5 * n**-1.0 * (1 + 0.01 * np.sin(n))), list(n)) == pytest.approx(1.0, abs=0.02)
    with pytest.raises(ValueError, match="positive"):
        convergence_order([0.1, 0.0], [1, 2])
    with pytest.raises(ValueError, match="length"):
        convergence_order([0.1], [1])


def test_energy_distance_matches_scipy_in_1d():
    stats = pytest.importorskip("scipy.stats")
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(300, 1, generator=g), torch.randn(200, 1, generator=g) + 0.5
    ref = stats.energy_distance(x[:, 0].numpy(), y[:, 0].numpy()) ** 2
    assert energy_distance(x, y) == pytest.approx(ref, rel=1e-6)
    assert energy_distance(x, x) == pytest.approx(0.0, abs=1e-12)
    same = energy_distance(torch.randn(400, 2, generator=g), torch.randn(400, 2, generator=g), unbiased=True)
    assert abs(same) < 0.02


def test_bad_input_raises():
    with pytest.raises(ValueError, match="shape \\[K, D\\]"):
        GaussianMixture(torch.zeros(3), 1.0)
    with pytest.raises(ValueError, match="exactly one"):
        GaussianMixture(torch.zeros(1, 2))
    with pytest.raises(ValueError, match="positive definite"):
        GaussianMixture(torch.zeros(1, 2), covs=-torch.eye(2)[None])
    with pytest.raises(ValueError, match="NaN"):
        GaussianMixture(torch.full((1, 2), float("nan")), 1.0)
    gm = GaussianMixture(torch.zeros(1, 2), 1.0)
    with pytest.raises(ValueError, match="no process"):
        gm.score(torch.zeros(2, 2), 0.5)
    with pytest.raises(ValueError, match="prod\\(dims\\)"):
        gm.log_prob(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="unknown prediction"):
        gm.as_model(pc.VP(), "noise")
    with pytest.raises(ValueError, match="shape \\[2\\]"):
        gm.score(torch.zeros(2, 2), torch.zeros(3), pc.VP())


def test_flow_solution_of_a_gaussian_is_the_closed_form():
    """N(mu, s^2 I): (y - mu) / sqrt(s^2 + sigma_e^2) is constant along the flow, so the data end
    (sigma_e = 1e-5) is mu + (y_T - mu) sqrt(s^2 + 1e-10) / sqrt(s^2 + sigma_e(T)^2)."""
    from polydiff.core.testing import mixture_target

    gm = mixture_target(3, 1, 0.0, 0.5, seed=1)
    mu, s = gm.means[0], float(gm.covariances()[0, 0, 0]) ** 0.5
    proc = pc.VP()
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    t = torch.tensor(proc.t_max, dtype=torch.float64)
    se = proc.sigma(t) / proc.alpha(t)
    exact = mu + (x / proc.alpha(t) - mu) * ((s**2 + 1e-10) / (s**2 + se**2)) ** 0.5
    assert torch.allclose(gm.flow_solution(x, proc), exact, atol=1e-6, rtol=0)


def test_mixture_target_and_flow_solution_refuse_bad_input():
    from polydiff.core.testing import mixture_target

    with pytest.raises(ValueError, match="dim must be a positive int, got 0"):
        mixture_target(0, 2, 1.0, 0.3)
    with pytest.raises(ValueError, match="std must be a finite number > 0"):
        mixture_target(2, 2, 1.0, 0.0)
    with pytest.raises(ValueError, match="separation must be a finite number"):
        mixture_target(2, 2, float("nan"), 0.3)
    gm = mixture_target(2, 3, 2.0, 0.2, seed=4)
    assert torch.allclose(gm.means.norm(dim=1), torch.full((3,), 2.0, dtype=torch.float64))
    with pytest.raises(ValueError, match="flow_solution needs a process"):
        gm.flow_solution(torch.zeros(2, 2))
    with pytest.raises(ValueError, match=r"one start time \(a scalar\)"):
        gm.flow_solution(torch.zeros(2, 2), pc.VP(), t=torch.tensor([0.5, 0.6]))

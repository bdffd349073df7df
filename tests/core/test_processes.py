"""Processes against their formulas: marginals, log-SNR inverses, SDE coefficients, priors,
schedules against diffusers' tables, configs that round-trip, and bad input."""
import json
import math

import polydiff.core as pc
import pytest
import torch

PROCS = [pc.VP(), pc.VP(schedule="cosine"), pc.SubVP(), pc.VE(), pc.EDM(), pc.Flow(),
         pc.DiscreteVP.from_schedule("linear", 1000), pc.DiscreteVP.from_schedule("cosine", 1000)]
IDS = ["VP", "VP-cos", "SubVP", "VE", "EDM", "Flow", "DVP-lin", "DVP-cos"]


@pytest.mark.parametrize("proc", PROCS, ids=IDS)
def test_log_snr_inverse_round_trips(proc):
    t = torch.linspace(proc.t_min, proc.t_max, 37, dtype=torch.float64)[1:-1]
    back = proc.t_from_log_snr(proc.log_snr(t))
    assert torch.allclose(back, t, atol=1e-6 * max(1.0, proc.t_max))
    assert (proc.log_snr(t).diff() < 0).all()  # decreasing: data at t_min, prior at t_max


@pytest.mark.parametrize("proc", [p for p in PROCS if not isinstance(p, pc.DiscreteVP)], ids=IDS[:6])
def test_sde_coefficients_reproduce_the_marginal_variance(proc):
    """For dx = f x dt + g dW from x0 = 0: d var/dt = 2 f var + g^2 must equal d sigma^2/dt."""
    t = torch.linspace(proc.t_min + 1e-3 * (proc.t_max - proc.t_min), proc.t_max * 0.99, 25, dtype=torch.float64)
    h = 1e-6 * max(1.0, proc.t_max)
    dvar = (proc.sigma(t + h) ** 2 - proc.sigma(t - h) ** 2) / (2 * h)
    assert torch.allclose(2 * proc.f(t) * proc.sigma(t) ** 2 + proc.g2(t), dvar, rtol=1e-5, atol=1e-8)
    dloga = (torch.log(proc.alpha(t + h)) - torch.log(proc.alpha(t - h))) / (2 * h)
    assert torch.allclose(proc.f(t), dloga, rtol=1e-5, atol=1e-8)


def test_vp_linear_matches_score_sde_formula():
    proc = pc.VP()
    t = torch.tensor([0.1, 0.5, 1.0], dtype=torch.float64)
    log_mean = -0.25 * t**2 * (20 - 0.1) - 0.5 * t * 0.1  # Song et al. 2021, eq. 33
    assert torch.allclose(proc.alpha(t), torch.exp(log_mean))
    assert torch.allclose(proc.sigma(t), torch.sqrt(1 - torch.exp(2 * log_mean)))
    assert torch.allclose(proc.g2(t), 0.1 + t * (20 - 0.1))  # beta(t)


def test_subvp_and_flow_and_ve_formulas():
    t = torch.tensor([0.2, 0.7], dtype=torch.float64)
    vp, sub = pc.VP(), pc.SubVP()
    assert torch.allclose(sub.sigma(t), 1 - vp.alpha(t) ** 2)
    fl = pc.Flow()
    assert torch.allclose(fl.alpha(t), 1 - t) and torch.allclose(fl.sigma(t), t)
    ve = pc.VE(0.01, 50)
    assert torch.allclose(ve.sigma(t), 0.01 * 5000**t)


@pytest.mark.parametrize("name,kw", [("linear", {}),
                                     ("scaled_linear", {"beta_start": 0.00085, "beta_end": 0.012}),
                                     ("squaredcos_cap_v2", {}), ("sigmoid", {})])
def test_beta_tables_match_diffusers(name, kw):
    diffusers = pytest.importorskip("diffusers")
    s = diffusers.DDPMScheduler(beta_schedule=name, **kw)
    ours = pc.beta_schedule(name, 1000, **kw) if kw else pc.beta_schedule(
        name, 1000, *((1e-4, 0.02) if name in ("linear", "sigmoid") else (None, None)))
    assert torch.allclose(ours.float(), s.betas, atol=1e-7)


def test_named_paper_schedules():
    quad = pc.beta_schedule("quad", 50, 1e-4, 0.5)  # CSDI
    assert torch.allclose(quad, torch.linspace(1e-4**0.5, 0.5**0.5, 50, dtype=torch.float64) ** 2)
    proc = pc.DiscreteVP.from_schedule("sqrt", 2000)  # Diffusion-LM: alpha_bar = 1 - sqrt(t/T + 1e-4)
    i = torch.tensor([0, 999, 1500])  # (the last steps are capped at beta = 0.999)
    expect = 1 - torch.sqrt((i + 1).double() / 2000 + 1e-4)
    assert torch.allclose(proc.alphas_cumprod[i], expect / (1 - math.sqrt(1e-4)), rtol=1e-3)


def test_zero_terminal_snr_rescale():
    diffusers = pytest.importorskip("diffusers")
    s = diffusers.DDPMScheduler(beta_schedule="scaled_linear", rescale_betas_zero_snr=True)
    proc = pc.DiscreteVP.from_diffusers(s.config)
    assert torch.allclose(proc.alphas_cumprod.float(), s.alphas_cumprod, atol=1e-6)
    assert torch.isfinite(proc.log_snr(torch.tensor(999.0)))


@pytest.mark.parametrize("proc", PROCS, ids=IDS)
def test_config_round_trips_through_json(proc):
    again = pc.process_from_config(json.loads(json.dumps(proc.config())))
    t = torch.linspace(proc.t_min, proc.t_max, 11, dtype=torch.float64)
    assert type(again) is type(proc)
    assert torch.allclose(again.alpha(t), proc.alpha(t)) and torch.allclose(again.sigma(t), proc.sigma(t))


def test_prior_sample_and_logp():
    proc = pc.VE(sigma_max=10.0)
    x = proc.prior_sample((20000, 3), generator=torch.Generator().manual_seed(0))
    assert abs(float(x.std()) - 10.0) < 0.15
    lp = proc.prior_logp(torch.zeros(1, 3))
    assert torch.allclose(lp, torch.tensor([-3 * (math.log(10.0) + 0.5 * math.log(2 * math.pi))], dtype=torch.float64))


def test_bad_input():
    with pytest.raises(ValueError, match="unknown VP schedule"):
        pc.VP(schedule="sigmoid")
    with pytest.raises(ValueError, match="outside the process range"):
        pc.VP().check_t(torch.tensor([2.0]))
    with pytest.raises(ValueError, match="positive sizes"):
        pc.VP().prior_sample((0, 3))
    with pytest.raises(ValueError, match="unknown beta schedule"):
        pc.beta_schedule("exp", 10)
    with pytest.raises(ValueError, match="betas must be finite"):
        pc.DiscreteVP(torch.tensor([0.1, float("nan")]))
    with pytest.raises(ValueError, match="x0 .* and eps .* differ"):
        pc.VP().marginal(torch.zeros(2, 3), torch.tensor(0.5), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="'class'"):
        pc.process_from_config({"beta_min": 0.1})


def test_one_step_grid_evaluates_at_t_start():
    """steps=1 with a clean end: the single model evaluation is at t_start (not t_end)."""
    g = pc.make_grid(pc.VP(), 1, "uniform_t", t_start=0.3)
    assert g.t.tolist()[0] == pytest.approx(0.3) and g.sigma.tolist()[-1] == 0.0
    g2 = pc.make_grid(pc.VP(), 1, "log_snr", t_start=torch.tensor([0.2, 0.4], dtype=torch.float64))
    assert torch.allclose(g2.t[0], torch.tensor([0.2, 0.4], dtype=torch.float64))


def test_diffusers_grid_that_repeats_timesteps_is_refused():
    """diffusers' DPM-Solver grid at steps == T with leading/linspace spacing repeats timesteps
    (a zero step, NaN in the solver): polydiff names it instead of sampling garbage."""
    p = pc.DiscreteVP.from_schedule("linear", 1000)
    for spacing in ("leading", "linspace"):
        with pytest.raises(ValueError, match="repeats timesteps.*trailing"):
            p.diffusers_grid(1000, "dpm", spacing)
    g = p.diffusers_grid(1000, "dpm", "trailing")
    assert bool((g.sigma[1:] < g.sigma[:-1]).all())  # every step moves
    try:
        from diffusers import DPMSolverMultistepScheduler
    except ImportError:
        return
    s = DPMSolverMultistepScheduler(num_train_timesteps=1000, timestep_spacing="leading")
    s.set_timesteps(1000)
    assert len(set(s.timesteps.tolist())) < 1000  # the peer's grid really does repeat

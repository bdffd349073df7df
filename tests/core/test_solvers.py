"""Solvers against truth: the exact probability-flow solution of Gaussian-mixture data,
measured convergence order, target distributions of the stochastic solvers, guidance and
conditioning hooks, ranks, per-sample times, determinism and bad input."""
import math

import polydiff.core as pc
import pytest
import torch
from polydiff.core.testing import GaussianMixture, convergence_order, energy_distance

GM = GaussianMixture(torch.tensor([[-1.0, 0.5], [1.5, -0.5], [0.2, 1.2]]), torch.tensor([0.3, 0.5, 0.25]))
PROC = pc.VP()
T_END = 1e-2


def _x(n=32, seed=0, shape=(2,)):
    return PROC.prior_sample((n, *shape), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.fixture(scope="module")
def reference():
    """Adaptive RK45 at tight tolerance: the exact PF-ODE solution from the same noise."""
    x = _x(8)
    grid = pc.make_grid(PROC, 2, "log_snr", t_end=T_END, final="none")
    return x, pc.sample(GM.as_model(PROC, "eps"), PROC, x, grid=grid, solver="rk45", rtol=1e-10, atol=1e-10)


def _gaussian_flow(x_T, mu, s, t_end):
    """Closed form of the PF-ODE for data N(mu, s^2 I): in y = x / alpha, sigma_e = sigma / alpha,
    (y - mu) / sqrt(s^2 + sigma_e^2) is constant along the flow (Karras et al. 2022, eq. 4)."""
    t0, t1 = (torch.tensor(v, dtype=torch.float64) for v in (PROC.t_max, t_end))
    se0, se1 = PROC.sigma(t0) / PROC.alpha(t0), PROC.sigma(t1) / PROC.alpha(t1)
    y = mu + (x_T / PROC.alpha(t0) - mu) * torch.sqrt((s**2 + se1**2) / (s**2 + se0**2))
    return PROC.alpha(t1) * y


@pytest.mark.parametrize("tol,bound", [(1e-4, 1e-3), (1e-6, 1e-5), (1e-8, 1e-7)])
def test_rk45_matches_the_closed_form_gaussian_flow(tol, bound):
    """The adaptive solver (shared with the likelihood: polydiff.core.ode) against the exact
    solution, not against itself: the error stays within 10x its tolerance and shrinks with it
    (measured 1.6e-4, 1.3e-6, 2.3e-8; the floor is ~1e-8 at tol 1e-10)."""
    mu, s = torch.tensor([[0.7, -1.2]], dtype=torch.float64), 0.4
    gm = GaussianMixture(mu, torch.tensor([s]))
    x = _x(16)
    grid = pc.make_grid(PROC, 2, "log_snr", t_end=T_END, final="none")
    out = pc.sample(gm.as_model(PROC, "eps"), PROC, x, grid=grid, solver="rk45", rtol=tol, atol=tol)
    err = float((out - _gaussian_flow(x, mu, s, T_END)).abs().max())
    assert err < bound, err


def test_reference_fixture_is_exact_on_a_gaussian():
    """The RK45 reference every solver below is measured against, on data whose flow is known."""
    mu, s = torch.tensor([[-0.3, 0.9]], dtype=torch.float64), 0.6
    x = _x(8)
    grid = pc.make_grid(PROC, 2, "log_snr", t_end=T_END, final="none")
    ref = pc.sample(GaussianMixture(mu, torch.tensor([s])).as_model(PROC, "eps"), PROC, x, grid=grid,
                    solver="rk45", rtol=1e-10, atol=1e-10)
    assert float((ref - _gaussian_flow(x, mu, s, T_END)).abs().max()) < 2e-7  # measured 5.6e-8


ORDERS = [  # (solver, options, theoretical global order)
    ("ddim", {}, 1), ("euler", {}, 1),
    ("heun", {}, 2), ("dpmpp_2m", {"lower_order_final": False}, 2),
    ("unipc", {"order": 2, "corrector": False, "lower_order_final": False}, 2),
    ("unipc", {"order": 1, "lower_order_final": False}, 2),  # UniC-p raises order p to p+1
    ("dpmpp_3m", {"lower_order_final": False, "warmup": "singlestep"}, 3),
    ("unipc", {"order": 3, "corrector": False, "lower_order_final": False}, 3),
    ("unipc", {"order": 2, "lower_order_final": False}, 3),
]


@pytest.mark.parametrize("solver,opts,order", ORDERS)
def test_converges_to_exact_pf_ode_with_theoretical_order(reference, solver, opts, order):
    x, ref = reference
    model = GM.as_model(PROC, "eps")
    steps = [40, 80, 160] if order < 3 else [80, 160, 320]
    errs = []
    for n in steps:
        grid = pc.make_grid(PROC, n, "log_snr", t_end=T_END, final="none")
        errs.append(float((pc.sample(model, PROC, x, grid=grid, solver=solver, **opts) - ref).abs().max()))
    assert errs[-1] < 0.02
    assert abs(convergence_order(errs, steps) - order) <= 0.35, errs


def test_diffusers_3m_coefficient_is_second_order(reference):
    """polydiff's dpmpp_3m uses the Taylor coefficient of the D2 term; with diffusers' (half)
    coefficient the same solver is only second order (documented in core/solvers/dpm.py)."""
    from polydiff.core.solvers import dpm

    x, ref = reference
    model = GM.as_model(PROC, "eps")

    def errors():
        out = []
        for n in (40, 80, 160):
            grid = pc.make_grid(PROC, n, "log_snr", t_end=T_END, final="none")
            y = pc.sample(model, PROC, x, grid=grid, solver="dpmpp_3m", lower_order_final=False, warmup="singlestep")
            out.append(float((y - ref).abs().max()))
        return out

    ours = errors()

    import inspect

    src = inspect.getsource(dpm.dpmpp_3m)
    assert "c_D2 = -2 * alpha[i + 1]" in src  # the corrected coefficient is what ships
    ns = {}  # the same solver with diffusers' (half) coefficient of D2
    exec(compile(src.replace("c_D2 = -2 * alpha[i + 1]", "c_D2 = -1 * alpha[i + 1]").replace("def dpmpp_3m", "def _half"),
                 "x", "exec"), dpm.__dict__, ns)
    pc_solvers = pc.sample.__globals__["SOLVERS"]
    pc_solvers["_half3m"] = ns["_half"]
    try:
        theirs = []
        for n in (40, 80, 160):
            grid = pc.make_grid(PROC, n, "log_snr", t_end=T_END, final="none")
            y = pc.sample(model, PROC, x, grid=grid, solver="_half3m", lower_order_final=False, warmup="singlestep")
            theirs.append(float((y - ref).abs().max()))
    finally:
        del pc_solvers["_half3m"]
    assert convergence_order(theirs, [40, 80, 160]) < 2.4 < convergence_order(ours, [40, 80, 160])
    assert ours[-1] < theirs[-1] / 3


@pytest.mark.parametrize("solver", ["ddim", "dpmpp_2m", "dpmpp_3m", "unipc", "heun", "euler"])
def test_few_step_solvers_are_accurate_at_20_nfe(reference, solver):
    x, ref = reference
    grid = pc.make_grid(PROC, 20, "log_snr", t_end=T_END, final="none")
    err = float((pc.sample(GM.as_model(PROC, "eps"), PROC, x, grid=grid, solver=solver) - ref).abs().max())
    assert err < (0.2 if solver in ("ddim", "euler") else 0.05)


@pytest.mark.parametrize("prediction", ["eps", "x0", "v", "score", "edm"])
@pytest.mark.parametrize("proc", [pc.VP(), pc.VE(sigma_max=20.0), pc.EDM(), pc.Flow(), pc.SubVP()],
                         ids=["VP", "VE", "EDM", "Flow", "SubVP"])
def test_every_process_and_prediction_reaches_the_same_ode_solution(proc, prediction):
    """The exact model in any parameterisation gives the exact PF-ODE map: compare against
    the analytic solution for Gaussian data N(mu, s^2): y(s) - mu scales by sqrt(s0^2+s^2)."""
    if prediction == "edm" and not isinstance(proc, pc.EDM):
        proc.sigma_data = 0.5
    mu, s0 = torch.tensor([[0.7, -0.3]]), 0.4
    g = GaussianMixture(mu, torch.tensor([s0]))
    x = proc.prior_sample((16, 2), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    out = pc.sample(g.as_model(proc, prediction), proc, x, steps=60, solver="dpmpp_3m", grid="log_snr",
                    final="none", prediction=prediction)
    t0, t1 = torch.tensor(proc.t_max, dtype=torch.float64), torch.tensor(proc.t_min, dtype=torch.float64)
    se0 = float(proc.sigma(t0) / proc.alpha(t0))
    se1 = float(proc.sigma(t1) / proc.alpha(t1))
    y0 = x / float(proc.alpha(t0))
    exact = float(proc.alpha(t1)) * (mu + (y0 - mu) * math.sqrt((s0**2 + se1**2) / (s0**2 + se0**2)))
    assert (out - exact).abs().max() < 2e-3
    if hasattr(proc, "sigma_data") and not isinstance(proc, pc.EDM):
        del proc.sigma_data


def test_flow_prediction_on_linear_interpolant():
    proc = pc.Flow()
    x = proc.prior_sample((16, 2), generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    a = pc.sample(GM.as_model(proc, "flow"), proc, x, steps=50, solver="euler", final="none", prediction="flow")
    b = pc.sample(GM.as_model(proc, "eps"), proc, x, steps=50, solver="euler", final="none")
    assert (a - b).abs().max() < 1e-6  # the flow coefficients use autograd d alpha/dt, d sigma/dt


@pytest.mark.parametrize("solver,steps,opts", [("ddpm", 100, {}), ("euler_maruyama", 200, {}),
                                               ("dpmpp_2m_sde", 100, {}), ("predictor_corrector", 100, {"snr": 0.1}),
                                               ("ddim", 60, {"eta": 1.0})])
def test_stochastic_solvers_reproduce_gaussian_moments(solver, steps, opts):
    mu, s0 = torch.tensor([[1.0, -2.0]]), 0.5
    g = GaussianMixture(mu, torch.tensor([s0]))
    n = 2000
    x = _x(n, seed=7)
    out = pc.sample(g.as_model(PROC, "eps"), PROC, x, steps=steps, solver=solver,
                    generator=torch.Generator().manual_seed(11), **opts)
    se_mean = s0 / math.sqrt(n)
    assert (out.mean(0) - mu[0]).abs().max() < 4 * se_mean + 0.02
    var = out.var(0)
    assert ((var - s0**2).abs() / s0**2).max() < 4 * math.sqrt(2 / n) + 0.08


@pytest.mark.parametrize("solver,steps", [("ddpm", 100), ("dpmpp_2m_sde", 60), ("euler_maruyama", 200)])
def test_stochastic_solvers_reach_mixture_at_noise_floor(solver, steps):
    n = 800
    x = _x(n, seed=3)
    out = pc.sample(GM.as_model(PROC, "eps"), PROC, x, steps=steps, solver=solver,
                    generator=torch.Generator().manual_seed(4))
    data = GM.sample(n, torch.Generator().manual_seed(5))
    data2 = GM.sample(n, torch.Generator().manual_seed(6))
    floor = energy_distance(data, data2)
    assert energy_distance(out, data) < 3 * floor + 2e-3


# --- hooks -------------------------------------------------------------------------------

def _cond_model(x, t, y=None):
    base = 0.3 * torch.tanh(x)
    return base if y is None else base + 0.2 * y.reshape(-1, *([1] * (x.ndim - 1)))


def test_cfg_scale_0_is_unconditional_and_1_is_conditional():
    x = _x(8, shape=(3, 4)).float()
    y = torch.arange(8.0)
    kw = {"steps": 6, "solver": "dpmpp_2m"}
    uncond = pc.sample(lambda x, t, y=None: _cond_model(x, t, None), PROC, x, **kw)
    cond = pc.sample(_cond_model, PROC, x, cond={"y": y}, **kw)
    g0 = pc.sample(_cond_model, PROC, x, cond={"y": y}, guidance=pc.CFG(0.0, {"y": None}), **kw)
    g1 = pc.sample(_cond_model, PROC, x, cond={"y": y}, guidance=pc.CFG(1.0, {"y": None}), **kw)
    g3 = pc.sample(_cond_model, PROC, x, cond={"y": y}, guidance=pc.CFG(3.0, {"y": None}), **kw)
    assert torch.equal(g0, uncond) and torch.equal(g1, cond)
    assert not torch.allclose(g3, cond)
    with pytest.raises(ValueError, match="finite"):
        pc.CFG(float("nan"))


def test_classifier_guidance_with_exact_classifier_samples_the_class():
    """score + grad log p(y|x_t) is the exact class-conditional score, so guided sampling with
    scale 1 samples component k: its mean and spread match that component."""
    k = 1
    comp = GM.component(k)

    def log_p_y(x, t):
        return GM.log_responsibilities(x, t, PROC)[:, k]

    n = 600
    x = _x(n, seed=9)
    out = pc.sample(GM.as_model(PROC, "eps"), PROC, x, steps=100, solver="ddpm",
                    guidance=pc.ClassifierGuidance(log_p_y, 1.0), generator=torch.Generator().manual_seed(1))
    assert (out.mean(0) - comp.mean()).abs().max() < 0.08
    unguided = pc.sample(GM.as_model(PROC, "eps"), PROC, x, steps=100, solver="ddpm",
                         generator=torch.Generator().manual_seed(1))
    frac = lambda z: float((GM.log_responsibilities(z, None, None).argmax(1) == k).double().mean())
    assert frac(out) > 0.97 > frac(unguided) + 0.4


@pytest.mark.parametrize("solver", ["ddpm", "ddim", "dpmpp_2m", "unipc", "euler_maruyama", "heun"])
def test_replacement_keeps_known_values_exactly(solver):
    x = _x(4, shape=(1, 6, 6)).float()
    values = torch.randn(4, 1, 6, 6, generator=torch.Generator().manual_seed(0))
    mask = (torch.rand(4, 1, 6, 6, generator=torch.Generator().manual_seed(1)) > 0.5).float()
    out = pc.sample(_cond_model, PROC, x, steps=8, solver=solver, known=pc.Known(values, mask),
                    generator=torch.Generator().manual_seed(2))
    assert torch.equal(out[mask.bool()], values[mask.bool()])


def test_clean_anchoring_imposes_the_values_at_every_step():
    x = _x(2, shape=(6,)).float()
    values, mask = torch.randn(2, 6), torch.zeros(2, 6)
    mask[:, :3] = 1
    seen = []

    def model(x, t):
        seen.append(x[:, :3].clone())
        return 0.3 * torch.tanh(x)

    out = pc.sample(model, PROC, x, steps=5, solver="ddim", known=pc.Known(values, mask, noised=False))
    assert all(torch.equal(s, values[:, :3]) for s in seen[1:])  # every call after the first sees the source
    assert torch.equal(out[:, :3], values[:, :3])


def test_repaint_resampling_keeps_known_values_and_costs_the_extra_evaluations():
    x = _x(2, shape=(5, 5)).float()
    values = torch.zeros(2, 5, 5)
    mask = torch.zeros(2, 5, 5)
    mask[:, :2] = 1
    calls = []

    def model(x, t):
        calls.append(1)
        return 0.3 * torch.tanh(x)

    out = pc.sample(model, PROC, x, steps=10, solver="ddpm", known=pc.Known(values, mask, jump_length=2, resample=3),
                    generator=torch.Generator().manual_seed(0))
    assert torch.equal(out[:, :2], values[:, :2])
    # 5 chunks of 2 steps, all but the last solved 3 times
    assert len(calls) == 4 * 3 * 2 + 2


def test_projections():
    x0 = torch.tensor([[2.0, -3.0, 0.5]])
    assert torch.equal(pc.clip(-1, 1)(x0, None), torch.tensor([[1.0, -1.0, 0.5]]))
    E = torch.tensor([[0.0, 0.0], [1.0, 1.0], [-1.0, 2.0]])
    v = torch.tensor([[[0.9, 1.2], [-0.7, 1.6], [0.1, -0.2]]])
    out = pc.nearest_embedding(E)(v, None)
    assert torch.equal(out, E[torch.tensor([[1, 2, 0]])])
    pos = torch.randn(3, 7, 3)
    assert pc.zero_center()(pos, None).mean(1).abs().max() < 1e-6
    dt = pc.dynamic_threshold(0.9)(torch.linspace(-3, 3, 11)[None], None)
    assert dt.abs().max() <= 1.0 + 1e-6


# --- ranks, per-sample t, determinism ---------------------------------------------------------

@pytest.mark.parametrize("solver", list(pc.SOLVERS))
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 4, 4)])
def test_every_solver_every_rank(solver, shape):
    x = _x(3, shape=shape).float()
    out = pc.sample(lambda x, t: 0.2 * torch.tanh(x), PROC, x, steps=4, solver=solver,
                    generator=torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == x.dtype and torch.isfinite(out).all()


@pytest.mark.parametrize("solver", list(pc.SOLVERS))
def test_per_sample_start_times_equal_separate_runs(solver):
    ts = torch.tensor([0.3, 0.6, 0.9], dtype=torch.float64)
    x = _x(3, shape=(4,)).float()
    model = lambda x, t: 0.3 * torch.tanh(x) * t[:, None]
    gens = [torch.Generator().manual_seed(i) for i in range(3)]
    opts = {"step_norm": "sample"} if solver == "predictor_corrector" else {}
    batched = pc.sample(model, PROC, x, steps=5, solver=solver, t_start=ts, generator=gens, **opts)
    for i in range(3):
        single = pc.sample(model, PROC, x[i:i + 1], steps=5, solver=solver, t_start=float(ts[i]),
                           generator=[torch.Generator().manual_seed(i)], **opts)
        # rk45 shares one adaptive step size across the batch: equal to its tolerance
        tol = {"rtol": 1e-4, "atol": 1e-4} if solver == "rk45" else {"atol": 1e-6}
        assert torch.allclose(batched[i:i + 1], single, **tol)


@pytest.mark.parametrize("solver", ["ddpm", "dpmpp_2m_sde", "predictor_corrector", "euler_maruyama"])
def test_per_sample_generators_make_samples_batch_independent(solver):
    model = lambda x, t: 0.3 * torch.tanh(x)
    opts = {"step_norm": "sample"} if solver == "predictor_corrector" else {}
    seeds = [10, 11, 12, 13]
    x = torch.stack([torch.randn(2, 3, generator=torch.Generator().manual_seed(s)) for s in seeds])
    full = pc.sample(model, PROC, x, steps=5, solver=solver,
                     generator=[torch.Generator().manual_seed(s) for s in seeds], **opts)
    half = pc.sample(model, PROC, x[2:], steps=5, solver=solver,
                     generator=[torch.Generator().manual_seed(s) for s in seeds[2:]], **opts)
    again = pc.sample(model, PROC, x, steps=5, solver=solver,
                      generator=[torch.Generator().manual_seed(s) for s in seeds], **opts)
    assert torch.equal(full, again)
    assert torch.allclose(full[2:], half, atol=1e-6)


# --- bad input ------------------------------------------------------------------------------------

def test_bad_input_is_named():
    x = _x(2).float()
    m = lambda x, t: torch.zeros_like(x)
    with pytest.raises(ValueError, match="unknown solver"):
        pc.sample(m, PROC, x, solver="dpm_fast")
    with pytest.raises(ValueError, match="unknown prediction"):
        pc.sample(m, PROC, x, prediction="noise")
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        pc.sample(m, PROC, x, steps=0)
    with pytest.raises(ValueError, match="outside the process range"):
        pc.sample(m, PROC, x, t_start=1.5)
    with pytest.raises(ValueError, match="does not match x"):
        pc.sample(lambda x, t: torch.zeros(x.shape[0], 3), PROC, x)
    with pytest.raises(ValueError, match="NaN or inf"):
        pc.sample(m, PROC, torch.full_like(x, float("nan")))

    def nan_late(x, t):
        return torch.full_like(x, float("nan")) if float(t[0]) < 0.5 else torch.zeros_like(x)

    with pytest.raises(FloatingPointError, match=r"at step \d"):
        pc.sample(nan_late, PROC, x, steps=10, solver="ddim")
    with pytest.raises(ValueError, match="mask must contain only 0 and 1"):
        pc.Known(torch.zeros(2, 2), torch.full((2, 2), 0.5))


def test_solvers_module_exports_every_registered_solver():
    from polydiff.core import solvers

    assert set(solvers.__all__) == {"SOLVERS", "STOCHASTIC", "DEPRECATED_NAMES", *solvers.SOLVERS}
    assert all(getattr(solvers, name) is fn for name, fn in solvers.SOLVERS.items())

"""The grid a plain ``pc.sample`` call uses (polydiff.core.defaults), measured against the exact
probability-flow solution on Gaussian-mixture targets that were held out of the choice
(``bench/core_bench.py`` lists tuning and held-out targets), and against diffusers' defaults."""
import polydiff.core as pc
import pytest
import torch
from polydiff.core.testing import mixture_target

# held-out targets of bench/core_bench.py: (dim, modes, separation, std, scale, seed)
HELD_OUT = {"4d": (4, 6, 2.0, 0.2, 1.0, 8), "16d": (16, 8, 1.0, 0.3, 1.0, 9), "48d": (48, 3, 3.0, 0.1, 0.5, 10)}
_CACHE: dict = {}


def _case(name, process):
    key = (name, type(process).__name__, getattr(process, "schedule", ""))
    if key not in _CACHE:
        dim, modes, sep, std, scale, seed = HELD_OUT[name]
        gm = mixture_target(dim, modes, sep, std, scale, seed=seed)
        x = torch.randn(256, dim, generator=torch.Generator().manual_seed(100 + seed), dtype=torch.float64)
        _CACHE[key] = gm, x, gm.flow_solution(x, process)
    return _CACHE[key]


def _err(name, process, solver, nfe, **kw):
    gm, x, ref = _case(name, process)
    steps = (nfe + 1) // 2 if solver == "heun" else nfe
    out = pc.sample(gm.as_model(process), process, x, steps=steps, solver=solver, **kw)
    return float((out - ref).pow(2).mean().sqrt())


@pytest.mark.parametrize("name", ["4d", "48d"])
@pytest.mark.parametrize("nfe", [5, 10, 20])
def test_multistep_defaults_never_worse_than_euler_on_held_out_targets(name, nfe):
    proc = pc.VP()
    euler = _err(name, proc, "euler", nfe)
    for solver in ("dpmpp_2m", "dpmpp_3m", "unipc"):
        assert _err(name, proc, solver, nfe) <= euler, solver


@pytest.mark.parametrize("name", ["4d", "16d", "48d"])
@pytest.mark.parametrize("solver", ["dpmpp_2m", "unipc", "euler"])
def test_default_beats_the_former_default(name, solver):
    """The former default (uniform in t, last evaluation at t_min) at 10 NFE; measured error
    ratios new/old on 4-d, 16-d, 48-d: dpmpp_2m 0.25, 0.10, 0.18; unipc 0.17, 0.13, 0.14;
    euler 0.99, 0.52, 0.82."""
    proc = pc.VP()
    old = _err(name, proc, solver, 10, grid="uniform_t", final="zero")
    assert _err(name, proc, solver, 10) <= old


def test_default_grid_is_ddims_quadratic_spacing_ending_on_clean_data():
    """t_i = t_min + (t_max - t_min)(1 - i/N)^2 for i < N (Song et al. 2021, App. D.2), and the
    N-th point, in place of t_min, is clean data (sigma = 0)."""
    proc, n = pc.VP(), 7
    g = pc.build_grid(proc, n, "dpmpp_2m")
    i = torch.arange(n, dtype=torch.float64)
    t = proc.t_min + (proc.t_max - proc.t_min) * (1 - i / n) ** 2
    assert g.steps == n and torch.allclose(g.t[:n], t, rtol=0, atol=1e-12)
    assert torch.allclose(g.sigma[:n], proc.sigma(t).double()) and g.sigma[n] == 0 and g.alpha[n] == 1
    # naming a kind or an end keeps the given choice and the old end ("zero": evaluate at t_end)
    z = pc.build_grid(proc, n, "dpmpp_2m", "log_snr")
    assert z.steps == n and z.t[n - 1] == proc.t_min and z.sigma[n] == 0
    assert torch.equal(pc.build_grid(proc, n, "dpmpp_2m", t_end=0.01).t[n - 1], torch.tensor(0.01, dtype=torch.float64))


def test_unknown_final_is_refused():
    with pytest.raises(ValueError, match=r"final must be one of \('zero', 'spaced', 'none'\), got 'clean'"):
        pc.make_grid(pc.VP(), 4, final="clean")


diffusers = pytest.importorskip("diffusers")


def _diffusers_err(name, sched, nfe):
    proc = pc.DiscreteVP.from_diffusers(sched.config)
    gm, x, ref = _case(name, proc)
    model = gm.as_model(proc)
    sched.set_timesteps(nfe)
    lat = x.float()
    for t in sched.timesteps:
        lat = sched.step(model(lat, torch.full((x.shape[0],), float(t))), t, lat).prev_sample
    return float((lat.double() - ref).pow(2).mean().sqrt())


@pytest.mark.parametrize("name", ["16d", "48d"])
@pytest.mark.parametrize("nfe", [5, 10, 20])
def test_default_call_against_diffusers_defaults_on_held_out_targets(name, nfe):
    """Default call vs the same family's diffusers 0.35 default scheduler on the same noise, each
    against its own process's exact solution: at most 0.6x here (measured 0.13-0.50). On the
    4-d and the wide 3-d held-out targets it is not (0.66-1.36x; see bench/core_bench.py)."""
    for solver, cls in (("dpmpp_2m", "DPMSolverMultistepScheduler"), ("unipc", "UniPCMultistepScheduler")):
        ours = _err(name, pc.VP(), solver, nfe)
        theirs = _diffusers_err(name, getattr(diffusers, cls)(), nfe)
        assert ours <= 0.6 * theirs, (solver, ours / theirs)

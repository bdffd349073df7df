"""DiscreteVP's diffusers grids: remembered per setting, identical to a fresh build."""
import polydiff.core as pc
import pytest
import torch


def test_diffusers_grids_are_built_once_per_setting_and_equal_a_fresh_build():
    """The per-(steps, family, spacing) memo returns the very grid a fresh process builds."""
    cfg = {"beta_schedule": "linear", "timestep_spacing": "trailing"}
    proc = pc.DiscreteVP.from_diffusers(cfg)
    first = proc.diffusers_grid(20, "dpm")
    assert proc.diffusers_grid(20, "dpm") is first
    fresh = pc.DiscreteVP.from_diffusers(cfg).diffusers_grid(20, "dpm")
    for a, b in ((first.t, fresh.t), (first.alpha, fresh.alpha), (first.sigma, fresh.sigma)):
        assert torch.equal(a, b)
    assert proc.diffusers_grid(10, "dpm").steps == 10 and proc.diffusers_grid(20, "ddim") is not first
    with pytest.raises(TypeError, match="steps must be an integer"):
        proc.diffusers_grid(2.5, "dpm")


def test_rk45_by_default_solves_the_whole_trajectory_from_t_max():
    """rk45 has no diffusers scheduler and reads only its grid's ends: on a DiscreteVP with
    diffusers' leading spacing its default grid once started at t = 666 of 999 (a 2-step dpm
    grid). Checked against the exact probability-flow solution from t_max."""
    from polydiff.core.testing import mixture_target

    proc = pc.DiscreteVP.from_schedule("linear", 1000, beta_start=1e-4, beta_end=0.02)
    assert proc.default_grid == "leading"
    g = pc.build_grid(proc, 2, "rk45")
    assert float(g.t[0]) == proc.t_max and g.to_clean()
    gm = mixture_target(2, 4, 2.0, 0.3, 1.0, seed=0)
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    exact = gm.flow_solution(x, proc)
    out = pc.sample(gm.as_model(proc), proc, x, solver="rk45", rtol=1e-7, atol=1e-7)
    err = float((out - exact).abs().max())  # measured 5.8e-4: rk45 stops at t = 0 (sigma/alpha = 0.01)
    assert err < 1e-3
    started_at_666 = gm.flow_solution(x, proc, t=666.0)  # what the old default grid solved: 0.020
    assert float((started_at_666 - exact).abs().max()) > 10 * err

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

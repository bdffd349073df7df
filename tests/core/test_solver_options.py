"""Solver options reach only solvers that take them (``fused`` on DDIM is refused by name), and
the predictor-corrector solver's old name ``"pc"`` (the ``import polydiff.core as pc`` alias)
still works with a DeprecationWarning."""
import polydiff.core as pc
import pytest
import torch
from polydiff.core.sample import solver_options_of
from polydiff.core.testing import GaussianMixture

GM = GaussianMixture([[-1.0, 0.5], [1.5, -0.5]], 0.4)


def _x():
    return torch.randn(64, 2, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("solver", ["ddim", "ddpm", "euler", "heun", "euler_maruyama", "predictor_corrector", "rk45"])
def test_fused_is_refused_by_name_where_the_solver_has_no_fused_path(solver):
    with pytest.raises(TypeError, match=rf"solver '{solver}' takes the options .* got unknown \['fused'\] "
                                        r"\(fused=True exists for the multistep solvers \['dpmpp_2m', 'dpmpp_2m_sde', "
                                        r"'dpmpp_3m', 'unipc'\]\)"):
        pc.sample(GM.as_model(pc.VP()), pc.VP(), _x(), steps=4, solver=solver, fused=True)


def test_every_multistep_solver_takes_fused():
    assert {s for s in pc.SOLVERS if "fused" in solver_options_of(s)} == {"dpmpp_2m", "dpmpp_3m", "dpmpp_2m_sde",
                                                                          "unipc"}


def test_unknown_options_are_refused_with_the_accepted_ones():
    with pytest.raises(TypeError, match=r"solver 'dpmpp_2m' takes the options \['lower_order_final', 'warmup', "
                                        r"'fused'\], got unknown \['eta'\]"):
        pc.sample(GM.as_model(pc.VP()), pc.VP(), _x(), steps=4, solver="dpmpp_2m", eta=0.5)


def test_old_pc_name_warns_and_runs_the_predictor_corrector():
    proc, x = pc.VP(), _x()
    new = pc.sample(GM.as_model(proc), proc, x, steps=5, solver="predictor_corrector",
                    generator=torch.Generator().manual_seed(3))
    with pytest.deprecated_call(match="solver 'pc' is deprecated; use 'predictor_corrector'"):
        old = pc.sample(GM.as_model(proc), proc, x, steps=5, solver="pc", generator=torch.Generator().manual_seed(3))
    assert torch.equal(old, new)
    assert "pc" not in pc.SOLVERS and "predictor_corrector" in pc.SOLVERS

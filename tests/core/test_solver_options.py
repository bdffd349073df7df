"""Solver options reach only solvers that take them (the removed ``fused`` is refused with the reason), and
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


@pytest.mark.parametrize("solver", list(pc.SOLVERS))
def test_removed_fused_option_is_refused_with_the_reason(solver):
    with pytest.raises(TypeError, match=r"the fused option was removed \(issue #25\)"):
        pc.sample(GM.as_model(pc.VP()), pc.VP(), _x(), steps=4, solver=solver, fused=True)
    assert "fused" not in solver_options_of(solver)


def test_unknown_options_are_refused_with_the_accepted_ones():
    with pytest.raises(TypeError, match=r"solver 'dpmpp_2m' takes the options \['lower_order_final', 'warmup'\], "
                                        r"got unknown \['eta'\]"):
        pc.sample(GM.as_model(pc.VP()), pc.VP(), _x(), steps=4, solver="dpmpp_2m", eta=0.5)


def test_old_pc_name_warns_and_runs_the_predictor_corrector():
    proc, x = pc.VP(), _x()
    new = pc.sample(GM.as_model(proc), proc, x, steps=5, solver="predictor_corrector",
                    generator=torch.Generator().manual_seed(3))
    with pytest.deprecated_call(match="solver 'pc' is deprecated; use 'predictor_corrector'"):
        old = pc.sample(GM.as_model(proc), proc, x, steps=5, solver="pc", generator=torch.Generator().manual_seed(3))
    assert torch.equal(old, new)
    assert "pc" not in pc.SOLVERS and "predictor_corrector" in pc.SOLVERS

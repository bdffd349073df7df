"""The one adaptive integrator (polydiff.core.ode.dormand_prince) against closed-form ODE
solutions; the rk45 sampler and the likelihood both run on it."""
import math

import polydiff.core as pc
import pytest
import torch
from polydiff.core.ode import dormand_prince


def test_linear_ode_matches_the_exponential_in_both_directions():
    rates = torch.tensor([[0.5], [-1.0], [2.0]], dtype=torch.float64)
    y0 = torch.tensor([[1.0, -2.0], [0.3, 0.1], [2.0, 1.0]], dtype=torch.float64)
    for t0, t1 in ((0.0, 1.5), (1.5, 0.0)):
        y, evals = dormand_prince(lambda t, y: rates * y, y0, t0, t1, rtol=1e-10, atol=1e-12)
        exact = y0 * torch.exp(rates * (t1 - t0))
        assert torch.allclose(y, exact, rtol=1e-8, atol=0) and evals > 7


def test_error_shrinks_with_the_tolerance_at_fifth_order_cost():
    """y' = cos(t) y: y = exp(sin t). Ten times tighter tolerance costs about 10^(1/5) more steps."""
    f = lambda t, y: math.cos(t) * y
    y0 = torch.ones(1, 1, dtype=torch.float64)
    errs, evals = [], []
    for tol in (1e-5, 1e-7, 1e-9):
        y, n = dormand_prince(f, y0, 0.0, 10.0, rtol=tol, atol=tol)
        errs.append(float((y - math.exp(math.sin(10.0))).abs().max()))
        evals.append(n)
    assert errs[0] > errs[1] > errs[2] and errs[2] < 1e-7
    assert 1.3 < evals[2] / evals[1] < 3.5


def test_sampler_and_likelihood_share_the_integrator():
    from polydiff.core import likelihood
    from polydiff.core.solvers import adaptive

    assert adaptive.dormand_prince is likelihood.dormand_prince is dormand_prince


@pytest.mark.parametrize("kw,match", [({"rtol": 0.0, "atol": 1e-6}, "need rtol > 0 and atol > 0, got rtol=0.0"),
                                      ({"rtol": 1e-6, "atol": -1.0}, "need rtol > 0 and atol > 0")])
def test_bad_tolerances_are_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        dormand_prince(lambda t, y: y, torch.ones(1, 1), 0.0, 1.0, **kw)


def test_rk45_sampler_refuses_bad_tolerance_by_name():
    with pytest.raises(ValueError, match=r"rtol must lie in \(0, 1\), got -1"):
        pc.sample(lambda x, t: torch.zeros_like(x), pc.VP(), torch.zeros(2, 2), steps=2, solver="rk45", rtol=-1.0)

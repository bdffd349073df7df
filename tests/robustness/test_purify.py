"""Purifier: t* -> 0 identity, gradient modes agree, BPDA identity, validation, repeats."""
import itertools
import math

import polydiff.core as pc
import pytest
import torch
from polydiff.robustness.purify import PurifiedClassifier, Purifier, check_images, tweedie_purifier


def _x(b=2, size=8, dtype=torch.float32):
    g = torch.Generator().manual_seed(3)
    return torch.rand(b, 1, size, size, generator=g, dtype=dtype)


def test_small_t_star_returns_input(tiny_denoiser):
    x = _x(4)
    errs = []
    for t_star in (0.3, 0.05, 0.01, 1e-3):
        p = Purifier(tiny_denoiser, pc.VP(), t_star=t_star, dt=5e-3)
        with torch.no_grad():
            errs.append(float((p(x) - x).abs().mean()))
    assert all(a > b for a, b in itertools.pairwise(errs)), errs  # shrinks with t*
    assert errs[-1] < 0.03  # at t_min only the sigma(t_min) ~ 0.01 perturbation is left


@pytest.mark.parametrize("solver", ["euler_maruyama", "ddim", "ddpm"])
def test_adjoint_and_checkpoint_match_full_backprop(tiny_denoiser, solver):
    net = tiny_denoiser.double()
    x = _x(2, dtype=torch.float64)
    w = torch.randn(2, 1, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    res = {}
    for mode in ("full", "checkpoint", "adjoint"):
        p = Purifier(net, t_star=0.2, solver=solver, steps=6, gradient=mode, seed=11)
        xi = x.clone().requires_grad_(True)
        out = p(xi)
        (gx,) = torch.autograd.grad((out * w).sum(), xi)
        res[mode] = (out.detach(), gx)
    out_f, g_f = res["full"]
    for mode in ("checkpoint", "adjoint"):
        out, g = res[mode]
        # chained 2-point solves reproduce the single solve on the whole grid (same noise)
        assert torch.allclose(out, out_f, rtol=0, atol=1e-12)
        assert float((g - g_f).norm() / g_f.norm()) < 1e-3
        assert float((g - g_f).norm() / g_f.norm()) < 1e-9


def test_bpda_gradient_is_identity(tiny_denoiser):
    p = Purifier(tiny_denoiser, t_star=0.1, solver="euler_maruyama", steps=4, gradient="bpda")
    x = _x().requires_grad_(True)
    out = p(x)
    assert not torch.allclose(out, x)
    g = torch.randn_like(out)
    (gx,) = torch.autograd.grad(out, x, g)
    assert torch.equal(gx, g)


def test_draws_are_random_and_reseed_reproduces(tiny_denoiser):
    p = Purifier(tiny_denoiser, t_star=0.1, solver="euler_maruyama", steps=3, gradient="none", seed=4)
    x = _x()
    a, b = p(x), p(x)
    assert not torch.allclose(a, b)
    p.reseed()
    assert torch.equal(p(x), a)
    # per-sample seeds: a sample's draw does not depend on the batch it sits in
    p.reseed()
    assert torch.allclose(p(x[:1]), a[:1], atol=1e-6)  # (batched convs round differently)


def test_tweedie_baseline_is_one_denoising_step(tiny_denoiser):
    proc = pc.VP()
    p = tweedie_purifier(tiny_denoiser, proc, t_star=0.2, gradient="none", seed=2)
    x = _x()
    out = p(x)
    # recompute by hand: x_t = alpha x0 + sigma eps, x0_hat = (x_t - sigma eps_hat) / alpha
    p.reseed()
    from polydiff.robustness.purify import _Noise
    seeds = p._seeds(x.shape[0])
    eps = _Noise(seeds, offset=-1)(x, 0)
    t = torch.full((2,), 0.2, dtype=torch.float64)
    a, s = float(proc.alpha(t[0])), float(proc.sigma(t[0]))
    xt = a * (2 * x - 1) + s * eps
    with torch.no_grad():
        x0 = (xt - s * tiny_denoiser(xt, t.float())) / a
    assert torch.allclose(out, (x0 + 1) / 2, atol=1e-5)
    assert p.nfe == 1


def test_input_validation(tiny_denoiser):
    p = Purifier(tiny_denoiser, t_star=0.1, steps=2, image_shape=(1, 8, 8))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        p(_x() * 2)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        p(_x() - 0.5)
    with pytest.raises(ValueError, match="per-image shape"):
        p(torch.rand(2, 1, 6, 6))
    with pytest.raises(ValueError, match=r"\[B, C, H, W\]"):
        p(torch.rand(8, 8))
    with pytest.raises(TypeError, match="floating-point"):
        p(torch.ones(2, 1, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError, match="NaN"):
        p(torch.full((1, 1, 8, 8), float("nan")))
    with pytest.raises(ValueError, match="t_star"):
        Purifier(tiny_denoiser, t_star=2.0)
    with pytest.raises(ValueError, match="gradient mode"):
        Purifier(tiny_denoiser, gradient="magic")
    with pytest.raises(ValueError, match="one-step solver"):
        Purifier(tiny_denoiser, solver="dpmpp_2m", gradient="adjoint")
    with pytest.raises(TypeError, match="torch.Tensor"):
        check_images([[0.5]])


def test_purified_classifier_repeats_average_logits(tiny_denoiser, tiny_classifier):
    p = Purifier(tiny_denoiser, t_star=0.1, steps=2, gradient="none", seed=9)
    pc3 = PurifiedClassifier(p, tiny_classifier, repeats=3)
    x = _x()
    logits = pc3(x)
    assert logits.shape == (2, 3)
    p.reseed()
    draws = tiny_classifier(p(x.repeat(3, 1, 1, 1))).reshape(3, 2, 3)
    assert torch.allclose(logits, draws.mean(0))
    with pytest.raises(ValueError, match="repeats"):
        PurifiedClassifier(p, tiny_classifier, repeats=0)


@pytest.mark.parametrize("solver,expected", [("ddpm", 5), ("heun", 9), ("predictor_corrector", 10), ("dpmpp_2m", 5)])
def test_nfe_counts_network_calls(tiny_denoiser, solver, expected):
    # Heun's last step onto clean data is a single Euler evaluation; the predictor-corrector
    # spends one Langevin corrector evaluation per step on top of the predictor.
    p = Purifier(tiny_denoiser, t_star=0.2, solver=solver, steps=5, gradient="none")
    before = tiny_denoiser.calls
    p(_x())
    assert p.nfe == tiny_denoiser.calls - before == expected


@pytest.mark.parametrize("mode", ["full", "adjoint"])
def test_gradients_match_finite_differences(tiny_denoiser, mode):
    """With the draw fixed (reseed), the purifier is a smooth map; autograd and the adjoint
    must agree with central differences (float64)."""
    net = tiny_denoiser.double()
    p = Purifier(net, t_star=0.15, solver="euler_maruyama", steps=2, gradient=mode, seed=1)
    x = 0.1 + 0.8 * torch.rand(1, 1, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))

    def fixed(z):
        p.reseed()
        return p(z)

    assert torch.autograd.gradcheck(fixed, (x.requires_grad_(True),), eps=1e-6, atol=1e-6)


def _saved_bytes(purifier, x) -> int:
    """Bytes of the distinct storages autograd saves for the backward of ``purifier(x)``."""
    seen = {}

    def pack(t):
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        purifier(x)
    return sum(seen.values())


def test_checkpointing_keeps_no_network_graph_per_solver_step(tiny_denoiser):
    """Memory for the backward as the solver steps grow from 5 to 20: full backpropagation keeps
    every step's network graph (tens of states per step); "checkpoint" keeps exactly one state per
    step (each step's input, from which it recomputes that step's graph) and nothing of the
    network; "adjoint" keeps one state per segment of ceil(sqrt(steps)) steps."""
    x = torch.rand(4, 1, 8, 8, requires_grad=True)
    state = x.numel() * x.element_size()
    grow = {}
    for mode in ("full", "checkpoint", "adjoint"):
        at = {n: _saved_bytes(Purifier(tiny_denoiser, t_star=0.3, solver="ddpm", steps=n, gradient=mode), x)
              for n in (5, 20)}
        grow[mode] = at[20] - at[5]
    assert grow["checkpoint"] == 15 * state
    assert grow["adjoint"] == (math.ceil(20 / 5) - math.ceil(5 / 3)) * state  # 4 segments vs 2
    assert grow["full"] >= 10 * grow["checkpoint"]

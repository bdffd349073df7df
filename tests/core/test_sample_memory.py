"""``pc.sample`` keeps no autograd graph unless asked (``differentiable=True``): the memory it
holds for a backward pass is zero and does not grow with the number of steps, whatever the
caller's grad mode; asked, the gradient through the solve is the exact one."""
import polydiff.core as pc
import pytest
import torch


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.Tanh(), torch.nn.Linear(32, 8))


def _saved_bytes(fn) -> int:
    """Bytes autograd saves for backward while ``fn`` runs (what a graph keeps alive)."""
    total = 0

    def pack(t):
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return total


@pytest.mark.parametrize("solver", ["dpmpp_2m", "unipc", "heun", "ddpm"])
def test_no_graph_by_default_and_memory_flat_in_steps(solver):
    net = _net()
    x = torch.randn(16, 8, generator=torch.Generator().manual_seed(1))

    def run(steps, **kw):
        return pc.sample(lambda x, t: net(x), pc.VP(), x, steps=steps, solver=solver,
                         generator=torch.Generator().manual_seed(2), **kw)

    assert torch.is_grad_enabled()
    out = run(10)
    assert not out.requires_grad and out.grad_fn is None
    assert _saved_bytes(lambda: run(5)) == _saved_bytes(lambda: run(50)) == 0
    # the switch records the graph, and its size grows with the steps (the measure can fail)
    kept5 = _saved_bytes(lambda: run(5, differentiable=True))
    kept50 = _saved_bytes(lambda: run(50, differentiable=True))
    assert 0 < kept5 < kept50
    assert run(10, differentiable=True).requires_grad


def test_differentiable_respects_an_outer_no_grad():
    net = _net()
    x = torch.randn(4, 8)
    with torch.no_grad():
        out = pc.sample(lambda x, t: net(x), pc.VP(), x, steps=4, differentiable=True)
    assert not out.requires_grad


def test_gradient_through_sampling_matches_finite_differences():
    """d(sum x_0)/d x_T through a 4-step DPM-Solver++(2M) solve against central differences."""
    net = _net().double()
    x = torch.randn(2, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    f = lambda z: pc.sample(lambda y, t: net(y), pc.VP(), z, steps=4, differentiable=True).sum()
    xr = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(f(xr), xr)
    e = torch.zeros_like(x)
    e[1, 3] = 1e-6
    with torch.no_grad():
        fd = (f(x + e) - f(x - e)) / 2e-6
    assert torch.isclose(g[1, 3], fd, rtol=1e-6, atol=1e-9)


def test_classifier_guidance_still_takes_its_gradient_under_the_default():
    x = torch.randn(4, 2, generator=torch.Generator().manual_seed(0))
    guide = pc.ClassifierGuidance(lambda x, t: -(x - 3.0).pow(2).sum(1), scale=1.0)
    plain = pc.sample(lambda x, t: torch.zeros_like(x), pc.VP(), x, steps=5)
    guided = pc.sample(lambda x, t: torch.zeros_like(x), pc.VP(), x, steps=5, guidance=guide)
    assert not guided.requires_grad
    assert (guided - plain).abs().max() > 1e-3


def test_differentiable_must_be_a_bool():
    with pytest.raises(TypeError, match="differentiable must be a bool, got 'yes'"):
        pc.sample(lambda x, t: x, pc.VP(), torch.zeros(1, 2), steps=2, differentiable="yes")


@pytest.mark.gpu
def test_cuda_peak_memory_flat_in_steps():
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    net = _net().cuda()
    x = torch.randn(10, 8, device="cuda")
    peaks = []
    for steps in (10, 100):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        pc.sample(lambda x, t: net(x), pc.VP(), x, steps=steps)
        torch.cuda.synchronize()
        peaks.append(torch.cuda.max_memory_allocated())
    assert peaks[1] <= peaks[0] * 1.05 + 4096

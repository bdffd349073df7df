"""Gradient modes on a step chain: adjoint == full backprop, BPDA identity, EOT draw count."""
import pytest
import torch
from polydiff.robustness.gradients import EOT, GRADIENT_MODES, bpda, run_chain
from torch import nn


def _chain(dtype=torch.float64):
    """A small stochastic chain x <- x + h * net(x) + s * z_k with z_k seeded by k
    (an Euler–Maruyama step of a neural SDE)."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Tanh(), nn.Conv2d(4, 1, 3, padding=1)).to(dtype)

    def step(x, k):
        g = torch.Generator().manual_seed(1000 + k)
        z = torch.randn(x.shape, generator=g, dtype=x.dtype)
        return x + 0.1 * net(x) + 0.05 * z

    return net, step


@pytest.mark.parametrize("n_steps,segment", [(7, None), (9, 2), (1, None)])
def test_adjoint_matches_full_backprop(n_steps, segment):
    net, step = _chain()
    x = torch.randn(2, 1, 6, 6, dtype=torch.float64)
    w = torch.randn(2, 1, 6, 6, dtype=torch.float64)
    grads = {}
    for mode in ("full", "checkpoint", "adjoint"):
        xi = x.clone().requires_grad_(True)
        net.zero_grad()
        out = run_chain(step, xi, n_steps, mode, params=list(net.parameters()), segment=segment)
        (out * w).sum().backward()
        grads[mode] = (xi.grad.clone(), [p.grad.clone() for p in net.parameters()], out.detach())
    ref_x, ref_p, ref_out = grads["full"]
    for mode in ("checkpoint", "adjoint"):
        gx, gp, out = grads[mode]
        assert torch.equal(out, ref_out)  # same forward (same stored noise)
        assert (gx - ref_x).norm() / ref_x.norm() < 1e-3
        assert (gx - ref_x).norm() / ref_x.norm() < 1e-10  # exact up to float64 round-off
        for a, b in zip(gp, ref_p):
            assert (a - b).norm() / b.norm() < 1e-10


def test_adjoint_without_param_grads():
    net, step = _chain()
    for p in net.parameters():
        p.requires_grad_(False)
    x = torch.randn(1, 1, 5, 5, dtype=torch.float64, requires_grad=True)
    torch.autograd.gradcheck(lambda z: run_chain(step, z, 3, "adjoint"), (x,))


def test_bpda_backward_is_identity():
    x = torch.rand(3, 1, 4, 4, requires_grad=True)
    fn = lambda z: torch.round(z * 4) / 4 + 0.5 * torch.sin(z)
    y = bpda(fn, x)
    assert torch.allclose(y, fn(x.detach()))
    g = torch.randn_like(y)
    (gx,) = torch.autograd.grad(y, x, g)
    assert torch.equal(gx, g)
    _, step = _chain(torch.float32)
    xc = torch.rand(2, 1, 6, 6, requires_grad=True)
    out = run_chain(step, xc, 4, "bpda")
    (gc,) = torch.autograd.grad(out.sum(), xc)
    assert torch.equal(gc, torch.ones_like(xc))


def test_eot_averages_stated_number_of_draws():
    class Counter(nn.Module):
        def __init__(self):
            super().__init__()
            self.calls, self.values = 0, []

        def forward(self, x):
            self.calls += 1
            v = torch.randn(x.shape[0], 10)
            self.values.append(v)
            return x.flatten(1)[:, :10] * (1 + self.calls) + v

    m = Counter()
    x = torch.rand(2, 1, 4, 4, requires_grad=True)
    out = EOT(m, n=5)(x)
    assert m.calls == 5
    expected = x.flatten(1)[:, :10] * (sum(range(2, 7)) / 5) + torch.stack(m.values).mean(0)
    assert torch.allclose(out, expected, atol=1e-6)
    (g,) = torch.autograd.grad(out.sum(), x)  # gradient of the mean = mean of the gradients
    assert torch.allclose(g.flatten(1)[:, :10], torch.full((2, 10), 4.0))


def test_invalid_arguments():
    _, step = _chain()
    x = torch.zeros(1, 1, 3, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="gradient mode"):
        run_chain(step, x, 2, "reverse")
    with pytest.raises(ValueError, match="n_steps"):
        run_chain(step, x, -1, "full")
    with pytest.raises(ValueError, match="draws"):
        EOT(nn.Identity(), n=0)
    assert set(GRADIENT_MODES) >= {"full", "checkpoint", "adjoint", "bpda"}


def test_batched_eot_is_one_call_on_stacked_draws():
    """batched=True: one call on n draw-major copies; output and gradient are the block means."""
    class Rows(nn.Module):
        def __init__(self):
            super().__init__()
            self.calls, self.rows = 0, []

        def forward(self, x):
            self.calls += 1
            self.rows.append(x.shape[0])
            w = torch.arange(1, x.shape[0] + 1, dtype=x.dtype)[:, None]  # a different "draw" per row
            return x.flatten(1)[:, :4] * w

    m = Rows()
    x = torch.rand(3, 1, 2, 2, requires_grad=True)
    out = EOT(m, n=4, batched=True)(x)
    assert m.calls == 1 and m.rows == [12]
    scale = torch.arange(1, 13, dtype=x.dtype).view(4, 3).mean(0)  # row i of block d has weight 3d + i + 1
    assert torch.allclose(out, x.flatten(1) * scale[:, None])
    (g,) = torch.autograd.grad(out.sum(), x)
    assert torch.allclose(g.flatten(1), scale[:, None].expand(3, 4))
    assert torch.allclose(EOT(m, n=4, reduce="probs", batched=True)(x).exp().sum(-1), torch.ones(3))
    with pytest.raises(TypeError, match="batched"):
        EOT(m, n=2, batched=1)


def test_batched_eot_rejects_a_module_that_mixes_rows():
    class FirstRow(nn.Module):  # returns one row for the whole stacked batch
        def forward(self, x):
            return x.flatten(1)[:1]

    with pytest.raises(ValueError, match="rows"):
        EOT(FirstRow(), n=2, batched=True)(torch.rand(3, 1, 2, 2))

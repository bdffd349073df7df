"""The one linear-combination helper of the solvers; CUDA graph capture refuses cleanly on CPU;
the CUDA paths themselves are tested under `pytest -m gpu`."""
import polydiff.core as pc
import pytest
import torch

PROC = pc.VP()


def _model(x, t):
    return 0.4 * torch.tanh(x) + 0.1 * torch.sin(3 * x) * t.reshape(-1, *([1] * (x.ndim - 1)))


def test_lincomb_matches_formula():
    from polydiff.core.lincomb import lincomb

    a, b, c = (torch.randn(4, 7) for _ in range(3))
    ref = 0.5 * a - 1.25 * b + 2.0 * c
    assert torch.allclose(lincomb(0.5, a, -1.25, b, 2.0, c), ref)
    k = [torch.tensor(v) for v in (0.5, -1.25, 2.0)]  # tensor coefficients, per sample below
    assert torch.allclose(lincomb(k[0], a, k[1], b, k[2], c), ref)
    per_sample = torch.linspace(-1, 1, 4)[:, None]
    assert torch.allclose(lincomb(per_sample, a, 2.0, c), per_sample * a + 2 * c)
    buf = a.clone()
    with torch.no_grad():  # out is a hint that autograd ignores
        assert lincomb(0.5, buf, -1.25, b, out=buf) is buf and torch.allclose(buf, 0.5 * a - 1.25 * b)
    with pytest.raises(ValueError, match="pairs"):
        lincomb(0.5, a, -1.25)


def test_graph_sampler_refuses_cleanly_on_cpu():
    x = torch.randn(2, 3)
    s = pc.GraphSampler(_model, PROC, x.shape, steps=5, solver="dpmpp_2m")
    assert not s.captured and "CUDA" in s.reason
    out = s(x)  # falls back to the eager path with the same numbers
    assert torch.equal(out, pc.sample(_model, PROC, x, steps=5, solver="dpmpp_2m"))
    with pytest.raises(ValueError, match="shape"):
        s(torch.randn(3, 3))


@pytest.mark.gpu
@pytest.mark.parametrize("solver", ["ddim", "dpmpp_2m", "dpmpp_3m", "unipc"])
def test_cuda_graph_equals_eager(solver):
    x = torch.randn(4, 3, 16, 16, device="cuda", generator=torch.Generator("cuda").manual_seed(0))
    net = torch.nn.Conv2d(3, 3, 3, padding=1).cuda()
    model = lambda x, t: net(x)
    eager = pc.sample(model, PROC, x, steps=10, solver=solver)
    s = pc.GraphSampler(model, PROC, x.shape, steps=10, solver=solver, device="cuda")
    assert s.captured, s.reason
    assert torch.allclose(s(x), eager, atol=1e-5)
    assert torch.allclose(s(x * 0.5), pc.sample(model, PROC, x * 0.5, steps=10, solver=solver), atol=1e-5)


@pytest.mark.gpu
def test_half_precision_model_keeps_solver_state_in_float32():
    x = torch.randn(2, 3, 8, 8, device="cuda")
    net = torch.nn.Conv2d(3, 3, 3, padding=1).cuda().half()
    out = pc.sample(lambda x, t: net(x), PROC, x, steps=10, solver="dpmpp_2m", model_dtype=torch.float16)
    assert out.dtype == torch.float32 and torch.isfinite(out).all()

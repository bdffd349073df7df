"""Fuzz of the robustness front doors: ``Purifier`` settings (t*, solver, steps, dt, grid, gradient
mode) and inputs (ranges, shapes, dtypes), and ``PurifiedClassifier``. Each example ends in a
named error raised by polydiff or in finite purified images / logits with finite input
gradients (see fuzz.py)."""
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fuzz import FUZZ, assert_finite, outcome

pytest.importorskip("polydiff.robustness")
import polydiff.core as pc
from polydiff.robustness.purify import PurifiedClassifier, Purifier

VALID = [None] * 6
SIZE = 8


class _Denoiser(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(1, 1, 3, padding=1)
        self.temb = nn.Linear(1, 1)

    def forward(self, x, t):
        return torch.tanh(self.conv(x) + self.temb(t.to(x.dtype)[:, None])[:, :, None, None])


NET = _Denoiser()
CLF = nn.Sequential(nn.Flatten(), nn.Linear(SIZE * SIZE, 3))


@FUZZ
@given(t_star=st.floats(1e-3, 1.0), steps=st.one_of(st.none(), st.integers(1, 4)), dt=st.floats(0.05, 1.0),
       solver=st.sampled_from(["euler_maruyama", "ddim", "ddpm", "heun", "dpmpp_2m"]),
       grid=st.sampled_from(["uniform_t", "log_snr", "karras", "quadratic"]),
       gradient=st.sampled_from(["full", "none", "bpda", "checkpoint", "adjoint"]),
       fault=st.sampled_from(VALID + ["t-nan", "t-above", "t-below", "t-str", "steps0", "steps-float", "dt0",
                                      "dt-nan", "solver", "grid", "gradient", "net"]))
def test_purifier_settings(t_star, steps, dt, solver, grid, gradient, fault):
    vp = pc.VP()
    if gradient in ("checkpoint", "adjoint") and solver not in ("euler_maruyama", "ddim", "ddpm", "heun"):
        solver = "ddim"
    net = NET
    if fault in ("t-nan", "t-above", "t-below", "t-str"):
        t_star = {"t-nan": float("nan"), "t-above": 1.5, "t-below": 0.0, "t-str": "0.1"}[fault]
    elif fault in ("steps0", "steps-float"):
        steps = 0 if fault == "steps0" else 2.0
    elif fault in ("dt0", "dt-nan"):
        steps, dt = None, (0.0 if fault == "dt0" else float("nan"))
    elif fault == "solver":
        solver = "rk4"
    elif fault == "grid":
        grid = "exponential"
    elif fault == "gradient":
        gradient = "reinforce"
    elif fault == "net":
        net = lambda x, t: x
    x = torch.rand(2, 1, SIZE, SIZE, generator=torch.Generator().manual_seed(1), requires_grad=True)

    def run():
        p = Purifier(net, vp, t_star=t_star, solver=solver, steps=steps, dt=dt, grid=grid, gradient=gradient,
                     image_shape=(1, SIZE, SIZE))
        out = p(x)
        if out.requires_grad:
            (grad,) = torch.autograd.grad(out.square().sum(), x)
            assert_finite(grad, "input gradient")
        return out.detach()

    out, err = outcome(run)
    assert (err is None) == (fault is None), err
    if out is not None:
        assert out.shape == x.shape


@FUZZ
@given(batch=st.integers(1, 3), repeats=st.integers(1, 3), seed=st.integers(0, 2**16),
       fault=st.sampled_from(VALID + ["above-one", "negative", "nan", "inf", "int", "rank3", "rank5", "empty",
                                      "size", "channels", "repeats0", "repeats-float", "list"]))
def test_purified_classifier_inputs(batch, repeats, seed, fault):
    x = torch.rand(batch, 1, SIZE, SIZE, generator=torch.Generator().manual_seed(seed))
    if fault == "above-one":
        x = x * 1.5 + 0.01
    elif fault == "negative":
        x[0, 0, 0, 0] = -0.2
    elif fault in ("nan", "inf"):
        x[-1, 0, 1, 1] = float(fault)
    elif fault == "int":
        x = (x > 0.5).to(torch.uint8)
    elif fault == "rank3":
        x = x[:, 0]
    elif fault == "rank5":
        x = x[None]
    elif fault == "empty":
        x = x[:0]
    elif fault == "size":
        x = x[..., :6, :6]
    elif fault == "channels":
        x = x.expand(batch, 3, SIZE, SIZE)
    elif fault in ("repeats0", "repeats-float"):
        repeats = 0 if fault == "repeats0" else 2.0
    elif fault == "list":
        x = x.tolist()

    def run():
        p = Purifier(NET, t_star=0.2, steps=3, image_shape=(1, SIZE, SIZE), seed=seed)
        return PurifiedClassifier(p, CLF, repeats=repeats)(x).detach()

    logits, err = outcome(run)
    assert (err is None) == (fault is None), err
    if logits is not None:
        assert logits.shape == (batch, 3)

"""Fuzz of the robustness front doors: ``Purifier`` settings (t*, solver, steps, dt, grid, gradient
mode) and inputs (ranges, shapes, dtypes), ``PurifiedClassifier``, ``make_attack`` radii and the
attacks' inputs, and ``evaluate``'s labels and settings. Each example ends in a
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
from polydiff.robustness import attacks
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
@given(t=st.one_of(st.floats(-2.0, 1200.0), st.sampled_from([0.0, 0.1, 0.2, 1.0, 1.5, 100.0, 999.0, 1000.0])),
       wrap=st.sampled_from(["float", "int", "numpy", "tensor"]), discrete=st.booleans())
def test_purifier_t_star_on_the_process_scale(t, wrap, discrete):
    """``t_star`` is on the process's own scale: DiscreteVP's steps 0..999 refuse a fraction
    (``t <= 1``, next to no noise) and anything above 999; a continuous VP takes [t_min, 1].
    Any real number type (NumPy floats and 0-d tensors included) is accepted (#31)."""
    import numpy as np
    from polydiff.vision._common import default_process

    process = default_process() if discrete else pc.VP()
    value = {"float": t, "int": int(t), "numpy": np.float32(t), "tensor": torch.tensor(t)}[wrap]
    v = float(value)
    valid = (1.0 < v <= process.t_max) if discrete else (process.t_min <= v <= process.t_max)
    p, err = outcome(lambda: Purifier(NET, process, t_star=value, steps=2, image_shape=(1, SIZE, SIZE)))
    assert (err is None) == valid, err
    if err is not None:
        assert "t_star" in str(err)
    else:
        assert p.t_star == pytest.approx(v)


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


LINEAR = nn.Sequential(nn.Flatten(), nn.Linear(SIZE * SIZE, 3))
BAD_NUMBERS = [0.0, -0.1, float("nan"), float("inf"), True, "0.1"]


@FUZZ
@given(name=st.sampled_from(["pgd", "eotpgd", "apgd-ce", "square"]), norm=st.sampled_from(["Linf", "L2"]),
       eps=st.sampled_from([0.03, 0.3, 1.0]), alpha=st.sampled_from([None, 0.01, 0.1]),
       steps=st.integers(1, 2), seed=st.integers(0, 3), scale=st.sampled_from([1.0, 1.0, 255.0, -1.0]),
       fault=st.sampled_from(VALID + ["eps-255", "eps-bad", "alpha-bad", "alpha-255", "steps0", "steps-float",
                                      "seed-negative", "seed-float"]),
       bad=st.sampled_from(BAD_NUMBERS))
def test_make_attack_radii_and_inputs(name, norm, eps, alpha, steps, seed, scale, fault, bad):
    """Radii and step sizes on the [0, 1] scale (an L-inf one at most 1: ``eps=8`` is 8/255 on the
    0-255 scale), and attacks that refuse images outside [0, 1] instead of clamping them."""
    if fault == "eps-255":
        eps = 8.0 if norm == "Linf" else float("inf")  # an L2 radius is only bounded by being finite
    elif fault == "eps-bad":
        eps = bad
    elif fault == "alpha-bad":
        alpha = bad
    elif fault == "alpha-255":
        alpha = 2.0 if norm == "Linf" else float("inf")
    elif fault in ("steps0", "steps-float"):
        steps = 0 if fault == "steps0" else 1.0
    elif fault in ("seed-negative", "seed-float"):
        seed = -1 if fault == "seed-negative" else 1.5
    atk, err = outcome(lambda: attacks.make_attack(name, LINEAR, eps=eps, norm=norm, alpha=alpha, steps=steps,
                                                   seed=seed))
    assert (err is None) == (fault is None), err
    if atk is None:
        return
    x = torch.rand(2, 1, SIZE, SIZE, generator=torch.Generator().manual_seed(seed)) * scale
    y = torch.tensor([0, 2])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        adv, err = outcome(lambda: atk(x, y))
    assert (err is None) == (scale == 1.0), err
    if adv is not None:
        assert adv.shape == x.shape and 0 <= float(adv.min()) and float(adv.max()) <= 1


@FUZZ
@given(labels=st.lists(st.integers(0, 2), min_size=1, max_size=4), batch_size=st.integers(1, 4),
       cascade=st.booleans(), seed=st.integers(0, 2**16),
       fault=st.sampled_from(VALID + ["label-above", "label-negative", "float-labels", "bool-labels", "empty",
                                      "length", "batch0", "batch-float", "level-95", "level-nan", "x-255"]))
def test_evaluate_labels_and_settings(labels, batch_size, cascade, seed, fault):
    """A label outside the model's classes is refused, not counted as a misclassification; the
    model comes back in the mode it was given, also after an error."""
    y = torch.tensor(labels)
    x = torch.rand(len(labels), 1, SIZE, SIZE, generator=torch.Generator().manual_seed(seed))
    level = 0.95
    if fault in ("label-above", "label-negative"):
        y[-1] = 3 if fault == "label-above" else -1
    elif fault in ("float-labels", "bool-labels"):
        y = y.float() if fault == "float-labels" else y.bool()
    elif fault == "empty":
        x, y = x[:0], y[:0]
    elif fault == "length":
        y = torch.cat([y, y[:1]])
    elif fault in ("batch0", "batch-float"):
        batch_size = 0 if fault == "batch0" else 2.0
    elif fault in ("level-95", "level-nan"):
        level = 95 if fault == "level-95" else float("nan")
    elif fault == "x-255":
        x = x * 255
    LINEAR.train()
    pgd = {"pgd": lambda m, s: attacks.make_attack("pgd", m, eps=0.1, steps=1, seed=s)}
    res, err = outcome(lambda: {k: v.value for k, v in
                                attacks.evaluate(LINEAR, x, y, pgd, batch_size=batch_size, level=level,
                                                 cascade=cascade).items() if k in ("clean", "robust")})
    assert (err is None) == (fault is None), err
    if res is not None:
        assert 0 <= res["robust"] <= res["clean"] <= 1
    assert LINEAR.training

"""Small, fast stand-ins for the trained networks (tests only)."""
import pytest
import torch
from torch import nn


class TinyDenoiser(nn.Module):
    """A U-Net-like eps-predictor: conv encoder, stride-2 bottleneck, skip, time modulation."""

    def __init__(self, ch: int = 4):
        super().__init__()
        self.inp = nn.Conv2d(1, ch, 3, padding=1)
        self.down = nn.Conv2d(ch, ch, 3, stride=2, padding=1)
        self.up = nn.ConvTranspose2d(ch, ch, 2, stride=2)
        self.out = nn.Conv2d(2 * ch, 1, 3, padding=1)
        self.temb = nn.Linear(1, ch)
        self.calls = 0

    def forward(self, x, t):
        self.calls += 1
        h = torch.tanh(self.inp(x) + self.temb(t.to(x.dtype)[:, None])[:, :, None, None])
        u = self.up(torch.tanh(self.down(h)))
        return torch.tanh(self.out(torch.cat([h, u], 1)))


class TinyClassifier(nn.Module):
    def __init__(self, size: int = 8, k: int = 3):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * size * size, k))

    def forward(self, x):
        return self.net(x)




class Affine(nn.Module):
    """Two logits ``[0, w . q(x) + b]`` with ``q`` the identity: the smallest L-inf change that
    flips the class is ``(w . x + b) / ||w||_1`` (away from the box edges). With ``levels`` set,
    ``q`` rounds the input to that many levels per unit, whose gradient is zero everywhere: a
    model that masks its gradients while score-based attacks still see its outputs move."""

    def __init__(self, w: torch.Tensor, b: float, levels: int | None = None):
        super().__init__()
        self.w, self.b, self.levels = nn.Parameter(w, requires_grad=False), b, levels

    def forward(self, x):
        q = x if self.levels is None else torch.round(x * self.levels) / self.levels
        z = q.flatten(1) @ self.w + self.b
        return torch.stack([torch.zeros_like(z), z], 1)


@pytest.fixture
def affine():
    """The :class:`Affine` model class (test modules cannot import each other)."""
    return Affine


@pytest.fixture
def tiny_denoiser():
    torch.manual_seed(0)
    return TinyDenoiser()


@pytest.fixture
def tiny_classifier():
    torch.manual_seed(1)
    return TinyClassifier()


@pytest.fixture
def micro(monkeypatch):
    """The robustness bench entry's quick configuration shrunk to seconds (test_bench*.py)."""
    import dataclasses

    from polydiff.bench import robustness as bench
    cfg = dataclasses.replace(
        bench.CONFIGS["quick"][0], n_train=128, clf_steps=4, adv_steps=2, adv_pgd_steps=1, dm_steps=2,
        dm_batch=8, n_test=4, attack_steps=1, eot=1, apgd_steps=1, t_stars=(0.02,), t_main=0.02,
        solver_steps=2, nfe_sweep=(1,), n_timing=1, paper_n=2, paper_steps=1, paper_eot=1, paper_apgd_steps=1,
        paper_fast=(2,), paper_batch=1, square_queries=20, val_n=0)
    monkeypatch.setitem(bench.CONFIGS, "quick", (cfg,))
    # the shipped pipeline's quick records: tests/robustness/test_bench_shipped.py, tests/test_shipped_pipelines.py
    monkeypatch.setattr(bench, "SHIPPED", {})
    return cfg

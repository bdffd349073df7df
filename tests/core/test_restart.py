"""pc.restart (Restart sampling, Xu et al. 2023): with the exact mixture score the data
distribution is its fixed point; rounds repair a deliberately wrong start; the forward kernel
matches the process; bad arguments are named."""
import math

import polydiff.core as pc
import pytest
import torch
from polydiff.core.testing import GaussianMixture, energy_distance

GM = GaussianMixture(torch.tensor([[-1.0, 0.5], [1.5, -0.5], [0.2, 1.2]]), torch.tensor([0.3, 0.5, 0.25]))
PROC = pc.VP()


def _floor(n, data):
    """Mean energy distance of independent exact samples to ``data``: the sampling-noise level."""
    return sum(energy_distance(GM.sample(n, torch.Generator().manual_seed(100 + k)), data) for k in range(4)) / 4


def test_exact_model_keeps_the_data_distribution():
    n = 800
    x0 = GM.sample(n, torch.Generator().manual_seed(1))
    out = pc.restart(GM.as_model(PROC), PROC, x0, t_restart=0.3, rounds=3, steps=40,
                     generator=torch.Generator().manual_seed(2))
    data = GM.sample(n, torch.Generator().manual_seed(7))
    assert energy_distance(out, data) < 2 * _floor(n, data)
    assert not torch.allclose(out, x0)  # the rounds did move the samples


def test_rounds_repair_a_shrunken_start():
    # samples pulled halfway to the origin are far from the data; restart rounds with the
    # exact score move them back (the energy distance falls round by round)
    n = 800
    bad = 0.5 * GM.sample(n, torch.Generator().manual_seed(1))
    data = GM.sample(n, torch.Generator().manual_seed(7))
    dist = [energy_distance(bad, data)]
    for rounds in (1, 4):
        out = pc.restart(GM.as_model(PROC), PROC, bad, t_restart=0.5, rounds=rounds, steps=40,
                         generator=torch.Generator().manual_seed(3))
        dist.append(energy_distance(out, data))
    assert dist[2] < dist[1] < dist[0] and dist[2] < 2 * _floor(n, data)


def test_zero_model_ddim_round_adds_the_kernel_noise():
    # eps = 0 makes the DDIM solve x_out = x_t / alpha(t): each round adds (sigma/alpha) z
    x0 = torch.zeros(4000, 3, dtype=torch.float64)
    zero = lambda x, t: torch.zeros_like(x)
    out = pc.restart(zero, PROC, x0, t_restart=0.4, rounds=2, steps=5, solver="ddim",
                     generator=torch.Generator().manual_seed(0))
    t = torch.tensor(0.4, dtype=torch.float64)
    s = float(PROC.sigma(t) / PROC.alpha(t))
    assert abs(float(out.std()) / (s * math.sqrt(2)) - 1) < 0.03  # two independent draws


def test_zero_rounds_and_bad_arguments():
    x0 = torch.randn(4, 2)
    assert pc.restart(GM.as_model(PROC), PROC, x0, t_restart=0.3, rounds=0, steps=5) is x0
    for bad in (-1, 1.5, True):
        with pytest.raises(TypeError if not isinstance(bad, int) or bad is True else ValueError, match="rounds must be an integer"):
            pc.restart(GM.as_model(PROC), PROC, x0, t_restart=0.3, rounds=bad, steps=5)
    for bad in (0.0, 2.0):
        with pytest.raises(ValueError, match="t_restart must lie in"):
            pc.restart(GM.as_model(PROC), PROC, x0, t_restart=bad, rounds=1, steps=5)

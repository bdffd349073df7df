"""Masked (absorbing) and uniform discrete diffusion over tokens."""
import itertools
import math

import pytest
import torch
from polydiff.core.discrete_state import MaskedDiffusion, UniformDiffusion, masked_sample, mdlm_loss

V, MASK = 7, 6  # 6 real tokens and the mask id


def _perfect(target):
    """A model that puts all mass on the target sequence (whatever z_t is)."""
    def model(z, t):
        return 30.0 * torch.nn.functional.one_hot(target.expand_as(z), V).float()
    return model


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_masked_forward_marginals_match_the_formula(schedule):
    proc = MaskedDiffusion(V, MASK, schedule)
    x = torch.randint(0, MASK, (4000, 16), generator=torch.Generator().manual_seed(0))
    tv = torch.linspace(0.05, 0.95, 10, dtype=torch.float64)
    t = tv.repeat_interleave(400)
    z = proc.sample_zt(x, t, torch.Generator().manual_seed(1))
    assert torch.equal(z[z != MASK], x[z != MASK])  # unmasked tokens are the data
    frac = (z == MASK).double().reshape(10, 6400).mean(1)
    expected = 1 - proc.alpha(tv)
    assert (frac - expected).abs().max() < 4 * math.sqrt(0.25 / 6400)
    probs = proc.marginal_probs(x[:3], t[:3])
    torch.testing.assert_close(probs.sum(-1), torch.ones(3, 16, dtype=torch.float64))
    torch.testing.assert_close(probs[..., MASK], (1 - proc.alpha(t[:3]))[:, None].expand(3, 16))


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_schedule_endpoints_and_derivative(schedule):
    proc = MaskedDiffusion(V, MASK, schedule)
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    torch.testing.assert_close(proc.alpha(t), torch.tensor([1.0, 0.0], dtype=torch.float64), atol=1e-12, rtol=0)
    tt = torch.linspace(0.1, 0.9, 9, dtype=torch.float64)
    h = 1e-6
    torch.testing.assert_close(proc.dalpha(tt), (proc.alpha(tt + h) - proc.alpha(tt - h)) / (2 * h), atol=1e-8, rtol=0)


def test_uniform_forward_marginals_and_posterior_match_d3pm_matrices():
    proc, v = UniformDiffusion(5, "cosine"), 5
    x = torch.randint(0, v, (20000, 1), generator=torch.Generator().manual_seed(0))
    x[:, 0] = 2
    t = 0.4
    z = proc.sample_zt(x, t, torch.Generator().manual_seed(1))
    freq = torch.bincount(z[:, 0], minlength=v).double() / z.shape[0]
    expected = proc.marginal_probs(x[:1], t)[0, 0]
    assert (freq - expected).abs().max() < 4 * math.sqrt(0.25 / 20000)

    def qbar(a):  # Austin et al. 2021, App. A.2: Q_t = a I + (1 - a)/V 11^T
        return a * torch.eye(v, dtype=torch.float64) + (1 - a) / v * torch.ones(v, v, dtype=torch.float64)

    s, t = torch.tensor(0.3, dtype=torch.float64), torch.tensor(0.7, dtype=torch.float64)
    a_s, a_t = proc.alpha(s), proc.alpha(t)
    q_ts = qbar(a_t / a_s)
    torch.testing.assert_close(qbar(a_s) @ q_ts, qbar(a_t))  # Chapman-Kolmogorov
    xs = torch.tensor([[0, 1, 4]])
    zt = torch.tensor([[0, 3, 3]])
    post = proc.posterior_probs(zt, xs, s, t)[0]
    for l in range(3):  # eq. 3: q(z_s | z_t, x) ~ (z_t Q_{t|s}^T) * (x Qbar_s)
        ref = q_ts[:, zt[0, l]] * qbar(a_s)[xs[0, l]]
        torch.testing.assert_close(post[l], ref / ref.sum())


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_mdlm_loss_of_a_uniform_model_is_its_cross_entropy(schedule):
    """int_0^1 -alpha'/(1-alpha) (1-alpha) dt = 1: the NELBO of a context-free uniform model over
    the V-1 real tokens is log(V-1) per token (up to the t < t_eps sliver)."""
    proc = MaskedDiffusion(V, MASK, schedule, t_eps=1e-4)
    x = torch.randint(0, MASK, (4000, 8), generator=torch.Generator().manual_seed(0))
    loss = proc.loss(lambda z, t: torch.zeros(*z.shape, V), x, generator=torch.Generator().manual_seed(1))
    se = float(loss.std()) / math.sqrt(4000)
    assert abs(float(loss.mean()) - math.log(V - 1)) < 4 * se + 2e-3
    perfect = proc.loss(_perfect(x), x, generator=torch.Generator().manual_seed(1))
    assert float(perfect.max()) < 1e-6


def test_mdlm_loss_fixed_and_loss_mask():
    proc = MaskedDiffusion(V, MASK)
    x = torch.randint(0, MASK, (64, 10), generator=torch.Generator().manual_seed(0))
    fixed = torch.zeros(10, dtype=torch.bool)
    fixed[:3] = True
    seen = {}

    def model(z, t):
        seen["z"] = z.clone()
        return torch.zeros(*z.shape, V)

    loss = mdlm_loss(model, proc, x, fixed=fixed, t=torch.full((64,), 0.9), generator=torch.Generator().manual_seed(2))
    assert torch.equal(seen["z"][:, :3], x[:, :3])  # conditioning tokens are never masked
    masked = (seen["z"] == MASK).sum(1).double()
    w = 1 / 0.9 * (1 - proc.t_eps)  # -alpha'/(1-alpha) for the linear schedule at t = 0.9
    torch.testing.assert_close(loss.double(), w * masked * math.log(V - 1) / 7, rtol=1e-5, atol=1e-6)
    pad = torch.ones(64, 10, dtype=torch.bool)
    pad[:, 8:] = False  # padding never counts
    lp = proc.loss(model, x, loss_mask=pad, fixed=fixed, t=torch.full((64,), 0.9),
                   generator=torch.Generator().manual_seed(2))
    counted = ((seen["z"] == MASK) & pad).sum(1).double()
    torch.testing.assert_close(lp.double(), w * counted * math.log(V - 1) / 5, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("steps", [1, 4, 12])
@pytest.mark.parametrize("temperature", [1.0, 0.0])
def test_sampler_with_a_perfect_model_recovers_the_sequence(steps, temperature):
    target = torch.tensor([[3, 1, 4, 1, 5, 0, 2, 5, 3, 5, 4, 2]])
    out = masked_sample(_perfect(target), MaskedDiffusion(V, MASK, "cosine"), (5, 12), steps=steps,
                        generator=torch.Generator().manual_seed(0), temperature=temperature)
    assert torch.equal(out, target.expand(5, 12))


def test_fixed_positions_never_change_and_reveal_follows_the_forward_process():
    proc = MaskedDiffusion(V, MASK, "cosine")
    b, n = 400, 50
    x = torch.full((b, n), MASK)
    x[:, :5] = torch.tensor([0, 1, 2, 3, 4])  # a prefix
    x[:, -1] = 5  # and a fixed last token (infilling)
    seen = []
    g = torch.Generator().manual_seed(1)

    def model(z, t):
        seen.append((z.clone(), float(t[0])))
        return torch.randn(*z.shape, V, generator=g)

    out = masked_sample(model, proc, x=x, steps=8, generator=torch.Generator().manual_seed(2))
    assert (out != MASK).all()
    assert torch.equal(out[:, :5], x[:, :5]) and torch.equal(out[:, -1], x[:, -1])
    for z, t in seen:
        assert torch.equal(z[:, :5], x[:, :5]) and torch.equal(z[:, -1], x[:, -1])
        free = z[:, 5:-1]
        frac = float((free == MASK).double().mean())
        # the state fed at time t is distributed as the forward process: masked w.p. 1 - alpha(t)
        assert abs(frac - float(1 - proc.alpha(torch.tensor(t)))) < 4 * math.sqrt(0.25 / free.numel()) + 1e-9
    for (z0, _), (z1, _) in itertools.pairwise(seen):  # revealed tokens are carried over
        kept = z0 != MASK
        assert torch.equal(z1[kept], z0[kept])


def test_sampler_draws_from_the_model_distribution():
    """A context-free model with token probabilities p gives samples with frequencies p."""
    p = torch.tensor([0.5, 0.3, 0.15, 0.05, 0.0, 0.0])
    logits = torch.cat([p.clamp_min(1e-30).log(), torch.tensor([5.0])])  # a mask logit is ignored

    def model(z, t):
        return logits.expand(*z.shape, V)

    out = masked_sample(model, MaskedDiffusion(V, MASK), (500, 40), steps=5,
                        generator=torch.Generator().manual_seed(3))
    freq = torch.bincount(out.flatten(), minlength=V).double() / out.numel()
    assert (freq[:6] - p.double()).abs().max() < 4 * math.sqrt(0.25 / out.numel()) and freq[MASK] == 0
    cold = masked_sample(model, MaskedDiffusion(V, MASK), (100, 40), steps=5, temperature=0.5,
                         generator=torch.Generator().manual_seed(4))
    q = p**2 / (p**2).sum()  # temperature 0.5 squares the probabilities
    freq = torch.bincount(cold.flatten(), minlength=V).double() / cold.numel()
    assert (freq[:6] - q.double()).abs().max() < 4 * math.sqrt(0.25 / cold.numel())


def test_bad_input_raises():
    proc = MaskedDiffusion(V, MASK)
    model = lambda z, t: torch.zeros(*z.shape, V)
    with pytest.raises(ValueError, match="mask_id"):
        MaskedDiffusion(V, V)
    with pytest.raises(ValueError, match="unknown schedule"):
        MaskedDiffusion(V, MASK, "sqrt")
    with pytest.raises(TypeError, match="integer"):
        proc.sample_zt(torch.zeros(2, 3), 0.5)
    with pytest.raises(ValueError, match="outside"):
        proc.sample_zt(torch.full((2, 3), V), 0.5)
    with pytest.raises(ValueError, match="t must lie"):
        proc.sample_zt(torch.zeros(2, 3, dtype=torch.long), 1.5)
    with pytest.raises(ValueError, match="mask id"):
        proc.loss(model, torch.full((2, 3), MASK))
    with pytest.raises(TypeError, match="MaskedDiffusion"):
        mdlm_loss(model, UniformDiffusion(V), torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="logits of shape"):
        masked_sample(lambda z, t: torch.zeros(*z.shape, V - 1), proc, (2, 3), steps=2)
    with pytest.raises(ValueError, match="NaN"):
        masked_sample(lambda z, t: torch.full((*z.shape, V), float("nan")), proc, (2, 3), steps=2)
    with pytest.raises(ValueError, match="steps"):
        masked_sample(model, proc, (2, 3), steps=0)
    with pytest.raises(ValueError, match="shape=\\(B, L\\)"):
        masked_sample(model, proc, steps=2)
    with pytest.raises(ValueError, match="fixed positions hold the mask id"):
        masked_sample(model, proc, x=torch.full((1, 3), MASK), fixed=torch.ones(1, 3, dtype=torch.bool), steps=2)
    with pytest.raises(ValueError, match="s < t"):
        UniformDiffusion(4).posterior_probs(torch.zeros(1, 2, dtype=torch.long), torch.zeros(1, 2, dtype=torch.long),
                                            0.5, 0.5)

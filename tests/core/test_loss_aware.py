"""Loss-aware timestep sampling (Nichol & Dhariwal 2021, eq. 17) against its formula."""
import pytest
import torch
from polydiff.core import LossSecondMomentResampler

T = 8
LOSS = torch.arange(1, T + 1, dtype=torch.float64)  # a known loss per index: L_t = t + 1


def warmed(history: int = 3, uniform_prob: float = 0.001) -> LossSecondMomentResampler:
    s = LossSecondMomentResampler(T, history=history, uniform_prob=uniform_prob)
    for _ in range(history):
        s.update(torch.arange(T), LOSS)
    return s


def test_uniform_until_every_index_holds_its_history():
    s = LossSecondMomentResampler(T, history=3)
    s.update(torch.arange(T), LOSS)
    s.update(torch.arange(T - 1), LOSS[:-1])  # the last index has 1 loss of 3
    assert not s.warmed_up
    torch.testing.assert_close(s.probabilities(), torch.full((T,), 1 / T, dtype=torch.float64))
    t, w = s.sample(64, torch.Generator().manual_seed(0))
    assert t.dtype == torch.long and ((t >= 0) & (t < T)).all() and torch.equal(w, torch.ones(64))


def test_probabilities_follow_eq_17_with_the_uniform_mix():
    s = warmed(uniform_prob=0.1)
    assert s.warmed_up
    expected = 0.9 * LOSS / LOSS.sum() + 0.1 / T  # sqrt(E[L^2]) = L for a constant loss
    torch.testing.assert_close(s.probabilities(), expected)


def test_the_weighted_draw_is_unbiased_and_has_lower_variance_than_uniform():
    """E_{t~p}[w L_t] = mean_t L_t (Monte Carlo over the sampler's own draws and weights), with
    a smaller variance than uniform draws: eq. 17's point."""
    s = warmed()
    t, w = s.sample(200_000, torch.Generator().manual_seed(1))
    est = w.double() * LOSS[t]
    assert abs(float(est.mean()) - float(LOSS.mean())) < 4 * float(est.std()) / 200_000 ** 0.5
    assert float(est.var()) < 0.2 * float(LOSS.var(unbiased=False))
    freq = torch.bincount(t, minlength=T).double() / len(t)
    torch.testing.assert_close(freq, s.probabilities(), atol=5e-3, rtol=0)


def test_history_keeps_the_latest_losses():
    s = warmed(history=2, uniform_prob=0.0)
    s.update(torch.tensor([0, 0]), torch.tensor([30.0, 40.0]))  # index 0's history is now [30, 40]
    w = torch.cat([torch.tensor([(30.0 ** 2 + 40.0 ** 2) / 2]).sqrt(), LOSS[1:].float()]).double()
    torch.testing.assert_close(s.probabilities(), w / w.sum())


@pytest.mark.parametrize("kwargs, match", [
    ({"num_timesteps": 0}, "num_timesteps"), ({"num_timesteps": 4, "history": 0}, "history"),
    ({"num_timesteps": 4, "uniform_prob": 1.5}, "uniform_prob"), ({"num_timesteps": 2.5}, "num_timesteps")])
def test_bad_construction_is_named(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        LossSecondMomentResampler(**kwargs)


def test_bad_updates_are_named():
    s = LossSecondMomentResampler(T)
    with pytest.raises(ValueError, match="losses must have the shape of t"):
        s.update(torch.arange(3), torch.ones(4))
    with pytest.raises(ValueError, match=r"t must hold integer indices in \[0, 8\)"):
        s.update(torch.tensor([8]), torch.ones(1))
    with pytest.raises(ValueError, match="t must hold integer indices"):
        s.update(torch.tensor([1.5]), torch.ones(1))
    with pytest.raises(ValueError, match="losses"):
        s.update(torch.tensor([1]), torch.tensor([float("nan")]))
    with pytest.raises((ValueError, TypeError), match="batch"):
        s.sample(0)

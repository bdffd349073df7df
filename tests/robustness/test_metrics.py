"""Confidence intervals against their closed forms (Wilson 1927; Clopper & Pearson 1934) and,
for the paired difference, a hand-worked table and its coverage by simulation."""
import math

import pytest
import torch
from polydiff.robustness.metrics import accuracy, paired_difference, proportion_ci
from scipy import stats


@pytest.mark.parametrize("k,n", [(0, 20), (7, 20), (20, 20), (450, 512), (1, 3)])
def test_wilson_closed_form(k, n):
    z = stats.norm.ppf(0.975)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    lo, hi = proportion_ci(k, n, 0.95, "wilson")
    assert lo == pytest.approx(max(0.0, centre - half), abs=1e-12)
    assert hi == pytest.approx(min(1.0, centre + half), abs=1e-12)


@pytest.mark.parametrize("k,n", [(0, 20), (7, 20), (20, 20), (450, 512)])
def test_clopper_pearson_beta_quantiles(k, n):
    lo, hi = proportion_ci(k, n, 0.9, "clopper-pearson")
    exp_lo = 0.0 if k == 0 else stats.beta.ppf(0.05, k, n - k + 1)
    exp_hi = 1.0 if k == n else stats.beta.ppf(0.95, k + 1, n - k)
    assert lo == pytest.approx(exp_lo, abs=1e-9)
    assert hi == pytest.approx(exp_hi, abs=1e-9)
    # the exact interval covers the Wilson interval's centre and is never narrower at k=0
    if k == 0:
        assert hi >= proportion_ci(k, n, 0.9, "wilson")[1]


def test_accuracy_record():
    correct = torch.tensor([True] * 30 + [False] * 10)
    acc = accuracy(correct)
    assert (acc.k, acc.n, acc.value) == (30, 40, 0.75)
    assert acc.low < 0.75 < acc.high


def test_invalid_inputs():
    with pytest.raises(ValueError, match="0 <= k <= n"):
        proportion_ci(5, 3)
    with pytest.raises(ValueError, match="method"):
        proportion_ci(1, 3, method="bayes")
    with pytest.raises(TypeError, match="bool"):
        accuracy(torch.tensor([1, 0]))
    with pytest.raises(ValueError, match="non-empty"):
        accuracy(torch.tensor([], dtype=torch.bool))


def test_paired_difference_worked_example():
    # 10 examples: 3 right only under a, 1 right only under b, 4 right under both, 2 under neither
    a = torch.tensor([1, 1, 1, 0, 1, 1, 1, 1, 0, 0], dtype=torch.bool)
    b = torch.tensor([0, 0, 0, 1, 1, 1, 1, 1, 0, 0], dtype=torch.bool)
    d = paired_difference(a, b)
    assert (d.value, d.n, d.a_only, d.b_only) == (0.2, 10, 3, 1)
    # Agresti-Min: cells + 1/2 -> n10 = 3.5, n01 = 1.5, n = 12; d = 2/12, var = (5 - 4/12) / 144
    se = math.sqrt(5 - 4 / 12) / 12
    z = stats.norm.ppf(0.975)
    assert d.low == pytest.approx(2 / 12 - z * se, abs=1e-12)
    assert d.high == pytest.approx(2 / 12 + z * se, abs=1e-12)
    same = paired_difference(a, a)
    assert same.value == 0.0 and same.low < 0.0 < same.high


def test_paired_difference_coverage():
    """95% intervals cover the true difference 0.10 - 0.05 in about 95% of simulated tables."""
    g = torch.Generator().manual_seed(0)
    n, hits, trials = 100, 0, 2000
    for _ in range(trials):
        u = torch.rand(n, generator=g)  # cells: a-only 10%, b-only 5%, both 60%, neither 25%
        a = (u < 0.10) | ((u >= 0.15) & (u < 0.75))
        b = (u >= 0.10) & (u < 0.75)
        d = paired_difference(a, b)
        hits += d.low <= 0.05 <= d.high
    assert 0.93 <= hits / trials <= 0.975


def test_paired_difference_rejects_bad_input():
    t = torch.ones(4, dtype=torch.bool)
    with pytest.raises(ValueError, match="same examples"):
        paired_difference(t, torch.ones(5, dtype=torch.bool))
    with pytest.raises(ValueError, match="bool"):
        paired_difference(torch.ones(4), t)
    with pytest.raises(ValueError, match="level"):
        paired_difference(t, t, level=1.0)

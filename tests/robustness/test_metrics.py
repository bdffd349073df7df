"""Confidence intervals against their closed forms (Wilson 1927; Clopper & Pearson 1934)."""
import math

import pytest
import torch
from polydiff.robustness.metrics import accuracy, proportion_ci
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

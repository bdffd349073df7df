"""Accuracies with binomial confidence intervals.

Robust accuracy on ``n`` test images is a binomial proportion; with the small ``n`` of
adaptive evaluations (DiffPure reports 512 images) its uncertainty matters. Intervals:
Wilson score (Wilson 1927) and exact Clopper–Pearson (Clopper & Pearson 1934), both from
:func:`scipy.stats.binomtest`. Two defences attacked on the same images are compared by the
paired difference of their accuracies (:func:`paired_difference`), whose interval is much
narrower than the two separate intervals suggest when the outcomes agree on most images.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from polydiff.core.validate import check_int, check_number
from scipy import stats
from torch import Tensor

__all__ = ["Accuracy", "PairedDifference", "accuracy", "paired_difference", "proportion_ci"]

_METHODS = {"wilson": "wilson", "clopper-pearson": "exact", "exact": "exact"}


def _check_level(level) -> float:
    return check_number(level, "level", low=0.0, high=1.0, low_open=True, high_open=True)


def proportion_ci(k: int, n: int, level: float = 0.95, method: str = "wilson") -> tuple[float, float]:
    """Two-sided confidence interval for a binomial proportion ``k / n``.

    Args:
        k: successes (0 <= k <= n).
        n: trials (> 0).
        level: confidence level in (0, 1).
        method: "wilson" or "clopper-pearson" (alias "exact").
    """
    # a count that passed through a float (k = 3.0) is still a count; 2.5, NaN and inf are not
    k, n = (int(v) if isinstance(v, float) and v.is_integer() else v for v in (k, n))
    k, n = check_int(k, "k"), check_int(n, "n")
    if n <= 0 or not (0 <= k <= n):
        raise ValueError(f"need n > 0 and 0 <= k <= n, got k={k}, n={n}")
    _check_level(level)
    if method not in _METHODS:
        raise ValueError(f"method must be one of {tuple(_METHODS)}, got {method!r}")
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=level, method=_METHODS[method])
    return float(ci.low), float(ci.high)


@dataclass(frozen=True)
class Accuracy:
    """An accuracy ``value = k / n`` with its confidence interval ``[low, high]``."""

    value: float
    k: int
    n: int
    low: float
    high: float
    level: float
    method: str

    def as_dict(self) -> dict:
        return asdict(self)


def accuracy(correct: Tensor, level: float = 0.95, method: str = "wilson") -> Accuracy:
    """Accuracy of a boolean ``[N]`` tensor of per-example correctness, with its interval."""
    if not isinstance(correct, Tensor):
        raise TypeError(f"correct must be a torch.Tensor, got {type(correct).__name__}")
    if correct.ndim != 1 or correct.numel() == 0:
        raise ValueError(f"correct must be a non-empty 1-D tensor, got shape {tuple(correct.shape)}")
    if correct.dtype != torch.bool:
        raise TypeError(f"correct must be a bool tensor, got {correct.dtype}")
    k, n = int(correct.sum()), int(correct.numel())
    low, high = proportion_ci(k, n, level, method)
    return Accuracy(k / n, k, n, low, high, level, method)


@dataclass(frozen=True)
class PairedDifference:
    """``value = acc(a) - acc(b)`` on the same ``n`` examples, with its interval; ``a_only`` and
    ``b_only`` count the discordant examples (correct under one model only)."""

    value: float
    n: int
    a_only: int
    b_only: int
    low: float
    high: float
    level: float


def paired_difference(a: Tensor, b: Tensor, level: float = 0.95) -> PairedDifference:
    """Difference of two accuracies measured on the same examples (paired binary outcomes).

    Interval: the Wald interval of a difference of paired proportions with the Agresti–Min
    (2005) adjustment — half an observation added to each of the four cells of the 2x2
    table — i.e. ``d = (n10 - n01) / n`` and ``var = ((n10 + n01) - (n10 - n01)^2 / n) / n^2``
    on the adjusted counts (Agresti, *Categorical Data Analysis*, eq. 10.2), clipped to
    [-1, 1]. ``value`` is the unadjusted difference.
    """
    for name, t in (("a", a), ("b", b)):
        if not isinstance(t, Tensor) or t.dtype != torch.bool or t.ndim != 1 or t.numel() == 0:
            raise ValueError(f"{name} must be a non-empty 1-D bool tensor of per-example correctness")
    if a.shape != b.shape:
        raise ValueError(f"a and b must hold the same examples, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    _check_level(level)
    n = a.numel()
    a_only, b_only = int((a & ~b).sum()), int((~a & b).sum())
    n10, n01, m = a_only + 0.5, b_only + 0.5, n + 2.0
    d = (n10 - n01) / m
    se = max((n10 + n01) - (n10 - n01) ** 2 / m, 0.0) ** 0.5 / m
    z = float(stats.norm.ppf(0.5 + level / 2))
    return PairedDifference((a_only - b_only) / n, n, a_only, b_only,
                            max(-1.0, d - z * se), min(1.0, d + z * se), level)

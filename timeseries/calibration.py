"""Scores of a probabilistic imputer against an exact posterior (or any reference sampler).

Shapes as in :mod:`.metrics`: ``samples [N, S, L, K]``, ``target [N, L, K]``, ``mask [N, L,
K]`` (True = an entry to score).

- :func:`gaussian_crps`: the closed-form CRPS of ``N(m, s^2)`` (Gneiting et al. 2005, eq. 5).
- :func:`interval_coverage`: share of targets inside the central ``level`` interval of the
  samples (a calibrated imputer covers ``level`` of them).
- :func:`energy_distance`: ``2 E|X - Y| - E|X - X'| - E|Y - Y'|`` between the joint draws of
  two samplers over each series' masked entries (Szekely & Rizzo 2013, eq. 2), with the
  unbiased (U-statistic) within-sample terms, so two samplers of the same law score 0 in
  expectation; zero only if the joint laws agree.
- :func:`posterior_scores`: the scores the benchmark records for one method on a set with an
  exact posterior: its CRPS relative to the posterior's, coverage and energy distance.
"""
from __future__ import annotations

import numpy as np
from polydiff.core.validate import check_number

from . import metrics

__all__ = ["energy_distance", "gaussian_crps", "interval_coverage", "posterior_scores"]


def _mask(mask, shape: tuple[int, ...]) -> np.ndarray:
    m = np.asarray(mask)
    if m.dtype != bool:
        raise TypeError(f"mask must be a boolean array, got dtype {m.dtype}")
    if m.shape != shape:
        raise ValueError(f"mask must have shape {shape}, got {m.shape}")
    if not m.any():
        raise ValueError("mask selects no entry to evaluate")
    return m


def gaussian_crps(mean, std, target, mask) -> float:
    """Mean over masked entries of ``CRPS(N(m, s^2), y) = s (z (2 Phi(z) - 1) + 2 phi(z) -
    1/sqrt(pi))``, ``z = (y - m) / s`` (Gneiting et al. 2005, eq. 5); ``s = 0`` gives ``|y - m|``."""
    from scipy.stats import norm

    y = np.asarray(target, dtype=np.float64)
    m, s = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)
    if m.shape != y.shape or s.shape != y.shape:
        raise ValueError(f"mean {m.shape}, std {s.shape} and target {y.shape} must share a shape")
    mask = _mask(mask, y.shape)
    m, s, y = m[mask], s[mask], y[mask]
    if (s < 0).any() or not np.isfinite(np.concatenate([m, s, y])).all():
        raise ValueError("mean, std and target must be finite on masked entries, std >= 0")
    pos = s > 0
    z = np.where(pos, (y - m) / np.where(pos, s, 1.0), 0.0)
    c = s * (z * (2 * norm.cdf(z) - 1) + 2 * norm.pdf(z) - 1 / np.sqrt(np.pi))
    return float(np.where(pos, c, np.abs(y - m)).mean())


def interval_coverage(samples, target, mask, level: float) -> float:
    """Share of masked targets inside the central ``level`` interval of the samples
    (interpolated quantiles ``(1 - level) / 2`` and ``(1 + level) / 2``, ends included)."""
    level = check_number(level, "level", low=0.0, high=1.0, low_open=True, high_open=True)
    samples, target, mask = metrics._prep(samples, target, mask)
    lo, hi = np.quantile(samples, [(1 - level) / 2, (1 + level) / 2], axis=1)
    inside = (target >= lo) & (target <= hi)
    return float(inside[mask].mean())


def _mean_pair_distance(a: np.ndarray, b: np.ndarray | None = None) -> float:
    """Mean Euclidean distance between rows of ``a`` and ``b``; ``b=None``: over pairs ``i != j``
    of ``a`` (0 for one row)."""
    same = b is None
    b = a if same else b
    d = np.sqrt(np.maximum((a * a).sum(1)[:, None] + (b * b).sum(1)[None] - 2 * a @ b.T, 0.0))
    if not same:
        return float(d.mean())
    n = len(a)
    return float((d.sum() - np.trace(d)) / (n * (n - 1))) if n > 1 else 0.0


def energy_distance(samples, reference, mask) -> float:
    """Mean over series of the energy distance between the joint draws ``samples [N, S, L, K]``
    and ``reference [N, S', L, K]`` restricted to the series' masked entries (vectors of
    length ``mask[n].sum()``); series without a masked entry are skipped."""
    x, r = metrics._numbers(samples, "samples"), metrics._numbers(reference, "reference")
    if x.ndim < 3 or r.ndim != x.ndim or x.shape[:1] + x.shape[2:] != r.shape[:1] + r.shape[2:]:
        raise ValueError(f"samples and reference must be [N, S, ...] with equal N and entry axes, "
                         f"got {x.shape} and {r.shape}")
    if x.shape[1] < 1 or r.shape[1] < 1:
        raise ValueError(f"samples and reference need at least one draw each (axis 1), got {x.shape} "
                         f"and {r.shape}")
    mask = _mask(mask, x.shape[:1] + x.shape[2:])
    out = []
    for n in range(len(x)):
        m = mask[n].reshape(-1)
        if not m.any():
            continue
        a, b = x[n].reshape(len(x[n]), -1)[:, m], r[n].reshape(len(r[n]), -1)[:, m]
        if not (np.isfinite(a).all() and np.isfinite(b).all()):
            raise ValueError(f"series {n}: samples or reference are not finite on masked entries")
        out.append(2 * _mean_pair_distance(a, b) - _mean_pair_distance(a) - _mean_pair_distance(b))
    return float(np.mean(out))


def posterior_scores(samples, target, mask, reference, *, reference_crps: float | None = None
                     ) -> dict[str, float]:
    """Scores of one method against the exact posterior, by the benchmark's metric names.

    Args:
        samples: the method's draws ``[N, S, L, K]`` (a point method passes ``S = 1``).
        target, mask: the held-out truth and the scored entries.
        reference: draws of the exact posterior ``[N, S', L, K]``, independent of ``samples``.
        reference_crps: the exact posterior's ``CRPS-sample`` with the same ``S`` (so both carry
            the same finite-sample bias); default: computed from the first ``S`` reference draws.

    Returns:
        ``CRPS`` (19-quantile), ``CRPS-sample``, ``CRPS-ratio`` (``CRPS-sample`` over the
        posterior's), ``coverage-50%``, ``coverage-90%`` and ``energy-distance`` to ``reference``.
    """
    crps = metrics.sample_crps(samples, target, mask)
    S = np.shape(samples)[1]
    if reference_crps is None:
        ref = metrics._numbers(reference, "reference")
        if ref.ndim < 2 or ref.shape[1] < S:
            raise ValueError(f"reference must be [N, S', ...] with S' >= S = {S} draws (need at least S), got shape {ref.shape}")
        reference_crps = metrics.sample_crps(ref[:, :S], target, mask)
    check_number(reference_crps, "reference_crps", low=0.0, low_open=True)
    return {"CRPS": metrics.quantile_crps(samples, target, mask), "CRPS-sample": crps,
            "CRPS-ratio": crps / reference_crps,
            "coverage-50%": interval_coverage(samples, target, mask, 0.5),
            "coverage-90%": interval_coverage(samples, target, mask, 0.9),
            "energy-distance": energy_distance(samples, reference, mask)}

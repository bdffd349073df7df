"""Imputers against the exact posterior on the state-space set (:mod:`.statespace`).

:func:`statespace_split` draws training and test windows of a :class:`LinearGaussianSSM`;
:func:`statespace_records` hides an MCAR share of each test window, scores every sampler of
an imputer and the exact posterior (method ``kalman-smoother``) with
:func:`.calibration.posterior_scores`, and returns benchmark records (DESIGN.md layout)::

    model = var1_model(3)
    Wtr, Wte = statespace_split(model, n_train=512, n_test=64, length=24)
    imp = CSDIImputer(3, train_steps=2000).fit(Wtr)
    recs = statespace_records(imp, model, Wte, rates=(0.1, 0.5, 0.9),
                              samplers=(("ddpm", 50), ("dpmpp_2m_sde", 10)), n_samples=100)
"""
from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from .calibration import posterior_scores
from .data import mcar_mask
from .metrics import sample_crps
from .statespace import LinearGaussianSSM, kalman_smoother

__all__ = ["DATASET", "statespace_records", "statespace_split"]

DATASET = "var1-statespace"


def statespace_split(model: LinearGaussianSSM, n_train: int, n_test: int, length: int,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Independent stationary windows ``[n_train, L, K]`` and ``[n_test, L, K]`` (no NaN)."""
    return model.sample(n_train, length, seed=seed), model.sample(n_test, length, seed=seed + 1)


def _rec(setting, method, metric, value, nfe, seconds, n) -> dict:
    return {"domain": "timeseries", "task": "impute", "dataset": DATASET, "setting": setting,
            "method": method, "metric": metric, "value": float(value),
            "higher_is_better": False, "nfe": nfe, "seconds": float(seconds), "n": int(n)}


def statespace_records(imputer, model: LinearGaussianSSM, test: np.ndarray,
                       rates: Sequence[float] = (0.1, 0.5, 0.9),
                       samplers: Sequence[tuple[str, int]] = (("dpmpp_2m_sde", 10),),
                       n_samples: int = 100, seed: int = 0, max_batch: int | None = None) -> list[dict]:
    """Records of ``imputer`` (one per sampler ``(solver, steps)``, method
    ``polydiff-csdi-<solver><steps>``) and of the exact posterior (``kalman-smoother``, its own
    independent draws) at each MCAR ``rate`` of the complete ``test`` windows.

    Coverage is recorded as ``coverage-50%-error`` / ``coverage-90%-error``, the distance
    ``|coverage - nominal|`` (lower is better), with the coverage itself under the extra key
    ``coverage``.
    """
    test = np.asarray(test, dtype=np.float64)
    if test.ndim != 3 or not np.isfinite(test).all():
        raise ValueError(f"test must be complete windows [N, L, K] without NaN, got shape "
                         f"{test.shape}")
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 2:
        raise ValueError(f"n_samples must be an int >= 2, got {n_samples!r}")
    recs: list[dict] = []
    for rate in rates:
        setting = f"mcar-{round(rate * 100)}%"
        hide = mcar_mask(test, rate, seed=seed)
        Xin = np.where(hide, np.nan, test)
        keep = np.isfinite(Xin).reshape(len(Xin), -1).any(1)  # the imputer needs one observation
        truth, hide, Xin = test[keep], hide[keep], Xin[keep]
        n = int(hide.sum())
        t0 = time.perf_counter()
        post = kalman_smoother(model, Xin)
        oracle = post.sample(n_samples, seed=seed + 1)
        secs = time.perf_counter() - t0
        ref = post.sample(n_samples, seed=seed + 2)  # independent reference draws
        ref_crps = sample_crps(ref, truth, hide)
        found = {"kalman-smoother": (posterior_scores(oracle, truth, hide, ref), None, secs)}
        for solver, steps in samplers:
            t0 = time.perf_counter()
            smp = imputer.impute(Xin, n_samples, solver=solver, steps=steps, seed=seed + 3,
                                 max_batch=max_batch)
            secs = time.perf_counter() - t0
            found[f"polydiff-csdi-{solver}{steps}"] = (
                posterior_scores(smp, truth, hide, ref, reference_crps=ref_crps), steps, secs)
        for method, (scores, nfe, secs) in found.items():
            for metric, v in scores.items():
                if metric.startswith("coverage-"):  # ranked by the distance to nominal
                    nominal = float(metric[len("coverage-"):-1]) / 100
                    r = _rec(setting, method, f"{metric}-error", abs(v - nominal), nfe, secs, n)
                    r["coverage"] = float(v)
                else:
                    r = _rec(setting, method, metric, v, nfe, secs, n)
                recs.append(r)
    return recs

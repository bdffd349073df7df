"""Paired comparison of two imputers' CRPS on the full-mode weather test windows (issue #29).

Re-draws the samples of the benchmark's protocol (``bench/timeseries.py`` full mode: MCAR
``--rate``, mask seed 0; polydiff's CSDI with the given sampler and seed 1; PyPOTS' CSDI at 50
steps), each from the networks the benchmark cached, and reports both methods' 19-quantile
CRPS with a 95% bootstrap interval of their difference, resampling test windows (the entries of
a window are not independent)::

    python scripts/weather_paired_crps.py --cache /tmp/full/out/timeseries/cache --rate 0.9 \\
        --sampler dpmpp_2m_sde:10

Measured at 74bebfc (16 test windows; CSDI 10 steps vs PyPOTS CSDI, difference and interval):
MCAR 10% 0.01404 vs 0.01623, -0.00218 [-0.00499, -0.00010]; 50% 0.02237 vs 0.02479, -0.00242
[-0.00408, -0.00098]; 90% 0.04112 vs 0.04093, +0.00019 [-0.00288, +0.00305].
"""
from __future__ import annotations

import argparse
import pathlib
import time

import numpy as np


def _window_losses(samples: np.ndarray, target: np.ndarray, hide: np.ndarray, quantiles) -> np.ndarray:
    """Per window: the sum over its hidden entries of the mean over levels of the quantile loss
    (``metrics.quantile_loss``: twice the pinball loss); ``quantile_crps`` is their total over
    the sum of ``|y|`` on the same entries."""
    from polydiff.timeseries.metrics import sample_quantiles

    qs = sample_quantiles(samples, quantiles)  # [Q, N, T, K]
    out = np.zeros(len(target))
    for q, f in zip(quantiles, qs):
        err = 2.0 * np.abs((target - f) * ((target <= f) - q))
        out += np.where(hide, err, 0.0).reshape(len(target), -1).sum(1)
    return out / len(quantiles)


def main(argv: list[str] | None = None) -> None:
    from polydiff.bench import timeseries as bench
    from polydiff.timeseries import data
    from polydiff.timeseries.metrics import QUANTILES, quantile_crps

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", required=True, help="the timeseries bench cache (OUT/timeseries/cache)")
    ap.add_argument("--rate", type=float, default=0.9)
    ap.add_argument("--sampler", default="dpmpp_2m_sde:10", help="solver:steps of polydiff's CSDI")
    ap.add_argument("--reps", type=int, default=2000)
    a = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    cfg, cache = bench.SETTINGS["full"], pathlib.Path(a.cache)
    Wtr, _, Wte, _ = bench._weather(cfg)
    imp = bench._train_csdi(cfg, Wtr, cache, lambda s: None)  # loads the cached network
    hide = data.mcar_mask(Wte, a.rate, seed=0)
    Xin = np.where(hide, np.nan, Wte)
    keep = np.isfinite(Xin).reshape(len(Xin), -1).any(1)
    Wt, hide, Xin = Wte[keep], hide[keep], Xin[keep]
    solver, steps = a.sampler.split(":")
    t0 = time.perf_counter()
    ours = imp.impute(Xin, cfg["n_samples"], solver=solver, steps=int(steps), seed=1, max_batch=cfg["max_batch"])
    t_ours = time.perf_counter() - t0
    theirs, t_theirs = bench._pypots(cfg, Wtr, Xin, imp.normalizer, cfg["n_samples"], cache)
    denom_w = np.where(hide, np.abs(Wt), 0.0).reshape(len(Wt), -1).sum(1)
    lo, lt = _window_losses(ours, Wt, hide, QUANTILES), _window_losses(theirs, Wt, hide, QUANTILES)
    c_o, c_t = lo.sum() / denom_w.sum(), lt.sum() / denom_w.sum()
    for name, c, s in (("polydiff", c_o, ours), ("pypots", c_t, theirs)):  # the bench's own number
        assert abs(c - quantile_crps(s, Wt, hide)) < 1e-9 * max(1.0, c), (name, c)
    rng = np.random.default_rng(0)
    diffs = []
    for _ in range(a.reps):
        i = rng.integers(0, len(Wt), len(Wt))
        diffs.append((lo[i].sum() - lt[i].sum()) / denom_w[i].sum())
    lo95, hi95 = np.percentile(diffs, [2.5, 97.5])
    print(f"MCAR {a.rate:.0%}: {len(Wt)} windows, {int(hide.sum())} hidden entries")
    print(f"CRPS polydiff {a.sampler} {c_o:.5f} ({t_ours:.0f} s) | PyPOTS CSDI 50 {c_t:.5f} ({t_theirs:.0f} s)")
    print(f"difference {c_o - c_t:+.5f}, 95% window-bootstrap interval [{lo95:+.5f}, {hi95:+.5f}] "
          f"({a.reps} replicates)")


if __name__ == "__main__":
    main()

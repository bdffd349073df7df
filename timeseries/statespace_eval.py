"""Imputers against the exact posterior on the state-space set (:mod:`.statespace`).

:func:`statespace_split` draws training and test windows of a :class:`LinearGaussianSSM`;
:func:`statespace_records` hides an MCAR share of each test window, scores every sampler of
an imputer and the exact posterior (method ``kalman-smoother``) with
:func:`.calibration.posterior_scores`, and returns benchmark records (docs/design.md schema)::

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
                       n_samples: int = 100, seed: int = 0, max_batch: int | None = None,
                       method: str = "polydiff-csdi") -> list[dict]:
    """Records of ``imputer`` (one per sampler ``(solver, steps)``, method
    ``<method>-<solver><steps>``) and of the exact posterior (``kalman-smoother``, its own
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
            found[f"{method}-{solver}{steps}"] = (
                posterior_scores(smp, truth, hide, ref, reference_crps=ref_crps), steps, secs)
        for name, (scores, nfe, secs) in found.items():
            for metric, v in scores.items():
                if metric.startswith("coverage-"):  # ranked by the distance to nominal
                    nominal = float(metric[len("coverage-"):-1]) / 100
                    r = _rec(setting, name, f"{metric}-error", abs(v - nominal), nfe, secs, n)
                    r["coverage"] = float(v)
                else:
                    r = _rec(setting, name, metric, v, nfe, secs, n)
                recs.append(r)
    return recs


class ExactDenoiserImputer:
    """The imputer contract (``impute(X, n_samples, solver=, steps=, seed=, max_batch=)``) with
    CSDI's sampling path and the exact denoiser (:mod:`.statespace_oracle`) in place of the
    network: its gap to ``kalman-smoother`` is the solver's alone."""

    def __init__(self, model: LinearGaussianSSM, train: np.ndarray):
        from .data import Normalizer
        from .diffusion import csdi_process

        self.model, self.norm, self.process = model, Normalizer().fit(train), csdi_process()

    def impute(self, X, n_samples: int, *, solver: str, steps: int, seed: int = 0,
               max_batch: int | None = None) -> np.ndarray:
        import torch

        from .diffusion import sample_imputations
        from .statespace_oracle import PosteriorDenoiser, series_index_timestamps

        X = np.asarray(X, dtype=np.float64)
        obs = np.isfinite(X)
        den = PosteriorDenoiser(self.process, kalman_smoother(self.model, X), self.norm.mean,
                                self.norm.std)
        out = sample_imputations(den, self.process,
                                 torch.as_tensor(np.where(obs, self.norm.transform(X), 0.0)),
                                 torch.as_tensor(obs, dtype=torch.float64), n_samples=n_samples,
                                 solver=solver, steps=steps, seed=seed, max_batch=max_batch or 256,
                                 timestamps=series_index_timestamps(len(X), X.shape[1]))
        return np.where(obs[:, None], X[:, None], self.norm.inverse(out.numpy()))


def main(argv: list[str] | None = None) -> list[dict]:
    """``python -m polydiff.timeseries.statespace_eval``: train (or load) a CSDI imputer on the
    state-space set and print its records beside the exact posterior's."""
    import argparse
    import json
    import pathlib

    import torch

    from .impute import CSDIImputer
    from .statespace import var1_model

    p = argparse.ArgumentParser(description=main.__doc__.split("\n")[0])
    p.add_argument("--train-steps", type=int, default=3000)
    p.add_argument("--n-train", type=int, default=512)
    p.add_argument("--n-test", type=int, default=32)
    p.add_argument("--length", type=int, default=24)
    p.add_argument("--features", type=int, default=3)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--channels", type=int, default=32)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--rates", default="0.1,0.5,0.9")
    p.add_argument("--samplers", default="dpmpp_2m_sde:10", help="solver:steps,...")
    p.add_argument("--samples", type=int, default=100)
    p.add_argument("--exact-denoiser", action="store_true",
                   help="sample with the exact denoiser instead of a trained network")
    p.add_argument("--out", default="runs/csdi-statespace")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    model = var1_model(a.features)
    train, test = statespace_split(model, a.n_train, a.n_test, a.length, seed=0)
    out = pathlib.Path(a.out)
    if a.exact_denoiser:
        imp = ExactDenoiserImputer(model, train)
    elif (out / "latest").exists():
        imp = CSDIImputer.load(out)
    else:
        imp = CSDIImputer(a.features, net={"layers": a.layers, "channels": a.channels,
                                           "heads": a.heads},
                          train_steps=a.train_steps, batch_size=16, seed=0).fit(train)
        imp.save(out)
    samplers = [(s.split(":")[0], int(s.split(":")[1])) for s in a.samplers.split(",")]
    recs = statespace_records(imp, model, test, rates=[float(r) for r in a.rates.split(",")],
                              samplers=samplers, n_samples=a.samples, max_batch=32,
                              method="exact-denoiser" if a.exact_denoiser else "polydiff-csdi")
    for r in recs:
        print(json.dumps(r))
    return recs


if __name__ == "__main__":
    main()

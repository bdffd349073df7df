"""CSV files of the task commands (``polydiff impute`` / ``polydiff forecast``).

A series file is what ``DataFrame.to_csv`` writes: a header of feature names, one row per time
step, empty (or ``NaN``, ``NA`` ... pandas' missing markers) cells for missing values, and
optionally one time/index column, which is kept. Observed cells are copied to the outputs as
the same text; numbers the model writes are the shortest text that reads back to the same
float64 (``repr``), so ``pd.read_csv(out, float_precision="round_trip")`` recovers them exactly.
Files are written to a temporary name beside the target and renamed into place when complete.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from polydiff.core.atomic import atomic_file

__all__ = ["SeriesTable", "future_index", "number_text", "read_series_csv", "write_csvs_atomically"]


@dataclass
class SeriesTable:
    """A series read from CSV.

    Attributes:
        text: the file's cells as read (str, NaN where missing), columns in file order.
        values: ``[T, K]`` float64 of the feature columns in the model's order, NaN = missing.
        features: the feature column names in the model's order.
        time_column: the name of the kept time/index column, or ``None``.
    """

    text: pd.DataFrame
    values: np.ndarray
    features: list[str]
    time_column: str | None


def number_text(x: float) -> str:
    """The shortest text that reads back to the float64 ``x``."""
    return repr(float(x))


def _columns(header: list[str], features: Sequence[str] | None, K: int,
             time_column: str | None) -> tuple[list[str], str | None]:
    if len(set(header)) != len(header):
        raise ValueError(f"the header repeats column names: {header}")
    if time_column is not None and time_column not in header:
        raise ValueError(f"has no column {time_column!r} (the --time-column); columns: {header}")
    if features is not None:
        missing = [f for f in features if f not in header]
        if missing:
            raise ValueError(f"lacks the model's feature columns {missing} (the model's features: "
                             f"{list(features)}; the file's columns: {header})")
        if time_column in features:
            raise ValueError(f"--time-column {time_column!r} is one of the model's features")
        extra = [c for c in header if c not in features]
        if time_column is None and len(extra) == 1:
            time_column = extra[0]
        others = [c for c in extra if c != time_column]
        if others:
            raise ValueError(f"columns {others} are not features of the model; keep at most one "
                             "time/index column (name it with --time-column) and drop the others")
        return list(features), time_column
    if time_column is None and len(header) == K + 1:
        time_column = header[0]  # DataFrame.to_csv's index column
    cols = [c for c in header if c != time_column]
    if len(cols) != K:
        raise ValueError(f"has {len(cols)} value columns {cols}; the model takes {K} features "
                         "(and optionally one time/index column)")
    return cols, time_column


def read_series_csv(path: str | os.PathLike, features: Sequence[str] | None, K: int,
                    time_column: str | None = None) -> SeriesTable:
    """Read a series file for a model of ``K`` features named ``features`` (``None``: the
    file's columns in order). Raises ``ValueError`` saying which column and line is wrong."""
    path = Path(path)
    if not path.is_file():
        raise ValueError("no such file")
    try:
        text = pd.read_csv(path, dtype=str, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise ValueError(f"not a readable CSV ({type(e).__name__}: {str(e).strip()})") from None
    if len(text) == 0:
        raise ValueError("has a header but no rows")
    header = [str(c) for c in text.columns]
    text.columns = header
    cols, time_column = _columns(header, features, K, time_column)
    values = np.full((len(text), K), np.nan)
    for k, c in enumerate(cols):
        for i, cell in enumerate(text[c]):
            if isinstance(cell, str):
                try:
                    values[i, k] = float(cell)
                except ValueError:
                    raise ValueError(f"column {c!r}, line {i + 2}: {cell!r} is not a number "
                                     "(leave the cell empty for a missing value)") from None
                if not np.isfinite(values[i, k]):
                    raise ValueError(f"column {c!r}, line {i + 2}: {cell!r} is not finite "
                                     "(leave the cell empty for a missing value)")
    return SeriesTable(text, values, cols, time_column)


def future_index(times: pd.Series, n: int) -> list[str] | None:
    """The ``n`` time stamps after ``times`` (text): integer or numeric steps continued, or
    dates continued at the frequency pandas infers; ``None`` when neither is regular."""
    t = times.dropna()
    if len(t) < 2 or len(t) != len(times):
        return None
    num = pd.to_numeric(t, errors="coerce")
    if num.notna().all():
        d = np.diff(num.to_numpy(dtype=np.float64))
        if not (d > 0).all() or not np.allclose(d, d[-1]):
            return None
        nxt = num.iloc[-1] + d[-1] * np.arange(1, n + 1)
        ints = all(s.strip().lstrip("+-").isdigit() for s in t)
        return [str(round(float(v))) if ints else number_text(v) for v in nxt]
    try:
        dates = pd.DatetimeIndex(pd.to_datetime(t, format="mixed"))
        freq = pd.infer_freq(dates) if len(dates) >= 3 else None
    except (ValueError, TypeError):
        return None
    if freq is None:
        return None
    return [str(d) for d in pd.date_range(dates[-1], periods=n + 1, freq=freq)[1:]]


def write_csvs_atomically(frames: dict[Path, pd.DataFrame]) -> None:
    """Write every frame (no index) to a temporary file beside its target, then rename all of
    them into place: a crash leaves no half-written file under a final name."""
    with contextlib.ExitStack() as stack:  # every rename happens only once every file is written
        for target, frame in frames.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            f = stack.enter_context(atomic_file(target, "w", newline=""))
            frame.to_csv(f, index=False)
            f.flush()
            os.fsync(f.fileno())

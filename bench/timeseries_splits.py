"""The time splits of the timeseries bench's weather and taylor tasks, shared by the entry
(:mod:`.timeseries`) and the held-out protocol of the shipped pipelines
(:mod:`.timeseries_shipped`)."""
from __future__ import annotations

import numpy as np
from polydiff.timeseries import data

__all__ = ["TAYLOR_SEASON", "TAYLOR_TRAIN", "WEATHER_SPLIT", "taylor_split", "weather_split"]

#: The time split of both tasks: weather hours train/validation/test; taylor trains on the first 80%.
WEATHER_SPLIT = (0.7, 0.1, 0.2)
TAYLOR_TRAIN = 0.8
TAYLOR_SEASON = 48  # half-hours: a daily season


def weather_split(cfg: dict) -> tuple[np.ndarray, list[str], tuple[int, int]]:
    """The hourly values ``[T, K]`` of ``cfg``'s stations (its first ``days`` days, or the whole
    year), their feature names, and the rows where validation and test begin
    (:data:`WEATHER_SPLIT`): rows ``[0, first)`` train the imputer."""
    s = data.load_nycflights_weather()
    keep = [i for i, f in enumerate(s.features) if f.split(":")[0] in cfg["stations"]]
    vals = s.values[:, keep]
    if cfg["days"]:
        vals = vals[: 24 * cfg["days"]]
    train, val, _ = data.split_by_time(vals, WEATHER_SPLIT)
    return vals, [s.features[i] for i in keep], (len(train), len(train) + len(val))



def taylor_split(fc: dict) -> tuple[np.ndarray, int, np.ndarray]:
    """The taylor demand ``y [T, 1]``, the row ``cut`` where its held-out part begins
    (:data:`TAYLOR_TRAIN`) and the forecaster's training windows (context + horizon rows every
    ``stride`` rows of ``y[:cut]``)."""
    from polydiff.timeseries.forecast import forecast_windows

    y = data.load_taylor().values
    cut = int(TAYLOR_TRAIN * len(y))
    return y, cut, forecast_windows(y[:cut], fc["context"], fc["horizon"], fc["stride"])

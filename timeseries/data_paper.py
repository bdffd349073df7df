"""Loaders for the CSDI paper's datasets, read from a user-supplied path.

Neither set can be downloaded here, so both take ``path`` and raise ``FileNotFoundError``
naming what is expected when it is absent. Preprocessing follows CSDI (Tashiro et al. 2021,
Sec. 6.1 and Appendix E):

- PhysioNet Challenge 2012 (Silva et al. 2012), ``set-a``: 4,000 ICU stays, 35 variables,
  48 hourly bins (the last value of a variable inside an hour is kept); evaluation targets
  are a random ``missing_ratio`` (10/50/90 %) of the observed values; normalisation with the
  observed values' mean and standard deviation.
- Beijing PM2.5 (Yi et al. 2016, STMVL ``pm25_ground.txt`` / ``pm25_missing.txt``): 36
  stations, hourly, windows of 36 hours; the targets are the entries observed in
  ``pm25_ground`` but missing in ``pm25_missing``; months 3, 6, 9, 12 are the test set.
"""
from __future__ import annotations

import pathlib
import re

import numpy as np
import pandas as pd

__all__ = ["PHYSIONET_ATTRIBUTES", "load_beijing_pm25", "load_physionet2012"]

PHYSIONET_ATTRIBUTES = (
    "DiasABP", "HR", "Na", "Lactate", "NIDiasABP", "PaO2", "WBC", "pH", "Albumin", "ALT",
    "Glucose", "SaO2", "Temp", "AST", "Bilirubin", "HCO3", "BUN", "RespRate", "Mg", "HCT",
    "SysABP", "FiO2", "K", "GCS", "Cholesterol", "NISysABP", "TroponinT", "MAP", "TroponinI",
    "PaCO2", "Platelets", "Urine", "NIMAP", "Creatinine", "ALP",
)


def _one_stay(file: pathlib.Path, hours: int) -> np.ndarray:
    df = pd.read_csv(file)
    if not {"Time", "Parameter", "Value"} <= set(df.columns):
        raise ValueError(f"{file} lacks the PhysioNet columns Time, Parameter, Value")
    hour = df["Time"].astype(str).str.split(":").str[0].astype(int)
    out = np.full((hours, len(PHYSIONET_ATTRIBUTES)), np.nan)
    col = {a: k for k, a in enumerate(PHYSIONET_ATTRIBUTES)}
    for h, p, v in zip(hour, df["Parameter"], df["Value"]):
        if 0 <= h < hours and p in col:
            out[h, col[p]] = v  # rows are in time order: the last value in the hour wins
    return out


def load_physionet2012(path: str | pathlib.Path, hours: int = 48, missing_ratio: float = 0.1,
                       seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """PhysioNet 2012 ``set-a`` as ``values [N, 48, 35]`` (NaN = missing) and a target mask.

    Args:
        path: the folder holding ``set-a/*.txt`` (or the ``set-a`` folder itself).
        hours: number of hourly bins (48 in the paper).
        missing_ratio: share of observed values hidden as evaluation targets.
        seed: seed of the target choice.

    Returns:
        ``(values, target_mask)``; ``target_mask`` is True on hidden observed entries.
    """
    root = pathlib.Path(path)
    folder = root / "set-a" if (root / "set-a").is_dir() else root
    files = sorted(f for f in folder.glob("*.txt") if re.fullmatch(r"\d{6}\.txt", f.name))
    if not files:
        raise FileNotFoundError(
            f"no PhysioNet 2012 records (NNNNNN.txt) under {folder}; download set-a from "
            "https://physionet.org/content/challenge-2012/ and pass its folder as path")
    if not 0.0 < missing_ratio < 1.0:
        raise ValueError(f"missing_ratio must be in (0, 1), got {missing_ratio}")
    values = np.stack([_one_stay(f, hours) for f in files])
    rng = np.random.default_rng(seed)
    target = np.zeros(values.shape, dtype=bool)
    for i in range(len(values)):  # per stay, as in the paper's preprocessing
        obs = np.flatnonzero(np.isfinite(values[i]))
        pick = rng.choice(obs, size=int(len(obs) * missing_ratio), replace=False)
        target[i].flat[pick] = True
    return values, target


def load_beijing_pm25(path: str | pathlib.Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Beijing PM2.5 of the STMVL release: ``(ground, eval_target)`` hourly frames, 36 stations.

    ``ground`` holds the values (NaN = missing); ``eval_target`` is boolean, True where a
    value is in ``pm25_ground.txt`` but removed in ``pm25_missing.txt`` (the paper's
    ground-truth targets). Use months 3, 6, 9, 12 as test, the rest as train/validation,
    and :func:`polydiff.timeseries.data.windows` with length 36.
    """
    root = pathlib.Path(path)
    cands = [root, root / "Code" / "STMVL" / "SampleData", root / "SampleData"]
    folder = next((c for c in cands if (c / "pm25_ground.txt").is_file()), None)
    if folder is None or not (folder / "pm25_missing.txt").is_file():
        raise FileNotFoundError(
            f"pm25_ground.txt / pm25_missing.txt not found under {root}; get the STMVL "
            "release (Yi et al. 2016) and pass the folder holding them as path")
    ground = pd.read_csv(folder / "pm25_ground.txt", index_col="datetime", parse_dates=True)
    missing = pd.read_csv(folder / "pm25_missing.txt", index_col="datetime", parse_dates=True)
    if ground.shape != missing.shape:
        raise ValueError(f"pm25_ground {ground.shape} and pm25_missing {missing.shape} differ")
    target = ground.notna() & missing.isna()
    return ground.astype(np.float64), target

"""The PBC clinical-visits imputation set of the timeseries bench: data, split and tasks.

``survival::pbcseq`` (:func:`polydiff.timeseries.data.load_pbc`): 312 patients, their first
16 visits, 12 labs, at irregular visit times (years since the first visit); 63% of the entries
are missing, naturally (labs not taken) or as padding after a patient's last visit. The
patients are split at random (seeded) into train / validation / test (70/10/20 %): no patient
is in two parts. Every lab is standardised with the training patients' mean and standard
deviation, and all scores are on that scale (CSDI's PhysioNet protocol): on the original
scale alkaline phosphatase (values in the thousands) would outweigh every other lab.

On the test patients a fraction ``rate`` of the *observed* entries is hidden (MCAR); the
natural gaps stay missing and are never scored, only the hidden entries are.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from polydiff.core.validate import check_int, check_number
from polydiff.timeseries import data

__all__ = ["DATASET", "PBCData", "PBCTask", "pbc_data", "pbc_split", "pbc_tasks"]

DATASET = "pbc-visits"


@dataclass(frozen=True)
class PBCData:
    """Standardised PBC series of the three patient groups: ``train``/``val``/``test``
    ``[N, L, K]`` (NaN = missing) with visit times ``*_times [N, L]`` and the patients'
    row numbers in :func:`~polydiff.timeseries.data.load_pbc` (``*_ids``)."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    train_times: np.ndarray
    val_times: np.ndarray
    test_times: np.ndarray
    train_ids: np.ndarray
    val_ids: np.ndarray
    test_ids: np.ndarray
    labs: tuple[str, ...]


@dataclass(frozen=True)
class PBCTask:
    """One imputation task: ``truth [N, L, K]`` (standardised, natural NaNs kept), the entries
    hidden from the imputers (``hide``, all observed in ``truth``) and the visit ``times``."""

    setting: str
    truth: np.ndarray
    hide: np.ndarray
    times: np.ndarray

    @property
    def inputs(self) -> np.ndarray:
        """What an imputer sees: ``truth`` with the hidden entries set to NaN."""
        return np.where(self.hide, np.nan, self.truth)


def pbc_split(n: int, fractions: Sequence[float] = (0.7, 0.1, 0.2),
              seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row numbers of ``n`` patients split at random into three disjoint sorted groups of
    sizes ``round(n * fractions[0])``, ``round(n * fractions[1])`` and the rest."""
    n = check_int(n, "n", low=3)
    check_int(seed, "seed", low=0)
    if len(fractions) != 3:
        raise ValueError(f"fractions must be three numbers (train, val, test), got {fractions!r}")
    fr = [check_number(f, f"fractions[{i}]", low=0.0, high=1.0, low_open=True) for i, f in enumerate(fractions)]
    if abs(sum(fr) - 1.0) > 1e-9:
        raise ValueError(f"fractions must sum to 1, got {fractions!r} (sum {sum(fr):.6g})")
    perm = np.random.default_rng(seed).permutation(n)
    a = max(1, round(n * fr[0]))
    b = min(n - 1, a + max(1, round(n * fr[1])))
    return np.sort(perm[:a]), np.sort(perm[a:b]), np.sort(perm[b:])


def pbc_data(max_visits: int = 16, fractions: Sequence[float] = (0.7, 0.1, 0.2), seed: int = 0,
             path: str | None = None) -> PBCData:
    """PBC split by patient (:func:`pbc_split`) and standardised with the training patients'
    statistics; ``path`` reads a local ``pbcseq.csv`` instead of the bundled copy."""
    values, times, labs = data.load_pbc(max_visits, path)
    tr, va, te = pbc_split(len(values), fractions, seed)
    norm = data.Normalizer().fit(values[tr])
    Z = norm.transform(values)
    return PBCData(Z[tr], Z[va], Z[te], times[tr], times[va], times[te], tr, va, te, tuple(labs))


def pbc_tasks(test: np.ndarray, times: np.ndarray, rates: Sequence[float], seed: int = 0,
              max_test: int | None = None) -> list[PBCTask]:
    """One :class:`PBCTask` per MCAR ``rate`` (setting ``mcar-<rate>%``) on the first
    ``max_test`` test patients (all if None); a patient left with no observed entry is dropped."""
    if max_test is not None:
        check_int(max_test, "max_test", low=1)
        test, times = test[:max_test], times[:max_test]
    tasks = []
    for rate in rates:
        hide = data.mcar_mask(test, rate, seed=seed)
        keep = (np.isfinite(test) & ~hide).reshape(len(test), -1).any(1)
        tasks.append(PBCTask(f"mcar-{round(rate * 100)}%", test[keep], hide[keep], times[keep]))
    return tasks

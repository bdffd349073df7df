"""The bench entry returns valid records, each polydiff number with a peer in its group,
and a second run reuses the cached models."""
import numpy as np
import pytest
import torch
from polydiff.bench import timeseries as bench
from polydiff.bench.schema import GROUP_FIELDS, record_problems

TINY = {"layers": 1, "channels": 8, "heads": 2, "time_emb_dim": 16, "feature_emb_dim": 4,
        "diffusion_emb_dim": 16}


@pytest.mark.slow  # ~35 s: two full bench passes incl. PyPOTS and ETS
def test_bench_records_and_cache(tmp_path, monkeypatch):
    tiny = {"stations": ("JFK",), "days": 20, "length": 12, "train_stride": 12, "net": TINY,
            "train_steps": 2, "batch_size": 8, "n_samples": 3, "rates": (0.5,), "max_test": 3,
            "fast": (("dpmpp_2m_sde", 3), ("dpmpp_2m_sde", 3, "linspace")), "pypots": True,
            "fc": {"context": 12, "horizon": 6, "train_steps": 2, "n_samples": 3, "origins": 2,
                   "net": TINY, "stride": 400},
            "ss": {"features": 2, "n_train": 16, "n_test": 2, "length": 8, "net": TINY, "train_steps": 2,
                   "rates": (0.5,), "n_samples": 4, "samplers": (("dpmpp_2m_sde", 3),)},
            "pbc": {**TINY_PBC, "rates": (0.5,), "max_test": 3, "pypots": True}}
    monkeypatch.setitem(bench.SETTINGS, "quick", tiny)
    threads = torch.get_num_threads()  # run() pins one thread on CPU; restore it afterwards
    stages = []
    try:
        recs = bench.run("quick", tmp_path, progress=stages.append)
        stages2 = []
        recs2 = bench.run("quick", tmp_path, progress=stages2.append)
    finally:
        torch.set_num_threads(threads)
    assert all(record_problems(r, domain="timeseries") == [] for r in recs)
    groups = {}
    for r in recs:
        groups.setdefault(tuple(r[k] for k in GROUP_FIELDS), set()).add(r["method"])
    for key, methods in groups.items():
        assert any(m.startswith("polydiff") for m in methods), key
        assert any(not m.startswith("polydiff") for m in methods), key
    methods = {r["method"] for r in recs if r["task"] == "impute"}
    assert {"linear-interp", "locf", "mean", "pypots-csdi", "polydiff-csdi-ddpm50",
            "polydiff-csdi-dpmpp_2m_sde3", "polydiff-csdi-dpmpp_2m_sde3-linspace"} <= methods
    # the grid option reaches the sampler: the two 3-step runs differ
    mae = {r["method"]: r["value"] for r in recs if r["task"] == "impute" and r["metric"] == "MAE"}
    assert mae["polydiff-csdi-dpmpp_2m_sde3"] != mae["polydiff-csdi-dpmpp_2m_sde3-linspace"]
    assert all(np.isfinite(r["value"]) for r in recs)
    ss = {(r["method"], r["metric"]): r["value"] for r in recs if r["dataset"] == "var1-statespace"}
    assert ss[("kalman-smoother", "CRPS")] > 0 and ("polydiff-csdi-dpmpp_2m_sde3", "CRPS") in ss
    pbc = {r["method"] for r in recs if r["dataset"] == "pbc-visits"}
    assert {"pypots-csdi", "linear-interp", "polydiff-csdi-ddpm50", "polydiff-csdi-dpmpp_2m_sde3"} <= pbc
    assert list(tmp_path.glob("*.png")) and stages
    # second run: models come from the cache (no training stage reported)
    assert not any("training" in s for s in stages2)
    assert [r["value"] for r in recs2] == [r["value"] for r in recs]


TINY_PBC = {"max_visits": 16, "net": TINY, "train_steps": 2, "batch_size": 8, "n_samples": 3,
            "rates": (0.1, 0.5), "max_test": 6, "pypots": False, "fast": (("dpmpp_2m_sde", 3),)}


def _run_pbc(tmp_path, monkeypatch, pbc=TINY_PBC):
    monkeypatch.setitem(bench.SETTINGS, "quick", {**bench.SETTINGS["quick"], "pbc": pbc})
    threads = torch.get_num_threads()
    try:
        return bench.run("quick", tmp_path, parts=["pbc"])
    finally:
        torch.set_num_threads(threads)


def test_pbc_records_for_every_method_and_rate(tmp_path, monkeypatch):
    from polydiff.bench.timeseries_pbc import DATASET

    recs = _run_pbc(tmp_path, monkeypatch)
    assert recs and all(record_problems(r, domain="timeseries") == [] for r in recs)
    assert {r["dataset"] for r in recs} == {DATASET} and {r["task"] for r in recs} == {"impute"}
    methods = {"polydiff-csdi-ddpm50", "polydiff-csdi-dpmpp_2m_sde3", "linear-interp", "locf", "mean"}
    metrics = {"MAE", "RMSE", "CRPS", "CRPS-sample", "CRPS-sum"}
    have = {(r["setting"], r["method"], r["metric"]) for r in recs}
    assert have == {(s, m, k) for s in ("mcar-10%", "mcar-50%") for m in methods for k in metrics}
    n = {r["setting"]: r["n"] for r in recs}
    assert 0 < n["mcar-10%"] < n["mcar-50%"]  # hidden entries, a share of the observed ones
    assert all(np.isfinite(r["value"]) for r in recs)


def test_pbc_scores_only_the_hidden_entries(tmp_path, monkeypatch):
    """A method that returns truth + 1 on the hidden entries (and nonsense on the natural
    gaps) scores MAE and RMSE exactly 1: observed entries (error 0) and natural gaps (error
    1e6) are not scored."""
    from polydiff.bench.timeseries_pbc import pbc_data, pbc_tasks

    d = pbc_data(16)
    tasks = pbc_tasks(d.test, d.test_times, TINY_PBC["rates"], seed=0, max_test=TINY_PBC["max_test"])

    def oracle_plus_one(X, fallback):
        task = next(t for t in tasks if np.array_equal(t.inputs, X, equal_nan=True))
        return np.where(task.hide, task.truth + 1.0, np.where(np.isnan(X), 1e6, X))

    monkeypatch.setattr(bench, "_CLASSICAL", (*bench._CLASSICAL, ("oracle+1", oracle_plus_one)))
    recs = _run_pbc(tmp_path, monkeypatch)
    got = {(r["setting"], r["metric"]): r["value"] for r in recs if r["method"] == "oracle+1"}
    for setting in ("mcar-10%", "mcar-50%"):
        assert got[(setting, "MAE")] == pytest.approx(1.0, abs=1e-12)
        assert got[(setting, "RMSE")] == pytest.approx(1.0, abs=1e-12)
        assert got[(setting, "CRPS-sample")] == pytest.approx(1.0, abs=1e-12)
    # and the scored entries are the hidden ones: their count is the records' n
    n = {r["setting"]: r["n"] for r in recs}
    assert [n[t.setting] for t in tasks] == [int(t.hide.sum()) for t in tasks]


def test_pbc_split_by_patient_has_no_overlap():
    from polydiff.bench.timeseries_pbc import pbc_data, pbc_split, pbc_tasks
    from polydiff.timeseries import data

    tr, va, te = pbc_split(312, (0.7, 0.1, 0.2), seed=0)
    assert (len(tr), len(va), len(te)) == (218, 31, 63)
    assert not (set(tr) & set(va) or set(tr) & set(te) or set(va) & set(te))
    assert sorted([*tr, *va, *te]) == list(range(312))
    assert not np.array_equal(pbc_split(312, seed=1)[2], te)  # the seed matters
    d = pbc_data(16)
    assert np.array_equal(d.test_ids, te) and np.array_equal(d.train_ids, tr)
    values, times, _ = data.load_pbc(16)
    # each group holds its own patients' rows, standardised with the training patients' statistics
    norm = data.Normalizer().fit(values[tr])
    assert np.allclose(d.test, norm.transform(values[te]), equal_nan=True)
    assert np.array_equal(d.test_times, times[te])
    assert np.allclose(np.nanmean(d.train.reshape(-1, 12), 0), 0, atol=1e-9)
    for task in pbc_tasks(d.test, d.test_times, (0.1, 0.5)):
        assert np.isfinite(task.truth[task.hide]).all()  # only observed entries are hidden
        assert np.isnan(task.inputs[task.hide]).all()
        natural = np.isnan(task.truth)
        assert natural.any() and not (natural & task.hide).any()
    with pytest.raises(ValueError, match="fractions must sum to 1"):
        pbc_split(312, (0.7, 0.1, 0.1))
    with pytest.raises(ValueError, match="n must be"):
        pbc_split(2)


def test_run_refuses_unknown_or_unconfigured_parts(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match=r"parts must be a non-empty subset of .*'pbcs'"):
        bench.run("quick", tmp_path, parts=["pbcs"])
    monkeypatch.setitem(bench.SETTINGS, "quick", {k: v for k, v in bench.SETTINGS["quick"].items() if k != "pbc"})
    with pytest.raises(ValueError, match=r"parts \['pbc'\] are not configured in SETTINGS\['quick'\]"):
        bench.run("quick", tmp_path, parts=["pbc"])

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
                   "rates": (0.5,), "n_samples": 4, "samplers": (("dpmpp_2m_sde", 3),)}}
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
    assert list(tmp_path.glob("*.png")) and stages
    # second run: models come from the cache (no training stage reported)
    assert not any("training" in s for s in stages2)
    assert [r["value"] for r in recs2] == [r["value"] for r in recs]

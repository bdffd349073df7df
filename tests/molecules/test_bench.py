"""The bench entry returns valid, comparable records (tiny settings) and caches the model."""
import json

import pytest
from polydiff.bench import molecules as bench
from polydiff.bench.schema import GROUP_FIELDS, record_problems

TINY = {
    "spec": {"n_mols": 40, "min_heavy_atoms": 3, "max_heavy_atoms": 5, "n_test": 2, "n_val": 0, "T": 5000},
    "net": {"hidden": 8, "num_convs_global": 1, "num_convs_local": 1, "cutoff": 5.0, "num_rbf": 4},
    "train": {"steps": 4, "batch_size": 8, "lr": 1e-3, "ema_decay": 0.9, "warmup_steps": 1},
    "n_gen": 2, "ancestral_steps": (3,), "fast": (("ddim", 2),), "clustered_oversample": 2,
    "refine": {"noise_level": 0.2, "steps": 2, "solver": "ddim"},
    "restart": {"solver": "ddim", "steps": 2, "rounds": (1,), "noise": 0.2, "round_steps": 2},
    "stereo_rounds": 1}


def test_bench_records_and_cache(tmp_path, monkeypatch):
    monkeypatch.setitem(bench.SETTINGS, "quick", TINY)
    stages = []
    recs = bench.run("quick", tmp_path, progress=stages.append)
    assert all(not record_problems(r, domain="molecules") for r in recs)
    methods = {r["method"] for r in recs}
    f = "+stereo-filter1"
    assert {f"polydiff-geodiff-ancestral-3{f}", f"polydiff-geodiff-ddim-2{f}", "rdkit-etkdgv3",
            "rdkit-etkdgv3-same-stereo", "rdkit-etkdgv3-no-stereo", "rdkit-etkdg+mmff",
            "rdkit-etkdg+mmff-same-stereo", "rdkit-clustered-etkdg", "rdkit-clustered-etkdg-same-stereo",
            "rdkit-etkdgv3+polydiff-refine-s0.2-ddim-2", f"polydiff-geodiff-ddim-2+restart1x2-s0.2{f}",
            f"polydiff-geodiff-ddim-2+restart1x2-s0.2{f}+mmff"} <= methods
    # nfe: network evaluations per returned conformer, the stereo filter's redraws included (4 per draw:
    # 2 DDIM steps + 1 restart round of 2); +mmff adds the redraws of the check after MMFF
    for m in (f"polydiff-geodiff-ddim-2+restart1x2-s0.2{f}", f"polydiff-geodiff-ddim-2+restart1x2-s0.2{f}+mmff"):
        rows = [r for r in recs if r["method"] == m]
        assert len({(r["nfe"], r["nfe_mean"], r["resampled"], r["stereo_seconds"]) for r in rows}) == 1
        n_conf = 2 * 2
        assert rows[0]["nfe_mean"] == pytest.approx(4 * (n_conf + rows[0]["resampled"]) / n_conf)
        assert rows[0]["nfe"] == round(rows[0]["nfe_mean"]) >= 4 and rows[0]["stereo_seconds"] > 0
    raw, mmff = (next(r for r in recs if r["method"] == f"polydiff-geodiff-ddim-2{f}{x}") for x in ("", "+mmff"))
    assert mmff["resampled"] >= raw["resampled"] and mmff["seconds"] > raw["seconds"]
    # the bench trains with GeoDiff's gradient clipping, the CLI's default (one constant)
    from polydiff.molecules.train import GRAD_CLIP
    configs = list((tmp_path / "cache").glob("molecules-geodiff-*/step_*/config.json"))
    assert configs and all(json.loads(c.read_text())["grad_clip"] == GRAD_CLIP == 1e4 for c in configs)
    # every record names the stereo information its method received; the fair ETKDG gets the sampler's
    info = {r["method"]: r["stereo_info"] for r in recs}
    assert info["rdkit-etkdgv3-same-stereo"] == info[f"polydiff-geodiff-ddim-2{f}"] == "full"
    assert info["rdkit-etkdgv3-no-stereo"] == "none" and info["rdkit-etkdgv3"] == "full"
    # given the same information, the fair baseline is the full-tag run under its own name
    for base in ("rdkit-etkdgv3", "rdkit-etkdg+mmff", "rdkit-clustered-etkdg"):
        same, full = ({r["metric"]: (r["value"], r["seconds"]) for r in recs if r["method"] == m}
                      for m in (f"{base}-same-stereo", base))
        assert same == full and len(same) >= 9
    assert recs[0]["dataset"].startswith("qm9-dft-random-heavy3-5")
    groups = {}
    for r in recs:
        groups.setdefault(tuple(r[k] for k in GROUP_FIELDS), set()).add(r["method"])
    assert all(len(m) == len(methods) for m in groups.values())  # every number has its baselines
    assert (tmp_path / "molecules-cov-vs-delta-quick.png").is_file()
    assert any("training" in s for s in stages)
    stages.clear()
    again = bench.run("quick", tmp_path, progress=stages.append)
    assert any("cached model" in s for s in stages) and not any("training" in s for s in stages)
    assert not any("sampling" in s for s in stages)  # generated conformers are cached too
    key = lambda r: (r["method"], r["metric"])
    first = {key(r): r["value"] for r in recs if r["method"].startswith("polydiff") and r["metric"] != "s/conformer"}
    for r in again:
        if key(r) in first:
            assert r["value"] == pytest.approx(first[key(r)], abs=1e-3)  # SDF keeps 4 decimals
    cost = lambda rs: {key(r): (r["nfe"], r["nfe_mean"], r["seconds"], r["resampled"], r["stereo_seconds"])
                       for r in rs if r["method"].startswith("polydiff-geodiff")}
    assert cost(again) == cost(recs)  # the cached conformers keep their sampling cost
    with pytest.raises(ValueError, match="mode"):
        bench.run("medium", tmp_path)

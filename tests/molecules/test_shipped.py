"""`scripts/ship_pretrained.py molecules-conformers` turns a molecules bench cache into a
ConformerPipeline whose card is its own defaults' score on the protocol's held-out molecules,
beside ETKDGv3 given the same stereo information.

The network comes from a tiny 'quick' protocol trained for two steps into a bench cache and
shipped from it through the same code as the full-mode network."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from polydiff.bench import molecules as bench
from polydiff.molecules import baselines, metrics
from polydiff.molecules.commands import DEFAULT_CONFORMER_MODEL
from polydiff.molecules.pipelines import ConformerPipeline
from polydiff.molecules.train import MolTrainSpec, qm9_split

TINY = {"spec": {"n_mols": 14, "min_heavy_atoms": 3, "max_heavy_atoms": 4, "n_test": 2, "n_val": 0, "T": 5000},
        "net": {"hidden": 16, "num_convs_global": 1, "num_convs_local": 1, "cutoff": 10.0},
        "train": {"steps": 2, "batch_size": 4, "lr": 1e-3, "ema_decay": 0.9, "warmup_steps": 1},
        "n_gen": 2}


@pytest.fixture(scope="module")
def tiny_shipped(tmp_path_factory, ship_pretrained):
    """``(folder, split, printed text)`` of the tiny network shipped by ``ship_pretrained.py``."""
    root = tmp_path_factory.mktemp("ship")
    cache, into = root / "cache", root / "pretrained"
    split = qm9_split(MolTrainSpec(**TINY["spec"]))
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(bench.SETTINGS, "quick", TINY)
        bench._trained(TINY, split.train, cache, lambda stage: None)
        # the tiny protocol is quick mode's; the full protocol's 20,000-molecule split is not built here
        printed = ship_pretrained(["molecules-conformers", "--cache", str(cache), "--into", str(into),
                                   "--command", "tiny run"], {"ship_molecules": {"PROTOCOLS": ("quick",)}})
    return into / "geodiff-qm9", split, printed


def test_the_card_is_the_defaults_score_beside_the_same_stereo_etkdg(tiny_shipped):
    folder, split, printed = tiny_shipped
    pipe = ConformerPipeline.from_pretrained(folder)
    card, gen = pipe.card, pipe.generator
    # ConformerGenerator's defaults (chosen on validation molecules; 100 NFE)
    assert (gen.solver, gen.steps, gen.restarts, gen.restart_steps, gen.stereo_rounds) == ("dpmpp_2m_sde", 50, 5, 10, 4)
    assert card.training_command == "tiny run"
    assert split.label in card.data and "quick protocol" in card.data and f"{len(split.train)} training" in card.data
    # re-measured here at the loaded pipeline's defaults: the card's numbers, exactly
    test, n = split.test, TINY["n_gen"]
    ours = metrics.summarize(metrics.score_conformers(test, pipe(list(test), n, seed=0)), bench.DELTA)
    theirs = metrics.summarize(metrics.score_conformers(test, [baselines.etkdg(m, n, stereo="full") for m in test]),
                               bench.DELTA)
    keys = ("COV-R mean", "MAT-R mean", "COV-P mean", "MAT-P mean")
    assert [(m["value"], m["baseline_value"]) for m in card.metrics[:4]] == [(ours[k], theirs[k]) for k in keys]
    assert all("ETKDGv3 given the same stereo information (full" in m["baseline"] for m in card.metrics)
    assert "seconds per conformer" in card.metrics[4]["metric"] and card.metrics[4]["value"] > 0
    index = json.loads((folder / "pipeline.json").read_text())
    assert index["dtype"] is None and "Weights stored in float32" in card.notes
    assert "wrote" in printed and "MAT-R" in printed


def test_ship_refuses_a_cache_without_a_network(tmp_path, monkeypatch, script_module):
    ship = script_module("ship_molecules")
    monkeypatch.setitem(bench.SETTINGS, "quick", TINY)
    monkeypatch.setattr(ship, "PROTOCOLS", ("quick",))
    import argparse

    args = argparse.Namespace(cache=tmp_path, into=tmp_path / "p", name="geodiff-qm9", command="x")
    with pytest.raises(SystemExit, match=r"expected one finished network .*molecules-geodiff-"):
        ship.molecules_conformers(args)
    assert not (tmp_path / "p").exists()


def test_the_shipped_default_is_a_row_of_the_committed_full_results():
    """The row quick mode compares the shipped pipeline with exists in bench/results/molecules.json."""
    import json

    from polydiff.bench.molecules_shipped import CONFORMER_MODEL, full_method, full_setting
    from polydiff.core.pipeline_hub import shipped_pipelines

    if CONFORMER_MODEL not in shipped_pipelines():
        pytest.skip(f"{CONFORMER_MODEL} is not shipped in this checkout")
    doc = json.loads((Path(__file__).parents[2] / "bench" / "results" / "molecules.json").read_text())
    rows = {(r["setting"], r["method"]) for r in doc["records"]}
    gen = ConformerPipeline.from_pretrained(CONFORMER_MODEL).generator
    quick = bench.SETTINGS["quick"]["shipped"]
    assert (full_setting(bench.SETTINGS["full"]["spec"], quick["n_gen"], bench.DELTA), full_method(gen)) in rows
    assert (full_setting(bench.SETTINGS["full"]["spec"], quick["n_gen"], bench.DELTA), "rdkit-etkdgv3-same-stereo") in rows


def test_the_shipped_name_is_the_one_the_command_documents(script_module):
    assert script_module("ship_pretrained").NAMES["molecules-conformers"] == "geodiff-qm9"
    assert DEFAULT_CONFORMER_MODEL in (None, "geodiff-qm9")  # None until the full-mode network ships


def test_quick_mode_scores_the_shipped_pipeline_on_the_full_protocols_test_molecules(tiny_shipped, monkeypatch):
    from polydiff.bench.molecules_shipped import full_test_molecules, shipped_records
    from polydiff.core.pipeline_hub import PRETRAINED_ENV, shipped_pipelines

    folder, _, _ = tiny_shipped
    full = bench.SETTINGS["full"]["spec"]
    spec = {"name": "geodiff-qm9", "n_test": 2, "n_gen": 2}
    monkeypatch.setenv(PRETRAINED_ENV, str(folder.parent / "elsewhere"))
    if "geodiff-qm9" not in shipped_pipelines():
        assert shipped_records(spec, full, bench.DELTA, lambda s: None) == []  # nothing ships: no records
    monkeypatch.setenv(PRETRAINED_ENV, str(folder.parent))
    recs = shipped_records(spec, full, bench.DELTA, lambda s: None)
    label, test = full_test_molecules(full, 2)
    # the molecules scored are the full protocol's first test molecules, disjoint from its training part
    full_split = qm9_split(MolTrainSpec(**{**full, "n_mols": full["n_test"] + full["n_val"] + 30}))
    assert [m.GetProp("_Name") for m in test] == [m.GetProp("_Name") for m in full_split.test[:2]]
    methods = {r["method"] for r in recs}
    assert methods == {"shipped:geodiff-qm9", "rdkit-etkdgv3-same-stereo"}
    assert all(r["setting"] == "shipped-pipelines" and r["dataset"] == label and r["stereo_info"] == "full"
               for r in recs)
    ours = {r["metric"]: r["value"] for r in recs if r["method"] == "shipped:geodiff-qm9"}
    pipe = ConformerPipeline.from_pretrained(folder)
    want = metrics.summarize(metrics.score_conformers(test, pipe(list(test), 2, seed=0)), bench.DELTA)
    assert all(ours[k] == want[k] for k in ("COV-R mean", "MAT-R mean", "COV-P mean", "MAT-P mean"))
    # each record names the full bench's row it stands for (quick/full agreement, bench.compare)
    from polydiff.bench.molecules_shipped import full_method, full_setting

    assert {r["counterpart"]["setting"] for r in recs} == {full_setting(full, 2, bench.DELTA)}
    assert {r["method"]: r["counterpart"]["method"] for r in recs} == {
        "shipped:geodiff-qm9": full_method(pipe.generator), "rdkit-etkdgv3-same-stereo": "rdkit-etkdgv3-same-stereo"}
    assert full_method(pipe.generator).startswith(f"polydiff-geodiff-{pipe.generator.solver}-{pipe.generator.steps}")
    with pytest.raises(ValueError, match="n_test must be in"):
        full_test_molecules(full, full["n_test"] + 1)

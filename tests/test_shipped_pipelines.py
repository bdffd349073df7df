"""Every pipeline shipped in pretrained/ loads offline by name (the suite's network guard is on),
carries a model card whose metrics each stand beside a baseline, and runs at its defaults; a
task command's default model is a shipped name."""
from __future__ import annotations

import importlib
import json
import math
from pathlib import Path

import pytest
import torch
from polydiff.core.pipeline_hub import resolve_pipeline, shipped_pipelines

SHIPPED = shipped_pipelines()


def _class(name: str) -> type:
    path = json.loads((resolve_pipeline(name) / "pipeline.json").read_text())["class"]
    module, _, cls = path.partition(":")  # "package.module:Class", as the index records it
    return getattr(importlib.import_module(module), cls)


def test_the_repository_ships_pipelines():
    assert "mnist-cfg" in SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_pipeline_loads_by_name_offline_with_a_card(name, one_thread):
    pipe = _class(name).from_pretrained(name)
    card = pipe.card
    assert card.training_command and card.data and card.metrics
    for m in card.metrics:
        assert {"task", "dataset", "metric", "value", "baseline", "baseline_value"} <= set(m)
        assert math.isfinite(m["value"]) and math.isfinite(m["baseline_value"])


def test_mnist_cfg_generates_digits_of_the_asked_class_at_its_defaults(one_thread):
    """Two steps are enough to check the plumbing: images in [0, 1], one per label, 28x28."""
    from polydiff.vision.pipelines import VisionGenerationPipeline

    pipe = VisionGenerationPipeline.from_pretrained("mnist-cfg")
    images = pipe(torch.tensor([3, 7]), steps=2, generator=torch.Generator().manual_seed(0))
    assert images.shape == (2, 1, 28, 28) and images.min() >= 0 and images.max() <= 1
    assert pipe.card.metrics[0]["value"] > 0.5  # classifier accuracy far above chance (0.1)


def test_generate_command_defaults_to_the_shipped_pipeline(tmp_path, one_thread):
    from polydiff.bench.cli import main
    from polydiff.vision.commands import DEFAULT_GENERATION_MODEL

    assert DEFAULT_GENERATION_MODEL in SHIPPED
    code = main(["generate", "--labels", "1", "--steps", "2", "--out", str(tmp_path), "--no-progress"])
    assert code == 0 and [p.name for p in tmp_path.glob("*.png")] == ["00000_class1.png"]


def test_inpaint_command_defaults_to_the_shipped_palette_pipeline(tmp_path, one_thread):
    from polydiff.bench.cli import main
    from polydiff.bench.vision_common import mnist
    from polydiff.vision import inpaint
    from polydiff.vision.commands import DEFAULT_INPAINT_MODEL
    from polydiff.vision.image_files import read_image, save_png
    from polydiff.vision.palette_pipeline import PaletteInpaintingPipeline

    assert DEFAULT_INPAINT_MODEL in SHIPPED
    digit = mnist("test", 28, limit=1)[0][0]
    save_png(digit, tmp_path / "digit.png")
    digit = read_image(tmp_path / "digit.png")
    mask = inpaint.make_mask("center", 1, 28)
    save_png(1 - mask[0], tmp_path / "hole.png")  # white = missing
    code = main(["inpaint", "--input", str(tmp_path / "digit.png"), "--mask", str(tmp_path / "hole.png"),
                 "--output", str(tmp_path / "out.png"), "--steps", "3", "--seed", "4", "--no-progress"])
    want = PaletteInpaintingPipeline.from_pretrained(DEFAULT_INPAINT_MODEL)(
        digit[None], mask, steps=3, generator=torch.Generator().manual_seed(4))[0]
    assert code == 0 and (read_image(tmp_path / "out.png") - want).abs().max() <= 0.5 / 255 + 1e-6


@pytest.mark.parametrize("name", SHIPPED)
def test_readme_lists_each_shipped_pipeline_with_its_card_numbers(name):
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    row = next((line for line in readme.splitlines() if line.startswith(f"| `{name}` |")), None)
    assert row is not None, f"README.md has no row for the shipped pipeline {name}"
    card = json.loads((resolve_pipeline(name) / "pipeline.json").read_text())["card"]
    for m in card["metrics"]:
        assert f"{m['value']:.3g}" in row and f"{m['baseline_value']:.3g}" in row, (m, row)


def test_text_command_defaults_to_the_shipped_pipeline(tmp_path, one_thread):
    from polydiff.bench.cli import main
    from polydiff.text.commands import DEFAULT_TEXT_MODEL

    assert DEFAULT_TEXT_MODEL in SHIPPED
    src = tmp_path / "mr.txt"
    src.write_text("name : The Vaults | eatType : pub | food : Italian\n\narea : riverside\n")
    out = tmp_path / "out.txt"
    code = main(["text", "--input", str(src), "--output", str(out), "--steps", "4", "--no-progress"])
    lines = out.read_text().split("\n")
    assert code == 0 and len(lines) in (3, 4) and lines[0] and lines[1] == "" and lines[2]


def test_quick_text_bench_decodes_the_shipped_pipelines_on_its_sources(one_thread):
    """`polydiff bench --quick` (text) sets the shipped MDLM and its AR baseline side by side."""
    from polydiff.bench.schema import record_problems
    from polydiff.bench.text import QUICK, _shipped_records

    assert set(QUICK.shipped) <= set(SHIPPED)
    sources = ["name : The Vaults | eatType : pub | food : Italian", "name : Zizzi | area : riverside"]
    refs = [["The Vaults is an Italian pub."], ["Zizzi is by the riverside."]]
    recs = _shipped_records(QUICK.shipped, sources, refs, None)
    bleu = {r["method"]: r for r in recs if r["metric"] == "BLEU"}
    assert set(bleu) == {f"shipped:{n}" for n in QUICK.shipped}
    for r in recs:
        assert record_problems(r, domain="text") == [] and r["setting"] == "shipped-pipelines" and r["n"] == 2
    # each names the committed full-mode group and method it stands for (quick/full agreement)
    full = json.loads((Path(__file__).parents[1] / "bench" / "results" / "text.json").read_text())["records"]
    committed = {(r["task"], r["dataset"], r["setting"], r["metric"], r["method"]) for r in full}
    for r in recs:
        c = r["counterpart"]
        assert (r["task"], r["dataset"], c["setting"], r["metric"], c["method"]) in committed, (r["method"], c)


def test_quick_vision_bench_scores_the_shipped_generator_at_its_own_size(one_thread):
    """`polydiff bench --quick` (vision, 16 px) brings mnist-cfg's 28 px digits to 16 px the way
    it brings MNIST there, so its own classifier scores both generators side by side."""
    from polydiff.bench.vision import CONFIGS, _shipped_generators

    assert set(CONFIGS["quick"]["shipped"]) <= set(SHIPPED)
    labels = torch.tensor([0, 7])
    out = _shipped_generators(CONFIGS["quick"]["shipped"], labels, 16, "cpu", lambda stage: None)
    images, seconds, nfe, counterpart = out["mnist-cfg"]
    assert images.shape == (2, 1, 16, 16) and 0 <= float(images.min()) and float(images.max()) <= 1
    assert nfe >= 25 and seconds > 0  # the pipeline's defaults: DDIM 25 steps with CFG
    # the full bench's row at those defaults, in the committed results (quick/full agreement)
    full = json.loads((Path(__file__).parents[1] / "bench" / "results" / "vision.json").read_text())["records"]
    rows = {(r["dataset"], r["setting"], r["method"]) for r in full if r["task"] == "generate"}
    assert counterpart == {"dataset": "mnist-28px", "setting": "ddim-25", "method": "polydiff-cfg(w=3)"}
    assert {tuple(counterpart.values()), ("mnist-28px", "ddim-25", "real-test-images")} <= rows


@pytest.mark.parametrize("command", ["impute", "forecast"])
def test_timeseries_commands_default_to_the_shipped_pipelines(command, tmp_path, one_thread):
    """Once `weather-csdi` / `electricity-csdi-forecast` ship, `polydiff impute|forecast` apply them
    without --model (tests/timeseries/test_shipped.py tests the same path before that, with
    pipelines shipped from a tiny bench cache into a temporary folder)."""
    pytest.importorskip("gluonts")
    import numpy as np
    import pandas as pd
    from polydiff.bench.cli import main
    from polydiff.timeseries import commands

    name = {"impute": commands.DEFAULT_IMPUTATION_MODEL, "forecast": commands.DEFAULT_FORECAST_MODEL}[command]
    if name not in SHIPPED:
        pytest.skip(f"{name} does not ship yet")
    pipe = _class(name).from_pretrained(name)
    values = np.linspace(1.0, 2.0, 48 * pipe.n_features).reshape(48, pipe.n_features) * 20
    values[5, 0] = np.nan
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    pd.DataFrame(values, columns=pipe.features).to_csv(src, index=False)
    code = main([command, "--input", str(src), "--output", str(out), "--samples", "2", "--steps", "2",
                 "--out-of-range", "ignore", "--no-progress"])
    got = pd.read_csv(out)
    assert code == 0 and np.isfinite(got[pipe.features].to_numpy()).all()
    assert len(got) == (48 if command == "impute" else pipe.prediction_length)


def test_conformers_command_defaults_to_the_shipped_pipeline(tmp_path, one_thread):
    """`polydiff conformers` without --model applies `geodiff-qm9`: ethanol's conformers from
    SMILES to SDF, hydrogens included, the command's seed reproducing the pipeline's output."""
    pytest.importorskip("rdkit")
    import warnings

    from polydiff.bench.cli import main
    from polydiff.molecules.commands import DEFAULT_CONFORMER_MODEL
    from rdkit import Chem

    if DEFAULT_CONFORMER_MODEL not in SHIPPED:
        pytest.skip(f"{DEFAULT_CONFORMER_MODEL} does not ship yet")
    (tmp_path / "in.smi").write_text("CCO ethanol\n")
    out = tmp_path / "out.sdf"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(["conformers", "--input", str(tmp_path / "in.smi"), "--output", str(out), "--n", "2",
                     "--seed", "3", "--steps", "4", "--no-progress"])
        want = _class(DEFAULT_CONFORMER_MODEL).from_pretrained(DEFAULT_CONFORMER_MODEL)(["CCO"], 2, seed=3, steps=4)
    records = [m for m in Chem.SDMolSupplier(str(out), removeHs=False)]
    assert code == 0 and len(records) == 2 and all(m.GetNumAtoms() == 9 for m in records)
    got = [m.GetConformer().GetPositions() for m in records]
    for g, w in zip(got, [c.GetPositions() for c in want[0].GetConformers()], strict=True):
        assert abs(g - w).max() < 1e-3  # SDF keeps 4 decimals


def test_purify_command_defaults_to_the_shipped_pipeline(tmp_path, one_thread):
    """`polydiff purify` without --model applies mnist-diffpure: its CSV holds the pipeline's own
    predictions for MNIST test digits written as PNG files."""
    import csv

    from PIL import Image
    from polydiff.bench.cli import main
    from polydiff.robustness.commands import DEFAULT_PURIFICATION_MODEL
    from polydiff.robustness.data import load_images

    assert DEFAULT_PURIFICATION_MODEL in SHIPPED
    x, _ = load_images("mnist", "test", 3)
    folder = tmp_path / "digits"
    folder.mkdir()
    for i, img in enumerate(x):  # MNIST's bytes / 255: the PNGs hold exactly these images
        Image.fromarray((img[0] * 255).round().byte().numpy()).save(folder / f"d{i}.png")
    preds = tmp_path / "preds.csv"
    code = main(["purify", "--input", str(folder), "--predictions", str(preds), "--steps", "2", "--no-progress"])
    pipe = _class(DEFAULT_PURIFICATION_MODEL).from_pretrained(DEFAULT_PURIFICATION_MODEL)
    want = pipe(x, seed=0, steps=2)
    with preds.open() as f:
        rows = list(csv.reader(f))
    assert code == 0 and [int(r[1]) for r in rows[1:]] == want.predicted.tolist()


def test_quick_robustness_bench_attacks_the_shipped_pipeline_beside_its_classifier(one_thread):
    """`polydiff bench --quick` (robustness) attacks mnist-diffpure at its defaults and its
    classifier undefended on the same test images (here 2 images, a 1-step attack)."""
    from polydiff.bench.robustness import SHIPPED as QUICK_SHIPPED
    from polydiff.bench.robustness_shipped import shipped_records
    from polydiff.bench.schema import record_problems

    spec = QUICK_SHIPPED["quick"]
    assert spec["name"] in SHIPPED
    recs = shipped_records({**spec, "n_test": 2, "attack": (1, 1, 1)}, lambda s: None)
    assert {r["method"] for r in recs} == {f"shipped:{spec['name']}", "undefended"}
    pipe = _class(spec["name"]).from_pretrained(spec["name"])
    for r in recs:
        assert record_problems(r, domain="robustness") == [] and r["setting"] == "shipped-pipelines"
        assert r["nfe"] == (pipe.steps if r["method"].startswith("shipped:") else None)


def test_quick_vision_bench_scores_the_shipped_image_to_image_pipelines_beside_their_baselines(one_thread):
    """`polydiff bench --quick` scores mnist-palette, mnist-inpaint and mnist-sr at their defaults
    on the full bench's own test digits (28 px) beside biharmonic / bicubic, each record naming a
    committed full-mode row; the values are those of the pipelines' and baselines' own outputs."""
    from polydiff.bench.vision import CONFIGS, _shipped_tasks
    from polydiff.bench.vision_common import mnist, to_bench_size
    from polydiff.bench.vision_shipped import SHIPPED_TASKS
    from polydiff.vision import inpaint, metrics, superres
    from polydiff.vision.nets import Classifier
    from polydiff.vision.palette_pipeline import PaletteInpaintingPipeline
    from polydiff.vision.pipelines import SuperResolutionPipeline

    assert set(CONFIGS["quick"]["shipped_tasks"]) == set(SHIPPED_TASKS) <= set(SHIPPED)
    torch.manual_seed(0)
    clf = Classifier(width=8)
    cfg = {**CONFIGS["quick"], "shipped_tasks_n": 2}
    recs = []

    def rec(task, setting, method, metric, value, hib, nfe, seconds, n, ds=None, **extra):
        recs.append({"task": task, "dataset": ds, "setting": setting, "method": method, "metric": metric,
                     "value": value, "nfe": nfe, "n": n, **extra})

    for task in ("inpaint", "superres"):
        _shipped_tasks(cfg, task, clf, "cpu", lambda s: None, rec)
    got = {(r["task"], r["method"], r["metric"]): r for r in recs}
    assert {(t, m) for t, m, _ in got} == {("inpaint", "shipped:mnist-palette"), ("inpaint", "shipped:mnist-inpaint"),
                                          ("inpaint", "biharmonic"), ("superres", "shipped:mnist-sr"),
                                          ("superres", "bicubic")}
    full = json.loads((Path(__file__).parents[1] / "bench" / "results" / "vision.json").read_text())["records"]
    committed = {(r["task"], r["dataset"], r["setting"], r["metric"], r["method"]) for r in full}
    for r in recs:
        c = r["counterpart"]
        assert (r["task"], c["dataset"], c["setting"], r["metric"], c["method"]) in committed, (r["method"], c)
        assert r["dataset"] == "mnist-28px" and r["setting"] == "shipped-pipelines" and r["n"] == 2
    # recomputed here from the pipelines' own outputs on the same digits and the same seeds
    x, y = mnist("test", 28)
    digits, labels = x[1000:1002], y[1000:1002]
    mask = inpaint.make_mask("center", 2, 28, generator=torch.Generator().manual_seed(0))
    pal = PaletteInpaintingPipeline.from_pretrained("mnist-palette")(digits, mask,
                                                                    generator=torch.Generator().manual_seed(2))
    assert got["inpaint", "shipped:mnist-palette", "PSNR-hole"]["value"] == pytest.approx(
        metrics.masked_psnr(pal, digits, 1 - mask))
    assert got["inpaint", "shipped:mnist-palette", "classifier-accuracy"]["value"] == pytest.approx(
        metrics.accuracy(clf, to_bench_size(pal, 16), labels))
    assert got["inpaint", "shipped:mnist-palette", "SSIM"]["nfe"] == 25  # its defaults: DDPM, 25 steps
    bh = inpaint.biharmonic(digits, mask)
    assert got["inpaint", "biharmonic", "PSNR-hole"]["value"] == pytest.approx(metrics.masked_psnr(bh, digits, 1 - mask))
    hr = x[2000:2002]
    sr = SuperResolutionPipeline.from_pretrained("mnist-sr")
    low = superres.downsample(hr, sr.factor)
    assert got["superres", "bicubic", "PSNR"]["value"] == pytest.approx(metrics.psnr(superres.bicubic(low, 4), hr))
    out = sr(low, generator=torch.Generator().manual_seed(2))
    assert got["superres", "shipped:mnist-sr", "PSNR"]["value"] == pytest.approx(metrics.psnr(out, hr))
    acc = got["inpaint", "shipped:mnist-inpaint", "classifier-accuracy"]
    assert acc["ci_low"] <= acc["value"] <= acc["ci_high"]

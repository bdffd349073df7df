"""The vision bench's inpainting group (bench/vision_inpaint.py): Palette rows beside RePaint's
and the baselines', scored on the same digits; an exact Palette denoiser scores the true digits."""
import importlib.util
from pathlib import Path

import pytest
import torch
from polydiff.bench.vision_common import mnist
from polydiff.bench.vision_inpaint import run_inpainting
from polydiff.vision import metrics
from polydiff.vision.nets import Classifier, UNet, UNetConfig


def _oracle(data):
    path = Path(__file__).with_name("test_palette.py")
    spec = importlib.util.spec_from_file_location("vision_test_palette", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.ConditionalPointMasses(data)


def test_palette_rows_sit_beside_the_baselines_and_an_exact_model_scores_the_truth(tmp_path, process):
    x_tr, _ = mnist("train", 28, limit=64)
    x_te, y_te = mnist("test", 28, limit=6)
    torch.manual_seed(0)
    clf = Classifier(width=8).eval()
    uncond = UNet(UNetConfig(in_channels=1, base=8, mults=(1, 2), attention_levels=())).eval()
    ic = {"steps": 2, "resample": 2, "masks": ("center", "half"), "palette": {"solver": "ddpm", "steps": 3}}
    recs = []

    def rec(task, setting, method, metric, value, hib, nfe, seconds, n, **extra):
        recs.append({"task": task, "setting": setting, "method": method, "metric": metric, "value": value,
                     "higher_is_better": hib, "nfe": nfe, "n": n, **extra})

    run_inpainting(ic, uncond, _oracle(x_te), process, clf, x_tr, x_te, y_te, x_te, tmp_path, "cpu", rec)
    by = {(r["setting"], r["method"], r["metric"]): r for r in recs}
    truth_acc = metrics.accuracy(clf, x_te, y_te)
    for kind in ("center", "half"):
        methods = {m for s, m, _ in by if s == f"{kind}-mask"}
        assert methods == {"biharmonic", "exemplar-fill", "polydiff-repaint", "polydiff-replacement",
                           "polydiff-palette"}
        pal = {metric: by[(f"{kind}-mask", "polydiff-palette", metric)] for metric in
               ("classifier-accuracy", "classifier-frechet", "PSNR-hole", "SSIM")}
        assert all(r["nfe"] == 3 and r["n"] == 6 for r in pal.values())
        assert pal["classifier-accuracy"]["value"] == pytest.approx(truth_acc)
        acc = by[(f"{kind}-mask", "biharmonic", "classifier-accuracy")]
        assert acc["ci_low"] <= acc["value"] <= acc["ci_high"] and "ci_low" not in pal["SSIM"]
        assert pal["PSNR-hole"]["value"] >= 60 and pal["SSIM"]["value"] == pytest.approx(1.0, abs=1e-6)
        assert not pal["classifier-frechet"]["higher_is_better"]
        assert by[(f"{kind}-mask", "biharmonic", "PSNR-hole")]["nfe"] is None
        assert (tmp_path / f"inpaint_{kind}.png").exists()
    # without a Palette network the group is RePaint's and the baselines' only
    recs.clear()
    run_inpainting({**ic, "masks": ("center",)}, uncond, None, process, clf, x_tr, x_te, y_te, x_te, tmp_path, "cpu",
                   rec)
    assert "polydiff-palette" not in {r["method"] for r in recs} and recs


def test_accuracy_interval_is_wilsons():
    from polydiff.bench.vision_inpaint import accuracy_interval
    # Wilson (1927): p = 0.8, n = 100, z = 1.959964 -> centre (p + z^2/2n) / (1 + z^2/n), half-width
    # z / (1 + z^2/n) * sqrt(p (1 - p) / n + z^2 / 4n^2)
    z, p, n = 1.959964, 0.8, 100
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * (p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5
    ci = accuracy_interval(0.8, 100)
    assert ci["ci_low"] == pytest.approx(centre - half, abs=1e-5)
    assert ci["ci_high"] == pytest.approx(centre + half, abs=1e-5)
    with pytest.raises(ValueError, match="not a count out of n=100"):
        accuracy_interval(0.805, 100)

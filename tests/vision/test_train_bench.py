import copy
import json

import pytest
import torch
from polydiff.bench import vision as bench
from polydiff.vision.nets import UNet
from polydiff.vision.train import load_trained, main, train


def test_cli_trains_and_checkpoint_loads(tmp_path):
    out = tmp_path / "run"
    assert main(["--task", "generate", "--dataset", "digits", "--steps", "2", "--batch-size", "8",
                 "--base", "8", "--mults", "1", "2", "--attention-levels", "1", "--out", str(out)]) == 0
    net, _process, extra = load_trained(out)
    assert isinstance(net, UNet) and net.config.num_classes == 10 and extra["task"] == "generate"
    assert not list(out.rglob("*.pt")) and list(out.rglob("*.safetensors"))
    y = net(torch.zeros(2, 1, 8, 8), torch.tensor([1.0, 2.0]), y=torch.tensor([0, 10]))
    assert y.shape == (2, 1, 8, 8)


def test_train_rejects_bad_data():
    with pytest.raises(ValueError, match="\\[0, 1\\]"):
        train("generate", torch.full((4, 1, 8, 8), 2.0), torch.zeros(4, dtype=torch.long), steps=1)
    with pytest.raises(ValueError, match="labels"):
        train("generate", torch.rand(4, 1, 8, 8), torch.zeros(3, dtype=torch.long), steps=1)
    with pytest.raises(ValueError, match="task"):
        train("colourise", torch.rand(4, 1, 8, 8), torch.zeros(4, dtype=torch.long), steps=1)


@pytest.mark.slow  # ~40 s: trains five tiny networks twice through the bench entry
def test_bench_records_pair_with_baselines_and_cache(tmp_path, monkeypatch):
    tiny = copy.deepcopy(bench.CONFIGS["quick"])
    tiny.update(n_train=64, batch=16, n_gen_per_class=2, n_eval=4, sample_steps=2, scales=(0.0, 2.0),
                net={"base": 8, "mults": (1, 2), "attention_levels": ()},
                steps={k: 2 for k in [*tiny["steps"], "segment"]})
    tiny["inpaint"] = dict(tiny["inpaint"], steps=2, jump_length=1, resample=2)
    tiny["anomaly"] = dict(tiny["anomaly"], steps=2, n=4)
    tiny["segment"] = dict(bench.SEGMENT_SMALL, labelled=(2,), n_models=1, epochs=1, baseline_steps=2,
                           datasets=("mni152", "nuclei"), finetune={"steps": 2, "lr": 1e-3})
    tiny["lesions"] = {"size": 32, "t_star": 100, "steps": 2, "simplex": {"octaves": 2}}
    monkeypatch.setitem(bench.CONFIGS, "quick", tiny)
    stages = []
    recs = bench.run("quick", tmp_path, progress=stages.append)
    groups = {}
    for r in recs:
        assert r["domain"] == "vision" and isinstance(r["value"], float)
        groups.setdefault((r["task"], r["dataset"], r["setting"], r["metric"]), set()).add(r["method"])
    assert {"generate", "inpaint", "superres", "anomaly", "segment"} <= {k[0] for k in groups}
    for key, methods in groups.items():  # every polydiff number has a baseline beside it
        assert any(not m.startswith("polydiff") for m in methods) or len(methods) > 1, key
    assert (tmp_path / "superres.png").exists() and (tmp_path / "inpaint_center.png").exists()
    assert (tmp_path / "anomaly_brain.png").exists() and (tmp_path / "segment_mni152.png").exists()
    assert stages[-1] == "done"
    seg = [r for r in recs if r["task"] == "segment"]
    assert seg and all(r["ci_low"] <= r["value"] <= r["ci_high"] for r in seg)
    assert {r["method"] for r in seg} == {"polydiff-ddpm-pixel-mlp", "polydiff-ddpm-pixel-mlp+finetuned",
                                          "unet-from-scratch"}
    for r in seg:  # each denoiser row: its paired difference to the U-Net on the same test images
        if r["method"].startswith("polydiff-ddpm-pixel-mlp"):
            base = next(b for b in seg if b["method"] == r["baseline"] and b["dataset"] == r["dataset"]
                        and b["setting"] == r["setting"])
            assert r["minus_baseline"] == pytest.approx(r["value"] - base["value"])
            assert r["minus_baseline_ci"][0] <= r["minus_baseline"] <= r["minus_baseline_ci"][1]
    inp = {(r["method"], r["metric"]) for r in recs if r["task"] == "inpaint"}
    for method in ("biharmonic", "exemplar-fill", "polydiff-repaint", "polydiff-replacement"):
        assert {(method, m) for m in ("classifier-accuracy", "classifier-frechet", "PSNR-hole", "SSIM")} <= inp
    assert not [r for r in recs if r["method"] == "polydiff-uncond(w=0)" and r["metric"] == "classifier-accuracy"]
    sr = {r["method"]: r["nfe"] for r in recs if r["task"] == "superres"}
    assert sr["polydiff-sr3-mean8"] == 8 * sr["polydiff-sr3"]
    cached = sorted(p.name for p in (tmp_path / "cache").iterdir())
    recs2 = bench.run("quick", tmp_path)  # second run: only evaluates
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == cached
    assert len(recs2) == len(recs)
    json.dumps(recs)
    # one part alone (python -m polydiff.bench.vision --parts generate): that group's records, the same numbers
    def untimed(rs):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in rs]

    gen = bench.run("quick", tmp_path, parts=("generate",))
    assert gen and untimed(gen) == untimed([r for r in recs2 if r["task"] == "generate"])
    with pytest.raises(ValueError, match="parts must name some of"):
        bench.run("quick", tmp_path, parts=("generation",))


@pytest.mark.slow  # ~60 s: the full-mode code path (NFE tables, photo SR, lesions, 2 segmentation sets) at toy size
def test_full_mode_path_records_nfe_tables_and_shares_the_mni_ddpm(tmp_path, monkeypatch):
    full = bench.CONFIGS["full"]
    tiny = copy.deepcopy(full)
    tiny.update(n_train=64, batch=16, n_gen_per_class=2, n_eval=6, n_nfe=3, sample_steps=2, scales=(0.0, 2.0),
                net={"base": 8, "mults": (1, 2), "attention_levels": ()}, steps={k: 2 for k in full["steps"]},
                sr_nfe_table=(("ddpm", 6), ("ddim", 3), ("dpmpp_2m", 3)), sdedit_strengths=(0.5,))
    tiny["inpaint"] = dict(full["inpaint"], steps=4, jump_length=2, resample=2,
                           nfe_table=(("ddpm", 6, 3, 2), ("ddim", 6, 3, 2), ("dpmpp_2m", 3, 1, 1)),
                           palette=dict(full["inpaint"]["palette"], train_steps=2, steps=3))
    tiny["anomaly"] = dict(full["anomaly"], steps=2, n=4)
    tiny["sr_photos"] = dict(full["sr_photos"], size=32, steps=2, batch=4, per_image=2, n_test_per_image=1)
    tiny["lesions"] = dict(full["lesions"], size=32, steps=2, batch=4)
    tiny["segment"] = dict(full["segment"], size=32, labelled=(2,), n_models=1, epochs=1, batch=4,
                           denoiser_steps={"nuclei": 3}, baseline_steps={"mni152": 2, "nuclei": 4})
    tiny["fashion_anomaly"] = {"classes": (0, 1)}
    monkeypatch.setitem(bench.CONFIGS, "full", tiny)
    torch.set_num_threads(2)
    recs = bench.run("full", tmp_path)
    assert torch.get_num_threads() == 1  # the bench pins one thread on CPU (the runner restores it)
    by = {}
    for r in recs:
        by.setdefault((r["task"], r["setting"]), {})[r["method"]] = r
    table = by[("inpaint", "center-mask-nfe")]
    assert set(table) == {"biharmonic", "polydiff-ddpm-6x3", "polydiff-ddim-6x3", "polydiff-dpmpp_2m-3x1"}
    for solver in ("ddpm", "ddim"):  # resampling re-solves jumps: more evaluations than steps, at most steps x r
        assert 6 < table[f"polydiff-{solver}-6x3"]["nfe"] <= 18 and table[f"polydiff-{solver}-6x3"]["n"] == 3
    assert table["polydiff-dpmpp_2m-3x1"]["nfe"] == 3
    for kind in full["inpaint"]["masks"]:  # Palette beside RePaint on every mask, at its own budget
        assert by[("inpaint", f"{kind}-mask")]["polydiff-palette"]["nfe"] == 3
    assert any(n.startswith("inpaint-palette") for n in (p.name for p in (tmp_path / "cache").iterdir()))
    sr = by[("superres", "x4-7to28px")]
    assert {"bicubic", "regression-unet", "polydiff-sr3"} <= set(sr) and sr["regression-unet"]["nfe"] == 1
    assert {"bicubic", "polydiff-sr3-ddim-3", "polydiff-sr3-dpmpp_2m-3"} <= set(by[("superres", "x4-7to28px-nfe")])
    assert {"bicubic", "polydiff-sr3"} <= set(by[("superres", "x4-8to32px")])
    assert {"polydiff-anoddpm-simplex", "polydiff-anoddpm-gaussian", "conv-autoencoder"} == set(
        by[("anomaly", "synthetic-lesions")])
    assert {r["dataset"] for r in recs if r["method"] == "unet-from-scratch"} == {
        "mni152-32px", "stardist-nuclei-32px-tiles"}
    names = [p.name for p in (tmp_path / "cache").iterdir()]
    assert not any(n.startswith("lesion-gaussian") for n in names)  # the segmentation DDPM serves both
    assert sum(n.startswith("segment-ddpm-mni152") for n in names) == 1
    nuclei = [n for n in names if n.startswith("segment-ddpm-nuclei")]  # denoiser_steps overrides steps["segment"]
    assert len(nuclei) == 1 and (tmp_path / "cache" / nuclei[0] / "latest").read_text().strip() == "step_00000003"
    seg_steps = {(r["dataset"].split("-")[0], r["method"]): r["train_steps"] for r in recs if r["task"] == "segment"}
    assert seg_steps == {("mni152", "polydiff-ddpm-pixel-mlp"): 2, ("mni152", "unet-from-scratch"): 2,
                         ("stardist", "polydiff-ddpm-pixel-mlp"): 3, ("stardist", "unet-from-scratch"): 4}
    seg_t = {r["dataset"].split("-")[0]: r["timesteps"] for r in recs if r["method"] == "polydiff-ddpm-pixel-mlp"}
    assert seg_t == {"mni152": list(full["segment"]["timesteps"]["mni152"]),  # each dataset its own levels
                     "stardist": list(full["segment"]["timesteps"]["nuclei"])}
    fashion = by[("anomaly", "one-vs-rest-mean-classes01")]
    assert set(fashion) == {"template-distance", "conv-autoencoder", "polydiff-anoddpm-simplex",
                            "polydiff-anoddpm-gaussian"}
    for r in fashion.values():  # the mean over the normal classes, each class's AUROC beside it
        assert r["dataset"] == "fashion-mnist-28px" and set(r["per_class"]) == {"0", "1"}
        assert r["value"] == pytest.approx(sum(r["per_class"].values()) / 2)
        assert all(0.0 <= v <= 1.0 for v in r["per_class"].values())
    assert fashion["polydiff-anoddpm-simplex"]["nfe"] > 0 and fashion["template-distance"]["nfe"] is None
    # the parts that need no MNIST network run alone from the same cache: same records, nothing trained
    def untimed(rs):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in rs]

    alone = bench.run("full", tmp_path, parts=("segment", "fashion-anomaly"))
    assert untimed(alone) == untimed([r for r in recs if r["task"] == "segment" or r["dataset"] == "fashion-mnist-28px"])
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted(names)
    inp = bench.run("full", tmp_path, parts=("inpaint",))  # the inpainting group alone, from the same cache
    assert untimed(inp) == untimed([r for r in recs if r["task"] == "inpaint"])
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted(names)


def test_photo_superres_reports_the_mean_of_k_beside_the_single_sample(tmp_path):
    cfg = {"size": 16, "factor": 4, "steps": 2, "lr": 1e-3, "batch": 4, "per_image": 2, "n_test_per_image": 1,
           "mean_k": 3}
    recs = bench._photo_superres(cfg, tmp_path / "cache", tmp_path, "cpu", {"batch_size": 4, "seed": 0},
                                 {"base": 8, "mults": (1, 2), "attention_levels": ()}, 2)
    by = {(r["method"], r["metric"]): r for r in recs}
    assert {m for m, _ in by} == {"bicubic", "polydiff-sr3", "polydiff-sr3+consistency", "polydiff-sr3-mean3"}
    assert by[("polydiff-sr3-mean3", "PSNR")]["nfe"] == 3 * by[("polydiff-sr3", "PSNR")]["nfe"]
    assert by[("polydiff-sr3-mean3", "PSNR")]["value"] != by[("polydiff-sr3", "PSNR")]["value"]
    cfg.pop("mean_k")
    assert not any("mean" in r["method"] for r in bench._photo_superres(
        cfg, tmp_path / "cache", tmp_path, "cpu", {"batch_size": 4, "seed": 0},
        {"base": 8, "mults": (1, 2), "attention_levels": ()}, 2))


def test_segment_settings_are_one_value_or_one_per_dataset():
    from polydiff.bench.vision_segment import _per_dataset

    cfg = {"timesteps": {"mni152": (5, 25, 50), "nuclei": (50, 150, 250)}, "baseline_steps": 600}
    assert _per_dataset(cfg, "timesteps", "mni152") == (5, 25, 50)
    assert _per_dataset(cfg, "baseline_steps", "nuclei") == 600
    with pytest.raises(ValueError, match="'timesteps' names no value for dataset 'lesions'"):
        _per_dataset(cfg, "timesteps", "lesions")

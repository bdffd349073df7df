"""polydiff.vision's entry in the benchmark suite (``polydiff bench --domains vision``).

Every polydiff number has a baseline measured in the same run on the same images:

* generation (MNIST, class-conditional, CFG): accuracy of an independent classifier on the
  requested labels and the Fréchet distance in that classifier's feature space (**not**
  Inception FID) per guidance scale, vs the unguided model (w=0 unconditional, w=1
  conditional) and vs real test images;
* SDEdit on stroke paintings of test digits (an unconditional U-Net trained for it):
  classifier accuracy (the source digit's label) and feature-space Fréchet distance to real
  digits, vs the stroke paintings themselves;
* super-resolution (SR3, v-prediction; on photos the residual over bicubic, x0-prediction):
  PSNR/SSIM of single samples and of the mean of k samples vs bicubic (and, in full mode, vs
  a regression U-Net of the same size trained for the same steps);
* inpainting (:mod:`~polydiff.bench.vision_inpaint`): RePaint (its resampling schedule scaled
  to the step budget) on the unconditional U-Net and, in full mode, Palette (a U-Net trained for
  the task on random masks, 4,800 steps chosen on held-out digits, DDPM-25): classifier
  accuracy of the completed digits against their labels (95% Wilson interval) and classifier
  Fréchet distance (the headline), PSNR in the hole and SSIM (secondary), vs biharmonic
  inpainting, the best-matching training exemplar, and plain replacement without resampling.
  RePaint is bounded by the sampler, not the network: with the *exact* denoiser of the 60,000
  training images (``scripts/inpaint_learning_curve.py``, 100 held-out digits,
  ``bench/results/supplementary/vision-inpaint-oracle.json``) its centre-mask accuracy is
  0.59 / 0.66 / 0.60 at 121 / 482 / 964 NFE. How accurate any faithful sampler can be is
  bounded by a classifier of the visible ring (``scripts/vision_inpaint_bayes_bound.py``);
* anomaly detection (AnoDDPM): one-vs-rest image AUROC with simplex vs Gaussian noise, vs a
  convolutional autoencoder trained for the same steps and a template baseline (distance to
  the mean normal image); in full mode also the mean AUROC over the ten Fashion-MNIST classes
  as the normal class (:mod:`~polydiff.bench.vision_anomaly`; MNIST's "1" saturates: the
  template scores 0.99 there) and pixel AUPRC / best Dice on MNI152 slices with inserted
  synthetic lesions;
* segmentation (full mode, :mod:`~polydiff.bench.vision_segment`): mIoU of the pixel-MLP
  ensemble on denoiser features vs a U-Net trained from scratch on the same labelled MNI152
  slices / nuclei tiles, each side's training budget (and the noise levels the pixel MLPs read)
  chosen on validation images;
* time steps fitted to a model (full mode, :mod:`~polydiff.bench.vision_fitted_grid`): the
  shipped ``mnist-cfg`` generator with DPM-Solver++(2M) at 5 and 10 steps on a grid from
  ``pc.optimize_grid`` vs uniform log-SNR and the pipeline's own grid (classifier accuracy,
  classifier Fréchet distance, RMSE to a fine solution), vs real test images.

Quick mode shrinks MNIST to 16x16 and trains tiny U-Nets for a few hundred steps (about three
minutes on two CPU cores); it also scores the shipped pipelines at their defaults beside their
baselines: ``mnist-cfg`` in the guidance group, ``mnist-palette`` / ``mnist-inpaint`` against
biharmonic and ``mnist-sr`` against bicubic on the full bench's test digits at 28 px
(:mod:`~polydiff.bench.vision_shipped`). Trained networks are cached under ``out_dir/cache`` keyed by a hash
of their configuration and data; a rerun reuses them.

**Full mode is sized for a shared 2-core CPU and one torch thread, not for paper-quality
models**: from an empty cache it takes about 55 minutes of wall time there with three other
benchmarks running (the committed ``bench/results/vision.json`` records ~700 s because it reused
the networks an earlier run had cached under identical configurations; only the evaluation
classifier and the photo SR3 were trained in it).
Every U-Net is the same small one (base 16 channels, levels x1/x2/x2, attention at the 7x7 /
16x16 level, 0.28 M parameters; about 0.3 s per training step of 64 MNIST images and 0.6 s per
step of 16 images of 64x64 px at one thread). Training budgets: class-conditional generator
1,200 steps x 64 images (~1.3 epochs of the 60k MNIST images), SR3 and the regression U-Net 500
steps each, each anomaly U-Net 400 steps on the 6.7k training "1"s (and on each Fashion-MNIST
class's 6k), the 64 px MNI152 DDPM 250 steps x 16 images and the nuclei DDPM 1,750, the photo
SR3 500, the Palette inpainting U-Net 4,800, the from-scratch segmentation U-Nets 600 (MNI152)
and 1,200 (nuclei) steps, the denoisers fine-tuned for segmentation 300 (the Palette and segmentation budgets chosen on held-out images), the
evaluation classifier 2,000 steps.
Papers train these models for 10^5-10^6 steps, so absolute numbers are far from published
ones; the comparisons with the baselines (trained with the same budget where they train at all,
on validation-chosen budgets for segmentation) are what the records are for. Evaluation: 300
generated digits per guidance scale, 100 test images per inpainting mask / SR / SDEdit setting (the
quality-vs-NFE tables use the first 50), 200 normal + 200 anomalous test digits, 25 sampling
steps by default. The lesion model with Gaussian noise is the segmentation DDPM on the same
MNI152 training slices (same loss and data; trained once).
"""
from __future__ import annotations

import pathlib
import time

import torch
import torch.nn.functional as F
from polydiff.bench.common import record, timed_nfe, training_checks
from polydiff.bench.vision_anomaly import METHODS as ANOMALY_METHODS
from polydiff.bench.vision_anomaly import fashion_one_vs_rest, one_vs_rest
from polydiff.bench.vision_common import mnist, to_bench_size, trained
from polydiff.bench.vision_fitted_grid import FULL as FITTED_GRID_FULL
from polydiff.bench.vision_fitted_grid import run_fitted_grid
from polydiff.bench.vision_inpaint import run_inpainting
from polydiff.vision import generate, metrics, plots, sdedit, superres
from polydiff.vision._common import default_process

__all__ = ["CONFIGS", "run"]

CONFIGS = {
    "quick": {"size": 16, "n_train": 12000, "batch": 64, "net": {"base": 16, "mults": (1, 2), "attention_levels": (1,)},
              "steps": {"classifier": 250, "generate": 600, "superres": 400, "anomaly": 200},
              "sr_factor": 2, "sdedit_strengths": (0.5,), "n_gen_per_class": 20, "n_eval": 100, "sample_steps": 20, "scales": (0.0, 1.0, 3.0),
              "shipped": ("mnist-cfg",),
              # the shipped image-to-image pipelines on the full bench's test digits (bench/vision_shipped.py)
              "shipped_tasks": ("mnist-palette", "mnist-inpaint", "mnist-sr"), "shipped_tasks_n": 50,
              "inpaint": {"steps": 20, "jump_length": 5, "resample": 3, "masks": ("center",)},
              "anomaly": {"normal_class": 1, "t_star": 250, "steps": 10, "n": 100,
                          "simplex": {"octaves": 3, "frequency": 2.0, "decay": 0.8}},
              "segment": None, "lesions": None, "fitted_grid": None},  # each ~1.5 CPU-minutes more; see SEGMENT_SMALL
    # CPU-sized full mode (one torch thread; see the module docstring for the budget)
    "full": {"size": 28, "n_train": 60000, "batch": 64,
             "net": {"base": 16, "mults": (1, 2, 2), "attention_levels": (2,)},
             "steps": {"classifier": 2000, "generate": 1200, "superres": 500, "superres-regression": 500,
                       "anomaly": 400, "segment": 250},
             "sr_factor": 4, "sr_nfe_table": (("ddpm", 250), ("ddpm", 50), ("ddpm", 20), ("ddim", 50), ("ddim", 20),
                                             ("dpmpp_2m", 20), ("dpmpp_2m", 10)),
             "sdedit_strengths": (0.3, 0.5, 0.7), "n_gen_per_class": 30, "n_eval": 100, "n_nfe": 50,
             "sample_steps": 25, "scales": (0.0, 1.0, 2.0, 3.0, 4.0),  # 3: mnist-cfg's default
             # nfe_table rows: (solver, steps, resample, jump_length); NFE ~ steps * resample
             # palette: the mask-conditioned U-Net's budget and sampler, chosen on held-out digits
             # (scripts/vision_palette_curve.py, bench/results/supplementary/vision-palette-curve.json)
             "inpaint": {"steps": 25, "jump_length": 5, "resample": 5, "masks": ("center", "half", "strokes"),
                         "palette": {"train_steps": 4800, "solver": "ddpm", "steps": 25},
                         "nfe_table": tuple((s, st, r, j) for s in ("ddpm", "ddim", "dpmpp_2m")
                                            for st, r, j in ((50, 5, 10), (10, 5, 2), (4, 5, 1), (20, 1, 1)))},
             "anomaly": {"normal_class": 1, "t_star": 250, "steps": 25, "n": 200,
                         "simplex": {"octaves": 4, "frequency": 2.0, "decay": 0.8}},
             "sr_photos": {"size": 64, "factor": 4, "steps": 500, "lr": 1e-3, "batch": 16, "per_image": 128, "n_test_per_image": 8,
                           "mean_k": 8},
             "lesions": {"size": 64, "t_star": 250, "steps": 25, "batch": 16,
                         "simplex": {"octaves": 4, "frequency": 2.0, "decay": 0.8}},
             # timesteps: the noise levels the pixel MLPs read, chosen on validation images
             # (scripts/vision_segment_timesteps.py, bench/results/supplementary/vision-segment-timesteps.json)
             "segment": {"size": 64, "labelled": (2, 5, 10), "n_models": 5,
                         "timesteps": {"mni152": (5, 25, 50), "nuclei": (10, 50, 150)},
                         "datasets": ("mni152", "nuclei"), "epochs": 6, "batch": 16,
                         # both budgets chosen on validation images (scripts/vision_segment_validation.py,
                         # bench/results/supplementary/vision-segment-validation.json): the nuclei
                         # DDPM's features peak at 1,750 steps (of 250-2,000), MNI152's at 250; the
                         # from-scratch U-Nets' best of 150/300/600/1,200 steps
                         "denoiser_steps": {"nuclei": 1750}, "baseline_steps": {"mni152": 600, "nuclei": 1200},
                         # the denoiser fine-tuned, averaged with the pixel MLPs: steps and lr chosen on
                         # validation images (supplementary/vision-segment-finetune-validation.json)
                         "finetune": {"steps": 300, "lr": 1e-3}},
             "fitted_grid": FITTED_GRID_FULL,
             # every class as the normal one, the mean AUROC reported (MNIST's anomaly config and steps)
             "fashion_anomaly": {"classes": tuple(range(10))}},
}


#: A small segmentation setting (32 px slices, 300 denoiser steps): the full-mode code path at
#: quick-mode cost, for ``CONFIGS["quick"]["segment"] = SEGMENT_SMALL`` (plus ``steps["segment"]``).
SEGMENT_SMALL = {"size": 32, "labelled": (2, 5), "timesteps": (50, 150, 250), "n_models": 3, "epochs": 4,
                 "baseline_steps": 150}


def _photo_superres(pc_cfg: dict, cache, out_dir, device, common, net_kw, S) -> list[dict]:
    """SR3 x``factor`` on grey natural-photo patches; train and test patches come from disjoint
    photographs (``data.PHOTO_TRAIN`` / ``data.PHOTO_TEST``)."""
    from polydiff.vision.data import photo_patches
    size, f = pc_cfg["size"], pc_cfg["factor"]
    x_tr = photo_patches("train", size, per_image=pc_cfg["per_image"], seed=0, min_std=0.05)
    hr = photo_patches("test", size, per_image=pc_cfg["n_test_per_image"], seed=1, min_std=0.05).to(device)
    zeros = torch.zeros(len(x_tr), dtype=torch.long)
    common = {**common, "batch_size": pc_cfg.get("batch", common["batch_size"])}
    net, proc = trained(cache, "superres-photos", "superres", x_tr, zeros, device, steps=pc_cfg["steps"],
                        lr=pc_cfg.get("lr", 2e-4), factor=f, **common,
                        # diffusion of hr - bicubic(lr) (SRDiff/ResShift): sampling starts from bicubic
                        net_kwargs={**net_kw, "residual": True, "prediction": "x0"})
    lr = superres.downsample(hr, f)
    t0 = time.perf_counter()
    results = {"bicubic": (superres.bicubic(lr, f), time.perf_counter() - t0, None)}
    for method, cons in (("polydiff-sr3", False), ("polydiff-sr3+consistency", True)):
        results[method] = timed_nfe(net, len(hr), superres.super_resolve,
            net, proc, lr, f, steps=S, solver="ddim", consistent=cons, generator=torch.Generator(device).manual_seed(3))
    k = pc_cfg.get("mean_k")  # the posterior mean's estimate beside the single sample
    if k:
        results[f"polydiff-sr3-mean{k}"] = timed_nfe(net, len(hr), superres.super_resolve_mean,
            net, proc, lr, f, k, steps=S, solver="ddim", generator=torch.Generator(device).manual_seed(3))
    out = []
    for method, (img, secs, nfe) in results.items():
        for metric, fn in (("PSNR", metrics.psnr), ("SSIM", metrics.ssim)):
            out.append(record("vision", "superres", f"skimage-photos-{size}px", f"x{f}-{size // f}to{size}px",
                              method, metric, fn(img, hr), True, nfe, secs, len(hr)))
    plots.save_side_by_side([(m, o) for m, (o, _, _) in results.items()] + [("truth", hr)],
                            out_dir / "superres_photos.png", rows=4)
    return out


def _shipped_generators(names, labels, size: int, device: str, say) -> dict:
    """``{name: (images, seconds, nfe, counterpart)}`` of the shipped generation pipelines
    (full-mode models, ``pretrained/<name>``) at their own defaults, brought to ``size`` px the
    way :func:`mnist` brings MNIST there, so this run's classifier scores them beside its own
    generator; ``counterpart`` names the full bench's guidance group and row at those defaults
    (:func:`polydiff.bench.compare.as_counterpart`)."""
    from polydiff.core.pipeline_hub import shipped_pipelines
    from polydiff.vision.pipelines import VisionGenerationPipeline

    out = {}
    for name in [n for n in names if n in shipped_pipelines()]:
        say(f"generation with the shipped {name}")
        pipe = VisionGenerationPipeline.from_pretrained(name, device=device)
        imgs, secs, nfe = timed_nfe(pipe.unet, len(labels), pipe, labels.to(device),
                                    generator=torch.Generator(device).manual_seed(1))
        imgs = imgs.cpu()
        if size == 16 and imgs.shape[-1] == 28:
            imgs = to_bench_size(imgs, 16)
        if imgs.shape[-1] != size:
            continue  # a pipeline of another size: nothing to compare it with here
        counterpart = {"dataset": f"mnist-{pipe.image_shape[-1]}px", "setting": f"{pipe.solver}-{pipe.steps}",
                       "method": f"polydiff-cfg(w={pipe.guidance_scale:g})"}
        out[name] = (imgs, secs, nfe, counterpart)
    return out


def _generation(cfg: dict, gen_net, proc, clf, labels, real, x_te, y_te, out_dir: pathlib.Path, device: str,
                say, rec) -> None:
    """The classifier-free guidance group (one row per guidance scale, real test images beside)
    and the shipped generators scored by the same classifier (setting ``shipped-pipelines``)."""
    say("generation")
    size, S, n = cfg["size"], cfg["sample_steps"], len(labels)
    setting = f"ddim-{S}"
    for scale in cfg["scales"]:
        imgs, secs, nfe = timed_nfe(gen_net, n, generate.generate,
            gen_net, proc, labels.to(device), scale=scale, steps=S, solver="ddim", shape=(1, size, size),
            generator=torch.Generator(device).manual_seed(1))
        imgs = imgs.cpu()
        method = "polydiff-uncond(w=0)" if scale == 0 else f"polydiff-cfg(w={scale:g})"
        if scale != 0:  # unguided samples ignore the label: their accuracy is chance by construction
            rec("generate", setting, method, "classifier-accuracy",
                metrics.accuracy(clf, imgs.to(device), labels.to(device)), True, nfe, secs, n)
        rec("generate", setting, method, "classifier-frechet", metrics.classifier_frechet_distance(
            clf, imgs.to(device), real.to(device)), False, nfe, secs, n)
        plots.save_grid(imgs[::cfg["n_gen_per_class"] // 2], out_dir / f"generate_w{scale:g}.png", ncol=10,
                        title=f"guidance scale w={scale:g} (two per class 0..9)")
    held = x_te[:n]
    real_acc = metrics.accuracy(clf, held.to(device), y_te[:n].to(device))
    real_fd = metrics.classifier_frechet_distance(clf, held.to(device), real.to(device))
    shipped = _shipped_generators(cfg.get("shipped", ()), labels, size, device, say)
    rec("generate", setting, "real-test-images", "classifier-accuracy", real_acc, True, None, 0.0, n)
    rec("generate", setting, "real-test-images", "classifier-frechet", real_fd, False, None, 0.0, n)
    for name, (imgs, secs, nfe, counterpart) in shipped.items():  # scored by this run's classifier, at its size
        real_row = {**counterpart, "method": "real-test-images"}
        rec("generate", "shipped-pipelines", "real-test-images", "classifier-accuracy", real_acc, True, None, 0.0, n,
            counterpart=real_row)
        rec("generate", "shipped-pipelines", "real-test-images", "classifier-frechet", real_fd, False, None, 0.0, n,
            counterpart=real_row)
        rec("generate", "shipped-pipelines", f"shipped:{name}", "classifier-accuracy",
            metrics.accuracy(clf, imgs.to(device), labels.to(device)), True, nfe, secs, n, counterpart=counterpart)
        rec("generate", "shipped-pipelines", f"shipped:{name}", "classifier-frechet",
            metrics.classifier_frechet_distance(clf, imgs.to(device), real.to(device)), False, nfe, secs, n,
            counterpart=counterpart)


def _shipped_tasks(cfg: dict, task: str, clf, device: str, say, rec) -> None:
    """The mode's shipped image-to-image pipelines of ``task`` (``cfg["shipped_tasks"]``) beside
    their baselines (:mod:`~polydiff.bench.vision_shipped`)."""
    from polydiff.bench.vision_shipped import SHIPPED_TASKS, shipped_task_records

    names = [m for m in cfg.get("shipped_tasks", ()) if SHIPPED_TASKS[m][0] == task]
    if names:
        shipped_task_records(names, clf, cfg["size"], cfg["shipped_tasks_n"], device, say, rec)


#: The parts of the entry: ``generate`` (the classifier-free guidance group and the shipped
#: generators), ``inpaint`` (:mod:`~polydiff.bench.vision_inpaint`), ``segment`` (label-efficient
#: segmentation) and ``fashion-anomaly`` (one-vs-rest anomaly detection on every Fashion-MNIST
#: class; both need no MNIST network) and ``other`` (every other task);
#: ``python -m polydiff.bench.vision --full --parts generate --json PART.json`` runs one alone
#: (:mod:`polydiff.bench.parts`).
PARTS = ("generate", "inpaint", "other", "segment", "fashion-anomaly")


def run(mode: str, out_dir: pathlib.Path, device: str = "cpu", progress=None,
        parts: tuple[str, ...] | list[str] | None = None) -> list[dict]:
    """Run the vision benchmark (``parts``: some of :data:`PARTS`, default all); returns records
    in docs/design.md's schema and writes PNG figures."""
    if mode not in CONFIGS:
        raise ValueError(f"mode must be one of {tuple(CONFIGS)}, got {mode!r}")
    if parts is None:
        parts = PARTS
    if isinstance(parts, str) or not parts or any(q not in PARTS for q in parts):
        raise ValueError(f"parts must name some of {PARTS}, got {parts!r}")
    cfg = CONFIGS[mode]
    if device == "cpu":  # small convolutions: one thread beats two contending ones on a shared CPU
        torch.set_num_threads(1)
    out_dir = pathlib.Path(out_dir)
    cache = out_dir / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    say = progress if progress is not None else (lambda stage: None)
    size, steps, net_kw = cfg["size"], cfg["steps"], cfg["net"]
    dataset = f"mnist-{size}px"
    records: list[dict] = []

    def rec(task, setting, method, metric, value, hib, nfe, seconds, n, ds=dataset, **extra):
        records.append(record("vision", task, ds, setting, method, metric, value, hib, nfe, seconds, n, **extra))

    common = {"batch_size": cfg["batch"], "seed": 0}
    if "segment" in parts and cfg["segment"]:  # needs no MNIST network: ``--parts segment`` trains nothing else
        say("train U-Nets on MNI152 slices and nuclei tiles and segment")
        from polydiff.bench.vision_segment import run_segmentation
        seg_common = {**common, "batch_size": cfg["segment"].get("batch", common["batch_size"])}
        records += run_segmentation(cfg["segment"], steps["segment"], cache, out_dir, device, seg_common, net_kw)
    if "fashion-anomaly" in parts and cfg.get("fashion_anomaly"):  # needs no MNIST network either
        fa = cfg["fashion_anomaly"]
        records += fashion_one_vs_rest(cfg["anomaly"], fa["classes"], steps["anomaly"], cache, device, common,
                                       net_kw, n_train=cfg["n_train"], say=say)
    if not {"generate", "inpaint", "other"} & set(parts):
        say("done")
        return training_checks(records, mode)
    x_tr, y_tr = mnist("train", size, cfg["n_train"])
    x_te, y_te = mnist("test", size)

    say("train classifier")
    clf, _ = trained(cache, "classifier", "classifier", x_tr, y_tr, device, steps=steps["classifier"],
                     lr=1e-3, net_kwargs={"width": 16}, **common)
    clf = clf.to(device)
    proc = default_process()

    # --- generation with classifier-free guidance ------------------------------------------
    S = cfg["sample_steps"]
    labels = torch.arange(10).repeat_interleave(cfg["n_gen_per_class"])
    n = len(labels)
    real = x_te[-n:]
    if "generate" in parts:
        say("train class-conditional U-Net")
        gen_net, _ = trained(cache, "generate", "generate", x_tr, y_tr, device, steps=steps["generate"],
                             lr=1e-3, net_kwargs=net_kw, p_uncond=0.2, **common)
        _generation(cfg, gen_net, proc, clf, labels, real, x_te, y_te, out_dir, device, say, rec)

    def unconditional():  # SDEdit's and RePaint's U-Net (trained once: cached)
        say("train unconditional U-Net (inpainting, SDEdit)")
        net, _ = trained(cache, "inpaint-uncond", "inpaint", x_tr, y_tr, device,
                         steps=steps.get("inpaint", steps["generate"]), lr=1e-3, net_kwargs=net_kw, **common)
        return net.to(device)

    if "inpaint" in parts:
        ic, pal = cfg["inpaint"], None
        if ic.get("palette"):
            say("train Palette U-Net (inpainting)")
            pal, _ = trained(cache, "inpaint-palette", "palette", x_tr, y_tr, device,
                             steps=ic["palette"]["train_steps"], lr=1e-3, net_kwargs=net_kw, **common)
            pal = pal.to(device)
        uncond = unconditional()
        say("inpainting")
        test = slice(1000, 1000 + cfg["n_eval"])
        run_inpainting(ic, uncond, pal, proc, clf, x_tr, x_te[test].to(device), y_te[test].to(device), real,
                       out_dir, device, rec, cfg.get("n_nfe"))
        _shipped_tasks(cfg, "inpaint", clf, device, say, rec)
    if "other" not in parts:
        say("done")
        return training_checks(records, mode)
    # --- SDEdit on an unconditional model trained for it -------------------------------------
    uncond = unconditional()
    say("SDEdit")
    ne = cfg["n_eval"]
    src, src_y = x_te[3000:3000 + ne].to(device), y_te[3000:3000 + ne].to(device)
    guide = sdedit.stroke_painting(src, cells=size // 2, levels=3)
    results = {"stroke-painting": (guide, 0.0, None)}
    for strength in cfg.get("sdedit_strengths", (0.5,)):
        results[f"polydiff-sdedit(s={strength:g})"] = timed_nfe(
            uncond, ne, sdedit.sdedit, uncond, proc, guide, strength, steps=S, solver="ddim",
            generator=torch.Generator(device).manual_seed(5))
    for method, (out, secs, nfe) in results.items():
        for metric, value in metrics.inpainting_scores(clf, out, src_y, real.to(device)).items():
            rec("sdedit", "stroke-paintings", method, metric, value, metric != "classifier-frechet", nfe, secs, ne)
    plots.save_side_by_side([("source", src), *((m, o) for m, (o, _, _) in results.items())],
                            out_dir / "sdedit.png")

    # --- super-resolution --------------------------------------------------------------------
    say("train SR3 U-Net")
    f = cfg["sr_factor"]
    sr_net, _ = trained(cache, "superres", "superres", x_tr, y_tr, device, steps=steps["superres"], lr=1e-3,
                        net_kwargs={**net_kw, "prediction": "v"}, factor=f, **common)
    say("super-resolution")
    hr = x_te[2000:2000 + ne].to(device)
    lr = superres.downsample(hr, f)
    setting = f"x{f}-{size // f}to{size}px"
    t0 = time.perf_counter()
    results = {"bicubic": (superres.bicubic(lr, f), time.perf_counter() - t0, None)}
    for method, cons in (("polydiff-sr3", False), ("polydiff-sr3+consistency", True)):
        results[method] = timed_nfe(sr_net, ne, superres.super_resolve,
            sr_net, proc, lr, f, steps=S, solver="ddim", consistent=cons,
            generator=torch.Generator(device).manual_seed(3))
        k = cfg.get("sr_mean_k", 8)  # the posterior mean's estimate: a regression model's target
        results[f"{method}-mean{k}"] = timed_nfe(sr_net, ne, superres.super_resolve_mean,
            sr_net, proc, lr, f, k, steps=S, solver="ddim", consistent=cons,
            generator=torch.Generator(device).manual_seed(3))
    if "superres-regression" in steps:
        reg_net, _ = trained(cache, "sr-regression", "superres-regression", x_tr, y_tr, device,
                             steps=steps["superres-regression"], lr=1e-3, net_kwargs=net_kw, factor=f, **common)
        results["regression-unet"] = timed_nfe(reg_net, ne, superres.regression_upsample, reg_net, lr, f)
    for method, (out, secs, nfe) in results.items():
        rec("superres", setting, method, "PSNR", metrics.psnr(out, hr), True, nfe, secs, ne)
        rec("superres", setting, method, "SSIM", metrics.ssim(out, hr), True, nfe, secs, ne)
    nn_ = cfg.get("n_nfe", ne)
    for solver, st in cfg.get("sr_nfe_table", ()):  # quality vs NFE, bicubic as the reference
        out, secs, nfe = timed_nfe(sr_net, nn_, superres.super_resolve,
            sr_net, proc, lr[:nn_], f, steps=st, solver=solver, generator=torch.Generator(device).manual_seed(3))
        rec("superres", f"{setting}-nfe", f"polydiff-sr3-{solver}-{st}", "PSNR", metrics.psnr(out, hr[:nn_]), True,
            nfe, secs, nn_)
    if cfg.get("sr_nfe_table"):
        rec("superres", f"{setting}-nfe", "bicubic", "PSNR", metrics.psnr(results["bicubic"][0][:nn_], hr[:nn_]),
            True, None, results["bicubic"][1], nn_)
    plots.save_side_by_side([("low-res", F.interpolate(lr, scale_factor=f, mode="nearest"))]
                            + [(m, o) for m, (o, _, _) in results.items()] + [("truth", hr)],
                            out_dir / "superres.png")
    _shipped_tasks(cfg, "superres", clf, device, say, rec)
    if cfg.get("sr_photos"):
        say("super-resolution on photo patches")
        records += _photo_superres(cfg["sr_photos"], cache, out_dir, device, common, net_kw, S)

    # --- anomaly detection (one-vs-rest) -----------------------------------------------------
    ac = cfg["anomaly"]
    c = ac["normal_class"]
    say("anomaly detection (autoencoder, AnoDDPM simplex and Gaussian)")
    scores, shown, xa = one_vs_rest(mnist("train", size, None, classes=(c,))[0], x_te, y_te, c, ac,
                                    steps["anomaly"], cache, device, common, net_kw, n_train=cfg["n_train"])
    for method in ANOMALY_METHODS:
        auc, secs, nfe = scores[method]
        rec("anomaly", f"one-vs-rest-class{c}", method, "AUROC", auc, True, nfe, secs, len(xa))
    idx = torch.cat([torch.arange(3), len(xa) // 2 + torch.arange(3)])
    plots.save_side_by_side([("image", xa[idx].cpu())] + [(f"map ({k})", m[idx]) for k, m in shown.items()],
                            out_dir / "anomaly_maps.png", cmap="magma")

    if cfg.get("lesions"):
        say("brain slices with synthetic lesions")
        from polydiff.bench.vision_lesions import run_brain_lesions
        lesion_common = {**common, "batch_size": cfg["lesions"].get("batch", common["batch_size"])}
        records += run_brain_lesions(cfg["lesions"], steps.get("segment", steps["anomaly"]), cache, out_dir, device,
                                     lesion_common, net_kw)
    if cfg.get("fitted_grid"):
        say("time steps fitted to the shipped generator")
        records += run_fitted_grid(cfg["fitted_grid"], clf, x_te, y_te, out_dir, device, say)
    say("done")
    return training_checks(records, mode)  # quick mode: its minutes-long networks check training


def main(argv: list[str] | None = None) -> int:
    """``python -m polydiff.bench.vision [--quick | --full] --parts generate --json OUT.json``."""
    from .parts import part_main

    return part_main("vision", run, PARTS, argv, prog="python -m polydiff.bench.vision")


if __name__ == "__main__":
    raise SystemExit(main())

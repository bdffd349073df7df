"""Segmentation part of the vision benchmark: Baranchuk et al.'s pixel-MLP ensemble on
denoiser features vs a U-Net trained from scratch on the same few labelled images.

With ``cfg["finetune"]`` (``{"steps", "lr"}``) a second denoiser method joins them: the same
denoiser's U-Net fine-tuned as the segmentation network (``segment.train_unet_segmenter(init=)``)
and its class probabilities averaged with the pixel MLPs' (``polydiff-ddpm-pixel-mlp+finetuned``).
Chosen on validation images (``scripts/vision_segment_finetune_validation.py``,
``bench/results/supplementary/vision-segment-finetune-validation.json``): the average was within
0.005 of the pixel MLPs at every labelled count on both datasets and above them at 10 labels.

Datasets: MNI152 T1 slices with tissue labels (0 other, 1 grey, 2 white matter; interleaved
slices for train/test) and the stardist fluorescence-nuclei image cut into 64x64 tiles
(0 background, 1 nucleus; left half train, right half test). Each mIoU carries its 95%
percentile-bootstrap interval over the test images (``ci_low``/``ci_high``)."""
from __future__ import annotations

import pathlib
import time

import torch
from polydiff.bench.common import record
from polydiff.bench.vision_common import trained
from polydiff.vision import plots, segment
from polydiff.vision.data import load_mni152_slices, nuclei_tiles
from polydiff.vision.miou_interval import miou_interval

__all__ = ["BASELINE", "run_segmentation", "unconditional_ddpm"]

#: The from-scratch baseline's method name; each pixel-MLP record carries its paired difference to
#: it (``minus_baseline``, ``minus_baseline_ci``: the same test images resampled,
#: :func:`~polydiff.vision.miou_interval.miou_interval`).
BASELINE = "unet-from-scratch"


def _dataset(name: str, cfg: dict):
    if name == "mni152":
        x, y = load_mni152_slices(cfg["size"])
        return f"mni152-{cfg['size']}px", 3, x[0::2], y[0::2], x[1::2], y[1::2]
    if name == "nuclei":
        (x_tr, y_tr), (x_te, y_te) = nuclei_tiles("train", cfg["size"]), nuclei_tiles("test", cfg["size"])
        return f"stardist-nuclei-{cfg['size']}px-tiles", 2, x_tr, y_tr, x_te, y_te
    raise ValueError(f"unknown segmentation dataset {name!r}")


def unconditional_ddpm(name: str, x_tr: torch.Tensor, steps: int, cache: pathlib.Path, device: str,
                       common: dict, net_kw: dict):
    """``(net, process)``: the unconditional DDPM (eps loss, Gaussian noise) trained on a dataset's
    unlabelled training images. On MNI152 this is also AnoDDPM's Gaussian-noise lesion model (same
    loss, data and cache key), so the full bench trains it once."""
    return trained(cache, f"segment-ddpm-{name}", "segment", x_tr, torch.zeros(len(x_tr), dtype=torch.long),
                   device, steps=steps, lr=1e-3, net_kwargs=net_kw, **common)


def _per_dataset(cfg: dict, key: str, name: str):
    """``cfg[key]``, or its entry for dataset ``name`` when it is a ``{dataset: value}`` mapping."""
    value = cfg[key]
    if isinstance(value, dict):
        if name not in value:
            raise ValueError(f"segment config {key!r} names no value for dataset {name!r}: {value}")
        return value[name]
    return value


def run_segmentation(cfg: dict, steps: int, cache: pathlib.Path, out_dir: pathlib.Path, device: str,
                     common: dict, net_kw: dict) -> list[dict]:
    """For each dataset in ``cfg["datasets"]`` (default MNI152 only): train an unconditional
    U-Net on the training images (no labels), fit the pixel classifiers on ``cfg["labelled"]``
    labelled images, and report mIoU on the held-out images beside the from-scratch U-Net.
    ``cfg["denoiser_steps"]`` (``{dataset: steps}``) overrides ``steps`` for a dataset;
    ``cfg["baseline_steps"]`` is the from-scratch U-Net's steps and ``cfg["timesteps"]`` the
    noise levels the pixel MLPs read, each one value or ``{dataset: value}``."""
    records = []
    for name in cfg.get("datasets", ("mni152",)):
        dataset, k_cls, x_tr, y_tr, x_te, y_te = _dataset(name, cfg)
        ddpm_steps = cfg.get("denoiser_steps", {}).get(name, steps)
        net, proc = unconditional_ddpm(name, x_tr, ddpm_steps, cache, device, common, net_kw)
        base_steps, timesteps = (_per_dataset(cfg, key, name) for key in ("baseline_steps", "timesteps"))
        ext = segment.FeatureExtractor(net, proc, timesteps=timesteps)
        for k in cfg["labelled"]:
            pick = torch.linspace(0, len(x_tr) - 1, k).round().long()
            t0 = time.perf_counter()
            seg = segment.train_segmenter(ext, x_tr[pick], y_tr[pick], k_cls, n_models=cfg["n_models"],
                                          pixels_per_image=4096, epochs=cfg["epochs"])
            pred = seg.predict(x_te)
            secs = time.perf_counter() - t0
            t0 = time.perf_counter()
            base = segment.train_unet_segmenter(x_tr[pick], y_tr[pick], k_cls, steps=base_steps,
                                                base=net_kw["base"], mults=net_kw["mults"])
            with torch.no_grad():
                pred_b = base(x_te).argmax(1)
            secs_b = time.perf_counter() - t0
            rows = [("polydiff-ddpm-pixel-mlp", pred, secs, len(timesteps), ddpm_steps),
                    (BASELINE, pred_b, secs_b, None, base_steps)]
            if cfg.get("finetune"):
                t0 = time.perf_counter()
                ft = segment.train_unet_segmenter(x_tr[pick], y_tr[pick], k_cls, steps=cfg["finetune"]["steps"],
                                                  lr=cfg["finetune"]["lr"], init=net)
                with torch.no_grad():
                    proba = (seg.predict_proba(x_te) + torch.cat(
                        [ft(x_te[i:i + 64]).softmax(1) for i in range(0, len(x_te), 64)])) / 2
                rows.insert(1, ("polydiff-ddpm-pixel-mlp+finetuned", proba.argmax(1),
                                secs + time.perf_counter() - t0, len(timesteps) + 1, ddpm_steps))
            for method, p, s, nfe, trained_for in rows:
                iv = miou_interval(p, y_te, k_cls, baseline=pred_b if nfe else None)
                extra = {"timesteps": list(timesteps), "baseline": BASELINE, "minus_baseline": iv["difference"],
                         "minus_baseline_ci": [iv["difference_ci_low"], iv["difference_ci_high"]]} if nfe else {}
                records.append(record("vision", "segment", dataset, f"{k}-labelled", method, "mIoU",
                                      iv["value"], True, nfe, s, len(x_te), train_steps=trained_for,
                                      ci_low=iv["ci_low"], ci_high=iv["ci_high"], **extra))
            if k == cfg["labelled"][-1]:
                step = max(1, len(x_te) // 4)
                plots.save_overlay(x_te[::step], y_te[::step], pred[::step], out_dir / f"segment_{name}.png")
    return records

"""Segmentation part of the vision benchmark: Baranchuk et al.'s pixel-MLP
ensemble on denoiser features vs a U-Net trained from scratch, on MNI152 T1 slices with
grey/white-matter labels (0 other, 1 grey matter, 2 white matter)."""
from __future__ import annotations

import pathlib
import time

import torch

from . import metrics, plots, segment
from .data import load_mni152_slices

__all__ = ["run_segmentation"]


def run_segmentation(cfg: dict, steps: int, cache: pathlib.Path, out_dir: pathlib.Path, device: str,
                     common: dict, net_kw: dict) -> list[dict]:
    """Train an unconditional U-Net on the training slices (no labels), then fit the pixel
    classifiers on 2/5/10 labelled slices and evaluate mIoU on held-out slices."""
    from .bench import _cached
    x, y = load_mni152_slices(cfg["size"])
    x_tr, y_tr, x_te, y_te = x[0::2], y[0::2], x[1::2], y[1::2]  # interleaved: no slice in both
    net, proc = _cached(cache, "segment-ddpm", "segment", x_tr, torch.zeros(len(x_tr), dtype=torch.long), device,
                        steps=steps, lr=1e-3, net_kwargs=net_kw, **common)
    ext = segment.FeatureExtractor(net, proc, timesteps=cfg["timesteps"])
    records = []
    dataset = f"mni152-{cfg['size']}px"
    for k in cfg["labelled"]:
        pick = torch.linspace(0, len(x_tr) - 1, k).round().long()
        t0 = time.perf_counter()
        seg = segment.train_segmenter(ext, x_tr[pick], y_tr[pick], 3, n_models=cfg["n_models"],
                                      pixels_per_image=4096, epochs=cfg["epochs"])
        pred = seg.predict(x_te)
        secs = time.perf_counter() - t0
        t0 = time.perf_counter()
        base = segment.train_unet_segmenter(x_tr[pick], y_tr[pick], 3, steps=cfg["baseline_steps"], base=net_kw["base"],
                                            mults=net_kw["mults"])
        with torch.no_grad():
            pred_b = base(x_te).argmax(1)
        secs_b = time.perf_counter() - t0
        for method, p, s in (("polydiff-ddpm-pixel-mlp", pred, secs), ("unet-from-scratch", pred_b, secs_b)):
            records.append({"domain": "vision", "task": "segment", "dataset": dataset, "setting": f"{k}-labelled",
                            "method": method, "metric": "mIoU", "value": metrics.miou(p, y_te, 3),
                            "higher_is_better": True, "nfe": len(cfg["timesteps"]) if "polydiff" in method else None,
                            "seconds": s, "n": len(x_te)})
        if k == cfg["labelled"][-1]:
            plots.save_overlay(x_te[::len(x_te) // 4], y_te[::len(x_te) // 4], pred[::len(x_te) // 4],
                               out_dir / "segment_mni152.png")
    return records

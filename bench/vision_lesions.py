"""Pixel-level anomaly detection part of the vision benchmark (full mode): AnoDDPM with
simplex vs Gaussian noise vs a convolutional autoencoder, on MNI152 T1 slices with one
inserted synthetic lesion each (:func:`polydiff.vision.anomaly.synthetic_lesions`).

Models are trained on the lesion-free training slices; maps are restricted to the brain
(grey + white matter) as in AnoDDPM, and scored by pixel AUPRC and the best Dice over
thresholds."""
from __future__ import annotations

import pathlib
import time

import torch
from polydiff.bench.common import record, timed_nfe
from polydiff.bench.vision_common import trained
from polydiff.bench.vision_segment import unconditional_ddpm
from polydiff.vision import anomaly, metrics, plots
from polydiff.vision.data import load_mni152_slices

__all__ = ["run_brain_lesions"]


def run_brain_lesions(cfg: dict, steps: int, cache: pathlib.Path, out_dir: pathlib.Path, device: str,
                      common: dict, net_kw: dict) -> list[dict]:
    """Records for (simplex, gaussian, autoencoder) x (AUPRC, best Dice) on the test slices."""
    x, y = load_mni152_slices(cfg["size"])
    x_tr, x_te, y_te = x[0::2], x[1::2], y[1::2]
    brain = y_te > 0
    xl, lesions = anomaly.synthetic_lesions(x_te, brain, generator=torch.Generator().manual_seed(0))
    xl = xl.to(device)
    zeros = torch.zeros(len(x_tr), dtype=torch.long)
    dataset, setting = f"mni152-{cfg['size']}px", "synthetic-lesions"
    results = {}
    for kind in ("simplex", "gaussian"):
        simplex = cfg["simplex"] if kind == "simplex" else None
        if kind == "gaussian":  # the segmentation bench's MNI152 DDPM: same loss and data, trained once
            net, proc = unconditional_ddpm("mni152", x_tr, steps, cache, device, common, net_kw)
        else:
            net, proc = trained(cache, f"lesion-{kind}", "anomaly", x_tr, zeros, device, steps=steps, lr=1e-3,
                                net_kwargs=net_kw, noise=kind, simplex=simplex, **common)
        noise = anomaly.noise_sampler(kind, generator=torch.Generator(device).manual_seed(4), **(simplex or {}))
        maps, secs, nfe = timed_nfe(net, len(xl), anomaly.anomaly_maps, net, proc, xl, cfg["t_star"], noise=noise,
                                 steps=cfg["steps"], solver="ddpm")
        results[f"polydiff-anoddpm-{kind}"] = (maps.cpu() * brain, secs, nfe)
    ae = anomaly.train_autoencoder(x_tr.to(device), steps=steps, batch_size=common["batch_size"])
    t0 = time.perf_counter()
    results["conv-autoencoder"] = (anomaly.autoencoder_maps(ae, xl).cpu() * brain, time.perf_counter() - t0, None)
    records = []
    for method, (maps, secs, nfe) in results.items():
        for metric, value in (("pixel-AUPRC", metrics.auprc(maps.flatten(), lesions.flatten())),
                              ("best-Dice", metrics.best_dice(maps, lesions)[0])):
            records.append(record("vision", "anomaly", dataset, setting, method, metric, value, True, nfe,
                                  secs, len(xl)))
    plots.save_side_by_side([("image", xl.cpu()), ("lesion", lesions.float())]
                            + [(m.replace("polydiff-anoddpm-", ""), r[0]) for m, r in results.items()],
                            out_dir / "anomaly_brain.png", rows=4, cmap="magma")
    return records

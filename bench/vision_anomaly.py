"""One-vs-rest anomaly detection in the vision benchmark: AnoDDPM (Wyatt et al. 2022) with
simplex and Gaussian noise against a convolutional autoencoder trained for the same steps and a
template baseline (the squared distance to the mean normal training image).

For each normal class: the models see only that class's training images; the test set is the
first ``n`` normal and the first ``n`` other test images, scored by image AUROC (anomalous = 1).
MNIST runs one class (the ``other`` part); Fashion-MNIST runs every class and reports the
mean AUROC over classes, as one-class papers do, with each class's value in ``per_class``
(the ``fashion-anomaly`` part). The configuration (``t_star``, noise, steps) is MNIST's,
fixed before any Fashion-MNIST test image was scored."""
from __future__ import annotations

import pathlib
import time

import torch
from polydiff.bench.common import record, timed_nfe
from polydiff.bench.vision_common import trained
from polydiff.vision import anomaly, metrics
from polydiff.vision._common import default_process
from polydiff.vision.data import load_fashion_mnist

__all__ = ["METHODS", "fashion_one_vs_rest", "one_vs_rest"]

#: every row of a one-vs-rest group, baselines first
METHODS = ("template-distance", "conv-autoencoder", "polydiff-anoddpm-simplex", "polydiff-anoddpm-gaussian")


def one_vs_rest(x_normal: torch.Tensor, x_te: torch.Tensor, y_te: torch.Tensor, normal_class: int, ac: dict,
                steps: int, cache: pathlib.Path, device: str, common: dict, net_kw: dict, *, n_train: int,
                cache_prefix: str = "anomaly") -> tuple[dict, dict, torch.Tensor]:
    """``({method: (AUROC, seconds, nfe)}, {noise kind: maps}, images)`` for one normal class.

    ``x_normal``: the normal class's training images; ``ac``: the bench's anomaly config
    (``t_star``, ``steps``, ``n``, ``simplex``); ``steps``: training steps of every model."""
    normal = x_te[y_te == normal_class][:ac["n"]]
    others = x_te[y_te != normal_class][:ac["n"]]
    xa = torch.cat([normal, others]).to(device)
    truth = torch.cat([torch.zeros(len(normal)), torch.ones(len(others))]).long()
    out = {}
    t0 = time.perf_counter()
    tscore = ((xa - x_normal.mean(0, keepdim=True).to(device)) ** 2).flatten(1).mean(1).cpu()
    out["template-distance"] = (metrics.auroc(tscore, truth), time.perf_counter() - t0, None)
    ae = anomaly.train_autoencoder(x_normal.to(device), steps=steps, batch_size=common["batch_size"])
    t0 = time.perf_counter()
    ae_maps = anomaly.autoencoder_maps(ae, xa)
    out["conv-autoencoder"] = (metrics.auroc(anomaly.image_scores(ae_maps.cpu()), truth),
                               time.perf_counter() - t0, None)
    shown, proc = {}, default_process()
    for kind in ("simplex", "gaussian"):
        simplex = ac["simplex"] if kind == "simplex" else None
        net, _ = trained(cache, f"{cache_prefix}-{kind}", "anomaly", x_normal[:n_train],
                         torch.full((len(x_normal[:n_train]),), normal_class, dtype=torch.long), device,
                         steps=steps, lr=1e-3, net_kwargs=net_kw, noise=kind, simplex=simplex, **common)
        noise = anomaly.noise_sampler(kind, generator=torch.Generator(device).manual_seed(4), **(simplex or {}))
        maps, secs, nfe = timed_nfe(net, len(xa), anomaly.anomaly_maps,
                                    net, proc, xa, ac["t_star"], noise=noise, steps=ac["steps"], solver="ddpm")
        out[f"polydiff-anoddpm-{kind}"] = (metrics.auroc(anomaly.image_scores(maps, "mean"), truth), secs, nfe)
        shown[kind] = maps
    return out, shown, xa


def fashion_one_vs_rest(ac: dict, classes: tuple[int, ...], steps: int, cache: pathlib.Path, device: str,
                        common: dict, net_kw: dict, n_train: int, say=lambda stage: None) -> list[dict]:
    """Mean image AUROC over Fashion-MNIST's ``classes`` as normal class, one record per method
    (``per_class`` holds each class's AUROC, ``n`` the test images per class)."""
    if not classes or len(set(classes)) != len(classes) or any(c not in range(10) for c in classes):
        raise ValueError(f"classes must be distinct Fashion-MNIST classes 0..9, got {classes!r}")
    x_tr, y_tr = load_fashion_mnist("train")
    x_te, y_te = load_fashion_mnist("test")
    per_class = {m: {} for m in METHODS}
    seconds = {m: 0.0 for m in METHODS}
    nfe = {}
    for c in classes:
        say(f"Fashion-MNIST anomaly detection, normal class {c}")
        out, _, xa = one_vs_rest(x_tr[y_tr == c], x_te, y_te, c, ac, steps, cache, device, common, net_kw,
                                 n_train=n_train, cache_prefix=f"anomaly-fashion-c{c}")
        for m, (auc, secs, k) in out.items():
            per_class[m][str(c)] = auc
            seconds[m] += secs
            nfe[m] = k
    setting = "one-vs-rest-mean" if len(classes) == 10 else "one-vs-rest-mean-classes" + "".join(map(str, classes))
    return [record("vision", "anomaly", "fashion-mnist-28px", setting, m, "AUROC",
                   sum(per_class[m].values()) / len(classes), True, nfe[m], seconds[m], len(xa),
                   per_class=per_class[m]) for m in METHODS]

"""The robustness bench's networks: the clean classifier, its adversarially trained copy (with
early stopping on validation robust accuracy in full mode) and the purification diffusion model,
each trained once into a cache folder named by the digest of its training key, checkpointed there
and resumed after a stop (:func:`_train_all`), and the early-stopping fields of the adversarially
trained records (:func:`_early_stopping_fields`)."""
from __future__ import annotations

import json
import pathlib
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from polydiff.bench.common import cached, checkpointing, digest
from polydiff.bench.robustness_compare import ADV_TRAINED, STRENGTH
from polydiff.core.training import TrainConfig
from polydiff.robustness import nets
from polydiff.robustness.data import load_images
from polydiff.robustness.early_stopping import selection_file
from polydiff.robustness.loss_plateau import plateau_file
from polydiff.robustness.train import train_classifier, train_diffusion
from torch import nn

if TYPE_CHECKING:
    from polydiff.bench.robustness import BenchConfig

__all__ = ["DM_PLATEAU_RULE", "TRAIN_PARTS", "adv_selection", "adv_validation_images", "cache_folder", "dm_plateau",
           "network_keys"]


def _digest(*tensors: torch.Tensor) -> str:
    return digest(None, *tensors)


def _cached(cache: pathlib.Path, name: str, key: dict, steps: int, build: Callable[[dict], nn.Module]) -> nn.Module:
    """Load ``name`` from ``cache`` if trained with the same ``key``, else build and save it.

    ``build(checkpointing)`` gets the ``TrainConfig`` fields that checkpoint its run into the
    cache folder (``run/``, every 5% of its ``steps``) and resumes there: a full-mode run stopped
    during hours of adversarial training continues where it stopped when started again. ``build``
    runs with the global torch generator seeded (0) and restored after it, so a network's initial
    weights do not depend on which networks the process trained before it.
    """

    def build_and_save(folder: pathlib.Path) -> nn.Module:
        with torch.random.fork_rng(devices=[]):  # the initial weights follow the key, not the run's order
            torch.manual_seed(0)
            net = build(checkpointing(folder, steps))
        nets.save_net(net.cpu(), folder)
        (folder / "key.json").write_text(json.dumps(key, indent=1, sort_keys=True))
        return net

    net = cached(cache_folder(cache, name, key), "model.safetensors", nets.load, build_and_save)
    for p in net.parameters():
        p.requires_grad_(True)
    return net.eval()


def network_keys(cfg: BenchConfig, x: torch.Tensor, y: torch.Tensor) -> dict[str, dict]:
    """The cache keys of ``cfg``'s networks trained on ``x, y``: network ``name`` lives in
    ``cache/<name>-<digest(key, length=12)>`` (:func:`_cached`)."""
    base = {"n_train": cfg.n_train, "data": _digest(x, y)}  # the data digest tells datasets apart
    clf = {**base, "width": cfg.clf_width, "steps": cfg.clf_steps, "lr": cfg.clf_lr}
    if cfg.lr_schedule != "constant":  # (keys of constant-lr runs as before: their caches stay valid)
        clf["schedule"] = cfg.lr_schedule
    adv = {**clf, "adv_steps": cfg.adv_steps, "pgd": cfg.adv_pgd_steps, "eps": cfg.eps, "ramp": cfg.adv_eps_ramp}
    if cfg.adv_val_n:  # (keys of runs without early stopping as before)
        adv.update(val_n=cfg.adv_val_n, val_pgd=cfg.adv_val_pgd, select="best-val-robust")
    dm = {**base, "base": cfg.dm_base, "steps": cfg.dm_steps, "batch": cfg.dm_batch, "t_max": cfg.dm_t_max}
    if cfg.dm_max_steps:  # (keys of fixed-length runs as before)
        dm.update(max_steps=cfg.dm_max_steps, val_n=cfg.dm_val_n, until=DM_PLATEAU_RULE)
    return {"classifier": clf, "adv-classifier": adv, "diffusion": dm}


#: How a full-mode diffusion model decides it has trained enough (``train_diffusion``'s defaults).
DM_PLATEAU_RULE = "validation DSM loss fell <= 1% over the last 25% of the steps; else x1.5 steps"


def adv_validation_images(cfg: BenchConfig, n: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The last ``n`` (default ``cfg.adv_val_n``) images of the validation split: adversarial
    training's early stopping and the diffusion model's plateau check (``cfg.dm_val_n``) read them
    (the pre-registration of DiffPure reads the first ``cfg.val_n``)."""
    n = cfg.adv_val_n if n is None else n
    x, y = load_images(cfg.dataset, "val")
    if n + cfg.val_n > len(x):
        raise ValueError(f"the last {n} and the first val_n={cfg.val_n} of the {len(x)} validation images overlap")
    return x[-n:], y[-n:]


def adv_selection(cfg: BenchConfig, cache: pathlib.Path) -> dict | None:
    """The early-stopping record of ``cfg``'s adversarially trained network (its validation curve,
    the step kept, whether it was still improving at the last step), or ``None`` without early
    stopping."""
    if not cfg.adv_val_n:
        return None
    x, y = load_images(cfg.dataset, "train", cfg.n_train)
    path = selection_file(cache_folder(cache, "adv-classifier", network_keys(cfg, x, y)["adv-classifier"]) / "run")
    return json.loads(path.read_text()) if path.is_file() else None


def dm_plateau(cfg: BenchConfig, cache: pathlib.Path) -> dict | None:
    """The diffusion model's training verdict (its validation DSM curve, the stages trained, whether
    the loss was still falling at the last one: ``loss_plateau.plateau_file``), or ``None`` for a
    fixed-length run."""
    if not cfg.dm_max_steps:
        return None
    x, y = load_images(cfg.dataset, "train", cfg.n_train)
    path = plateau_file(cache_folder(cache, "diffusion", network_keys(cfg, x, y)["diffusion"]) / "run")
    return json.loads(path.read_text()) if path.is_file() else None


def cache_folder(cache: pathlib.Path, name: str, key: dict) -> pathlib.Path:
    """Where :func:`_cached` keeps network ``name`` trained with ``key``."""
    return cache / f"{name}-{digest(key, length=12)}"


#: The networks :func:`_train_all` trains (``main``'s ``--train`` names some of them).
TRAIN_PARTS = ("classifier", "adversarial", "diffusion")


def _train_all(cfg: BenchConfig, cache: pathlib.Path, progress, parts: tuple[str, ...] = TRAIN_PARTS,
               device: str = "cpu") -> tuple[nn.Module | None, ...]:
    """Train (or load from ``cache``) the clean classifier, its adversarially trained copy and the
    purification model of ``cfg`` on ``device``; ``parts`` names those wanted (the others are
    ``None``, except that ``"adversarial"`` needs the clean classifier it is fine-tuned from)."""
    unknown = set(parts) - set(TRAIN_PARTS)
    if unknown:
        raise ValueError(f"parts must name some of {TRAIN_PARTS}, got {sorted(unknown)}")
    x, y = load_images(cfg.dataset, "train", cfg.n_train)
    keys = network_keys(cfg, x, y)
    clf_key = keys["classifier"]
    tc = {"ema_decay": None, "log_every": max(1, cfg.clf_steps // 4), "seed": 0, "device": device}
    if cfg.lr_schedule != "constant":
        tc["lr_schedule"] = cfg.lr_schedule
    clf = adv = dm = None
    if "classifier" in parts or "adversarial" in parts:
        progress(f"{cfg.dataset}: train classifier")
        clf = _cached(cache, "classifier", clf_key, cfg.clf_steps, lambda ck: train_classifier(
            x, y, TrainConfig(steps=cfg.clf_steps, batch_size=64, lr=cfg.clf_lr, **tc, **ck), width=cfg.clf_width,
            resume=True))
    if "adversarial" in parts:
        progress(f"{cfg.dataset}: adversarial training (PGD, Madry et al.)")

        def build_adv(ck: dict) -> nn.Module:
            init = nets.classifier(cfg.clf_width)
            init.load_state_dict(clf.state_dict())
            val = None
            if cfg.adv_val_n:  # every checkpoint evaluated and kept, the best one returned
                val = adv_validation_images(cfg)
                ck = {**ck, "eval_every": ck["ckpt_every"], "keep_last": -(-cfg.adv_steps // ck["ckpt_every"]) + 1}
            return train_classifier(x, y, TrainConfig(steps=cfg.adv_steps, batch_size=64, lr=1e-3, **tc, **ck),
                                    init=init, adversarial=True, eps=cfg.eps, pgd_steps=cfg.adv_pgd_steps,
                                    eps_ramp=cfg.adv_eps_ramp, resume=True, val=val, val_pgd_steps=cfg.adv_val_pgd)

        adv = _cached(cache, "adv-classifier", keys["adv-classifier"], cfg.adv_steps, build_adv)
    if "diffusion" in parts:
        progress(f"{cfg.dataset}: train diffusion model")
        plateau_kw = {}
        if cfg.dm_max_steps:  # trained until the validation loss stops improving
            plateau_kw = {"val": adv_validation_images(cfg, cfg.dm_val_n)[0], "max_steps": cfg.dm_max_steps}

        def build_dm(ck: dict) -> nn.Module:
            if plateau_kw:
                ck = {**ck, "eval_every": ck["ckpt_every"]}
            return train_diffusion(
                x, TrainConfig(steps=cfg.dm_steps, batch_size=cfg.dm_batch, lr=2e-3, ema_decay=0.99, warmup_steps=20,
                               log_every=max(1, cfg.dm_steps // 4), seed=0, device=device, **ck),
                t_max=cfg.dm_t_max, base=cfg.dm_base, mults=(1, 2, 2), resume=True, **plateau_kw)

        dm = _cached(cache, "diffusion", keys["diffusion"], cfg.dm_steps, build_dm)
    return clf, adv, dm


def _diffusion_training_fields(records: list[dict], verdict: dict | None) -> None:
    """State on every purifier's records how long its diffusion model trained and whether its
    validation denoising loss had stopped improving; one still falling at the step cap fails the
    issue's "trained until its denoising loss stops improving"."""
    if verdict is None:
        return
    drop = verdict["relative_drop"]
    summary = (f"{verdict['last_step']} steps (stages {verdict['stages']}, cap {verdict['max_steps']}); validation "
               f"DSM loss on {verdict['val_n']} images "
               + ("unmeasured over the last quarter" if drop is None else
                  f"fell {100 * drop:.2f}% from step {verdict['from_step']}")
               + (": still improving" if verdict["still_improving"] else ": stopped improving"))
    for r in records:
        if r.get("classifier") is None:  # not a purifier
            continue
        r["diffusion_training"] = {"summary": summary, **verdict}
        if verdict["still_improving"]:
            r["problems"] = [*r["problems"], "the diffusion model's validation loss was still falling at its step cap"]
            r["valid"] = False


def _early_stopping_fields(cfg: BenchConfig, adv_records: list[dict], selection: dict | None) -> None:
    """State the adversarially trained network's early stopping on its two records. Where no
    published strength target applies (:data:`STRENGTH`), the issue's alternative is "trained until
    its validation robust accuracy stops improving": a curve still rising at its last step fails it."""
    if selection is None:
        return
    curve = selection["val_robust"]
    summary = (f"best of {len(curve)} checkpoints on {cfg.adv_val_n} validation images under "
               f"PGD-{cfg.adv_val_pgd}: step {selection['selected_step']} of {selection['last_step']} "
               f"({100 * curve[str(selection['selected_step'])]:.1f}% robust)")
    for r in adv_records:
        r["early_stopping"] = {"summary": summary, **selection}
        if selection["still_improving"] and (cfg.dataset, ADV_TRAINED) not in STRENGTH:
            r["problems"] = [*r["problems"], "adversarial training still improving on validation at its last step"]
            r["valid"] = False

"""The robustness entry of the benchmark suite: DiffPure on MNIST under adaptive attacks.

Methods, all with the same classifier architecture and judged on the same fixed MNIST test
subset at L-inf eps = 0.3:

* ``undefended`` — the CNN trained on clean images;
* ``adv-trained (Madry PGD)`` — the same CNN adversarially trained (quick mode fine-tunes
  the clean model for a few hundred PGD steps);
* ``noise + Tweedie`` — Gaussian noise to ``t*`` and one denoising step of the diffusion model
  (the single-step purification baseline);
* ``polydiff-diffpure ...`` — DiffPure (Nie et al. 2022) with a fast solver, for several ``t*``
  and NFE, and with the paper's Euler–Maruyama at ``dt = 1e-3`` (``paper``).

The attack is adaptive (Lee & Kim 2023): EOT-PGD whose gradients go through the whole
purifier (``gradient="full"``), with ``eot`` draws per step; BPDA (identity backward) is
reported as its own setting. Accuracies carry 95% Wilson intervals (``ci_low``/``ci_high``).
Trained networks are cached under ``out_dir/cache`` keyed by a hash of config and data.
"""
from __future__ import annotations

import hashlib
import json
import pathlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import polydiff.core as pc
import torch
from polydiff.core.training import TrainConfig
from torch import nn

from . import nets
from .attacks import evaluate, make_attack, reseed
from .data import load_mnist
from .purify import PurifiedClassifier, Purifier, tweedie_purifier
from .train import train_classifier, train_diffusion

__all__ = ["CONFIGS", "BenchConfig", "run"]

DOMAIN, TASK = "robustness", "adversarial-purification"


@dataclass(frozen=True)
class BenchConfig:
    """Sizes of one benchmark mode (training budgets, test subset, attack strength)."""

    n_train: int = 10000
    clf_width: int = 8
    clf_steps: int = 500
    clf_lr: float = 1e-2
    adv_steps: int = 200
    adv_pgd_steps: int = 3
    adv_eps_ramp: float = 0.5
    dm_base: int = 8
    dm_steps: int = 200
    dm_batch: int = 32
    dm_t_max: float = 0.5
    n_test: int = 32
    eps: float = 0.3
    attack_steps: int = 10
    eot: int = 2
    seeds: tuple[int, ...] = (0,)
    t_stars: tuple[float, ...] = (0.1, 0.3, 0.5)
    t_main: float = 0.3
    solver: str = "ddpm"
    solver_steps: int = 5
    nfe_sweep: tuple[int, ...] = (2,)
    n_timing: int = 8
    paper_robust: bool = False  # attack the dt=1e-3 Euler-Maruyama purifier (adjoint gradients)
    apgd: bool = False


# "full" is sized for a CPU run of about 45 minutes (the paper trains for days on GPUs): larger
# networks and subset, a 20-step attack with 4 EOT draws, more t* and NFE values.
CONFIGS = {
    "quick": BenchConfig(),  # same t*, solver and steps as "full": same comparison groups
    "full": BenchConfig(n_train=60000, clf_width=16, clf_steps=2000, adv_steps=500, adv_pgd_steps=5,
                        dm_base=16, dm_steps=1200, dm_batch=64, dm_t_max=0.6, n_test=96, attack_steps=20,
                        eot=2, seeds=(0,), t_stars=(0.1, 0.3, 0.5), t_main=0.3, solver="ddpm",
                        solver_steps=5, nfe_sweep=(2, 10), n_timing=16),
}


def _digest(*tensors: torch.Tensor) -> str:
    h = hashlib.sha256()
    for t in tensors:
        h.update(t.contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _cached(cache: pathlib.Path, name: str, key: dict, build: Callable[[], nn.Module]) -> nn.Module:
    """Load ``name`` from ``cache`` if trained with the same ``key``, else build and save it."""
    tag = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    folder = cache / f"{name}-{tag}"
    if (folder / "model.safetensors").is_file():
        net = nets.load(folder)
    else:
        net = build()
        nets.save_net(net.cpu(), folder)
        (folder / "key.json").write_text(json.dumps(key, indent=1, sort_keys=True))
    for p in net.parameters():
        p.requires_grad_(True)
    return net.eval()


def _train_all(cfg: BenchConfig, cache: pathlib.Path, progress) -> tuple[nn.Module, nn.Module, nn.Module]:
    x, y = load_mnist("train", cfg.n_train)
    data = _digest(x, y)
    base = {"n_train": cfg.n_train, "data": data}
    tc = {"ema_decay": None, "log_every": max(1, cfg.clf_steps // 4), "seed": 0}
    clf_key = {**base, "width": cfg.clf_width, "steps": cfg.clf_steps, "lr": cfg.clf_lr}
    progress("train classifier")
    clf = _cached(cache, "classifier", clf_key, lambda: train_classifier(
        x, y, TrainConfig(steps=cfg.clf_steps, batch_size=64, lr=cfg.clf_lr, **tc), width=cfg.clf_width))
    progress("adversarial training (PGD, Madry et al.)")

    def build_adv() -> nn.Module:
        init = nets.classifier(cfg.clf_width)
        init.load_state_dict(clf.state_dict())
        return train_classifier(x, y, TrainConfig(steps=cfg.adv_steps, batch_size=64, lr=1e-3, **tc),
                                init=init, adversarial=True, eps=cfg.eps, pgd_steps=cfg.adv_pgd_steps,
                                eps_ramp=cfg.adv_eps_ramp)

    adv = _cached(cache, "adv-classifier", {**clf_key, "adv_steps": cfg.adv_steps,
                                            "pgd": cfg.adv_pgd_steps, "eps": cfg.eps,
                                            "ramp": cfg.adv_eps_ramp}, build_adv)
    progress("train diffusion model")
    dm_key = {**base, "base": cfg.dm_base, "steps": cfg.dm_steps, "batch": cfg.dm_batch, "t_max": cfg.dm_t_max}
    dm = _cached(cache, "diffusion", dm_key, lambda: train_diffusion(
        x, TrainConfig(steps=cfg.dm_steps, batch_size=cfg.dm_batch, lr=2e-3, ema_decay=0.99,
                       warmup_steps=20, log_every=max(1, cfg.dm_steps // 4), seed=0),
        t_max=cfg.dm_t_max, base=cfg.dm_base, mults=(1, 2, 2)))
    return clf, adv, dm


def run(mode: str, out_dir: pathlib.Path, device: str = "cpu", progress=None) -> list[dict]:
    """Train (or load) the networks, attack every method, return DESIGN.md records."""
    if mode not in CONFIGS:
        raise ValueError(f"mode must be one of {tuple(CONFIGS)}, got {mode!r}")
    cfg = CONFIGS[mode]
    out_dir = pathlib.Path(out_dir)
    (out_dir / "cache").mkdir(parents=True, exist_ok=True)
    say = progress if progress is not None else (lambda s: None)
    clf, adv, dm = (m.to(device) for m in _train_all(cfg, out_dir / "cache", say))
    x, y = load_mnist("test", cfg.n_test)
    x, y = x.to(device), y.to(device)
    dataset = "mnist-test"  # the first n_test images (n in every record)
    proc = pc.VP()
    records: list[dict] = []

    def purified(t_star: float, *, solver: str = cfg.solver, steps: int | None = cfg.solver_steps,
                 gradient: str = "full") -> PurifiedClassifier:
        p = Purifier(dm, proc, t_star=t_star, solver=solver, steps=steps, gradient=gradient,
                     image_shape=(1, 28, 28))
        return PurifiedClassifier(p, clf)

    def attacks(random: bool) -> dict:
        eot = cfg.eot if random else 1
        out = {"eot-pgd": lambda m, s: make_attack("eotpgd", m, eps=cfg.eps, steps=cfg.attack_steps,
                                                   eot_iter=eot, seed=s)}
        if cfg.apgd:
            out["apgd-ce"] = lambda m, s: make_attack("apgd-ce", m, eps=cfg.eps, steps=cfg.attack_steps,
                                                      eot_iter=eot, seed=s)
        return out

    def add(setting: str, method: str, model: nn.Module, random: bool, nfe: int | None) -> dict:
        say(f"{setting}: {method}")
        res = evaluate(model, x, y, attacks(random), cfg.seeds, batch_size=cfg.n_test)
        for metric, acc in (("clean_accuracy", res["clean"]), ("robust_accuracy", res["robust"])):
            records.append({"domain": DOMAIN, "task": TASK, "dataset": dataset, "setting": setting,
                            "method": method, "metric": metric, "value": acc.value, "higher_is_better": True,
                            "nfe": nfe, "seconds": res["seconds"], "n": acc.n,
                            "ci_low": acc.low, "ci_high": acc.high, "attack": attack})
        return res

    # mode-independent labels, so quick and full runs fall into the same comparison groups
    adaptive = f"Linf eps={cfg.eps}, EOT-PGD (full gradients)"
    bpda_set = f"Linf eps={cfg.eps}, EOT-PGD (BPDA)"
    attack = f"EOT-PGD, {cfg.attack_steps} steps, {cfg.eot} draws per step, seeds {list(cfg.seeds)}"
    fast = f"{cfg.solver}-{cfg.solver_steps}"
    for setting in (adaptive, bpda_set):  # deterministic baselines: BPDA == plain PGD for them
        add(setting, "undefended", clf, False, None)
        add(setting, "adv-trained (Madry PGD)", adv, False, None)
    add(adaptive, f"noise + Tweedie t*={cfg.t_main}", PurifiedClassifier(
        tweedie_purifier(dm, proc, t_star=cfg.t_main, image_shape=(1, 28, 28)), clf), True, 1)
    add(bpda_set, f"polydiff-diffpure t*={cfg.t_main} {fast}",
        purified(cfg.t_main, gradient="bpda"), True, cfg.solver_steps)
    vs_t = []
    for t_star in cfg.t_stars:
        res = add(adaptive, f"polydiff-diffpure t*={t_star} {fast}", purified(t_star), True, cfg.solver_steps)
        vs_t.append((t_star, res["robust"].value, res["clean"].value))
    vs_nfe = [(cfg.solver_steps, next(r for t, r, _ in vs_t if t == cfg.t_main))] if cfg.t_main in cfg.t_stars else []
    for steps in cfg.nfe_sweep:
        res = add(adaptive, f"polydiff-diffpure t*={cfg.t_main} {cfg.solver}-{steps}",
                  purified(cfg.t_main, steps=steps), True, steps)
        vs_nfe.append((steps, res["robust"].value))
    paper = purified(cfg.t_main, solver="euler_maruyama", steps=None, gradient="adjoint")
    if cfg.paper_robust:
        add(adaptive, f"polydiff-diffpure t*={cfg.t_main} paper (EM dt=1e-3)", paper, True, paper.purifier.nfe)
    records += _timing(dataset, x[:cfg.n_timing], cfg, paper.purifier, purified(cfg.t_main).purifier, say)
    _plot(out_dir, vs_t, sorted(vs_nfe), cfg)
    return records


def _timing(dataset: str, x: torch.Tensor, cfg: BenchConfig, paper: Purifier, fast: Purifier, say) -> list[dict]:
    """Seconds per purified image: the paper's Euler–Maruyama (dt = 1e-3) vs the fast solver."""
    out = []
    setting = f"purification time per image, t*={cfg.t_main}"
    for method, p in ((f"DiffPure paper solver (EM dt=1e-3, {paper.nfe} NFE)", paper),
                      (f"polydiff-diffpure {fast.solver}-{fast.steps}", fast)):
        say(f"time {method}")
        reseed(p, 0)
        t0 = time.perf_counter()
        with torch.no_grad():
            p.purify(x, gradient="none")
        sec = time.perf_counter() - t0
        out.append({"domain": DOMAIN, "task": TASK, "dataset": dataset, "setting": setting, "method": method,
                    "metric": "seconds_per_image", "value": sec / len(x), "higher_is_better": False,
                    "nfe": p.nfe, "seconds": sec, "n": len(x)})
    return out


def _plot(out_dir: pathlib.Path, vs_t, vs_nfe, cfg: BenchConfig) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - matplotlib is in the extra
        return
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.5))
    ax[0].plot([t for t, _, _ in vs_t], [r for _, r, _ in vs_t], "o-", label="robust")
    ax[0].plot([t for t, _, _ in vs_t], [c for _, _, c in vs_t], "s--", label="clean")
    ax[0].set(xlabel="t*", ylabel="accuracy", title=f"DiffPure vs t* ({cfg.solver}-{cfg.solver_steps})")
    ax[0].legend()
    if vs_nfe:
        ax[1].plot([n for n, _ in vs_nfe], [r for _, r in vs_nfe], "o-")
    ax[1].set(xlabel="purification NFE", ylabel="robust accuracy", title=f"t*={cfg.t_main}")
    fig.tight_layout()
    fig.savefig(out_dir / "robustness_accuracy.png", dpi=120)
    plt.close(fig)

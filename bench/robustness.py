"""The robustness entry of the benchmark suite: DiffPure on MNIST and Fashion-MNIST under adaptive attacks.

Per dataset (MNIST at L-inf eps = 0.3, Fashion-MNIST at L-inf eps = 0.1), methods with the
same classifier architecture, judged on the same fixed test subset (the first ``n_test``
images):

* ``undefended`` — the CNN trained on clean images;
* ``adv-trained (Madry PGD)`` — the same CNN adversarially trained (fine-tuned from the clean
  model with PGD examples, eps ramped up);
* ``noise + Tweedie`` — Gaussian noise to ``t*`` and one denoising step of the diffusion model
  (the single-step purification baseline);
* ``polydiff-diffpure (pre-registered on validation images)`` — DiffPure (Nie et al. 2022)
  with a fast solver: ``t*`` and solver chosen on validation images under a shorter attack and
  written to the cache before the test attack (:func:`_preregistered`,
  ``bench/robustness_select.py``); with ``val_n = 0``, a t* and NFE sweep on the test images
  instead, marked ``sweep`` and never ranked.

Each purifier's robust record is paired with the adversarially trained baseline on the same
images (``minus_baseline``, ``bench/robustness_compare.py``); the deterministic baselines also
get PGD-40 and AutoAttack "standard" readings (:func:`strength_readings`); every attacked
record carries ``valid``/``problems`` (docs/bench.md, "The robustness bench checks itself").

The attack is adaptive (Lee & Kim 2023) and the strongest we have: per example, the worst case
of APGD-CE and APGD-DLR (Croce & Hein 2020) then EOT-PGD, each with gradients through the whole
purifier (``gradient="full"``, which equals the adjoint's gradient to round-off) and ``eot``
draws per step, run as a cascade (each attack only on the examples the earlier ones left
correct, as AutoAttack does; :func:`attack_table`). The draws of one step run as one stacked
batch (``EOT(..., batched=True)``), which is what makes 100-step attacks affordable. On 128
MNIST images the former bench attack (EOT-PGD 10 x 2) read 32% where this worst case reads
16% (``bench/results/supplementary/robustness-attacks-*.json``). BPDA (identity backward) is
a sanity group only (:func:`sanity_setting`): the pre-registered purifier under BPDA beside its
full-gradient reading, paired (``minus_full_gradient``), to show how much weaker it is. Each record carries the running accuracy
after each attack (``robust_after_attack``). The deterministic baselines (undefended,
adv-trained) also face Square (5,000 queries in full mode, score-based: no gradient to mask), as
in AutoAttack "standard"; on the MNIST adv-trained network it finds examples the gradient
attacks miss. Accuracies carry 95% Wilson intervals
(``ci_low``/``ci_high``). Trained networks are cached under ``out_dir/cache`` keyed by a hash
of config and data.

The paper-default purifier — DiffPure's reverse VP-SDE from ``t* = 0.1`` with Euler–Maruyama
at ``dt = 1e-3`` (100 steps; the official code's ``sdeint(method="euler", dt=1e-3)``) — is
attacked in its own setting, beside the <= 20 NFE purifiers, on the first ``paper_n`` test
images: that group is the issue's target comparison. Each fast solver's robust-accuracy record
there carries its difference from the paper solver on the same images (``minus_paper``), a
paired 95% interval (``minus_paper_ci``, Agresti–Min), the discordant counts (``fast_only``,
``paper_only``) and the per-example outcomes (``correct``). Under the full attack the paper
solver costs about 2 s per MNIST image on one H100 (about a minute on 2 CPU threads, estimated
from the cost of one gradient), so the
full-mode suite runs only its timing (``paper_n = 0``) and the comparison is
``scripts/robustness_paper_comparison.py`` (parts on separate machines, then ``--merge``),
committed under ``bench/results/supplementary/``.

Full-mode sizes. The attacks at bbf3f6b (60,000 training images, width-16 networks, 96/64 test
images, the t*/NFE sweep on the test images) took 108 minutes on 2 CPU threads with the networks
cached, and training them 19 minutes. The recipes now aim at the strength targets and have not
been trained. Their training cost, timed on one CPU thread of the 2-core machine (batch 64, the
other core busy; ``nets.classifier(64)`` has 373k parameters, the base-16 U-Net 267k): a clean
classifier step 0.22 s, a PGD-10 adversarial step 1.8 s, a PGD-40 step 6.7 s, a diffusion step
0.39 s, so about 30 min per classifier, 52 min per diffusion model, 3.9 h for Fashion-MNIST's
PGD-10 and 18.6 h for MNIST's PGD-40 adversarial training: sized for a GPU
(``--device cuda``). Each network checkpoints into its cache folder every 5% of its steps and a
restarted run resumes there (:func:`~polydiff.bench.robustness_networks._cached`), so the CPU
training can also be spread over runs, and trained apart from the attacks (:func:`main`: ``python -m polydiff.bench.robustness --full
--train classifier,diffusion --out DIR``, then ``polydiff bench --full --out DIR``):

* MNIST: the first 50,000 training images (the last 10,000 are the validation split);
  classifier width 64, 8,000 steps at batch 64 with a cosine lr (~10 epochs); adversarial
  fine-tuning with PGD-40 for 10,000 steps (~13 epochs, eps ramped over the first 20%);
  diffusion model 8,000 steps or more (below); 256 test images; APGD-CE 25, APGD-DLR 25 and EOT-PGD 100 steps,
  4 EOT draws per step (plateau check up to 200 x 8); t* in {0.1, 0.3, 0.5} x DDPM
  {5, 10, 20} steps chosen on 256 validation images under EOT-PGD 25 x 4 draws after APGD 10.
* Fashion-MNIST at eps 0.1: the same sizes, adversarial training with PGD-10 for 8,000 steps;
  t* in {0.05, 0.1, 0.3}.

Early stopping (full mode, ``adv_val_n``): the adversarial training evaluates every 5% checkpoint
on the last 512 validation images under PGD-20 at the full radius and keeps the best one (Rice et
al. 2020: robust overfitting), about 20 PGD-20 passes over 512 images in all (minutes beside the
hours of training). The adversarially trained records carry the curve and the step kept
(``early_stopping``); Fashion-MNIST, which has no published target here, fails its check while
that curve still rises at its last step (the issue's "trained until its validation robust accuracy
stops improving"). The classifier's step count stays fixed.

Diffusion model (full mode, ``dm_max_steps``): trained until its denoising loss stops improving
(the issue's criterion): every 5% of ``dm_steps`` the EMA weights' DSM loss on the last 512
validation images at fixed times and noise is logged, and after ``dm_steps`` the run goes on in
stages x1.5 (8,000, 12,000, 18,000, 27,200, 32,000 steps) while that loss still fell by more than
1% over the last quarter of the steps (:mod:`polydiff.robustness.loss_plateau`). The purifiers'
records carry the verdict (``diffusion_training``) and fail their check when the cap is reached
with the loss still falling.

Evaluation cost, projected (not yet measured whole): the shipped MNIST pipeline's card attack
(APGD-CE 10 + APGD-DLR 10 + EOT-PGD 20 steps x 2 draws through DDPM-10 on 256 images; 763 s on
one thread beside two training runs, about 500 s alone) puts one image x attack step x EOT draw
x network evaluation at about 4 ms of one CPU thread. Per dataset that makes the validation
selection (9 candidates, 256 images) about 3 h, the pre-registered row's 100-step attack about
1 h and its plateau check at 200 x 8 about 4 h more, the deterministic baselines' Square,
PGD-40 and AutoAttack readings under an hour: about 10 h of one thread per dataset. The paper
solver's 100 NFE cost about 4 min per image under the same attack, so its comparison runs apart
(``scripts/robustness_paper_comparison.py``, on as many images as a machine allows). Each
dataset runs as a part (:func:`main` ``--parts``), and every 32-image piece of every attack is
kept as it finishes (:mod:`~polydiff.bench.robustness_cache`), so the hours can be spread over
interrupted runs.

Memory: full backpropagation keeps one network graph per solver step and EOT draw, so the
100-step paper solver is attacked ``paper_batch`` images (times the draws) at a time: 64 x 4
draws took 61 GB on the H100; 16 x 4 fits a 24 GB CPU machine. ``paper_gradient =
"checkpoint"`` keeps one step's graph instead (the same gradient; each step's forward twice).
"""
from __future__ import annotations

import pathlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import polydiff.core as pc
import torch
from polydiff.bench.common import (
    digest,
    prepare_entry,
    record,
    training_checks,
)
from polydiff.bench.robustness_attack import (
    ADAPTIVE,
    DATASET_LABELS,
    DOMAIN,
    PREREGISTERED,
    TASK,
    attack_table,
)
from polydiff.bench.robustness_cache import chunked_evaluate, model_description
from polydiff.bench.robustness_compare import (
    ADV_TRAINED,
    STRENGTH,
    UNDEFENDED,
    outcome_string,
    outcomes,
    pair_with_baseline,
    pair_with_full_gradient,
    pair_with_paper,
    propagate_invalidity,
    self_check,
)
from polydiff.bench.robustness_networks import (  # noqa: F401  (re-exported: scripts and tests read them here)
    TRAIN_PARTS,
    _cached,
    _diffusion_training_fields,
    _digest,
    _early_stopping_fields,
    _train_all,
    adv_selection,
    adv_validation_images,
    cache_folder,
    dm_plateau,
    network_keys,
)
from polydiff.bench.robustness_select import preregister
from polydiff.bench.robustness_shipped import PURIFICATION_MODEL, shipped_records
from polydiff.robustness.attacks import evaluate, make_attack, reseed
from polydiff.robustness.checks import plateau
from polydiff.robustness.data import TRAIN_WITHOUT_VAL, load_images
from polydiff.robustness.metrics import accuracy
from polydiff.robustness.purify import PurifiedClassifier, Purifier, tweedie_purifier
from torch import nn

__all__ = ["CONFIGS", "DATASET_LABELS", "PARTS", "STRENGTH", "BenchConfig", "attack_table", "outcomes", "pair_with_baseline",
           "pair_with_paper", "paper_setting", "run", "sanity_setting", "self_check", "strength_readings"]

PAPER_T_STAR, PAPER_DT = 0.1, 1e-3  # DiffPure's default purification (Nie et al. 2022, sec. 5)
SWEEP_NOTE = "one of a {} sweep attacked on the same test images (its best would be a best-of-k selection)"
BPDA_NOTE = ("BPDA (identity backward) is a weaker attack than full gradients: shown for how much weaker, "
             "not as a robustness result")
_PAIRED_FIELDS = ("baseline", "minus_baseline", "minus_baseline_ci", "method_only", "baseline_only")


@dataclass(frozen=True)
class BenchConfig:
    """Sizes of one dataset's run in one mode (training budgets, test subset, attack strength)."""

    dataset: str = "mnist"
    n_train: int = 10000
    clf_width: int = 8
    clf_steps: int = 500
    clf_lr: float = 1e-2
    lr_schedule: str = "constant"  # classifier and adversarial training ("cosine": to 0 by the last step)
    adv_steps: int = 200
    adv_pgd_steps: int = 3
    adv_eps_ramp: float = 0.5
    # early stopping of adversarial training (Rice et al. 2020): PGD-adv_val_pgd robust accuracy
    # of the last adv_val_n validation images at every 5% checkpoint, the best one kept (0: off,
    # the last weights)
    adv_val_n: int = 0
    adv_val_pgd: int = 20
    dm_base: int = 8
    dm_steps: int = 200
    dm_batch: int = 32
    dm_t_max: float = 0.5
    # trained until the validation DSM loss on the last dm_val_n validation images stops improving:
    # dm_steps, then x1.5 at a time up to dm_max_steps (0: dm_steps, no check; DM_PLATEAU_RULE)
    dm_max_steps: int = 0
    dm_val_n: int = 512
    n_test: int = 32
    eps: float = 0.3
    attack_steps: int = 10  # EOT-PGD steps
    eot: int = 2  # EOT draws per attack step (random defences)
    apgd_steps: int = 5  # APGD-CE and APGD-DLR steps before EOT-PGD (0: EOT-PGD alone)
    square_queries: int = 500  # Square after them on the deterministic baselines (0: none)
    seeds: tuple[int, ...] = (0,)
    t_stars: tuple[float, ...] = (0.1, 0.3, 0.5)
    t_main: float = 0.1
    solver: str = "ddpm"
    solver_steps: int = 5
    nfe_sweep: tuple[int, ...] = (2,)
    n_timing: int = 8
    paper_n: int = 0  # images for the attacked paper-solver comparison (0: timing only)
    paper_steps: int = 10
    paper_eot: int = 2
    paper_apgd_steps: int = 5
    paper_fast: tuple[int, ...] = (5, 20)  # fast-solver steps compared with it (<= 20 NFE)
    paper_batch: int = 16  # images per attack call there (bounds the 100-step graph's memory)
    paper_fast_batch: int = 64  # the same for the fast solvers
    paper_skip: int = 0  # test images skipped before the group's first (parts on later images)
    paper_gradient: str = "full"  # "checkpoint": the same gradient, one step graph in memory
    # plateau check on the pre-registered DiffPure row and the adversarially trained baseline:
    # steps and draws doubled until robust accuracy moves <= 2 points, up to these (0: off)
    plateau_max_steps: int = 0
    plateau_max_draws: int = 1
    # images per kept piece of an attack (bench/robustness_cache.py: an interrupted run loses at
    # most one piece); 0: all of a group's images at once
    attack_chunk: int = 0
    # PGD-40 and AutoAttack "standard" readings of the deterministic baselines (strength_readings)
    strength_readings: bool = True
    # pre-registration (bench/robustness_select.py): t* in t_stars and (solver, steps) in
    # val_solvers chosen on val_n validation images under attack_table(eps, *val_attack) (EOT-PGD
    # steps, draws, APGD steps) before the test attack; the test table shows only the choice.
    # 0: no selection (t_main and solver_steps, with the t* and NFE sweeps marked as sweeps)
    val_n: int = 32
    val_solvers: tuple[tuple[str, int], ...] = (("ddpm", 2), ("ddpm", 5))
    val_attack: tuple[int, int, int] = (5, 2, 3)


# "full": see the module docstring for sizes and cost.
_STRONG = {"attack_steps": 100, "eot": 4, "apgd_steps": 25, "square_queries": 5000,
           "paper_steps": 100, "paper_eot": 4, "paper_apgd_steps": 25, "paper_fast": (5, 10, 20),
           "plateau_max_steps": 200, "plateau_max_draws": 8,
           "val_n": 256, "val_solvers": (("ddpm", 5), ("ddpm", 10), ("ddpm", 20)), "val_attack": (25, 4, 10),
           "adv_val_n": 512, "attack_chunk": 32}
# Recipes toward the strength targets (issue 30; STRENGTH), not yet trained: width 64 (~0.4M
# parameters; Madry et al.'s MNIST CNN has ~3M), ~10 epochs of the 50,000 training images with a
# cosine lr; adversarial training with Madry et al.'s PGD-40 for ~13 epochs; the diffusion model
# for ~10 epochs; 256 test images (the minimum for a headline number).
_MNIST_FULL = BenchConfig(n_train=TRAIN_WITHOUT_VAL, clf_width=64, clf_steps=8000, lr_schedule="cosine",
                          adv_steps=10000, adv_pgd_steps=40, adv_eps_ramp=0.2,
                          dm_base=16, dm_steps=8000, dm_max_steps=32000, dm_batch=64, dm_t_max=0.6, n_test=256,
                          t_stars=(0.1, 0.3, 0.5), nfe_sweep=(2, 10), n_timing=16, **_STRONG)
_FASHION_FULL = BenchConfig(dataset="fashion", n_train=TRAIN_WITHOUT_VAL, clf_width=64, clf_steps=8000,
                            clf_lr=1e-2, lr_schedule="cosine", adv_steps=8000, adv_pgd_steps=10,
                            adv_eps_ramp=0.2, dm_base=16, dm_steps=8000, dm_max_steps=32000, dm_batch=64,
                            dm_t_max=0.4, n_test=256, eps=0.1, t_stars=(0.05, 0.1, 0.3), nfe_sweep=(2, 10),
                            n_timing=16, **_STRONG)
CONFIGS: dict[str, tuple[BenchConfig, ...]] = {
    "quick": (BenchConfig(),),  # same labels as "full" for MNIST: same comparison groups
    "full": (_MNIST_FULL, _FASHION_FULL),
}


#: Quick mode's ``shipped-pipelines`` records (:mod:`~polydiff.bench.robustness_shipped`): the
#: shipped DiffPure pipeline at its defaults and its classifier undefended on the first 32 test
#: images, under quick mode's attack (EOT-PGD steps, EOT draws, APGD steps).
SHIPPED = {"quick": {"name": PURIFICATION_MODEL, "n_test": 32, "attack": (10, 2, 5)}}


#: What ``parts=`` may name: a dataset's whole group, or the shipped pipelines' records.
PARTS = ("mnist", "fashion", "shipped")


def run(mode: str, out_dir: pathlib.Path, device: str = "cpu", progress=None,
        parts: tuple[str, ...] | list[str] | None = None) -> list[dict]:
    """Train (or load) the networks, attack every method on every dataset, return docs/design.md records.

    ``parts`` (default all of :data:`PARTS`) runs some of them alone (:func:`main`). Finished attacks are kept under ``out_dir/attacks``
    (:mod:`~polydiff.bench.robustness_cache`): an interrupted run resumes at the first attack it
    had not finished. One torch thread on the CPU (:func:`~polydiff.bench.common.prepare_entry`),
    as the other entries: a quick suite that ran it with two threads beside other jobs took
    6,112 s for it; alone on one thread it takes 78 s."""
    wanted = PARTS if parts is None else tuple(parts)
    if not wanted or set(wanted) - set(PARTS):
        raise ValueError(f"parts must name some of {PARTS}, got {parts!r}")
    out_dir, say = prepare_entry(mode, CONFIGS, out_dir, device, progress)
    (out_dir / "cache").mkdir(parents=True, exist_ok=True)
    records: list[dict] = []
    for cfg in CONFIGS[mode]:
        if cfg.dataset in wanted:
            records += _run_dataset(cfg, out_dir, device, say)
    if mode in SHIPPED and "shipped" in wanted:
        records += shipped_records(SHIPPED[mode], say)
    return training_checks(records, mode)  # quick mode: its minutes-long networks check training


class _Recorder:
    """Attacks one model on the fixed subset and appends its clean/robust accuracy records."""

    def __init__(self, cfg: BenchConfig, x: torch.Tensor, y: torch.Tensor, records: list[dict], say,
                 networks: str = "", attacks: pathlib.Path | None = None):
        self.cfg, self.x, self.y, self.records, self.say = cfg, x, y, records, say
        self.networks = networks  # digest of the trained weights: ties records (and parts of one comparison) to them
        self.attacks = attacks  # finished attack results (bench/robustness_cache.py), None: not kept

    def add(self, setting: str, method: str, model: nn.Module, random: bool, nfe: int | None, *,
            paper: bool = False, batch: int | None = None, converge: bool = False,
            fields: dict | None = None) -> dict:
        """Attack ``model`` and append its two records; ``converge`` runs the plateau check
        (:func:`~polydiff.robustness.checks.plateau`) and records the last budget's result;
        ``fields`` go on both records (``sweep`` / ``sanity``: why they must not be ranked,
        :func:`~polydiff.bench.schema.rankable`; ``preregistered``: how the configuration was chosen)."""
        cfg = self.cfg
        steps, eot, apgd = ((cfg.paper_steps, cfg.paper_eot, cfg.paper_apgd_steps) if paper
                            else (cfg.attack_steps, cfg.eot, cfg.apgd_steps))
        n = cfg.paper_n if paper else cfg.n_test
        self.say(f"{cfg.dataset} · {setting}: {method}")
        runs: dict[tuple[int, int], tuple[dict, str]] = {}

        def attack(s: int, d: int) -> float:  # APGD's steps grow with EOT-PGD's
            table, label = attack_table(cfg.eps, s, d, apgd * (s // steps),
                                        0 if random or paper else cfg.square_queries)
            key = {"what": "attack", "setting": setting, "method": method, "attack": label, "eps": cfg.eps,
                   "batch": batch or n, **self._about(model, first=cfg.paper_skip if paper else 0, n=n)}
            runs[(s, d)] = (self._evaluate(key, lambda i, j: evaluate(
                model, self.x[i:j], self.y[i:j], table, cfg.seeds, batch_size=min(batch or n, j - i),
                cascade=True), n), label)
            return runs[(s, d)][0]["robust"].value

        draws = eot if random else 1
        check = None
        if converge and cfg.plateau_max_steps:
            check = plateau(attack, steps, draws, max_steps=max(steps, cfg.plateau_max_steps),
                            max_draws=max(draws, cfg.plateau_max_draws))
            res, label = runs[(check.steps, check.draws)]
            res = dict(res, seconds=sum(r["seconds"] for r, _ in runs.values()))
        else:
            attack(steps, draws)
            res, label = runs[(steps, draws)]
        after = {name: acc.value for name, acc in res["per_attack"].items()}
        readings = None
        if not random and not paper and cfg.strength_readings:  # the deterministic baselines
            key = {"what": "strength", "method": method, "attack": STRENGTH_LABEL, "eps": cfg.eps,
                   "batch": batch or n, **self._about(model, first=0, n=n)}
            strength = self._evaluate(key, lambda i, j: strength_readings(
                model, self.x[i:j], self.y[i:j], cfg.eps, seeds=cfg.seeds, batch_size=min(batch or n, j - i)), n)
            readings = {name: acc for name, acc in strength["per_attack"].items()}
            correct = res["correct"] & strength["correct"]  # per-example worst case over every attack
            res = dict(res, correct=correct, robust=accuracy(correct), seconds=res["seconds"] + strength["seconds"])
            after[" + ".join(readings)] = res["robust"].value
            label += f", then {STRENGTH_LABEL} on every clean-correct image; worst case over all"
        label += f"; seeds {list(cfg.seeds)}"
        for metric, acc in (("clean_accuracy", res["clean"]), ("robust_accuracy", res["robust"])):
            self.records.append(record(
                DOMAIN, TASK, DATASET_LABELS[cfg.dataset], setting, method, metric, acc.value, True, nfe,
                res["seconds"], acc.n, ci_low=acc.low, ci_high=acc.high, attack=label,
                networks=self.networks))
        self.records[-1]["robust_after_attack"] = after
        if readings is not None:
            self.records[-1].update(strength_readings={k: a.value for k, a in readings.items()},
                                    strength_readings_ci={k: [a.low, a.high] for k, a in readings.items()})
        problems = self_check(cfg.dataset, method, res["clean"].value, res["robust"].value, after,
                              {k: a.value for k, a in (readings or {}).items()})
        if check is not None:
            self.records[-1].update(plateau=check.describe(), attack_converged=check.converged)
            if not check.converged:
                problems.append(f"attack not converged within the budget: {check.describe()}")
        for r in self.records[-2:]:  # the bench checks itself: a failed check marks both readings
            r.update(valid=not problems, problems=problems)
        # per-example outcomes, so two methods attacked on the same images can be paired (and
        # runs of single solvers joined) later
        for r, ok in zip(self.records[-2:], (res["clean_correct"], res["correct"]), strict=True):
            r["correct"] = outcome_string(ok)
            if random:  # every random model here is a purifier in front of the undefended classifier
                r["classifier"] = UNDEFENDED
            r.update(fields or {})
            if paper:
                r.update(first_image=cfg.paper_skip, gradient=cfg.paper_gradient)
        return res

    def _about(self, model: nn.Module, *, first: int, n: int) -> dict:
        """The part of an attack result's cache key that names the networks, images and model."""
        return {"networks": self.networks, "dataset": self.cfg.dataset, "images": ["test", first, n],
                "seeds": list(self.cfg.seeds), "model": model_description(model)}

    def _evaluate(self, key: dict, run: Callable[[int, int], dict], n: int) -> dict:
        """``run(i, j)`` on images ``0:n`` in chunks of ``cfg.attack_chunk``, each kept as it finishes."""
        return chunked_evaluate(self.attacks, key, run, n, self.cfg.attack_chunk, self.x.device)


STRENGTH_LABEL = ("PGD-40 (40 steps of 2.5 eps / 40, random start; Madry et al. 2018) and AutoAttack "
                  "standard (torchattacks: APGD-CE, APGD-T, FAB-T, Square 5000; Croce & Hein 2020), each alone")


def strength_readings(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, *,
                      seeds: tuple[int, ...] = (0,), batch_size: int = 64, n_classes: int = 10) -> dict:
    """A deterministic baseline's strength as published results state it (issue 30): robust
    accuracy under PGD-40 and under torchattacks' AutoAttack "standard", each run alone on every
    clean-correct image (:data:`STRENGTH_LABEL`). Returns :func:`~polydiff.robustness.attacks.evaluate`'s
    result: ``per_attack["PGD-40"]`` and ``per_attack["AutoAttack-standard"]`` are the two
    readings, ``correct`` the examples both leave correct."""
    table = {"PGD-40": lambda m, s: make_attack("pgd", m, eps=eps, steps=40, seed=s),
             "AutoAttack-standard": lambda m, s: make_attack("autoattack-standard", m, eps=eps, seed=s,
                                                             n_classes=n_classes)}
    return evaluate(model, x, y, table, seeds, batch_size=batch_size, cascade=False)


def _run_dataset(cfg: BenchConfig, out_dir: pathlib.Path, device: str, say, *,
                 paper_only: bool = False, solvers: tuple[str, ...] | None = None) -> list[dict]:
    """One dataset's records; ``paper_only`` runs just the paper-solver comparison (``solvers``
    of it, see :func:`_paper_comparison`) and timing."""
    if paper_only and not cfg.paper_n:
        raise ValueError("paper_only needs cfg.paper_n > 0 (images in the paper-solver comparison)")
    if cfg.paper_skip and not paper_only:
        raise ValueError(f"paper_skip={cfg.paper_skip} only goes with paper_only (the other groups use the "
                         "first n_test images)")
    if cfg.val_n and cfg.n_train > TRAIN_WITHOUT_VAL:
        raise ValueError(f"n_train={cfg.n_train} would train on the validation images (val_n={cfg.val_n}): "
                         f"use n_train <= {TRAIN_WITHOUT_VAL} or val_n=0")
    if not paper_only and not cfg.val_n and cfg.t_main not in cfg.t_stars:
        raise ValueError(f"t_main={cfg.t_main} must be one of t_stars={cfg.t_stars} (the pre-registered row)")
    if cfg.paper_gradient not in ("full", "checkpoint"):
        raise ValueError(f"paper_gradient must be 'full' or 'checkpoint', got {cfg.paper_gradient!r}")
    nets3 = _train_all(cfg, out_dir / "cache", say, device=device)
    networks = _digest(*(v for m in nets3 for v in m.state_dict().values()))
    clf, adv, dm = (m.to(device) for m in nets3)
    # each group slices its first n (the paper group its first paper_n after paper_skip)
    x, y = load_images(cfg.dataset, "test", max(cfg.n_test, cfg.paper_skip + cfg.paper_n))
    if paper_only:
        x, y = x[cfg.paper_skip:], y[cfg.paper_skip:]
    x, y = x.to(device), y.to(device)
    proc = pc.VP()
    records: list[dict] = []
    rec = _Recorder(cfg, x, y, records, say, networks, attacks=out_dir / "attacks")

    def purified(t_star: float, *, solver: str = cfg.solver, steps: int | None = cfg.solver_steps,
                 gradient: str = "full") -> PurifiedClassifier:
        p = Purifier(dm, proc, t_star=t_star, solver=solver, steps=steps, gradient=gradient, dt=PAPER_DT,
                     image_shape=(1, 28, 28))
        return PurifiedClassifier(p, clf)

    paper = purified(PAPER_T_STAR, solver="euler_maruyama", steps=None, gradient=cfg.paper_gradient)
    if paper_only:
        _paper_comparison(cfg, rec, paper, purified, solvers)
        _diffusion_training_fields(records, dm_plateau(cfg, out_dir / "cache"))
        propagate_invalidity(records)
        return records + _timing(cfg, x[:cfg.n_timing], paper.purifier, purified(PAPER_T_STAR).purifier, say)
    # mode-independent labels, so quick and full runs fall into the same comparison groups
    adaptive = f"Linf eps={cfg.eps}, {ADAPTIVE}"
    rec.add(adaptive, UNDEFENDED, clf, False, None)
    rec.add(adaptive, ADV_TRAINED, adv, False, None, converge=True)
    _early_stopping_fields(cfg, records[-2:], adv_selection(cfg, out_dir / "cache"))
    if cfg.val_n:  # chosen on validation images before any test attack: only that configuration here
        choice = _preregistered(cfg, out_dir / "cache", networks, purified, device, say)
        t_main, solver, steps = choice["t_star"], choice["solver"], choice["steps"]
        method = PREREGISTERED
        picked = [c for c in choice["candidates"] if (c["solver"], c["steps"]) == (solver, steps)]
        vs_t = [(c["t_star"], c["robust"], c["clean"]) for c in picked]
        vs_nfe = [(c["steps"], c["robust"]) for c in choice["candidates"]
                  if (c["t_star"], c["solver"]) == (t_main, solver)]
    else:
        t_main, solver, steps = cfg.t_main, cfg.solver, cfg.solver_steps
        method = f"polydiff-diffpure t*={t_main} {solver}-{steps}"
    rec.add(adaptive, f"noise + Tweedie t*={t_main}", PurifiedClassifier(
        tweedie_purifier(dm, proc, t_star=t_main, image_shape=(1, 28, 28)), clf), True, 1)
    if cfg.val_n:
        note = (f"t*={t_main}, {solver}-{steps}: the best of {len(choice['candidates'])} configurations on "
                f"{cfg.val_n} validation images, fixed before the test attack ({choice['written']})")
        rec.add(adaptive, method, purified(t_main, solver=solver, steps=steps), True, steps, converge=True,
                fields={"preregistered": note})
    else:
        vs_t, vs_nfe = _sweeps(cfg, rec, adaptive, purified)
    pair_with_baseline(records)  # every purifier against the adversarially trained classifier, same images
    _bpda_sanity(cfg, rec, purified(t_main, solver=solver, steps=steps, gradient="bpda"), method, adaptive)
    paper_pt = None
    if cfg.paper_n:
        # the paper's solver at the pre-registered t* (without pre-registration: DiffPure's t* = 0.1)
        t_paper = t_main if cfg.val_n else PAPER_T_STAR
        paper_pt = _paper_comparison(cfg, rec, paper if t_paper == PAPER_T_STAR else purified(
            t_paper, solver="euler_maruyama", steps=None, gradient=cfg.paper_gradient), purified, t_star=t_paper)
    _diffusion_training_fields(records, dm_plateau(cfg, out_dir / "cache"))
    propagate_invalidity(records)  # a comparison anchored on an invalid baseline is invalid too
    records += _timing(cfg, x[:cfg.n_timing], paper.purifier, purified(PAPER_T_STAR).purifier, say)
    where = f"{cfg.val_n} validation images" if cfg.val_n else f"first {cfg.n_test} test images"
    _plot(out_dir / f"robustness_accuracy_{cfg.dataset}.png", vs_t, sorted(vs_nfe), paper_pt, cfg,
          (t_main, solver, steps, where))
    return records


def _sweeps(cfg: BenchConfig, rec: _Recorder, adaptive: str, purified) -> tuple[list, list]:
    """Without pre-registration: the t* sweep and the NFE sweep on the test images, every point
    but ``t_main`` with ``solver_steps`` marked as a sweep (never ranked)."""
    fast = f"{cfg.solver}-{cfg.solver_steps}"
    vs_t = []
    for t_star in cfg.t_stars:
        main = t_star == cfg.t_main
        res = rec.add(adaptive, f"polydiff-diffpure t*={t_star} {fast}", purified(t_star), True, cfg.solver_steps,
                      converge=main, fields=None if main else {"sweep": SWEEP_NOTE.format("t*")})
        vs_t.append((t_star, res["robust"].value, res["clean"].value))
    vs_nfe = [(cfg.solver_steps, r) for t, r, _ in vs_t if t == cfg.t_main]
    for steps in cfg.nfe_sweep:
        res = rec.add(adaptive, f"polydiff-diffpure t*={cfg.t_main} {cfg.solver}-{steps}",
                      purified(cfg.t_main, steps=steps), True, steps, fields={"sweep": SWEEP_NOTE.format("NFE")})
        vs_nfe.append((steps, res["robust"].value))
    return vs_t, vs_nfe


def _preregistered(cfg: BenchConfig, cache: pathlib.Path, networks: str, purified, device: str, say) -> dict:
    """The configuration chosen on the validation split (:func:`~polydiff.bench.robustness_select.preregister`),
    written to ``cache/preregistered-<digest>.json`` before the test attack, read back by later runs."""
    xv, yv = load_images(cfg.dataset, "val", cfg.val_n)
    xv, yv = xv.to(device), yv.to(device)
    table, label = attack_table(cfg.eps, *cfg.val_attack)
    candidates = [(float(t), s, k) for t in cfg.t_stars for s, k in cfg.val_solvers]
    about = {"networks": networks, "dataset": cfg.dataset, "val_images": cfg.val_n, "attack": label,
             "seeds": list(cfg.seeds), "candidates": candidates}

    def val_accuracy(t_star: float, solver: str, steps: int) -> tuple[float, float]:
        say(f"{cfg.dataset} · validation: t*={t_star} {solver}-{steps}")
        model = purified(t_star, solver=solver, steps=steps)
        key = {"what": "validation", **{k: v for k, v in about.items() if k != "candidates"}, "eps": cfg.eps,
               "model": model_description(model)}  # each candidate kept as it finishes
        res = chunked_evaluate(cache.parent / "attacks", key, lambda i, j: evaluate(
            model, xv[i:j], yv[i:j], table, cfg.seeds, batch_size=j - i, cascade=True), len(xv),
            cfg.attack_chunk, device)
        return res["clean"].value, res["robust"].value

    return preregister(cache / f"preregistered-{digest(about, length=12)}.json", candidates, val_accuracy, about)


def sanity_setting(eps: float) -> str:
    """The setting of the BPDA sanity group (a weaker attack, reported only beside the full one)."""
    return f"Linf eps={eps}, sanity: BPDA + EOT (weaker attack)"


def _bpda_sanity(cfg: BenchConfig, rec: _Recorder, bpda_model: PurifiedClassifier, method: str,
                 adaptive: str) -> None:
    """The sanity group: the pre-registered purifier attacked through BPDA (identity backward;
    Athalye et al. 2018) beside its full-gradient reading from ``adaptive`` (the same records,
    copied), paired on the same images: the published pattern is that BPDA reads higher."""
    setting = sanity_setting(cfg.eps)
    full = [r for r in rec.records if r["setting"] == adaptive and r["method"] == method]
    if len(full) != 2:
        raise ValueError(f"no pre-registered row {method!r} in {adaptive!r} to compare the BPDA reading with")
    rec.add(setting, f"{method} (BPDA gradient)", bpda_model, True, bpda_model.purifier.steps,
            fields={"sanity": BPDA_NOTE})
    bpda = rec.records[-1]  # its robust-accuracy record
    copies = [{**{k: v for k, v in r.items() if k not in _PAIRED_FIELDS}, "setting": setting,
               "method": f"{method} (full gradient)", "sanity": f"the same records as in {adaptive!r}"}
              for r in full]
    rec.records += copies
    pair_with_full_gradient(rec.records, bpda, copies[1])


def _paper_comparison(cfg: BenchConfig, rec: _Recorder, paper: PurifiedClassifier,
                      purified: Callable[..., PurifiedClassifier],
                      solvers: tuple[str, ...] | None = None,
                      t_star: float = PAPER_T_STAR) -> tuple[int, float] | None:
    """The paper's solver (``paper``: Euler–Maruyama, dt = 1e-3) and the <= 20 NFE ones at the
    same ``t_star`` (the pre-registered one, or DiffPure's 0.1), same images and same attack.

    ``solvers`` picks a part of the group ("paper" and/or fast-solver step counts as strings,
    default all): runs of single solvers on separate machines are paired afterwards by
    :func:`pair_with_paper` from the per-example outcomes each record carries."""
    solvers = solvers if solvers is not None else ("paper", *(str(k) for k in cfg.paper_fast))
    unknown = set(solvers) - {"paper", *(str(k) for k in cfg.paper_fast)}
    if unknown or not solvers:
        raise ValueError(f"solvers must name 'paper' and/or steps in {cfg.paper_fast}, got {solvers!r}")
    setting = paper_setting(cfg.eps, t_star)
    nfe, point = paper.purifier.steps, None
    grad = cfg.paper_gradient
    if "paper" in solvers:
        res = rec.add(setting, f"DiffPure paper solver (EM dt={PAPER_DT:g}, {nfe} NFE)", paper, True, nfe,
                      paper=True, batch=cfg.paper_batch)
        point = (nfe, res["robust"].value)
    for steps in cfg.paper_fast:
        if str(steps) in solvers:
            rec.add(setting, f"polydiff-diffpure t*={t_star} {cfg.solver}-{steps}",
                    purified(t_star, steps=steps, gradient=grad), True, steps, paper=True,
                    batch=cfg.paper_fast_batch)
    pair_with_paper(rec.records)
    return point


def paper_setting(eps: float, t_star: float = PAPER_T_STAR) -> str:
    """The setting of the paper-solver group at ``t_star``."""
    return f"Linf eps={eps}, {ADAPTIVE}, DiffPure paper solver vs <= 20 NFE, t*={t_star}"


def _timing(cfg: BenchConfig, x: torch.Tensor, paper: Purifier, fast: Purifier, say) -> list[dict]:
    """Seconds per purified image: the paper's Euler–Maruyama (dt = 1e-3) vs the fast solver."""
    out = []
    for method, p in ((f"DiffPure paper solver (EM dt={PAPER_DT:g}, {paper.steps} NFE)", paper),
                      (f"polydiff-diffpure {fast.solver}-{fast.steps}", fast)):
        say(f"{cfg.dataset}: time {method}")
        reseed(p, 0)
        t0 = time.perf_counter()
        with torch.no_grad():
            p.purify(x, gradient="none")
        sec = time.perf_counter() - t0
        out.append(record(DOMAIN, TASK, DATASET_LABELS[cfg.dataset],
                          f"purification time per image, t*={PAPER_T_STAR}", method, "seconds_per_image",
                          sec / len(x), False, p.nfe, sec, len(x), valid=True, problems=[]))  # nothing to check
    return out


def _plot(path: pathlib.Path, vs_t, vs_nfe, paper_pt, cfg: BenchConfig, main: tuple) -> None:
    """Accuracy vs t* and robust accuracy vs NFE; ``main`` = (t*, solver, steps, which images)."""
    t_main, solver, steps, where = main
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - matplotlib is in the extra
        return
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.5))
    ax[0].plot([t for t, _, _ in vs_t], [r for _, r, _ in vs_t], "o-", label="robust")
    ax[0].plot([t for t, _, _ in vs_t], [c for _, _, c in vs_t], "s--", label="clean")
    ax[0].set(xlabel="t*", ylabel="accuracy", title=f"{cfg.dataset}: DiffPure vs t* ({solver}-{steps}, {where})")
    ax[0].legend()
    if vs_nfe:
        ax[1].plot([n for n, _ in vs_nfe], [r for _, r in vs_nfe], "o-", label=f"{solver}, {where}")
    if paper_pt is not None:
        ax[1].plot([paper_pt[0]], [paper_pt[1]], "r*", ms=10, label=f"paper EM, first {cfg.paper_n}")
    ax[1].set(xlabel="purification NFE", ylabel="robust accuracy", xscale="log",
              title=f"{cfg.dataset}, t*={t_main}")
    ax[1].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """``python -m polydiff.bench.robustness [--quick | --full] --train classifier,diffusion --out DIR``:
    train (or resume) some of the bench's networks alone, into the cache a later ``polydiff bench
    --out DIR`` reads (``DIR/robustness/cache``), so the hours of full-mode training can run apart
    from the attacks, on another machine or over several runs.

    ``... [--quick | --full] --parts fashion --json PART.json --out DIR``: evaluate some of
    :data:`PARTS` alone with the networks cached there and write their document
    (:func:`~polydiff.bench.parts.part_main`), to merge with ``python -m polydiff.bench.parts``."""
    import argparse
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a == "--parts" or a.startswith("--parts=") for a in argv):
        from .parts import part_main

        return part_main("robustness", run, PARTS, argv, prog="python -m polydiff.bench.robustness")
    p = argparse.ArgumentParser(prog="python -m polydiff.bench.robustness", description=main.__doc__.split("\n")[1])
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="mode", action="store_const", const="quick")
    mode.add_argument("--full", dest="mode", action="store_const", const="full")
    p.add_argument("--train", required=True, help=f"comma-separated: {', '.join(TRAIN_PARTS)}")
    p.add_argument("--datasets", default=None, help="comma-separated subset of the mode's datasets (default all)")
    p.add_argument("--out", type=pathlib.Path, required=True, help="the --out of the later polydiff bench run")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    a = p.parse_args(argv)
    cfgs = CONFIGS[a.mode or "quick"]
    names = [c.dataset for c in cfgs]
    wanted = names if a.datasets is None else a.datasets.split(",")
    if set(wanted) - set(names):
        p.error(f"--datasets must name some of {names}, got {a.datasets!r}")
    parts = tuple(a.train.split(","))
    if set(parts) - set(TRAIN_PARTS):
        p.error(f"--train must name some of {', '.join(TRAIN_PARTS)}; got {a.train!r}")
    cache = a.out / "robustness" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    if a.device == "cpu":
        torch.set_num_threads(1)
    for cfg in cfgs:
        if cfg.dataset in wanted:
            t0 = time.perf_counter()
            _train_all(cfg, cache, lambda s: print(s, flush=True), parts, device=a.device)
            print(f"{cfg.dataset}: {', '.join(parts)} ready in {time.perf_counter() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

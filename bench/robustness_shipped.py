"""The shipped DiffPure pipeline (:data:`PURIFICATION_MODEL`) beside its own classifier undefended:
the protocol of its model card (``scripts/ship_robustness.py``) and quick mode's
``shipped-pipelines`` records of the robustness entry.

Both models are attacked on the same first MNIST test images with the bench's adaptive attack
(:func:`~polydiff.bench.robustness_attack.attack_table`: APGD-CE, APGD-DLR, then EOT-PGD, L-inf, full
gradients through the purifier's solver, ``draws`` EOT draws per step for the random defence;
Athalye et al. 2018, Croce & Hein 2020), run as a cascade, per-example worst case; the two are
paired on the same images (:func:`~polydiff.robustness.metrics.paired_difference`). The test
images are never used for training or for choosing the pipeline's defaults (those were chosen
on the validation split, :func:`~polydiff.bench.robustness_select.preregister`).
"""
from __future__ import annotations

from collections.abc import Callable

from .common import record

__all__ = ["EPS", "PURIFICATION_MODEL", "pipeline_beside_undefended", "shipped_records"]

#: The name the shipped purification pipeline has under ``pretrained/`` (``polydiff purify``'s default).
PURIFICATION_MODEL = "mnist-diffpure"
#: The L-inf radius of the MNIST comparisons (Madry et al. 2018), on the [0, 1] image scale.
EPS = 0.3


def pipeline_beside_undefended(pipe, x, y, attack: tuple[int, int, int], *, eps: float = EPS,
                               seeds: tuple[int, ...] = (0,), batch_size: int = 64,
                               progress: Callable[[str], None] | None = None) -> dict:
    """Attack ``pipe`` (its :meth:`purified_classifier` at its defaults) and its classifier alone.

    ``attack`` is ``(EOT-PGD steps, EOT draws, APGD steps)`` (the classifier, deterministic,
    gets one draw). Returns ``{"pipeline": result, "undefended": result, "difference":
    PairedDifference of robust accuracy, "labels": {...}}`` where each result is
    :func:`~polydiff.robustness.attacks.evaluate`'s dict.
    """
    from polydiff.robustness.attacks import evaluate
    from polydiff.robustness.metrics import paired_difference

    from .robustness_attack import attack_table

    steps, draws, apgd = attack
    table_r, label_r = attack_table(eps, steps, draws, apgd)
    table_d, label_d = attack_table(eps, steps, 1, apgd)
    ours = evaluate(pipe.purified_classifier(), x, y, table_r, seeds, batch_size=batch_size, cascade=True,
                    progress=progress)
    theirs = evaluate(pipe.classifier, x, y, table_d, seeds, batch_size=batch_size, cascade=True)
    return {"pipeline": ours, "undefended": theirs,
            "difference": paired_difference(ours["correct"], theirs["correct"]),
            "labels": {"pipeline": label_r, "undefended": label_d}}


def shipped_records(spec: dict, progress: Callable[[str], None]) -> list[dict]:
    """``spec``: ``{"name", "n_test", "attack": (steps, draws, apgd)}``; none when no pipeline of
    that name ships. Each record's ``counterpart`` names the full bench's row it stands for."""
    from polydiff.core.pipeline_hub import shipped_pipelines
    from polydiff.robustness.data import load_images
    from polydiff.robustness.pipelines import PurificationPipeline

    from .robustness_attack import ADAPTIVE, DATASET_LABELS, DOMAIN, PREREGISTERED, TASK
    from .robustness_compare import UNDEFENDED, self_check

    name = spec["name"]
    if name not in shipped_pipelines():
        return []
    progress(f"robustness: the shipped {name} on the first {spec['n_test']} MNIST test images")
    pipe = PurificationPipeline.from_pretrained(name)
    x, y = load_images("mnist", "test", spec["n_test"])
    runs = pipeline_beside_undefended(pipe, x, y, tuple(spec["attack"]))
    full_setting = f"Linf eps={EPS}, {ADAPTIVE}"
    recs = []
    for key, method, counterpart, nfe in (("pipeline", f"shipped:{name}", PREREGISTERED, pipe.steps),
                                          ("undefended", UNDEFENDED, UNDEFENDED, None)):
        res = runs[key]
        after = {a: acc.value for a, acc in res["per_attack"].items()}
        problems = self_check("mnist", method, res["clean"].value, res["robust"].value, after, {})
        for metric, acc in (("clean_accuracy", res["clean"]), ("robust_accuracy", res["robust"])):
            recs.append(record(DOMAIN, TASK, DATASET_LABELS["mnist"], "shipped-pipelines", method, metric,
                               acc.value, True, nfe, res["seconds"], acc.n, ci_low=acc.low, ci_high=acc.high,
                               attack=runs["labels"][key], valid=not problems, problems=problems,
                               counterpart={"setting": full_setting, "method": counterpart}))
        recs[-1]["robust_after_attack"] = after
    d = runs["difference"]
    # on the pipeline's robust-accuracy record, as the full bench pairs a purifier with its baseline
    recs[1].update(minus_baseline=d.value, minus_baseline_ci=[d.low, d.high], baseline=UNDEFENDED,
                   method_only=d.a_only, baseline_only=d.b_only)
    return recs

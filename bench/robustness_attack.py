"""The robustness bench's adaptive attack and the names its records share (the full bench,
:mod:`polydiff.bench.robustness`, and the shipped pipeline's records,
:mod:`polydiff.bench.robustness_shipped`)."""
from __future__ import annotations

from polydiff.robustness.attacks import make_attack

__all__ = ["ADAPTIVE", "DATASET_LABELS", "DOMAIN", "PREREGISTERED", "TASK", "attack_table"]

DOMAIN, TASK = "robustness", "adversarial-purification"
DATASET_LABELS = {"mnist": "mnist-test", "fashion": "fashion-mnist-test"}
ADAPTIVE = "adaptive attack (full gradients + EOT)"
PREREGISTERED = "polydiff-diffpure (pre-registered on validation images)"


def attack_table(eps: float, steps: int, draws: int, apgd_steps: int,
                 square_queries: int = 0) -> tuple[dict, str]:
    """The bench's adaptive attack: APGD-CE and APGD-DLR (``apgd_steps``; Croce & Hein 2020),
    then EOT-PGD (``steps``), each with ``draws`` batched EOT draws per step, then Square
    (``square_queries``; Andriushchenko et al. 2020), run as a cascade (each attack only on the
    examples the earlier ones left correct). Square is score-based, so gradient masking cannot
    hide a model from it; the bench runs it on the deterministic baselines, as AutoAttack
    "standard" does (its "rand" version for random defences has no Square). Returns name ->
    factory and a label for the records."""
    kw = {"eps": eps, "eot_iter": draws, "batched_eot": True}
    table = {}
    if apgd_steps:
        table["APGD-CE"] = lambda m, s: make_attack("apgd-ce", m, steps=apgd_steps, seed=s, **kw)
        table["APGD-DLR"] = lambda m, s: make_attack("apgd-dlr", m, steps=apgd_steps, seed=s, **kw)
    table["EOT-PGD"] = lambda m, s: make_attack("eotpgd", m, steps=steps, seed=s, **kw)
    parts = ([f"APGD-CE {apgd_steps} steps", f"APGD-DLR {apgd_steps} steps"] if apgd_steps else [])
    parts.append(f"EOT-PGD {steps} steps")
    if square_queries:
        table["Square"] = lambda m, s: make_attack("square", m, eps=eps, steps=square_queries, seed=s)
        parts.append(f"Square {square_queries} queries")
    how = f"{draws} EOT draws per step" if draws > 1 else "deterministic model, no EOT"
    return table, f"per-example worst case of {', '.join(parts)} (cascade); {how}"

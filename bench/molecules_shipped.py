"""Quick mode's ``shipped-pipelines`` records of the molecules entry: the shipped conformer
pipeline (:data:`CONFORMER_MODEL`) at its own defaults on the first molecules of the *full*
protocol's held-out split, beside ETKDGv3 given the same stereo information on the same
molecules (COV-R / MAT-R / COV-P / MAT-P at δ = 0.5 Å, seconds per conformer).

Leakage: the full protocol's test molecules are drawn first from its seeded permutation
(:func:`~polydiff.molecules.splits.random_qm9_split`), so the first ``n_test`` of them are the
same molecules whatever the training count, and none of them shares a graph with a training
molecule of the shipped network.
"""
from __future__ import annotations

import time
from collections.abc import Callable

from .common import record

__all__ = ["CONFORMER_MODEL", "full_test_molecules", "pipeline_beside_etkdg", "shipped_records"]

#: The name the shipped conformer pipeline has under ``pretrained/`` (``polydiff conformers``'s default).
CONFORMER_MODEL = "geodiff-qm9"


def full_test_molecules(spec: dict, n_test: int):
    """``(label, the first n_test test molecules)`` of the full protocol's split ``spec``
    (a ``MolTrainSpec`` dict), without building its training part."""
    from polydiff.molecules.splits import random_qm9_split
    from polydiff.molecules.train import MolTrainSpec

    s = MolTrainSpec(**spec)
    if not 1 <= n_test <= s.n_test:
        raise ValueError(f"n_test must be in [1, {s.n_test}] (the full protocol's test molecules), got {n_test}")
    split = random_qm9_split(0, 0, s.n_test, seed=s.split_seed, min_heavy_atoms=s.min_heavy_atoms,
                             max_heavy_atoms=s.max_heavy_atoms, max_atoms=s.max_atoms)
    return split.label, split.test[:n_test]


def pipeline_beside_etkdg(pipe, test, n_gen: int, delta: float) -> tuple[str, dict[str, tuple]]:
    """``(stereo information, {method: (COV/MAT summary, seconds, nfe)})``: ``pipe`` at its
    defaults (seed 0) and ETKDGv3 given the same stereo information on the molecules ``test``,
    ``n_gen`` conformers each (the protocol of the model card and of quick mode)."""
    from polydiff.molecules import baselines, metrics
    from polydiff.molecules.stereo_filter import stereo_information

    info = stereo_information(pipe.net, True)
    t0 = time.perf_counter()
    ours = pipe(list(test), n_gen, seed=0)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    theirs = [baselines.etkdg(m, n_gen, stereo=info) for m in test]
    t_theirs = time.perf_counter() - t0
    return info, {"pipeline": (metrics.summarize(metrics.score_conformers(test, ours), delta), t_ours,
                               pipe.generator.steps),
                  "rdkit-etkdgv3-same-stereo": (metrics.summarize(metrics.score_conformers(test, theirs), delta),
                                                t_theirs, None)}


def shipped_records(spec: dict, full_spec: dict, delta: float, progress: Callable[[str], None]) -> list[dict]:
    """``spec``: ``{"name", "n_test", "n_gen"}``; none when no pipeline of that name ships."""
    from polydiff.core.pipeline_hub import shipped_pipelines
    from polydiff.molecules.pipelines import ConformerPipeline

    name = spec["name"]
    if name not in shipped_pipelines():
        return []
    progress(f"molecules: the shipped {name} on the full protocol's test molecules")
    pipe = ConformerPipeline.from_pretrained(name)
    label, test = full_test_molecules(full_spec, spec["n_test"])
    n_gen = int(spec["n_gen"])
    info, runs = pipeline_beside_etkdg(pipe, test, n_gen, delta)
    recs, n_conf = [], len(test) * n_gen
    for method, (summ, seconds, nfe) in runs.items():
        method = f"shipped:{name}" if method == "pipeline" else method
        for metric, higher in (("COV-R", True), ("MAT-R", False), ("COV-P", True), ("MAT-P", False)):
            recs.append(record("molecules", "conformers", label, "shipped-pipelines", method, f"{metric} mean",
                               summ[f"{metric} mean"], higher, nfe, seconds, len(test)))
        recs.append(record("molecules", "conformers", label, "shipped-pipelines", method, "s/conformer",
                           seconds / n_conf, False, nfe, seconds, n_conf))
    counterparts = {f"shipped:{name}": full_method(pipe.generator), "rdkit-etkdgv3-same-stereo": "rdkit-etkdgv3-same-stereo"}
    setting = full_setting(full_spec, n_gen, delta)
    for r in recs:
        r["stereo_info"] = info
        r["counterpart"] = {"setting": setting, "method": counterparts[r["method"]]}
    return recs


def full_setting(full_spec: dict, n_gen: int, delta: float) -> str:
    """The bench's setting name for ``n_gen`` conformers per molecule scored at ``delta`` Å."""
    return f"delta={delta}A,n_gen={n_gen},T={full_spec['T']}"


def sampler_name(solver: str, steps: int, restarts: int = 0, restart_steps: int = 0, restart_noise: float = 0.0,
                 stereo_rounds: int = 0) -> str:
    """The bench's method name of a raw GeoDiff sampler run."""
    name = f"polydiff-geodiff-{'ancestral' if solver == 'ddpm' else solver}-{steps}"
    if restarts:
        name += f"+restart{restarts}x{restart_steps}-s{restart_noise}"
    if stereo_rounds:  # oversample-and-filter: wrong stereoisomers redrawn
        name += f"+stereo-filter{stereo_rounds}"
    return name


def full_method(gen) -> str:
    """The full bench's row a ``ConformerGenerator`` at its settings stands for (quick/full
    agreement, ``bench.compare``)."""
    if gen.relax is not None:
        raise ValueError(f"a generator with relax={gen.relax!r} has no raw-sampler row in the full bench")
    return sampler_name(gen.solver, gen.steps, gen.restarts, gen.restart_steps, gen.restart_noise, gen.stereo_rounds)

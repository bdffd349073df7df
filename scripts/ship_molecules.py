"""The molecules kind of ``ship_pretrained.py``: a bench cache's GeoDiff network as a
ConformerPipeline folder with its model card.

The cached network is found by recomputing the benchmark's cache key for each protocol of
``bench/molecules.py`` (full, then quick): the key hashes the settings and the training
molecules, so the card's data description is the split the network was trained on. The
pipeline's defaults (:class:`~polydiff.molecules.pipeline.ConformerGenerator`: DPM-Solver++(2M)
SDE, 50 steps and 5 Restart rounds of 10 steps, stereo matched by reflection and up to 4 redraw
rounds) were chosen on the split's validation molecules, never on the test molecules. The card is measured at those defaults, seed 0, on the protocol's held-out
molecules (``n_gen`` conformers each, the bench's δ = 0.5 Å), beside ETKDGv3 given the same
stereo information (``rdkit-etkdgv3-same-stereo``, the fair baseline of the bench) on the same
molecules. The weights ship in float32 (the network is small; coordinates are sensitive to
rounding in the equivariant updates).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

PROTOCOLS = ("full", "quick")


def _find(cache: Path):
    """``(mode, cfg, run folder, split)`` of the one protocol whose cached network is in ``cache``."""
    from polydiff.bench import molecules as bench
    from polydiff.molecules.train import MolTrainSpec, qm9_split

    found, looked = [], []
    for mode in PROTOCOLS:
        cfg = bench.SETTINGS[mode]
        split = qm9_split(MolTrainSpec(**cfg["spec"]))
        run = bench.model_dir(cache, cfg, split.train)
        looked.append(run.name)
        if (run / "done.json").exists():
            found.append((mode, cfg, run, split))
    if len(found) != 1:
        raise SystemExit(f"--cache {cache}: expected one finished network of a bench/molecules.py protocol "
                         f"(looked for {looked}), found {[f[2].name for f in found]}")
    return found[0]


def molecules_conformers(args: argparse.Namespace) -> None:
    """QM9 GeoDiff conformers: COV-R / MAT-R / COV-P / MAT-P (δ = 0.5 Å) of the pipeline at its
    defaults on the bench protocol's held-out molecules, beside ETKDGv3 with the same stereo."""
    from polydiff.bench.molecules import DELTA
    from polydiff.bench.molecules_shipped import pipeline_beside_etkdg
    from polydiff.core.pipeline import ModelCard
    from polydiff.molecules.pipelines import ConformerPipeline

    torch.set_num_threads(1)
    mode, cfg, run, split = _find(args.cache)
    test, n_gen = split.test, int(cfg["n_gen"])
    pipe = ConformerPipeline.from_run(run)  # the ConformerGenerator defaults, fixed beforehand
    gen = pipe.generator
    info, runs = pipeline_beside_etkdg(pipe, test, n_gen, DELTA)
    (a, ours_s, _), (b, theirs_s, _) = runs["pipeline"], runs["rdkit-etkdgv3-same-stereo"]
    ds = f"{split.label}: {len(test)} held-out molecules, {n_gen} conformers each, the DFT geometry as reference"
    base = f"RDKit ETKDGv3 given the same stereo information ({info} R/S and E/Z tags)"
    texts = {"COV-R mean": f"COV-R at {DELTA} A, % (higher is better)", "MAT-R mean": "MAT-R, A (lower is better)",
             "COV-P mean": f"COV-P at {DELTA} A, % (higher is better)", "MAT-P mean": "MAT-P, A (lower is better)"}
    card_metrics = [{"task": "conformer generation", "dataset": ds, "metric": text, "value": a[key],
                     "baseline": base, "baseline_value": b[key]} for key, text in texts.items()]
    n_conf = len(test) * n_gen
    card_metrics.append({"task": "conformer generation", "dataset": ds,
                         "metric": "seconds per conformer, one CPU thread (lower is better)",
                         "value": ours_s / n_conf, "baseline": base, "baseline_value": theirs_s / n_conf})
    s, t = cfg["spec"], cfg["train"]
    card = ModelCard(
        training_command=args.command,
        data=(f"QM9 (the DFT geometries of the bundled data package), {split.label}: {len(split.train):,} "
              f"training molecules with {s['min_heavy_atoms']}-{s['max_heavy_atoms']} heavy atoms, "
              f"{t['steps']:,} steps x {t['batch_size']} molecules ({mode} protocol of bench/molecules.py)"),
        metrics=card_metrics,
        notes=(f"Evaluated at the pipeline's defaults ({gen.solver}, {gen.steps} steps + {gen.restarts} Restart rounds "
               f"of {gen.restart_steps} steps, stereo matched with up to {gen.stereo_rounds} redraw rounds; chosen on "
               "validation molecules before evaluation), seed 0, by scripts/ship_pretrained.py. "
               "GeoDiff's network (Xu et al. 2022) with R/S and E/Z input features and true-scale distance "
               "inputs, trained on one CPU thread. Weights stored in float32."))
    out = pipe.save_pretrained(args.into / args.name, card=card)
    print(f"wrote {out} (from {run.name}, {mode} protocol)")
    for m in card_metrics:
        print(f"  {m['metric']}: {m['value']:.4g} (ETKDGv3 {info} stereo {m['baseline_value']:.4g})")

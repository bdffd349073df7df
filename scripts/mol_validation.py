"""Score a GeoDiff checkpoint on the held-out *validation* QM9 molecules (never the test set).

Used to size the full-mode molecules run (training length, network) and to follow a long
training run from its checkpoints::

    python scripts/mol_validation.py RUN_DIR ancestral:500 dpmpp_2m_sde:50 dpmpp_2m:50

``RUN_DIR`` is a checkpoint folder (e.g. ``OUT/molecules/cache/molecules-geodiff-*``); its
saved spec decides the split. Prints COV-R / MAT-R at 0.5 Å per sampler beside ETKDGv3.
"""
from __future__ import annotations

import argparse
import time

import torch
from polydiff.molecules import baselines, metrics
from polydiff.molecules.generate import conformer_generator, generate_conformers
from polydiff.molecules.train import MolTrainSpec, qm9_splits


def main(argv: list[str] | None = None) -> None:
    from polydiff.core.training import load_checkpoint

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    ap.add_argument("samplers", nargs="+", help="solver:steps ('ancestral' = ddpm)")
    ap.add_argument("--n-gen", type=int, default=8)
    ap.add_argument("--limit", type=int, default=None, help="first N validation molecules")
    ap.add_argument("--restarts", type=int, default=0, help="Restart rounds after each solve")
    ap.add_argument("--restart-noise", type=float, default=0.2, help="restart level s = sigma/alpha (A)")
    ap.add_argument("--restart-steps", type=int, default=10, help="solver steps per restart round")
    ap.add_argument("--no-match-stereo", action="store_true",
                    help="keep mirror-image conformers (ablation of generate_conformers' match_stereo)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    spec = MolTrainSpec(**load_checkpoint(args.run_dir, weights_only=True).extra["spec"])
    val = qm9_splits(spec)["val"][: args.limit]
    if not val:
        raise SystemExit("this run has no validation molecules (spec.n_val == 0)")
    net, proc = conformer_generator(args.run_dir)
    rows = [("rdkit-etkdgv3", [baselines.etkdg(m, args.n_gen) for m in val], 0.0)]
    for item in args.samplers:
        solver, steps = item.split(":")
        t0 = time.perf_counter()
        gens = generate_conformers(val, args.n_gen, net=net, process=proc, steps=int(steps),
                                   solver="ddpm" if solver == "ancestral" else solver, seed=1,
                                   match_stereo=not args.no_match_stereo, restarts=args.restarts,
                                   restart_noise=args.restart_noise, restart_steps=args.restart_steps)
        rows.append((item, gens, time.perf_counter() - t0))
    print(f"{len(val)} validation molecules x {args.n_gen} conformers, delta 0.5 A")
    for name, gens, sec in rows:
        s = metrics.summarize(metrics.score_conformers(val, gens), 0.5)
        print(f"{name:22s} COV-R {s['COV-R mean']:5.1f}  MAT-R {s['MAT-R mean']:.3f} "
              f"(median {s['MAT-R median']:.3f})  COV-P {s['COV-P mean']:5.1f}  {sec:6.1f} s")


if __name__ == "__main__":
    main()

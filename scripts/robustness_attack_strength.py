"""How far the bench's EOT-PGD is from the strongest attack we have, on one fast purifier.

The robustness bench attacks every purifier with EOT-PGD (10 or 20 steps x 2 draws), because
the 100-NFE paper solver makes anything longer cost hours on a CPU. This script attacks one
fast purifier (DDPM ancestral steps from ``t* = 0.1``, full gradients through the solver) on
the first ``--n`` test images with the bench's attack and with longer ones — EOT-PGD with
more steps and draws, APGD-CE and APGD-DLR with EOT (Croce & Hein 2020) — and reports each
attack's robust accuracy and the per-example worst case over all of them::

    python scripts/robustness_attack_strength.py --dataset mnist --steps 5 --n 128 \\
        --out OUT/robustness --json bench/results/supplementary/robustness-attacks-mnist.json

If the worst case is within a point or two of the bench's attack, the bench's numbers are
near what these attacks can reach; the difference is reported as ``minus_bench_attack``.
"""
from __future__ import annotations

import argparse
import datetime
import pathlib
import shlex
import sys
import time

import polydiff.core as pc
import torch
from polydiff.bench.jsonio import plain_numbers, write_json
from polydiff.bench.machine import git_commit, machine_info
from polydiff.robustness import bench
from polydiff.robustness.attacks import evaluate, make_attack
from polydiff.robustness.data import load_images
from polydiff.robustness.purify import PurifiedClassifier, Purifier


def attacks(cfg: bench.BenchConfig, strong_steps: int, strong_eot: int) -> dict:
    """The bench's EOT-PGD first, then the longer attacks; label -> factory(model, seed)."""
    eps = cfg.eps
    return {
        f"EOT-PGD {cfg.paper_steps} steps x {cfg.paper_eot} draws (the bench's)":
            lambda m, s: make_attack("eotpgd", m, eps=eps, steps=cfg.paper_steps, eot_iter=cfg.paper_eot, seed=s),
        f"EOT-PGD {4 * strong_steps} steps x {strong_eot} draws":
            lambda m, s: make_attack("eotpgd", m, eps=eps, steps=4 * strong_steps, eot_iter=strong_eot, seed=s),
        f"APGD-CE {strong_steps} steps x {strong_eot} draws":
            lambda m, s: make_attack("apgd-ce", m, eps=eps, steps=strong_steps, eot_iter=strong_eot, seed=s),
        f"APGD-DLR {strong_steps} steps x {strong_eot} draws":
            lambda m, s: make_attack("apgd-dlr", m, eps=eps, steps=strong_steps, eot_iter=strong_eot, seed=s),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", choices=tuple(bench.DATASET_LABELS), required=True)
    ap.add_argument("--steps", type=int, default=5, help="DDPM steps of the purifier (its NFE)")
    ap.add_argument("--n", type=int, required=True, help="first N test images")
    ap.add_argument("--strong-steps", type=int, default=25, help="APGD iterations (EOT-PGD gets 4x)")
    ap.add_argument("--strong-eot", type=int, default=4, help="EOT draws per step of the longer attacks")
    ap.add_argument("--batch", type=int, default=32, help="images per attack call")
    ap.add_argument("--out", type=pathlib.Path, required=True, help="the robustness bench's folder (cache/)")
    ap.add_argument("--json", type=pathlib.Path, required=True, help="where to write the records")
    ap.add_argument("--threads", type=int, default=2)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = ap.parse_args(argv)
    for name in ("steps", "n", "strong_steps", "strong_eot", "batch"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    (cfg,) = [c for c in bench.CONFIGS["full"] if c.dataset == args.dataset]
    torch.set_num_threads(args.threads)
    commit = git_commit()
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    clf, _, dm = bench._train_all(cfg, args.out / "cache", lambda s: print(s, flush=True))
    x, y = load_images(cfg.dataset, "test", args.n)
    purifier = Purifier(dm, pc.VP(), t_star=bench.PAPER_T_STAR, solver=cfg.solver, steps=args.steps,
                        gradient="full", image_shape=(1, 28, 28))
    model = PurifiedClassifier(purifier, clf)
    table = attacks(cfg, args.strong_steps, args.strong_eot)
    res = evaluate(model, x, y, table, cfg.seeds, batch_size=args.batch, progress=lambda s: print(s, flush=True))
    setting = f"Linf eps={cfg.eps}, attack strength on polydiff-diffpure t*={bench.PAPER_T_STAR} {cfg.solver}-{args.steps}"
    bench_acc = next(iter(res["per_attack"].values()))
    rows = [(label, acc) for label, acc in res["per_attack"].items()]
    rows.append(("worst case over the four attacks", res["robust"]))
    records = []
    for label, acc in rows:
        rec = {"domain": bench.DOMAIN, "task": bench.TASK, "dataset": bench.DATASET_LABELS[cfg.dataset],
               "setting": setting, "method": label, "metric": "robust_accuracy", "value": acc.value,
               "higher_is_better": True, "nfe": args.steps, "seconds": res["seconds"], "n": acc.n,
               "ci_low": acc.low, "ci_high": acc.high, "attack": label, "seeds": list(cfg.seeds),
               "minus_bench_attack": acc.value - bench_acc.value, "commit": commit, "mode": "full"}
        records.append(plain_numbers(rec))
    clean = {k: v for k, v in records[0].items() if k != "minus_bench_attack"}
    records.append({**clean, "method": "clean", "metric": "clean_accuracy", "value": res["clean"].value,
                    "ci_low": res["clean"].low, "ci_high": res["clean"].high, "attack": "none"})
    doc = {"domain": bench.DOMAIN, "mode": "full",
           "command": shlex.join(["python", "scripts/robustness_attack_strength.py", *argv]),
           "commit": commit, "date": started,
           "machine": {**machine_info("cpu"), "torch_threads": torch.get_num_threads()},
           "duration_s": round(time.perf_counter() - t0, 3), "records": records}
    write_json(args.json, doc)
    for r in records:
        print(f"{r['method']:<52} {r['metric']:<16} {r['value']:.4f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]")


if __name__ == "__main__":
    main()

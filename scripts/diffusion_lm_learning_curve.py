"""Diffusion-LM on E2E against its training budget (issue #26): is the control task's fluency gap
compute or design?

For each ``--steps``, the bench's Diffusion-LM (``bench/text.py``'s full sizes, its own cosine
schedule over that many steps; cached by the bench's key, so a later bench run reuses it) draws
``--n`` unguided sentences with each decoder of ``--decoders``; their perplexity under the
bench's judge (an AR LM trained with seed 1, not the AR baseline) is the fluency, beside the
judge's perplexity of real training sentences and of held-out sentences. ``--out`` writes JSON.

    OMP_NUM_THREADS=1 python scripts/diffusion_lm_learning_curve.py --steps 1200 4800 9600 19200 \\
        --cache /tmp/full/out/text/cache/text --out bench/results/supplementary/text-diffusion-lm-curve.json
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch
from polydiff.bench import text as bench
from polydiff.bench.machine import git_commit
from polydiff.text.train import prepare_e2e


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, nargs="+", required=True)
    p.add_argument("--decoders", nargs="+", default=["ddpm-50", "ddpm-200", "ddim-50"],
                   help="solver-NFE pairs")
    p.add_argument("--n", type=int, default=48, help="unguided samples per decoder")
    p.add_argument("--cache", type=Path, required=True, help="the text bench's cache folder (out/cache/text)")
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()
    decoders = [(d.rsplit("-", 1)[0], int(d.rsplit("-", 1)[1])) for d in a.decoders]
    torch.set_num_threads(1)
    commit = git_commit()
    data = prepare_e2e(cache_dir=a.cache)
    bc = bench.FULL
    torch.manual_seed(bc.seed)
    judge = bench._trained("ar-lm", data, bc, a.cache, "cpu", print, seed=bc.seed + 1)
    n = a.n
    floors = {"real-training-sentences": bench.lm_perplexity(judge, bench.real_sentences(data.train, n)),
              "real-held-out-sentences": bench.lm_perplexity(judge, bench.real_sentences(data.test, n))}
    print(floors, flush=True)
    rows = []
    for steps in a.steps:
        cfg = dataclasses.replace(bc, steps_diffusion_lm=steps)
        t0 = time.perf_counter()
        dlm = bench._trained("diffusion-lm", data, cfg, a.cache, "cpu", print)
        trained_s = time.perf_counter() - t0
        for solver, nfe in decoders:
            g = torch.Generator().manual_seed(0)
            texts = dlm.generate(None, n, nfe, solver, generator=g)
            row = {"train_steps": steps, "solver": solver, "nfe": nfe, "n": n, "perplexity": bench.lm_perplexity(judge, texts),
                   "examples": texts[:3]}
            print(json.dumps({k: v for k, v in row.items() if k != "examples"}), flush=True)
            rows.append(row)
        print(f"{steps} steps: {trained_s:.0f} s to train or load", flush=True)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({
        "command": "python scripts/diffusion_lm_learning_curve.py " + " ".join(
            ["--steps", *map(str, a.steps), "--decoders", *a.decoders, "--n", str(n)]),
        "commit": commit, "judge": "AR LM of the bench's sizes, 1,200 steps, seed 1 (not the AR baseline)",
        "floors": floors, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()

"""#27 inpainting: a Palette (mask-conditioned) U-Net's learning curve on held-out digits.

    OMP_NUM_THREADS=1 python scripts/vision_palette_curve.py --cache CACHE --out OUT --steps 4800 --eval-every 1200

Trains :mod:`polydiff.vision.palette`'s U-Net with the full vision bench's data, network,
batch and learning rate (60k MNIST training digits, 28 px, base 16, batch 64, lr 1e-3) and
every ``--eval-every`` steps scores its EMA network on 100 *held-out* test digits no bench
section uses (``x_te[5000:5100]``, as ``scripts/inpaint_learning_curve.py``) with the bench's
classifier (trained into ``--cache`` under the bench's key, or loaded from a bench cache):
centre, half and strokes masks, DDPM-25 and DDIM-25 samples (25 NFE). Biharmonic and exemplar
fill are scored once on the same digits. This chooses the bench's Palette budget; the test
digits (``x_te[1000:1100]``) are not touched. Prints one JSON line per row and writes
``curve.json`` in ``--out`` (resumes from ``OUT/run``).
"""
from __future__ import annotations

import argparse
import json
import pathlib
import time

import torch


def main(argv: list[str] | None = None) -> None:
    from polydiff.bench.vision import CONFIGS
    from polydiff.bench.vision_common import mnist, trained
    from polydiff.vision import inpaint, metrics, palette
    from polydiff.vision.train import train

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=pathlib.Path, required=True, help="a vision bench cache (the classifier)")
    ap.add_argument("--out", type=pathlib.Path, required=True)
    ap.add_argument("--steps", type=int, default=4800)
    ap.add_argument("--eval-every", type=int, default=1200)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    cfg = CONFIGS["full"]
    args.out.mkdir(parents=True, exist_ok=True)
    x_tr, y_tr = mnist("train", cfg["size"], cfg["n_train"])
    x_te, y_te = mnist("test", cfg["size"])
    common = {"batch_size": cfg["batch"], "seed": 0}
    clf, _ = trained(args.cache, "classifier", "classifier", x_tr, y_tr, "cpu", steps=cfg["steps"]["classifier"],
                     lr=1e-3, net_kwargs={"width": 16}, **common)
    xi, yi = x_te[5000:5100], y_te[5000:5100]
    real = x_te[-300:]
    masks = {kind: inpaint.make_mask(kind, len(xi), cfg["size"], generator=torch.Generator().manual_seed(0))
             for kind in ("center", "half", "strokes")}
    curve = args.out / "curve.json"
    rows = json.loads(curve.read_text()) if curve.exists() else []

    def score(kind: str, method: str, out: torch.Tensor, seconds: float, **extra) -> dict:
        s = metrics.inpainting_scores(clf, out, yi, real, truth=xi, hole=1 - masks[kind])
        row = {"mask": kind, "method": method, **extra, **{k: round(float(v), 4) for k, v in s.items()},
               "seconds": round(seconds, 1)}
        print(json.dumps(row), flush=True)
        rows.append(row)
        curve.write_text(json.dumps(rows, indent=1))
        return row

    if not any(r["method"] == "biharmonic" for r in rows):
        for kind, m in masks.items():
            t0 = time.perf_counter()
            score(kind, "biharmonic", inpaint.biharmonic(xi, m), time.perf_counter() - t0)
            t0 = time.perf_counter()
            score(kind, "exemplar-fill", inpaint.exemplar_fill(xi, m, x_tr), time.perf_counter() - t0)

    def eval_fn(net, step: int) -> dict:
        out = {}
        for kind, m in masks.items():
            for solver in ("ddpm", "ddim"):
                t0 = time.perf_counter()
                filled = palette.palette_inpaint(net, proc, xi, m, steps=25, solver=solver,
                                                 generator=torch.Generator().manual_seed(2))
                r = score(kind, f"palette-{solver}-25", filled, time.perf_counter() - t0, step=step, nfe=25)
                out[f"{kind}-{solver}-acc"] = r["classifier-accuracy"]
        return out

    from polydiff.vision._common import default_process
    proc = default_process()
    train("palette", x_tr, y_tr, steps=args.steps, batch_size=cfg["batch"], lr=1e-3, net_kwargs=cfg["net"],
          out_dir=args.out / "run", seed=0, log_every=100, resume=(args.out / "run" / "latest").exists(),
          ckpt_every=args.eval_every, eval_fn=eval_fn, eval_every=args.eval_every)


if __name__ == "__main__":
    main()

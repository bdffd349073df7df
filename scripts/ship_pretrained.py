"""Turn a full-mode benchmark run into a shipped pipeline under ``pretrained/<name>/``.

The shipped pipeline is evaluated at its own defaults (fixed before any test data is looked at)
on the benchmark's held-out protocol, beside the benchmark's reference, and those numbers go into
its model card::

    python scripts/ship_pretrained.py vision-generate --cache /tmp/full/out/vision/cache \\
        --command "polydiff bench --full --domains vision ..." --name mnist-cfg
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
PRETRAINED = ROOT / "pretrained"


def _one(cache: Path, prefix: str) -> Path:
    runs = sorted(p for p in cache.glob(f"{prefix}-*") if (p / "latest").exists())
    if len(runs) != 1:
        raise SystemExit(f"--cache {cache}: expected one finished {prefix}-* run, found {[p.name for p in runs]}")
    return runs[0]


def vision_generate(args: argparse.Namespace) -> None:
    """MNIST class-conditional CFG U-Net: classifier accuracy and classifier-Fréchet distance of
    300 samples (30 per class) at the pipeline's defaults, beside 300 real test images, both
    scored by the benchmark's own MNIST classifier (the protocol of ``bench/vision.py``)."""
    from polydiff.bench.vision_common import mnist
    from polydiff.core.pipeline import ModelCard
    from polydiff.vision import metrics
    from polydiff.vision.pipelines import VisionGenerationPipeline
    from polydiff.vision.train import load_trained

    torch.set_num_threads(1)
    run = _one(args.cache, "generate")
    pipe = VisionGenerationPipeline.from_run(run)  # defaults: ddim, 25 steps, guidance 3
    clf, _, _ = load_trained(_one(args.cache, "classifier"))
    x_te, y_te = mnist("test", 28)
    labels = torch.arange(10).repeat_interleave(30)
    n = len(labels)
    images = pipe(labels, generator=torch.Generator().manual_seed(1))
    real, held = x_te[-n:], x_te[:n]
    card_metrics = [
        {"task": "class-conditional generation", "dataset": "MNIST test (300 images)",
         "metric": "classifier accuracy of the generated images (higher is better)",
         "value": metrics.accuracy(clf, images, labels), "baseline": "real test images",
         "baseline_value": metrics.accuracy(clf, held, y_te[:n])},
        {"task": "class-conditional generation", "dataset": "MNIST test (300 images)",
         "metric": "classifier-Frechet distance to real test images (lower is better)",
         "value": metrics.classifier_frechet_distance(clf, images, real), "baseline": "real test images",
         "baseline_value": metrics.classifier_frechet_distance(clf, held, real)},
    ]
    card = ModelCard(
        training_command=args.command, data="MNIST train (60,000 images, 28x28), 1,200 steps x 64 images",
        metrics=card_metrics,
        notes=(f"Evaluated at the pipeline's defaults (solver {pipe.solver}, {pipe.steps} steps, guidance "
               f"{pipe.guidance_scale:g}; chosen before evaluation) by scripts/ship_pretrained.py with the "
               "benchmark's MNIST classifier. A small U-Net trained for 1.3 epochs on 2 CPU cores: "
               "recognisable digits, not state of the art. Weights stored in float16."))
    out = pipe.save_pretrained(PRETRAINED / args.name, card=card, dtype=torch.float16)
    print(f"wrote {out}")
    for m in card_metrics:
        print(f"  {m['metric']}: {m['value']:.4f} (real test images {m['baseline_value']:.4f})")


KINDS = {"vision-generate": vision_generate}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("kind", choices=sorted(KINDS))
    p.add_argument("--cache", type=Path, required=True, help="the domain's bench cache folder")
    p.add_argument("--command", required=True, help="the command that trained the models (model card)")
    p.add_argument("--name", required=True, help="folder name under pretrained/")
    args = p.parse_args(argv)
    KINDS[args.kind](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())

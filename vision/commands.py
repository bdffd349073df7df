"""Task commands of the vision domain.

``polydiff generate``: class-conditional images from a :class:`VisionGenerationPipeline`, one
PNG per image::

    polydiff generate --model runs/mnist-pipe --labels 0,1,2,3 --per-label 4 --out samples/
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from polydiff.core.task_cli import add_task_flags, load_task_pipeline, task_generator
from tqdm.auto import tqdm

from .pipelines import VisionGenerationPipeline

__all__ = ["COMMANDS", "save_png"]

#: The shipped pipeline ``polydiff generate`` applies by default (None until one ships).
DEFAULT_GENERATION_MODEL: str | None = None


def _labels(text: str) -> list[int]:
    try:
        labels = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated class indices, got {text!r}") from None
    if not labels or min(labels) < 0:
        raise argparse.ArgumentTypeError(f"expected non-negative class indices, got {text!r}")
    return labels


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def save_png(image: torch.Tensor, path: Path) -> None:
    """Write one ``[C, H, W]`` image in [0, 1] (C = 1 or 3) as an 8-bit PNG."""
    from PIL import Image

    if image.ndim != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"image must be [C, H, W] with C in (1, 3), got shape {tuple(image.shape)}")
    array = (image.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
    array = array[0] if array.shape[0] == 1 else np.transpose(array, (1, 2, 0))
    Image.fromarray(array).save(path)


def _add_generate(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("generate", help="class-conditional images to PNG (vision)",
                       description="Sample images of the given classes from a vision generation "
                                   "pipeline and write one PNG per image.")
    p.add_argument("--labels", type=_labels, required=True, help="comma-separated class indices")
    p.add_argument("--per-label", type=_positive, default=1, help="images per label (default 1)")
    p.add_argument("--guidance", type=float, default=None,
                   help="classifier-free guidance scale (default: the pipeline's)")
    p.add_argument("--batch-size", type=_positive, default=64, help="images per sampling call")
    p.add_argument("--out", required=True, help="output folder (created)")
    add_task_flags(p, DEFAULT_GENERATION_MODEL)
    return p


def _run_generate(args: argparse.Namespace) -> int:
    pipe = load_task_pipeline(VisionGenerationPipeline, args)
    bad = [y for y in args.labels if y >= pipe.num_classes]
    if bad:
        raise SystemExit(f"--labels: the pipeline has {pipe.num_classes} classes, got {bad}")
    if args.guidance is not None and not (args.guidance >= 0 and np.isfinite(args.guidance)):
        raise SystemExit(f"--guidance must be a finite number >= 0, got {args.guidance}")
    labels = torch.tensor([y for y in args.labels for _ in range(args.per_label)])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = next(pipe.unet.parameters()).device
    generator = task_generator(args, device)
    batches = list(torch.split(labels, args.batch_size))
    written = 0
    for batch in tqdm(batches, desc="generate", unit="batch", disable=args.no_progress):
        images = pipe(batch.to(device), guidance_scale=args.guidance, steps=args.steps, solver=args.solver,
                      generator=generator)
        for image, y in zip(images, batch.tolist()):
            save_png(image, out / f"{written:05d}_class{y}.png")
            written += 1
    print(f"wrote {written} images to {out}")
    return 0


#: ``name -> (add the parser, run the parsed arguments)``; registered by ``polydiff``'s CLI.
COMMANDS = {"generate": (_add_generate, _run_generate)}

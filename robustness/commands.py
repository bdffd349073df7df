"""Task commands of the robustness domain.

``polydiff purify``: DiffPure (Nie et al. 2022) applied to image files with a
:class:`PurificationPipeline`: purify each image, classify it, write a CSV of predictions and,
optionally, the purified images as PNG::

    polydiff purify --model runs/mnist-diffpure --input digits/ --predictions preds.csv \\
        --output purified/ --repeats 4 --seed 0 --steps 10

Images are read as they are, in [0, 1] (8-bit / 255): grayscale or RGB and the size the model
takes, otherwise the file is named and nothing is computed. The CSV has one row per file:
``file`` (relative to the input folder), ``predicted`` (class index of the logits averaged over
the repeats), ``label`` (its name), ``majority`` (the majority vote over ``--repeats``
purifications, when there is more than one) and one column per class, ``p_<name>``
(probabilities) or ``logit_<name>`` (``--scores logits``). ``--output`` gets ``<stem>.png`` per
input (``<stem>_r<r>.png`` per repeat when ``--repeats`` > 1), the purified image clamped to
[0, 1] (the solver ends about, not exactly, in [0, 1]; a PNG holds exactly [0, 1]). Image ``j`` of the sorted input
list is purified with seed ``mix(--seed, j)``, so the results are those of
``pipe(images, seed=--seed)`` whatever ``--batch-size``. Files are written under temporary
names and renamed when complete.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch
from polydiff.core.flags import positive_int
from polydiff.core.task_cli import add_task_flags, load_task_pipeline
from tqdm.auto import tqdm

from .image_io import list_images, probe_image, read_image, write_csv, write_png
from .pipelines import PurificationPipeline
from .purify import _mix

__all__ = ["COMMANDS", "DEFAULT_PURIFICATION_MODEL"]

#: The shipped pipeline ``polydiff purify`` applies by default (MNIST digits, 28x28 grayscale).
DEFAULT_PURIFICATION_MODEL: str | None = "mnist-diffpure"



def _time(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (0 < value < math.inf):
        raise argparse.ArgumentTypeError(f"expected a diffusion time > 0, got {text!r}")
    return value


def _add_purify(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("purify", help="DiffPure-purify and classify image files (robustness)",
                       description="Purify images with a diffusion purification pipeline (DiffPure), "
                                   "classify them, write a CSV of predictions and optionally the "
                                   "purified images.")
    p.add_argument("--input", required=True, help="an image file or a folder of images")
    p.add_argument("--predictions", default=None, help="CSV of predictions to write")
    p.add_argument("--output", default=None, help="folder for the purified PNGs (created)")
    p.add_argument("--repeats", type=positive_int, default=None,
                   help="purifications per image: logits averaged, majority vote (default: the pipeline's)")
    p.add_argument("--t-star", type=_time, default=None, help="diffusion time t* (default: the pipeline's)")
    p.add_argument("--scores", choices=("probs", "logits"), default="probs",
                   help="per-class columns: probabilities (default) or averaged logits")
    p.add_argument("--batch-size", type=positive_int, default=64, help="images per purification call")
    add_task_flags(p, DEFAULT_PURIFICATION_MODEL)
    return p


def _check_paths(args: argparse.Namespace, folder: Path, files: list[Path]) -> tuple[Path | None, Path | None]:
    if args.predictions is None and args.output is None:
        raise SystemExit("--predictions: give --predictions FILE.csv and/or --output DIR (nothing to write)")
    preds = Path(args.predictions) if args.predictions is not None else None
    if preds is not None and (preds.is_dir() or not preds.parent.is_dir()):
        raise SystemExit(f"--predictions {preds}: must be a file in an existing folder")
    out = Path(args.output) if args.output is not None else None
    if out is not None:
        if out.exists() and not out.is_dir():
            raise SystemExit(f"--output {out}: exists and is not a folder")
        if out.resolve() == folder.resolve():
            raise SystemExit(f"--output {out}: is the input folder (the inputs would be overwritten)")
        stems = [f.stem for f in files]
        clash = sorted({s for s in stems if stems.count(s) > 1})
        if clash:
            raise SystemExit(f"--output: several inputs share the name(s) {clash} (one PNG each)")
    return preds, out


def _run_purify(args: argparse.Namespace) -> int:
    try:
        folder, files = list_images(args.input)
    except (OSError, ValueError) as err:
        raise SystemExit(f"--input: {err}") from None
    preds, out = _check_paths(args, folder, files)
    pipe = load_task_pipeline(PurificationPipeline, args)
    for f in files:  # every file checked before any purification
        try:
            probe_image(f, pipe.image_shape)
        except ValueError as err:
            raise SystemExit(f"--input: {err}") from None
    if args.t_star is not None and not pipe.process.t_min <= args.t_star <= pipe.process.t_max:
        raise SystemExit(f"--t-star {args.t_star}: must lie in [{pipe.process.t_min}, {pipe.process.t_max}] "
                         "(the pipeline's process)")
    repeats = pipe.repeats if args.repeats is None else args.repeats
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    names = [f.relative_to(folder).as_posix() for f in files]
    rows: list[list] = []
    bar = tqdm(total=len(files), desc="purify", unit="image", disable=args.no_progress)
    for start in range(0, len(files), args.batch_size):
        chunk = files[start:start + args.batch_size]
        try:
            x = torch.stack([read_image(f, pipe.image_shape) for f in chunk])
        except ValueError as err:
            raise SystemExit(f"--input: {err}") from None
        seeds = [_mix(args.seed, j) for j in range(start, start + len(chunk))]
        res = pipe(x, seed=seeds, repeats=repeats, steps=args.steps, solver=args.solver, t_star=args.t_star)
        scores = res.probs if args.scores == "probs" else res.mean_logits
        for i, f in enumerate(chunk):
            k = int(res.predicted[i])
            row = [names[start + i], k, pipe.class_names[k]]
            if repeats > 1:
                row.append(int(res.majority[i]))
            rows.append(row + [float(v) for v in scores[i].cpu()])
            if out is not None:
                for r in range(repeats):
                    # purified images lie in about [0, 1]; a PNG holds exactly [0, 1] (documented)
                    write_png(res.purified[r, i].clamp(0, 1), out / (f"{f.stem}_r{r}.png" if repeats > 1 else f"{f.stem}.png"))
        bar.update(len(chunk))
    bar.close()
    if preds is not None:
        prefix = "p_" if args.scores == "probs" else "logit_"
        header = ["file", "predicted", "label"] + (["majority"] if repeats > 1 else [])
        write_csv(preds, header + [prefix + n for n in pipe.class_names], rows)
        print(f"wrote predictions for {len(rows)} images to {preds}")
    if out is not None:
        print(f"wrote {len(files) * repeats} purified images to {out}")
    return 0


#: ``name -> (add the parser, run the parsed arguments)``; registered by ``polydiff``'s CLI.
COMMANDS = {"purify": (_add_purify, _run_purify)}

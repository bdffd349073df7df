"""Task commands of the vision domain: a saved pipeline applied to the user's PNG files.

``polydiff generate``: class-conditional images from a :class:`VisionGenerationPipeline`, one
PNG per image::

    polydiff generate --model runs/mnist-pipe --labels 0,1,2,3 --per-label 4 --out samples/

``polydiff superres``: SR3 super-resolution with a :class:`SuperResolutionPipeline`, one PNG
or a folder of PNGs (each output has the input's name)::

    polydiff superres --model pipes/sr-x4 --input low.png --output high.png --steps 50 --seed 1
    polydiff superres --model pipes/sr-x4 --input lowres/ --output highres/

``polydiff inpaint``: inpainting with a :class:`PaletteInpaintingPipeline` (a U-Net trained for
the task, the default) or RePaint with an :class:`InpaintingPipeline` (an unconditional U-Net);
in the mask PNG (same size as the image) **white marks the missing pixels to fill, black the
known ones**::

    polydiff inpaint --model pipes/inpaint --input photo.png --mask hole.png --output filled.png

Images are read in [0, 1] (8- or 16-bit); grayscale or RGB as the model's channels demand.
Every image is sampled with noise from ``--seed`` (a fresh generator per image), so an
output does not depend on the other files of a folder. Outputs are 8-bit PNGs written
under a temporary name and renamed, so a crash leaves no half file.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

import numpy as np
import torch
from polydiff.core.flags import positive_int
from polydiff.core.task_cli import (
    add_task_flags,
    held_pipeline_class,
    load_task_pipeline,
    refuse_flags,
    task_generator,
)
from tqdm.auto import tqdm

from ._common import check_image_shape
from .image_files import png_files, read_image, read_mask, save_png
from .palette_pipeline import PaletteInpaintingPipeline
from .pipelines import InpaintingPipeline, SuperResolutionPipeline, VisionGenerationPipeline

__all__ = ["COMMANDS", "inpaint_pipeline_class", "save_png"]

#: The shipped pipeline ``polydiff generate`` applies by default (None until one ships).
DEFAULT_GENERATION_MODEL: str | None = "mnist-cfg"
#: The shipped pipeline ``polydiff superres`` applies by default (None until one ships).
DEFAULT_SUPERRES_MODEL: str | None = "mnist-sr"
#: The shipped pipeline ``polydiff inpaint`` applies by default (None until one ships).
DEFAULT_INPAINT_MODEL: str | None = "mnist-palette"


def _labels(text: str) -> list[int]:
    try:
        labels = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated class indices, got {text!r}") from None
    if not labels or min(labels) < 0:
        raise argparse.ArgumentTypeError(f"expected non-negative class indices, got {text!r}")
    return labels



def _add_generate(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("generate", help="class-conditional images to PNG (vision)",
                       description="Sample images of the given classes from a vision generation "
                                   "pipeline and write one PNG per image.")
    p.add_argument("--labels", type=_labels, required=True, help="comma-separated class indices")
    p.add_argument("--per-label", type=positive_int, default=1, help="images per label (default 1)")
    p.add_argument("--guidance", type=float, default=None,
                   help="classifier-free guidance scale (default: the pipeline's)")
    p.add_argument("--batch-size", type=positive_int, default=64, help="images per sampling call")
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
    if out.exists() and not out.is_dir():
        raise SystemExit(f"--out {args.out}: is a file; --out must be a folder (created if missing)")
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


def _fail(flag: str, value, message: str):
    raise SystemExit(f"{flag} {value}: {message}")


def _output_file(output: str, source: Path, sources: list[Path]) -> Path:
    """Where the output of ``source`` goes: ``output`` (a .png path) or ``output/<name>``."""
    out = Path(output)
    if out.is_dir():
        out = out / source.with_suffix(".png").name
    elif out.suffix.lower() != ".png":
        _fail("--output", output, "must be a .png file or an existing folder")
    if any(out.resolve() == s.resolve() for s in sources):
        _fail("--output", output, "is an input file; refusing to overwrite the input")
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def _pairs(args: argparse.Namespace) -> list[tuple[Path, Path]]:
    """``(input, output)`` files of a command whose ``--input`` is a PNG or a folder of PNGs."""
    src = Path(args.input)
    if src.is_dir():
        files = png_files(src)
        if not files:
            _fail("--input", args.input, "folder holds no .png file")
        out = Path(args.output)
        if out.exists() and not out.is_dir():
            _fail("--output", args.output, "is a file; a folder --input needs a folder --output")
        if out.resolve() == src.resolve():
            _fail("--output", args.output, "is the --input folder; refusing to overwrite the inputs")
        out.mkdir(parents=True, exist_ok=True)
        return [(f, out / f.name) for f in files]
    if not src.is_file():
        _fail("--input", args.input, "no such file or folder")
    return [(src, _output_file(args.output, src, [src]))]


def _read(flag: str, path: Path, channels: int):
    try:
        return read_image(path, channels)
    except ValueError as err:
        raise SystemExit(f"{flag} {err}") from None


def _step_bar(total: int, desc: str, args: argparse.Namespace):
    """A tqdm bar over solver steps and the ``callback`` that advances it."""
    bar = tqdm(total=total, desc=desc, unit="step", disable=args.no_progress)
    return bar, lambda info: bar.update(1)


def _add_superres(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("superres", help="super-resolve PNG images (vision, SR3)",
                       description="Up-sample a low-resolution PNG (or every PNG of a folder) by the "
                                   "factor of a super-resolution pipeline (SR3).")
    p.add_argument("--input", required=True, help="low-resolution PNG, or a folder of PNGs")
    p.add_argument("--output", required=True,
                   help="output PNG (or an existing folder) for a file --input; a folder for a folder")
    p.add_argument("--consistent", choices=("on", "off"), default=None,
                   help="project onto images whose down-sampling equals the input "
                        "(default: the pipeline's)")
    add_task_flags(p, DEFAULT_SUPERRES_MODEL)
    return p


def _run_superres(args: argparse.Namespace) -> int:
    pairs = _pairs(args)
    pipe = load_task_pipeline(SuperResolutionPipeline, args)
    device = next(pipe.unet.parameters()).device
    images = []
    for src, _ in pairs:  # every input checked before the first (slow) sample
        x = _read("--input", src, pipe.channels)
        try:
            check_image_shape(pipe.unet, (x.shape[0], x.shape[1] * pipe.factor, x.shape[2] * pipe.factor),
                              f"the x{pipe.factor} output")
        except ValueError as err:
            _fail("--input", src, f"{x.shape[2]}x{x.shape[1]} pixels: {err}")
        images.append(x)
    consistent = None if args.consistent is None else args.consistent == "on"
    bar, callback = _step_bar(len(pairs) * (args.steps or pipe.steps), "superres", args)
    with bar:
        for (_, dst), x in zip(pairs, images):
            out = pipe(x[None], steps=args.steps, solver=args.solver, consistent=consistent,
                       generator=task_generator(args, device), callback=callback)
            save_png(out[0], dst)
    where = pairs[0][1] if len(pairs) == 1 else pairs[0][1].parent
    print(f"wrote {len(pairs)} image(s) up-sampled x{pipe.factor} to {where}")
    return 0


def _repaint_calls(steps: int, jump_length: int, resample: int) -> int:
    """Solver steps (callbacks) of RePaint's schedule: every chunk of ``jump`` steps solved
    ``resample`` times but the last, once; plus the imposed start (core's ``_repaint``)."""
    last = steps - jump_length * (math.ceil(steps / jump_length) - 1)
    return (steps - last) * resample + last + 1


def inpaint_pipeline_class(model: str | os.PathLike) -> type[InpaintingPipeline | PaletteInpaintingPipeline]:
    """The inpainting pipeline class the pipeline ``model`` holds (:class:`InpaintingPipeline`
    when the index cannot be read: loading it then names the problem)."""
    return held_pipeline_class(model, (InpaintingPipeline, PaletteInpaintingPipeline))


def _add_inpaint(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("inpaint", help="fill the masked pixels of a PNG image (vision, Palette or RePaint)",
                       description="Fill the pixels a mask marks as missing with an inpainting "
                                   "pipeline (Palette, or RePaint for an unconditional U-Net). Mask PNG: "
                                   "white = missing (to fill), black = known; the same size as the image.")
    p.add_argument("--input", required=True, help="the image (PNG)")
    p.add_argument("--mask", required=True, help="mask PNG: white = missing (to fill), black = known")
    p.add_argument("--output", required=True, help="output PNG (or an existing folder)")
    p.add_argument("--resample", type=positive_int, default=None,
                   help="RePaint resamplings per jump (default: the pipeline's; 1 = replacement only; "
                        "RePaint pipelines only)")
    p.add_argument("--jump-length", type=positive_int, default=None,
                   help="RePaint jump length in steps (default: the pipeline's, scaled to --steps; RePaint "
                        "pipelines only)")
    add_task_flags(p, DEFAULT_INPAINT_MODEL)
    return p


def _run_inpaint(args: argparse.Namespace) -> int:
    src, mask_path = Path(args.input), Path(args.mask)
    for flag, path in (("--input", src), ("--mask", mask_path)):
        if not path.is_file():
            _fail(flag, path, "no such file")
    dst = _output_file(args.output, src, [src, mask_path])
    cls = inpaint_pipeline_class(args.model)
    if cls is PaletteInpaintingPipeline:
        refuse_flags(args, ("resample", "jump_length"), "a Palette pipeline (trained for inpainting, no RePaint "
                                                        "resampling)")
    pipe = load_task_pipeline(cls, args)
    x = _read("--input", src, pipe.channels)
    try:
        mask = read_mask(mask_path)
    except ValueError as err:
        raise SystemExit(f"--mask {err}") from None
    if mask.shape[1:] != x.shape[1:]:
        _fail("--mask", mask_path, f"is {mask.shape[2]}x{mask.shape[1]} pixels, --input {src} is "
                                   f"{x.shape[2]}x{x.shape[1]}; they must be the same size")
    if bool((mask == 1).all()):
        _fail("--mask", mask_path, "has no white (missing) pixel: nothing to inpaint")
    try:
        check_image_shape(pipe.unet, tuple(x.shape), "the image")
    except ValueError as err:
        _fail("--input", src, f"{x.shape[2]}x{x.shape[1]} pixels: {err}")
    if cls is PaletteInpaintingPipeline:
        schedule = {"steps": args.steps or pipe.steps}
        calls = _repaint_calls(schedule["steps"], 1, 1)
    else:
        schedule = pipe.schedule(args.steps, args.jump_length, args.resample)
        calls = _repaint_calls(**schedule)
    device = next(pipe.unet.parameters()).device
    bar, callback = _step_bar(calls, "inpaint", args)
    with bar:
        out = pipe(x[None], mask[None], **schedule, solver=args.solver,
                   generator=task_generator(args, device), callback=callback)
    save_png(out[0], dst)
    print(f"wrote {dst} ({int((mask == 0).sum())} pixels filled)")
    return 0


#: ``name -> (add the parser, run the parsed arguments)``; registered by ``polydiff``'s CLI.
COMMANDS = {"generate": (_add_generate, _run_generate), "superres": (_add_superres, _run_superres),
            "inpaint": (_add_inpaint, _run_inpaint)}

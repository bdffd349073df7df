"""Turn a full-mode benchmark run into a shipped pipeline under ``pretrained/<name>/``.

The shipped pipeline is evaluated at its own defaults (fixed before any test data is looked at)
on the benchmark's held-out protocol, beside the benchmark's reference, and those numbers go into
its model card::

    python scripts/ship_pretrained.py vision-generate --cache /tmp/full/out/vision/cache \\
        --command "polydiff bench --full --domains vision ..." --name mnist-cfg
    python scripts/ship_pretrained.py timeseries-impute --cache /tmp/full/out/timeseries/cache \\
        --command "polydiff bench --full --domains timeseries ..."     # -> pretrained/weather-csdi

``--name`` defaults to the kind's shipped name, ``--into`` to ``pretrained/``. The time-series
kinds live in ``ship_timeseries.py`` and print the card, the README row and the weights' sha256;
the molecules kind in ``ship_molecules.py``, the robustness kind in ``ship_robustness.py``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from polydiff.core.flags import positive_int

ROOT = Path(__file__).resolve().parents[1]
PRETRAINED = ROOT / "pretrained"


def _one(cache: Path, prefix: str, done: str = "latest") -> Path:
    """The one finished ``<prefix>-*`` run of a bench cache (``done``: the file it writes last)."""
    runs = sorted(p for p in cache.glob(f"{prefix}-*") if (p / done).exists())
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
    out = pipe.save_pretrained(args.into / args.name, card=card, dtype=torch.float16)
    print(f"wrote {out}")
    for m in card_metrics:
        print(f"  {m['metric']}: {m['value']:.4f} (real test images {m['baseline_value']:.4f})")


def vision_superres(args: argparse.Namespace) -> None:
    """MNIST SR3 super-resolution: PSNR and SSIM at the pipeline's defaults on the benchmark's
    100 held-out test digits (test images 2000..2099), beside bicubic up-sampling of the same
    low-resolution inputs (the protocol of ``bench/vision.py``)."""
    from polydiff.bench.vision_common import mnist
    from polydiff.core.pipeline import ModelCard
    from polydiff.vision import metrics, superres
    from polydiff.vision.pipelines import SuperResolutionPipeline

    torch.set_num_threads(1)
    pipe = SuperResolutionPipeline.from_run(_one(args.cache, "superres"))
    f = pipe.factor
    x_te, _ = mnist("test", 28)
    hr = x_te[2000:2100]
    lr = superres.downsample(hr, f)
    ours = pipe(lr, generator=torch.Generator().manual_seed(3))
    bic = superres.bicubic(lr, f)
    ds = f"MNIST test (100 digits, x{f}: {28 // f} to 28 px)"
    card_metrics = [
        {"task": "super-resolution", "dataset": ds, "metric": "PSNR in dB (higher is better)",
         "value": metrics.psnr(ours, hr), "baseline": "bicubic", "baseline_value": metrics.psnr(bic, hr)},
        {"task": "super-resolution", "dataset": ds, "metric": "SSIM (higher is better)",
         "value": metrics.ssim(ours, hr), "baseline": "bicubic", "baseline_value": metrics.ssim(bic, hr)},
    ]
    card = ModelCard(
        training_command=args.command, data="MNIST train (60,000 images, 28x28), 500 steps x 64 images",
        metrics=card_metrics,
        notes=(f"Evaluated at the pipeline's defaults (solver {pipe.solver}, {pipe.steps} steps; chosen "
               "before evaluation) by scripts/ship_pretrained.py. SR3 (Saharia et al. 2022) with "
               "v-prediction: a sample of the posterior, so PSNR is below the posterior mean's. "
               "Weights stored in float16."))
    out = pipe.save_pretrained(args.into / args.name, card=card, dtype=torch.float16)
    print(f"wrote {out}")
    for m in card_metrics:
        print(f"  {m['metric']}: {m['value']:.4f} (bicubic {m['baseline_value']:.4f})")


def _ship_inpainting(args: argparse.Namespace, pipe, schedule: dict, data: str, method: str) -> None:
    """Centre-square inpainting at the pipeline's defaults on the benchmark's 100 held-out test
    digits (test images 1000..1099) beside biharmonic inpainting of the same inputs, scored by
    the benchmark's MNIST classifier (``bench/vision_inpaint.py``), into the model card."""
    from polydiff.bench.vision_common import mnist
    from polydiff.core.pipeline import ModelCard
    from polydiff.vision import inpaint
    from polydiff.vision.metrics import inpainting_scores
    from polydiff.vision.train import load_trained

    clf, _, _ = load_trained(_one(args.cache, "classifier"))
    x_te, y_te = mnist("test", 28)
    xi, yi, real = x_te[1000:1100], y_te[1000:1100], x_te[-300:]
    mask = inpaint.make_mask("center", len(xi), 28, generator=torch.Generator().manual_seed(0))
    ours = pipe(xi, mask, generator=torch.Generator().manual_seed(2))
    theirs = inpaint.biharmonic(xi, mask)
    a = inpainting_scores(clf, ours, yi, real, truth=xi, hole=1 - mask)
    b = inpainting_scores(clf, theirs, yi, real, truth=xi, hole=1 - mask)
    ds = "MNIST test (100 digits, centre-square hole)"
    names = {"classifier-accuracy": "classifier accuracy of the completed digits (higher is better)",
             "classifier-frechet": "classifier-Frechet distance to real test images (lower is better)",
             "PSNR-hole": "PSNR in the hole, dB (higher is better)"}
    card_metrics = [{"task": "inpainting", "dataset": ds, "metric": text, "value": a[key],
                     "baseline": "biharmonic inpainting", "baseline_value": b[key]} for key, text in names.items()]
    card = ModelCard(
        training_command=args.command, data=data, metrics=card_metrics,
        notes=(f"Evaluated at the pipeline's defaults ({schedule}; chosen before evaluation) by "
               f"scripts/ship_pretrained.py. {method} Weights stored in float16."))
    out = pipe.save_pretrained(args.into / args.name, card=card, dtype=torch.float16)
    print(f"wrote {out}")
    for m in card_metrics:
        print(f"  {m['metric']}: {m['value']:.4f} (biharmonic {m['baseline_value']:.4f})")


def vision_inpaint(args: argparse.Namespace) -> None:
    """MNIST RePaint inpainting of a centre square (an unconditional U-Net), see
    :func:`_ship_inpainting`."""
    from polydiff.vision.pipelines import InpaintingPipeline

    torch.set_num_threads(1)
    pipe = InpaintingPipeline.from_run(_one(args.cache, "inpaint-uncond"))
    _ship_inpainting(args, pipe, pipe.schedule(), "MNIST train (60,000 images, 28x28), 1,200 steps x 64 images",
                     "An unconditional U-Net with RePaint's resampling (Lugmayr et al. 2022).")


def vision_palette(args: argparse.Namespace) -> None:
    """MNIST Palette inpainting of a centre square (a U-Net trained on random box, half and
    stroke masks), see :func:`_ship_inpainting`; its budget is the full bench's."""
    from polydiff.bench.vision import CONFIGS
    from polydiff.vision.palette_pipeline import PaletteInpaintingPipeline

    torch.set_num_threads(1)
    pc = CONFIGS["full"]["inpaint"]["palette"]
    pipe = PaletteInpaintingPipeline.from_run(_one(args.cache, "inpaint-palette"), solver=pc["solver"],
                                              steps=pc["steps"])
    _ship_inpainting(args, pipe, {"solver": pipe.solver, "steps": pipe.steps},
                     f"MNIST train (60,000 images, 28x28), {pc['train_steps']:,} steps x 64 images, random masks",
                     "A mask-conditioned U-Net (Palette, Saharia et al. 2022): the known image and the mask are "
                     "its condition, the loss covers the missing pixels.")


def text_mdlm(args: argparse.Namespace) -> None:
    """E2E data-to-text MDLM: corpus BLEU (sacreBLEU) of the pipeline at its defaults on the
    benchmark's 100 held-out test MRs (all references each), beside the autoregressive
    Transformer baseline of the same run, greedy, on the same MRs (the protocol of
    ``bench/text.py``)."""
    from polydiff.bench.text import FULL, model_steps, run_dir
    from polydiff.core.pipeline import ModelCard
    from polydiff.text import metrics as M
    from polydiff.text.data import references_by_source
    from polydiff.text.pipelines import ARTextPipeline, MaskedTextPipeline
    from polydiff.text.train import prepare_e2e

    torch.set_num_threads(1)
    data = prepare_e2e(cache_dir=args.cache)
    by_src = references_by_source(data.test)
    sources = sorted(by_src)  # every MR of the held-out restaurants (99)
    refs = [by_src[s] for s in sources]
    # the full bench's runs (FULL's budgets: MDLM and the AR trained for the steps chosen on validation)
    runs = {k: run_dir(k, data, FULL, args.cache) for k in ("masked", "ar")}
    for k, d in runs.items():
        if not (d / "model.safetensors").is_file():
            raise SystemExit(f"--cache {args.cache}: no finished {k} run of the full bench's configuration "
                             f"({d.name}, {model_steps(FULL, k)} steps); train it with python -m "
                             f"polydiff.bench.text_tasks --models {k} --full --parts e2e --out OUT")
    pipe = MaskedTextPipeline.from_run(runs["masked"])
    ar = ARTextPipeline.from_run(runs["ar"])  # greedy by default
    ours = pipe(sources, generator=torch.Generator().manual_seed(0))
    theirs = ar(sources, generator=torch.Generator().manual_seed(0))
    card_metrics = [
        {"task": "data-to-text", "dataset": "E2E NLG, the 5 held-out restaurants (all 99 meaning representations, all references)",
         "metric": "corpus BLEU, sacreBLEU 13a (higher is better)", "value": M.corpus_bleu(ours, refs),
         "baseline": "autoregressive Transformer of the same size and training, greedy",
         "baseline_value": M.corpus_bleu(theirs, refs)},
    ]
    card = ModelCard(
        training_command=args.command,
        data="E2E NLG as bundled with polydiff (the 4,672-pair validation file distributed with the Diffusion-LM experiments), split by restaurant (seed 0): 3,649 training pairs from 15 restaurants; "
             f"{model_steps(FULL, 'masked'):,} steps x {FULL.batch_size} pairs (the AR baseline {model_steps(FULL, 'ar'):,}; both "
             "budgets chosen on validation restaurants); sentencepiece vocabulary trained on the training pairs",
        metrics=card_metrics,
        notes=(f"Evaluated at the pipeline's defaults (solver {pipe.solver}, {pipe.steps} steps, temperature "
               f"{pipe.temperature:g}; chosen before evaluation) by scripts/ship_pretrained.py. A 3-layer "
               "96-wide masked diffusion LM (MDLM, Sahoo et al. 2024) trained on 2 CPU cores. "
               "Weights stored in float16."))
    out = pipe.save_pretrained(args.into / args.name, card=card, dtype=torch.float16)
    print(f"wrote {out}")
    for m in card_metrics:
        print(f"  {m['metric']}: {m['value']:.2f} (AR baseline {m['baseline_value']:.2f})")
    # the baseline ships too, so that `polydiff bench --quick` can set trained models side by side
    ar_metrics = [{**card_metrics[0], "value": card_metrics[0]["baseline_value"],
                   "baseline": f"polydiff {args.name} (MDLM) of the same run",
                   "baseline_value": card_metrics[0]["value"]}]
    ar_card = ModelCard(training_command=args.command, data=card.data, metrics=ar_metrics,
                        notes="The autoregressive Transformer baseline of the same benchmark run (3 layers x 96), "
                              "greedy decoding. Weights stored in float16.")
    out = ar.save_pretrained(args.into / args.baseline_name, card=ar_card, dtype=torch.float16)
    print(f"wrote {out}")


def _ship_module(name: str):
    """``<name>.py`` beside this script, however this script was imported."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def molecules_conformers(args: argparse.Namespace) -> None:
    """The bench cache's GeoDiff conformer network (see ``ship_molecules.py``)."""
    _ship_module("ship_molecules").molecules_conformers(args)


def timeseries_impute(args: argparse.Namespace) -> None:
    """The bench cache's CSDI weather imputer (see ``ship_timeseries.py``)."""
    _ship_module("ship_timeseries").timeseries_impute(args)


def timeseries_forecast(args: argparse.Namespace) -> None:
    """The bench cache's CSDI taylor-electricity forecaster (see ``ship_timeseries.py``)."""
    _ship_module("ship_timeseries").timeseries_forecast(args)


def robustness_purify(args: argparse.Namespace) -> None:
    """The bench cache's MNIST DiffPure networks (see ``ship_robustness.py``)."""
    _ship_module("ship_robustness").robustness_purify(args)


KINDS = {"vision-generate": vision_generate, "vision-superres": vision_superres, "vision-inpaint": vision_inpaint,
         "vision-palette": vision_palette,
         "text-mdlm": text_mdlm, "timeseries-impute": timeseries_impute, "timeseries-forecast": timeseries_forecast,
         "molecules-conformers": molecules_conformers, "robustness-purify": robustness_purify}
#: The folder name each kind writes when ``--name`` is not given.
NAMES = {"vision-generate": "mnist-cfg", "vision-superres": "mnist-sr", "vision-inpaint": "mnist-inpaint",
         "vision-palette": "mnist-palette",
         "text-mdlm": "e2e-mdlm", "timeseries-impute": "weather-csdi", "timeseries-forecast": "electricity-csdi-forecast",
         "molecules-conformers": "geodiff-qm9", "robustness-purify": "mnist-diffpure"}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("kind", choices=sorted(KINDS))
    p.add_argument("--cache", type=Path, required=True, help="the domain's bench cache folder")
    p.add_argument("--command", required=True, help="the command that trained the models (model card)")
    p.add_argument("--name", default=None, help="folder name under --into (default: the kind's shipped name)")
    p.add_argument("--into", type=Path, default=PRETRAINED, help=f"parent folder (default {PRETRAINED})")
    p.add_argument("--baseline-name", default="e2e-ar", help="text-mdlm: folder of the shipped AR baseline")
    p.add_argument("--threads", type=positive_int, default=1, help="robustness-purify: torch threads")
    p.add_argument("--dataset", choices=("mnist", "fashion"), default="mnist",
                   help="robustness-purify: the bench configuration's dataset (default name: <dataset>-diffpure)")
    args = p.parse_args(argv)
    if args.kind == "robustness-purify" and args.dataset != "mnist":
        args.name = args.name or f"{args.dataset}-diffpure"
    args.name = args.name or NAMES[args.kind]
    KINDS[args.kind](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())

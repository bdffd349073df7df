"""Quick mode's shipped image-to-image pipelines at their defaults, beside their baselines.

``mnist-sr`` (SR3, x4) against bicubic, ``mnist-palette`` (Palette) and ``mnist-inpaint``
(RePaint) against biharmonic inpainting with the centre mask, on the full bench's own test
digits at the pipelines' 28 px (inpainting: ``x_te[1000:]``, super-resolution:
``x_te[2000:]``, the first ``n`` of each). Each record names the full-mode row it stands for
(``counterpart``), so quick mode's agreement with full mode covers these pipelines. The
classifier accuracy uses the run's own classifier at its size (28 px brought to 16 px as for
``mnist-cfg``); PSNR and SSIM are measured at 28 px. No classifier-Fréchet distance here: its
covariances would rest on fewer completions (``n``, 50 in quick mode) than the classifier has
features (64), which makes them singular.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import torch
from polydiff.bench.common import timed_nfe
from polydiff.bench.vision_common import mnist, to_bench_size
from polydiff.bench.vision_inpaint import accuracy_interval
from polydiff.vision import inpaint, metrics, superres

__all__ = ["SHIPPED_TASKS", "shipped_task_records"]

#: The shipped pipelines scored here, with the full-mode rows they stand for.
SHIPPED_TASKS = {
    "mnist-sr": ("superres", "x4-7to28px", "polydiff-sr3"),
    "mnist-palette": ("inpaint", "center-mask", "polydiff-palette"),
    "mnist-inpaint": ("inpaint", "center-mask", "polydiff-repaint"),
}
_BASELINE = {"superres": "bicubic", "inpaint": "biharmonic"}
_FIRST = {"superres": 2000, "inpaint": 1000}  # the full bench's test slices


def _baseline(task: str, inputs: tuple[torch.Tensor, ...], pipe) -> torch.Tensor:
    """The classical method the shipped pipeline of ``task`` stands beside, on the same inputs."""
    if task == "superres":
        return superres.bicubic(inputs[0], pipe.factor)
    images, mask = inputs
    return inpaint.biharmonic(images.cpu(), mask.cpu()).to(images.device)


def shipped_task_records(names: Sequence[str], clf: torch.nn.Module, size: int, n: int, device: str,
                         say: Callable[[str], None], rec: Callable) -> None:
    """Record the shipped pipelines ``names`` (keys of :data:`SHIPPED_TASKS`; absent ones are
    skipped) and their baselines on ``n`` test digits through ``rec`` (:func:`polydiff.bench.vision.run`'s),
    setting ``shipped-pipelines``, dataset ``mnist-28px``; ``clf`` classifies at ``size`` px."""
    from polydiff.core.pipeline_hub import shipped_pipelines
    from polydiff.vision.palette_pipeline import PaletteInpaintingPipeline
    from polydiff.vision.pipelines import InpaintingPipeline, SuperResolutionPipeline

    classes = {"mnist-sr": SuperResolutionPipeline, "mnist-palette": PaletteInpaintingPipeline,
               "mnist-inpaint": InpaintingPipeline}

    unknown = [m for m in names if m not in SHIPPED_TASKS]
    if unknown:
        raise ValueError(f"names must be some of {tuple(SHIPPED_TASKS)}, got {unknown}")
    names = [m for m in names if m in shipped_pipelines()]
    if not names:
        return
    x28, y28 = mnist("test", 28)
    dataset = "mnist-28px"
    done: set[str] = set()
    for name in names:
        task, setting, full_method = SHIPPED_TASKS[name]
        first = _FIRST[task]
        truth, labels = x28[first:first + n].to(device), y28[first:first + n].to(device)
        say(f"{task} with the shipped {name}")
        pipe = classes[name].from_pretrained(name, device=device)
        g = torch.Generator(device).manual_seed(2)
        if task == "superres":
            inputs = (superres.downsample(truth, pipe.factor),)
        else:
            mask = inpaint.make_mask("center", n, 28, generator=torch.Generator().manual_seed(0)).to(device)
            inputs = (truth, mask)
        rows = {f"shipped:{name}": (timed_nfe(pipe.unet, n, pipe, *inputs, generator=g), full_method)}
        if task not in done:  # one baseline row per task
            t0 = time.perf_counter()
            out = _baseline(task, inputs, pipe)
            rows[_BASELINE[task]] = ((out, time.perf_counter() - t0, None), _BASELINE[task])
        done.add(task)
        for method, ((out, secs, nfe), counterpart) in rows.items():
            where = {"dataset": dataset, "setting": setting, "method": counterpart}
            if task == "superres":
                scores = {"PSNR": metrics.psnr(out, truth), "SSIM": metrics.ssim(out, truth)}
            else:
                dev = next(clf.parameters()).device
                scores = {"classifier-accuracy": metrics.accuracy(clf, to_bench_size(out, size).to(dev), labels.to(dev))}
                scores["PSNR-hole"] = metrics.masked_psnr(out, truth, 1 - mask)
                scores["SSIM"] = metrics.ssim(out, truth)
            for metric, value in scores.items():
                extra = accuracy_interval(value, n) if metric == "classifier-accuracy" else {}
                rec(task, "shipped-pipelines", method, metric, value, True, nfe, secs, n, ds=dataset,
                    counterpart=where, **extra)

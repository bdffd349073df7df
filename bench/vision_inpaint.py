"""The vision benchmark's inpainting group: RePaint on an unconditional U-Net and Palette, a
U-Net trained for the task, vs biharmonic inpainting and the best-matching training exemplar.

Per mask (centre square, right half, strokes) on the same 100 test digits: classifier accuracy
of the completed digits against their labels and classifier Fréchet distance (the headline),
PSNR in the hole and SSIM (secondary); for the centre mask also a PSNR-vs-NFE table of RePaint
schedules. How accurate a faithful centre-mask inpainter can be is measured by
``scripts/vision_inpaint_bayes_bound.py`` (a classifier of the visible ring).
"""
from __future__ import annotations

import pathlib
import time
from collections.abc import Callable

import torch
from polydiff.bench.common import timed_nfe
from polydiff.vision import inpaint, metrics, palette, plots

__all__ = ["accuracy_interval", "run_inpainting"]


def accuracy_interval(accuracy: float, n: int) -> dict[str, float]:
    """``{"ci_low", "ci_high"}``: the 95% Wilson score interval of an accuracy over ``n`` images
    (``scipy.stats.binomtest``)."""
    from scipy.stats import binomtest

    k = round(accuracy * n)
    if abs(k - accuracy * n) > 1e-6 * n:
        raise ValueError(f"accuracy {accuracy!r} is not a count out of n={n}")
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return {"ci_low": float(ci.low), "ci_high": float(ci.high)}


def run_inpainting(ic: dict, uncond, palette_net, proc, clf, x_tr: torch.Tensor, xi: torch.Tensor,
                   yi: torch.Tensor, real: torch.Tensor, out_dir: pathlib.Path, device: str, rec: Callable,
                   n_nfe: int | None = None) -> None:
    """Record the inpainting group through ``rec`` (:func:`polydiff.bench.vision.run`'s).

    ``ic``: the mode's ``inpaint`` config (RePaint ``steps``/``resample``, ``masks``, the
    ``nfe_table`` and, when ``palette_net`` is given, ``palette`` = ``{"solver", "steps"}``).
    ``xi, yi``: the test digits and labels; ``real``: real test digits for the Fréchet distance.
    """
    ne, size = len(xi), xi.shape[-1]
    for kind in ic["masks"]:
        mask = inpaint.make_mask(kind, ne, size, generator=torch.Generator().manual_seed(0)).to(device)
        hole = 1 - mask
        setting = f"{kind}-mask"
        t0 = time.perf_counter()
        bh = inpaint.biharmonic(xi.cpu(), mask.cpu()).to(device)
        results = {"biharmonic": (bh, time.perf_counter() - t0, None)}
        t0 = time.perf_counter()
        ex = inpaint.exemplar_fill(xi, mask, x_tr.to(device))  # the known pixels' best training match
        results["exemplar-fill"] = (ex, time.perf_counter() - t0, None)
        repaint = inpaint.repaint_settings(ic["steps"], ic["resample"])
        for method, kw in (("polydiff-repaint", repaint),
                           ("polydiff-replacement", {"steps": ic["steps"], "jump_length": 1, "resample": 1})):
            out, secs, nfe = timed_nfe(uncond, ne, inpaint.inpaint, uncond, proc, xi, mask, solver="ddpm",
                                       generator=torch.Generator(device).manual_seed(2), **kw)
            results[method] = (out, secs, nfe)
        if palette_net is not None:
            pc = ic["palette"]
            results["polydiff-palette"] = timed_nfe(
                palette_net, ne, palette.palette_inpaint, palette_net, proc, xi, mask, steps=pc["steps"],
                solver=pc["solver"], generator=torch.Generator(device).manual_seed(2))
        for method, (out, secs, nfe) in results.items():
            # headline: the inpainted digit's class and realism; PSNR-hole and SSIM secondary
            for metric, value in metrics.inpainting_scores(clf, out, yi, real.to(device), truth=xi,
                                                           hole=hole).items():
                extra = accuracy_interval(value, ne) if metric == "classifier-accuracy" else {}
                rec("inpaint", setting, method, metric, value, metric != "classifier-frechet", nfe, secs, ne,
                    **extra)
        shown = [("input", xi * mask), ("biharmonic", results["biharmonic"][0]),
                 ("replacement", results["polydiff-replacement"][0]), ("RePaint", results["polydiff-repaint"][0])]
        if palette_net is not None:
            shown.append(("Palette", results["polydiff-palette"][0]))
        plots.save_side_by_side([*shown, ("truth", xi)], out_dir / f"inpaint_{kind}.png")
        nn_ = ne if n_nfe is None else n_nfe  # the quality-vs-NFE table uses the first n_nfe images
        for solver, st, r, j in ic.get("nfe_table", ()) if kind == "center" else ():
            out, secs, nfe = timed_nfe(uncond, nn_, inpaint.inpaint,
                uncond, proc, xi[:nn_], mask[:nn_], steps=st, solver=solver, jump_length=j, resample=r,
                generator=torch.Generator(device).manual_seed(2))
            rec("inpaint", f"{setting}-nfe", f"polydiff-{solver}-{st}x{r}", "PSNR-hole",
                metrics.masked_psnr(out, xi[:nn_], hole[:nn_]), True, nfe, secs, nn_)
        if ic.get("nfe_table") and kind == "center":
            rec("inpaint", f"{setting}-nfe", "biharmonic", "PSNR-hole",
                metrics.masked_psnr(bh[:nn_], xi[:nn_], hole[:nn_]), True, None, results["biharmonic"][1], nn_)

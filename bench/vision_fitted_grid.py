"""Time steps fitted to a trained image model (issue #25): :func:`polydiff.core.optimize_grid` on
the shipped MNIST generator, scored the way the vision benchmark scores generation.

The model is the shipped ``mnist-cfg`` pipeline sampled with its own hooks: DDPM's 1,000-step
``DiscreteVP``, an eps-predicting class-conditional U-Net, classifier-free guidance (the
pipeline's scale, 3) and ``x0_hat`` clipped to ``[-1, 1]``. For each step count, the grid of
DPM-Solver++(2M) is fitted on ``n_fit`` prior samples with balanced labels against a fine
solution from the same noise (``reference_steps`` DPM-Solver++(2M) steps uniform in log-SNR:
adaptive RK45 needs ~750 guided evaluations per sample at ``rtol = 1e-5`` on this model and
comes no closer). Then every grid samples the same held-out noise and labels (``n_eval``, 10
classes balanced, another seed) and is scored with the benchmark's MNIST classifier: accuracy on
the requested labels and Fréchet distance to real test images in its feature space (95%
bootstrap intervals; each replicate resamples the same indices for every method, so the
methods' intervals are paired), and the RMSE to the fine solution on the first ``n_rmse``
held-out samples.

Methods per step count: the fitted grid; the grid the fit started from (the best analytic kind
on the fitting samples); uniform log-SNR (``grid="log_snr"``); the pipeline's own grid for the
solver (diffusers' DPM-Solver multistep grid, ``leading`` spacing, starting at t = 830 of 999
at 5 steps), and held-out real test images as the floor. Records carry the fit's wall time and
network evaluations (``fit_seconds``, ``fit_evaluations``: single-image forward passes, two per
step and sample with guidance), their CPU time (``fit_cpu_seconds``; on a shared machine
the wall time mostly measures the other jobs) and the CPU time of one image evaluation
(``cpu_ms_per_evaluation``, from the fine solution at batch ``n_fit``).
"""
from __future__ import annotations

import pathlib
import time

import numpy as np
import polydiff.core as pc
import torch
from polydiff.bench.common import NFECounter, record, timed_nfe
from polydiff.vision import metrics
from polydiff.vision.data import from_model_range
from torch import Tensor

__all__ = ["FULL", "pipeline_sample", "run_fitted_grid"]

#: The full-mode setting (about an hour of one loaded CPU thread; see the module docstring).
FULL = {"pipeline": "mnist-cfg", "solver": "dpmpp_2m", "steps": (5, 10), "n_fit": 256, "n_eval": 1000,
        "n_rmse": 200, "reference_steps": 200, "sweeps": 1, "iters": 6, "budget_s": 3600.0,
        "seeds": {"fit": 11, "eval": 12}, "bootstrap": 200}


def _hooks(pipe, labels: Tensor) -> dict:
    """The pipeline's sampling hooks for ``labels``: condition, guidance and x0 clipping."""
    null = torch.full_like(labels, pipe.unet.null_class)
    return {"prediction": "eps", "cond": {"y": labels}, "guidance": pc.CFG(pipe.guidance_scale, {"y": null}),
            "project_x0": pc.clip()}


def pipeline_sample(pipe, x_T: Tensor, labels: Tensor, solver: str, steps: int | None = None,
                    grid: pc.Grid | str | None = None) -> Tensor:
    """``x_0`` in model range ``[-1, 1]`` from ``x_T`` as ``pipe(labels, solver=solver, steps=steps)``
    samples it (with ``grid=None`` the very same numbers), on ``grid`` when one is given."""
    return pc.sample(pipe.unet, pipe.process, x_T, steps=steps if grid is None or isinstance(grid, str) else grid.steps,
                     solver=solver, grid=grid, **_hooks(pipe, labels))


def _balanced(n: int, classes: int) -> Tensor:
    return torch.arange(n) % classes


def _bootstrap(clf, images: dict, labels: dict, real: Tensor, reps: int, seed: int) -> dict:
    """95% bootstrap intervals of each method's Fréchet distance and accuracy; every replicate
    resamples the same indices for every method (paired: the methods share noise and labels)."""
    clf.eval()
    with torch.no_grad():
        feats = {m: clf.features(x).double().cpu().numpy() for m, x in images.items()}
        hits = {m: (clf(x).argmax(-1) == labels[m]).double().cpu().numpy() for m, x in images.items()}
        real_f = clf.features(real).double().cpu().numpy()
    rng = np.random.default_rng(seed)
    n, n_real = len(next(iter(hits.values()))), len(real_f)
    fd, acc = {m: [] for m in images}, {m: [] for m in images}
    for _ in range(reps):
        i, j = rng.integers(0, n, n), rng.integers(0, n_real, n_real)
        for m in images:
            fd[m].append(metrics.frechet_distance(feats[m][i], real_f[j]))
            acc[m].append(hits[m][i].mean())
    def q(v):
        return float(np.quantile(v, 0.025)), float(np.quantile(v, 0.975))
    return {m: {"fd": q(fd[m]), "acc": q(acc[m]), "fd_reps": np.asarray(fd[m])} for m in images}


def _fit_start(pipe, x_fit: Tensor, y_fit: Tensor, ref_fit: Tensor, solver: str, steps: int) -> tuple[str, pc.Grid]:
    """The best grid kind (``final="spaced"``) on the fitting samples: optimize_grid's default
    start for a ``DiscreteVP`` with diffusers spacing, chosen here so that it can be reported."""
    def err(grid):
        return float((pipeline_sample(pipe, x_fit, y_fit, solver, grid=grid) - ref_fit).pow(2).mean())
    grids = {k: pc.make_grid(pipe.process, steps, k, final="spaced") for k in pc.GRID_KINDS}
    kind = min(grids, key=lambda k: err(grids[k]))
    return kind, grids[kind]


def run_fitted_grid(cfg: dict, clf: torch.nn.Module, x_te: Tensor, y_te: Tensor, out_dir: pathlib.Path,
                    device: str = "cpu", say=None) -> list[dict]:
    """Fit, sample and score (see the module docstring); writes the fitted grids as JSON to
    ``out_dir/fitted_grids/<pipeline>-<solver>-<steps>.json``. ``x_te, y_te``: MNIST test images
    in ``[0, 1]`` (the first ``n_eval`` are the real-image floor, the last ``n_eval`` the
    reference set of the Fréchet distance, as in the vision benchmark's generation)."""
    from polydiff.vision.pipelines import VisionGenerationPipeline

    say = say or (lambda stage: None)
    pipe = VisionGenerationPipeline.from_pretrained(cfg["pipeline"], device=device)
    proc, net, solver, shape = pipe.process, pipe.unet, cfg["solver"], pipe.image_shape
    n_fit, n_eval, n_rmse = cfg["n_fit"], cfg["n_eval"], min(cfg["n_rmse"], cfg["n_eval"])
    dataset, task = f"mnist-{shape[-1]}px", "generate-fitted-grid"
    grid_dir = pathlib.Path(out_dir) / "fitted_grids"
    grid_dir.mkdir(parents=True, exist_ok=True)
    fine = pc.make_grid(proc, cfg["reference_steps"], "log_snr")
    fine_name = f"{solver}-{cfg['reference_steps']}-log-snr"

    x_fit = proc.prior_sample((n_fit, *shape), generator=torch.Generator().manual_seed(cfg["seeds"]["fit"])).to(device)
    y_fit = _balanced(n_fit, pipe.num_classes).to(device)
    x_chk = proc.prior_sample((n_eval, *shape), generator=torch.Generator().manual_seed(cfg["seeds"]["eval"])).to(device)
    y_chk = _balanced(n_eval, pipe.num_classes).to(device)
    say(f"fine solution ({fine_name}) on {n_fit} fitting and {n_rmse} held-out samples")
    cpu0 = time.process_time()
    ref_fit, ref_s, ref_nfe = timed_nfe(net, n_fit, pipeline_sample, pipe, x_fit, y_fit, solver, grid=fine)
    ref_cpu = time.process_time() - cpu0
    # CPU time of one image through the U-Net at batch n_fit: on a shared machine the wall time
    # depends on the other jobs, the CPU time far less
    ms_per_eval = 1000.0 * ref_cpu / (ref_nfe * n_fit)
    ref_chk = pipeline_sample(pipe, x_chk[:n_rmse], y_chk[:n_rmse], solver, grid=fine)

    real = x_te[-n_eval:].to(device)
    floor = x_te[:n_eval].to(device)
    records: list[dict] = []
    for steps in cfg["steps"]:
        say(f"fit the {steps}-step grid of {solver}")
        count = NFECounter(net)
        t0, cpu0 = time.perf_counter(), time.process_time()
        kind, start = _fit_start(pipe, x_fit, y_fit, ref_fit, solver, steps)
        fitted = pc.optimize_grid(net, proc, x_fit, steps, solver, reference=ref_fit, start=start,
                                  sweeps=cfg["sweeps"], iters=cfg["iters"], budget_s=cfg["budget_s"],
                                  **_hooks(pipe, y_fit))
        fit_s, fit_cpu = time.perf_counter() - t0, time.process_time() - cpu0
        fit_evals = count.samples
        count.close()
        pc.grid_to_json(fitted, grid_dir / f"{cfg['pipeline']}-{solver}-{steps}.json")
        grids = {"polydiff-fitted-grid": fitted, f"fit-start({kind}, spaced)": start,
                 "log-snr": "log_snr", "pipeline-default-grid": None}
        say(f"sample {n_eval} held-out images per grid at {steps} steps")
        images, rmse, secs, nfes = {}, {}, {}, {}
        for method, grid in grids.items():
            x0, secs[method], nfes[method] = timed_nfe(net, n_eval, pipeline_sample, pipe, x_chk, y_chk, solver,
                                                       steps, grid)
            rmse[method] = float((x0[:n_rmse].double() - ref_chk.double()).pow(2).mean().sqrt())
            images[method] = from_model_range(x0)
        images["real-test-images"] = floor
        labels = {m: y_te[:n_eval].to(device) if m == "real-test-images" else y_chk for m in images}
        boot = _bootstrap(clf, images, labels, real, cfg["bootstrap"], seed=steps)
        base = boot["log-snr"]["fd_reps"]
        setting = f"{solver}-{steps}-steps-cfg{pipe.guidance_scale:g}"
        for method, imgs in images.items():
            is_real = method == "real-test-images"
            extra = {} if is_real else {"rmse_to_fine": rmse[method], "fine_solution": fine_name,
                                        "n_rmse": n_rmse}
            if method == "polydiff-fitted-grid":
                diff = boot[method]["fd_reps"] - base  # paired: the same resampled indices
                extra.update(fit_seconds=fit_s, fit_cpu_seconds=fit_cpu, fit_evaluations=fit_evals,
                             fit_samples=n_fit, reference_seconds=ref_s, reference_cpu_seconds=ref_cpu,
                             cpu_ms_per_evaluation=ms_per_eval, grid_t=fitted.t.tolist(),
                             frechet_minus_log_snr_ci=[float(np.quantile(diff, 0.025)),
                                                       float(np.quantile(diff, 0.975))])
            acc = metrics.accuracy(clf, imgs, labels[method])
            fd = metrics.classifier_frechet_distance(clf, imgs, real)
            nfe, s = (None, 0.0) if is_real else (nfes[method], secs[method])
            lo, hi = boot[method]["fd"]
            records.append(record("vision", task, dataset, setting, method, "classifier-frechet", fd, False, nfe, s,
                                  n_eval, ci_low=lo, ci_high=hi, **extra))
            lo, hi = boot[method]["acc"]
            records.append(record("vision", task, dataset, setting, method, "classifier-accuracy", acc, True, nfe, s,
                                  n_eval, ci_low=lo, ci_high=hi, **extra))
            if not is_real:
                records.append(record("vision", task, dataset, setting, method, "rmse-to-fine-solution",
                                      rmse[method], False, nfe, s, n_rmse, **extra))
    return records

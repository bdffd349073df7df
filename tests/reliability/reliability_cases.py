"""The bad-input catalogue: each case is (api, what is wrong, call, expected error, message).

`tests/reliability/test_catalogue.py` runs every case; `python tests/reliability/catalogue.py`
writes docs/reliability.md from the same list (a test fails when the document is stale).
Domains add their cases to CASES in the same form.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch


@dataclass(frozen=True)
class Case:
    api: str
    problem: str
    call: Callable[[], object]
    error: type
    match: str


#: A path that does not exist: loaders of download-only datasets must say how to provide the files.
MISSING = Path("/nonexistent/polydiff-data")


def _zeros_model(x, t):
    return torch.zeros_like(x)


def _core_cases() -> list[Case]:
    import polydiff.core as pc

    x = torch.randn(2, 3)
    vp = pc.VP()
    return [
        Case("pc.restart", "t_restart outside the process range",
             lambda: pc.restart(_zeros_model, vp, x, t_restart=3.0, rounds=1, steps=2), ValueError,
             "t_restart must lie in"),
        Case("pc.sample", "unknown solver name", lambda: pc.sample(_zeros_model, vp, x, solver="dpm_fast"),
             ValueError, "unknown solver"),
        Case("pc.sample", "unknown prediction type", lambda: pc.sample(_zeros_model, vp, x, prediction="noise"),
             ValueError, "unknown prediction"),
        Case("pc.sample", "steps <= 0", lambda: pc.sample(_zeros_model, vp, x, steps=0), ValueError,
             "steps must be an integer >= 1"),
        Case("pc.sample", "steps not an integer", lambda: pc.sample(_zeros_model, vp, x, steps=2.5), ValueError,
             "steps must be an integer"),
        Case("pc.sample", "t_start outside the process range", lambda: pc.sample(_zeros_model, vp, x, t_start=1.5),
             ValueError, "outside the process range"),
        Case("pc.sample", "x_T contains NaN", lambda: pc.sample(_zeros_model, vp, torch.full((2, 3), float("nan"))),
             ValueError, "NaN or inf"),
        Case("pc.sample", "x_T is an integer tensor", lambda: pc.sample(_zeros_model, vp, torch.ones(2, 3, dtype=torch.long)),
             TypeError, "floating-point"),
        Case("pc.sample", "empty batch", lambda: pc.sample(_zeros_model, vp, torch.zeros(0, 3)), ValueError,
             "non-empty batch"),
        Case("pc.sample", "model output shape differs from x", lambda: pc.sample(lambda x, t: torch.zeros(2, 4), vp, x),
             ValueError, "does not match x"),
        Case("pc.sample", "model returns NaN mid-trajectory",
             lambda: pc.sample(lambda x, t: x * float("nan") if float(t[0]) < 0.5 else x, vp, x, steps=6),
             FloatingPointError, r"at step \d"),
        Case("pc.sample", "per-sample t_start of the wrong batch size",
             lambda: pc.sample(_zeros_model, vp, x, t_start=torch.tensor([0.5, 0.4, 0.3])), ValueError, "per-sample"),
        Case("pc.CFG", "guidance scale NaN", lambda: pc.CFG(float("nan")), ValueError, "finite"),
        Case("pc.Known", "mask not 0/1", lambda: pc.Known(torch.zeros(2, 3), torch.full((2, 3), 0.5)), ValueError,
             "only 0 and 1"),
        Case("pc.Known", "NaN at a known entry", lambda: pc.Known(torch.full((2, 3), float("nan")), torch.ones(2, 3)),
             ValueError, r"known\.values \(where mask == 1\) contains 6 non-finite"),
        Case("pc.VP", "unknown schedule", lambda: pc.VP(schedule="exp"), ValueError, "unknown VP schedule"),
        Case("pc.DiscreteVP", "beta table with NaN", lambda: pc.DiscreteVP(torch.tensor([0.1, float("nan")])),
             ValueError, "betas must be finite"),
        Case("pc.DiscreteVP.from_diffusers", "not a config", lambda: pc.DiscreteVP.from_diffusers(3), TypeError,
             "scheduler config"),
        Case("pc.make_grid", "unknown grid kind", lambda: pc.make_grid(vp, 4, "cosine"), ValueError,
             "unknown grid kind"),
        Case("GaussianProcess.prior_sample", "zero-sized shape", lambda: vp.prior_sample((0, 3)), ValueError,
             "positive sizes"),
        Case("pc.process_from_config", "config without a class", lambda: pc.process_from_config({"beta_min": 1}),
             ValueError, "'class'"),
        Case("pc.process_from_config", "config missing a key (was KeyError)",
             lambda: pc.process_from_config({"class": "DiscreteVP"}), ValueError, r"lacks the keys \['betas'\]"),
        Case("pc.sample", "eta far above 1 (was silent)",
             lambda: pc.sample(_zeros_model, vp, x, steps=3, solver="ddim", eta=50.0), ValueError,
             r"eta must lie in \[0, 1\], got 50"),
        Case("pc.sample", "infinite eta (was blamed on the model)",
             lambda: pc.sample(_zeros_model, vp, x, steps=3, solver="ddim", eta=float("inf")), ValueError,
             "eta must be a finite number"),
        Case("pc.sample", "infinite snr (was blamed on the model)",
             lambda: pc.sample(_zeros_model, vp, x, steps=3, solver="predictor_corrector", snr=float("inf")),
             ValueError, "snr must be a finite number"),
        Case("pc.sample", "generator given as an int seed (was AttributeError)",
             lambda: pc.sample(_zeros_model, vp, x, steps=3, solver="ddpm", generator=3), TypeError,
             r"generator must be a torch.Generator.*manual_seed\(3\)"),
        Case("pc.sample", "NaN in a conditioning input (was blamed on the model)",
             lambda: pc.sample(lambda x, t, y: x * y[:, None], vp, x, steps=3,
                               cond={"y": torch.tensor([1.0, float("nan")])}), ValueError,
             r"cond\['y'\] contains 1 non-finite"),
        Case("pc.sample", "grid built for another process (was silent)",
             lambda: pc.sample(_zeros_model, vp, x, grid=pc.make_grid(pc.EDM(), 4)), ValueError,
             "built for another process"),
        Case("pc.sample", "noise sampler returning [1, D] (was broadcast)",
             lambda: pc.sample(_zeros_model, vp, x, steps=3, solver="ddpm",
                               noise=lambda z, i: torch.randn(1, z.shape[1])), ValueError,
             r"noise\(x, step\) must return a tensor of the state's shape \(2, 3\), got \(1, 3\)"),
        Case("GaussianProcess.prior_sample", "float size (was truncated)", lambda: vp.prior_sample((2, 3.7)),
             TypeError, r"shape\[1\] must be an int, got 3.7"),
        Case("pc.make_grid", "Karras rho = 0 (was ZeroDivisionError)",
             lambda: pc.make_grid(pc.EDM(), 4, "karras", rho=0.0), ValueError, r"rho must lie in \(0, 1000\]"),
        Case("pc.GaussianNoise", "int seed as generator (was AttributeError at the first draw)",
             lambda: pc.GaussianNoise(5), TypeError, "generator must be a torch.Generator"),
        *_core_cases_31(x, vp),
    ]


def _core_cases_31(x, vp) -> list[Case]:
    """Issue #31: caller inputs named instead of blamed on the model, or accepted silently."""
    import numpy as np
    import polydiff.core as pc

    nan = float("nan")
    net_y = lambda x, t, y=None: 0.1 * x
    md = pc.MaskedDiffusion(5, 4)
    tok = torch.zeros(2, 3, dtype=torch.long)
    logits = lambda z, t, **k: torch.zeros(*z.shape, 5)
    g = torch.Generator().manual_seed(0)
    return [
        Case("pc.sample", "NaN in a numpy cond value (was blamed on the model)",
             lambda: pc.sample(net_y, vp, x, steps=2, cond={"y": np.array([nan])}), ValueError, r"cond\['y'\]"),
        Case("pc.sample", "NaN in a list cond value (was blamed on the model)",
             lambda: pc.sample(net_y, vp, x, steps=2, cond={"y": [nan, 1.0]}), ValueError, r"cond\['y'\]"),
        Case("pc.sample", "classifier log_prob returning NaN (was blamed on the model)",
             lambda: pc.sample(_zeros_model, vp, x, steps=2,
                               guidance=pc.ClassifierGuidance(lambda z, t: z.sum(1) * nan)),
             FloatingPointError, "classifier's log_prob"),
        Case("pc.ClassifierGuidance", "scale 1e30 (overflowed, blamed on the model)",
             lambda: pc.ClassifierGuidance(lambda z, t: z.sum(1), scale=1e30), ValueError, "scale must lie in"),
        Case("pc.CFG", "scale=True (was accepted as 1)", lambda: pc.CFG(scale=True), TypeError,
             "CFG scale must be a real number"),
        Case("pc.sample", "predictor_corrector snr=1e30 (overflowed, blamed on the model)",
             lambda: pc.sample(_zeros_model, vp, x, steps=2, solver="predictor_corrector", snr=1e30),
             ValueError, r"snr must lie in \(0, 1\]"),
        Case("pc.sample", "callback not callable", lambda: pc.sample(_zeros_model, vp, x, steps=2, callback="f"),
             TypeError, "callback must be callable"),
        Case("pc.sample", "check_finite='no' (was truthy)",
             lambda: pc.sample(_zeros_model, vp, x, steps=2, check_finite="no"), TypeError,
             "check_finite must be a bool"),
        Case("pc.sample", "rk45 rtol=1e30 (was accepted)",
             lambda: pc.sample(_zeros_model, vp, x, steps=2, solver="rk45", rtol=1e30), ValueError,
             r"rtol must lie in \(0, 1\)"),
        Case("pc.Known", "jump_length=2.5 (was truncated)",
             lambda: pc.Known(torch.zeros(2, 3), torch.ones(2, 3), jump_length=2.5), TypeError,
             "known.jump_length must be an integer"),
        Case("pc.VP", "t_max=2.0 beyond the schedule's [0, 1]", lambda: pc.VP(t_max=2.0), ValueError,
             r"t_max must lie in"),
        Case("pc.VP", "beta_max=True (was 1.0)", lambda: pc.VP(beta_max=True), TypeError,
             "beta_max must be a real number"),
        Case("pc.VP", "cosine s < 0 (was ZeroDivisionError in sample)", lambda: pc.VP(schedule="cosine", s=-1.0),
             ValueError, r"s must lie in \[0, inf\)"),
        Case("pc.EDM", "rho = 0 (was accepted)", lambda: pc.EDM(rho=0.0), ValueError, r"rho must lie in"),
        Case("GaussianProcess.sigma", "t beyond t_max on the CPU (was clamped)",
             lambda: vp.sigma(torch.tensor([2.0])), ValueError, r"t outside the process range"),
        Case("pc.DiscreteVP", "prediction_type='sample2' (was accepted)",
             lambda: pc.DiscreteVP(pc.beta_schedule("linear", 10), prediction_type="sample2"), ValueError,
             "prediction_type must be one of"),
        Case("pc.DiscreteVP", "rank-2 betas (was flattened)",
             lambda: pc.DiscreteVP(pc.beta_schedule("linear", 10)[None]), ValueError, "betas must be 1-D"),
        Case("pc.beta_schedule", "beta_start given to the fixed cosine schedule (was ignored)",
             lambda: pc.beta_schedule("cosine", 10, beta_start=0.5), ValueError, r"takes no \['beta_start'\]"),
        Case("pc.Grid", "increasing t (was accepted)",
             lambda: pc.Grid(t=torch.tensor([0.1, 1.0]), alpha=torch.ones(2), sigma=torch.ones(2)), ValueError,
             "grid t must be non-increasing"),
        Case("pc.Grid", "integer t (was accepted)",
             lambda: pc.Grid(t=torch.tensor([1, 0]), alpha=torch.ones(2), sigma=torch.tensor([1.0, 0.0])),
             TypeError, "grid t must be a floating-point tensor"),
        Case("pc.make_grid", "steps=5.0 (was accepted)", lambda: pc.make_grid(vp, 5.0), TypeError,
             "steps must be an integer"),
        Case("pc.dsm_loss", "int seed as generator (was AttributeError)",
             lambda: pc.dsm_loss(_zeros_model, vp, x, generator=3), TypeError, "generator must be a torch.Generator"),
        Case("pc.dsm_loss", "NaN in cond (was blamed on the net)",
             lambda: pc.dsm_loss(net_y, vp, x, cond={"y": torch.tensor([nan])}), ValueError, r"cond\['y'\]"),
        Case("pc.dsm_loss", "edm_p_mean=1e30 (was blamed on the net)",
             lambda: pc.dsm_loss(_zeros_model, pc.EDM(), x, time_sampling="lognormal", edm_p_mean=1e30),
             ValueError, "edm_p_mean must lie in"),
        Case("pc.ode_nll", "int seed as generator (was AttributeError)",
             lambda: pc.ode_nll(_zeros_model, vp, x, generator=3), TypeError, "generator must be a torch.Generator"),
        Case("pc.mdlm_loss", "t = 0 where the weight diverges (was inf loss)",
             lambda: pc.mdlm_loss(logits, md, tok, t=torch.zeros(2)), ValueError, r"t must lie in \[t_eps, 1\]"),
        Case("pc.masked_sample", "shape and x disagree (shape was ignored)",
             lambda: pc.masked_sample(logits, md, (3, 3), steps=2, x=tok), ValueError, "shape .* and x .* disagree"),
        Case("pc.randn", "int seed as generator (was a torch signature dump)",
             lambda: pc.randn((2, 3), generator=5), TypeError, "generator must be a torch.Generator"),
        Case("pc.Denoiser", "step index beyond the grid (was IndexError)",
             lambda: pc.Denoiser(_zeros_model, vp, pc.make_grid(vp, 2), "eps", x)(x, 10), ValueError,
             "step index i must lie in"),
        Case("pc.optimize_grid", "eta=50 for ddim (was blamed on the rk45 reference)",
             lambda: pc.optimize_grid(_zeros_model, vp, x, 3, solver="ddim", eta=50), ValueError,
             r"eta must lie in \[0, 1\]"),
        Case("pc.prediction_coefficients", "sigma_data <= 0 (was accepted)",
             lambda: pc.prediction_coefficients("edm", torch.ones(1), torch.ones(1), sigma_data=0.0), ValueError,
             "sigma_data must lie in"),
        Case("pc.clip", "lo=None (was a raw comparison error)", lambda: pc.clip(lo=None), TypeError,
             "lo must be a real number"),
        Case("pc.randn", "int shape like prior_sample (was 'int' is not iterable): a negative size is named",
             lambda: pc.randn((2, -3), g), ValueError, "shape must have positive sizes"),
        *_training_cases_31(),
    ]


def _training_cases_31() -> list[Case]:
    from polydiff.core import training as T
    from polydiff.core.training.checkpoint import load_weights
    from polydiff.core.training.serialize import read_safetensors
    from torch import nn

    net = nn.Linear(3, 2)
    nan_w = {"weight": torch.full((2, 3), float("nan")), "bias": torch.zeros(2)}
    int_w = {"weight": torch.zeros(2, 3, dtype=torch.long), "bias": torch.zeros(2)}
    return [
        Case("TrainConfig", "lr=True (was accepted)", lambda: T.TrainConfig(steps=2, batch_size=2, lr=True),
             TypeError, "TrainConfig.lr must be a real number"),
        Case("TrainConfig", "ema_power=inf (was accepted)",
             lambda: T.TrainConfig(steps=2, batch_size=2, ema_power=float("inf")), ValueError,
             "TrainConfig.ema_power must be a finite number"),
        Case("load_weights", "NaN weights (were loaded)", lambda: load_weights(net, nan_w, Path("w.safetensors")),
             ValueError, r"w\.safetensors: non-finite .* \['weight'\]"),
        Case("load_weights", "int64 data into a float parameter (was cast)",
             lambda: load_weights(net, int_w, Path("w.safetensors")), ValueError,
             r"w\.safetensors: dtype mismatch weight"),
        Case("read_safetensors", "a directory (was 'file is missing')", lambda: read_safetensors(Path(".")),
             ValueError, "is a directory"),
    ]


class _TinyNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 1, 3, padding=1)

    def forward(self, x, t):
        return self.conv(x)


def _vision_cases() -> list[Case]:
    from polydiff.vision import data, inpaint
    from polydiff.vision.simplex import simplex_noise

    return [
        Case("vision.data.check_images", "wrong rank", lambda: data.check_images(torch.rand(2, 8, 8)), ValueError,
             r"\[N, C, H, W\]"),
        Case("vision.data.check_images", "values outside [0, 1]", lambda: data.check_images(torch.linspace(0, 2, 16).reshape(1, 1, 4, 4)),
             ValueError, r"\[0, 1\]"),
        Case("vision.data.check_images", "NaN pixels", lambda: data.check_images(torch.full((1, 1, 2, 2), float("nan"))),
             ValueError, "NaN"),
        Case("vision.data.check_images", "integer images",
             lambda: data.check_images(torch.zeros(1, 1, 2, 2, dtype=torch.long)), TypeError, "float"),
        Case("vision.inpaint.check_mask", "mask not 0/1",
             lambda: inpaint.check_mask(torch.full((1, 1, 4, 4), 0.5), torch.rand(1, 1, 4, 4)), ValueError, "0 and 1"),
        Case("vision.inpaint.make_mask", "unknown mask kind", lambda: inpaint.make_mask("triangle", 1, 8), ValueError,
             "unknown mask kind"),
        Case("vision.simplex_noise", "infinite frequency (was silent NaN)",
             lambda: simplex_noise((1, 1, 4, 4), frequency=float("inf")), ValueError, "finite and > 0"),
        Case("vision.simplex_noise", "normalising a 1x1 image (was silent NaN)",
             lambda: simplex_noise((2, 1, 1, 1)), ValueError, "at least 2"),
        Case("vision.data.load_mnist", "folder without the IDX files", lambda: data.load_mnist(path=MISSING / "mnist"),
             FileNotFoundError, "train-images-idx3-ubyte"),
        Case("vision.data.load_nuclei", "missing image file",
             lambda: data.load_nuclei(path=MISSING / "img.tif", mask_path=MISSING / "mask.tif"), FileNotFoundError,
             "pass path= and mask_path="),
        *_vision_sampling_cases(),
        *_vision_metric_cases(),
        *_vision_file_cases(),
        *_vision_cases_31b(),
    ]


def _vision_cases_31b() -> list[Case]:
    """Second probe of #31: scale checks, unused-but-bad parameters, call-time overrides."""
    import tempfile

    from polydiff.vision import (
        anomaly,
        generate,
        image_files,
        inpaint,
        metrics,
        pipelines,
        sdedit,
        segment,
    )
    from polydiff.vision import train as vtrain
    from polydiff.vision._common import default_process
    from polydiff.vision.nets import Classifier, ClassifierConfig, UNetConfig

    proc, x = default_process(), torch.rand(2, 1, 8, 8)
    plain, cfg = _vision_unet(), _vision_unet(num_classes=3)
    clf = Classifier(ClassifierConfig(num_classes=3, width=8)).eval()
    gpipe = pipelines.VisionGenerationPipeline(cfg, proc, (1, 8, 8), steps=1)
    ipipe = pipelines.InpaintingPipeline(plain, proc, (1, 8, 8), steps=2)
    gauss = anomaly.noise_sampler("gaussian")
    out = Path(tempfile.mkdtemp(prefix="polydiff-case-"))
    return [
        Case("vision.anomaly.reconstruct", "t_star as a fraction on DiscreteVP's 0..999 steps (was no noise)",
             lambda: anomaly.reconstruct(plain, proc, x, 0.3, noise=gauss, steps=1), ValueError,
             r"t_star is a time on the process's own scale.*0\.3 \* 999"),
        Case("vision.anomaly.reconstruct", "noise returning NaN (blamed eps)",
             lambda: anomaly.reconstruct(plain, proc, x, 200, noise=lambda z, k: torch.full_like(z, float("nan")),
                                         steps=1), ValueError, r"noise\(x, 0\) contains"),
        Case("vision.anomaly.reconstruct", "noise returning one row for a batch of 2 (blamed eps)",
             lambda: anomaly.reconstruct(plain, proc, x, 200, noise=lambda z, k: torch.randn(1, *z.shape[1:]),
                                         steps=1), ValueError, r"noise\(x, 0\) must return a tensor shaped like x"),
        Case("vision.anomaly.image_scores", "q ignored by 'mean' but out of range (was accepted)",
             lambda: anomaly.image_scores(torch.rand(2, 4, 4), "mean", q=7.0), ValueError, r"q must lie in \(0, 1\)"),
        Case("vision.anomaly.autoencoder_maps", "3-channel images for a 1-channel autoencoder (RuntimeError)",
             lambda: anomaly.autoencoder_maps(anomaly.ConvAutoencoder(1, 8, 2), torch.rand(1, 3, 8, 8)), ValueError,
             r"images must have 1 channel"),
        Case("vision.anomaly.noise_sampler", "generator given as a seed (AttributeError at the draw)",
             lambda: anomaly.noise_sampler("gaussian", 3), TypeError, "generator must be a torch.Generator"),
        Case("vision.generate.generate", "scale as a string (was accepted)",
             lambda: generate.generate(cfg, proc, torch.tensor([0]), scale="2", steps=1, shape=(1, 8, 8)), TypeError,
             "scale must be a real number"),
        Case("vision.generate.generate", "process=None (AttributeError)",
             lambda: generate.generate(cfg, None, torch.tensor([0]), steps=1, shape=(1, 8, 8)), TypeError,
             "process must be a polydiff.core GaussianProcess"),
        Case("vision.generate.drop_labels", "negative null_class (was written into the labels)",
             lambda: generate.drop_labels(torch.tensor([0, 1]), 0.5, -1), ValueError, "null_class must be an integer >= 0"),
        Case("vision.VisionGenerationPipeline.__call__", "negative guidance_scale at call time (constructor refuses it)",
             lambda: gpipe(torch.tensor([0]), guidance_scale=-3.0), ValueError, r"guidance_scale must lie in \[0, inf\)"),
        Case("vision.InpaintingPipeline.schedule", "jump_length=-3 (was returned as the schedule)",
             lambda: ipipe.schedule(jump_length=-3), ValueError, "jump_length must be an integer >= 1"),
        Case("vision.inpaint.make_mask", "box=5 with kind 'half', which does not use it (was ignored)",
             lambda: inpaint.make_mask("half", 1, 8, box=5.0), ValueError, r"box must lie in \(0, 1\)"),
        Case("vision.sdedit.stroke_painting", "more cells than pixels (was up-sampled silently)",
             lambda: sdedit.stroke_painting(x, 100), ValueError, "cells must be at most the image side 8"),
        Case("vision.metrics.auprc", "scores as strings (numpy 'too many dimensions')",
             lambda: metrics.auprc(["a", "b"], [0, 1]), TypeError, "scores must be a tensor, array or list of real"),
        Case("vision.metrics.accuracy", "3-channel images for a 1-channel classifier (blamed x)",
             lambda: metrics.accuracy(clf, torch.rand(2, 3, 8, 8), torch.tensor([0, 1])), ValueError,
             "images must have 1 channel"),
        Case("vision.segment.FeatureExtractor", "a classifier instead of a U-Net (failed at the first call)",
             lambda: segment.FeatureExtractor(clf, proc, timesteps=[50]), TypeError, "net must be a polydiff.vision.nets.UNet"),
        Case("vision.nets.UNetConfig", "num_classes=-1 (message lumped three arguments)",
             lambda: UNetConfig(num_classes=-1), ValueError, "num_classes must be an integer >= 0, got -1"),
        Case("vision.nets.UNet", "t=None (raw 'Could not infer dtype')", lambda: plain(x, None), TypeError,
             "t must be a tensor of times"),
        Case("vision.nets.UNet", "class id above the null class (did not name y)",
             lambda: cfg(x[:1], torch.zeros(1), y=torch.tensor([7])), ValueError, r"y must hold class ids in 0\.\.3"),
        Case("vision.image_files.save_png", "image on the 0-255 scale (was clipped to white)",
             lambda: image_files.save_png(x[0] * 255, out / "big.png"), ValueError, r"image must lie in \[0, 1\]"),
        Case("vision.image_files.save_png", "NaN pixel (was written as black)",
             lambda: image_files.save_png(x[0].masked_fill(x[0] > 0.5, float("nan")), out / "nan.png"), ValueError,
             "image contains"),
        Case("vision.train.make_loss", "noise='simplex' for task 'generate', which does not use it (was ignored)",
             lambda: vtrain.make_loss("generate", proc, noise="simplex"), ValueError,
             "noise and simplex apply only to task='anomaly'"),
    ]


def _vision_unet(**kw):
    from polydiff.vision.nets import UNet

    return UNet(base=8, mults=(1, 2), attention_levels=(), groups=4, **kw).eval()


def _vision_sampling_cases() -> list[Case]:
    from polydiff.vision import generate, inpaint, sdedit, superres
    from polydiff.vision._common import default_process
    from polydiff.vision.simplex import simplex_noise

    proc, x = default_process(), torch.rand(2, 1, 8, 8)
    plain, cfg, sr = _vision_unet(), _vision_unet(num_classes=3), _vision_unet(cond_channels=1)
    mask = inpaint.make_mask("center", 2, 8)
    return [
        Case("vision.generate.generate", "float image size (was truncated)",
             lambda: generate.generate(cfg, proc, torch.tensor([0]), steps=1, shape=(1, 8.5, 8)), TypeError,
             r"shape\[1\] must be an int"),
        Case("vision.generate.generate", "shape with other channels than the net (blamed x)",
             lambda: generate.generate(cfg, proc, torch.tensor([0]), steps=1, shape=(3, 8, 8)), ValueError,
             "shape must have 1 channel"),
        Case("vision.generate.generate", "clip given as a string (was accepted)",
             lambda: generate.generate(cfg, proc, torch.tensor([0]), steps=1, shape=(1, 8, 8), clip="no"),
             ValueError, "clip must be one of"),
        Case("vision.generate.drop_labels", "p_uncond not a number (raw comparison error)",
             lambda: generate.drop_labels(torch.tensor([0, 1]), "0.1", 3), TypeError, "p_uncond must be a real number"),
        Case("vision.sdedit.sdedit", "strength=True (was strength 1)", lambda: sdedit.sdedit(plain, proc, x, True, steps=1),
             TypeError, "strength must be a real number"),
        Case("vision.sdedit.sdedit", "cond not a dict (raw 'not iterable')",
             lambda: sdedit.sdedit(plain, proc, x, 0.5, steps=1, cond=3), TypeError, "cond must be a dict"),
        Case("vision.sdedit.sdedit", "guide with other channels than the net (blamed x)",
             lambda: sdedit.sdedit(plain, proc, torch.rand(1, 3, 8, 8), 0.5, steps=1), ValueError,
             r"guide's \(C, H, W\) must have 1 channel"),
        Case("vision.sdedit.stroke_painting", "float cells (raw len() error)",
             lambda: sdedit.stroke_painting(x, cells=2.5), TypeError, "cells must be an integer"),
        Case("vision.inpaint.inpaint", "float jump_length (was truncated)",
             lambda: inpaint.inpaint(plain, proc, x, mask, steps=2, jump_length=2.5), TypeError,
             "jump_length must be an integer"),
        Case("vision.inpaint.inpaint", "3-channel mask on 1-channel images (RuntimeError from core)",
             lambda: inpaint.inpaint(plain, proc, x, mask.expand(2, 3, 8, 8), steps=1), ValueError,
             r"mask \(2, 3, 8, 8\) does not broadcast"),
        Case("vision.inpaint.make_mask", "negative size (RuntimeError from torch)", lambda: inpaint.make_mask("half", 1, -3),
             ValueError, "size must have positive sizes"),
        Case("vision.inpaint.make_mask", "NaN stroke width (was a mask without strokes)",
             lambda: inpaint.make_mask("strokes", 1, 8, width=float("nan")), ValueError, "width must be a finite"),
        Case("vision.inpaint.exemplar_fill", "batch=0 (raw range() error)",
             lambda: inpaint.exemplar_fill(x, mask, x, batch=0), ValueError, "batch must be an integer >= 1"),
        Case("vision.superres.bicubic", "factor=0 (RuntimeError from interpolate)", lambda: superres.bicubic(x, 0),
             ValueError, "factor must be a positive int"),
        Case("vision.superres.super_resolve", "consistent given as a string (was accepted)",
             lambda: superres.super_resolve(sr, proc, x, 2, steps=1, consistent="no"), ValueError,
             "consistent must be one of"),
        Case("vision.superres.superres_loss", "highres on the 0-255 scale (blamed lowres)",
             lambda: superres.superres_loss(sr, proc, x * 255, 2), ValueError, r"highres must lie in \[0, 1\]"),
        Case("vision.superres.consistency_projection", "factor=0 (ZeroDivisionError)",
             lambda: superres.consistency_projection(x, 0), ValueError, "factor must be a positive int"),
        Case("vision.simplex_noise", "generator given as a seed (AttributeError)",
             lambda: simplex_noise((1, 1, 4, 4), generator=3), TypeError, "generator must be a torch.Generator"),
        Case("vision.simplex_noise", "float side (was truncated)", lambda: simplex_noise((1, 1, 4.7, 4)), TypeError,
             r"shape\[2\] must be an int"),
    ]


def _vision_metric_cases() -> list[Case]:
    from polydiff.vision import anomaly, metrics, segment
    from polydiff.vision._common import default_process
    from polydiff.vision.nets import Classifier, ClassifierConfig

    x, clf = torch.rand(2, 1, 8, 8), Classifier(ClassifierConfig(num_classes=3, width=8)).eval()
    maps = torch.zeros(2, 4, 4, dtype=torch.long)
    return [
        Case("vision.metrics.accuracy", "label >= the classifier's classes (was counted as wrong)",
             lambda: metrics.accuracy(clf, x, torch.tensor([0, 5])), ValueError, r"labels must lie in 0\.\.2"),
        Case("vision.metrics.accuracy", "negative label (was counted as wrong)",
             lambda: metrics.accuracy(clf, x, torch.tensor([-1, 0])), ValueError, r"labels must lie in 0\.\.2"),
        Case("vision.metrics.iou_per_class", "class id >= num_classes (was ignored)",
             lambda: metrics.iou_per_class(maps + 5, maps, 2), ValueError, r"pred must hold class ids in 0\.\.1"),
        Case("vision.metrics.dice", "probability maps (were truncated to 0)",
             lambda: metrics.dice(torch.rand(4, 4), torch.rand(4, 4)), TypeError, "pred must be an integer tensor"),
        Case("vision.metrics.masked_psnr", "mask that does not broadcast (RuntimeError)",
             lambda: metrics.masked_psnr(x, x, torch.ones(3, 1, 8, 8)), ValueError, "mask .* does not broadcast"),
        Case("vision.metrics.frechet_distance", "NaN features (was a NaN distance)",
             lambda: metrics.frechet_distance(torch.full((3, 2), float("nan")), torch.rand(3, 2)), ValueError,
             "feats_a contains NaN"),
        Case("vision.metrics.inpainting_scores", "real images on the 0-255 scale (blamed images_b)",
             lambda: metrics.inpainting_scores(clf, x, torch.tensor([0, 1]), x * 255), ValueError,
             r"real must lie in \[0, 1\]"),
        Case("vision.anomaly.reconstruct", "noise=None (raw 'not callable')",
             lambda: anomaly.reconstruct(_vision_unet(), default_process(), x, 100, noise=None, steps=1), TypeError,
             "noise must be a callable"),
        Case("vision.anomaly.image_scores", "NaN maps (were NaN scores)",
             lambda: anomaly.image_scores(torch.full((2, 4, 4), float("nan"))), ValueError, "maps contains"),
        Case("vision.anomaly.synthetic_lesions", "radius in pixels, not fractions (was accepted)",
             lambda: anomaly.synthetic_lesions(x, torch.ones(2, 8, 8, dtype=torch.bool), radius=(2, 4)), ValueError,
             r"radius\[0\] must lie in"),
        Case("vision.anomaly.train_autoencoder", "steps=-1 (returned an untrained net)",
             lambda: anomaly.train_autoencoder(x, steps=-1), ValueError, "steps must be an integer >= 1"),
        Case("vision.segment.FeatureExtractor", "decoder level out of range (IndexError)",
             lambda: segment.FeatureExtractor(_vision_unet(), default_process(), levels=(99,))(x), ValueError,
             "levels must index"),
        Case("vision.segment.train_segmenter", "float num_classes (raw torch error)",
             lambda: segment.train_segmenter(segment.FeatureExtractor(_vision_unet(), default_process()), x,
                                             torch.zeros(2, 8, 8, dtype=torch.long), 2.5), TypeError,
             "num_classes must be an integer"),
    ]


def _vision_file_cases() -> list[Case]:
    import tempfile

    from polydiff.vision import data, pipelines
    from polydiff.vision import train as vtrain
    from polydiff.vision._common import default_process
    from polydiff.vision.nets import Classifier, ClassifierConfig, load_net, save_net

    def saved(edit) -> Path:
        folder = Path(tempfile.mkdtemp(prefix="polydiff-case-"))
        save_net(Classifier(ClassifierConfig(width=8)), folder)
        edit(folder)
        return folder

    def write(name: str, text: str):
        return lambda folder: (folder / name).write_text(text)

    def truncate(folder: Path) -> None:
        weights = folder / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[:100])

    def idx(raw: bytes) -> Path:
        path = Path(tempfile.mkdtemp(prefix="polydiff-case-")) / "train-images-idx3-ubyte"
        path.write_bytes(raw)
        return path

    cfg = _vision_unet(num_classes=3)
    return [
        Case("vision.nets.load_net", "truncated weights file", lambda: load_net(saved(truncate)), ValueError,
             r"model\.safetensors: truncated"),
        Case("vision.nets.load_net", "config.json not JSON (JSONDecodeError without the file)",
             lambda: load_net(saved(write("config.json", "{not json"))), ValueError, r"config\.json: not a JSON"),
        Case("vision.nets.load_net", "config.json with an unknown key (TypeError without the file)",
             lambda: load_net(saved(write("config.json", '{"class": "Classifier", "width": 8, "depth": 3}'))),
             ValueError, r"config\.json: unknown ClassifierConfig keys \['depth'\]"),
        Case("vision.nets.load_net", "weights of another width (RuntimeError from load_state_dict)",
             lambda: load_net(saved(write("config.json", '{"class": "Classifier", "width": 16}'))), ValueError,
             r"model\.safetensors: .*shape mismatch"),
        Case("vision.data.read_idx", "truncated IDX header (numpy buffer error without the file)",
             lambda: data.read_idx(idx(b"\x00\x00\x08\x03abc")), ValueError, "train-images-idx3-ubyte: truncated"),
        Case("vision.data.resize", "unknown mode (NotImplementedError from torch)",
             lambda: data.resize(torch.rand(1, 1, 8, 8), 4, mode="lanczos3"), ValueError, "mode must be one of"),
        Case("vision.VisionGenerationPipeline", "NaN guidance_scale (was accepted)",
             lambda: pipelines.VisionGenerationPipeline(cfg, default_process(), (1, 8, 8), guidance_scale=float("nan")),
             ValueError, "guidance_scale must be"),
        Case("vision.train.train", "label >= num_classes (IndexError mid-training)",
             lambda: vtrain.train("classifier", torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 12, 0]), steps=1),
             ValueError, r"labels must lie in 0\.\.9"),
        Case("vision.VisionGenerationPipeline", "unknown solver (failed at the first call)",
             lambda: pipelines.VisionGenerationPipeline(cfg, default_process(), (1, 8, 8), solver="dpm_fast"),
             ValueError, "solver must be one of"),
    ]


def _timeseries_cases() -> list[Case]:
    import numpy as np
    from polydiff.timeseries import calibration, masks, metrics
    from polydiff.timeseries.baselines import locf
    from polydiff.timeseries.data import Normalizer, split_by_time, windows
    from polydiff.timeseries.data_paper import load_beijing_pm25, load_physionet2012
    from polydiff.timeseries.diffusion import sample_imputations
    from polydiff.timeseries.forecast import CSDIForecaster, ets_samples, seasonal_naive
    from polydiff.timeseries.gluonts_api import CSDIEstimator
    from polydiff.timeseries.impute import CSDIImputer, ImputerConfig, check_series
    from polydiff.timeseries.pypots_api import indicating_mask
    from polydiff.timeseries.statespace import kalman_smoother, var1_model

    S, y, m = np.ones((2, 4, 3, 1)), np.ones((2, 3, 1)), np.ones((2, 3, 1), dtype=bool)
    nan_draw = np.where(np.arange(4)[None, :, None, None] == 1, np.nan, S)
    obs = torch.ones(2, 5, 3)
    return [
        Case("timeseries.metrics.mae", "mask with values other than 0/1 (was cast to True)",
             lambda: metrics.mae(S, y, np.full((2, 3, 1), 2)), ValueError, "mask must hold only 0 and 1"),
        Case("timeseries.metrics.sample_crps", "mask [1, L, K] for a batch of 2 (no broadcasting)",
             lambda: metrics.sample_crps(S, y, m[:1]), ValueError, r"mask must have shape \(2, 3, 1\)"),
        Case("timeseries.metrics.sample_crps", "NaN in the samples (was a NaN score)",
             lambda: metrics.sample_crps(nan_draw, y, m), ValueError, "samples have NaN/inf on evaluated entries"),
        Case("timeseries.metrics.quantile_crps", "quantile level outside (0, 1) (was a numpy error)",
             lambda: metrics.quantile_crps(S, y, m, quantiles=(0.5, 1.5)), ValueError,
             r"quantiles\[1\] must lie in \(0, 1\)"),
        Case("timeseries.metrics.quantile_crps", "no draws (was an IndexError)", lambda: metrics.quantile_crps(S[:, :0], y, m),
             ValueError, "samples must hold at least one draw"),
        Case("timeseries.metrics.quantile_loss", "forecast [1, ...] broadcast over the target",
             lambda: metrics.quantile_loss(y, y[:1], 0.5), ValueError, "forecast must have the shape of target"),
        Case("timeseries.metrics.quantile_loss", "q outside (0, 1) (was accepted)", lambda: metrics.quantile_loss(y, y, 2.0),
             ValueError, r"q must lie in \(0, 1\)"),
        Case("timeseries.calibration.interval_coverage", "NaN in the samples (was a silent coverage)",
             lambda: calibration.interval_coverage(nan_draw, y, m, 0.5), ValueError, "samples have NaN/inf"),
        Case("timeseries.calibration.posterior_scores", "reference_crps = inf (was a CRPS ratio of 0)",
             lambda: calibration.posterior_scores(S, y, m, S, reference_crps=float("inf")), ValueError,
             "reference_crps must be a finite number"),
        Case("timeseries.calibration.energy_distance", "no draws (was a reshape error)",
             lambda: calibration.energy_distance(S[:, :0], S, m), ValueError, "need at least one draw"),
        Case("timeseries.masks.random_mask", "observed_mask not 0/1 (was read as observed)",
             lambda: masks.random_mask(2 * obs), ValueError, "observed_mask must hold only 0 and 1"),
        Case("timeseries.masks.historical_mask", "pattern_mask of the wrong batch size",
             lambda: masks.historical_mask(obs, obs[:1]), ValueError, r"pattern_mask \(1, 5, 3\) must match"),
        Case("timeseries.sample_imputations", "cond_mask with values other than 0/1 (was used as weights)",
             lambda: sample_imputations(None, None, obs, 0.5 * obs, n_samples=1), ValueError,
             "cond_mask must hold only 0 and 1"),
        Case("timeseries.sample_imputations", "NaN in values (was 'x_T'-level NaN downstream)",
             lambda: sample_imputations(None, None, obs * float("nan"), obs, n_samples=1), ValueError,
             "values contains"),
        Case("timeseries.masks.forecast_mask", "float horizon (was a slice error)", lambda: masks.forecast_mask(obs, 2.5),
             TypeError, "horizon must be an integer"),
        Case("timeseries.ImputerConfig", "float train_steps (was accepted)", lambda: ImputerConfig(train_steps=2.5),
             TypeError, "ImputerConfig.train_steps must be an integer"),
        Case("timeseries.ImputerConfig", "NaN learning rate (was accepted)", lambda: ImputerConfig(lr=float("nan")),
             ValueError, "ImputerConfig.lr must be a finite number"),
        Case("timeseries.ImputerConfig", "unknown solver (was accepted until sampling)",
             lambda: ImputerConfig(solver="magic"), ValueError, "ImputerConfig.solver must be one of"),
        Case("timeseries.CSDIImputer", "float n_features (was truncated)", lambda: CSDIImputer(2.5), TypeError,
             "n_features must be an integer"),
        Case("timeseries.CSDIImputer.impute", "float seed (was truncated)",
             lambda: CSDIImputer(1).impute(y, 1, seed=0.5), TypeError, "seed must be an integer"),
        Case("timeseries.CSDIImputer.impute", "n_samples = 0", lambda: CSDIImputer(1).impute(y, 0), ValueError,
             "n_samples must be an int >= 1"),
        Case("timeseries.CSDIImputer.predict", "quantile outside [0, 1]",
             lambda: CSDIImputer(1).predict(y, 2, quantiles=(0.5, 1.5)), ValueError, r"quantiles\[1\] must lie in"),
        Case("timeseries.CSDIImputer.save", "path not a path (was a pathlib error)", lambda: CSDIImputer(1).save(5),
             TypeError, "path must be a str or pathlib.Path"),
        Case("timeseries.CSDIForecaster", "float prediction_length (was truncated)",
             lambda: CSDIForecaster(1, 4, 2.5), TypeError, "prediction_length must be an integer"),
        Case("timeseries.CSDIForecaster", "prediction_length <= 0", lambda: CSDIForecaster(1, 4, 0), ValueError,
             "prediction_length must be >= 1"),
        Case("timeseries.CSDIEstimator", "context_length = 0 (was replaced by 2 H)",
             lambda: CSDIEstimator(2, 0), ValueError, "context_length must be an integer >= 1"),
        Case("timeseries.CSDIEstimator", "num_samples = 0 (was accepted)", lambda: CSDIEstimator(2, num_samples=0),
             ValueError, "num_samples must be an integer >= 1"),
        Case("timeseries.CSDIEstimator", "unknown ImputerConfig key (was raised after reading the data)",
             lambda: CSDIEstimator(2, train_step=5), TypeError, r"unknown ImputerConfig fields \[.train_step.\]"),
        Case("timeseries.seasonal_naive", "prediction_length = 0 (was an empty forecast)",
             lambda: seasonal_naive(np.ones((1, 8, 1)), 0, 2), ValueError, "prediction_length must be an integer >= 1"),
        Case("timeseries.seasonal_naive", "NaN in the repeated season (was a NaN forecast)",
             lambda: seasonal_naive(np.full((1, 8, 1), np.nan), 2, 2), ValueError, "history must be finite"),
        Case("timeseries.ets_samples", "n_samples = 0 (statsmodels corrupted the heap)",
             lambda: ets_samples(np.ones((1, 12, 1)), 2, 3, n_samples=0), ValueError, "n_samples must be an integer >= 1"),
        Case("timeseries.kalman_smoother", "window of length 0 (corrupted the heap)",
             lambda: kalman_smoother(var1_model(2), np.zeros((1, 0, 2))), ValueError, r"Y must be a non-empty \[N, L, K=2\]"),
        Case("timeseries.LinearGaussianSSM.sample", "negative seed (was a numpy error)",
             lambda: var1_model(2).sample(1, 3, seed=-1), ValueError, "seed must be an integer >= 0"),
        Case("timeseries.var1_model", "float n_features (was truncated)", lambda: var1_model(2.5), TypeError,
             "n_features must be an integer"),
        Case("timeseries.Normalizer.from_dict", "missing 'std' (was KeyError)", lambda: Normalizer.from_dict({"mean": [0.0]}),
             ValueError, "keys 'mean' and 'std'"),
        Case("timeseries.windows", "float window length (was a slice error)", lambda: windows(np.zeros((9, 1)), 2.5),
             TypeError, "length must be an integer"),
        Case("timeseries.split_by_time", "NaN fraction (was accepted)", lambda: split_by_time(np.zeros(9), (0.5, np.nan)),
             ValueError, "fractions must be positive"),
        Case("timeseries.indicating_mask", "X_ori [1, T, K] broadcast over X", lambda: indicating_mask(np.ones((2, 3, 1)),
             np.ones((1, 3, 1))), ValueError, "X_ori must have the shape of X"),
        Case("timeseries.locf", "fallback of the wrong length (was a numpy broadcast error)",
             lambda: locf(np.ones((1, 3, 2)), np.zeros(3)), ValueError, r"fallback must be one value or one per feature"),
        Case("timeseries.check_series", "wrong rank", lambda: check_series(np.zeros((3, 4))), ValueError, "rank 2"),
        Case("timeseries.check_series", "infinite values", lambda: check_series(np.array([[[np.inf]]])), ValueError,
             "infinite"),
        Case("timeseries.check_series", "all-missing series", lambda: check_series(np.full((2, 3, 2), np.nan)),
             ValueError, "entirely missing"),
        Case("timeseries.check_series", "non-numeric values", lambda: check_series(np.array([[["a"]]])), TypeError,
             "numbers"),
        Case("timeseries.check_series", "empty batch", lambda: check_series(np.zeros((0, 3, 2))), ValueError,
             "empty axis"),
        Case("timeseries.ImputerConfig", "zero training steps", lambda: ImputerConfig(train_steps=0), ValueError,
             "train_steps must be >= 1"),
        Case("timeseries.load_physionet2012", "PhysioNet 2012 not downloaded",
             lambda: load_physionet2012(MISSING / "physionet"), FileNotFoundError, "physionet.org.*pass its folder"),
        Case("timeseries.load_beijing_pm25", "Beijing PM2.5 not downloaded", lambda: load_beijing_pm25(MISSING / "pm25"),
             FileNotFoundError, "STMVL.*pass the folder"),
        *_timeseries_cases_31(),
    ]


def _timeseries_cases_31() -> list[Case]:
    """Second round of #31: what an independent probe of the timeseries API found."""
    import tempfile

    import numpy as np
    from polydiff.timeseries import metrics
    from polydiff.timeseries.data import Normalizer, mcar_mask, mean_scale, split_by_time
    from polydiff.timeseries.forecast import CSDIForecaster
    from polydiff.timeseries.impute import CSDIImputer, ImputerConfig
    from polydiff.timeseries.inputs import check_timestamps
    from polydiff.timeseries.pipelines import ForecastPipeline, ImputationPipeline
    from polydiff.timeseries.pypots_api import indicating_mask

    tiny = {"layers": 1, "channels": 8, "heads": 2, "time_emb_dim": 16, "feature_emb_dim": 4,
            "diffusion_emb_dim": 16, "ff_dim": 8}
    X = np.sin(np.arange(12.0)).reshape(2, 3, 2)

    def imputer() -> CSDIImputer:
        return CSDIImputer(2, net=tiny, train_steps=1, batch_size=2, sample_steps=1, solver="ddim").fit(X)

    def forecaster() -> CSDIForecaster:
        return CSDIForecaster(2, 2, 1, net=tiny, train_steps=1, batch_size=2).fit(X + 5)

    def load_imputer_as_forecaster():
        folder = Path(tempfile.mkdtemp(prefix="polydiff-catalogue-"))
        imputer().save(folder)
        return CSDIForecaster.load(folder)

    return [
        Case("timeseries.CSDIImputer.predict", "repeated quantile levels (collapsed into one dict key)",
             lambda: imputer().predict(X, 1, quantiles=(0.5, 0.5), steps=1), ValueError,
             "quantiles must hold distinct levels"),
        Case("timeseries.ImputationPipeline.impute_series", "timestamps of the internal windows' shape",
             lambda: ImputationPipeline(imputer(), 3).impute_series(X[0], 1, timestamps=np.zeros((1, 3))),
             ValueError, r"timestamps must be \[T\] = \[3\]"),
        Case("timeseries.ImputationPipeline.impute_series", "inf in values (was blamed on X)",
             lambda: ImputationPipeline(imputer(), 3).impute_series(np.where(X[0] > 0.5, np.inf, X[0]), 1),
             ValueError, "values must be finite or NaN"),
        Case("timeseries.ImputationPipeline", "a forecasting imputer (was accepted, imputed the last steps only)",
             lambda: ImputationPipeline(forecaster().imputer, 3), ValueError, "imputer was trained to forecast"),
        Case("timeseries.CSDIForecaster.load", "an imputer checkpoint (was a raw FileNotFoundError)",
             load_imputer_as_forecaster, FileNotFoundError, "has no forecaster.json: an imputer checkpoint"),
        Case("timeseries.ForecastPipeline.from_run", "missing run folder (was a raw FileNotFoundError)",
             lambda: ForecastPipeline.from_run(MISSING / "fc-run"), FileNotFoundError,
             "run_dir: .*fc-run does not exist"),
        Case("timeseries.CSDIConfig", "float channels (was a torch error)",
             lambda: CSDIImputer(2, net={**tiny, "channels": 8.0}), TypeError, "CSDIConfig.channels must be an integer"),
        Case("timeseries.ImputerConfig", "horizon with strategy='random' (was ignored)",
             lambda: ImputerConfig(horizon=3), ValueError, "ImputerConfig.horizon is used by strategy='forecast' only"),
        Case("timeseries.ImputerConfig", "x0_clip='no' (a truthy string)", lambda: ImputerConfig(x0_clip="no"),
             TypeError, "ImputerConfig.x0_clip must be a bool"),
        Case("timeseries.check_timestamps", "timestamps beyond float32's integers (embedded as noise)",
             lambda: check_timestamps(np.full((1, 3), 1e30), (1, 3, 2)), ValueError, "timestamps must lie within"),
        Case("timeseries.Normalizer.transform", "X with another feature count (was a numpy broadcast error)",
             lambda: Normalizer([0.0, 0.0], [1.0, 1.0]).transform(np.zeros((1, 3, 3))), ValueError,
             r"X must be \[\.\.\., K\] with K = 2"),
        Case("timeseries.split_by_time", "one float for fractions (was 'float' object is not iterable)",
             lambda: split_by_time(np.zeros(9), 0.5), TypeError, "fractions must be a sequence"),
        Case("timeseries.mcar_mask", "float seed (was a numpy SeedSequence error)",
             lambda: mcar_mask(X, 0.5, seed=2.5), TypeError, "seed must be an integer"),
        Case("timeseries.mean_scale", "negative minimum (floored nothing)", lambda: mean_scale(X, minimum=-1.0),
             ValueError, "minimum must"),
        Case("timeseries.indicating_mask", "X_ori missing where X observes (was scored as not hidden)",
             lambda: indicating_mask(np.ones((1, 2, 1)), np.array([[[np.nan], [1.0]]])), ValueError,
             "X_ori must observe every entry X observes"),
        Case("timeseries.metrics.median", "a [T, K] window (was read as [N, S])",
             lambda: metrics.median(np.zeros((6, 2))), ValueError, r"samples must be \[N, S, T, \.\.\.\]"),
    ]


def _molecules_cases() -> list[Case]:
    import numpy as np
    from polydiff.molecules.baselines import etkdg
    from polydiff.molecules.data import load_geom, load_moses_smiles, qm9_files
    from polydiff.molecules.featurize import mol_to_data, parse_molecule
    from polydiff.molecules.generate import generate_conformers, refine_conformers
    from polydiff.molecules.metrics import (
        ConformerScores,
        merge_conformers,
        rmsd_matrix,
        score_conformers,
        summarize,
    )
    from polydiff.molecules.pipeline import ConformerGenerator, write_sdf
    from polydiff.molecules.process import geodiff_process
    from polydiff.molecules.relax import mmff_relax
    from rdkit import Chem
    from rdkit.Chem import AllChem

    def conformers(nan: bool = False):
        mol = Chem.AddHs(Chem.MolFromSmiles("CCO"))
        AllChem.EmbedMultipleConfs(mol, 2, randomSeed=7)
        if nan:
            mol.GetConformer(0).SetAtomPosition(1, (float("nan"), 0.0, 0.0))
        return mol

    lin = torch.nn.Linear(1, 1)
    return [
        Case("molecules.refine_conformers", "NaN in the caller's conformer (was 'x_T contains NaN')",
             lambda: refine_conformers(conformers(nan=True), net=lin, process=None), ValueError,
             r"mols: conformer 0 has non-finite coordinates \(NaN first at atom 1\)"),
        Case("molecules.refine_conformers", "NaN in the second molecule of a list",
             lambda: refine_conformers([conformers(), conformers(nan=True)], net=lin, process=None), ValueError,
             r"mols\[1\]: conformer 0"),
        Case("molecules.refine_conformers", "max_batch_atoms = 0 (was accepted)",
             lambda: refine_conformers(conformers(), net=lin, process=geodiff_process(200), max_batch_atoms=0),
             ValueError, "max_batch_atoms must be an integer >= 1"),
        Case("molecules.generate_conformers", "net=None (was AttributeError)",
             lambda: generate_conformers("CCO", 1, net=None, process=geodiff_process(200)), TypeError,
             "net must be a torch.nn.Module"),
        Case("molecules.generate_conformers", "stats of the wrong type (was AttributeError)",
             lambda: generate_conformers("CCO", 1, net=lin, process=geodiff_process(200), stats={}), TypeError,
             "stats must be a GenerationStats"),
        Case("molecules.ConformerGenerator", "n_conformers = 0",
             lambda: ConformerGenerator(lin, geodiff_process(200))("CCO", 0), ValueError,
             "n must be a positive integer, got 0"),
        Case("molecules.ConformerGenerator", "n_conformers a float",
             lambda: ConformerGenerator(lin, geodiff_process(200))("CCO", 2.5), ValueError,
             "n must be a positive integer, got 2.5"),
        Case("molecules.ConformerGenerator", "invalid SMILES", lambda: ConformerGenerator(lin, None)("C1CC((N", 1),
             ValueError, "invalid SMILES"),
        Case("molecules.ConformerGenerator", "heavy_atom_range not a pair (was an unpacking error)",
             lambda: ConformerGenerator(lin, None, heavy_atom_range=(5,)), TypeError, "heavy_atom_range must be"),
        Case("molecules.write_sdf", "NaN coordinates (were written to the SDF)",
             lambda: write_sdf([conformers(nan=True)], "/nonexistent/never-written.sdf"), ValueError,
             r"mols\[0\]: conformer 0 has non-finite"),
        Case("molecules.rmsd_matrix", "NaN in the generated conformers (was a silent RMSD)",
             lambda: rmsd_matrix(conformers(), conformers(nan=True)), ValueError, "gen: conformer 0 has non-finite"),
        Case("molecules.rmsd_matrix", "a SMILES instead of a Mol (was AttributeError)",
             lambda: rmsd_matrix("CCO", conformers()), TypeError, "ref must be an rdkit.Chem.Mol"),
        Case("molecules.score_conformers", "NaN in a reference conformer",
             lambda: score_conformers([conformers(nan=True)], [conformers()]), ValueError, r"refs\[0\]: conformer 0"),
        Case("molecules.summarize", "NaN threshold (was a silent 0% coverage)",
             lambda: summarize(ConformerScores([np.ones((2, 2))]), float("nan")), ValueError,
             "delta must be a finite number"),
        Case("molecules.ConformerScores", "empty set of molecules (was NaN scores)", lambda: ConformerScores([]),
             ValueError, "rmsd must be a non-empty list"),
        Case("molecules.ConformerScores", "molecule without generated conformers (was a numpy error)",
             lambda: ConformerScores([np.zeros((3, 0))]), ValueError, r"rmsd\[0\] must be a non-empty"),
        Case("molecules.merge_conformers", "None in the list (was a Boost.Python ArgumentError)",
             lambda: merge_conformers([conformers(), None]), TypeError, r"mols\[1\] must be an rdkit.Chem.Mol"),
        Case("molecules.mmff_relax", "NaN coordinates (were minimised into NaN)",
             lambda: mmff_relax(conformers(nan=True)), ValueError, "mol: conformer 0 has non-finite"),
        Case("molecules.mol_to_data", "NaN coordinates (became a NaN pos tensor)",
             lambda: mol_to_data(conformers(nan=True)), ValueError, "mol_or_smiles: conformer 0 has non-finite"),
        Case("molecules.mol_to_data", "unknown conf_id (was RDKit's 'Bad Conformer Id')",
             lambda: mol_to_data(conformers(), conf_id=5), ValueError, "conf_id must be"),
        Case("molecules.etkdg", "float number of conformers (was truncated)", lambda: etkdg("CCO", 2.5), TypeError,
             "n must be an integer"),
        Case("molecules.etkdg", "negative seed (RDKit reads it as unseeded)", lambda: etkdg("CCO", 2, seed=-1),
             ValueError, "seed must be an integer >= 0"),
        Case("molecules.parse_molecule", "invalid SMILES", lambda: parse_molecule("C1CC((N"), ValueError,
             r"invalid SMILES.*C1CC"),
        Case("molecules.parse_molecule", "empty SMILES", lambda: parse_molecule("  "), ValueError, "empty"),
        Case("molecules.parse_molecule", "not a SMILES or Mol", lambda: parse_molecule(42), TypeError,
             "SMILES string or rdkit"),
        Case("molecules.parse_molecule", "pentavalent carbon", lambda: parse_molecule("C(C)(C)(C)(C)C"), ValueError,
             "C\\(C\\)"),
        Case("molecules.parse_molecule", "None instead of a molecule", lambda: parse_molecule(None), TypeError,
             "SMILES string or rdkit"),
        Case("molecules.generate_conformers", "negative seed (was a numpy error)",
             lambda: generate_conformers("CCO", 1, net=torch.nn.Linear(1, 1), process=None, seed=-1), ValueError,
             "seed must be a non-negative int"),
        Case("molecules.refine_conformers", "molecule without a conformer",
             lambda: refine_conformers(Chem.MolFromSmiles("CCO"), net=torch.nn.Linear(1, 1), process=None),
             ValueError, "no conformer to refine"),
        Case("molecules.generate_conformers", "restart level beyond the prior",
             lambda: generate_conformers("CCO", 1, net=_ZeroEps(), process=geodiff_process(5000),
                                         restarts=2, restart_noise=1e4), ValueError, "restart_noise must lie in"),
        Case("molecules.load_geom", "GEOM not downloaded", lambda: load_geom(MISSING / "geom"), FileNotFoundError,
             "download GEOM"),
        Case("molecules.qm9_files", "folder without the QM9 CSVs", lambda: qm9_files(MISSING / "qm9"),
             FileNotFoundError, "pip install qm9pack"),
        Case("molecules.load_moses_smiles", "folder without the MOSES CSVs",
             lambda: load_moses_smiles(root=MISSING / "moses"), FileNotFoundError, "molsets"),
        *_molecules_cases_31(conformers),
    ]


class _ZeroEps(torch.nn.Module):
    """A stand-in denoiser with the molecules networks' call signature."""

    def forward(self, pos, t, batch):
        return torch.zeros_like(pos)


def _molecules_cases_31(conformers) -> list[Case]:
    """Second round of #31: what an independent probe of the molecules API found."""
    import tempfile

    import numpy as np
    from polydiff.molecules.data import mol_from_xyz
    from polydiff.molecules.featurize import parse_molecule
    from polydiff.molecules.files import read_molecules
    from polydiff.molecules.generate import generate_conformers
    from polydiff.molecules.graph import radius_graph
    from polydiff.molecules.nets import NetConfig, build_net
    from polydiff.molecules.pipeline import ConformerGenerator, write_sdf
    from polydiff.molecules.pipelines import ConformerPipeline
    from polydiff.molecules.process import geodiff_process
    from rdkit import Chem

    def pipeline(**settings):
        net = build_net(NetConfig(hidden=8, num_convs_global=1, num_convs_local=1, num_rbf=4, cutoff=5.0))
        return ConformerPipeline(ConformerGenerator(net, geodiff_process(200, beta_end=0.05), **{"solver": "ddim", **settings}))

    def garbage_smiles():
        path = Path(tempfile.mkdtemp(prefix="polydiff-catalogue-")) / "g.smi"
        path.write_bytes(bytes(range(128, 256)))
        return read_molecules(path)

    return [
        Case("molecules.ConformerPipeline", "more steps than the process has (saved, refused at every call)",
             lambda: pipeline(steps=1000), ValueError, r"steps must lie in \[1, 200\]"),
        Case("molecules.ConformerPipeline", "restart_noise beyond the prior (saved, refused at every call)",
             lambda: pipeline(steps=2, restarts=1, restart_noise=1e6), ValueError, "restart_noise must lie in"),
        Case("molecules.ConformerPipeline", "restart_noise = inf with restarts = 0 (was saved)",
             lambda: pipeline(steps=2, restart_noise=float("inf")), ValueError,
             "restart_noise must be a finite number > 0"),
        Case("molecules.NetConfig", "float width (was a torch error in build_net)", lambda: NetConfig(hidden=8.5),
             TypeError, "NetConfig.hidden must be an integer"),
        Case("molecules.NetConfig", "NaN cutoff (was a net without radius edges)",
             lambda: NetConfig(cutoff=float("nan")), ValueError, "NetConfig.cutoff must be a finite number"),
        Case("molecules.write_sdf", "a Mol without conformers (wrote 0 records)",
             lambda: write_sdf([Chem.MolFromSmiles("CCO")], "/nonexistent/n.sdf"), ValueError,
             r"mols\[0\] has no conformer"),
        Case("molecules.write_sdf", "a path without an SDF suffix (SDF written under any name)",
             lambda: write_sdf([conformers()], "/nonexistent/out.txt"), ValueError, "path must end in .sdf"),
        Case("molecules.read_molecules", "non-UTF-8 bytes in a SMILES file (was UnicodeDecodeError)",
             garbage_smiles, ValueError, "g.smi: line 1: not UTF-8 text"),
        Case("molecules.parse_molecule", "add_hs='no' (a truthy string)", lambda: parse_molecule("CCO", add_hs="no"),
             TypeError, "add_hs must be a bool"),
        Case("molecules.generate_conformers", "a net with another call signature (was a torch error)",
             lambda: generate_conformers("CCO", 1, net=torch.nn.Linear(3, 3), process=geodiff_process(200, beta_end=0.05), steps=2,
                                         solver="ddim"), TypeError, r"net must be a denoiser called as net\(pos, t, batch\)"),
        Case("molecules.mol_from_xyz", "unknown element symbol (was 'RDKit could not read the XYZ block')",
             lambda: mol_from_xyz(["C", "Xx"], [[0, 0, 0], [1.5, 0, 0]]), ValueError,
             r"elements\[1\] must be an element symbol"),
        Case("molecules.mol_from_xyz", "NaN coordinates (was 'RDKit could not read the XYZ block')",
             lambda: mol_from_xyz(["C", "O"], [[0, 0, 0], [np.nan, 0, 0]]), ValueError, "coords must be finite"),
        Case("molecules.radius_graph", "NaN radius (was an empty graph)", lambda: radius_graph(torch.zeros(3, 3),
             float("nan")), ValueError, "r: radius must be positive"),
    ]


def _text_cases() -> list[Case]:
    import functools
    import json
    import tempfile

    from polydiff.core.discrete_state import MaskedDiffusion
    from polydiff.text import metrics as tm
    from polydiff.text.ar import ARConfig
    from polydiff.text.corpora import load_bible_pairs, parse_wordnet_line
    from polydiff.text.data import load_e2e, parse_control, parse_e2e_line, split_by_restaurant
    from polydiff.text.decoding import confidence_sample
    from polydiff.text.diffuseq import mbr_select
    from polydiff.text.diffusion_lm import DiffusionLM, EmbeddingDiffusionConfig, round_to_tokens
    from polydiff.text.likelihood import ar_nll, masked_elbo
    from polydiff.text.masked import MaskedConfig, MaskedDiffusionLM, length_layout, masked_prior
    from polydiff.text.nets import ARTransformer, TokenDenoiser
    from polydiff.text.synthetic import MarkovChain2
    from polydiff.text.tokenizer import Tokenizer, train_tokenizer

    @functools.cache
    def tok() -> Tokenizer:
        return train_tokenizer([e.text for e in load_e2e(limit=200)], 400)

    def file_with(name: str, data: bytes) -> Path:
        p = Path(tempfile.mkdtemp()) / name
        p.write_bytes(data)
        return p

    def saved(model, edit) -> Path:
        """A checkpoint folder of ``model`` whose config.json is replaced by ``edit(meta)``."""
        d = Path(tempfile.mkdtemp()) / "ckpt"
        model.save(d)
        meta = json.loads((d / "config.json").read_text())
        (d / "config.json").write_text(json.dumps(edit(meta)))
        return d

    def drop(d: dict, key: str) -> dict:
        return {k: v for k, v in d.items() if k != key}

    def masked_lm() -> MaskedDiffusionLM:
        return MaskedDiffusionLM(MaskedConfig(tok().vocab_size, 8, hidden=8, layers=1, heads=2), tok())

    def dlm() -> DiffusionLM:
        cfg = EmbeddingDiffusionConfig(tok().vocab_size, 8, hidden=8, layers=1, heads=2, emb_dim=4, T=10)
        return DiffusionLM(cfg, tok(), ["food : Chinese", "area : riverside"])

    V, MASK = 10, 5
    ar = ARTransformer(V, 8, hidden=8, layers=1, heads=2)
    masked_net = TokenDenoiser(V, 8, hidden=8, layers=1, heads=2)
    rows = torch.tensor([[6, 7, 8, 3, 0, 0, 0, 0]])
    ones = torch.ones(1, 8)

    def flat_logits(z, t):
        return torch.zeros(*z.shape, V)

    free = torch.zeros(1, 6, dtype=torch.long), torch.zeros(1, 6, dtype=torch.bool)
    return [
        Case("text.parse_e2e_line", "no '||' separator", lambda: parse_e2e_line("name : X | food : Y"), ValueError,
             "separator"),
        Case("text.parse_e2e_line", "empty sentence", lambda: parse_e2e_line("name : X||   "), ValueError,
             "empty sentence"),
        Case("text.parse_e2e_line", "MR without a name", lambda: parse_e2e_line("food : Y||A sentence ."),
             ValueError, "'name'"),
        Case("text.parse_e2e_line", "empty line", lambda: parse_e2e_line(""), ValueError, "separator"),
        Case("text.parse_e2e_line", "MR field without a value", lambda: parse_e2e_line("name : X | food||Text ."),
             ValueError, "not 'field : value'"),
        Case("text.load_e2e", "E2E training file not downloaded", lambda: load_e2e(MISSING / "src1_train.txt"),
             FileNotFoundError, "e2e-dataset"),
        Case("text.load_e2e", "float limit (would truncate)", lambda: load_e2e(limit=2.5), TypeError,
             "limit must be an integer"),
        Case("text.split_by_restaurant", "NaN test_fraction",
             lambda: split_by_restaurant(load_e2e(limit=50), float("nan")), ValueError, "test_fraction"),
        Case("text.parse_control", "unknown control attribute",
             lambda: parse_control("food : Martian", ["food : Chinese", "area : riverside"]), ValueError,
             "unknown control attribute.*known values"),
        Case("text.Tokenizer.load", "file that is not a sentencepiece model (was a sentencepiece RuntimeError)",
             lambda: Tokenizer.load(file_with("garbage.model", b"not a model")), ValueError,
             r"garbage\.model is not a polydiff sentencepiece tokenizer model"),
        Case("text.Tokenizer.load", "empty file",
             lambda: Tokenizer.load(file_with("empty.model", b"")), ValueError, r"empty\.model .*empty"),
        Case("text.train_tokenizer", "vocab_size below the characters needed (was a sentencepiece RuntimeError)",
             lambda: train_tokenizer([e.text for e in load_e2e(limit=200)], 300), ValueError,
             "vocab_size=300.*Vocabulary size is smaller than required_chars"),
        Case("text.Tokenizer.decode", "float token ids (were truncated)", lambda: tok().decode([7.9, 8.2]),
             TypeError, r"ids\[0\] must be an integer"),
        Case("text.Tokenizer.encode_batch", "float max_len", lambda: tok().encode_batch(["a b"], 10.5), TypeError,
             "max_len must be an integer"),
        Case("text.MaskedDiffusionLM.load", "config.json missing a required key (was TypeError)",
             lambda: MaskedDiffusionLM.load(saved(masked_lm(), lambda m: {"config": drop(m["config"], "seq_len")})),
             ValueError, r"config\.json.*lacks the key\(s\) \['seq_len'\]"),
        Case("text.DiffusionLM.load", "config.json missing a key with a default (T silently became 2000)",
             lambda: DiffusionLM.load(saved(dlm(), lambda m: {**m, "config": drop(m["config"], "T")})),
             ValueError, r"config\.json.*lacks the key\(s\) \['T'\]"),
        Case("text.DiffusionLM.load", "config.json without 'attributes' (was KeyError)",
             lambda: DiffusionLM.load(saved(dlm(), lambda m: {"config": m["config"]})), ValueError,
             r"config\.json lacks the key 'attributes'"),
        Case("text.DiffusionLM.load", "config.json with an unknown config key",
             lambda: DiffusionLM.load(saved(dlm(), lambda m: {**m, "config": {**m["config"], "depth": 3}})),
             ValueError, r"config\.json.*unknown EmbeddingDiffusionConfig key\(s\) \['depth'\]"),
        Case("text.ARConfig", "float vocab_size (was accepted)", lambda: ARConfig(10.5, 8), TypeError,
             "vocab_size must be an integer"),
        Case("text.ARConfig", "hidden not divisible by heads (was a torch AssertionError)",
             lambda: ARConfig(10, 8, hidden=15, heads=2), ValueError, "hidden must be divisible by.*heads"),
        Case("text.MaskedDiffusionLM.sample_ids", "float n", lambda: masked_lm().sample_ids(None, 1.5, 2),
             TypeError, "n must be an integer"),
        Case("text.masked_prior", "NaN temperature",
             lambda: masked_prior(masked_net, MASK, 0, 3, torch.zeros(1, 0, dtype=torch.long), 8,
                                  temperature=float("nan")), ValueError, "temperature must be a finite"),
        Case("text.confidence_sample", "bool steps (was accepted as 1)",
             lambda: confidence_sample(flat_logits, *free, steps=True, mask_id=MASK), TypeError,
             "steps must be an integer"),
        Case("text.confidence_sample", "temperature below 0",
             lambda: confidence_sample(flat_logits, *free, steps=2, mask_id=MASK, temperature=-0.5), ValueError,
             r"temperature must lie in \[0, inf\)"),
        Case("text.confidence_sample", "model returns logits of the wrong shape (was silently decoded)",
             lambda: confidence_sample(lambda z, t: torch.zeros(1, 6), *free, steps=2, mask_id=MASK), ValueError,
             r"model\(z, t\) must return logits \[B, L, V\]"),
        Case("text.ARTransformer.generate", "top_k = 0 (was a torch size error)",
             lambda: ar.generate(torch.zeros(1, 1, dtype=torch.long), 3, eos_id=3, top_k=0), ValueError,
             r"top_k must be an integer in \[1, 10\]"),
        Case("text.ARTransformer.generate", "NaN temperature (was a multinomial RuntimeError)",
             lambda: ar.generate(torch.zeros(1, 1, dtype=torch.long), 3, eos_id=3, temperature=float("nan")),
             ValueError, "temperature must be a finite"),
        Case("text.ar_nll", "loss mask with a 2 (counted twice)", lambda: ar_nll(ar, rows, 2 * ones), ValueError,
             "loss_mask must hold only 0 and 1"),
        Case("text.ar_nll", "NaN loss mask", lambda: ar_nll(ar, rows, ones * float("nan")), ValueError,
             "loss_mask contains"),
        Case("text.ar_nll", "float token ids", lambda: ar_nll(ar, rows.float(), ones), TypeError,
             "ids must be an integer tensor"),
        Case("text.masked_elbo", "token ids outside the vocabulary",
             lambda: masked_elbo(masked_net, MaskedDiffusion(V, MASK), rows + V, src_len=0, eos_id=3), ValueError,
             r"ids must hold token ids in \[0, 10\)"),
        Case("text.masked_elbo", "bool batch_size (was accepted)",
             lambda: masked_elbo(masked_net, MaskedDiffusion(V, MASK), rows, src_len=0, eos_id=3, batch_size=True),
             TypeError, "batch_size must be an integer"),
        Case("text.length_layout", "float src_len (was a slice TypeError)", lambda: length_layout(rows, 0.5, 3),
             TypeError, "src_len must be an integer"),
        Case("text.DiffusionLM.sample_ids", "NaN fluency (was silently sampled)",
             lambda: dlm().sample_ids(1, 2, control="food : Chinese", fluency=float("nan")), ValueError,
             "fluency must be a finite"),
        Case("text.DiffusionLM.generate", "empty controls list (returned [])", lambda: dlm().generate([], 1, 2),
             ValueError, "controls must be a non-empty list"),
        Case("text.round_to_tokens", "NaN embeddings (rounded to token 0)",
             lambda: round_to_tokens(torch.full((1, 3, 4), float("nan")), torch.randn(10, 4)), ValueError,
             "x contains"),
        Case("text.mbr_select", "non-string candidates (was AttributeError)", lambda: mbr_select([1, 2]),
             TypeError, r"candidates\[0\] must be a str"),
        Case("text.corpus_bleu", "non-string hypothesis", lambda: tm.corpus_bleu([1], [["a"]]), TypeError,
             r"hyps\[0\] must be a str"),
        Case("text.sentence_bleu", "k = 0 (was ZeroDivisionError)",
             lambda: tm.sentence_bleu(["a", "b"], [["c", "b"]], k=0), ValueError, r"k must lie in \(0, inf\)"),
        Case("text.sentence_bleu", "max_n = 0 (returned 1.0)", lambda: tm.sentence_bleu(["a"], [["b"]], max_n=0),
             ValueError, "max_n must be an integer >= 1"),
        Case("text.distinct_n", "float n", lambda: tm.distinct_n(["a b"], 1.5), TypeError, "n must be an integer"),
        Case("text.control_success", "float label (was a torch gather RuntimeError)",
             lambda: tm.control_success(torch.nn.Sequential(torch.nn.Embedding(V, 2), torch.nn.Flatten(1),
                                                            torch.nn.Linear(16, 3)), rows, 1.5),
             TypeError, "label must be an integer"),
        Case("text.control_success", "ids outside the classifier's vocabulary (was IndexError)",
             lambda: tm.control_success(torch.nn.Sequential(torch.nn.Embedding(V, 2), torch.nn.Flatten(1),
                                                            torch.nn.Linear(16, 3)), rows + V, 1),
             ValueError, r"ids must hold token ids in \[0, 10\)"),
        Case("text.perplexity", "negative loss mask (was a finite perplexity)", lambda: tm.perplexity(ar, rows, -ones),
             ValueError, "loss_mask must hold only 0 and 1"),
        Case("text.parse_wordnet_line", "word count beyond the line (was IndexError)",
             lambda: parse_wordnet_line("00001740 03 n ff entity 0 003 | gloss"), ValueError,
             "malformed offset or word list"),
        Case("text.load_bible_pairs", "float limit", lambda: load_bible_pairs(limit=2.5), TypeError,
             "limit must be an integer"),
        Case("text.MarkovChain2.posterior_marginals", "mask_id that is a state (silently hidden)",
             lambda: MarkovChain2.random(3).posterior_marginals(torch.tensor([[0, 1, 2]]), 1), ValueError,
             "mask_id must not be a state id"),
        Case("text.MarkovChain2.log_prob", "state outside [0, K) (was IndexError / wrapped)",
             lambda: MarkovChain2.random(3).log_prob(torch.tensor([[0, -1, 1]])), ValueError,
             r"x must hold token ids in \[0, 3\)"),
    ] + _text_cases_31(tok, file_with, saved, masked_lm, dlm)


def _text_cases_31(tok, file_with, saved, masked_lm, dlm) -> list[Case]:
    """Second reliability round (#31): what an independent probe of polydiff.text found vague or silent."""
    from polydiff.core.discrete_state import MaskedDiffusion
    from polydiff.text import commands as tc
    from polydiff.text import metrics as tm
    from polydiff.text.ar import ARBaseline, ARConfig
    from polydiff.text.corpora import load_wordnet_glosses, parse_wordnet_line
    from polydiff.text.data import load_e2e, parse_e2e_line, split_by_restaurant
    from polydiff.text.decoding import confidence_sample
    from polydiff.text.diffuseq import Anchor, encode_sources
    from polydiff.text.diffusion_lm import (
        DiffusionLM,
        EmbeddingDiffusionConfig,
        partial_noising,
        round_to_tokens,
    )
    from polydiff.text.likelihood import HeldOutNLL, ar_nll
    from polydiff.text.masked import MaskedConfig, MaskedDiffusionLM, masked_nelbo, masked_prior
    from polydiff.text.nets import (
        ARTransformer,
        TokenCNNClassifier,
        TokenDenoiser,
        TransformerDenoiser,
        timestep_embedding,
    )
    from polydiff.text.pipelines import ARTextPipeline
    from polydiff.text.synthetic import MarkovChain2

    V, MASK, NAN = 10, 5, float("nan")
    ar_net = ARTransformer(V, 8, hidden=8, layers=1, heads=2)
    tok_net = TokenDenoiser(V, 8, hidden=8, layers=1, heads=2)
    rows = torch.tensor([[6, 7, 8, 3, 0, 0, 0, 0]])
    free = torch.zeros(1, 6, dtype=torch.long), torch.zeros(1, 6, dtype=torch.bool)
    long_source = "The Vaults is an Italian pub by the riverside"

    def ar_s2s() -> ARBaseline:
        return ARBaseline(ARConfig(tok().vocab_size, 16, hidden=8, layers=1, heads=2, src_len=8), tok())

    def nan_weights(model):
        from safetensors.torch import load_file, save_file
        d = saved(model, lambda m: m)
        st = load_file(str(d / "model.safetensors"))
        k = next(iter(st))
        st[k] = torch.full_like(st[k], NAN)
        save_file(st, str(d / "model.safetensors"))
        return d

    def wordnet_folder(data: bytes) -> Path:
        return file_with("data.noun", data).parent

    def dlm_cfg():
        return EmbeddingDiffusionConfig(tok().vocab_size, 8, hidden=8, layers=1, heads=2, emb_dim=4, T=10)

    return [
        Case("text.parse_e2e_line", "duplicate MR field (the second overwrote the first)",
             lambda: parse_e2e_line("name : X | name : Y||t ."), ValueError, "field 'name' appears twice"),
        Case("text.load_e2e", "malformed line 2 (the error named neither file nor line)",
             lambda: load_e2e(file_with("bad_e2e.txt", b"name : A||Good .\nthis line is broken\n")), ValueError,
             r"bad_e2e\.txt, line 2: .*separator"),
        Case("text.load_e2e", "file that is not UTF-8 (was UnicodeDecodeError)",
             lambda: load_e2e(file_with("bin_e2e.txt", b"\xff\xfe\x00garbage")), ValueError,
             r"bin_e2e\.txt: line 1 is not UTF-8"),
        Case("text.load_e2e", "empty file (returned [])", lambda: load_e2e(file_with("empty_e2e.txt", b"")),
             ValueError, r"empty_e2e\.txt holds no"),
        Case("text.split_by_restaurant", "list of str (was AttributeError)", lambda: split_by_restaurant(["a", "b"]),
             TypeError, r"examples\[0\] must be an E2EExample"),
        Case("text.parse_wordnet_line", "synset with zero words (was accepted)",
             lambda: parse_wordnet_line("00001740 03 n 00 000 x | gloss"), ValueError, "synset with no words"),
        Case("text.load_wordnet_glosses", "malformed data file line (named neither file nor line)",
             lambda: load_wordnet_glosses(wordnet_folder(b"garbage line without separator\n"), pos=["noun"]),
             ValueError, r"data\.noun, line 1: .*separator"),
        Case("text.load_wordnet_glosses", "repeated pos (loaded twice)",
             lambda: load_wordnet_glosses(pos=["adv", "adv"]), ValueError, "pos must not repeat"),
        Case("text.Tokenizer.encode_batch", "truncate='no' (taken as True)",
             lambda: tok().encode_batch(["a b c"], 8, truncate="no"), TypeError, "truncate must be True or False"),
        Case("text.train_tokenizer", "vocab_size 10**9 (silently a small model)",
             lambda: train_tokenizer_huge(), ValueError, r"vocab_size must be <= 1048576"),
        Case("text.ARTransformer", "vocab_size 0 (built an empty embedding)",
             lambda: ARTransformer(0, 8, hidden=8, layers=1, heads=2), ValueError, "vocab_size must be an integer >= 1"),
        Case("text.ARTransformer", "hidden not divisible by heads (was a torch AssertionError)",
             lambda: ARTransformer(10, 8, hidden=15, heads=2), ValueError, "hidden must be divisible by heads=2"),
        Case("text.TokenCNNClassifier", "pad_id outside the vocabulary (was a torch AssertionError)",
             lambda: TokenCNNClassifier(10, 2, hidden=8, pad_id=99), ValueError, r"pad_id must be an integer in \[0, 9\]"),
        Case("text.ARTransformer.token_nll", "loss_mask of one row for two (was broadcast)",
             lambda: ar_net.token_nll(torch.cat([rows, rows]), torch.ones(1, 8)), ValueError,
             r"loss_mask must have shape \(2, 8\)"),
        Case("text.ARTransformer.generate", "eos_id outside the vocabulary (never stopped)",
             lambda: ar_net.generate(torch.zeros(1, 1, dtype=torch.long), 3, eos_id=99), ValueError,
             r"eos_id must be an integer in \[0, 9\]"),
        Case("text.TransformerDenoiser", "NaN x (NaN output)",
             lambda: TransformerDenoiser(10, 8, 4, 8, 1, 2)(torch.full((1, 8, 4), NAN), torch.zeros(1)), ValueError,
             "x contains"),
        Case("text.timestep_embedding", "dim=0 (an empty embedding)", lambda: timestep_embedding(torch.zeros(2), 0),
             ValueError, "dim must be an integer >= 1"),
        Case("text.ARBaseline.generate", "unknown solver (silently ignored)",
             lambda: ar_s2s().generate(["name : Zizzi"], solver="bogus"), ValueError, "solver must be None"),
        Case("text.encode_sources", "source too long (the message named the tokenizer's 'text 0 ... max_len')",
             lambda: encode_sources(tok(), ["name : Zizzi", long_source], 3), ValueError,
             r"sources\[0\] has \d+ tokens; with <sep> more than src_len=3"),
        Case("text.MaskedDiffusionLM.loss", "rows holding the <mask> id (core's message named x)",
             lambda: masked_lm().loss(torch.tensor([[6, MASK, 8, 3, 0, 0, 0, 0]])), ValueError,
             r"ids must be clean token rows without the <mask> id"),
        Case("text.masked_prior", "mask_id outside the net's vocabulary (blamed the model's ids)",
             lambda: masked_prior(tok_net, 99, 0, 3, torch.zeros(1, 0, dtype=torch.long), 8), ValueError,
             r"mask_id must be an integer in \[0, 9\]"),
        Case("text.masked_prior", "tgt_len longer than the net (message named sequence length)",
             lambda: masked_prior(tok_net, MASK, 0, 3, torch.zeros(1, 0, dtype=torch.long), 20), ValueError,
             "tgt_len must leave"),
        Case("text.masked_nelbo", "process of another vocabulary (blamed the model's logits)",
             lambda: masked_nelbo(tok_net, MaskedDiffusion(20, MASK), rows, src_len=0, eos_id=3), ValueError,
             "process.vocab_size=20 differs from the net's vocab_size=10"),
        Case("text.MaskedConfig", "unknown schedule (was accepted until the model was built)",
             lambda: MaskedConfig(10, 8, hidden=8, heads=2, schedule="bogus"), ValueError,
             "MaskedConfig.schedule must be one of"),
        Case("text.MaskedDiffusionLM.load", "config vocab_size that does not fit the tokenizer (named no file)",
             lambda: MaskedDiffusionLM.load(saved(masked_lm(), lambda m: {
                 **m, "config": {**m["config"], "vocab_size": m["config"]["vocab_size"] + 2}})), ValueError,
             r"config\.json does not fit .*tokenizer\.model: tokenizer has \d+ pieces but config\.vocab_size"),
        Case("text.MaskedDiffusionLM.load", "NaN weights (were loaded)", lambda: MaskedDiffusionLM.load(
            nan_weights(masked_lm())), ValueError, r"model\.safetensors holds non-finite"),
        Case("text.DiffusionLM.load", "config T as a string (named no file)",
             lambda: DiffusionLM.load(saved(dlm(), lambda m: {**m, "config": {**m["config"], "T": "10"}})),
             TypeError, r"config\.json.*EmbeddingDiffusionConfig\.T must be an integer"),
        Case("text.DiffusionLM", "attributes as one str (one attribute per character)",
             lambda: DiffusionLM(dlm_cfg(), tok(), "food : Italian"), TypeError, "attributes must be a list"),
        Case("text.DiffusionLM", "repeated attribute", lambda: DiffusionLM(dlm_cfg(), tok(), ["a : b", "a : b"]),
             ValueError, "attributes must be distinct"),
        Case("text.DiffusionLM.sample_ids", "control_step_size 1e30 (core's message named x)",
             lambda: dlm().sample_ids(1, 2, control="food : Chinese", control_step_size=1e30), ValueError,
             r"control_step_size=1e\+30 is too large"),
        Case("text.round_to_tokens", "1e30 embeddings (distances overflowed, rounded to 0)",
             lambda: round_to_tokens(torch.full((1, 3, 4), 1e30), torch.randn(10, 4)), ValueError,
             "is too large: the squared distances overflow"),
        Case("text.partial_noising", "NaN noise_mask (taken as 1)",
             lambda: partial_noising(torch.zeros(1, 3, 4), torch.ones(1, 3, 4), torch.full((1, 3), NAN)), ValueError,
             "noise_mask contains"),
        Case("text.Anchor", "NaN anchor values (imposed)",
             lambda: Anchor(torch.full((1, 3, 4), NAN), torch.ones(1, 3)), ValueError, "values contains"),
        Case("text.confidence_sample", "model returning +inf logits (decoded)",
             lambda: confidence_sample(lambda z, t: torch.full((*z.shape, V), float("inf")), *free, steps=2,
                                       mask_id=MASK), FloatingPointError, r"NaN or \+inf logits"),
        Case("text.HeldOutNLL", "zero tokens (per_token was ZeroDivisionError)", lambda: HeldOutNLL(0.0, 0, 0),
             ValueError, "HeldOutNLL.tokens must be an integer >= 1"),
        Case("text.HeldOutNLL.perplexity", "overflow (was OverflowError)", lambda: HeldOutNLL(1e30, 1, 1).perplexity,
             ValueError, r"perplexity = exp\(1e\+30 nats per token\) overflows"),
        Case("text.ar_nll", "net without token_nll (was AttributeError)", lambda: ar_nll(tok_net, rows, torch.ones(1, 8)),
             TypeError, "net must be an autoregressive model"),
        Case("text.sentence_bleu", "int tokens (scored)", lambda: tm.sentence_bleu([1, 2], [[1, 2]]), TypeError,
             r"hyp\[0\] must be a str token"),
        Case("text.sentence_bleu", "k = 1e-300 (a score of 1e224)",
             lambda: tm.sentence_bleu(["a", "b"], [["a", "c"]], k=1e-300), ValueError, "k=1e-300 is too small"),
        Case("text.control_success", "classifier returning NaN logits (success 0.0)",
             lambda: tm.control_success(lambda ids: torch.full((len(ids), 2), NAN), rows, 0), ValueError,
             r"classifier\(ids\) logits contains"),
        Case("text.perplexity", "lm=None (was AttributeError)", lambda: tm.perplexity(None, rows, torch.ones(1, 8)),
             TypeError, "lm must be an autoregressive model"),
        Case("text.MarkovChain2.posterior_marginals", "evidence of probability zero (NaN marginals)",
             lambda: MarkovChain2(torch.tensor([[[1.0, 0.0], [1.0, 0.0]], [[1.0, 0.0], [1.0, 0.0]]]))
             .posterior_marginals(torch.tensor([[1, 1, 9]]), 9), ValueError, "probability zero"),
        Case("text.ARTextPipeline", "card that is not a ModelCard (stored)", lambda: ARTextPipeline(ar_s2s(), card="x"),
             TypeError, "card must be a polydiff.core.pipeline.ModelCard"),
        Case("text.commands.write_lines", "one str (written one character per line)",
             lambda: tc.write_lines(file_with("w.txt", b""), "abc"), TypeError, "lines must be a list of str"),
        Case("text.commands.write_lines", "a line with a line break (written as two lines)",
             lambda: tc.write_lines(file_with("w.txt", b""), ["a\nb"]), ValueError, r"lines\[0\] holds a line break"),
        Case("text.commands.line_generators", "float seed (was accepted)", lambda: tc.line_generators(1.5, [0]),
             TypeError, "seed must be an integer"),
        Case("polydiff text", "--device tpu (was a torch RuntimeError)",
             lambda: _polydiff("text", "--model", "m", "--input", "i", "--output", "o", "--device", "tpu"),
             SystemExit, "--device must name a torch device type.*'tpu'"),
    ]


def train_tokenizer_huge():
    from polydiff.text.tokenizer import train_tokenizer
    return train_tokenizer(["a b", "c d"], 10**9)


def _polydiff(*argv):
    from polydiff.bench.cli import main
    return main(list(argv))


def _robustness_cases() -> list[Case]:
    from polydiff.robustness.purify import PurifiedClassifier, Purifier

    def purifier():
        return Purifier(_TinyNet(), t_star=0.1, steps=2, image_shape=(1, 8, 8))

    return [
        Case("robustness.Purifier", "input above 1", lambda: purifier()(torch.linspace(0, 2, 128).reshape(2, 1, 8, 8)), ValueError,
             r"\[0, 1\]"),
        Case("robustness.Purifier", "wrong image shape", lambda: purifier()(torch.rand(2, 1, 6, 6)), ValueError,
             "per-image shape"),
        Case("robustness.Purifier", "unbatched input", lambda: purifier()(torch.rand(8, 8)), ValueError,
             r"\[B, C, H, W\]"),
        Case("robustness.Purifier", "NaN input", lambda: purifier()(torch.full((1, 1, 8, 8), float("nan"))),
             ValueError, "NaN"),
        Case("robustness.Purifier", "t* outside (0, 1]", lambda: Purifier(_TinyNet(), t_star=2.0), ValueError,
             "t_star"),
        Case("robustness.Purifier", "unknown gradient mode", lambda: Purifier(_TinyNet(), gradient="magic"),
             ValueError, "gradient mode"),
        Case("robustness.PurifiedClassifier", "zero repeats",
             lambda: PurifiedClassifier(purifier(), torch.nn.Flatten(), repeats=0), ValueError, "repeats"),
        Case("robustness.Purifier", "dt so small it asks for 10^29 steps (OverflowError)",
             lambda: Purifier(_TinyNet(), dt=1e-30), ValueError, "dt=1e-30 gives"),
        Case("robustness.Purifier", "dt not a number (raw comparison error)", lambda: Purifier(_TinyNet(), dt="0.01"),
             TypeError, "dt must be a real number"),
        Case("robustness.Purifier", "t_star=True (was t* = 1)", lambda: Purifier(_TinyNet(), t_star=True), TypeError,
             "t_star must be a real number"),
        Case("robustness.Purifier", "unknown prediction (failed at the first call)",
             lambda: Purifier(_TinyNet(), steps=2, prediction="noise"), ValueError, "prediction must be one of"),
        Case("robustness.Purifier", "image_shape without channels (every call failed)",
             lambda: Purifier(_TinyNet(), steps=2, image_shape=(8, 8)), ValueError, r"image_shape must be \(C, H, W\)"),
        Case("robustness.Purifier", "float seed (was truncated)", lambda: Purifier(_TinyNet(), steps=2, seed=1.5),
             TypeError, "seed must be an integer"),
        Case("robustness.Purifier", "float64 input to float32 weights (RuntimeError from conv)",
             lambda: purifier()(torch.rand(1, 1, 8, 8, dtype=torch.float64)), TypeError, "x must have the dtype"),
        *_robustness_attack_cases(),
        *_robustness_cases_31b(),
    ]


def _robustness_cases_31b() -> list[Case]:
    """Second probe of #31: t* scale, purified-image writes, attack plumbing, unused settings."""
    import tempfile

    from polydiff.core.training import TrainConfig
    from polydiff.robustness import attacks, gradients, image_io, train
    from polydiff.robustness.pipelines import PurificationPipeline
    from polydiff.robustness.purify import Purifier
    from polydiff.vision._common import default_process
    from polydiff.vision.nets import Classifier, ClassifierConfig

    x, y = torch.rand(2, 1, 8, 8), torch.tensor([0, 1])
    clf = Classifier(ClassifierConfig(num_classes=3, width=8)).eval()
    pgd = {"pgd": lambda m, s: attacks.make_attack("pgd", m, eps=0.1, steps=1, seed=s)}
    out = Path(tempfile.mkdtemp(prefix="polydiff-case-"))
    return [
        Case("robustness.Purifier", "t_star=0.2 on DiscreteVP's 0..999 steps (was no purification)",
             lambda: Purifier(_TinyNet(), default_process(), t_star=0.2, steps=2), ValueError,
             r"t_star is a time on the process's own scale.*199\.8"),
        Case("robustness.PurificationPipeline", "DiscreteVP with the continuous default t*=0.1 (was no purification)",
             lambda: PurificationPipeline(_vision_unet(), clf, default_process(), image_shape=(1, 8, 8), steps=2),
             ValueError, "t_star must be given for a DiscreteVP process"),
        Case("robustness.image_io.write_png", "image on the 0-255 scale (was clipped to white)",
             lambda: image_io.write_png(x[0] * 255, out / "big.png"), ValueError, r"image must lie in \[0, 1\]"),
        Case("robustness.image_io.read_image", "shape with 2 channels (garbled 'takes 2 images')",
             lambda: image_io.read_image(out / "any.png", (2, 8, 8)), ValueError,
             r"shape must be \(C, H, W\) with C = 1 \(grayscale\) or 3"),
        Case("robustness.run_chain", "n_steps=True (was one step)",
             lambda: gradients.run_chain(lambda z, k: z, x, True), TypeError, "n_steps must be an integer"),
        Case("robustness.bpda", "fn not callable (raw 'not callable')", lambda: gradients.bpda("fn", x), TypeError,
             "fn must be a callable"),
        Case("robustness.EOT", "module dropping rows without batched (was averaged over the wrong rows)",
             lambda: gradients.EOT(type("D", (torch.nn.Module,), {"forward": lambda s, z: clf(z[:1])})(), 2)(x),
             ValueError, r"EOT: module must return one row per input \(2\)"),
        Case("robustness.make_attack", "label 3 for 3 logits (IndexError from the loss)",
             lambda: attacks.make_attack("pgd", clf, eps=0.1, steps=1)(x, torch.tensor([0, 3])), ValueError,
             r"labels must be class ids in 0\.\.K-1"),
        Case("robustness.evaluate", "progress not callable (raw 'not callable')",
             lambda: attacks.evaluate(clf, x, y, pgd, progress="print"), TypeError, "progress must be a callable"),
        Case("robustness.evaluate", "attack factory returning None (raw 'not callable')",
             lambda: attacks.evaluate(clf, x, y, {"x": lambda m, s: None}), TypeError,
             "attack factory must return an attack"),
        Case("robustness.attack_batches", "idx out of range (IndexError)",
             lambda: list(attacks.attack_batches(clf, x, y, torch.tensor([5]), pgd["pgd"], 0, 2)), ValueError,
             r"idx must index the 2 examples of x"),
        Case("robustness.train_classifier", "eps=-1 with adversarial=False, which does not use it (was ignored)",
             lambda: train.train_classifier(x, y, TrainConfig(steps=1, batch_size=2), width=8, eps=-1), ValueError,
             r"eps must lie in \(0, 1\]"),
    ]


def _robustness_attack_cases() -> list[Case]:
    import tempfile

    from polydiff.core.training import TrainConfig
    from polydiff.robustness import attacks, checks, gradients, metrics, nets, train

    clf = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 3))
    x, y = torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 2, 0])
    pgd = {"pgd": lambda m, s: attacks.make_attack("pgd", m, eps=0.1, steps=1, seed=s)}

    def truncated_classifier() -> Path:
        folder = Path(tempfile.mkdtemp(prefix="polydiff-case-"))
        nets.save_net(nets.classifier(8), folder)
        (folder / "model.safetensors").write_bytes((folder / "model.safetensors").read_bytes()[:100])
        return folder

    return [
        Case("robustness.make_attack", "eps on the 0-255 scale (eps=8 accepted: every image reachable)",
             lambda: attacks.make_attack("pgd", clf, eps=8), ValueError, r"eps must lie in \(0, 1\].*8/255"),
        Case("robustness.make_attack", "NaN step size alpha (was accepted)",
             lambda: attacks.make_attack("pgd", clf, eps=0.1, alpha=float("nan")), ValueError, "alpha must be a finite"),
        Case("robustness.make_attack", "negative alpha (was accepted)",
             lambda: attacks.make_attack("pgd", clf, eps=0.1, alpha=-0.01), ValueError, "alpha must lie in"),
        Case("robustness.make_attack", "model not an nn.Module (failed inside torchattacks)",
             lambda: attacks.make_attack("pgd", lambda z: z, eps=0.1), TypeError, "model must be an nn.Module"),
        Case("robustness.make_attack", "images outside [0, 1] (torchattacks clamped them silently)",
             lambda: attacks.make_attack("pgd", clf, eps=0.1, steps=1)(x * 255, y), ValueError,
             r"images must lie in \[0, 1\]"),
        Case("robustness.evaluate", "label >= the model's classes (was counted as a misclassification)",
             lambda: attacks.evaluate(clf, x, torch.tensor([0, 1, 5, 0]), pgd), ValueError,
             r"labels y must lie in 0\.\.2"),
        Case("robustness.evaluate", "negative label (was counted as a misclassification)",
             lambda: attacks.evaluate(clf, x, torch.tensor([0, -1, 2, 0]), pgd), ValueError,
             r"labels y must lie in 0\.\.2"),
        Case("robustness.evaluate", "batch_size=0 (raw range() error)", lambda: attacks.evaluate(clf, x, y, pgd, batch_size=0),
             ValueError, "batch_size must be an integer >= 1"),
        Case("robustness.evaluate", "attacks as a list (AttributeError)", lambda: attacks.evaluate(clf, x, y, ["pgd"]),
             TypeError, "attacks must map names"),
        Case("robustness.evaluate", "level outside (0, 1) (raised only after every attack ran)",
             lambda: attacks.evaluate(clf, x, y, pgd, level=95), ValueError, "level must lie in"),
        Case("robustness.attack_batches", "images outside [0, 1] (torchattacks clamped them silently)",
             lambda: list(attacks.attack_batches(clf, x * 255, y, torch.arange(4), pgd["pgd"], 0, 2)), ValueError,
             r"x must lie in \[0, 1\]"),
        Case("robustness.reseed", "not a module (AttributeError)", lambda: attacks.reseed(3, 0), TypeError,
             "module must be an nn.Module"),
        Case("robustness.proportion_ci", "infinite n (OverflowError)", lambda: metrics.proportion_ci(1, float("inf")),
             TypeError, "n must be an integer"),
        Case("robustness.proportion_ci", "level not a number (raw comparison error)",
             lambda: metrics.proportion_ci(1, 3, level="95%"), TypeError, "level must be a real number"),
        Case("robustness.EOT", "module not a module (failed at the first call)", lambda: gradients.EOT(3, 2),
             TypeError, "module must be an nn.Module"),
        Case("robustness.run_chain", "segment=0 (silently the default)",
             lambda: gradients.run_chain(lambda z, k: z * 1, x.clone().requires_grad_(), 3, "adjoint", segment=0), ValueError,
             "segment must be an integer >= 1"),
        Case("robustness.plateau", "robust_accuracy not callable (raw 'not callable')", lambda: checks.plateau(0.5, 2),
             TypeError, "robust_accuracy must be a callable"),
        Case("robustness.masking_gap", "running as a list (blamed the attack order)",
             lambda: checks.masking_gap(["pgd", "square"]), TypeError, "running must be a mapping"),
        Case("robustness.nets.classifier", "float width (raw torch error)", lambda: nets.classifier(16.0), TypeError,
             "width must be an integer"),
        Case("robustness.nets.load", "truncated weights file", lambda: nets.load(truncated_classifier()), ValueError,
             r"model\.safetensors: truncated"),
        Case("robustness.train_classifier", "images on the 0-255 scale (PGD training clamped them to [0, 1])",
             lambda: train.train_classifier(x * 255, y, TrainConfig(steps=1, batch_size=2), width=8, adversarial=True),
             ValueError, r"x must lie in \[0, 1\]"),
        Case("robustness.train_classifier", "training eps on the 0-255 scale (was accepted)",
             lambda: train.train_classifier(x, y, TrainConfig(steps=1, batch_size=2), width=8, adversarial=True, eps=8),
             ValueError, r"eps must lie in \(0, 1\]"),
    ]


def all_cases() -> list[Case]:
    """Every registered case; a domain whose extra is missing contributes none."""
    cases = _core_cases()
    for domain_cases in (_vision_cases, _timeseries_cases, _molecules_cases, _text_cases, _robustness_cases):
        try:
            cases += domain_cases()
        except ImportError:
            continue
    return cases

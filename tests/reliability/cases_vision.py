"""Catalogue cases of polydiff.vision."""
from __future__ import annotations

from pathlib import Path

import torch
from cases_common import MISSING, Case


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

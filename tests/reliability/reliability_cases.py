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
             ValueError, "NaN or inf"),
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
    from polydiff.timeseries.data_paper import load_beijing_pm25, load_physionet2012
    from polydiff.timeseries.impute import ImputerConfig, check_series

    return [
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
    ]


def _molecules_cases() -> list[Case]:
    from polydiff.molecules.data import load_geom, load_moses_smiles, qm9_files
    from polydiff.molecules.featurize import parse_molecule
    from polydiff.molecules.generate import generate_conformers, refine_conformers
    from polydiff.molecules.process import geodiff_process
    from rdkit import Chem

    return [
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
             lambda: generate_conformers("CCO", 1, net=torch.nn.Linear(1, 1), process=geodiff_process(5000),
                                         restarts=2, restart_noise=1e4), ValueError, "restart_noise must lie in"),
        Case("molecules.load_geom", "GEOM not downloaded", lambda: load_geom(MISSING / "geom"), FileNotFoundError,
             "download GEOM"),
        Case("molecules.qm9_files", "folder without the QM9 CSVs", lambda: qm9_files(MISSING / "qm9"),
             FileNotFoundError, "pip install qm9pack"),
        Case("molecules.load_moses_smiles", "folder without the MOSES CSVs",
             lambda: load_moses_smiles(root=MISSING / "moses"), FileNotFoundError, "molsets"),
    ]


def _text_cases() -> list[Case]:
    from polydiff.text.data import load_e2e, parse_control, parse_e2e_line

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
        Case("text.parse_control", "unknown control attribute",
             lambda: parse_control("food : Martian", ["food : Chinese", "area : riverside"]), ValueError,
             "unknown control attribute.*known values"),
    ]


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
        Case("robustness.Purifier", "t_star=True (was t* = 1)", lambda: Purifier(_TinyNet(), t_star=True), ValueError,
             "t_star must be a float"),
        Case("robustness.Purifier", "unknown prediction (failed at the first call)",
             lambda: Purifier(_TinyNet(), steps=2, prediction="noise"), ValueError, "prediction must be one of"),
        Case("robustness.Purifier", "image_shape without channels (every call failed)",
             lambda: Purifier(_TinyNet(), steps=2, image_shape=(8, 8)), ValueError, r"image_shape must be \(C, H, W\)"),
        Case("robustness.Purifier", "float seed (was truncated)", lambda: Purifier(_TinyNet(), steps=2, seed=1.5),
             TypeError, "seed must be an integer"),
        Case("robustness.Purifier", "float64 input to float32 weights (RuntimeError from conv)",
             lambda: purifier()(torch.rand(1, 1, 8, 8, dtype=torch.float64)), TypeError, "x must have the dtype"),
        *_robustness_attack_cases(),
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

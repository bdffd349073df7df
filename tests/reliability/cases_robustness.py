"""Catalogue cases of polydiff.robustness."""
from __future__ import annotations

from pathlib import Path

import torch
from cases_common import Case
from cases_vision import _TinyNet, _vision_unet


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

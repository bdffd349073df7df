"""PurificationPipeline: save/load round trip, per-sample seeds, files named on corruption,
training outputs as a pipeline, named argument errors."""
from __future__ import annotations

import hashlib
import json

import pytest
import torch
from polydiff.core import VP
from polydiff.core.pipeline import INDEX, ModelCard, PipelineError
from polydiff.robustness.pipelines import PurificationPipeline
from polydiff.robustness.purify import PurifiedClassifier, Purifier, _mix
from polydiff.vision.nets import Classifier, ClassifierConfig, UNet, UNetConfig

SHAPE = (1, 8, 8)


def _nets(seed: int = 0) -> tuple[UNet, Classifier]:
    torch.manual_seed(seed)
    den = UNet(UNetConfig(in_channels=1, base=8, mults=(1, 2), attention_levels=(), groups=4, time_scale=1000.0))
    with torch.no_grad():  # zero-initialised output convs would make the denoiser predict 0
        for p in den.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return den, Classifier(ClassifierConfig(in_channels=1, num_classes=3, width=8))


def _pipe(seed: int = 0, **kw) -> PurificationPipeline:
    den, clf = _nets(seed)
    settings = {"image_shape": SHAPE, "t_star": 0.2, "steps": 3, "repeats": 2, "class_names": ["a", "b", "c"]}
    return PurificationPipeline(den, clf, VP(), **{**settings, **kw})


def _images(n: int = 4) -> torch.Tensor:
    return torch.rand(n, *SHAPE, generator=torch.Generator().manual_seed(5))


def test_round_trip_gives_identical_outputs(tmp_path, one_thread):
    pipe = _pipe(gradient="adjoint", eot_iter=4)
    card = ModelCard(training_command="python -m polydiff.robustness.train diffusion --steps 2", data="tiny")
    pipe.save_pretrained(tmp_path / "p", card=card)
    loaded = PurificationPipeline.from_pretrained(tmp_path / "p")
    x = _images()
    a, b = pipe(x, seed=7), loaded(x, seed=7)
    assert a.purified.shape == (2, 4, *SHAPE) and a.logits.shape == (2, 4, 3)
    assert torch.equal(a.purified, b.purified) and torch.equal(a.logits, b.logits)
    assert not torch.equal(a.purified[0], a.purified[1])  # the repeats are different draws
    assert not torch.equal(a.purified, pipe(x, seed=8).purified)  # the seed matters
    assert (loaded.t_star, loaded.solver, loaded.steps, loaded.repeats) == (0.2, "euler_maruyama", 3, 2)
    assert (loaded.gradient, loaded.eot_iter, loaded.class_names) == ("adjoint", 4, ["a", "b", "c"])
    assert loaded.card == card and not loaded.denoiser.training and not loaded.classifier.training
    assert set(json.loads((tmp_path / "p" / INDEX).read_text())["components"]) == {
        "denoiser", "classifier", "process", "purifier"}
    # call-time overrides after loading
    c, d = pipe(x, seed=1, steps=2, solver="ddim", t_star=0.3), loaded(x, seed=1, steps=2, solver="ddim", t_star=0.3)
    assert torch.equal(c.purified, d.purified)
    # the attack-facing module carries the stored settings
    pc_ = loaded.purified_classifier()
    assert isinstance(pc_, PurifiedClassifier) and pc_.repeats == 2 and pc_.purifier.gradient == "adjoint"


def test_outputs_are_the_purifier_then_the_classifier(one_thread):
    pipe = _pipe()
    x = _images(3)
    out = pipe(x, seed=2, repeats=1)
    seeds = [_mix(_mix(2, i), 0) for i in range(3)]
    p = Purifier(pipe.denoiser, pipe.process, t_star=0.2, steps=3, image_shape=SHAPE)
    with torch.no_grad():
        want = p.purify(x, seeds=seeds)
        assert torch.equal(out.purified[0], want) and torch.equal(out.logits[0], pipe.classifier(want))
    assert torch.equal(out.probs, torch.softmax(out.logits[0], -1))
    assert torch.equal(out.predicted, out.majority)  # one repeat: its class is the vote


def test_a_samples_result_does_not_depend_on_its_batch(one_thread):
    pipe = _pipe()
    x = _images(4)
    whole = pipe(x, seed=3)
    part = pipe(x[2:], seed=[_mix(3, 2), _mix(3, 3)])
    assert torch.equal(whole.purified[:, 2:], part.purified)


def test_majority_vote_and_mean_logits():
    from polydiff.robustness.pipelines import PurificationOutput

    logits = torch.tensor([[[0.0, 5.0, 0.0]], [[1.0, 0.0, 0.0]], [[1.0, 0.0, 0.0]]])  # R=3, B=1, K=3
    out = PurificationOutput(torch.zeros(3, 1, 1, 2, 2), logits)
    assert out.votes.tolist() == [[2, 1, 0]] and out.majority.tolist() == [0]
    assert out.predicted.tolist() == [1]  # the mean logits favour class 1


def test_half_precision_equals_the_rounded_networks(tmp_path, one_thread):
    pipe = _pipe()
    pipe.save_pretrained(tmp_path / "h", dtype=torch.float16)
    loaded = PurificationPipeline.from_pretrained(tmp_path / "h")
    rounded = _pipe()
    for net in (rounded.denoiser, rounded.classifier):
        net.load_state_dict({k: v.half().float() if v.is_floating_point() else v for k, v in net.state_dict().items()})
    x = _images(2)
    assert torch.equal(loaded(x, seed=0).purified, rounded(x, seed=0).purified)


def _rewrite(folder, name: str, blob: bytes) -> None:
    """Replace a component file and its checksum in the index (a consistent but wrong file)."""
    (folder / name).write_bytes(blob)
    idx = json.loads((folder / INDEX).read_text())
    idx["files"][name] = {"bytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest()}
    (folder / INDEX).write_text(json.dumps(idx))


def test_corrupt_or_missing_files_are_named(tmp_path):
    _pipe().save_pretrained(tmp_path / "p")
    p = tmp_path / "p"
    weights = p / "classifier" / "weights.safetensors"
    good = weights.read_bytes()
    weights.write_bytes(good[:-10])
    with pytest.raises(PipelineError, match=r"classifier/weights\.safetensors: corrupt"):
        PurificationPipeline.from_pretrained(p)
    weights.unlink()
    with pytest.raises(PipelineError, match=r"classifier/weights\.safetensors: file is missing"):
        PurificationPipeline.from_pretrained(p)
    weights.write_bytes(good)
    cfg = json.loads((p / "denoiser" / "config.json").read_text())
    _rewrite(p, "denoiser/config.json", json.dumps({**cfg, "base": 16}).encode())
    with pytest.raises(PipelineError, match=r"denoiser/weights\.safetensors: .*shape mismatch"):
        PurificationPipeline.from_pretrained(p)
    _rewrite(p, "denoiser/config.json", json.dumps(cfg).encode())
    settings = json.loads((p / "purifier" / "config.json").read_text())
    _rewrite(p, "purifier/config.json", json.dumps({**settings, "t_star": 5.0}).encode())
    with pytest.raises(PipelineError, match=r"purifier/config\.json: t_star must lie in"):
        PurificationPipeline.from_pretrained(p)
    _rewrite(p, "purifier/config.json", json.dumps({**settings, "model_range": [0, 1]}).encode())
    with pytest.raises(PipelineError, match=r"purifier/config\.json: model_range"):
        PurificationPipeline.from_pretrained(p)
    _rewrite(p, "purifier/config.json", json.dumps({k: v for k, v in settings.items() if k != "grid"}).encode())
    with pytest.raises(PipelineError, match=r"purifier/config\.json: missing keys \['grid'\]"):
        PurificationPipeline.from_pretrained(p)


def test_from_training_outputs(tmp_path, one_thread):
    from polydiff.core.training import TrainConfig
    from polydiff.robustness import nets
    from polydiff.robustness.train import train_classifier, train_diffusion

    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(8, 1, 8, 8, generator=g), torch.arange(8) % 3
    cfg = {"steps": 2, "batch_size": 4, "lr": 1e-3, "log_every": 1, "seed": 0}
    proc = VP(beta_max=10.0)  # not the default: the pipeline must read it from the run
    dm = train_diffusion(x, TrainConfig(**cfg, ckpt_dir=tmp_path / "dm" / "run", ema_decay=0.9),
                         process=proc, base=8, mults=(1, 2))
    nets.save_net(dm, tmp_path / "dm")
    clf = nets.classifier(8, num_classes=3)
    nets.save_net(train_classifier(x, y, TrainConfig(**cfg), init=clf), tmp_path / "clf")
    pipe = PurificationPipeline.from_run(tmp_path / "dm", tmp_path / "clf", image_shape=[1, 8, 8], steps=2)
    assert pipe.image_shape == SHAPE and pipe.num_classes == 3 and pipe.process.config() == proc.config()
    for k, v in dm.state_dict().items():
        assert torch.equal(pipe.denoiser.state_dict()[k], v)
    pipe.save_pretrained(tmp_path / "p")
    again = PurificationPipeline.from_pretrained(tmp_path / "p")
    assert torch.equal(pipe(x[:2], seed=0).logits, again(x[:2], seed=0).logits)
    with pytest.raises(ValueError, match=r"clf/config\.json: holds a Classifier, expected a UNet"):
        PurificationPipeline.from_run(tmp_path / "clf", tmp_path / "dm")


def test_bad_arguments_are_named():
    den, clf = _nets()
    with pytest.raises(TypeError, match="denoiser must be a polydiff.vision.nets.UNet, got Linear"):
        PurificationPipeline(torch.nn.Linear(1, 1), clf)
    with pytest.raises(TypeError, match="classifier must be a polydiff.vision.nets.Classifier"):
        PurificationPipeline(den, den)
    with pytest.raises(ValueError, match=r"image_shape must be three positive ints \(C, H, W\), got \(8, 8\)"):
        PurificationPipeline(den, clf, image_shape=(8, 8))
    with pytest.raises(ValueError, match="image_shape has 3 channel"):
        PurificationPipeline(den, clf, image_shape=(3, 8, 8))
    with pytest.raises(ValueError, match=r"t_star must lie in the process's time range \[t_min, t_max\]"):
        PurificationPipeline(den, clf, image_shape=SHAPE, t_star=2.0)
    with pytest.raises(ValueError, match="solver must be one of"):
        PurificationPipeline(den, clf, image_shape=SHAPE, solver="rk4")
    with pytest.raises(ValueError, match="steps must be a positive int, got 0"):
        PurificationPipeline(den, clf, image_shape=SHAPE, steps=0)
    with pytest.raises(ValueError, match="repeats must be a positive int"):
        PurificationPipeline(den, clf, image_shape=SHAPE, repeats=0)
    with pytest.raises(ValueError, match="gradient='adjoint' recomputes single steps"):
        PurificationPipeline(den, clf, image_shape=SHAPE, solver="dpmpp_2m", gradient="adjoint")
    with pytest.raises(ValueError, match="class_names must hold 3 distinct names"):
        PurificationPipeline(den, clf, image_shape=SHAPE, class_names=["a", "a", "b"])
    pipe = PurificationPipeline(den, clf, image_shape=SHAPE, steps=2)
    with pytest.raises(ValueError, match=r"x must have per-image shape \(1, 8, 8\)"):
        pipe(torch.rand(1, 1, 4, 4))
    with pytest.raises(ValueError, match="seed holds 1 seeds for a batch of 2"):
        pipe(torch.rand(2, *SHAPE), seed=[0])

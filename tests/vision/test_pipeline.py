"""VisionGenerationPipeline: save/load round trip, half precision, a training run as a pipeline."""
from __future__ import annotations

import json

import pytest
import torch
from polydiff.core.pipeline import INDEX, ModelCard, PipelineError
from polydiff.vision._common import default_process
from polydiff.vision.nets import UNet, UNetConfig
from polydiff.vision.pipelines import VisionGenerationPipeline

TINY = UNetConfig(in_channels=1, base=8, mults=(1, 2), attention_levels=(1,), num_classes=3, groups=4)


def _pipe(seed: int = 0) -> VisionGenerationPipeline:
    torch.manual_seed(seed)
    net = UNet(TINY)
    with torch.no_grad():  # zero-initialised output convs would make every sample alike
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return VisionGenerationPipeline(net, default_process(), (1, 8, 8), solver="ddim", steps=4,
                                    guidance_scale=2.0)


def _gen() -> list[torch.Generator]:
    return [torch.Generator().manual_seed(s) for s in range(3)]


def test_round_trip_gives_identical_images(tmp_path, one_thread):
    pipe = _pipe()
    card = ModelCard(training_command="polydiff train vision --steps 2", data="tiny")
    pipe.save_pretrained(tmp_path / "p", card=card)
    loaded = VisionGenerationPipeline.from_pretrained(tmp_path / "p")
    labels = torch.tensor([0, 1, 2])
    a, b = pipe(labels, generator=_gen()), loaded(labels, generator=_gen())
    assert a.shape == (3, 1, 8, 8) and torch.equal(a, b)
    assert not torch.equal(a[0], a[1])  # the samples depend on the noise and label
    assert (loaded.solver, loaded.steps, loaded.guidance_scale) == ("ddim", 4, 2.0)
    assert loaded.card == card and not loaded.unet.training
    idx = json.loads((tmp_path / "p" / INDEX).read_text())
    assert set(idx["components"]) == {"unet", "process", "sampler"}
    # overriding a default at call time still works after loading
    c = loaded(labels, steps=2, generator=_gen())
    assert torch.equal(c, pipe(labels, steps=2, generator=_gen()))


def test_half_precision_equals_the_rounded_network(tmp_path, one_thread):
    pipe = _pipe()
    pipe.save_pretrained(tmp_path / "h", dtype=torch.float16)
    loaded = VisionGenerationPipeline.from_pretrained(tmp_path / "h")
    rounded = _pipe()
    rounded.unet.load_state_dict({k: v.half().float() if v.is_floating_point() else v
                                  for k, v in rounded.unet.state_dict().items()})
    labels = torch.tensor([2, 0, 1])
    assert torch.equal(loaded(labels, generator=_gen()), rounded(labels, generator=_gen()))


def test_wrong_weights_name_the_file(tmp_path):
    pipe = _pipe()
    pipe.save_pretrained(tmp_path / "p")
    cfg = json.loads((tmp_path / "p" / "unet" / "config.json").read_text())
    cfg["base"] = 16  # a network the stored weights do not fit; checksum updated to match
    blob = json.dumps(cfg).encode()
    import hashlib
    (tmp_path / "p" / "unet" / "config.json").write_bytes(blob)
    idx = json.loads((tmp_path / "p" / INDEX).read_text())
    idx["files"]["unet/config.json"] = {"bytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest()}
    (tmp_path / "p" / INDEX).write_text(json.dumps(idx))
    with pytest.raises(PipelineError, match=r"unet/weights\.safetensors: .*shape mismatch"):
        VisionGenerationPipeline.from_pretrained(tmp_path / "p")


def test_from_training_run(tmp_path, one_thread):
    from polydiff.vision.train import train
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(8, 1, 8, 8, generator=g), torch.arange(8) % 3
    net, _ = train("generate", x, y, steps=2, batch_size=4, out_dir=tmp_path / "run", num_classes=3,
                   net_kwargs={"base": 8, "mults": (1, 2), "attention_levels": (1,), "groups": 4})
    pipe = VisionGenerationPipeline.from_run(tmp_path / "run", steps=3)
    assert pipe.image_shape == (1, 8, 8) and pipe.num_classes == 3
    for k, v in net.state_dict().items():  # the EMA weights the run returned
        assert torch.equal(pipe.unet.state_dict()[k], v)
    pipe.save_pretrained(tmp_path / "p")
    again = VisionGenerationPipeline.from_pretrained(tmp_path / "p")
    labels = torch.tensor([0, 2, 1])
    assert torch.equal(pipe(labels, generator=_gen()), again(labels, generator=_gen()))


def test_bad_arguments_are_rejected():
    net = UNet(TINY)
    proc = default_process()
    with pytest.raises(TypeError, match="unet must be a polydiff.vision.nets.UNet, got Linear"):
        VisionGenerationPipeline(torch.nn.Linear(1, 1), proc, (1, 8, 8))
    with pytest.raises(ValueError, match="must be class-conditional"):
        VisionGenerationPipeline(UNet(UNetConfig(base=8, groups=4, attention_levels=())), proc, (1, 8, 8))
    with pytest.raises(ValueError, match=r"image_shape must be three positive ints \(C, H, W\), got \(8, 8\)"):
        VisionGenerationPipeline(net, proc, (8, 8))
    with pytest.raises(ValueError, match="image_shape has 3 channels, the unet 1"):
        VisionGenerationPipeline(net, proc, (3, 8, 8))
    with pytest.raises(ValueError, match="steps must be a positive int, got 0"):
        VisionGenerationPipeline(net, proc, (1, 8, 8), steps=0)
    with pytest.raises(ValueError, match="guidance_scale must be a number >= 0"):
        VisionGenerationPipeline(net, proc, (1, 8, 8), guidance_scale=-1)

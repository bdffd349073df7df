"""SuperResolutionPipeline and InpaintingPipeline: save/load round trips give identical images,
training runs become pipelines, damaged folders and bad arguments are named."""
from __future__ import annotations

import hashlib
import json

import pytest
import torch
from polydiff.core.pipeline import INDEX, ModelCard, PipelineError
from polydiff.vision._common import default_process
from polydiff.vision.nets import UNet, UNetConfig
from polydiff.vision.pipelines import InpaintingPipeline, SuperResolutionPipeline

SMALL = {"base": 8, "mults": (1, 2), "attention_levels": (1,), "groups": 4}


def _noisy(net: UNet) -> UNet:
    with torch.no_grad():  # zero-initialised output convs would make every sample alike
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return net


def sr_pipe(prediction: str = "v", residual: bool = False, **kw) -> SuperResolutionPipeline:
    torch.manual_seed(0)
    net = _noisy(UNet(UNetConfig(in_channels=1, cond_channels=1, prediction=prediction,
                                 residual=residual, **SMALL)))
    return SuperResolutionPipeline(net, default_process(), 2, steps=4, **kw)


def inpaint_pipe(**kw) -> InpaintingPipeline:
    torch.manual_seed(1)
    net = _noisy(UNet(UNetConfig(in_channels=1, **SMALL)))
    return InpaintingPipeline(net, default_process(), (1, 8, 8), **{"steps": 6, "resample": 2, **kw})


def hole_mask() -> torch.Tensor:
    mask = torch.ones(1, 1, 8, 8)
    mask[..., 2:6, 3:7] = 0
    return mask


def _gen(n: int = 2) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(s) for s in range(n)]


def _rewrite(folder, name: str, edit) -> None:
    """Edit a component's config.json and update its checksum (a consistent but wrong folder)."""
    file = folder / name / "config.json"
    cfg = json.loads(file.read_text())
    edit(cfg)
    blob = json.dumps(cfg).encode()
    file.write_bytes(blob)
    idx = json.loads((folder / INDEX).read_text())
    idx["files"][f"{name}/config.json"] = {"bytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest()}
    (folder / INDEX).write_text(json.dumps(idx))


@pytest.mark.parametrize("prediction,residual", [("v", False), ("x0", True)])
def test_superres_round_trip_gives_identical_images(tmp_path, one_thread, prediction, residual):
    pipe = sr_pipe(prediction, residual, consistent=residual)
    card = ModelCard(training_command="polydiff train vision --task superres --factor 2", data="tiny")
    pipe.save_pretrained(tmp_path / "sr", card=card)
    loaded = SuperResolutionPipeline.from_pretrained(tmp_path / "sr")
    lowres = torch.rand(2, 1, 4, 4, generator=torch.Generator().manual_seed(5))
    a, b = pipe(lowres, generator=_gen()), loaded(lowres, generator=_gen())
    assert a.shape == (2, 1, 8, 8) and torch.equal(a, b)
    assert (loaded.factor, loaded.steps, loaded.solver, loaded.consistent) == (2, 4, "ddim", residual)
    c = loaded.unet.config
    assert (c.prediction, c.residual, loaded.card) == (prediction, residual, card)
    sampler = json.loads((tmp_path / "sr" / "sampler" / "config.json").read_text())
    assert sampler["prediction"] == prediction and sampler["residual"] is residual
    assert torch.equal(loaded(lowres, steps=2, solver="dpmpp_2m", generator=_gen()),
                       pipe(lowres, steps=2, solver="dpmpp_2m", generator=_gen()))


def test_inpainting_round_trip_gives_identical_images(tmp_path, one_thread):
    pipe = inpaint_pipe(jump_length=2)
    pipe.save_pretrained(tmp_path / "inp", dtype=torch.float16)
    loaded = InpaintingPipeline.from_pretrained(tmp_path / "inp")
    rounded = inpaint_pipe(jump_length=2)  # what half precision stores
    rounded.unet.load_state_dict({k: v.half().float() for k, v in rounded.unet.state_dict().items()})
    images = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    a, b = rounded(images, hole_mask(), generator=_gen()), loaded(images, hole_mask(), generator=_gen())
    assert torch.equal(a, b)
    known = hole_mask().expand_as(images) == 1
    assert torch.equal(b[known], images[known]) and not torch.equal(b[~known], images[~known])
    assert (loaded.steps, loaded.jump_length, loaded.resample, loaded.image_shape) == (6, 2, 2, (1, 8, 8))


def test_inpainting_jump_keeps_its_fraction_of_the_trajectory(one_thread):
    pipe = inpaint_pipe(steps=6, jump_length=2)
    images = torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    # 12 steps: the jump of 2 in 6 steps becomes 4
    assert torch.equal(pipe(images, hole_mask(), steps=12, generator=_gen(1)),
                       pipe(images, hole_mask(), steps=12, jump_length=4, generator=_gen(1)))
    assert InpaintingPipeline(pipe.unet, pipe.process, (1, 8, 8), steps=250).jump_length == 10  # the paper's


def test_training_runs_become_pipelines(tmp_path, one_thread):
    from polydiff.vision.train import train

    x = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    y = torch.zeros(4, dtype=torch.long)
    sr_net, _ = train("superres", x, y, steps=1, batch_size=4, out_dir=tmp_path / "sr", factor=2,
                      net_kwargs={**SMALL, "residual": True})
    sr = SuperResolutionPipeline.from_run(tmp_path / "sr", steps=3)
    assert (sr.factor, sr.steps, sr.unet.config.prediction, sr.unet.config.residual) == (2, 3, "x0", True)
    assert all(torch.equal(sr.unet.state_dict()[k], v) for k, v in sr_net.state_dict().items())
    train("inpaint", x, y, steps=1, batch_size=4, out_dir=tmp_path / "inp", net_kwargs=SMALL)
    inp = InpaintingPipeline.from_run(tmp_path / "inp", steps=4, resample=1)
    assert inp.image_shape == (1, 8, 8) and inp.jump_length == 1
    inp.save_pretrained(tmp_path / "p")
    again = InpaintingPipeline.from_pretrained(tmp_path / "p")
    assert torch.equal(inp(x[:1], hole_mask(), generator=_gen(1)), again(x[:1], hole_mask(), generator=_gen(1)))
    with pytest.raises(ValueError, match="is a 'inpaint' run, not a 'superres' run"):
        SuperResolutionPipeline.from_run(tmp_path / "inp")
    with pytest.raises(ValueError, match="is a 'superres' run, not an 'inpaint' run"):
        InpaintingPipeline.from_run(tmp_path / "sr")


def test_damaged_folders_name_the_file(tmp_path):
    sr_pipe().save_pretrained(tmp_path / "sr")
    (tmp_path / "sr" / "sampler" / "config.json").unlink()
    with pytest.raises(PipelineError, match=r"sampler/config\.json: file is missing"):
        SuperResolutionPipeline.from_pretrained(tmp_path / "sr")

    inpaint_pipe().save_pretrained(tmp_path / "inp")
    weights = tmp_path / "inp" / "unet" / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])
    with pytest.raises(PipelineError, match=r"unet/weights\.safetensors: corrupt"):
        InpaintingPipeline.from_pretrained(tmp_path / "inp")

    sr_pipe().save_pretrained(tmp_path / "sr2")
    _rewrite(tmp_path / "sr2", "sampler", lambda c: c.update(prediction="eps"))
    with pytest.raises(PipelineError, match=r"sampler/config\.json: prediction 'eps' differs from the "
                                            r"unet's 'v' \(unet/config\.json\)"):
        SuperResolutionPipeline.from_pretrained(tmp_path / "sr2")
    _rewrite(tmp_path / "sr2", "sampler", lambda c: c.update(prediction="v", factor=0))
    with pytest.raises(PipelineError, match=r"sampler/config\.json: factor must be an int >= 2, got 0"):
        SuperResolutionPipeline.from_pretrained(tmp_path / "sr2")

    inpaint_pipe().save_pretrained(tmp_path / "inp2")
    _rewrite(tmp_path / "inp2", "sampler", lambda c: c.pop("resample"))
    with pytest.raises(PipelineError, match=r"sampler/config\.json: missing keys \['resample'\]"):
        InpaintingPipeline.from_pretrained(tmp_path / "inp2")
    with pytest.raises(PipelineError, match="holds a polydiff.vision.pipelines:InpaintingPipeline"):
        SuperResolutionPipeline.from_pretrained(tmp_path / "inp2")


def test_bad_arguments_are_rejected():
    proc, sr, inp = default_process(), sr_pipe().unet, inpaint_pipe().unet
    with pytest.raises(ValueError, match="unet must be an SR3 U-Net"):
        SuperResolutionPipeline(inp, proc, 4)
    with pytest.raises(ValueError, match="factor must be an int >= 2, got 1"):
        SuperResolutionPipeline(sr, proc, 1)
    with pytest.raises(ValueError, match="solver must be one of"):
        SuperResolutionPipeline(sr, proc, 4, solver="magic")
    with pytest.raises(TypeError, match="consistent must be a bool, got str"):
        SuperResolutionPipeline(sr, proc, 4, consistent="yes")
    with pytest.raises(ValueError, match="unet must be unconditional"):
        InpaintingPipeline(sr, proc, (1, 8, 8))
    with pytest.raises(ValueError, match="image_shape: H and W must be divisible by 2"):
        InpaintingPipeline(inp, proc, (1, 7, 8))
    with pytest.raises(ValueError, match="resample must be a positive int, got 0"):
        InpaintingPipeline(inp, proc, (1, 8, 8), resample=0)
    with pytest.raises(ValueError, match="steps must be a positive int, got 0"):
        InpaintingPipeline(inp, proc, (1, 8, 8), steps=0)

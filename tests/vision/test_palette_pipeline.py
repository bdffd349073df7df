"""PaletteInpaintingPipeline: save/load round trip, runs become pipelines, `polydiff inpaint`
applies it (and refuses RePaint's flags for it), bad networks are named."""
from __future__ import annotations

import json

import pytest
import torch
from polydiff.bench.cli import main
from polydiff.core.pipeline import PipelineError
from polydiff.vision._common import default_process
from polydiff.vision.commands import inpaint_pipeline_class
from polydiff.vision.image_files import read_image, save_png
from polydiff.vision.nets import UNet, UNetConfig
from polydiff.vision.palette_pipeline import PaletteInpaintingPipeline
from polydiff.vision.pipelines import InpaintingPipeline

SMALL = {"base": 8, "mults": (1, 2), "attention_levels": (1,), "groups": 4}


def palette_pipe(**kw) -> PaletteInpaintingPipeline:
    torch.manual_seed(2)
    net = UNet(UNetConfig(in_channels=1, cond_channels=2, prediction="v", **SMALL))
    with torch.no_grad():  # zero-initialised output convs would make every sample alike
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return PaletteInpaintingPipeline(net, default_process(), (1, 8, 8), **{"steps": 5, **kw})


def hole_mask() -> torch.Tensor:
    mask = torch.ones(1, 1, 8, 8)
    mask[..., 2:6, 3:7] = 0
    return mask


def test_round_trip_gives_identical_images_and_keeps_the_known_pixels(tmp_path, one_thread):
    pipe = palette_pipe(solver="ddim")
    pipe.save_pretrained(tmp_path / "pal")
    loaded = PaletteInpaintingPipeline.from_pretrained(tmp_path / "pal")
    images = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    gens = lambda: [torch.Generator().manual_seed(s) for s in range(2)]
    a, b = pipe(images, hole_mask(), generator=gens()), loaded(images, hole_mask(), generator=gens())
    assert torch.equal(a, b)
    known = hole_mask().expand_as(images) == 1
    assert torch.equal(b[known], images[known]) and not torch.equal(b[~known], images[~known])
    assert (loaded.steps, loaded.solver, loaded.image_shape) == (5, "ddim", (1, 8, 8))
    sampler = json.loads((tmp_path / "pal" / "sampler" / "config.json").read_text())
    assert sampler["task"] == "palette" and sampler["prediction"] == "v"
    with pytest.raises(PipelineError, match="not a polydiff.vision.pipelines:InpaintingPipeline"):
        InpaintingPipeline.from_pretrained(tmp_path / "pal")


def test_training_run_becomes_a_pipeline(tmp_path, one_thread):
    from polydiff.vision.train import train
    x = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    net, _ = train("palette", x, torch.zeros(4, dtype=torch.long), steps=1, batch_size=4, out_dir=tmp_path / "run",
                   net_kwargs=SMALL)
    pipe = PaletteInpaintingPipeline.from_run(tmp_path / "run", steps=3)
    assert pipe.image_shape == (1, 8, 8) and pipe.steps == 3
    assert all(torch.equal(pipe.unet.state_dict()[k], v) for k, v in net.state_dict().items())
    train("inpaint", x, torch.zeros(4, dtype=torch.long), steps=1, batch_size=4, out_dir=tmp_path / "unc",
          net_kwargs=SMALL)
    with pytest.raises(ValueError, match="is a 'inpaint' run, not a 'palette' run"):
        PaletteInpaintingPipeline.from_run(tmp_path / "unc")
    with pytest.raises(ValueError, match="cond_channels == in_channels \\+ 1"):
        PaletteInpaintingPipeline(UNet(UNetConfig(in_channels=1, **SMALL)), default_process(), (1, 8, 8))


def test_inpaint_command_applies_a_palette_pipeline(tmp_path, one_thread, capsys):
    pipe = palette_pipe()
    pipe.save_pretrained(tmp_path / "pal")
    assert inpaint_pipeline_class(tmp_path / "pal") is PaletteInpaintingPipeline
    assert inpaint_pipeline_class(tmp_path / "nothing-here") is InpaintingPipeline  # loading names the problem
    image = torch.rand(1, 8, 8, generator=torch.Generator().manual_seed(2))
    save_png(image, tmp_path / "img.png")
    image = read_image(tmp_path / "img.png")  # 8-bit
    save_png(1 - hole_mask()[0], tmp_path / "mask.png")  # white = missing
    args = ["inpaint", "--model", str(tmp_path / "pal"), "--input", str(tmp_path / "img.png"),
            "--mask", str(tmp_path / "mask.png"), "--output", str(tmp_path / "out.png"), "--seed", "9"]
    assert main([*args, "--steps", "4", "--no-progress"]) == 0
    want = pipe(image[None], hole_mask(), steps=4, generator=torch.Generator().manual_seed(9))[0]
    assert (read_image(tmp_path / "out.png") - want).abs().max() <= 0.5 / 255 + 1e-6
    with pytest.raises(SystemExit, match="--resample: .* is a Palette pipeline .* drop --resample"):
        main([*args, "--resample", "2"])
    # the progress bar counts every solver step: its total is what the sampler calls back
    calls = []
    pipe(image[None], hole_mask(), steps=4, callback=calls.append)
    assert main([*args, "--steps", "4"]) == 0
    assert f"{len(calls)}/{len(calls)}" in capsys.readouterr().err

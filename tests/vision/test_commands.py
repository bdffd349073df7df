"""`polydiff generate`, `polydiff superres`, `polydiff inpaint`: a saved pipeline applied from the
command line writes the pipeline's own images as PNG files (whole or not at all); bad arguments
end with a message naming the flag."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from polydiff.bench.cli import main
from polydiff.vision.image_files import read_image, read_mask, save_png


def _sibling(name: str):
    """A test module of this folder, imported under a name no other folder's module shares."""
    path = Path(__file__).with_name(f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"{Path(__file__).parent.name}_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_pipe = _sibling("test_pipeline")._pipe  # the tiny pipelines of the round-trip tests
_tasks = _sibling("test_pipeline_tasks")
hole_mask, inpaint_pipe, sr_pipe = _tasks.hole_mask, _tasks.inpaint_pipe, _tasks.sr_pipe


def test_generate_writes_the_pipelines_images_as_png(tmp_path, one_thread):
    pipe = _pipe()
    pipe.save_pretrained(tmp_path / "p")
    out = tmp_path / "png"
    code = main(["generate", "--model", str(tmp_path / "p"), "--labels", "2,0", "--per-label", "2",
                 "--out", str(out), "--seed", "7", "--steps", "3", "--batch-size", "3", "--no-progress"])
    files = sorted(out.glob("*.png"))
    assert code == 0 and [f.name for f in files] == [
        "00000_class2.png", "00001_class2.png", "00002_class0.png", "00003_class0.png"]
    # the same images as the pipeline called with the command's seed and batches
    g = torch.Generator().manual_seed(7)
    first = pipe(torch.tensor([2, 2, 0]), steps=3, generator=g)
    second = pipe(torch.tensor([0]), steps=3, generator=g)
    want = torch.cat([first, second])
    got = torch.stack([torch.from_numpy(np.asarray(Image.open(f), dtype=np.float32) / 255) for f in files])
    assert got.shape == (4, 8, 8)
    assert (got - want[:, 0]).abs().max() <= 0.5 / 255 + 1e-6  # 8-bit rounding only


def test_generate_names_the_flag_at_fault(tmp_path, capsys):
    _pipe().save_pretrained(tmp_path / "p")
    with pytest.raises(SystemExit, match="--labels: the pipeline has 3 classes, got \\[5\\]"):
        main(["generate", "--model", str(tmp_path / "p"), "--labels", "5", "--out", str(tmp_path / "o")])
    with pytest.raises(SystemExit, match="(?s)--model .*nowhere.*pass --model DIR"):
        main(["generate", "--model", str(tmp_path / "nowhere"), "--labels", "0", "--out", str(tmp_path / "o")])
    with pytest.raises(SystemExit) as info:
        main(["generate", "--model", str(tmp_path / "p"), "--labels", "a,b", "--out", str(tmp_path / "o")])
    assert info.value.code == 2 and "--labels" in capsys.readouterr().err
    # #31: torch's device error did not name the flag; a file --out was a FileExistsError
    with pytest.raises(SystemExit, match="--device must name a torch device type.*'tpu'"):
        main(["generate", "--model", str(tmp_path / "p"), "--labels", "0", "--device", "tpu",
              "--out", str(tmp_path / "o")])
    (tmp_path / "file.png").write_bytes(b"")
    with pytest.raises(SystemExit, match="--out .*file.png: is a file"):
        main(["generate", "--model", str(tmp_path / "p"), "--labels", "0", "--steps", "1",
              "--out", str(tmp_path / "file.png")])


# --- polydiff superres / polydiff inpaint ---------------------------------------------------


def _png(tensor: torch.Tensor, path: Path) -> torch.Tensor:
    """Write ``[C, H, W]`` as PNG and return what reading it gives (8-bit rounded)."""
    save_png(tensor, path)
    return read_image(path)


def test_superres_writes_the_pipelines_images(tmp_path, one_thread):
    pipe = sr_pipe("x0", True)
    pipe.save_pretrained(tmp_path / "sr")
    g = torch.Generator().manual_seed(3)
    (tmp_path / "low").mkdir()
    lows = [_png(torch.rand(1, 4, 4, generator=g), tmp_path / "low" / f"{n}.png") for n in ("a", "b")]
    code = main(["superres", "--model", str(tmp_path / "sr"), "--input", str(tmp_path / "low" / "b.png"),
                 "--output", str(tmp_path / "one.png"), "--seed", "4", "--steps", "3", "--no-progress"])
    want = pipe(lows[1][None], steps=3, generator=torch.Generator().manual_seed(4))[0]
    got = read_image(tmp_path / "one.png", channels=1)
    assert code == 0 and got.shape == (1, 8, 8)
    assert (got - want).abs().max() <= 0.5 / 255 + 1e-6  # 8-bit rounding only
    # a folder: one output per input, same names, each sampled with a fresh --seed generator
    code = main(["superres", "--model", str(tmp_path / "sr"), "--input", str(tmp_path / "low"),
                 "--output", str(tmp_path / "high"), "--seed", "4", "--steps", "3", "--solver", "dpmpp_2m",
                 "--no-progress"])
    assert code == 0 and sorted(p.name for p in (tmp_path / "high").iterdir()) == ["a.png", "b.png"]
    for name, low in zip(("a", "b"), lows):
        want = pipe(low[None], steps=3, solver="dpmpp_2m", generator=torch.Generator().manual_seed(4))[0]
        assert (read_image(tmp_path / "high" / f"{name}.png") - want).abs().max() <= 0.5 / 255 + 1e-6


def test_inpaint_writes_the_pipelines_image(tmp_path, one_thread):
    pipe = inpaint_pipe()
    pipe.save_pretrained(tmp_path / "inp")
    image = _png(torch.rand(1, 8, 8, generator=torch.Generator().manual_seed(2)), tmp_path / "img.png")
    save_png(1 - hole_mask()[0], tmp_path / "mask.png")  # white = missing
    assert torch.equal(read_mask(tmp_path / "mask.png"), hole_mask()[0])
    code = main(["inpaint", "--model", str(tmp_path / "inp"), "--input", str(tmp_path / "img.png"),
                 "--mask", str(tmp_path / "mask.png"), "--output", str(tmp_path / "out.png"),
                 "--seed", "9", "--steps", "4", "--resample", "1", "--no-progress"])
    want = pipe(image[None], hole_mask(), steps=4, resample=1, generator=torch.Generator().manual_seed(9))[0]
    got = read_image(tmp_path / "out.png")
    known = hole_mask()[0] == 1
    assert code == 0 and (got - want).abs().max() <= 0.5 / 255 + 1e-6
    assert torch.equal(got[known], image[known]) and not torch.equal(got[~known], image[~known])


def test_superres_and_inpaint_name_the_flag_at_fault(tmp_path, capsys):
    sr_pipe().save_pretrained(tmp_path / "sr")
    inpaint_pipe().save_pretrained(tmp_path / "inp")
    save_png(torch.rand(3, 8, 8), tmp_path / "rgb.png")
    save_png(torch.rand(1, 8, 8), tmp_path / "gray.png")
    save_png(torch.rand(1, 7, 7), tmp_path / "odd.png")
    save_png(torch.ones(1, 7, 7), tmp_path / "mask7.png")
    save_png(torch.zeros(1, 6, 6), tmp_path / "mask6.png")
    save_png(torch.zeros(1, 8, 8), tmp_path / "black.png")
    sr = ["superres", "--model", str(tmp_path / "sr"), "--no-progress"]
    inp = ["inpaint", "--model", str(tmp_path / "inp"), "--no-progress", "--output", str(tmp_path / "o.png")]
    cases = [
        (sr + ["--input", str(tmp_path / "rgb.png"), "--output", str(tmp_path / "o.png")],
         r"--input .*rgb\.png: is RGB \(3 channels\), the model takes grayscale \(1 channel\)"),
        (sr + ["--input", str(tmp_path / "gray.png"), "--output", str(tmp_path / "o.jpg")],
         r"--output .*o\.jpg: must be a \.png file or an existing folder"),
        (sr + ["--input", str(tmp_path / "nowhere"), "--output", str(tmp_path / "o.png")],
         r"--input .*nowhere: no such file or folder"),
        (sr + ["--input", str(tmp_path / "gray.png"), "--output", str(tmp_path)],
         r"--output .*: is an input file; refusing to overwrite the input"),
        (inp + ["--input", str(tmp_path / "gray.png"), "--mask", str(tmp_path / "mask6.png")],
         r"--mask .*mask6\.png: is 6x6 pixels, --input .*gray\.png is 8x8; they must be the same size"),
        (inp + ["--input", str(tmp_path / "gray.png"), "--mask", str(tmp_path / "black.png")],
         r"--mask .*black\.png: has no white \(missing\) pixel: nothing to inpaint"),
        (inp + ["--input", str(tmp_path / "rgb.png"), "--mask", str(tmp_path / "black.png")],
         r"--input .*rgb\.png: is RGB"),
        (inp + ["--input", str(tmp_path / "odd.png"), "--mask", str(tmp_path / "mask7.png")],
         r"--input .*odd\.png: 7x7 pixels: .*divisible by 2"),
        (["inpaint", "--model", str(tmp_path / "sr"), "--input", str(tmp_path / "gray.png"),
          "--mask", str(tmp_path / "black.png"), "--output", str(tmp_path / "o.png")],
         r"(?s)--model .*holds a polydiff.vision.pipelines:SuperResolutionPipeline"),
    ]
    for argv, message in cases:
        with pytest.raises(SystemExit, match=message):
            main(argv)
    assert not list(tmp_path.glob("o.*")) and not list(tmp_path.glob(".*.part"))
    for flag in ("--steps", "--resample"):
        with pytest.raises(SystemExit) as info:
            main(inp + ["--input", "x.png", "--mask", "m.png", flag, "0"])
        assert info.value.code == 2 and f"argument {flag}" in capsys.readouterr().err


def test_png_files_are_written_whole_or_not_at_all(tmp_path, monkeypatch):
    from PIL import Image

    def crash(self, fp, *args, **kwargs):
        fp.write(b"\x89PNG half")
        raise OSError("disk full")
    monkeypatch.setattr(Image.Image, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        save_png(torch.rand(1, 4, 4), tmp_path / "out.png")
    assert list(tmp_path.iterdir()) == []


def test_image_files_read_16_bit_gray_and_refuse_transparency(tmp_path):
    from PIL import Image

    Image.fromarray(np.array([[0, 65535], [32768, 1]], dtype=np.uint16)).save(tmp_path / "g16.png")
    assert torch.allclose(read_image(tmp_path / "g16.png", 1)[0],
                          torch.tensor([[0.0, 1.0], [32768 / 65535, 1 / 65535]]))
    rgba = np.full((2, 2, 4), 255, dtype=np.uint8)
    Image.fromarray(rgba).save(tmp_path / "opaque.png")
    assert read_image(tmp_path / "opaque.png", 3).shape == (3, 2, 2)
    rgba[0, 0, 3] = 0
    Image.fromarray(rgba).save(tmp_path / "clear.png")
    with pytest.raises(ValueError, match=r"clear\.png: has transparent pixels"):
        read_image(tmp_path / "clear.png")
    (tmp_path / "junk.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"junk\.png: not a readable image"):
        read_image(tmp_path / "junk.png")

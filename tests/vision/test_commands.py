"""`polydiff generate`: a saved pipeline applied from the command line writes the pipeline's own
images as PNG files; bad arguments end with a message naming the flag."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from polydiff.bench.cli import main


def _sibling(name: str):
    """A test module of this folder, imported under a name no other folder's module shares."""
    path = Path(__file__).with_name(f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"{Path(__file__).parent.name}_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_pipe = _sibling("test_pipeline")._pipe  # the tiny pipeline of the round-trip tests


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

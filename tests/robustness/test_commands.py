"""`polydiff purify`: a saved pipeline applied to image files writes the pipeline's own
predictions (CSV) and purified images (PNG); bad inputs and flags end with a message naming
the flag or the file."""
from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from polydiff.bench.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_pipeline import _pipe  # the tiny pipeline of the round-trip tests


def _write_inputs(folder: Path, n: int = 3) -> torch.Tensor:
    """``n`` 8x8 grayscale PNGs ``img0.png ...``; returns them as the command reads them."""
    folder.mkdir()
    g = np.random.default_rng(0)
    arrays = [g.integers(0, 256, (8, 8), dtype=np.uint8) for _ in range(n)]
    for i, a in enumerate(arrays):
        Image.fromarray(a).save(folder / f"img{i}.png")
    return torch.stack([torch.from_numpy(a.astype(np.float32) / 255)[None] for a in arrays])


def test_purify_writes_the_pipelines_predictions_and_images(tmp_path, one_thread):
    pipe = _pipe()
    pipe.save_pretrained(tmp_path / "p")
    x = _write_inputs(tmp_path / "in")
    preds, out = tmp_path / "preds.csv", tmp_path / "purified"
    code = main(["purify", "--model", str(tmp_path / "p"), "--input", str(tmp_path / "in"),
                 "--predictions", str(preds), "--output", str(out), "--seed", "7", "--steps", "2",
                 "--repeats", "3", "--batch-size", "2", "--no-progress"])
    assert code == 0
    want = pipe(x, seed=7, steps=2, repeats=3)  # one call: the command's batches do not matter
    with preds.open() as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["file", "predicted", "label", "majority", "p_a", "p_b", "p_c"]
    assert [r[0] for r in rows[1:]] == ["img0.png", "img1.png", "img2.png"]
    assert [int(r[1]) for r in rows[1:]] == want.predicted.tolist()
    assert [r[2] for r in rows[1:]] == [pipe.class_names[k] for k in want.predicted.tolist()]
    assert [int(r[3]) for r in rows[1:]] == want.majority.tolist()
    got = torch.tensor([[float(v) for v in r[4:]] for r in rows[1:]], dtype=torch.float64)
    # written exactly (repr round-trips); the command's batches of 2 differ from one call of 3 only
    # by the networks' batch-size-dependent float rounding (a conv of one image vs three)
    assert torch.allclose(got, want.probs.double(), rtol=0, atol=1e-6)
    files = sorted(out.glob("*.png"))
    assert [f.name for f in files] == [f"img{i}_r{r}.png" for i in range(3) for r in range(3)]
    png = torch.stack([torch.from_numpy(np.asarray(Image.open(f), dtype=np.float32) / 255) for f in files])
    expected = want.purified[:, :, 0].transpose(0, 1).reshape(9, 8, 8).clamp(0, 1)
    assert (png - expected).abs().max() <= 0.5 / 255 + 1e-6  # 8-bit rounding only
    assert not list(tmp_path.rglob(".*.part"))  # nothing left under a temporary name (core.atomic)


def test_purify_one_file_with_logits_and_solver(tmp_path, one_thread):
    pipe = _pipe(repeats=1)
    pipe.save_pretrained(tmp_path / "p")
    x = _write_inputs(tmp_path / "in", n=2)
    preds = tmp_path / "one.csv"
    assert main(["purify", "--model", str(tmp_path / "p"), "--input", str(tmp_path / "in" / "img1.png"),
                 "--predictions", str(preds), "--scores", "logits", "--solver", "ddim", "--t-star", "0.3",
                 "--seed", "4", "--no-progress"]) == 0
    rows = list(csv.reader(preds.open()))
    assert rows[0] == ["file", "predicted", "label", "logit_a", "logit_b", "logit_c"]  # no vote for one repeat
    want = pipe(x[1:], seed=4, solver="ddim", t_star=0.3)
    assert rows[1][0] == "img1.png" and torch.equal(torch.tensor([float(v) for v in rows[1][3:]]),
                                                   want.mean_logits[0].double())


def test_purify_names_the_flag_or_file_at_fault(tmp_path, capsys):
    _pipe().save_pretrained(tmp_path / "p")
    _write_inputs(tmp_path / "in", n=1)
    base = ["purify", "--model", str(tmp_path / "p"), "--input", str(tmp_path / "in")]
    with pytest.raises(SystemExit, match="--predictions: give --predictions"):
        main(base)
    with pytest.raises(SystemExit, match="(?s)--model .*nowhere.*pass --model DIR"):
        main(["purify", "--model", str(tmp_path / "nowhere"), "--input", str(tmp_path / "in"),
              "--predictions", str(tmp_path / "x.csv")])
    with pytest.raises(SystemExit, match="--input: .*missing: no such file or folder"):
        main(["purify", "--model", str(tmp_path / "p"), "--input", str(tmp_path / "missing"),
              "--predictions", str(tmp_path / "x.csv")])
    with pytest.raises(SystemExit, match="--output .*is the input folder"):
        main(base + ["--output", str(tmp_path / "in")])
    with pytest.raises(SystemExit, match="--device must name a torch device type.*'banana'"):  # #31
        main(base + ["--predictions", str(tmp_path / "x.csv"), "--device", "banana"])
    with pytest.raises(SystemExit, match=r"--t-star 2\.0: must lie in"):
        main(base + ["--predictions", str(tmp_path / "x.csv"), "--t-star", "2"])
    rgb = tmp_path / "rgb"
    rgb.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(rgb / "colour.png")
    with pytest.raises(SystemExit, match=r"--input: .*colour\.png: RGB \(3 channels\) image, the model takes "
                                         r"grayscale \(1 channel\)"):
        main(["purify", "--model", str(tmp_path / "p"), "--input", str(rgb), "--predictions", str(tmp_path / "x.csv")])
    Image.fromarray(np.zeros((9, 8), dtype=np.uint8)).save(rgb / "colour.png")
    with pytest.raises(SystemExit, match=r"colour\.png: 9x8 image \(H x W\), the model takes 8x8"):
        main(["purify", "--model", str(tmp_path / "p"), "--input", str(rgb), "--predictions", str(tmp_path / "x.csv")])
    assert not (tmp_path / "x.csv").exists()  # nothing written when the inputs are refused
    # a file that fails only when decoded (transparent pixels), after a first batch was purified
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(rgb / "colour.png")
    Image.fromarray(np.zeros((8, 8, 2), dtype=np.uint8), mode="LA").save(rgb / "see-through.png")
    with pytest.raises(SystemExit, match=r"see-through\.png: has transparent pixels"):
        main(["purify", "--model", str(tmp_path / "p"), "--input", str(rgb), "--predictions",
              str(tmp_path / "x.csv"), "--output", str(tmp_path / "o"), "--batch-size", "1", "--steps", "1"])
    assert not (tmp_path / "x.csv").exists() and sorted(f.name for f in (tmp_path / "o").iterdir()) == [
        "colour_r0.png", "colour_r1.png"]
    for flag, value in (("--repeats", "0"), ("--steps", "-1"), ("--solver", "rk4"), ("--t-star", "nan")):
        with pytest.raises(SystemExit) as info:
            main(base + ["--predictions", str(tmp_path / "x.csv"), flag, value])
        assert info.value.code == 2 and flag in capsys.readouterr().err

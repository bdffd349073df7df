"""`polydiff impute` / `polydiff forecast`: a saved pipeline applied to CSV files writes the
pipeline's own output for the command's seed; observed cells are copied as text; bad
arguments end with a message naming the flag."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from polydiff.bench.cli import main


def _sibling(name: str):
    """A test module of this folder, imported under a name no other folder's module shares."""
    path = Path(__file__).with_name(f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"{Path(__file__).parent.name}_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_imputation, _forecast = _sibling("test_pipeline"), _sibling("test_pipeline_forecast")
_pipe, _series = _imputation._pipe, _imputation._series  # the tiny pipelines of the round-trip tests
_fc_pipe, _history = _forecast._fc_pipe, _forecast._history


def _csv(tmp_path, values: np.ndarray, columns=("temp", "humid")) -> Path:
    frame = pd.DataFrame(values, columns=list(columns))
    frame.insert(0, "time", pd.date_range("2024-01-01", periods=len(values), freq="h").astype(str))
    path = tmp_path / "in.csv"
    frame.to_csv(path, index=False)
    return path


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, float_precision="round_trip")


def test_impute_writes_the_pipelines_median_and_quantiles(tmp_path):
    pipe = _pipe()
    pipe.save_pretrained(tmp_path / "p")
    v = _series()
    src = _csv(tmp_path, v[:, ::-1], ("humid", "temp"))  # columns in another order than the model's
    text_in = src.read_text().splitlines()
    out = tmp_path / "out" / "filled.csv"
    code = main(["impute", "--model", str(tmp_path / "p"), "--input", str(src), "--output", str(out),
                 "--samples", "4", "--quantiles", "0.1,0.9", "--seed", "5", "--steps", "2", "--solver", "ddim",
                 "--no-progress"])
    assert code == 0
    want = pipe.impute_series(v, 4, (0.1, 0.9), seed=5, steps=2, solver="ddim")
    got = _read(out)
    assert list(got.columns) == ["time", "humid", "temp"]
    assert list(got["time"]) == list(_read(src)["time"])
    assert np.array_equal(got[["temp", "humid"]].to_numpy(), want.median)  # exact float64
    for q, name in ((0.1, "filled.q0.1.csv"), (0.9, "filled.q0.9.csv")):
        assert np.array_equal(_read(out.parent / name)[["temp", "humid"]].to_numpy(), want.quantiles[q])
    # observed cells are the input's text, line by line
    for line_in, line_out in zip(text_in[1:], out.read_text().splitlines()[1:]):
        for a, b in zip(line_in.split(","), line_out.split(",")):
            assert a == "" or a == b
    assert sorted(p.name for p in out.parent.iterdir()) == ["filled.csv", "filled.q0.1.csv", "filled.q0.9.csv"]


def test_forecast_writes_median_and_quantile_columns(tmp_path):
    pipe = _fc_pipe()
    pipe.save_pretrained(tmp_path / "f")
    h = _history()
    src = _csv(tmp_path, h, ("load", "price"))
    out = tmp_path / "fc.csv"
    code = main(["forecast", "--model", str(tmp_path / "f"), "--input", str(src), "--output", str(out),
                 "--samples", "3", "--seed", "2", "--no-progress"])
    assert code == 0
    want = pipe.forecast_series(h, 3, (0.1, 0.9), seed=2)
    got = _read(out)
    assert list(got.columns) == ["time", "load", "load_q0.1", "load_q0.9", "price", "price_q0.1", "price_q0.9"]
    assert list(got["time"]) == ["2024-01-01 09:00:00", "2024-01-01 10:00:00"]  # the hours continued
    assert np.array_equal(got[["load", "price"]].to_numpy(), want.median)
    assert np.array_equal(got[["load_q0.9", "price_q0.9"]].to_numpy(), want.quantiles[0.9])


def test_bad_flags_and_files_name_the_flag(tmp_path, capsys):
    _pipe().save_pretrained(tmp_path / "p")
    src = _csv(tmp_path, _series())
    base = ["impute", "--model", str(tmp_path / "p"), "--output", str(tmp_path / "o.csv")]
    for flag, value in (("--quantiles", "0.1,1.5"), ("--samples", "0"), ("--steps", "-1"), ("--solver", "nope")):
        with pytest.raises(SystemExit) as info:
            main([*base, "--input", str(src), flag, value])
        assert info.value.code == 2 and flag in capsys.readouterr().err
    with pytest.raises(SystemExit, match="(?s)--model .*nowhere.*pass --model DIR"):
        main(["impute", "--model", str(tmp_path / "nowhere"), "--input", str(src), "--output", "o.csv"])
    with pytest.raises(SystemExit, match="(?s)--model .*holds a .*ImputationPipeline"):
        main(["forecast", "--model", str(tmp_path / "p"), "--input", str(src), "--output", "o.csv"])
    bad = tmp_path / "bad.csv"
    bad.write_text("time,temp,wind\n1,0.5,2\n")
    with pytest.raises(SystemExit, match=r"--input .*bad\.csv: lacks the model's feature columns \['humid'\]"):
        main([*base, "--input", str(bad)])
    bad.write_text("temp,humid\n0.5,oops\n")
    with pytest.raises(SystemExit, match=r"--input .*: column 'humid', line 2: 'oops' is not a number"):
        main([*base, "--input", str(bad)])
    with pytest.raises(SystemExit, match="--input .*no such file"):
        main([*base, "--input", str(tmp_path / "absent.csv")])
    far = _csv(tmp_path, 1e6 + _series())
    with pytest.raises(SystemExit, match="(?s)--input .*--out-of-range warn"):
        main([*base, "--input", str(far), "--no-progress"])
    assert not (tmp_path / "o.csv").exists()  # nothing written on failure


def test_a_crash_while_writing_leaves_no_file_under_a_final_name(tmp_path, monkeypatch):
    from polydiff.timeseries.csv_io import write_csvs_atomically

    (tmp_path / "a.csv").write_text("old\n")
    calls = []
    real = pd.DataFrame.to_csv

    def flaky(self, *a, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        return real(self, *a, **kw)

    monkeypatch.setattr(pd.DataFrame, "to_csv", flaky)
    frame = pd.DataFrame({"x": ["1.0"]})
    with pytest.raises(OSError, match="disk full"):
        write_csvs_atomically({tmp_path / "a.csv": frame, tmp_path / "b.csv": frame})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv"]  # no temp files, b.csv absent
    assert (tmp_path / "a.csv").read_text() == "old\n"  # the earlier file untouched


def test_plain_impute_and_forecast_without_quantiles_write_the_median(tmp_path):
    """The documented minimal commands: no --quantiles means the median only (#31: they raised)."""
    pipe = _pipe()
    pipe.save_pretrained(tmp_path / "p")
    v = _series()
    src = _csv(tmp_path, v)
    out = tmp_path / "filled.csv"
    assert main(["impute", "--model", str(tmp_path / "p"), "--input", str(src), "--output", str(out),
                 "--samples", "2", "--steps", "1", "--no-progress"]) == 0
    want = pipe.impute_series(v, 2, steps=1)
    assert want.quantiles == {}
    assert np.array_equal(_read(out)[["temp", "humid"]].to_numpy(), want.median)
    assert sorted(p.name for p in tmp_path.glob("filled*")) == ["filled.csv"]  # no quantile files
    fc = _fc_pipe()
    fc.save_pretrained(tmp_path / "f")
    hist = tmp_path / "hist.csv"
    pd.DataFrame(_history(), columns=fc.features).to_csv(hist, index=False)
    fout = tmp_path / "forecast.csv"
    assert main(["forecast", "--model", str(tmp_path / "f"), "--input", str(hist), "--output", str(fout),
                 "--samples", "2", "--steps", "1", "--no-progress"]) == 0
    assert len(_read(fout)) == fc.prediction_length
    assert fc.forecast_series(_history(), 2, steps=1).quantiles == {}  # the method's default: median only


def test_device_and_output_folder_name_the_flag(tmp_path):
    pipe = _pipe()
    pipe.save_pretrained(tmp_path / "p")
    src = _csv(tmp_path, _series())
    base = ["impute", "--model", str(tmp_path / "p"), "--input", str(src), "--samples", "2", "--steps", "1",
            "--no-progress"]
    with pytest.raises(SystemExit, match="--device must name a torch device type.*'banana'"):
        main([*base, "--output", str(tmp_path / "o.csv"), "--device", "banana"])
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(SystemExit, match="--output .*dir.csv: is a folder"):
        main([*base, "--output", str(tmp_path / "dir.csv")])

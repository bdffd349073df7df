"""The suite runner end to end on stub domains: schema, report, failure isolation, skips.

Stub domains are real modules written to a temporary folder (so the lazy import path is the
one real domains take) plus plain callables; everything runs in about a second.
"""
from __future__ import annotations

import json
import sys
import textwrap

import pytest
from polydiff.bench import cli, runner
from polydiff.bench.schema import record_problems

GOOD = '''
import pathlib

def _rec(method, value, nfe):
    return {"domain": "good", "task": "denoise", "dataset": "digits", "setting": "sigma=0.5",
            "method": method, "metric": "PSNR", "value": value, "higher_is_better": True,
            "nfe": nfe, "seconds": 0.01, "n": 16}

def run(mode, out_dir, device="cpu", progress=None):
    assert mode in ("quick", "full") and device == "cpu"
    out_dir = pathlib.Path(out_dir)
    if progress is not None:
        progress("train")
        progress("evaluate")
    (out_dir / "cache").mkdir(exist_ok=True)
    (out_dir / "cache" / "model.png").write_bytes(b"")  # cache content is not a figure
    (out_dir / "samples.png").write_bytes(b"\\x89PNG")
    lonely = dict(_rec("polydiff-ddim", 0.5, 10), metric="FID", higher_is_better=False)
    return [_rec("polydiff-ddim", 24.0, 10), _rec("gaussian-blur", 21.5, None), lonely]
'''


@pytest.fixture
def stubs(tmp_path, monkeypatch):
    """Modules ``pdstub_good.bench``, ``pdstub_noextra`` (missing extra), ``pdstub_empty``
    (no bench module) on sys.path, and the entry mapping that uses them."""
    root = tmp_path / "mods"
    (root / "pdstub_good").mkdir(parents=True)
    (root / "pdstub_good" / "__init__.py").write_text("")
    (root / "pdstub_good" / "bench.py").write_text(textwrap.dedent(GOOD))
    (root / "pdstub_noextra").mkdir()
    (root / "pdstub_noextra" / "__init__.py").write_text(
        "raise ImportError('pip install \"polydiff[noextra]\"')\n")
    (root / "pdstub_empty").mkdir()
    (root / "pdstub_empty" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(root))
    yield
    for name in [m for m in sys.modules if m.startswith("pdstub_")]:
        del sys.modules[name]


def _boom(mode, out_dir, device="cpu", progress=None):
    progress("load data")
    raise RuntimeError("data file is corrupt")


def _todo(mode, out_dir, device="cpu", progress=None):
    raise NotImplementedError("lands with issue 99")


def _lazy_extra(mode, out_dir, device="cpu", progress=None):
    try:
        import pdstub_noextra  # noqa: F401 - an extra imported inside run()
    except ImportError as e:
        raise RuntimeError("while loading the peer") from e


def _bad_records(mode, out_dir, device="cpu", progress=None):
    ok = {"domain": "bad", "task": "t", "dataset": "d", "setting": "s", "method": "m",
          "metric": "acc", "value": 0.9, "higher_is_better": True, "nfe": None,
          "seconds": 0.0, "n": 10}
    return [ok, dict(ok, method="baseline", value="high"), dict(ok, domain="other")]


ENTRIES = {"boom": _boom, "good": "pdstub_good.bench:run", "noextra": "pdstub_noextra.bench:run",
           "empty": "pdstub_empty.bench:run", "todo": _todo, "lazy": _lazy_extra,
           "bad": _bad_records}


def test_suite_end_to_end(stubs, tmp_path):
    out = tmp_path / "out"
    result = runner.run_suite("quick", None, out, entries=ENTRIES, json_path=tmp_path / "r.json",
                              show_progress=False, log=None)
    status = {o.domain: (o.status, o.message) for o in result.outcomes}
    # a failure does not stop the domains after it, and its error is reported
    assert status["boom"][0] == "error" and "data file is corrupt" in status["boom"][1]
    assert (out / "boom" / "error.txt").read_text().count("RuntimeError") >= 1
    assert status["good"] == ("ok", "")
    assert status["noextra"] == ("skipped", 'pip install "polydiff[noextra]"')
    assert status["lazy"] == ("skipped", 'pip install "polydiff[noextra]"')
    assert status["empty"] == ("not available", "pdstub_empty.bench does not exist yet")
    assert status["todo"] == ("not available", "lands with issue 99")
    assert status["bad"][0] == "error" and "'value' must be int/float" in status["bad"][1]
    assert "ran for 'bad'" in status["bad"][1]

    doc = json.loads((out / "results.json").read_text())
    assert doc == json.loads((tmp_path / "r.json").read_text())
    assert doc["mode"] == "quick" and doc["machine"]["cpu_count"] >= 1
    assert [d["domain"] for d in doc["domains"]] == list(ENTRIES)
    # the valid records of "good" and the one valid record of "bad", each completed
    assert len(doc["records"]) == 4
    for r in doc["records"]:
        assert record_problems(r, with_added=True) == []
        assert r["mode"] == "quick" and r["commit"] == result.commit
    assert doc["domains"][1]["figures"] == ["good/samples.png"]

    report = (out / "report.md").read_text()
    assert "| good | ok | 3 |" in report
    assert 'pip install "polydiff[noextra]"' in report
    assert "| denoise | digits | sigma=0.5 | PSNR ↑ | **polydiff-ddim** | **24** | 10 |" in report
    assert "| gaussian-blur | 21.5 | – |" in report
    assert report.count("no baseline/peer in this group") == 2  # good's FID, bad's lone acc
    assert "![samples](good/samples.png)" in report
    assert (out / "summary-good.png").read_bytes()[:4] == b"\x89PNG"
    assert "![summary-good](summary-good.png)" in report


def test_full_mode_writes_committed_results(stubs, tmp_path):
    res_dir = tmp_path / "results"
    entries = {"good": ENTRIES["good"], "boom": _boom}
    runner.run_suite("full", None, tmp_path / "out", entries=entries, results_dir=res_dir,
                     command="polydiff bench --full", show_progress=False, log=None)
    assert sorted(p.name for p in res_dir.iterdir()) == ["good.json"]  # failures write nothing
    doc = json.loads((res_dir / "good.json").read_text())
    assert doc["command"] == "polydiff bench --full" and doc["mode"] == "full"
    assert doc["duration_s"] >= 0 and doc["machine"]["cpu"] and "torch_threads" in doc["machine"]
    assert doc["commit"] and len(doc["records"]) == 3


def test_progress_rejects_non_strings(tmp_path):
    def entry(mode, out_dir, device="cpu", progress=None):
        progress(3)

    (o,) = runner.run_suite("quick", None, tmp_path, entries={"x": entry}, show_progress=False,
                            log=None).outcomes
    assert o.status == "error" and "progress(stage) takes a str" in o.message


@pytest.mark.parametrize("kwargs, match", [
    ({"mode": "medium"}, "mode must be one of"),
    ({"device": "tpu"}, "device must be"),
    ({"domains": ["nope"]}, r"unknown domain\(s\) \['nope'\]"),
    ({"domains": []}, "no domains"),
])
def test_bad_arguments(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        runner.run_suite(**{"out_dir": tmp_path, "entries": {"x": _todo}, **kwargs})


def test_cli_bench_on_stub_domains(stubs, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(runner, "ENTRIES", {"good": ENTRIES["good"], "noextra": ENTRIES["noextra"]})
    out = tmp_path / "o"
    rc = cli.main(["bench", "--quick", "--out", str(out), "--no-progress",
                   "--json", str(tmp_path / "x.json")])
    printed = capsys.readouterr().out
    assert rc == 0
    assert "denoise · digits · sigma=0.5 · PSNR ↑: *polydiff-ddim 24* (10 NFE) · gaussian-blur 21.5" \
        in printed
    assert 'noextra: skipped — pip install "polydiff[noextra]"' in printed
    assert (out / "report.md").exists() and (tmp_path / "x.json").exists()
    monkeypatch.setattr(runner, "ENTRIES", {"good": ENTRIES["good"], "boom": _boom})
    assert cli.main(["bench", "--domains", "boom,good", "--out", str(out), "--no-progress"]) == 1


def test_cli_rejects_unknown_domain_and_flag(capsys):
    for argv in (["bench", "--domains", "core,astrology"], ["bench", "--fast"],
                 ["train", "astrology"], ["bench", "--quick", "--full"], ["frobnicate"]):
        with pytest.raises(SystemExit) as info:
            cli.main(argv)
        assert info.value.code == 2, argv
    err = capsys.readouterr().err
    assert "unknown domain(s): astrology" in err
    assert "unrecognized arguments: --fast" in err
    assert "invalid choice: 'astrology'" in err


def test_numpy_scalars_become_plain_numbers(tmp_path):
    np = pytest.importorskip("numpy")

    def entry(mode, out_dir, device="cpu", progress=None):
        r = {"domain": "np", "task": "t", "dataset": "d", "setting": "s", "method": "m",
             "metric": "acc", "value": np.float32(0.75), "higher_is_better": True,
             "nfe": np.int64(8), "seconds": np.float64(0.5), "n": np.int32(4),
             "extra": {"path": out_dir, "count": np.int64(3)}}
        return [r, dict(r, method="baseline", value=np.float32(0.5), nfe=None)]

    result = runner.run_suite("quick", None, tmp_path, entries={"np": entry},
                              show_progress=False, log=None)
    (o,) = result.outcomes
    assert o.status == "ok", o.message
    first = o.records[0]
    assert type(first["value"]) is float and first["value"] == 0.75
    assert type(first["nfe"]) is int and type(first["n"]) is int
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["records"][0]["extra"] == {"path": str(tmp_path / "np"), "count": 3}


def test_a_domain_cannot_change_the_next_domains_threads(tmp_path):
    import torch

    seen = []

    def greedy(mode, out_dir, device="cpu", progress=None):
        torch.set_num_threads(1)
        raise RuntimeError("after changing threads")

    def probe(mode, out_dir, device="cpu", progress=None):
        seen.append(torch.get_num_threads())
        raise NotImplementedError

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        runner.run_suite("quick", None, tmp_path, entries={"a": greedy, "b": probe},
                         show_progress=False, log=None)
        assert seen == [2]
    finally:
        torch.set_num_threads(before)


def test_sys_exit_in_a_domain_does_not_end_the_suite(tmp_path):
    def quits(mode, out_dir, device="cpu", progress=None):
        raise SystemExit(3)

    result = runner.run_suite("quick", None, tmp_path, entries={"q": quits, "t": _todo},
                              show_progress=False, log=None)
    assert [o.status for o in result.outcomes] == ["error", "not available"]
    assert result.outcomes[0].message.startswith("SystemExit: 3")


def test_full_mode_refreshes_the_readme_table_of_a_source_checkout(stubs, tmp_path, monkeypatch):
    from polydiff.bench import readme_table

    res, readme = tmp_path / "results", tmp_path / "README.md"
    readme.write_text(f"# x\n{readme_table.START}\nHAND-TYPED\n{readme_table.END}\n")
    monkeypatch.setattr(runner, "RESULTS_DIR", res.resolve())
    monkeypatch.setattr(readme_table, "README", readme)
    runner.run_suite("full", None, tmp_path / "out", entries={"good": ENTRIES["good"]},
                     results_dir=res, show_progress=False, log=None)
    text = readme.read_text()
    assert "HAND-TYPED" not in text and "| denoise | digits | sigma=0.5 | PSNR ↑ |" in text
    # another results folder (a trial run) leaves the README alone
    readme.write_text(f"# x\n{readme_table.START}\nHAND-TYPED\n{readme_table.END}\n")
    runner.run_suite("full", None, tmp_path / "out", entries={"good": ENTRIES["good"]},
                     results_dir=tmp_path / "elsewhere", show_progress=False, log=None)
    assert "HAND-TYPED" in readme.read_text()


def test_committed_results_record_the_threads_the_domain_ran_with(stubs, tmp_path):
    import importlib

    import torch

    def one_thread(mode, out_dir, device="cpu", progress=None):
        torch.set_num_threads(1)  # like the domains that pin one thread on a shared CPU
        return importlib.import_module("pdstub_good.bench").run(mode, out_dir, device, progress)

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        runner.run_suite("full", None, tmp_path / "out", entries={"good": one_thread},
                         results_dir=tmp_path / "res", show_progress=False, log=None)
        assert torch.get_num_threads() == 2  # restored for whatever runs next
    finally:
        torch.set_num_threads(before)
    doc = json.loads((tmp_path / "res" / "good.json").read_text())
    assert doc["machine"]["torch_threads"] == 1


def test_no_progress_also_silences_the_domains_training_bars(tmp_path, capfd):
    import os

    import torch
    from polydiff.core.training import TrainConfig, Trainer

    def trains(mode, out_dir, device="cpu", progress=None):
        net = torch.nn.Linear(2, 2)
        data = torch.utils.data.TensorDataset(torch.randn(8, 2))
        Trainer(TrainConfig(steps=3, batch_size=4, ema_decay=None), net,
                lambda m, b, g: m(b[0]).square().mean(), data, net_config={}).fit()
        raise NotImplementedError

    for show, expect in ((False, False), (True, True)):
        capfd.readouterr()
        runner.run_suite("quick", None, tmp_path / str(show), entries={"t": trains},
                         show_progress=show, log=None)
        assert ("train:" in capfd.readouterr().err) is expect
    assert "TQDM_DISABLE" not in os.environ  # restored after the domain

"""The installed ``polydiff`` console script, run as a user runs it (fresh process)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def _polydiff() -> list[str]:
    """The console script installed next to this interpreter (``pip install -e .``)."""
    script = Path(sys.executable).with_name("polydiff")
    if not script.exists():
        found = shutil.which("polydiff")
        if found is None:
            pytest.skip("the polydiff console script is not installed (pip install -e .)")
        script = Path(found)
    return [str(script)]


def _run(args: list[str], timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(_polydiff() + args, capture_output=True, text=True, timeout=timeout,
                          check=False)


def test_help_lists_the_subcommands():
    out = _run(["--help"])
    assert out.returncode == 0, out.stderr
    assert "bench" in out.stdout and "train" in out.stdout
    bench = _run(["bench", "--help"])
    assert bench.returncode == 0
    for flag in ("--quick", "--full", "--domains", "--json", "--out", "--device"):
        assert flag in bench.stdout, flag


def test_unknown_domain_exits_2_with_a_clear_message():
    out = _run(["train", "astrology"])
    assert out.returncode == 2
    assert "invalid choice: 'astrology'" in out.stderr
    out = _run(["bench", "--domains", "vision,astrology"])
    assert out.returncode == 2
    assert "unknown domain(s): astrology" in out.stderr


def test_train_dispatch_command(monkeypatch):
    """``polydiff train <domain> args`` runs ``<this python> -m polydiff.<domain>.train args``
    and returns its exit status (checked without paying for the domain's imports)."""
    from polydiff.bench import cli

    calls = []

    def fake_run(cmd, check):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 7)

    monkeypatch.setattr(cli.importlib.util, "find_spec", lambda name: object())
    monkeypatch.setattr(cli.subprocess, "run", fake_run)
    assert cli.main(["train", "timeseries", "--steps", "5", "--help"]) == 7
    assert calls == [[sys.executable, "-m", "polydiff.timeseries.train", "--steps", "5",
                      "--help"]]


def test_train_reports_a_missing_script_or_extra(monkeypatch, capsys):
    from polydiff.bench import cli

    monkeypatch.setattr(cli.importlib.util, "find_spec", lambda name: None)
    assert cli.main(["train", "text"]) == 1
    assert "polydiff.text.train does not exist yet" in capsys.readouterr().err

    def missing_extra(name):
        raise ImportError('pip install "polydiff[text]"')

    monkeypatch.setattr(cli.importlib.util, "find_spec", missing_extra)
    assert cli.main(["train", "text"]) == 1
    assert 'pip install "polydiff[text]"' in capsys.readouterr().err


@pytest.mark.slow
def test_train_dispatches_to_the_domain_module():
    """``polydiff train <domain> --help`` is ``python -m polydiff.<domain>.train --help``."""
    from importlib.util import find_spec

    domain = next((d for d in ("timeseries", "vision", "text", "molecules", "robustness")
                   if find_spec(f"polydiff.{d}.train") is not None), None)
    if domain is None:
        pytest.skip("no domain has a train module yet")
    via_cli = _run(["train", domain, "--help"], timeout=300)
    direct = subprocess.run([sys.executable, "-m", f"polydiff.{domain}.train", "--help"],
                            capture_output=True, text=True, timeout=300, check=False)
    assert via_cli.returncode == direct.returncode == 0, via_cli.stderr
    assert via_cli.stdout == direct.stdout


def test_cuda_without_a_gpu_is_a_usage_error(capsys):
    import torch
    from polydiff.bench import cli

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(SystemExit) as info:
        cli.main(["bench", "--device", "cuda", "--domains", "core"])
    assert info.value.code == 2
    assert "no CUDA device is available" in capsys.readouterr().err


def test_version_and_bare_command(capsys):
    from importlib.metadata import version

    from polydiff.bench import cli

    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"polydiff {version('polydiff')}"
    assert cli.main([]) == 2  # no subcommand: help on stderr, usage error
    assert "usage: polydiff" in capsys.readouterr().err


@pytest.mark.parametrize("domain,extra_module", [("vision", "skimage"), ("text", "sentencepiece"),
                                                 ("timeseries", "gluonts"), ("molecules", "rdkit"),
                                                 ("robustness", "torchattacks")])
def test_train_every_domain_shows_one_program_name_and_the_shared_flags(domain, extra_module, capsys):
    import importlib

    pytest.importorskip(extra_module)
    script = importlib.import_module(f"polydiff.{domain}.train")
    with pytest.raises(SystemExit) as done:
        script.main(["--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: polydiff train {domain} ")
    for flag in ("--steps", "--batch-size", "--lr", "--seed", "--out", "--resume", "--ckpt-every",
                 "--device"):
        assert flag in text, (domain, flag)

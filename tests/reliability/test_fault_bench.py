"""SIGKILL during a benchmark run, then rerun: the cached stage is reused (not retrained), the
results are complete valid JSON and no partial file is left behind.

The run is ``polydiff bench --quick --domains timeseries`` on a tiny configuration
(fault_worker.TINY_TIMESERIES): stage 1 trains and caches the imputation model under
``out/timeseries/cache/csdi-*``, stage 2 the forecasting model (``csdi-fc-*``). The first
process is killed as soon as stage 1's checkpoint is published.
"""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("polydiff.timeseries")
from polydiff.core.training import load_checkpoint

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("fault_worker", HERE / "fault_worker.py")
FW = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(FW)
CMD = [sys.executable, str(HERE / "fault_worker.py"), "bench"]
ENV = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")


def _impute_cache(out: Path) -> list[Path]:
    return [p for p in (out / "timeseries" / "cache").glob("csdi-*") if not p.name.startswith("csdi-fc-")]


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime_ns) of every file under ``folder``: a rewritten file changes both."""
    return {str(p.relative_to(folder)): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_sigkill_during_bench_then_rerun_reuses_the_cached_stage(tmp_path):
    out = tmp_path / "bench"
    FW.kill_when(["bench", str(out)], lambda: any((d / "latest").is_file() for d in _impute_cache(out)))
    (stage1,) = _impute_cache(out)
    before = _snapshot(stage1)
    assert not (out / "results.json").exists()  # killed before the domain finished: nothing claimed

    done = subprocess.run([*CMD, str(out)], env=ENV, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    # stage 1 was loaded, not retrained: the same files, never rewritten
    assert _impute_cache(out) == [stage1]
    assert _snapshot(stage1) == before
    # stage 2 ran in the second process and is cached now
    (stage2,) = (out / "timeseries" / "cache").glob("csdi-fc-*")
    for run in (stage1, stage2):
        load_checkpoint(run, weights_only=True)  # complete and checksummed
    # complete, valid results
    doc = json.loads((out / "results.json").read_text())
    (dom,) = doc["domains"]
    assert dom["domain"] == "timeseries" and dom["status"] == "ok", dom
    tasks = {r["task"] for r in doc["records"]}
    assert tasks == {"impute", "forecast"}
    assert dom["n_records"] == len(doc["records"]) > 0
    assert (out / "report.md").read_text().strip()
    # no partial files anywhere: no temp files, every JSON parses
    leftovers = [p for p in out.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".tmp")]
    assert not leftovers, leftovers
    for p in out.rglob("*.json"):
        json.loads(p.read_text())

"""The README's first command for real: ``polydiff bench --quick`` on every domain.

A measurement (marker ``bench``, never in CI): it trains every domain's quick models from
scratch, so it takes the whole quick budget. Run it with
``.venv/bin/python -m pytest -m bench tests/bench/test_bench_quick_suite.py``.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from polydiff.bench.runner import QUICK_BUDGET_S
from polydiff.bench.schema import group_records, has_peer, record_problems


@pytest.mark.bench
def test_quick_suite_within_budget_with_a_baseline_beside_every_number(tmp_path):
    script = Path(sys.executable).with_name("polydiff")
    t0 = time.perf_counter()
    run = subprocess.run([str(script), "bench", "--quick", "--out", str(tmp_path), "--no-progress"],
                         capture_output=True, text=True, timeout=3 * QUICK_BUDGET_S, check=False)
    elapsed = time.perf_counter() - t0
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    doc = json.loads((tmp_path / "results.json").read_text())
    assert (tmp_path / "report.md").exists() and list(tmp_path.glob("summary-*.png"))
    failed = [d for d in doc["domains"] if d["status"] == "error"]
    assert not failed, failed
    for r in doc["records"]:
        assert record_problems(r, with_added=True) == [], r
    lonely = [k for k, g in group_records(doc["records"]).items() if not has_peer(g)]
    assert not lonely, f"numbers without a baseline or peer: {lonely}"
    assert elapsed <= QUICK_BUDGET_S, f"quick suite took {elapsed / 60:.1f} min (budget 20)"

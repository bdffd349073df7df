"""The README's results table is generated from bench/results/*.json, never typed."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from polydiff.bench import readme_table
from polydiff.bench.readme_table import END, START, load_results, render_table, splice

ROOT = Path(__file__).resolve().parents[2]


def _doc(domain, records):
    return {"domain": domain, "mode": "full", "command": "polydiff bench --full",
            "commit": "abc1234", "date": "2026-01-01T00:00:00+00:00", "duration_s": 61.2,
            "machine": {"cpu": "Test CPU", "torch_threads": 2, "gpu": None},
            "records": records}


def _rec(domain, method, value, **kw):
    return {"domain": domain, "task": "impute", "dataset": "weather", "setting": "mcar-50%",
            "method": method, "metric": "MAE", "value": value, "higher_is_better": False,
            "nfe": 50, "seconds": 1.0, "n": 64, "commit": "abc1234", "mode": "full", **kw}


def test_readme_table_is_generated_from_the_committed_results():
    """Fails when README.md and bench/results/*.json disagree: regenerate with
    ``python -m polydiff.bench.readme_table``."""
    readme = (ROOT / "README.md").read_text()
    expected = splice(readme, render_table(load_results(ROOT / "bench" / "results")))
    assert readme == expected, "README results table is stale: python -m polydiff.bench.readme_table"
    assert readme_table.main(["--check", "--readme", str(ROOT / "README.md"),
                              "--results-dir", str(ROOT / "bench" / "results")]) == 0


def test_render_orders_domains_and_marks_the_best(tmp_path):
    (tmp_path / "timeseries.json").write_text(json.dumps(_doc("timeseries", [
        _rec("timeseries", "polydiff-csdi", 0.25), _rec("timeseries", "linear", 0.31, nfe=None)])))
    (tmp_path / "vision.json").write_text(json.dumps(_doc("vision", [
        _rec("vision", "polydiff-sr3", 0.5, task="superres", metric="PSNR")])))
    docs = load_results(tmp_path)
    assert [d["domain"] for d in docs] == ["vision", "timeseries"]  # suite order, not alphabetical
    table = render_table(docs)
    assert ("| impute | weather | mcar-50% | MAE ↓ | "
            "**polydiff-csdi 0.25** (50 NFE) · linear 0.31 |") in table
    lines = table.splitlines()
    assert lines[:3] == ["<details><summary><b>vision</b>: 1 comparisons</summary>", "",
                         ("Measured by `polydiff bench --full` at commit `abc1234`, 61 s on "
                         "Test CPU (2 torch threads).")]
    assert lines[6].startswith("| superres |") and "no baseline/peer" in lines[6]
    assert lines.index("<details><summary><b>timeseries</b>: 1 comparisons</summary>") > 6
    noted = render_table([dict(docs[0], note="stale: from an older commit")]).splitlines()
    assert noted[3:5] == ["", "**Note:** stale: from an older commit"] and noted[6].startswith("| task |")


def test_check_and_write(tmp_path):
    res = tmp_path / "results"
    res.mkdir()
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{START}\nhand-typed numbers\n{END}\n\ntail\n")
    args = ["--readme", str(readme), "--results-dir", str(res)]
    assert readme_table.main(["--check", *args]) == 1
    assert readme_table.main(args) == 0
    text = readme.read_text()
    assert "hand-typed" not in text and "No full-mode results" in text and text.endswith("tail\n")
    assert readme_table.main(["--check", *args]) == 0


def test_invalid_results_are_rejected(tmp_path):
    (tmp_path / "vision.json").write_text(json.dumps(_doc("vision", [_rec("text", "m", 1.0)])))
    with pytest.raises(ValueError, match="ran for 'vision'"):
        load_results(tmp_path)
    with pytest.raises(ValueError, match="exactly once"):
        splice("no markers here", "table")


def test_robustness_results_before_the_self_checks_are_not_ranked(tmp_path):
    """A self-checked domain's records without ``valid`` predate the checks: no bold, a note says so;
    checked records are ranked, invalid ones printed as INVALID with their problems."""
    acc = {"metric": "robust_accuracy", "higher_is_better": True, "nfe": None}
    (tmp_path / "robustness.json").write_text(json.dumps(_doc("robustness", [
        _rec("robustness", "polydiff-diffpure", 0.4, **acc), _rec("robustness", "adv-trained", 0.06, **acc)])))
    table = render_table(load_results(tmp_path))
    assert "predate the bench's self-checks" in table and "**" not in table.split("</summary>")[1]
    (tmp_path / "robustness.json").write_text(json.dumps(_doc("robustness", [
        _rec("robustness", "polydiff-diffpure", 0.4, valid=True, problems=[], **acc),
        _rec("robustness", "undefended", 0.0, valid=True, problems=[], **acc),
        _rec("robustness", "adv-trained", 0.06, valid=False, problems=["gradient masking"], **acc)])))
    table = render_table(load_results(tmp_path))
    assert "predate" not in table
    assert "**polydiff-diffpure 0.4** · adv-trained 0.06 [INVALID: gradient masking] · undefended 0 |" in table

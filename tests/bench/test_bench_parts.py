"""A domain's parts run alone write a committed-schema document, and merge into the domain's
document without duplicates, each record keeping its own commit."""
from __future__ import annotations

import json

import pytest
from polydiff.bench import parts, readme_table
from polydiff.bench.readme_table import render_table
from polydiff.bench.schema import record_problems


def _rec(dataset, method, value, commit="aaa1111", metric="MAE"):
    return {"domain": "timeseries", "task": "impute", "dataset": dataset, "setting": "mcar-10%",
            "method": method, "metric": metric, "value": value, "higher_is_better": False,
            "nfe": None, "seconds": 1.0, "n": 40, "commit": commit, "mode": "full"}


def _doc(records, command="polydiff bench --full --domains timeseries", commit="aaa1111", **kw):
    return {"domain": "timeseries", "mode": "full", "command": command, "commit": commit,
            "date": "2026-12-05T18:00:00+00:00", "machine": {"cpu": "Test CPU", "torch_threads": 1},
            "duration_s": 6000.0, "records": records, **kw}


def _stub_run(mode, out_dir, device="cpu", progress=None, parts=None):
    """A domain entry with two parts; each gives a polydiff record and a baseline."""
    out = []
    for p in parts or ("a", "b"):
        out += [{k: v for k, v in _rec(p, m, x).items() if k not in ("commit", "mode")}
                for m, x in (("polydiff-csdi", 0.5), ("linear-interp", 0.6))]
    return out


def test_merge_adds_the_part_and_lists_both_runs():
    doc = _doc([_rec("weather", "polydiff-csdi", 0.4), _rec("weather", "linear-interp", 0.5)])
    part = _doc([_rec("pbc-visits", "polydiff-csdi", 0.3, commit="bbb2222")],
                command="python -m polydiff.bench.timeseries --full --parts pbc --json p.json",
                commit="bbb2222", duration_s=1800.0)
    merged = parts.merge_part(doc, part)
    assert [r["dataset"] for r in merged["records"]] == ["weather", "weather", "pbc-visits"]
    assert [r["commit"] for r in merged["records"]] == ["aaa1111", "aaa1111", "bbb2222"]
    assert merged["command"] == doc["command"] and merged["commit"] == "aaa1111"
    assert [(c["command"], c["commit"], c["records"], c["duration_s"]) for c in merged["commands"]] == [
        (doc["command"], "aaa1111", 2, 6000.0), (part["command"], "bbb2222", 1, 1800.0)]
    assert doc["records"][-1]["dataset"] == "weather" and "commands" not in doc  # inputs untouched
    # a second part extends the list; the merged document still passes the schema
    part2 = _doc([_rec("pbc-visits", "locf", 0.35, commit="ccc3333")], command="second", commit="ccc3333")
    twice = parts.merge_part(merged, part2)
    assert [c["command"] for c in twice["commands"]] == [doc["command"], part["command"], "second"]
    assert all(record_problems(r, domain="timeseries", with_added=True) == [] for r in twice["records"])
    text = render_table([twice])
    assert "`second` at commit `ccc3333`" in text and "(1 records)" in text and "(2 records)" in text


def test_merge_refuses_duplicates_and_other_domains():
    doc = _doc([_rec("weather", "polydiff-csdi", 0.4)])
    again = _doc([_rec("weather", "polydiff-csdi", 0.41, commit="bbb2222")], commit="bbb2222")
    with pytest.raises(ValueError, match=r"weather/mcar-10%/polydiff-csdi/MAE \(commit aaa1111\)"):
        parts.merge_part(doc, again)
    twin = _doc([_rec("pbc", "locf", 0.4), _rec("pbc", "locf", 0.5)])
    with pytest.raises(ValueError, match="1 part record"):
        parts.merge_part(doc, twin)
    quick = {**_doc([_rec("pbc", "locf", 0.4)]), "mode": "quick"}
    with pytest.raises(ValueError, match="part's mode is 'quick', the document's 'full'"):
        parts.merge_part(doc, quick)
    with pytest.raises(ValueError, match=r"lacks the document keys \['command'"):
        parts.merge_part(doc, {k: v for k, v in doc.items() if k != "command"})
    bad = _doc([{**_rec("pbc", "locf", 0.4), "value": "0.4"}])
    with pytest.raises(ValueError, match="part: record 0: 'value' must be"):
        parts.merge_part(doc, bad)
    with pytest.raises(TypeError, match="doc must be a results document"):
        parts.merge_part([], doc)


def test_merge_with_replace_puts_the_remeasured_record_in_the_old_ones_place():
    doc = _doc([_rec("weather", "polydiff-csdi", 0.4), _rec("weather", "linear-interp", 0.5)])
    again = _doc([{**_rec("weather", "polydiff-csdi", 0.4, commit="bbb2222"), "ci_low": 0.3, "ci_high": 0.5},
                  _rec("pbc", "locf", 0.7, commit="bbb2222")], command="rerun", commit="bbb2222")
    merged = parts.merge_part(doc, again, replace=True)
    assert [(r["dataset"], r["method"], r["commit"]) for r in merged["records"]] == [
        ("weather", "polydiff-csdi", "bbb2222"), ("weather", "linear-interp", "aaa1111"), ("pbc", "locf", "bbb2222")]
    assert merged["records"][0]["ci_low"] == 0.3 and "ci_low" not in doc["records"][0]
    assert [(c["command"], c["records"]) for c in merged["commands"]] == [(doc["command"], 1), ("rerun", 2)]
    # a run whose every record was remeasured no longer stands behind the document
    whole = _doc([_rec("weather", "polydiff-csdi", 0.41, commit="ccc3333"),
                  _rec("weather", "linear-interp", 0.52, commit="ccc3333")], command="whole", commit="ccc3333")
    assert [(c["command"], c["records"]) for c in parts.merge_part(merged, whole, replace=True)["commands"]] == [
        ("rerun", 1), ("whole", 2)]
    twin = _doc([_rec("pbc", "locf", 0.4), _rec("pbc", "locf", 0.5)])
    with pytest.raises(ValueError, match="1 part record"):  # a part still measures each thing once
        parts.merge_part(doc, twin, replace=True)
    with pytest.raises(TypeError, match="replace must be a bool"):
        parts.merge_part(doc, again, replace="yes")


def test_part_command_writes_a_document_and_merges(tmp_path, capsys):
    out = tmp_path / "part.json"
    argv = ["--quick", "--parts", "b", "--json", str(out), "--out", str(tmp_path / "run"), "--no-progress"]
    assert parts.part_main("timeseries", _stub_run, ("a", "b"), argv, prog="python -m stub") == 0
    part = json.loads(out.read_text())
    assert part["command"] == "python -m stub " + " ".join(argv)
    assert part["mode"] == "quick" and {r["dataset"] for r in part["records"]} == {"b"}
    assert all(r["commit"] == part["commit"] and r["mode"] == "quick" for r in part["records"])
    assert part["machine"]["cpu"] and part["duration_s"] >= 0 and part["date"]
    doc_path = tmp_path / "timeseries.json"
    doc_path.write_text(json.dumps({**_doc([_rec("a", "linear-interp", 0.6)]), "mode": "quick"}))
    assert parts.main([str(doc_path), str(out)]) == 0
    merged = json.loads(doc_path.read_text())
    assert len(merged["records"]) == 3 and len(merged["commands"]) == 2
    assert parts.main([str(doc_path), str(out)]) == 1  # merged once already: refused, file kept
    assert "already holds" in capsys.readouterr().err
    assert json.loads(doc_path.read_text()) == merged
    with pytest.raises(SystemExit):
        parts.part_main("timeseries", _stub_run, ("a", "b"), ["--parts", "c", "--json", str(out)], prog="x")


def test_readme_provenance_of_a_plain_document_is_unchanged():
    doc = _doc([_rec("weather", "polydiff-csdi", 0.4), _rec("weather", "linear-interp", 0.5)])
    assert "Measured by `polydiff bench --full --domains timeseries` at commit `aaa1111`, 6000 s on Test CPU" \
        in readme_table.render_table([doc])

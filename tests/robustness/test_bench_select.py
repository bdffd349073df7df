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
    got = preregister(tmp_path / "p.json", list(table), val_accuracy, about, clean_tol=0.5)
    assert (got["t_star"], got["solver"], got["steps"]) == (0.3, "ddpm", 5)  # 0.30 robust; clean 0.93 > 0.60; 5 < 10
    assert asked == list(table) and len(got["candidates"]) == 4
    assert json.loads((tmp_path / "p.json").read_text()) == got
    # read back, never chosen again
    again = preregister(tmp_path / "p.json", list(table), lambda *a: pytest.fail("chose again"), about,
                        clean_tol=0.5)
    assert again == got and got["about"]["clean_tol"] == 0.5
    with pytest.raises(ValueError, match="pre-registered a choice for"):
        preregister(tmp_path / "p.json", list(table), val_accuracy, {"networks": "other"}, clean_tol=0.5)


def test_a_candidate_that_erases_the_image_is_not_eligible(tmp_path):
    """Within clean_tol = 0.05 of the best clean accuracy (0.97): t* = 0.1 and 0.3 (0.93); t* = 0.5
    (clean 0.40) is out however high its attacked accuracy reads."""
    table = {(0.1, "ddpm", 5): (0.97, 0.20), (0.3, "ddpm", 5): (0.93, 0.30), (0.5, "ddpm", 5): (0.40, 0.35)}
    got = preregister(tmp_path / "p.json", list(table), lambda *c: table[c], {})
    assert (got["t_star"], got["steps"]) == (0.3, 5)
    got = preregister(tmp_path / "q.json", list(table), lambda *c: table[c], {}, clean_tol=0.6)
    assert got["t_star"] == 0.5
    with pytest.raises(ValueError, match="clean_tol"):
        preregister(tmp_path / "r.json", list(table), lambda *c: table[c], {}, clean_tol=2.0)


@pytest.mark.parametrize("candidates", [[], [(0.1, "ddpm")], [(0.1, "ddpm", 0)], "ddpm"])
def test_bad_candidates_are_named(tmp_path, candidates):
    with pytest.raises(ValueError, match="candidates must be a non-empty sequence of"):
        preregister(tmp_path / "p.json", candidates, lambda *a: (1.0, 1.0), {})
    with pytest.raises(TypeError, match="val_accuracy must be a callable"):
        preregister(tmp_path / "p.json", [(0.1, "ddpm", 5)], None, {})

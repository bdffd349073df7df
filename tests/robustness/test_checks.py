"""The evaluation's self-checks on models whose answer is known: an affine model's exact L-inf
margin (the plateau check must settle on it) and a model that masks its gradients (the
masking check must flag it, and must not flag the affine model)."""
import pytest
import torch
from polydiff.robustness.attacks import evaluate, make_attack
from polydiff.robustness.checks import masking_gap, plateau, strength_problems


def _affine_case(affine, n=8, levels=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(64, generator=g)
    x = 0.5 + 0.1 * torch.rand(n, 1, 8, 8, generator=g)  # the box [0, 1] never binds below eps 0.3
    b = float(-(x.flatten(1) @ w).min() + 0.5)
    return affine(w, b, levels), x, torch.ones(n, dtype=torch.long), (x.flatten(1) @ w + b) / w.abs().sum()


def test_plateau_settles_on_the_affine_models_exact_robust_accuracy(affine):
    model, x, y, margin = _affine_case(affine)
    eps = float(margin.median())
    exact = float((margin > eps).float().mean())

    def robust(steps, draws):
        atk = {"pgd": lambda m, s: make_attack("pgd", m, eps=eps, steps=steps, seed=s)}
        return evaluate(model, x, y, atk, batch_size=len(x))["robust"].value

    res = plateau(robust, steps=2, draws=1, tol=0.0)
    assert res.converged and len(res.history) == 2 and res.draws == 1
    assert res.accuracy == pytest.approx(exact)
    assert "plateau reached" in res.describe()


def test_plateau_says_when_the_budget_stopped_short():
    seen = []

    def still_falling(steps, draws):  # every doubling removes 10 points
        seen.append((steps, draws))
        return max(0.0, 1.0 - 0.1 * len(seen))

    res = plateau(still_falling, steps=10, draws=2, max_steps=80, max_draws=64)
    assert not res.converged and seen == [(10, 2), (20, 4), (40, 8), (80, 16)]
    assert "NOT converged" in res.describe() and (res.steps, res.draws) == (80, 16)


def test_masking_check_flags_a_gradient_masking_model_and_not_the_affine_one(affine):
    eps = 0.2
    table = {"pgd": lambda m, s: make_attack("pgd", m, eps=eps, steps=20, seed=s),
             "square": lambda m, s: make_attack("square", m, eps=eps, steps=300, seed=s)}
    masked, x, y, _ = _affine_case(affine, levels=4)
    res = evaluate(masked, x, y, table, batch_size=len(x), cascade=True)
    assert res["clean"].value == 1.0
    running = {k: a.value for k, a in res["per_attack"].items()}
    assert running["pgd"] - running["square"] > 0.02, running  # PGD sees zero gradients
    assert "gradient masking" in masking_gap(running)

    plain, x, y, margin = _affine_case(affine)
    e = float(margin.median())
    table = {"pgd": lambda m, s: make_attack("pgd", m, eps=e, steps=20, seed=s),
             "square": lambda m, s: make_attack("square", m, eps=e, steps=300, seed=s)}
    res = evaluate(plain, x, y, table, batch_size=len(x), cascade=True)
    assert masking_gap({k: a.value for k, a in res["per_attack"].items()}) is None


def test_strength_problems_name_each_missed_target():
    targets = {"clean": 0.99, "PGD-40": 0.85, "AutoAttack-standard": 0.80}
    assert strength_problems({"clean": 0.992, "PGD-40": 0.9, "AutoAttack-standard": 0.81}, targets) == []
    problems = strength_problems({"clean": 0.979, "PGD-40": 0.9}, targets)
    assert len(problems) == 2
    assert problems[0].startswith("clean 97.9% is below its target 99.0%")
    assert problems[1] == "AutoAttack-standard not measured (target 80.0%)"


@pytest.mark.parametrize("call, match", [
    (lambda: plateau(lambda s, d: 0.5, steps=0), "steps must be an int >= 1, got 0"),
    (lambda: plateau(lambda s, d: 0.5, steps=4, tol=2), "tol must be a number in"),
    (lambda: plateau(lambda s, d: 1.5, steps=4), r"robust_accuracy\(...\) must be a number in \[0, 1\]"),
    (lambda: plateau(lambda s, d: 0.5, steps=400, max_steps=100), "exceeds max_steps"),
    (lambda: masking_gap({"square": 0.1, "pgd": 0.5}), "must run after the gradient attacks"),
    (lambda: masking_gap({"pgd": 0.5}), "must hold the score-based attack 'square'"),
    (lambda: strength_problems({"clean": 99.2}, {"clean": 0.99}), r"measured\['clean'\] must be a number in \[0, 1\]"),
])
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()

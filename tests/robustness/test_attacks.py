"""torchattacks through PurifiedClassifier, and the worst-case evaluation."""
import pytest
import torch
from polydiff.robustness.attacks import ATTACKS, evaluate, make_attack
from polydiff.robustness.gradients import EOT
from polydiff.robustness.purify import PurifiedClassifier, Purifier
from torch import nn


def _data(n=4):
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, 1, 8, 8, generator=g), torch.randint(0, 3, (n,), generator=g)


@pytest.mark.parametrize("mode", ["full", "adjoint", "bpda"])
def test_pgd_runs_through_purified_classifier(tiny_denoiser, tiny_classifier, mode):
    p = Purifier(tiny_denoiser, t_star=0.1, solver="euler_maruyama", steps=3, gradient=mode)
    model = PurifiedClassifier(p, tiny_classifier)
    x, y = _data()
    calls0 = tiny_denoiser.calls
    atk = make_attack("pgd", model, eps=0.3, steps=2)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        adv = atk(x, y)
    assert adv.shape == x.shape
    assert float((adv - x).abs().max()) <= 0.3 + 1e-6
    assert float(adv.min()) >= 0 and float(adv.max()) <= 1
    assert not torch.equal(adv, x)
    assert tiny_denoiser.calls > calls0  # the purifier sat inside the attacked model


def test_eot_apgd_and_l2_attacks_run(tiny_denoiser, tiny_classifier):
    p = Purifier(tiny_denoiser, t_star=0.1, solver="ddim", steps=2, gradient="checkpoint")
    model = PurifiedClassifier(p, tiny_classifier)
    x, y = _data()
    for name, norm, eps in [("eotpgd", "Linf", 0.3), ("apgd-dlr", "Linf", 0.3), ("pgd", "L2", 1.0)]:
        atk = make_attack(name, model, eps=eps, norm=norm, steps=2, eot_iter=2, n_classes=3)
        with torch.random.fork_rng():
            torch.manual_seed(0)
            adv = atk(x, y)
        d = (adv - x).flatten(1)
        size = d.abs().max(1).values if norm == "Linf" else d.norm(dim=1)
        assert (size <= eps + 1e-5).all()
    assert isinstance(make_attack("eotpgd", model, eps=0.1, eot_iter=3).model, EOT)
    with pytest.raises(ValueError, match="unknown attack"):
        make_attack("cw", model, eps=0.1)
    with pytest.raises(ValueError, match="norm"):
        make_attack("pgd", model, eps=0.1, norm="L1")
    assert "autoattack-rand" in ATTACKS


def _linear_model_and_its_labels(n: int = 24):
    """A fixed linear model on 8x8 images and labels equal to its own clean predictions."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 3))
    x, _ = _data(n)
    with torch.no_grad():
        return model, x, model(x).argmax(-1)


def test_evaluate_worst_case_over_attacks():
    """A fixed linear model: accuracies must match direct counting of the attack outcomes."""
    model, x, y = _linear_model_and_its_labels()
    y[:4] = (y[:4] + 1) % 3  # four misclassified clean examples
    never = lambda m, s: (lambda xb, yb: xb)
    res = evaluate(model, x, y, {"none": never,
                                 "pgd": lambda m, s: make_attack("pgd", m, eps=0.5, steps=10)},
                   seeds=(0, 1), batch_size=7)
    assert res["clean"].k == 20 and res["per_attack"]["none"].k == 20
    assert res["robust"].k == res["per_attack"]["pgd"].k <= 20
    assert res["robust"].k < 20  # a big L-inf ball flips a linear model
    assert res["correct"].sum() == res["robust"].k
    with pytest.raises(ValueError, match="labels"):
        evaluate(model, x, y.float(), {"none": never})
    with pytest.raises(ValueError, match="at least one"):
        evaluate(model, x, y, {})


def test_autoattack_rand_through_purifier(tiny_denoiser, tiny_classifier):
    """AutoAttack 'rand' (APGD-CE + APGD-DLR, 20 EOT draws) runs on the random model unchanged."""
    p = Purifier(tiny_denoiser, t_star=0.1, solver="ddim", steps=1, gradient="full")
    model = PurifiedClassifier(p, tiny_classifier)
    x, y = _data(2)
    atk = make_attack("autoattack-rand", model, eps=0.3, n_classes=3, seed=0)
    with torch.random.fork_rng():
        adv = atk(x, y)
    assert adv.shape == x.shape and float((adv - x).abs().max()) <= 0.3 + 1e-6
    std = make_attack("autoattack-standard", model, eps=0.3, norm="L2", n_classes=3)
    assert [type(a).__name__ for a in std._autoattack.attacks] == ["APGD", "APGDT", "FAB", "Square"]


def test_batched_eot_attacks_see_one_stacked_call_per_step(tiny_denoiser, tiny_classifier):
    """batched_eot: APGD and EOT-PGD attack EOT(model, n, batched=True), APGD with its own EOT off."""
    p = Purifier(tiny_denoiser, t_star=0.1, solver="ddim", steps=2, gradient="full")
    model = PurifiedClassifier(p, tiny_classifier)
    apgd = make_attack("apgd-ce", model, eps=0.3, steps=2, eot_iter=3, batched_eot=True)
    assert isinstance(apgd.model, EOT) and apgd.model.batched and apgd.model.n == 3 and apgd.eot_iter == 1
    pgd = make_attack("eotpgd", model, eps=0.3, steps=2, eot_iter=3, batched_eot=True)
    assert isinstance(pgd.model, EOT) and pgd.model.batched
    assert make_attack("apgd-dlr", model, eps=0.3, eot_iter=3).eot_iter == 3  # default: APGD's own EOT
    x, y = _data()
    rows = []
    hook = p.register_forward_pre_hook(lambda mod, args: rows.append(args[0].shape[0]))
    with torch.random.fork_rng():
        torch.manual_seed(0)
        adv = pgd(x, y)
    hook.remove()
    assert float((adv - x).abs().max()) <= 0.3 + 1e-6
    assert set(rows) == {3 * len(x)}  # every purifier call held the three draws of all four images
    with pytest.raises(TypeError, match="batched_eot"):
        make_attack("pgd", model, eps=0.3, batched_eot="yes")


def test_cascade_attacks_only_survivors_and_reports_running_accuracy():
    """cascade=True: a later attack sees only examples every earlier one left correct; same worst case."""
    model, x, y = _linear_model_and_its_labels()
    seen = []

    def spy(m, s):
        def run(xb, yb):
            seen.append(len(xb))
            return xb
        return run

    table = {"pgd": lambda m, s: make_attack("pgd", m, eps=0.05, steps=5), "spy": spy}
    res = evaluate(model, x, y, table, batch_size=100, cascade=True)
    assert seen == [res["per_attack"]["pgd"].k] and 0 < seen[0] < 24  # only the survivors of PGD
    assert res["per_attack"]["spy"].k == res["robust"].k == res["per_attack"]["pgd"].k
    seen.clear()
    flat = evaluate(model, x, y, table, batch_size=100)
    assert seen == [24] and flat["robust"].k == res["robust"].k  # deterministic model: same worst case
    assert torch.equal(flat["clean_correct"], res["clean_correct"]) and bool(res["clean_correct"].all())
    with pytest.raises(TypeError, match="cascade"):
        evaluate(model, x, y, table, cascade=1)


def test_square_attack_stays_in_the_ball_and_reaches_the_linear_bound(affine):
    """Square (score-based, no gradients) cannot flip an affine model inside its exact L-inf
    margin and flips every example at 1.5 times it."""
    g = torch.Generator().manual_seed(0)
    w = torch.randn(64, generator=g)
    x = 0.5 + 0.1 * torch.rand(6, 1, 8, 8, generator=g)  # margins of ~0.01: the box [0, 1] never binds
    b = float(-(x.flatten(1) @ w).min() + 0.5)
    model, y = affine(w, b), torch.ones(6, dtype=torch.long)
    bound = (x.flatten(1) @ w + b) / w.abs().sum()
    for eps, survivors in ((0.95 * bound.min(), 6), (1.5 * bound.max(), 0)):
        res = evaluate(model, x, y, {"square": lambda m, s, e=float(eps): make_attack("square", m, eps=e, steps=300,
                                                                                         seed=s)}, batch_size=6)
        assert res["clean"].k == 6 and res["robust"].k == survivors

"""Early stopping of adversarial training on validation robust accuracy (Rice et al. 2020)."""
from __future__ import annotations

import json

import pytest
import torch
from polydiff.core.training import TrainConfig, load_checkpoint
from polydiff.robustness.early_stopping import robust_accuracy_fn, selection_file
from polydiff.robustness.train import train_classifier
from torch import nn


def test_validation_robust_accuracy_is_the_exact_worst_case_of_a_linear_model(one_thread):
    """For two linear logits the L-inf worst case in the [0, 1] box is exact: every pixel moves
    by eps against sign(w_y - w_other), clipped to the box. PGD-20 (total travel 2.5 eps) reaches it."""
    g = torch.Generator().manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 2))
    with torch.no_grad():
        net[1].weight.copy_(torch.randn(2, 784, generator=g) * 0.05)
        net[1].bias.zero_()
    x = torch.rand(200, 1, 28, 28, generator=g)
    with torch.no_grad():
        y = net(x).argmax(1)
    y[::4] = 1 - y[::4]  # some misclassified: they count as neither clean- nor robust-correct
    eps = 0.02
    w = net[1].weight.detach()
    d = (w[y] - w[1 - y]).view(-1, 1, 28, 28)  # the margin's gradient
    worst = (x - eps * d.sign()).clamp(0, 1)
    with torch.no_grad():
        clean = (net(x).argmax(1) == y).float().mean().item()
        exact = (net(worst).argmax(1) == y).float().mean().item()
    out = robust_accuracy_fn(x, y, eps, pgd_steps=20, batch_size=64)(net, 0)
    assert out["val_clean"] == pytest.approx(clean)
    assert out["val_robust"] == pytest.approx(exact)
    assert 0 < exact < clean  # the case is not trivial


def _data():
    g = torch.Generator().manual_seed(1)
    return torch.rand(64, 1, 28, 28, generator=g), torch.arange(64) % 10


def _cfg(tmp_path, **kw) -> TrainConfig:
    base = {"steps": 6, "batch_size": 16, "lr": 5e-3, "ema_decay": None, "ckpt_dir": str(tmp_path / "run"),
            "ckpt_every": 2, "eval_every": 2, "keep_last": 3, "log_every": 2}
    return TrainConfig(**{**base, **kw})


def test_the_checkpoint_with_the_best_validation_robust_accuracy_is_returned(tmp_path, one_thread):
    x, y = _data()
    val = (x[:32], y[:32])
    torch.manual_seed(0)
    net = train_classifier(x, y, _cfg(tmp_path), width=8, adversarial=True, eps=0.1, pgd_steps=2, val=val,
                           val_pgd_steps=3)
    sel = json.loads(selection_file(tmp_path / "run").read_text())
    curve = {int(k): v for k, v in sel["val_robust"].items()}
    assert sorted(curve) == [2, 4, 6]
    best = max(curve, key=lambda s: (curve[s], -s))
    assert sel["selected_step"] == best and sel["last_step"] == 6 and sel["still_improving"] == (best == 6)
    ck = load_checkpoint(tmp_path / "run" / f"step_{best:08d}")
    for k, v in net.state_dict().items():
        assert torch.equal(v, ck.model[k]), k
    if best != 6:  # (random labels: a tie, so the earliest step) the last weights were not kept
        last = load_checkpoint(tmp_path / "run" / "step_00000006")
        assert any(not torch.equal(v, last.model[k]) for k, v in net.state_dict().items())
    # the logged accuracy is that of the weights returned (same PGD random starts)
    again = robust_accuracy_fn(*val, 0.1, pgd_steps=3)(net, best)
    assert again["val_robust"] == pytest.approx(curve[best])


@pytest.mark.parametrize("kw,adversarial,match", [
    ({}, False, "adversarial=True"),
    ({"ckpt_every": 3}, True, "ckpt_every == eval_every"),
    ({"eval_every": 0}, True, "ckpt_every == eval_every"),
    ({"keep_last": 2}, True, "keep_last >= steps / eval_every = 3, got keep_last=2"),
])
def test_a_selection_that_could_not_load_its_best_checkpoint_is_refused(tmp_path, kw, adversarial, match):
    x, y = _data()
    with pytest.raises(ValueError, match=match):
        train_classifier(x, y, _cfg(tmp_path, **kw), width=8, adversarial=adversarial, eps=0.1, pgd_steps=1,
                         val=(x[:8], y[:8]))


def test_validation_inputs_are_checked():
    x, y = _data()
    with pytest.raises(ValueError, match="eps"):
        robust_accuracy_fn(x, y, 8.0)
    with pytest.raises(ValueError, match="labels y"):
        robust_accuracy_fn(x, y[:5], 0.1)
    with pytest.raises(ValueError, match="pgd_steps"):
        robust_accuracy_fn(x, y, 0.1, pgd_steps=0)


def test_the_bench_states_early_stopping_and_fails_a_curve_still_rising_without_a_published_target():
    from dataclasses import replace

    from polydiff.bench.robustness import CONFIGS, _early_stopping_fields, network_keys

    mnist, fashion = CONFIGS["full"]
    assert mnist.adv_val_n == fashion.adv_val_n == 512
    x, y = _data()
    assert network_keys(mnist, x, y)["adv-classifier"]["select"] == "best-val-robust"
    off = replace(mnist, adv_val_n=0)  # quick mode's keys (no early stopping) are those of before
    assert set(network_keys(off, x, y)["adv-classifier"]) == {"n_train", "data", "width", "steps", "lr",
                                                             "schedule", "adv_steps", "pgd", "eps", "ramp"}
    sel = {"selected_step": 800, "last_step": 800, "still_improving": True,
           "val_robust": {"400": 0.70, "800": 0.72}, "val_clean": {"400": 0.85, "800": 0.86}}
    for cfg, invalid in ((fashion, True), (mnist, False)):  # MNIST is judged by its published targets
        recs = [{"problems": [], "valid": True}, {"problems": [], "valid": True}]
        _early_stopping_fields(cfg, recs, sel)
        assert all(r["valid"] is not invalid for r in recs)
        assert recs[0]["early_stopping"]["summary"] == ("best of 2 checkpoints on 512 validation images under "
                                                        "PGD-20: step 800 of 800 (72.0% robust)")
    recs = [{"problems": [], "valid": True}]
    _early_stopping_fields(fashion, recs, {**sel, "selected_step": 400, "still_improving": False})
    assert recs[0]["valid"] and not recs[0]["problems"]

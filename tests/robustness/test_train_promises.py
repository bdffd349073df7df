"""`polydiff train robustness` keeps its promises: torchrun, resume with more steps, --seed."""
from __future__ import annotations

from polydiff.core.training import load_checkpoint
from polydiff.robustness.nets import load
from polydiff.robustness.train import main

TINY = ["--batch-size", "8", "--n-train", "32", "--base", "8"]


def test_torchrun_two_processes_train_the_default_model_and_it_loads(tmp_path, torchrun):
    out = tmp_path / "dm"
    torchrun("polydiff.robustness.train", [*TINY, "--steps", "2", "--out", str(out)])
    ck = load_checkpoint(out / "run")
    assert ck.step == 2 and ck.state["world_size"] == 2 and ck.net_config["class"] == "UNet"
    net = load(out)  # the purification U-Net, written once by rank 0
    for k, v in net.state_dict().items():
        assert v.shape == ck.ema[k].shape


def test_checkpoints_during_training_and_resume_with_more_steps(tmp_path):
    out = tmp_path / "clf"
    args = ["classifier", "--width", "8", *TINY]
    main([*args, "--steps", "4", "--ckpt-every", "2", "--out", str(out)])
    assert sorted(p.name for p in (out / "run").glob("step_*")) == ["step_00000002", "step_00000004"]
    main([*args, "--steps", "6", "--resume", "--out", str(out)])
    assert load_checkpoint(out / "run").step == 6


def test_same_seed_same_initial_loss(tmp_path, first_loss):
    for name, seed in (("a", "0"), ("b", "0"), ("c", "1")):
        main(["classifier", "--width", "8", *TINY, "--steps", "1", "--seed", seed,
              "--out", str(tmp_path / name)])
    a, b, c = (first_loss(tmp_path / n / "run") for n in "abc")
    assert a == b and a != c


def test_eps_ramp_continues_where_an_interrupted_run_stopped(tmp_path, monkeypatch):
    """The training radius follows the optimizer step restored from the checkpoint: a run
    interrupted after step 2 of 4 (ramp over all 4) attacks at 3/4 and 4/4 of eps when resumed,
    exactly as the uninterrupted run does (not at 1/4 and 2/4, a ramp started again)."""
    import pytest
    import torch
    from polydiff.core.training import TrainConfig
    from polydiff.robustness import train as rt

    seen: list[float] = []

    def record(net, x, y, eps, steps, generator):
        seen.append(eps)
        if len(seen) == 3 and stop[0]:
            raise KeyboardInterrupt  # killed during step 3, after the step-2 checkpoint
        return x

    monkeypatch.setattr(rt, "_pgd_examples", record)
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(16, 1, 28, 28, generator=g), torch.arange(16) % 10
    cfg = TrainConfig(steps=4, batch_size=8, lr=1e-3, ema_decay=None, ckpt_dir=str(tmp_path / "run"),
                      ckpt_every=2)
    kw = {"width": 8, "adversarial": True, "eps": 0.3, "pgd_steps": 1, "eps_ramp": 1.0}
    stop = [True]
    with pytest.raises(KeyboardInterrupt):
        rt.train_classifier(x, y, cfg, **kw)
    stop[0] = False
    del seen[2:]
    rt.train_classifier(x, y, cfg, resume=True, **kw)
    assert seen == pytest.approx([0.075, 0.15, 0.225, 0.3])

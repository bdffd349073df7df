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

"""`polydiff train vision` keeps its promises: torchrun, resume with more steps, --seed."""
from __future__ import annotations

import json

from polydiff.core.training import load_checkpoint
from polydiff.vision.nets import UNet
from polydiff.vision.train import load_trained, main

TINY = ["--dataset", "digits", "--limit", "64", "--batch-size", "8", "--base", "8", "--mults", "1", "2",
        "--attention-levels", "1"]


def test_torchrun_two_processes_train_and_the_checkpoint_loads(tmp_path, torchrun):
    out = tmp_path / "run"
    torchrun("polydiff.vision.train", [*TINY, "--steps", "2", "--out", str(out)])  # reads net.null_class
    ck = load_checkpoint(out)
    assert ck.step == 2 and ck.state["world_size"] == 2
    net, _, extra = load_trained(out)
    assert isinstance(net, UNet) and extra["task"] == "generate" and net.config.num_classes == 10


def test_checkpoints_during_training_and_resume_with_more_steps(tmp_path):
    out = tmp_path / "run"
    assert main([*TINY, "--steps", "10", "--ckpt-every", "5", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.glob("step_*")) == ["step_00000005", "step_00000010"]
    assert load_checkpoint(out).config["warmup_steps"] == 1  # min(100, 10 // 10)
    assert main([*TINY, "--steps", "20", "--resume", "--out", str(out)]) == 0
    ck = load_checkpoint(out)
    assert ck.step == 20 and ck.config["warmup_steps"] == 1 and ck.config["steps"] == 20
    steps = [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps[-1] == 20


def test_same_seed_same_initial_loss(tmp_path, first_loss):
    for name, seed in (("a", "0"), ("b", "0"), ("c", "1")):
        assert main([*TINY, "--steps", "1", "--seed", seed, "--out", str(tmp_path / name)]) == 0
    a, b, c = (first_loss(tmp_path / n) for n in "abc")
    assert a == b and a != c

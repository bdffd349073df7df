"""`polydiff train timeseries` keeps its promises: torchrun, resume with more steps, --seed."""
from __future__ import annotations

import json

import numpy as np
from polydiff.core.training import load_checkpoint
from polydiff.timeseries.impute import CSDIImputer
from polydiff.timeseries.train import main

TINY = ["--data", "airquality", "--length", "10", "--stride", "5", "--batch-size", "8", "--layers", "1",
        "--channels", "8", "--heads", "2", "--samples", "2", "--solver", "ddim", "--solver-steps", "2"]


def test_torchrun_two_processes_train_and_rank0_alone_saves(tmp_path, torchrun):
    out = tmp_path / "csdi"
    torchrun("polydiff.timeseries.train", [*TINY, "--steps", "2", "--out", str(out)])
    ck = load_checkpoint(out / "run")
    assert ck.step == 2 and ck.state["world_size"] == 2
    assert (out / "latest").read_text().strip() == "step_00000002"  # points at a real folder
    imp = CSDIImputer.load(out)
    for k, v in imp.net.state_dict().items():
        assert np.array_equal(v.numpy(), ck.model[k].numpy())  # no EMA: the trained weights
    assert set(json.loads((out / "scores.json").read_text())) == {"MAE", "RMSE", "CRPS", "CRPS-sample"}


def test_checkpoints_during_training_and_resume_with_more_steps(tmp_path):
    out = tmp_path / "csdi"
    main([*TINY, "--steps", "4", "--ckpt-every", "2", "--out", str(out)])
    assert sorted(p.name for p in (out / "run").glob("step_*")) == ["step_00000002", "step_00000004"]
    main([*TINY, "--steps", "6", "--resume", "--out", str(out)])
    ck = load_checkpoint(out / "run")
    assert ck.step == 6 and ck.config["steps"] == 6
    assert load_checkpoint(out).step == 6  # the saved imputer is the extended one


def test_same_seed_same_initial_loss(tmp_path, first_loss):
    for name, seed in (("a", "0"), ("b", "0"), ("c", "1")):
        main([*TINY, "--steps", "1", "--seed", seed, "--out", str(tmp_path / name)])
    a, b, c = (first_loss(tmp_path / n / "run") for n in "abc")
    assert a == b and a != c

"""`polydiff train molecules` keeps its promises: torchrun, resume with more steps, --seed."""
from __future__ import annotations

import warnings

import pytest
from polydiff.core.training import load_checkpoint
from polydiff.molecules.generate import conformer_generator
from polydiff.molecules.train import main

# 320 QM9 molecules: 200 test + 100 val leave ~20 for training (the split is fixed)
TINY = ["--batch-size", "4", "--hidden", "16", "--convs", "1", "--n-mols", "320", "--T", "100"]


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # short schedule / skipped QM9 molecules
        yield


def test_torchrun_two_processes_train_and_the_checkpoint_loads(tmp_path, torchrun):
    out = tmp_path / "geodiff"
    torchrun("polydiff.molecules.train", [*TINY, "--steps", "2", "--out", str(out)])
    ck = load_checkpoint(out)
    assert ck.step == 2 and ck.state["world_size"] == 2
    net, process = conformer_generator(out)
    assert net.config.hidden == 16 and len(process.betas) == 100


def test_resume_with_more_steps_keeps_the_stored_warmup(tmp_path):
    out = tmp_path / "geodiff"
    main([*TINY, "--steps", "10", "--out", str(out)])
    assert load_checkpoint(out).config["warmup_steps"] == 1  # min(500, 10 // 10)
    main([*TINY, "--steps", "20", "--resume", "--out", str(out)])  # was CheckpointError ['warmup_steps']
    ck = load_checkpoint(out)
    assert ck.step == 20 and ck.config["warmup_steps"] == 1 and ck.config["steps"] == 20


def test_same_seed_same_initial_loss(tmp_path, first_loss):
    for name, seed in (("a", "0"), ("b", "0"), ("c", "1")):
        main([*TINY, "--steps", "1", "--seed", seed, "--out", str(tmp_path / name)])
    a, b, c = (first_loss(tmp_path / n) for n in "abc")
    assert a == b and a != c

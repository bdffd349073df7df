"""`polydiff train text` keeps its promises: torchrun, resume with more steps, --seed."""
from __future__ import annotations

from polydiff.core.training import load_checkpoint
from polydiff.text.diffuseq import DiffuSeq
from polydiff.text.train import main

TINY = ["--batch-size", "4", "--hidden", "16", "--layers", "1", "--T", "50", "--vocab-size", "400"]


def test_torchrun_two_processes_train_and_the_checkpoint_loads(tmp_path, torchrun):
    out = tmp_path / "dq"
    torchrun("polydiff.text.train", [*TINY, "--steps", "2", "--out", str(out)])  # reads embed_tokens
    ck = load_checkpoint(out / "run")
    assert ck.step == 2 and ck.state["world_size"] == 2 and ck.net_config["kind"] == "diffuseq"
    model = DiffuSeq.load(out)  # the default model, written once by rank 0
    for k, v in model.net.state_dict().items():
        assert k in ck.ema and v.shape == ck.ema[k].shape


def test_resume_with_more_steps_keeps_the_stored_warmup(tmp_path):
    out = tmp_path / "dq"
    main([*TINY, "--steps", "10", "--out", str(out)])
    assert load_checkpoint(out / "run").config["warmup_steps"] == 1  # min(200, 10 // 10)
    main([*TINY, "--steps", "20", "--resume", "--out", str(out)])
    ck = load_checkpoint(out / "run")
    assert ck.step == 20 and ck.config["warmup_steps"] == 1 and ck.config["steps"] == 20


def test_same_seed_same_initial_loss(tmp_path, first_loss):
    for name, seed in (("a", "0"), ("b", "0"), ("c", "1")):
        main([*TINY, "--steps", "1", "--seed", seed, "--out", str(tmp_path / name)])
    a, b, c = (first_loss(tmp_path / n / "run") for n in "abc")
    assert a == b and a != c

"""SIGKILL in the middle of training (between checkpoint writes), then resume: the run loses at
most the interrupted step, and the resumed run ends bitwise equal to an uninterrupted one
(dropout, data order and EMA included: the Trainer checkpoints every RNG stream).

The companion test in tests/core/test_training_checkpoint.py kills the process *while a
checkpoint is being written*; here the kill lands at a random moment of a run that spends its
time in training steps.
"""
import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
import torch
from polydiff.core.training import load_checkpoint

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("fault_worker", HERE / "fault_worker.py")
FW = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(FW)


def _kill_mid_training(run: Path, after_step: int) -> None:
    """Start the trainer, wait until checkpoint ``after_step`` is published, then SIGKILL it a
    little later: inside the next step's forward/backward (the step takes 2 x STEP_SECONDS)."""
    pointer = run / "latest"
    FW.kill_when(["train", str(run)], lambda: pointer.is_file() and pointer.read_text().strip() >= f"step_{after_step:08d}",
                 delay=FW.STEP_SECONDS, timeout=60)


def _logged_steps(run: Path) -> list[int]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [json.loads(x)["step"] for x in lines if x.strip()]


@pytest.fixture
def run_dir(tmp_path):
    """A run folder in memory (/dev/shm) where there is one: a checkpoint every step stays cheap."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path / "run"
        return
    base = Path(tempfile.mkdtemp(prefix="polydiff-fault-", dir=shm))
    yield base / "run"
    shutil.rmtree(base, ignore_errors=True)


def test_sigkill_mid_training_then_resume_loses_at_most_one_step(run_dir):
    run = run_dir
    _kill_mid_training(run, after_step=4)
    ck = load_checkpoint(run, net=FW.W.make_net(dropout=0.2), net_config={"width": 16})  # valid, checksummed
    logged = _logged_steps(run)
    total = FW.train_config(None).steps
    assert 4 <= ck.step < total, ck.step
    # a checkpoint every step: the killed run completed at most one step beyond it (the interrupted one)
    assert max(logged) - ck.step in (0, 1), (max(logged), ck.step)

    resumed = FW.trainer(str(run))
    resumed.fit(resume=True)
    straight = FW.trainer(None)
    straight.fit()
    assert resumed.step == straight.step == total
    for (k, a), b in zip(straight.net.state_dict().items(), resumed.net.state_dict().values()):
        assert torch.equal(a, b), k
    for a, b in zip(straight.ema.state_dict().values(), resumed.ema.state_dict().values()):
        assert torch.equal(a, b)
    # the metrics describe one trajectory: every step once, the killed run's extra record dropped
    assert _logged_steps(run) == list(range(1, total + 1))
    losses = [json.loads(x)["loss"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert losses == [h["loss"] for h in straight.history if "loss" in h]
    assert not list(run.glob(".tmp-*")) and not list(run.glob("*.tmp"))  # no debris left

"""SIGTERM / SIGINT during training: the step is finished and checkpointed, then the signal
ends the run as it would have; resuming from that checkpoint gives the uninterrupted run."""

from __future__ import annotations

import importlib.util
import signal
from pathlib import Path

import pytest
import torch
from polydiff.core.training import Trainer, latest_checkpoint, load_checkpoint
from polydiff.core.training.preempt import StoppedBySignal, StopRequests

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
_spec = importlib.util.spec_from_file_location("dist_worker", HERE / "dist_worker.py")
W = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(W)


class Preempted(Exception):
    """Raised by the test's own SIGTERM handler (the default one would end pytest)."""


@pytest.fixture
def sigterm_raises():
    def handler(signum, frame):
        raise Preempted(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    yield handler
    signal.signal(signal.SIGTERM, previous)


def _trainer(run_dir, signals_at: dict[int, list[int]] | None = None) -> Trainer:
    """ddp_config's 12-step run (checkpoints every 6); ``signals_at[k]``: the signals raised
    inside the loss of optimizer step ``k`` (0-based)."""
    signals_at = signals_at or {}
    trainer = None

    def loss(net, batch, generator):
        for s in signals_at.pop(trainer.step, []):
            signal.raise_signal(s)
        return W.denoising_loss(net, batch, generator)

    trainer = Trainer(W.ddp_config(None if run_dir is None else str(run_dir)), W.make_net(seed=0), loss,
                      W.make_data(), net_config={"width": 16})
    return trainer


def _steps(run_dir: Path) -> list[int]:
    return sorted(int(p.name.split("_")[1]) for p in run_dir.glob("step_*"))


def test_sigterm_saves_the_step_then_ends_and_resume_equals_the_uninterrupted_run(tmp_path, one_thread,
                                                                                  sigterm_raises):
    full = _trainer(tmp_path / "full")
    full.fit()
    run = tmp_path / "run"
    with pytest.raises(Preempted):
        _trainer(run, {3: [signal.SIGTERM]}).fit()
    assert _steps(run) == [4]  # no periodic checkpoint yet (every 6): step 4 was saved for the signal
    assert load_checkpoint(run).step == 4
    assert signal.getsignal(signal.SIGTERM) is sigterm_raises  # the caller's handler is back
    resumed = _trainer(run)
    resumed.fit(resume=True)
    assert resumed.step == 12
    for (k, a), b in zip(full.net.state_dict().items(), resumed.net.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    for a, b in zip(full.ema.state_dict().values(), resumed.ema.state_dict().values(), strict=True):
        assert torch.equal(a, b)


@pytest.fixture
def sigint_default():
    """Python's own SIGINT handler, whatever the process started with (a job started with ``&``
    from a non-interactive shell ignores SIGINT)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_an_ignored_signal_stays_ignored_and_a_returning_handler_cannot_hide_the_stop(tmp_path, one_thread):
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with StopRequests() as stops:
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            signal.raise_signal(signal.SIGINT)
            assert stops.signum == 0
        trainer = _trainer(tmp_path / "ign", {3: [signal.SIGINT]})
        trainer.fit()  # the ignored signal does not stop the run
        assert trainer.step == 12
    finally:
        signal.signal(signal.SIGINT, previous)
    calls = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: calls.append(signum))
    try:
        with pytest.raises(StoppedBySignal, match="SIGTERM"):
            _trainer(tmp_path / "ret", {3: [signal.SIGTERM]}).fit()
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert calls == [signal.SIGTERM] and _steps(tmp_path / "ret") == [4]


def test_sigint_saves_then_raises_keyboard_interrupt(tmp_path, one_thread, sigint_default):
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        _trainer(run, {7: [signal.SIGINT]}).fit()
    assert _steps(run) == [6, 8]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_second_sigint_stops_at_once_without_saving(tmp_path, one_thread, sigint_default):
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        _trainer(run, {2: [signal.SIGINT, signal.SIGINT]}).fit()
    assert latest_checkpoint(run) is None


def test_a_repeated_sigterm_does_not_interrupt_the_save(tmp_path, one_thread, sigterm_raises):
    # torchrun's agent forwards the scheduler's SIGTERM again: the run still saves and ends once
    run = tmp_path / "run"
    with pytest.raises(Preempted):
        _trainer(run, {1: [signal.SIGTERM, signal.SIGTERM]}).fit()
    assert _steps(run) == [2]


def test_without_a_checkpoint_folder_the_signal_still_stops_after_the_step(one_thread, sigterm_raises):
    trainer = _trainer(None, {4: [signal.SIGTERM]})
    with pytest.raises(Preempted):
        trainer.fit()
    assert trainer.step == 5


def test_a_signal_outside_the_loop_is_left_to_the_callers_handler(sigterm_raises):
    with pytest.raises(Preempted):
        signal.raise_signal(signal.SIGTERM)
    with StopRequests() as stops:
        signal.raise_signal(signal.SIGTERM)
        assert stops.signum == signal.SIGTERM and stops.agreed() == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is sigterm_raises


def test_torchrun_ranks_stop_together_when_one_rank_gets_sigterm(tmp_path, torchrun_job):
    run = tmp_path / "run"
    proc = torchrun_job([HERE / "dist_worker.py", "preempt", run], timeout=120)
    log = proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.returncode != 0, log  # the signal ended the job
    assert "SIGTERM received: stopped after step 3" in proc.stderr, log  # rank 0 stopped too
    assert _steps(run) == [3], log  # one checkpoint, saved by both ranks at the same step
    assert not list(run.glob("finished-rank*")), log
    resumed = _trainer(run)
    resumed.fit(resume=True)
    assert resumed.step == 12

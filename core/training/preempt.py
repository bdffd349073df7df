"""Stop on SIGTERM / SIGINT at a step boundary, with a checkpoint of that step.

A cluster scheduler that preempts a job sends SIGTERM and kills it a grace period later
(SLURM, Kubernetes, torchrun's agent); Ctrl-C sends SIGINT. Without this, a run loses
everything since its last periodic checkpoint (up to ``ckpt_every`` steps: an hour of a
CPU adversarial-training run). Inside :class:`StopRequests` those signals only set a flag;
the training loop reads it after each optimizer step (:meth:`StopRequests.agreed`, the
largest signal number over the ranks, so every rank of a torchrun job stops at the same
step and the collective checkpoint cannot deadlock), saves, leaves the block (the previous
handlers are back) and re-raises the signal (:meth:`StopRequests.reraise`): the process
then ends as the signal would have ended it (``KeyboardInterrupt`` for SIGINT, termination
for SIGTERM), one step later and with the step saved.

A SIGINT after the first signal stops at once (the impatient Ctrl-C); further SIGTERMs are ignored (torchrun's
agent forwards the scheduler's SIGTERM a second time, and kills with SIGKILL after its own
grace period). Handlers are installed only in the main thread (Python's rule); elsewhere the
block changes nothing. A signal the process ignores stays ignored (a job started with ``&`` from a
non-interactive shell ignores SIGINT): catching it would turn a signal that was meant to do
nothing into an early stop. If the handler in place after the block returns instead of ending
the process, :meth:`StopRequests.reraise` raises :class:`StoppedBySignal`, so a stopped run never
returns as if it had finished.
"""
from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Self

import torch

from .distributed import all_reduce_max

__all__ = ["StopRequests", "StoppedBySignal"]

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StoppedBySignal(RuntimeError):
    """A run stopped (and checkpointed) on a signal whose own handler did not end the process."""


class StopRequests:
    """Context manager: SIGTERM and SIGINT become a request to stop at the next step boundary.

    Attributes:
        signum: the first signal received inside the block (``0``: none).
    """

    def __init__(self) -> None:
        self.signum = 0
        self._previous: dict[int, object] = {}

    def __enter__(self) -> Self:
        if threading.current_thread() is threading.main_thread():
            for s in SIGNALS:
                if signal.getsignal(s) is not signal.SIG_IGN:
                    self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._restore()

    def _restore(self) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum == 0:
            self.signum = signum
        elif signum == signal.SIGINT:  # a second Ctrl-C: stop now, as if the block were not here
            self._restore()
            signal.raise_signal(signum)

    def agreed(self) -> int:
        """The largest signal number received on any rank (0: none). Collective in a torchrun
        run (one small all-reduce): call it on every rank at the same step."""
        return int(all_reduce_max(torch.tensor([self.signum], dtype=torch.long)).item())

    @staticmethod
    def reraise(signum: int) -> None:
        """Deliver ``signum`` to this process again, to the handler in place after the block; if
        that handler returns, raise :class:`StoppedBySignal` (the run did not finish)."""
        signal.raise_signal(signum)
        raise StoppedBySignal(f"stopped on {signal.Signals(signum).name}, whose handler did not end the process")

"""Processes that the fault tests SIGKILL (tests/reliability/test_fault_*.py).

    python tests/reliability/fault_worker.py train RUN_DIR   # core Trainer, a checkpoint every step
    python tests/reliability/fault_worker.py bench OUT_DIR   # `polydiff bench --quick --domains timeseries`
                                                             # on a tiny configuration

The builders are imported by the tests too, so the uninterrupted references are the very same
runs.
"""
from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("dist_worker", HERE.parent / "core" / "dist_worker.py")
W = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(W)

STEP_SECONDS = 0.03  # each micro-batch takes this long (2 per step), so a kill can land inside training
TINY_NET = {"layers": 1, "channels": 8, "heads": 2, "time_emb_dim": 16, "feature_emb_dim": 4, "diffusion_emb_dim": 16}
#: Two cached stages: the imputation model (cache/csdi-*) and the forecasting model (cache/csdi-fc-*).
TINY_TIMESERIES = {
    "stations": ("JFK",), "days": 20, "length": 12, "train_stride": 6, "net": TINY_NET, "train_steps": 20,
    "batch_size": 8, "n_samples": 2, "rates": (0.5,), "max_test": 2, "fast": (("ddim", 3),), "pypots": False,
    "fc": {"context": 24, "horizon": 6, "train_steps": 20, "n_samples": 2, "origins": 2, "net": TINY_NET, "stride": 24},
}


def kill_when(args: Sequence[str], ready: Callable[[], bool], *, delay: float = 0.0, timeout: float = 120,
              script: Path | None = None, env: dict[str, str] | None = None) -> None:
    """Run ``python script *args`` (default: this file) and SIGKILL it ``delay`` seconds after
    ``ready()`` turns true (polled every 2 ms); fails if the worker ends first or ``ready``
    never comes. ``env`` adds variables to the worker's environment."""
    full_env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg", **(env or {}))
    proc = subprocess.Popen([sys.executable, str(script or HERE / "fault_worker.py"), *args], env=full_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None and not ready():
            time.sleep(0.002)
        assert proc.poll() is None, f"the worker ended before it was killed: {proc.stderr.read()[-3000:]}"
        assert ready(), f"the worker did not get ready in {timeout} s"
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def train_config(run_dir: str | None):
    """The core Trainer run: dropout, gradient accumulation and EMA, a checkpoint every step."""
    return W.crash_config(run_dir).replace(steps=12, ckpt_every=1, keep_last=2)


def slow_denoising_loss(net, batch, generator):
    time.sleep(STEP_SECONDS)
    return W.denoising_loss(net, batch, generator)


def trainer(run_dir: str | None):
    from polydiff.core.training import Trainer

    return Trainer(train_config(run_dir), W.make_net(dropout=0.2), slow_denoising_loss, W.make_data(),
                   net_config={"width": 16})


def main_bench(out: Path) -> int:
    from polydiff.bench import cli
    from polydiff.bench import timeseries as bench

    bench.SETTINGS["quick"] = TINY_TIMESERIES
    return cli.main(["bench", "--quick", "--domains", "timeseries", "--out", str(out), "--results-dir",
                     str(out / "committed"), "--no-progress"])


if __name__ == "__main__":
    torch.set_num_threads(1)
    mode, path = sys.argv[1], Path(sys.argv[2])
    if mode == "train":
        trainer(str(path)).fit(resume=True)
    elif mode == "bench":
        sys.exit(main_bench(path))
    else:
        sys.exit(f"unknown mode {mode!r}")

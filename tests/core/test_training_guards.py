"""Training never publishes a broken state: a non-finite loss or gradient stops the step before
the optimizer applies it, a checkpoint with non-finite weights is never written (so never
marked latest), and an unwritable run directory is found before the first step."""
import errno

import pytest
import torch
from polydiff.core.training import (
    TrainConfig,
    Trainer,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from polydiff.core.training.checkpoint import check_writable
from torch import nn


def _trainer(tmp_path, x, **cfg):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 4))
    calls = []

    def loss(net, batch, g):
        calls.append(1)
        return ((net(batch) - batch) ** 2).mean()

    cfg = TrainConfig(**{"steps": 6, "batch_size": 4, "lr": 1e-2, "ckpt_dir": str(tmp_path / "run"),
                         "ckpt_every": 2, "log_every": 1, "seed": 0, "ema_decay": 0.9, **cfg})
    return Trainer(cfg, net, loss, x, net_config={"kind": "mlp"}), calls


def test_an_overflowing_value_stops_the_step_before_the_optimizer(tmp_path):
    x = torch.randn(8, 4)
    x[5, 2] = 1e30  # finite, but its square overflows float32: the loss is inf
    tr, _ = _trainer(tmp_path, x, batch_size=8)
    before = {k: v.clone() for k, v in tr.net.state_dict().items()}
    with pytest.raises(FloatingPointError, match=r"step 1 \(batch 0 of the data order\): non-finite loss"):
        tr.fit()
    assert all(torch.equal(before[k], v) for k, v in tr.net.state_dict().items())  # not applied
    assert latest_checkpoint(tmp_path / "run") is None  # nothing published


def test_the_last_good_checkpoint_stays_latest_when_a_later_step_breaks(tmp_path):
    x = torch.randn(16, 4)
    tr, _ = _trainer(tmp_path, x)
    tr.fit(max_steps=2)  # a good checkpoint at step 2
    good = latest_checkpoint(tmp_path / "run")
    with torch.no_grad():
        tr.net[0].weight[0, 0] = float("nan")  # the weights break after the checkpoint
    with pytest.raises(FloatingPointError, match="step 3 .*non-finite (loss|gradient)"):
        tr.fit()
    assert latest_checkpoint(tmp_path / "run") == good
    ckpt = load_checkpoint(good)
    assert all(torch.isfinite(v).all() for v in ckpt.model.values())


def test_non_finite_weights_are_never_written(tmp_path):
    weights = {"w": torch.tensor([1.0, float("inf")]), "step": torch.tensor([3])}
    with pytest.raises(FloatingPointError, match=r"refusing to write step 4: non-finite model weights in \['w'\]"):
        save_checkpoint(tmp_path / "run", 4, model=weights, config={}, net_config={})
    with pytest.raises(FloatingPointError, match="non-finite ema weights"):
        save_checkpoint(tmp_path / "run", 4, model={"w": torch.ones(2)}, ema=weights, config={}, net_config={})
    assert latest_checkpoint(tmp_path / "run") is None


def test_unwritable_run_directory_is_found_before_the_first_step(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    tr, calls = _trainer(tmp_path, torch.randn(8, 4), ckpt_dir=str(blocker / "run"))
    with pytest.raises(OSError, match="checkpoint directory .*a-file/run.* is not writable") as e:
        tr.fit()
    assert e.value.errno in (errno.ENOTDIR, errno.EEXIST) and calls == []
    check_writable(tmp_path / "fine" / "run")  # creates and probes a good one
    assert (tmp_path / "fine" / "run").is_dir() and not list((tmp_path / "fine" / "run").iterdir())

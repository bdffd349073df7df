"""Fuzz of training: random configurations (in and out of range) and training data with huge,
infinite or NaN entries. Each example ends in a named error or in a run whose weights, and every
checkpoint it published, are finite."""
import math
import sys
import tempfile
from pathlib import Path

import torch
from hypothesis import example, given
from hypothesis import strategies as st
from safetensors.torch import load_file
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fuzz import FUZZ, outcome
from polydiff.core.training import TrainConfig, Trainer

FIELDS = {
    "lr": [1e-3, 10.0, 0.0, -1.0, math.inf, math.nan],
    "grad_clip": [None, 1.0, 0.0, -1.0, math.inf],
    "ema_decay": [0.9, 0.0, 1.0, 1.5, math.nan],
    "batch_size": [4, 1, 0, 2.5, 100],
    "steps": [3, 1, 0, -1, 2.0],
    "warmup_steps": [0, 2, -1, 1.5],
    "weight_decay": [0.0, 0.1, -0.1, math.inf],
}


def _loss(net, batch, generator):
    x = batch[:, :2]
    eps = torch.randn(x.shape, generator=generator)
    return ((net(x + eps) - eps) ** 2).mean()


@FUZZ
@given(field=st.sampled_from(sorted(FIELDS)), choice=st.integers(0, 5),
       poison=st.sampled_from([None, 1e30, 1e19, math.inf, math.nan]), rows=st.integers(1, 12))
@example(field="lr", choice=0, poison=1e30, rows=8)
def test_training_never_publishes_non_finite_weights(field, choice, poison, rows):
    values = FIELDS[field]
    value = values[choice % len(values)]
    data = torch.randn(rows, 2, generator=torch.Generator().manual_seed(rows))
    if poison is not None:
        data[rows // 2, 1] = poison
    net = nn.Linear(2, 2)
    with tempfile.TemporaryDirectory() as run:
        def fit():
            cfg = TrainConfig(**{"steps": 3, "batch_size": 4, "lr": 1e-3, "ckpt_dir": run, "ckpt_every": 1,
                                 "log_every": 1, field: value})
            return Trainer(cfg, net, _loss, data, net_config={"in": 2}).fit()

        _, err = outcome(fit)
        for ckpt in Path(run).glob("step_*/*.safetensors"):
            for name, tensor in load_file(str(ckpt)).items():
                if tensor.is_floating_point():
                    assert torch.isfinite(tensor).all(), f"{ckpt.parent.name}/{ckpt.name}:{name} published non-finite"
    assert all(torch.isfinite(p).all() for p in net.parameters())
    if poison is not None and not math.isfinite(poison) and rows <= 4 and field != "batch_size":
        assert err is not None, "a NaN/inf in the first batch reached a finished run"

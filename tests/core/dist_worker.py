"""Helper processes for tests/core/test_training_dist.py, test_training_crash.py and
test_training_preempt.py.

    python tests/core/dist_worker.py crash RUN_DIR        # trains with checkpoints (slow writes)
    python -m torch.distributed.run --nproc_per_node=2 tests/core/dist_worker.py ddp OUT_DIR
    python -m torch.distributed.run --nproc_per_node=2 tests/core/dist_worker.py preempt RUN_DIR

The builders (``make_net``, ``make_data``, losses, configs, ``sample_fn``) are imported by the
tests so that the single-process references are the very same runs.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import torch
from polydiff.core.training import TrainConfig, Trainer, sample_data_parallel
from polydiff.core.training.distributed import cleanup
from safetensors.torch import save_file
from torch import nn


def make_net(seed: int = 0, dropout: float = 0.0) -> nn.Module:
    torch.manual_seed(seed)
    layers = [nn.Linear(3, 16), nn.SiLU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers, nn.Linear(16, 3))


class EmbedNet(nn.Module):
    """A network with a method and an attribute that losses use outside its forward."""

    def __init__(self, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.inp = nn.Linear(3, 8)
        self.body = nn.Sequential(nn.SiLU(), nn.Linear(8, 3))
        self.scale = 0.5

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.inp(x)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.body(h)


def attribute_loss(net, batch, generator):
    """Like vision's ``net.null_class`` and text's ``net.embed_tokens(ids)``: a method and an
    attribute of the raw network read through the DDP wrapper; ``inp``'s gradient comes from
    outside DDP's forward and must still be averaged over the ranks."""
    x, y = batch[:, :3], batch[:, 3:]
    return ((net(net.embed(x)) * net.scale - y) ** 2).mean()


def make_data(n: int = 64) -> torch.Tensor:
    g = torch.Generator().manual_seed(123)
    x = torch.randn(n, 3, generator=g)
    return torch.cat([x, torch.sin(x) @ torch.tensor([[1.0, -0.5, 0.2]] * 3).T], dim=1)


def regression_loss(net, batch, generator):
    """Deterministic: fit y = f(x) (the generator is unused)."""
    x, y = batch[:, :3], batch[:, 3:]
    return ((net(x) - y) ** 2).mean()


def denoising_loss(net, batch, generator):
    """Denoising: predict the noise added to x (noise drawn from the step's generator)."""
    x = batch[:, :3]
    eps = torch.randn(x.shape, generator=generator, device=x.device)
    return ((net(x + 0.5 * eps) - eps) ** 2).mean()


def ddp_config(run_dir: str | None = None, grad_accum: int = 1) -> TrainConfig:
    return TrainConfig(
        steps=12,
        batch_size=16,
        lr=1e-2,
        warmup_steps=2,
        lr_schedule="cosine",
        grad_clip=0.5,
        grad_accum=grad_accum,
        ema_decay=0.9,
        log_every=1,
        ckpt_dir=run_dir,
        ckpt_every=6,
        keep_last=2,
        seed=7,
    )


def crash_config(run_dir: str) -> TrainConfig:
    return TrainConfig(
        steps=40,
        batch_size=8,
        lr=5e-3,
        ema_decay=0.95,
        log_every=1,
        ckpt_dir=run_dir,
        ckpt_every=2,
        keep_last=5,
        seed=3,
        grad_accum=2,
    )


def sample_fn(seeds: list[int]) -> torch.Tensor:
    """Per-sample seeded 'sampler': 5 Euler steps of a fixed tiny net from seeded noise."""
    net = make_net(seed=99)
    x = torch.stack([torch.randn(3, generator=torch.Generator().manual_seed(s)) for s in seeds])
    with torch.no_grad():
        for _ in range(5):
            x = x - 0.1 * net(x)
    return x


def _state(trainer: Trainer) -> dict[str, torch.Tensor]:
    out = {f"net.{k}": v for k, v in trainer.net.state_dict().items()}
    out.update({f"ema.{k}": v for k, v in trainer.ema.state_dict().items()})
    return {k: v.detach().cpu().contiguous() for k, v in out.items()}


def main_ddp(out: Path) -> None:
    torch.set_num_threads(1)
    runs = {
        "regression": (regression_loss, 1, str(out / "run")),
        "denoising": (denoising_loss, 1, None),
    }
    rank = 0
    for name, (loss_fn, accum, run_dir) in runs.items():
        # different init per rank: DDP must broadcast rank 0's weights
        rank = int(os.environ["RANK"])
        net = make_net(seed=0 if rank == 0 else 1000 + rank)
        trainer = Trainer(
            ddp_config(run_dir, accum), net, loss_fn, make_data(), net_config={"width": 16}
        )
        hist = trainer.fit()
        if rank == 0:
            save_file(_state(trainer), str(out / f"{name}.safetensors"))
            (out / f"{name}.json").write_text(json.dumps([h["loss"] for h in hist if "loss" in h]))
    net = EmbedNet(seed=0 if rank == 0 else 1000 + rank)
    trainer = Trainer(ddp_config(None), net, attribute_loss, make_data(), net_config={"width": 8})
    hist = trainer.fit()
    if rank == 0:
        save_file(_state(trainer), str(out / "attribute.safetensors"))
        (out / "attribute.json").write_text(json.dumps([h["loss"] for h in hist if "loss" in h]))
    # resume the regression run from its step-6 checkpoint, on both ranks
    cfg = ddp_config(str(out / "run2"))
    trainer = Trainer(
        cfg, make_net(seed=5 + rank), regression_loss, make_data(), net_config={"width": 16}
    )
    trainer.resume(out / "run" / "step_00000006")
    trainer.fit()
    if rank == 0:
        save_file(_state(trainer), str(out / "resumed.safetensors"))
    seeds = [11, 5, 3, 8, 1, 42, 7]
    batched = sample_data_parallel(sample_fn, len(seeds), seeds)
    single = sample_data_parallel(sample_fn, len(seeds), seeds, batch_size=1)
    lone = sample_data_parallel(sample_fn, 1, [42])  # rank 1 has no seed at all
    if rank == 0:
        save_file(
            {"batched": batched, "single": single, "lone": lone}, str(out / "samples.safetensors")
        )
    cleanup()


def main_crash(run_dir: Path) -> None:
    torch.set_num_threads(1)
    trainer = Trainer(
        crash_config(str(run_dir)),
        make_net(dropout=0.2),
        denoising_loss,
        make_data(),
        net_config={"width": 16},
    )
    trainer.fit()


def main_preempt(run_dir: Path) -> None:
    """Rank 1 alone gets SIGTERM during optimizer step 3 (of 12; checkpoints every 6): both
    ranks must save step 3 together and then end by the signal."""
    torch.set_num_threads(1)
    rank = int(os.environ["RANK"])
    trainer = None

    def loss(net, batch, generator):
        if rank == 1 and trainer.step == 2:
            signal.raise_signal(signal.SIGTERM)
        return regression_loss(net, batch, generator)

    trainer = Trainer(ddp_config(str(run_dir)), make_net(seed=0), loss, make_data(), net_config={"width": 16})
    trainer.fit()
    (run_dir / f"finished-rank{rank}").write_text("the signal did not end this rank")


if __name__ == "__main__":
    mode, path = sys.argv[1], Path(sys.argv[2])
    {"ddp": main_ddp, "crash": main_crash, "preempt": main_preempt}[mode](path)

"""Overhead of the training loop's extras on a small U-Net (CPU).

    python -m polydiff.bench.training_overhead --steps 40 --repeats 3

Three ways to run the same optimisation (AdamW, clipping, an eps-prediction denoising loss on
random 3x16x16 "images"), interleaved ``repeats`` times, median throughput reported:

* ``bare``: a hand-written loop (zero_grad, loss, backward, clip, step) — the floor;
* ``trainer``: :class:`Trainer` without EMA, logging or checkpoints;
* ``trainer+extras``: EMA, a log record every 10 steps, a checkpoint every ``ckpt_every``.

The loop's overhead is ``1 - samples_per_s(trainer+extras) / samples_per_s(bare)`` (from
CPU time and wall time), and directly: the seconds spent in the extras within a run over the
rest of that run.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
import time

import torch
from polydiff.core.training.config import TrainConfig
from polydiff.core.training.loop import Trainer
from torch import nn

__all__ = ["SmallUNet", "measure_overhead"]


class _Block(nn.Module):
    def __init__(self, c_in: int, c_out: int, t_dim: int):
        super().__init__()
        self.conv1, self.conv2 = (
            nn.Conv2d(c_in, c_out, 3, padding=1),
            nn.Conv2d(c_out, c_out, 3, padding=1),
        )
        self.norm1, self.norm2 = nn.GroupNorm(8, c_out), nn.GroupNorm(8, c_out)
        self.t = nn.Linear(t_dim, c_out)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x, temb):
        h = nn.functional.silu(self.norm1(self.conv1(x)))
        h = h + self.t(temb)[:, :, None, None]
        return self.skip(x) + nn.functional.silu(self.norm2(self.conv2(h)))


class SmallUNet(nn.Module):
    """Two-level U-Net (DDPM-style residual blocks with a time embedding), ~1.1M parameters at
    ``width=64``."""

    def __init__(self, channels: int = 3, width: int = 64):
        super().__init__()
        t_dim = 4 * width
        self.width = width
        self.t_mlp = nn.Sequential(nn.Linear(width, t_dim), nn.SiLU(), nn.Linear(t_dim, t_dim))
        self.inp = nn.Conv2d(channels, width, 3, padding=1)
        self.d1, self.d2 = _Block(width, width, t_dim), _Block(width, 2 * width, t_dim)
        self.mid = _Block(2 * width, 2 * width, t_dim)
        self.u2, self.u1 = _Block(4 * width, width, t_dim), _Block(2 * width, width, t_dim)
        self.out = nn.Conv2d(width, channels, 3, padding=1)

    def forward(self, x, t):
        half = self.width // 2
        freqs = torch.exp(-math.log(10_000) * torch.arange(half, device=x.device) / half)
        temb = self.t_mlp(
            torch.cat(
                [torch.sin(t[:, None] * 1000 * freqs), torch.cos(t[:, None] * 1000 * freqs)], dim=1
            )
        )
        h1 = self.d1(self.inp(x), temb)  # [B, w, H, W]
        h2 = self.d2(nn.functional.avg_pool2d(h1, 2), temb)  # [B, 2w, H/2, W/2]
        m = self.mid(nn.functional.avg_pool2d(h2, 2), temb)  # [B, 2w, H/4, W/4]
        u2 = self.u2(torch.cat([nn.functional.interpolate(m, scale_factor=2), h2], 1), temb)
        u1 = self.u1(torch.cat([nn.functional.interpolate(u2, scale_factor=2), h1], 1), temb)
        return self.out(u1)


def _loss(net, x0, g):
    """eps-prediction DSM on the cosine VP path (Ho et al. 2020, eq. 14)."""
    t = torch.rand(x0.shape[0], generator=g)
    eps = torch.randn(x0.shape, generator=g)
    a, s = (
        torch.cos(0.5 * math.pi * t)[:, None, None, None],
        torch.sin(0.5 * math.pi * t)[:, None, None, None],
    )
    return ((net(a * x0 + s * eps, t) - eps) ** 2).mean()


class _Clock:
    """Wall and CPU (``process_time``) seconds of a block; CPU time is far less sensitive to
    other processes sharing the cores."""

    def __enter__(self):
        self.w, self.c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.w, time.process_time() - self.c


def _bare(net, data, steps, batch, lr, clip) -> _Clock:
    opt = torch.optim.AdamW(net.parameters(), lr=lr)
    g = torch.Generator().manual_seed(0)
    with _Clock() as clock:
        for _ in range(steps):
            idx = torch.randint(0, data.shape[0], (batch,), generator=g)
            opt.zero_grad(set_to_none=True)
            _loss(net, data[idx], g).backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
            opt.step()
    return clock


def _timed(obj, name: str, acc: dict) -> None:
    """Replace ``obj.name`` by a wrapper adding its wall seconds to ``acc[name]``."""
    fn = getattr(obj, name)

    def wrapper(*a, **k):
        t = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            acc[name] = acc.get(name, 0.0) + time.perf_counter() - t

    setattr(obj, name, wrapper)


def _trainer(net, data, steps, batch, lr, clip, extras: bool, ckpt_every: int):
    parts: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as d:
        cfg = TrainConfig(
            steps=steps,
            batch_size=batch,
            lr=lr,
            grad_clip=clip,
            ema_decay=0.999 if extras else None,
            log_every=10 if extras else steps,
            ckpt_dir=d if extras else None,
            ckpt_every=ckpt_every,
            keep_last=2,
        )
        trainer = Trainer(cfg, net, _loss, data, net_config={"width": net.width})
        if extras:  # time the extras inside this very run
            _timed(trainer._ema, "update", parts)
            _timed(trainer, "_log", parts)
            _timed(trainer, "save", parts)
        with _Clock() as clock:
            trainer.fit()
    return clock, parts


def measure_overhead(
    steps: int = 40,
    batch: int = 16,
    repeats: int = 3,
    width: int = 64,
    size: int = 16,
    ckpt_every: int = 20,
    threads: int = 1,
) -> dict:
    """Throughput of the three variants (median over ``repeats``) and the extras' overhead.

    Three estimates of the overhead of EMA + logging + checkpoints: from CPU time and from
    wall time of whole runs (``1 - throughput(trainer+extras) / throughput(bare)``), and
    ``in_run``: the wall seconds spent inside the EMA update, the log call and ``save``
    divided by the rest of the same run (insensitive to run-to-run load changes).
    """
    torch.set_num_threads(threads)
    data = torch.randn(512, 3, size, size, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(0)
    n_params = sum(p.numel() for p in SmallUNet(width=width).parameters())
    names = ("bare", "trainer", "trainer+extras")
    wall: dict[str, list[float]] = {k: [] for k in names}
    cpu: dict[str, list[float]] = {k: [] for k in names}
    in_run: list[float] = []
    parts_all: list[dict] = []
    _bare(SmallUNet(width=width), data, 3, batch, 1e-4, 1.0)  # warm-up (allocator, kernels)
    for _ in range(repeats):
        for name in names:
            net = SmallUNet(width=width)
            if name == "bare":
                clock, parts = _bare(net, data, steps, batch, 1e-4, 1.0), {}
            else:
                clock, parts = _trainer(
                    net, data, steps, batch, 1e-4, 1.0, name != "trainer", ckpt_every
                )
            wall[name].append(steps * batch / clock.wall)
            cpu[name].append(steps * batch / clock.cpu)
            if parts:
                extra = sum(parts.values())
                in_run.append(100 * extra / (clock.wall - extra))
                parts_all.append({k: round(v, 4) for k, v in parts.items()})
    med_w = {k: statistics.median(v) for k, v in wall.items()}
    med_c = {k: statistics.median(v) for k, v in cpu.items()}
    return {
        "params": n_params,
        "steps": steps,
        "batch": batch,
        "image": [3, size, size],
        "ckpt_every": ckpt_every,
        "threads": threads,
        "samples_per_s_wall": med_w,
        "samples_per_s_cpu": med_c,
        "runs_wall": wall,
        "extras_seconds": parts_all,
        "overhead_trainer_pct_cpu": 100 * (1 - med_c["trainer"] / med_c["bare"]),
        "overhead_extras_pct_cpu": 100 * (1 - med_c["trainer+extras"] / med_c["bare"]),
        "overhead_extras_pct_wall": 100 * (1 - med_w["trainer+extras"] / med_w["bare"]),
        "overhead_extras_pct_in_run": statistics.median(in_run),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--size", type=int, default=16)
    p.add_argument("--ckpt-every", type=int, default=20)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    print(
        json.dumps(
            measure_overhead(a.steps, a.batch, a.repeats, a.width, a.size, a.ckpt_every, a.threads),
            indent=1,
        )
    )


if __name__ == "__main__":
    main()

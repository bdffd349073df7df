"""GPU sampling-loop benchmark (issue 5): per-step overhead and small-U-Net wall time,
eager vs whole-loop CUDA graph vs diffusers' DPMSolverMultistepScheduler, on one device.

    python -m polydiff.bench.gpu_overhead --device cuda --out bench/results/gpu_overhead.json

Runs on CPU too (the graph column then records why capture was not possible).
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path

import polydiff.core as pc
import torch


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def _time(fn, device, repeats: int) -> float:
    fn()
    _sync(device)
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return best


class TinyUNet(torch.nn.Module):
    """A small conv U-Net (2 levels) standing in for a real denoiser."""

    def __init__(self, c: int = 4, w: int = 64):
        super().__init__()
        self.inp = torch.nn.Conv2d(c, w, 3, padding=1)
        self.down = torch.nn.Conv2d(w, 2 * w, 3, stride=2, padding=1)
        self.mid = torch.nn.Conv2d(2 * w, 2 * w, 3, padding=1)
        self.up = torch.nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1)
        self.out = torch.nn.Conv2d(2 * w, c, 3, padding=1)
        self.temb = torch.nn.Linear(1, 2 * w)

    def forward(self, x, t):
        h = torch.nn.functional.silu(self.inp(x))
        d = torch.nn.functional.silu(self.down(h) + self.temb(t[:, None].float() / 1000)[:, :, None, None])
        u = self.up(torch.nn.functional.silu(self.mid(d)))
        return self.out(torch.cat([h, u], 1))


def run(device: str = "cuda", steps: int = 50, repeats: int = 10) -> dict:
    import diffusers

    dev = torch.device(device)
    proc = pc.DiscreteVP.from_diffusers({"beta_schedule": "linear", "timestep_spacing": "trailing"})
    rows = []
    cases = [("zero-cost tiny [1,2]", (1, 2), None), ("zero-cost large [16,4,64,64]", (16, 4, 64, 64), None),
             ("small U-Net [16,4,32,32]", (16, 4, 32, 32), TinyUNet().to(dev))]
    for label, shape, net in cases:
        x = torch.randn(shape, device=dev)
        zero = torch.zeros(shape, device=dev)
        model = (lambda x, t: zero) if net is None else (lambda x, t: net(x, t))
        with torch.no_grad():
            eager = _time(lambda: pc.sample(model, proc, x, steps=steps, solver="dpmpp_2m"), dev, repeats)
            gs = pc.GraphSampler(model, proc, shape, steps=steps, solver="dpmpp_2m", device=dev)
            graph = _time(lambda: gs(x), dev, repeats) if gs.captured else None

            def peer():
                s = diffusers.DPMSolverMultistepScheduler(beta_schedule="linear", timestep_spacing="trailing")
                s.set_timesteps(steps)
                lat = x
                for t in s.timesteps:
                    lat = s.step(model(s.scale_model_input(lat, t), t.to(dev).expand(shape[0])), t, lat).prev_sample

            theirs = _time(peer, dev, repeats)
            buf = torch.empty(shape, device=dev)
            one_pass = _time(lambda: torch.mul(x, 1.0001, out=buf), dev, repeats * 10)
        rows.append({"case": label, "us_per_step_eager": 1e6 * eager / steps,
                     "us_per_step_graph": None if graph is None else 1e6 * graph / steps,
                     "graph_reason": gs.reason, "us_per_step_diffusers": 1e6 * theirs / steps,
                     "us_one_elementwise_pass": 1e6 * one_pass})
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor() or "cpu"
    return {"device": name, "torch": torch.__version__, "steps": steps, "rows": rows}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args(argv)
    res = run(a.device, a.steps, a.repeats)
    text = json.dumps(res, indent=2)
    print(text)
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

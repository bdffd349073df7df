"""Photo SR (#27): predict-and-refine (Whang et al. 2022) on the validation photographs.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/vision_sr_photo_refine.py --out DIR \
        --predictor-steps 2000 --steps 3000 --eval-every 1000 > OUT.jsonl

``vision_sr_photo_data.py`` found the bench's residual SR3 (diffusion of ``hr - bicubic``)
about 1 dB below its own U-Net trained as a residual regression (validation photographs, mean
of 8 samples 26.33 vs 27.29 dB). Predict-and-refine diffuses the residual over a regression
network's output instead of over bicubic, so the posterior mean starts from the regression
estimate:

1. the predictor ``P``: the regression of ``vision_sr_photo_regression.py`` (base-16 U-Net,
   ``c + P(c)`` with ``c`` = bicubic in model range), ``--predictor-steps`` steps, saved to
   ``DIR/predictor.safetensors`` (read back when present);
2. the refiner: the same U-Net conditioned on ``base = c + P(c)``, x0-prediction of
   ``hr - base`` (model range), DDPM noise schedule of the bench, batch 16, lr 1e-3, EMA 0.999.

Scored every ``--eval-every`` refiner steps on the 48 validation patches (china, flower): the
predictor alone, one DDIM-25 sample and the mean of 8, beside bicubic. Prints JSON lines.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import polydiff.core as pc
import torch
from polydiff.core.losses import dsm_loss
from polydiff.core.training import EMA
from polydiff.vision import metrics, superres
from polydiff.vision._common import default_process, prior
from polydiff.vision.data import from_model_range, photo_patches, to_model_range
from polydiff.vision.train import build_net
from safetensors.torch import load_file, save_file
from vision_sr_photo_data import dihedral, validation_patches
from vision_sr_photo_regression import upsample

NET = {"base": 16, "mults": (1, 2, 2), "attention_levels": (2,)}


def train_predictor(x_tr, steps: int, path: Path, emit):
    net = build_net("superres-regression", **NET)
    if path.exists():
        net.load_state_dict(load_file(path))
        return net.eval()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    for _ in range(steps):
        x = x_tr[torch.randint(0, len(x_tr), (16,), generator=g)]
        loss = ((upsample(net, superres.downsample(x, 4)) - to_model_range(x)) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    emit(predictor_steps=steps, predictor_seconds=time.perf_counter() - t0)
    return net.eval()


@torch.no_grad()
def refine(refiner, process, base: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """Mean of ``k`` DDIM-25 samples of ``base + r`` (model range in, [0, 1] out)."""
    reps = base.repeat_interleave(k, dim=0)
    x_T = prior(process, reps.shape, generator)
    clip = pc.clip()
    r = pc.sample(refiner, process, x_T, prediction="x0", cond={"x_cond": reps},
                  project_x0=lambda r, t: clip(reps + r, t) - reps, steps=25, solver="ddim", generator=generator)
    out = from_model_range(reps + r).clamp(0, 1)
    return out.reshape(len(base), k, *out.shape[1:]).mean(1)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--predictor-steps", type=int, default=2000)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--eval-every", type=int, default=1000)
    p.add_argument("--k", type=int, default=8)
    a = p.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    torch.manual_seed(0)

    def emit(**rec):
        print(json.dumps(rec), flush=True)

    x_tr = dihedral(photo_patches("train", 64, per_image=2048, seed=0, min_std=0.05), seed=0)
    hr = validation_patches()
    lr = superres.downsample(hr, 4)
    emit(method="bicubic", psnr=metrics.psnr(superres.bicubic(lr, 4), hr))
    predictor = train_predictor(x_tr, a.predictor_steps, a.out / "predictor.safetensors", emit)
    for q in predictor.parameters():
        q.requires_grad_(False)
    with torch.no_grad():
        val_base = upsample(predictor, lr)
    emit(method="predictor", psnr=metrics.psnr(from_model_range(val_base).clamp(0, 1), hr))

    process = default_process()
    refiner = build_net("superres-regression", **NET)  # cond_channels = 1; x0 of hr - base
    ema = EMA(refiner, 0.999, warmup="none")
    opt = torch.optim.Adam(refiner.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(1)
    t0 = time.perf_counter()
    for step in range(1, a.steps + 1):
        x = x_tr[torch.randint(0, len(x_tr), (16,), generator=g)]
        with torch.no_grad():
            base = upsample(predictor, superres.downsample(x, 4))
        loss = dsm_loss(refiner, process, to_model_range(x) - base, prediction="x0", cond={"x_cond": base},
                        generator=g).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        ema.update(refiner)
        if step % a.eval_every == 0:
            for k in (1, a.k):
                out = refine(ema.module, process, val_base, k, torch.Generator().manual_seed(3))
                emit(step=step, method=f"refine-ddim-25-mean{k}", psnr=metrics.psnr(out, hr),
                     ssim=metrics.ssim(out, hr), seconds=time.perf_counter() - t0)


if __name__ == "__main__":
    main()

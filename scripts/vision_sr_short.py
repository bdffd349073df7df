"""Short-budget SR3 check on MNIST: v- vs eps-prediction, learning curve, k-sample mean.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/vision_sr_short.py --size 16 --factor 4 --steps 400 \
        --predictions v eps --out /tmp/sr16

Same network and data as the vision bench's quick config (16 px MNIST: 28 px padded to 32 and
2x2 box-filtered; base-16 U-Net, levels x1/x2, attention at level 1; 12k training images,
batch 64, lr 1e-3); ``--size 28`` uses the full config's network (levels x1/x2/x2, attention
at level 2). Every ``--eval-every`` steps: PSNR/SSIM of one DDIM sample per test image
(the EMA network); at the end: DDIM/DDPM single samples, the consistency projection and the
mean of k samples, each beside bicubic on the same 100 test images. Prints JSON lines.

``--dataset photos --size 32`` (or 64): grey natural-photo patches as in the bench's photo SR
(train and test patches from disjoint photographs, ``min_std=0.05``), the full config's network,
batch 16; ``--residual`` diffuses ``hr - bicubic(lr)``.
"""
from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn.functional as F
from polydiff.vision import metrics, superres
from polydiff.vision._common import default_process
from polydiff.vision.data import load_mnist
from polydiff.vision.train import train

NETS = {16: {"base": 16, "mults": (1, 2), "attention_levels": (1,)},
        28: {"base": 16, "mults": (1, 2, 2), "attention_levels": (2,)},
        32: {"base": 16, "mults": (1, 2, 2), "attention_levels": (2,)},
        64: {"base": 16, "mults": (1, 2, 2), "attention_levels": (2,)}}


def mnist(split: str, size: int, limit: int | None = None):
    x, y = load_mnist(split)
    x, y = x[:limit], y[:limit]
    if size == 16:
        x = F.avg_pool2d(F.pad(x, (2, 2, 2, 2)), 2)
    return x.contiguous(), y


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", choices=("mnist", "photos"), default="mnist")
    p.add_argument("--size", type=int, choices=(16, 28, 32, 64), default=16)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--per-image", type=int, default=128)
    p.add_argument("--factor", type=int, default=4)
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--predictions", nargs="+", default=["v", "eps"])
    p.add_argument("--residual", action="store_true")
    p.add_argument("--residual-scale", type=float, default=1.0)
    p.add_argument("--sample-steps", type=int, default=20)
    p.add_argument("--k", type=int, default=8)
    p.add_argument("--n-train", type=int, default=12000)
    p.add_argument("--out", default=None)
    a = p.parse_args()
    torch.set_num_threads(1)
    if a.dataset == "mnist":
        x_tr, y_tr = mnist("train", a.size, a.n_train)
        hr = mnist("test", a.size)[0][2000:2100]
    else:
        from polydiff.vision.data import photo_patches
        x_tr = photo_patches("train", a.size, per_image=a.per_image, seed=0, min_std=0.05)
        y_tr = torch.zeros(len(x_tr), dtype=torch.long)
        hr = photo_patches("test", a.size, per_image=8, seed=1, min_std=0.05)
    lr = superres.downsample(hr, a.factor)
    bic = superres.bicubic(lr, a.factor)
    S = a.sample_steps

    def emit(**rec):
        print(json.dumps(rec), flush=True)

    emit(method="bicubic", psnr=metrics.psnr(bic, hr), ssim=metrics.ssim(bic, hr), nfe=0)
    process = default_process()
    for pred in a.predictions:
        def curve(net, step, pred=pred):
            out = superres.super_resolve(net, process, lr, a.factor, steps=S, solver="ddim",
                                         generator=torch.Generator().manual_seed(3))
            emit(prediction=pred, step=step, method=f"sr3-ddim-{S}", psnr=metrics.psnr(out, hr),
                 ssim=metrics.ssim(out, hr), nfe=S)
        t0 = time.perf_counter()
        net_kw = {**NETS[a.size], "prediction": pred, "residual": a.residual,
                  **({"residual_scale": a.residual_scale} if a.residual else {})}
        net, proc = train("superres", x_tr, y_tr, steps=a.steps, batch_size=a.batch, lr=1e-3, net_kwargs=net_kw,
                          factor=a.factor, seed=0, log_every=100, eval_fn=curve, eval_every=a.eval_every,
                          out_dir=None if a.out is None else f"{a.out}/{pred}{'-res' if a.residual else ''}")
        emit(prediction=pred, train_seconds=time.perf_counter() - t0)
        rows = {  # method -> (super_resolve_mean's k, super_resolve keyword arguments); k = 1: one sample
            f"sr3-ddim-{S}": (1, {}),
            f"sr3-ddpm-{S}": (1, {"solver": "ddpm"}),
            f"sr3+consistency-ddim-{S}": (1, {"consistent": True}),
            f"sr3-mean{a.k}-ddim-{S}": (a.k, {}),
            f"sr3+consistency-mean{a.k}-ddim-{S}": (a.k, {"consistent": True}),
        }
        for method, (k, kw) in rows.items():
            out = superres.super_resolve_mean(net, proc, lr, a.factor, k, steps=S,
                                              generator=torch.Generator().manual_seed(3), **kw)
            nfe = S * k
            emit(prediction=pred, step=a.steps, method=method, psnr=metrics.psnr(out, hr),
                 ssim=metrics.ssim(out, hr), nfe=nfe)


if __name__ == "__main__":
    main()

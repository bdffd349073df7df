"""#27 photo SR ablation: is the residual SR3's posterior-mean estimate better than a zero residual?

    OMP_NUM_THREADS=1 python scripts/vision_sr_photo_ablation.py VARIANT STEPS

VARIANT is ``x0-SCALE`` (the bench's residual x0-model with ``residual_scale`` SCALE; the bench
uses 1) or ``regression`` (the same U-Net regressing the high-resolution image from bicubic,
:func:`polydiff.vision.superres.regression_loss`). Same data, network, batch and learning rate
as the vision bench's photo SR (64 px grey patches, x4, batch 16, lr 1e-3). Scored on the 48 test
patches (disjoint photographs) and on 48 new patches of the *training* photographs (seed 7),
which separates under-training from the shift between the two sets of photographs. ``ddim-1``
is one DDIM step from t = T: bicubic + the network's x0 estimate from pure noise, i.e. its
regression estimate of the residual; ``ddim-25`` is one posterior sample. Prints JSON lines.
"""
import json
import sys
import time

import torch
from polydiff.vision import metrics, superres
from polydiff.vision.data import photo_patches
from polydiff.vision.train import train

torch.set_num_threads(1)
variant, steps = sys.argv[1], int(sys.argv[2])
NET = {"base": 16, "mults": (1, 2, 2), "attention_levels": (2,)}
x_tr = photo_patches("train", 64, per_image=128, seed=0, min_std=0.05)
y = torch.zeros(len(x_tr), dtype=torch.long)
hr = {"test": photo_patches("test", 64, per_image=8, seed=1, min_std=0.05),
      "trainphotos": photo_patches("train", 64, per_image=4, seed=7, min_std=0.05)}
f = 4
def emit(**r): print(json.dumps(r), flush=True)
for split, h in hr.items():
    lo = superres.downsample(h, f)
    emit(variant="bicubic", split=split, psnr=metrics.psnr(superres.bicubic(lo, f), h))
def evaluate(net, proc, step):
    for split, h in hr.items():
        lo = superres.downsample(h, f)
        if variant == "regression":
            emit(variant=variant, step=step, split=split, method="regression",
                 psnr=metrics.psnr(superres.regression_upsample(net, lo, f), h)); continue
        for S, solver in ((1, "ddim"), (25, "ddim")):
            out = superres.super_resolve(net, proc, lo, f, steps=S, solver=solver, generator=torch.Generator().manual_seed(3))
            emit(variant=variant, step=step, split=split, method=f"{solver}-{S}", psnr=metrics.psnr(out, h))
t0 = time.time()
if variant == "regression":
    net, proc = train("superres-regression", x_tr, y, steps=steps, batch_size=16, lr=1e-3, net_kwargs=dict(NET), factor=f, seed=0, log_every=100)
else:
    pred, scale = variant.split("-")
    net, proc = train("superres", x_tr, y, steps=steps, batch_size=16, lr=1e-3, factor=f, seed=0, log_every=100,
                      net_kwargs={**NET, "residual": True, "prediction": pred, "residual_scale": float(scale)})
emit(variant=variant, train_s=time.time() - t0)
evaluate(net, proc, steps)

"""Photo SR (#27) on validation photographs: does the training data, not the step budget, limit it?

    OMP_NUM_THREADS=1 .venv/bin/python scripts/vision_sr_photo_data.py VARIANT --steps 3000 \
        --eval-every 1000 > OUT.jsonl       # VARIANT in fixed, fresh

The bench's photo SR (64-px grey patches, x4, residual over bicubic, x0-prediction, the full
config's U-Net, batch 16, lr 1e-3) trained on ``PHOTO_TRAIN`` and scored on the two photographs
of ``sklearn.datasets.load_sample_images()`` (china, flower: in neither the bench's training nor
its test photographs), 24 patches each, so the bench's test patches are not looked at:

* ``fixed``: the bench's data, 128 fixed patches per training photograph (1,536 in all);
* ``fresh``: 2,048 patches per photograph (24,576), each under a random flip/rotation (the
  eight symmetries of the square), the usual SR augmentation.

Every ``--eval-every`` steps: one DDIM-25 sample (EMA network) per validation patch; at the end
also the mean of 8 samples; bicubic beside them on the same patches. Prints JSON lines.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from polydiff.vision import metrics, superres
from polydiff.vision.data import photo_patches, random_patches
from polydiff.vision.train import train

NET = {"base": 16, "mults": (1, 2, 2), "attention_levels": (2,), "residual": True, "prediction": "x0"}


def validation_patches(size: int = 64, per_image: int = 24, seed: int = 5, min_std: float = 0.05) -> torch.Tensor:
    """Grey ``size``-px patches of sklearn's two sample photographs (china, flower)."""
    from skimage.color import rgb2gray
    from sklearn.datasets import load_sample_images
    grey = [rgb2gray(img / 255.0).astype(np.float32) for img in load_sample_images().images]
    return random_patches(grey, size, per_image, seed=seed, min_std=min_std)


def dihedral(x: torch.Tensor, seed: int) -> torch.Tensor:
    """Each image under one of the square's eight symmetries, drawn at random."""
    g = torch.Generator().manual_seed(seed)
    k = torch.randint(0, 4, (len(x),), generator=g)
    flip = torch.randint(0, 2, (len(x),), generator=g).bool()
    out = torch.empty_like(x)
    for i in range(len(x)):
        y = torch.rot90(x[i], int(k[i]), dims=(-2, -1))
        out[i] = y.flip(-1) if flip[i] else y
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("variant", choices=("fixed", "fresh"))
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--eval-every", type=int, default=1000)
    p.add_argument("--k", type=int, default=8)
    a = p.parse_args()
    torch.set_num_threads(1)
    if a.variant == "fixed":
        x_tr = photo_patches("train", 64, per_image=128, seed=0, min_std=0.05)
    else:
        x_tr = dihedral(photo_patches("train", 64, per_image=2048, seed=0, min_std=0.05), seed=0)
    hr = validation_patches()
    lr = superres.downsample(hr, 4)

    def emit(**rec):
        print(json.dumps({"variant": a.variant, **rec}), flush=True)

    bic = superres.bicubic(lr, 4)
    emit(method="bicubic", psnr=metrics.psnr(bic, hr), ssim=metrics.ssim(bic, hr), n=len(hr), n_train=len(x_tr))

    def curve(net, step):
        out = superres.super_resolve(net, proc_box[0], lr, 4, steps=25, solver="ddim",
                                     generator=torch.Generator().manual_seed(3))
        emit(step=step, method="sr3-ddim-25", psnr=metrics.psnr(out, hr), ssim=metrics.ssim(out, hr))

    from polydiff.vision._common import default_process
    proc_box = [default_process()]
    t0 = time.perf_counter()
    net, proc = train("superres", x_tr, torch.zeros(len(x_tr), dtype=torch.long), steps=a.steps, batch_size=16,
                      lr=1e-3, net_kwargs=NET, factor=4, seed=0, log_every=500, eval_fn=curve,
                      eval_every=a.eval_every)
    emit(train_seconds=time.perf_counter() - t0)
    out = superres.super_resolve_mean(net, proc, lr, 4, a.k, steps=25, solver="ddim",
                                      generator=torch.Generator().manual_seed(3))
    emit(step=a.steps, method=f"sr3-mean{a.k}-ddim-25", psnr=metrics.psnr(out, hr), ssim=metrics.ssim(out, hr))


if __name__ == "__main__":
    main()

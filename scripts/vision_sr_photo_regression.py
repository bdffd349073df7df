"""Photo SR (#27): the MMSE ceiling of the bench's U-Net, as a residual regression.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/vision_sr_photo_regression.py BASE STEPS > OUT.jsonl

The photo SR U-Net (x1/x2/x2, attention at level 2, width ``BASE``) trained to regress
``hr - bicubic(lr)`` (VDSR-style residual learning; t fixed to 0, MSE, Adam lr 1e-3, batch 16)
on the ``fresh`` training patches of ``vision_sr_photo_data.py``, scored every 250 steps on
its validation photographs (china, flower) beside bicubic. Prints JSON lines.
"""
import json
import sys
import time

import torch
from polydiff.vision import metrics, superres
from polydiff.vision.data import from_model_range, photo_patches, to_model_range
from polydiff.vision.train import build_net
from vision_sr_photo_data import dihedral, validation_patches


def upsample(net, lowres):
    """bicubic + the network's residual, in model range."""
    c = to_model_range(superres.bicubic(lowres, 4))
    return c + net(c, torch.zeros(len(c)), x_cond=c)


def main() -> None:
    base, steps = int(sys.argv[1]), int(sys.argv[2])
    torch.set_num_threads(1)
    torch.manual_seed(0)
    x_tr = dihedral(photo_patches("train", 64, per_image=2048, seed=0, min_std=0.05), seed=0)
    hr = validation_patches()
    lr = superres.downsample(hr, 4)
    net = build_net("superres-regression", base=base, mults=(1, 2, 2), attention_levels=(2,))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def emit(**rec):
        print(json.dumps({"base": base, **rec}), flush=True)

    emit(method="bicubic", psnr=metrics.psnr(superres.bicubic(lr, 4), hr))
    g = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    for step in range(1, steps + 1):
        x = x_tr[torch.randint(0, len(x_tr), (16,), generator=g)]
        net.train()
        loss = ((upsample(net, superres.downsample(x, 4)) - to_model_range(x)) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 250 == 0:
            net.eval()
            with torch.no_grad():
                out = from_model_range(upsample(net, lr)).clamp(0, 1)
            emit(step=step, method="residual-regression", psnr=metrics.psnr(out, hr), loss=float(loss),
                 s=time.perf_counter() - t0)


if __name__ == "__main__":
    main()

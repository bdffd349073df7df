"""#27 segmentation budgets chosen on validation images only (the test tiles/slices untouched).

    OMP_NUM_THREADS=1 python scripts/vision_segment_validation.py STEPS EVAL_EVERY [nuclei|mni152]

The training half of the bench's segmentation data is split in two: the labelled images (2, 5,
10, as the bench picks them) come from its even images, mIoU is scored on its odd ones.
``STEPS > 0``: one unconditional DDPM (the bench's network, batch 16, lr 1e-3) trained on all
training images (no labels), the pixel-MLP ensemble (bench settings: t = 50/150/250, 5 members,
6 epochs) fitted on its EMA features every EVAL_EVERY steps. ``STEPS = 0``: the from-scratch
U-Net baseline at 150 / 300 / 600 / 1,200 steps. Prints JSON lines.
"""
import json
import sys
import time

import torch
from polydiff.vision import metrics, segment
from polydiff.vision.data import nuclei_tiles
from polydiff.vision.train import train

torch.set_num_threads(1)
steps, every = int(sys.argv[1]), int(sys.argv[2])
dataset = sys.argv[3] if len(sys.argv) > 3 else "nuclei"
NET = {"base": 16, "mults": (1, 2, 2), "attention_levels": (2,)}
if dataset == "nuclei":
    x_tr, y_tr = nuclei_tiles("train", 64)
    K = 2
else:
    from polydiff.vision.data import load_mni152_slices
    x, y = load_mni152_slices(64)
    x_tr, y_tr = x[0::2], y[0::2]
    K = 3
xa, ya, xv, yv = x_tr[0::2], y_tr[0::2], x_tr[1::2], y_tr[1::2]
def emit(**r): print(json.dumps(r), flush=True)
LAB = (2, 5, 10)
def picks(k): return torch.linspace(0, len(xa) - 1, k).round().long()
if steps == 0:  # baseline U-Net steps
    for bs in (150, 300, 600, 1200):
        for k in LAB:
            p = picks(k)
            net = segment.train_unet_segmenter(xa[p], ya[p], K, steps=bs, base=16, mults=(1, 2, 2))
            with torch.no_grad():
                pr = net(xv).argmax(1)
            emit(dataset=dataset, method="unet-from-scratch", steps=bs, k=k, miou=metrics.miou(pr, yv, K))
    sys.exit()
def ev(net, step):
    ext = segment.FeatureExtractor(net, proc_holder[0], timesteps=(50, 150, 250))
    for k in LAB:
        p = picks(k)
        seg = segment.train_segmenter(ext, xa[p], ya[p], K, n_models=5, pixels_per_image=4096, epochs=6)
        emit(dataset=dataset, method="pixel-mlp", denoiser_steps=step, k=k, miou=metrics.miou(seg.predict(xv), yv, K))
from polydiff.vision._common import default_process

proc_holder = [default_process()]
t0 = time.time()
net, proc = train("segment", x_tr, torch.zeros(len(x_tr), dtype=torch.long), steps=steps, batch_size=16, lr=1e-3,
                  net_kwargs=dict(NET), seed=0, log_every=100, eval_fn=ev, eval_every=every)
emit(train_s=time.time() - t0)

"""#27 segmentation: which noise levels the pixel MLPs read, chosen on validation images only.

    OMP_NUM_THREADS=1 python scripts/vision_segment_timesteps.py mni152|nuclei > rows.jsonl

Baranchuk et al. read a 256-px ADM at t = 50/150/250 of 1000; the bench's 64-px U-Net is far
smaller and trained far shorter, so lower noise may keep more of the boundaries. Same split as
scripts/vision_segment_validation.py (the training half of the bench's data: labelled images
2/5/10 from its even images, mIoU on its odd ones; the test images untouched); the DDPM at the
bench's budget for the dataset (MNI152 250 steps, nuclei 1,750), the ensemble as the bench fits
it (5 members, 6 epochs). Rule fixed before the run: per dataset the set with the highest mean
mIoU over 2/5/10 labels; the bench's (50, 150, 250) stays unless another beats it by more
than 0.005. Prints JSON lines.
"""
import json
import sys
import time

import torch
from polydiff.vision import metrics, segment
from polydiff.vision._common import default_process
from polydiff.vision.train import train

torch.set_num_threads(1)
dataset = sys.argv[1]
NET = {"base": 16, "mults": (1, 2, 2), "attention_levels": (2,)}
SETS = ((50, 150, 250), (10, 50, 150), (25, 50, 100), (5, 25, 50))
if dataset == "nuclei":
    from polydiff.vision.data import nuclei_tiles

    x_tr, y_tr = nuclei_tiles("train", 64)
    K, steps = 2, 1750
else:
    from polydiff.vision.data import load_mni152_slices

    x, y = load_mni152_slices(64)
    x_tr, y_tr = x[0::2], y[0::2]
    K, steps = 3, 250
xa, ya, xv, yv = x_tr[0::2], y_tr[0::2], x_tr[1::2], y_tr[1::2]


def emit(**r):
    print(json.dumps(r), flush=True)


t0 = time.time()
net, _ = train("segment", x_tr, torch.zeros(len(x_tr), dtype=torch.long), steps=steps, batch_size=16, lr=1e-3,
               net_kwargs=dict(NET), seed=0, log_every=100)
emit(dataset=dataset, denoiser_steps=steps, train_s=time.time() - t0)
proc = default_process()
means = {}
for ts in SETS:
    ext = segment.FeatureExtractor(net, proc, timesteps=ts)
    scores = []
    for k in (2, 5, 10):
        p = torch.linspace(0, len(xa) - 1, k).round().long()
        seg = segment.train_segmenter(ext, xa[p], ya[p], K, n_models=5, pixels_per_image=4096, epochs=6)
        scores.append(metrics.miou(seg.predict(xv), yv, K))
        emit(dataset=dataset, timesteps=ts, k=k, miou=scores[-1])
    means[ts] = sum(scores) / len(scores)
    emit(dataset=dataset, timesteps=ts, mean_miou=means[ts])
best = max(means, key=means.get)
chosen = best if means[best] > means[SETS[0]] + 0.005 else SETS[0]
emit(dataset=dataset, chosen=chosen, means={str(k): v for k, v in means.items()})

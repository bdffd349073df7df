"""#27 segmentation: the denoiser fine-tuned, alone and averaged with the pixel MLPs, on validation images only.

    OMP_NUM_THREADS=1 python scripts/vision_segment_finetune_validation.py LR STEPS [nuclei|mni152] CACHE_RUN

The bench's segmentation data (scripts/vision_segment_validation.py's split: the labelled 2/5/10 images from the even
training images as the bench picks them, mIoU on the odd ones; the test images untouched). CACHE_RUN: the bench's
cached unconditional DDPM of that dataset (``OUT/vision/cache/segment-ddpm-<dataset>-<key>``, trained on the
training images without labels). For each labelled count: the pixel-MLP ensemble at the bench's settings, the DDPM's
U-Net fine-tuned (``segment.train_unet_segmenter(init=)``, LR, STEPS), and the mean of their class probabilities.
Prints JSON lines.
"""
import json
import sys

import torch
from polydiff.vision import metrics, segment
from polydiff.vision.data import load_mni152_slices, nuclei_tiles
from polydiff.vision.train import load_trained

torch.set_num_threads(1)
lr, steps, dataset, run = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
if dataset == "nuclei":
    x_tr, y_tr = nuclei_tiles("train", 64)
    K, timesteps = 2, (10, 50, 150)
else:
    x, y = load_mni152_slices(64)
    x_tr, y_tr = x[0::2], y[0::2]
    K, timesteps = 3, (5, 25, 50)
xa, ya, xv, yv = x_tr[0::2], y_tr[0::2], x_tr[1::2], y_tr[1::2]
ddpm, proc, _ = load_trained(run, device="cpu")
ext = segment.FeatureExtractor(ddpm, proc, timesteps=timesteps)
for k in (2, 5, 10):
    p = torch.linspace(0, len(xa) - 1, k).round().long()
    mlp = segment.train_segmenter(ext, xa[p], ya[p], K, n_models=5, pixels_per_image=4096, epochs=6).predict_proba(xv)
    net = segment.train_unet_segmenter(xa[p], ya[p], K, steps=steps, lr=lr, init=ddpm)
    with torch.no_grad():
        ft = torch.cat([net(xv[i:i + 64]).softmax(1) for i in range(0, len(xv), 64)])
    for method, proba in (("pixel-mlp", mlp), ("finetuned", ft), ("pixel-mlp+finetuned", (mlp + ft) / 2)):
        print(json.dumps({"dataset": dataset, "n_val": len(xv), "k": k, "method": method, "lr": lr, "steps": steps,
                          "miou": metrics.miou(proba.argmax(1), yv, K)}), flush=True)

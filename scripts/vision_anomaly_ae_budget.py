"""#27: is the Fashion-MNIST autoencoder baseline held back by its 400 training steps? Validation only.

    OMP_NUM_THREADS=1 python scripts/vision_anomaly_ae_budget.py 0,2,4,6,8

For each normal class: the bench's conv autoencoder (batch 64) trains on that class's images among
the first 50,000 training images for 400 / 1,600 / 6,400 steps; AUROC on 200 normal + 200 other
images from training images 50,000-60,000 (the test set untouched), beside the template baseline.
Prints JSON lines.
"""
import json
import sys

import torch
from polydiff.vision import anomaly, metrics
from polydiff.vision.data import load_fashion_mnist

torch.set_num_threads(1)
x, y = load_fashion_mnist("train")
xt, yt, xv, yv = x[:50000], y[:50000], x[50000:], y[50000:]
for c in (int(a) for a in sys.argv[1].split(",")):
    xa = torch.cat([xv[yv == c][:200], xv[yv != c][:200]])
    truth = torch.cat([torch.zeros(200), torch.ones(200)]).long()
    t = xt[yt == c].mean(0, keepdim=True)
    tmpl = metrics.auroc(((xa - t) ** 2).flatten(1).mean(1), truth)
    for steps in (400, 1600, 6400):
        ae = anomaly.train_autoencoder(xt[yt == c], steps=steps, batch_size=64)
        auc = metrics.auroc(anomaly.image_scores(anomaly.autoencoder_maps(ae, xa)), truth)
        print(json.dumps({"class": c, "ae_steps": steps, "ae_auroc": auc, "template_auroc": tmpl}), flush=True)

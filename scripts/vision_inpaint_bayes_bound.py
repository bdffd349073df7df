"""#27 inpainting: how accurate can a faithful centre-mask inpainter be? A classifier of the visible ring.

    OMP_NUM_THREADS=1 python scripts/vision_inpaint_bayes_bound.py OUT.json

The bench scores inpainting by its classifier's accuracy on the completed digits. A sampler
that draws completions from the true posterior ``p(x | visible pixels)`` scores, on average,
``E[p(y_true | visible)]`` (the classifier reads a completed digit's label as the drawn one),
and the best deterministic completion ``max_y p(y | visible)``. Both are estimated with a
small CNN trained on the centre-masked training digits 0-49,999 (4 epochs, Adam 1e-3, batch
128), temperature-scaled on digits 50,000-59,999 (Guo et al. 2017), and read on the test digits:
all 10,000, the bench's inpainting digits (``x_te[1000:1100]``) and the held-out digits
``x_te[5000:5100]`` that the learning-curve scripts use. Writes the numbers as JSON.
"""
import json
import sys
import time

import torch
import torch.nn.functional as F
from polydiff.bench.jsonio import write_json
from polydiff.bench.vision_common import mnist
from polydiff.vision import inpaint
from torch import nn

torch.set_num_threads(1)
torch.manual_seed(0)
x, y = mnist("train", 28)
xt, yt = mnist("test", 28)
m = inpaint.make_mask("center", 1, 28)[0]
f = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
                  nn.MaxPool2d(2), nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                  nn.Linear(128 * 49, 256), nn.ReLU(), nn.Dropout(0.3), nn.Linear(256, 10))
xtr, ytr, xva, yva = x[:50000] * m, y[:50000], x[50000:] * m, y[50000:]
opt = torch.optim.Adam(f.parameters(), 1e-3)
t0 = time.time()
for ep in range(4):
    f.train()
    perm = torch.randperm(50000)
    for i in range(0, 50000, 128):
        idx = perm[i:i + 128]
        loss = F.cross_entropy(f(xtr[idx]), ytr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    f.eval()
    with torch.no_grad():
        lv = torch.cat([f(xva[i:i + 1000]) for i in range(0, 10000, 1000)])
    print(ep, "validation accuracy", (lv.argmax(1) == yva).float().mean().item(), time.time() - t0, flush=True)
T = torch.ones((), requires_grad=True)  # temperature scaling on the validation digits
lbfgs = torch.optim.LBFGS([T], max_iter=100)


def closure():
    lbfgs.zero_grad()
    nll = F.cross_entropy(lv / T, yva)
    nll.backward()
    return nll


lbfgs.step(closure)
T = T.detach()
with torch.no_grad():
    p = F.softmax(torch.cat([f(xt[i:i + 1000] * m) for i in range(0, 10000, 1000)]) / T, 1)
res = {"command": "OMP_NUM_THREADS=1 python scripts/vision_inpaint_bayes_bound.py " + " ".join(sys.argv[1:]),
       "temperature": T.item(), "validation_accuracy": (lv.argmax(1) == yva).float().mean().item(), "rows": []}
for name, sl in (("test, all", slice(0, 10000)), ("bench digits x_te[1000:1100]", slice(1000, 1100)),
                 ("held-out digits x_te[5000:5100]", slice(5000, 5100))):
    pp, yy = p[sl], yt[sl]
    res["rows"].append({"digits": name, "n": len(yy),
                        "best_deterministic_accuracy": (pp.argmax(1) == yy).float().mean().item(),
                        "posterior_sample_accuracy": pp[torch.arange(len(yy)), yy].mean().item()})
print(json.dumps(res, indent=1))
write_json(__import__("pathlib").Path(sys.argv[1]), res)

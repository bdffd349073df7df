import types

import pytest
import torch

pytest.importorskip("skimage")
pytest.importorskip("sklearn")




class DeltaOracle(torch.nn.Module):
    """Exact denoiser when the data distribution is a point mass at ``target`` (model range):
    ``eps(x, t) = (x - alpha(t) target) / sigma(t)``, output as ``prediction`` (``eps``,
    ``x0`` = target, or ``v = alpha eps - sigma x0``); every exact solver must return ``target``.
    ``config`` is what a UNet's config would record (default: just the prediction)."""

    def __init__(self, process, target, prediction="eps", config=None):
        super().__init__()
        self.process, self.target, self.prediction = process, target, prediction
        self.dummy = torch.nn.Parameter(torch.zeros(()))  # gives the tasks a device to read
        self.config = config if config is not None else types.SimpleNamespace(prediction=prediction)
        self.calls = []

    def forward(self, x, t, **cond):
        self.calls.append(cond)
        t = t.double()
        a = self.process.alpha(t).reshape(-1, 1, 1, 1)
        s = self.process.sigma(t).reshape(-1, 1, 1, 1)
        x0 = self.target.double()
        eps = (x.double() - a * x0) / s
        out = {"eps": eps, "x0": x0.expand_as(eps), "v": a * eps - s * x0}[self.prediction]
        return out.to(x.dtype)


@pytest.fixture
def process():
    from polydiff.vision._common import default_process
    return default_process()


@pytest.fixture(scope="session")
def mni32():
    from polydiff.vision.data import load_mni152_slices
    return load_mni152_slices(32)

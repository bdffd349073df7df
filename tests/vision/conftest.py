import pytest
import torch

pytest.importorskip("skimage")
pytest.importorskip("sklearn")




class DeltaOracle(torch.nn.Module):
    """Exact eps-predictor when the data distribution is a point mass at ``target`` (model range):
    ``eps(x, t) = (x - alpha(t) target) / sigma(t)``; every exact solver must return ``target``."""

    def __init__(self, process, target):
        super().__init__()
        self.process, self.target = process, target
        self.dummy = torch.nn.Parameter(torch.zeros(()))  # gives the tasks a device to read
        self.calls = []

    def forward(self, x, t, **cond):
        self.calls.append(cond)
        t = t.double()
        a = self.process.alpha(t).reshape(-1, 1, 1, 1)
        s = self.process.sigma(t).reshape(-1, 1, 1, 1)
        return ((x.double() - a * self.target.double()) / s).to(x.dtype)


@pytest.fixture
def process():
    from polydiff.vision._common import default_process
    return default_process()


@pytest.fixture(scope="session")
def mni32():
    from polydiff.vision.data import load_mni152_slices
    return load_mni152_slices(32)

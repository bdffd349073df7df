"""True-scale inputs: the network sees x_t / alpha(t) = x0 + (sigma/alpha) eps (GeoDiff's coordinates)."""
import pytest
import torch
from polydiff.molecules.featurize import mols_to_batch
from polydiff.molecules.nets import NetConfig, build_net
from polydiff.molecules.process import center, conformer_loss, geodiff_process, true_scale_input
from rdkit import Chem
from rdkit.Chem import AllChem


class Spy(torch.nn.Module):
    """Records what it is fed; predicts zeros."""

    def __init__(self, true_scale):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))
        self.config = NetConfig(true_scale=true_scale)
        self.seen = []

    def forward(self, pos, t, batch):
        self.seen.append(pos.detach().clone())
        return pos * self.w


def _batch():
    mols = []
    for smi in ("CCO", "C/C=C/C(N)=O"):
        m = Chem.AddHs(Chem.MolFromSmiles(smi))
        AllChem.EmbedMolecule(m, randomSeed=2)
        mols.append(m)
    return mols_to_batch(mols)


@pytest.mark.parametrize("true_scale", [True, False])
def test_noise_free_input_is_the_data_at_every_noise_level(true_scale):
    proc = geodiff_process(5000)
    batch = _batch()
    batch.pos = batch.pos.double()
    x0 = center(batch.pos, batch.batch, 2)
    t = torch.tensor([4000.0, 2500.0], dtype=torch.float64)  # alpha = 0.03 and 0.45: one per graph
    spy = Spy(true_scale).double()
    conformer_loss(true_scale_input(spy, proc), proc, batch, t=t, eps=torch.zeros_like(x0))
    alpha = proc.alpha(t)[batch.batch][:, None]
    expect = x0 if true_scale else alpha * x0  # x_t = alpha x0 with eps = 0
    torch.testing.assert_close(spy.seen[0], expect, atol=1e-9, rtol=1e-9)


def test_plain_networks_pass_through_and_bad_input():
    proc = geodiff_process(200, beta_end=0.05)
    plain = build_net(NetConfig(hidden=8, num_convs_global=1, num_convs_local=1, num_rbf=4, true_scale=False))
    assert true_scale_input(plain, proc) is plain
    scaled = build_net(NetConfig(hidden=8, num_convs_global=1, num_convs_local=1, num_rbf=4))
    assert scaled.config.true_scale  # the default for new networks
    with pytest.raises(ValueError, match="needs its process"):
        true_scale_input(scaled, None)
    wrapped = true_scale_input(scaled, proc)
    batch = _batch()
    t = torch.tensor([150.0, 150.0])
    a = float(proc.alpha(torch.tensor(150.0, dtype=torch.float64)))
    torch.testing.assert_close(wrapped(batch.pos, t, batch), scaled(batch.pos / a, t, batch), atol=1e-5, rtol=1e-5)

"""Training with the core Trainer: loss goes down, checkpoint reload reproduces sampling."""
import numpy as np
import torch
from polydiff.core.training import TrainConfig
from polydiff.molecules.generate import conformer_generator, generate_conformers
from polydiff.molecules.nets import NetConfig
from polydiff.molecules.train import MolTrainSpec, main, train
from rdkit import Chem
from rdkit.Chem import AllChem


def _mols():
    out = []
    for smi in ["CCO", "CC(=O)N", "C1CC1", "OCCN", "C#CC", "CC=O", "NC=O", "COC"]:
        m = Chem.AddHs(Chem.MolFromSmiles(smi))
        AllChem.EmbedMolecule(m, randomSeed=1)
        out.append(m)
    return out


def test_train_and_reload(tmp_path):
    torch.manual_seed(0)
    spec = MolTrainSpec(T=1000, beta_end=1e-2)
    ncfg = NetConfig(hidden=16, num_convs_global=1, num_convs_local=2, num_rbf=8, cutoff=5.0)
    tcfg = TrainConfig(steps=60, batch_size=8, lr=3e-3, ema_decay=None, log_every=10,
                       ckpt_dir=str(tmp_path / "run"), seed=1)
    net, proc, hist = train(spec, ncfg, tcfg, _mols())
    losses = [h["loss"] for h in hist if "loss" in h]
    assert len(losses) == 6 and np.mean(losses[-2:]) < losses[0]
    assert net.config.global_cutoff_t is not None and 0 < net.config.global_cutoff_t < 999
    net2, proc2 = conformer_generator(tmp_path / "run")
    a = generate_conformers("CCN", 2, net=net, process=proc, steps=5, solver="ddim", seed=3)
    b = generate_conformers("CCN", 2, net=net2, process=proc2, steps=5, solver="ddim", seed=3)
    np.testing.assert_allclose(a.GetConformer(1).GetPositions(), b.GetConformer(1).GetPositions(), atol=1e-6)


def test_cli_help(capsys):
    import pytest

    with pytest.raises(SystemExit):
        main(["--help"])
    assert "polydiff.molecules.train" in capsys.readouterr().out

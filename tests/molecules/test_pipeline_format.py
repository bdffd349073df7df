"""ConformerPipeline: save/load round trip, half precision, files named when wrong, a training run."""
from __future__ import annotations

import hashlib
import json
import warnings

import numpy as np
import pytest
import torch
from polydiff.core.pipeline import INDEX, ModelCard, PipelineError
from polydiff.molecules.pipeline import ConformerGenerator
from polydiff.molecules.pipelines import ConformerPipeline

SMILES = ["CCO", "C[C@H](N)O", "C/C=C/C"]


def _coords(mols) -> list[np.ndarray]:
    return [np.stack([c.GetPositions() for c in m.GetConformers()]) for m in mols]


def _same(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(_coords(a), _coords(b), strict=True))


def _quiet(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn()


def _rewrite(folder, name: str, config: dict) -> None:
    """Replace ``name``'s JSON and its checksum in the index (a consistent but different folder)."""
    blob = json.dumps(config).encode()
    (folder / name).write_bytes(blob)
    idx = json.loads((folder / INDEX).read_text())
    idx["files"][name] = {"bytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest()}
    (folder / INDEX).write_text(json.dumps(idx))


def test_round_trip_gives_identical_conformers(tmp_path, one_thread, tiny_conformer_pipeline):
    pipe = tiny_conformer_pipeline()
    card = ModelCard(training_command="polydiff train molecules --steps 5", data="8 tiny molecules")
    pipe.save_pretrained(tmp_path / "p", card=card)
    loaded = ConformerPipeline.from_pretrained(tmp_path / "p")
    a, b = _quiet(lambda: pipe(SMILES, seed=3)), _quiet(lambda: loaded(SMILES, seed=3))
    assert [m.GetNumConformers() for m in b] == [3, 3, 3] and _same(a, b)
    assert not np.array_equal(*_coords(a)[0][:2])  # conformers differ: each has its own noise
    g = loaded.generator
    assert (g.steps, g.solver, g.stereo_rounds, g.heavy_atom_range, loaded.n_conformers) == (4, "ddim", 1, (2, 6), 3)
    assert loaded.card == card and not loaded.net.training
    idx = json.loads((tmp_path / "p" / INDEX).read_text())
    assert set(idx["components"]) == {"net", "process", "featurizer", "stats", "sampler"}
    # call-time overrides, and a list generated in chunks equals the list generated at once
    c = _quiet(lambda: loaded(SMILES, 2, seed=3, steps=2, solver="dpmpp_2m"))
    assert _same(c, _quiet(lambda: pipe(SMILES, 2, seed=3, steps=2, solver="dpmpp_2m")))
    chunks = _quiet(lambda: loaded(SMILES[:1], seed=3) + loaded(SMILES[1:], seed=3, first_index=1))
    assert all(np.allclose(x, y, rtol=0, atol=1e-6) for x, y in zip(_coords(chunks), _coords(b), strict=True))


def test_half_precision_equals_the_rounded_network(tmp_path, one_thread, tiny_conformer_pipeline):
    pipe = tiny_conformer_pipeline()
    pipe.save_pretrained(tmp_path / "h", dtype=torch.float16)
    loaded = ConformerPipeline.from_pretrained(tmp_path / "h")
    rounded = tiny_conformer_pipeline()
    rounded.net.load_state_dict({k: v.half().float() if v.is_floating_point() else v
                                 for k, v in rounded.net.state_dict().items()})
    assert _same(_quiet(lambda: loaded(SMILES[:2], seed=1)), _quiet(lambda: rounded(SMILES[:2], seed=1)))


def test_corrupt_missing_or_foreign_files_are_named(tmp_path, tiny_conformer_pipeline):
    folder = tiny_conformer_pipeline().save_pretrained(tmp_path / "p")
    weights = folder / "net" / "weights.safetensors"
    blob = weights.read_bytes()
    weights.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(PipelineError, match=r"net/weights\.safetensors: corrupt"):
        ConformerPipeline.from_pretrained(folder)
    weights.write_bytes(blob)
    (folder / "sampler" / "config.json").unlink()
    with pytest.raises(PipelineError, match=r"sampler/config\.json: file is missing"):
        ConformerPipeline.from_pretrained(folder)

    folder = tiny_conformer_pipeline().save_pretrained(tmp_path / "q")
    feats = json.loads((folder / "featurizer" / "config.json").read_text())
    _rewrite(folder, "featurizer/config.json", {**feats, "elements": ["H", "C", "N", "O"]})
    with pytest.raises(PipelineError, match=r"featurizer/config\.json: the network was trained on other "
                                            r"input features \(elements differ"):
        ConformerPipeline.from_pretrained(folder)
    _rewrite(folder, "featurizer/config.json", feats)
    net_cfg = json.loads((folder / "net" / "config.json").read_text())
    _rewrite(folder, "net/config.json", {**net_cfg, "width": 3})
    with pytest.raises(PipelineError, match=r"net/config\.json: unknown NetConfig keys \['width'\]"):
        ConformerPipeline.from_pretrained(folder)
    _rewrite(folder, "net/config.json", {**net_cfg, "hidden": 16})  # weights no longer fit
    with pytest.raises(PipelineError, match=r"net/weights\.safetensors: .*shape"):
        ConformerPipeline.from_pretrained(folder)
    _rewrite(folder, "net/config.json", net_cfg)
    sampler = json.loads((folder / "sampler" / "config.json").read_text())
    _rewrite(folder, "sampler/config.json", {**sampler, "prediction": "x0"})
    with pytest.raises(PipelineError, match=r"sampler/config\.json: prediction 'x0' is not 'eps'"):
        ConformerPipeline.from_pretrained(folder)
    _rewrite(folder, "sampler/config.json", {**sampler, "solver": "euler_maruyama_9"})
    with pytest.raises(PipelineError, match=r"sampler/config\.json .*solver must be one of"):
        ConformerPipeline.from_pretrained(folder)


def test_from_training_run(tmp_path, one_thread):
    from polydiff.core.training import TrainConfig
    from polydiff.molecules.nets import NetConfig
    from polydiff.molecules.train import MolTrainSpec, train
    from rdkit import Chem
    from rdkit.Chem import AllChem

    mols = []
    for smi in ["CCO", "CC(=O)N", "OCCN", "CC=O"]:
        m = Chem.AddHs(Chem.MolFromSmiles(smi))
        AllChem.EmbedMolecule(m, randomSeed=1)
        mols.append(m)
    net, _, _ = _quiet(lambda: train(
        MolTrainSpec(T=200, beta_end=0.05), NetConfig(hidden=8, num_convs_global=1, num_convs_local=1, num_rbf=4,
                                                      cutoff=5.0),
        TrainConfig(steps=2, batch_size=2, ema_decay=0.9, ckpt_dir=str(tmp_path / "run"), seed=0), mols))
    pipe = _quiet(lambda: ConformerPipeline.from_run(tmp_path / "run", n_conformers=2, steps=3, solver="ddim"))
    assert pipe.generator.heavy_atom_range == (3, 4) and pipe.n_conformers == 2
    for k, v in net.state_dict().items():  # the EMA weights the run returned
        assert torch.equal(pipe.net.state_dict()[k], v)
    pipe.save_pretrained(tmp_path / "p")
    again = ConformerPipeline.from_pretrained(tmp_path / "p")
    assert _same(_quiet(lambda: pipe(["CCO", "OCCN"], seed=5)), _quiet(lambda: again(["CCO", "OCCN"], seed=5)))


def test_bad_arguments_are_named(tiny_conformer_pipeline):
    gen = tiny_conformer_pipeline().generator
    with pytest.raises(TypeError, match="generator must be a polydiff.molecules.pipeline.ConformerGenerator"):
        ConformerPipeline(gen.net)
    with pytest.raises(TypeError, match="generator.net must be a polydiff.molecules.nets network"):
        ConformerPipeline(ConformerGenerator(torch.nn.Linear(1, 1), gen.process))
    with pytest.raises(TypeError, match="generator.process must be a polydiff.core process"):
        ConformerPipeline(ConformerGenerator(gen.net, object()))
    with pytest.raises(ValueError, match="n_conformers must be an integer >= 1, got 0"):
        ConformerPipeline(gen, n_conformers=0)
    for field, value, message in [("steps", 0, "steps must be an integer >= 1"),
                                  ("solver", "rk99", "solver must be one of"),
                                  ("stereo_rounds", -1, "stereo_rounds must be an integer >= 0"),
                                  ("restart_noise", 0.0, "restart_noise must be a finite number > 0"),
                                  ("relax", "uff", "relax must be None or 'mmff'")]:
        with pytest.raises(ValueError, match=message):
            ConformerPipeline(ConformerGenerator(gen.net, gen.process, **{field: value}))

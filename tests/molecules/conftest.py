import pytest

for _mod in ("rdkit", "torch_geometric", "e3nn"):
    pytest.importorskip(_mod)




def tiny_conformer_pipeline(seed: int = 0, **settings):
    """An untrained, tiny :class:`ConformerPipeline` (T=200, 4 DDIM steps, 3 conformers)."""
    import torch
    from polydiff.molecules.nets import NetConfig, build_net
    from polydiff.molecules.pipeline import ConformerGenerator
    from polydiff.molecules.pipelines import ConformerPipeline
    from polydiff.molecules.process import geodiff_process

    torch.manual_seed(seed)
    net = build_net(NetConfig(hidden=8, num_convs_global=1, num_convs_local=1, num_rbf=4, cutoff=5.0))
    gen = ConformerGenerator(net, geodiff_process(200, beta_end=0.05), (2, 6),
                             **{"steps": 4, "solver": "ddim", "stereo_rounds": 1, **settings})
    return ConformerPipeline(gen, n_conformers=3)


@pytest.fixture(name="tiny_conformer_pipeline")
def _tiny_conformer_pipeline_fixture():
    """The factory :func:`tiny_conformer_pipeline` (a fixture, so test files need not import conftest)."""
    return tiny_conformer_pipeline

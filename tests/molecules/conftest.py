import pytest

for _mod in ("rdkit", "torch_geometric", "e3nn"):
    pytest.importorskip(_mod)


@pytest.fixture(autouse=True)
def _one_thread():
    """Small graphs: one intra-op thread is faster than two contending ones (restored after)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)

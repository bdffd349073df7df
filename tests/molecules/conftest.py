import pytest

for _mod in ("rdkit", "torch_geometric", "e3nn"):
    pytest.importorskip(_mod)



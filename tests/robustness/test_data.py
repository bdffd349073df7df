"""MNIST IDX reading: shapes, range, known first labels, and clear errors."""
import gzip

import numpy as np
import pytest
import torch
from polydiff.robustness.data import load_idx, load_mnist


def test_mnist_test_subset():
    x, y = load_mnist("test", 16)
    assert x.shape == (16, 1, 28, 28) and x.dtype == torch.float32
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    # the first ten labels of the MNIST test set (LeCun et al.)
    assert y[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_idx_round_trip_and_errors(tmp_path):
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    raw = bytes([0, 0, 8, 3]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape) + arr.tobytes()
    (tmp_path / "a.gz").write_bytes(gzip.compress(raw))
    assert np.array_equal(load_idx(tmp_path / "a.gz"), arr)
    (tmp_path / "bad").write_bytes(b"\x00\x00\x0d\x01" + raw[4:])
    with pytest.raises(ValueError, match="magic"):
        load_idx(tmp_path / "bad")
    with pytest.raises(ValueError, match="split"):
        load_mnist("val")
    with pytest.raises(FileNotFoundError):
        load_mnist("test", path=tmp_path)

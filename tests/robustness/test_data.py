"""The benchmark's datasets come through polydiff.vision's loader: shapes, range, known labels."""
import pytest
import torch
from polydiff.robustness.data import load_images


def test_mnist_test_subset():
    x, y = load_images("mnist", "test", 16)
    assert x.shape == (16, 1, 28, 28) and x.dtype == torch.float32
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    # the first ten labels of the MNIST test set (LeCun et al.)
    assert y[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_fashion_test_subset():
    try:
        x, y = load_images("fashion", "test", 10)
    except FileNotFoundError:
        pytest.skip("Fashion-MNIST not installed (scripts/setup.sh unpacks Debian's package)")
    assert x.shape == (10, 1, 28, 28) and 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    # the first ten labels of the Fashion-MNIST test set (Xiao et al. 2017): ankle boot, pullover, ...
    assert y.tolist() == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]


def test_validation_split_is_the_end_of_the_training_set():
    """"val" is training images 50,000.. (never in a run that trains on at most the first 50,000)."""
    from polydiff.robustness.data import TRAIN_WITHOUT_VAL
    x, y = load_images("mnist", "val", 5)
    xt, yt = load_images("mnist", "train")
    assert len(xt) == 60000 and TRAIN_WITHOUT_VAL == 50000
    assert torch.equal(x, xt[50000:50005]) and torch.equal(y, yt[50000:50005])
    assert len(load_images("mnist", "val")[0]) == 10000


def test_bad_arguments_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="dataset"):
        load_images("cifar")
    with pytest.raises(ValueError, match="split"):
        load_images("mnist", "validation")
    with pytest.raises(ValueError, match="positive int"):
        load_images("mnist", "test", 0)
    with pytest.raises(FileNotFoundError):
        load_images("mnist", "test", path=tmp_path)

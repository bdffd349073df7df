import gzip

import numpy as np
import pytest
import torch
from polydiff.vision import data


def test_mnist_shapes_dtypes_ranges():
    x, y = data.load_mnist("test", limit=64)
    assert x.shape == (64, 1, 28, 28) and x.dtype == torch.float32
    assert y.shape == (64,) and y.dtype == torch.int64
    assert 0.0 <= float(x.min()) and float(x.max()) == 1.0
    assert y[:5].tolist() == [7, 2, 1, 0, 4]  # the well-known first MNIST test labels


def test_read_idx_roundtrip_and_bad_magic(tmp_path):
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    hdr = bytes([0, 0, 0x08, 3]) + np.array(arr.shape, dtype=">i4").tobytes()
    f = tmp_path / "a-idx3-ubyte.gz"
    f.write_bytes(gzip.compress(hdr + arr.tobytes()))
    assert np.array_equal(data.read_idx(f), arr)
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x02\x03\x04" + b"\x00" * 8)
    with pytest.raises(ValueError, match="IDX"):
        data.read_idx(bad)


def test_missing_dataset_paths_raise(tmp_path):
    with pytest.raises(FileNotFoundError, match="Fashion-MNIST"):
        data.load_fashion_mnist("train", path=tmp_path)
    with pytest.raises(ValueError, match="split"):
        data.load_mnist("valid")


def test_digits_and_photo_patches():
    x, _y = data.load_digits(limit=10)
    assert x.shape == (10, 1, 8, 8) and 0 <= x.min() and x.max() <= 1
    tr = data.photo_patches("train", size=32, per_image=2, seed=0)
    te = data.photo_patches("test", size=32, per_image=2, gray=False, seed=0)
    assert tr.shape == (2 * len(data.PHOTO_TRAIN), 1, 32, 32)
    assert te.shape[1:] == (3, 32, 32) and 0 <= te.min() and te.max() <= 1
    assert not set(data.PHOTO_TRAIN) & set(data.PHOTO_TEST)  # split by image


def test_random_patches_are_crops_of_their_image_and_skip_flat_and_small_ones():
    rng = np.random.default_rng(0)
    flat_left = np.zeros((40, 80), np.float32)
    flat_left[:, 40:] = rng.random((40, 40), dtype=np.float32)  # only the right half has texture
    small = rng.random((12, 12), dtype=np.float32)  # smaller than the patch: skipped
    x = data.random_patches([flat_left, small], 16, 5, seed=3, min_std=0.1)
    assert x.shape == (5, 1, 16, 16)
    for p in x[:, 0].numpy():  # every patch is a crop of the image, none of them flat
        assert p.std() >= 0.1
        assert any(np.array_equal(p, flat_left[i:i + 16, j:j + 16]) for i in range(25) for j in range(65))
    assert torch.equal(x, data.random_patches([flat_left, small], 16, 5, seed=3, min_std=0.1))
    rgb = data.random_patches([rng.random((32, 32, 3), dtype=np.float32)], 16, 2)
    assert rgb.shape == (2, 3, 16, 16)
    with pytest.raises(ValueError, match="no image is at least 16x16"):
        data.random_patches([small], 16, 1)
    with pytest.raises(ValueError, match="same channels"):
        data.random_patches([flat_left, rng.random((32, 32, 3))], 16, 1)
    with pytest.raises(TypeError, match="images must be a list"):
        data.random_patches(flat_left, 16, 1)
    with pytest.raises(ValueError, match="per_image"):
        data.random_patches([flat_left], 16, 0)


def test_mni152_slices_and_nuclei(mni32):
    x, y = mni32
    assert x.shape[1:] == (1, 32, 32) and y.shape == (x.shape[0], 32, 32)
    assert set(y.unique().tolist()) == {0, 1, 2}
    assert 0 <= x.min() and x.max() <= 1
    img, sem, inst = data.load_nuclei(size=64)
    assert img.shape == (1, 1, 64, 64) and sem.shape == inst.shape == (1, 64, 64)
    assert set(sem.unique().tolist()) == {0, 1} and inst.max() > 10


@pytest.mark.parametrize("bad,err", [
    (torch.rand(2, 8, 8), ValueError),            # wrong rank
    (torch.rand(1, 1, 4, 4) * 2, ValueError),     # outside [0, 1]
    (torch.full((1, 1, 2, 2), float("nan")), ValueError),
    (torch.zeros(1, 1, 2, 2, dtype=torch.long), TypeError),
])
def test_check_images_rejects(bad, err):
    with pytest.raises(err):
        data.check_images(bad)


def test_nuclei_tiles_split_the_image_by_halves():
    img, sem, _ = data.load_nuclei()
    x, y = data.nuclei_tiles("train", 64)
    xt, yt = data.nuclei_tiles("test", 64)
    assert x.shape == xt.shape == (32, 1, 64, 64) and y.shape == (32, 64, 64)
    assert torch.equal(x[1, 0], img[0, 0, :64, 64:128]) and torch.equal(yt[0], sem[0, :64, 256:320])
    with pytest.raises(ValueError):
        data.nuclei_tiles("train", 100)


def test_fashion_mnist_from_setup():
    """scripts/setup.sh unpacks Debian's dataset-fashion-mnist into the venv; the loader finds it."""
    if data._debian_fashion_dir() is None:
        pytest.skip("Fashion-MNIST not installed (setup could not reach the Debian archive)")
    x, y = data.load_fashion_mnist("test", limit=500)
    assert x.shape == (500, 1, 28, 28) and x.dtype == torch.float32
    assert 0 <= x.min() and x.max() <= 1 and x.std() > 0.2
    assert set(y.tolist()) == set(range(10))
    xm, _ = data.load_mnist("test", limit=500)
    assert not torch.equal(x, xm)  # a different data set, not MNIST under another name

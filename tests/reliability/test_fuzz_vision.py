"""Fuzz of the vision front doors: image checks, inpainting masks, super-resolution inputs,
class-conditional generation, SDEdit guides, classifier accuracy and segmentation metrics, and
simplex-noise parameters. Each example ends in a named
error raised by polydiff or in finite images in [0, 1] (see fuzz.py)."""
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fuzz import FUZZ, outcome

pytest.importorskip("polydiff.vision")
from polydiff.vision import data, generate, inpaint, metrics, sdedit, superres
from polydiff.vision._common import default_process
from polydiff.vision.nets import Classifier, ClassifierConfig, UNet
from polydiff.vision.simplex import simplex_noise

SPECIAL = [float("nan"), float("inf"), -float("inf"), -0.5, 0.0, 0.5, 1.0, 1.5, 1e30]


def _unet(**kw) -> UNet:
    torch.manual_seed(0)
    net = UNet(base=8, mults=(1, 2), attention_levels=(), groups=4, **kw).eval()
    torch.nn.init.normal_(net.out.weight, std=0.1)  # not the zero init: outputs vary with x
    return net


GEN_NET, SR_NET, PLAIN_NET = _unet(num_classes=3), _unet(cond_channels=1), _unet()
PROC = default_process()


@st.composite
def images(draw, max_rank: int = 5):
    """Float tensors of rank 0..5 with sizes 0..9, values in [0, 1] or anything, or ints."""
    rank = draw(st.integers(0, max_rank))
    shape = tuple(draw(st.lists(st.integers(0, 9), min_size=rank, max_size=rank)))
    dtype = draw(st.sampled_from([torch.float32, torch.float64, torch.bfloat16, torch.int64, torch.bool]))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    x = torch.rand(shape, generator=g)
    if x.numel() and draw(st.booleans()):
        flat = x.view(-1)
        flat[draw(st.integers(0, flat.numel() - 1))] = draw(st.sampled_from(SPECIAL))
    return x.to(dtype)


def _check_unit(out: torch.Tensor) -> None:
    assert out.min() >= 0 and out.max() <= 1


@FUZZ
@given(x=images())
def test_check_images_accepts_exactly_the_finite_unit_batches(x):
    valid = (x.is_floating_point() and x.ndim == 4 and x.numel() > 0 and bool(torch.isfinite(x).all())
             and float(x.min()) >= 0 and float(x.max()) <= 1)
    _, err = outcome(lambda: data.check_images(x))
    assert (err is None) == valid, err


VALID = [None] * 6  # about half of the examples take the valid path: both outcomes are fuzzed


@FUZZ
@given(size=st.sampled_from([4, 8]), n=st.integers(1, 3), seed=st.integers(0, 2**16),
       fault=st.sampled_from(VALID + ["half", "all-known", "wrong-rank", "float-noise", "mismatched",
                                      "nan", "steps", "jump", "resample"]),
       broadcast=st.booleans(), steps=st.integers(1, 3), jump=st.integers(1, 3), resample=st.integers(1, 2))
def test_inpaint_masks(size, n, seed, fault, broadcast, steps, jump, resample):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, size, size, generator=g)
    m = (torch.rand(1 if broadcast else n, 1, size, size, generator=g) > 0.5).float()
    m[..., 0, 0] = 0  # something to inpaint
    if fault is not None:
        m = {"half": torch.full_like(m, 0.5), "all-known": torch.ones_like(m), "wrong-rank": m[0, 0],
             "float-noise": torch.rand(m.shape, generator=g), "mismatched": torch.ones(n, 1, size + 1, size),
             "nan": torch.full_like(m, float("nan"))}.get(fault, m)
        steps, jump, resample = (0 if fault == "steps" else steps, 0 if fault == "jump" else jump,
                                 0 if fault == "resample" else resample)
    out, err = outcome(lambda: inpaint.inpaint(PLAIN_NET, PROC, x, m, steps=steps, jump_length=jump,
                                               resample=resample, generator=torch.Generator().manual_seed(0)))
    assert (err is None) == (fault is None), err
    if out is not None:
        _check_unit(out)
        assert out.shape == x.shape
        known = m.expand_as(x) == 1
        assert torch.equal(out[known], x[known])  # known pixels come back exactly


@FUZZ
@given(size=st.sampled_from([2, 4]), n=st.integers(1, 2), factor=st.sampled_from([1, 2, 4]),
       steps=st.integers(1, 2), consistent=st.booleans(), seed=st.integers(0, 2**16),
       fault=st.sampled_from(VALID + ["factor0", "factor-float", "negative", "nan", "rank3", "channels",
                                      "int", "odd", "steps"]))
def test_super_resolution_inputs(size, n, factor, steps, consistent, seed, fault):
    lowres = torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(seed))
    if fault == "factor0":
        factor = 0
    elif fault == "factor-float":
        factor = 2.0
    elif fault == "negative":
        lowres[0, 0, 0, 0] = -0.25
    elif fault == "nan":
        lowres[-1, 0, -1, -1] = float("nan")
    elif fault == "rank3":
        lowres = lowres[0]
    elif fault == "channels":
        lowres = lowres.expand(n, 3, size, size)
    elif fault == "int":
        lowres = (lowres > 0.5).long()
    elif fault == "odd":
        lowres, factor = lowres[..., :1, :], 3  # 1 x size: the U-Net needs even sides
    elif fault == "steps":
        steps = 0
    out, err = outcome(lambda: superres.super_resolve(SR_NET, PROC, lowres, factor, steps=steps,
                                                      consistent=consistent,
                                                      generator=torch.Generator().manual_seed(0)))
    assert (err is None) == (fault is None), err
    if out is not None:
        _check_unit(out)
        assert out.shape == (*lowres.shape[:2], lowres.shape[2] * factor, lowres.shape[3] * factor)


@FUZZ
@given(labels=st.lists(st.integers(0, 3), min_size=1, max_size=3),
       scale=st.sampled_from([0.0, 1.0, 3.0, -1.0, 1e3]), steps=st.integers(1, 3),
       shape=st.sampled_from([(1, 4, 4), (1, 8, 8), (1, 2, 6)]),
       solver=st.sampled_from(["ddim", "dpmpp_2m", "euler", "ddpm", "unipc"]),
       fault=st.sampled_from(VALID + ["label-range", "float-labels", "empty", "scale-nan", "scale-inf",
                                      "steps", "shape-rank", "shape-zero", "odd-shape", "solver"]))
def test_generate_arguments(labels, scale, steps, shape, solver, fault):
    y = torch.tensor(labels)
    if fault == "label-range":
        y[0] = 5
    elif fault == "float-labels":
        y = y.float()
    elif fault == "empty":
        y = y[:0]
    elif fault in ("scale-nan", "scale-inf"):
        scale = float(fault[6:])
    elif fault == "steps":
        steps = -1
    elif fault == "shape-rank":
        shape = shape[1:]
    elif fault == "shape-zero":
        shape = (1, 0, 4)
    elif fault == "odd-shape":
        shape = (1, 5, 4)
    elif fault == "solver":
        solver = "nope"
    out, err = outcome(lambda: generate.generate(GEN_NET, PROC, y, scale=scale, steps=steps, shape=shape,
                                                 solver=solver, generator=torch.Generator().manual_seed(0)))
    assert (err is None) == (fault is None), err
    if out is not None:
        _check_unit(out)
        assert out.shape == (len(y), *shape)


@FUZZ
@given(shape=st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(2, 6), st.integers(1, 6)).map(list),
       octaves=st.integers(1, 8),
       frequency=st.floats(1e-3, 1e3), decay=st.floats(1e-3, 2.0), normalise=st.booleans(),
       fault=st.sampled_from(VALID + ["rank", "zero-size", "octaves0", "octaves-float", "freq-nan", "freq-inf",
                                      "decay-inf", "decay-huge", "freq-zero", "one-pixel"]))
def test_simplex_noise_parameters(shape, octaves, frequency, decay, normalise, fault):
    if fault == "rank":
        shape = shape[:3]
    elif fault == "zero-size":
        shape[1] = 0
    elif fault in ("octaves0", "octaves-float"):
        octaves = 0 if fault == "octaves0" else 2.5
    elif fault in ("freq-nan", "freq-inf", "freq-zero"):
        frequency = {"freq-nan": float("nan"), "freq-inf": float("inf"), "freq-zero": 0.0}[fault]
    elif fault in ("decay-inf", "decay-huge"):
        decay, octaves = (float("inf"), 2) if fault == "decay-inf" else (1e300, 3)
    elif fault == "one-pixel":  # nothing to standardise over
        shape[2:], normalise = [1, 1], True
    out, err = outcome(lambda: simplex_noise(shape, octaves=octaves, frequency=frequency, decay=decay,
                                             normalise=normalise, generator=torch.Generator().manual_seed(0)))
    assert (err is None) == (fault is None), err
    if out is not None:
        assert out.shape == tuple(shape)


@FUZZ
@given(guide=images(max_rank=4), strength=st.sampled_from([0.5, 1.0, 0.0, -0.1, 1.5, float("nan"), True, "0.5"]),
       steps=st.sampled_from([1, 2, 0, 1.0]))
def test_sdedit_guides_and_strengths(guide, strength, steps):
    valid = (guide.is_floating_point() and guide.dtype != torch.bfloat16 and guide.ndim == 4 and guide.numel() > 0
             and guide.shape[1] == 1 and guide.shape[2] % 2 == 0 and guide.shape[3] % 2 == 0
             and bool(torch.isfinite(guide).all()) and 0 <= float(guide.min()) and float(guide.max()) <= 1
             and not isinstance(strength, (bool, str)) and 0 < strength <= 1 and type(steps) is int and steps >= 1)
    out, err = outcome(lambda: sdedit.sdedit(PLAIN_NET, PROC, guide, strength, steps=steps,
                                             generator=torch.Generator().manual_seed(0)))
    assert (err is None) == valid, err
    if out is not None:
        _check_unit(out)
        assert out.shape == guide.shape


CLF = Classifier(ClassifierConfig(num_classes=3, width=8)).eval()


@FUZZ
@given(labels=st.lists(st.integers(-2, 5), min_size=0, max_size=4),
       dtype=st.sampled_from([torch.int64, torch.int32, torch.float32, torch.bool]),
       batch=st.sampled_from([1, 3, 0, 2.0]))
def test_classifier_accuracy_labels(labels, dtype, batch):
    y = torch.tensor(labels, dtype=torch.int64).to(dtype)
    x = torch.rand(len(labels), 1, 8, 8, generator=torch.Generator().manual_seed(len(labels)))
    valid = (len(labels) > 0 and dtype in (torch.int64, torch.int32) and all(0 <= v < 3 for v in labels)
             and type(batch) is int and batch >= 1)
    acc, err = outcome(lambda: metrics.accuracy(CLF, x, y, batch=batch))
    assert (err is None) == valid, err
    if acc is not None:
        assert 0.0 <= acc <= 1.0


@FUZZ
@given(pred=images(max_rank=3), k=st.sampled_from([2, 3, 0, 2.5]), seed=st.integers(0, 2**16),
       kind=st.sampled_from(["ids", "ids-out-of-range", "float"]))
def test_segmentation_metrics(pred, k, seed, kind):
    """``iou_per_class`` / ``miou`` / ``dice`` on label maps of any rank, dtype and range."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, 2, pred.shape, generator=g)
    p = {"ids": ids, "ids-out-of-range": ids + 5, "float": pred}[kind]  # "float": any dtype images() draws
    ints = not p.is_floating_point() and p.numel() > 0

    def within(top: int) -> bool:
        return ints and 0 <= int(p.min()) and int(p.max()) <= top

    m, err = outcome(lambda: metrics.miou(p, ids, k))  # iou_per_class is NaN for absent classes, by design
    assert (err is None) == (type(k) is int and k >= 2 and within(k - 1)), err
    if m is not None:
        assert 0.0 <= m <= 1.0
    d, err = outcome(lambda: metrics.dice(p, ids))
    assert (err is None) == within(1), err
    if d is not None:
        assert 0.0 <= d <= 1.0


@FUZZ
@given(kind=st.sampled_from(["center", "half", "strokes"]), n=st.sampled_from([1, 2, 0, 1.0]),
       size=st.sampled_from([4, 8, (4, 6), 0, -2, 4.5, (4,), (4, 4, 4), "8"]),
       box=st.sampled_from([0.5, 0.25, 0.0, 1.0, float("nan")]), strokes=st.sampled_from([1, 3, 0, 2.5]),
       width=st.sampled_from([0.1, 0.5, 0.0, -0.1, float("inf")]), seed=st.integers(0, 2**16))
def test_make_mask_arguments(kind, n, size, box, strokes, width, seed):
    sizes_ok = (type(size) is int and size > 0) or (isinstance(size, tuple) and len(size) == 2)
    valid = type(n) is int and n >= 1 and sizes_ok
    # box, strokes and width are checked whatever the kind: a bad value a kind does not use is
    # refused, not ignored (#31)
    valid &= 0 < box < 1 and type(strokes) is int and strokes >= 1 and 0 < width <= 1
    m, err = outcome(lambda: inpaint.make_mask(kind, n, size, box=box, strokes=strokes, width=width,
                                               generator=torch.Generator().manual_seed(seed)))
    assert (err is None) == valid, err
    if m is not None:
        h, w = (size, size) if isinstance(size, int) else size
        assert m.shape == (n, 1, h, w) and bool(((m == 0) | (m == 1)).all())


@FUZZ
@given(shape=st.lists(st.sampled_from([1, 2, 4, 0, -1, 2.0, 3.5]), min_size=3, max_size=5),
       generator=st.sampled_from(["gen", None, 3, "list"]))
def test_simplex_noise_shapes_and_generators(shape, generator):
    gen = {"gen": torch.Generator().manual_seed(0), None: None, 3: 3,
           "list": [torch.Generator().manual_seed(0)]}[generator]
    valid = (len(shape) == 4 and all(type(s) is int and s >= 1 for s in shape) and shape[2] * shape[3] >= 2
             and generator in ("gen", None))
    out, err = outcome(lambda: simplex_noise(shape, octaves=2, generator=gen))
    assert (err is None) == valid, err
    if out is not None:
        assert out.shape == tuple(shape)


@FUZZ
@given(image=images(max_rank=4))
def test_save_png_refuses_what_a_png_cannot_hold(image):
    """``save_png`` (and robustness's ``write_png``, same check) writes exactly the finite float
    ``[C, H, W]`` images (C = 1 or 3) in [0, 1]; NaN, inf and values on another scale are
    refused, never clipped (#31)."""
    import tempfile

    from polydiff.vision.image_files import save_png

    ok = (image.ndim == 3 and image.shape[0] in (1, 3) and image.numel() > 0 and image.is_floating_point()
          and bool(torch.isfinite(image.float()).all()) and float(image.min()) >= 0 and float(image.max()) <= 1)
    path = Path(tempfile.mkdtemp(prefix="polydiff-fuzz-")) / "x.png"
    _, err = outcome(lambda: save_png(image, path))
    assert (err is None) == ok, err
    assert path.exists() == ok
    if err is not None:
        assert "image" in str(err)

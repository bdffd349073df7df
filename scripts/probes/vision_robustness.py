"""Bad-input probe of polydiff.vision and polydiff.robustness.

Prints one line per case:  CLASS | module | call | outcome
Classes: vrD (named ValueError/TypeError/FileNotFoundError/PipelineError/CheckpointError/SystemExit
naming the argument), VAGUE, SILENT, OK-EDGE.  Run:  OMP_NUM_THREADS=1 TQDM_DISABLE=1 python probe.py
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TQDM_DISABLE", "1")
warnings.filterwarnings("ignore")

import numpy as np
import torch

torch.set_num_threads(1)

import polydiff.core as pc
from polydiff.core.pipeline import INDEX, PipelineError
from polydiff.vision import anomaly, data, generate, inpaint, metrics, sdedit, superres, image_files
from polydiff.vision import segment, simplex
from polydiff.vision._common import default_process
from polydiff.vision.nets import Classifier, ClassifierConfig, UNet, UNetConfig, load_net, save_net
from polydiff.vision.pipelines import InpaintingPipeline, SuperResolutionPipeline, VisionGenerationPipeline
from polydiff.robustness import attacks as ratt, checks as rchk, gradients as rgrad, metrics as rmet
from polydiff.robustness import image_io as rio, nets as rnets, purify as rpur, data as rdata
from polydiff.robustness.pipelines import PurificationPipeline
from polydiff.bench.cli import main as cli

OK_TYPES = (ValueError, TypeError, FileNotFoundError, SystemExit)
COUNTS: dict[str, int] = {}
WORK = Path(tempfile.mkdtemp(prefix="probe_vr_"))
NAN, INF = float("nan"), float("inf")


def emit(cls, mod, call, outcome):
    COUNTS[cls] = COUNTS.get(cls, 0) + 1
    outcome = " ".join(str(outcome).split())
    print(f"{cls} | {mod} | {call} | {outcome[:260]}", flush=True)


def _desc(v):
    if isinstance(v, torch.Tensor):
        bad = "" if not v.is_floating_point() or torch.isfinite(v).all() else " WITH NaN/inf"
        return f"returned tensor {tuple(v.shape)} {str(v.dtype).replace('torch.', '')}{bad}" + (
            f" range [{float(v.min()):.3g}, {float(v.max()):.3g}]" if v.numel() and v.is_floating_point()
            and torch.isfinite(v).all() else "")
    if isinstance(v, float):
        return f"returned {v!r}"
    r = repr(v)
    return f"returned {type(v).__name__} {r[:120]}"


def case(mod, call, fn, *, kind="bad", names=(), silent_if=None, force=None, accept=()):
    """kind='bad': the input is wrong, must raise. kind='edge': legitimate, must work (a named error
    is also fair for some edge cases: then it is vrD). names: words the message must contain
    (any of them, case-insensitive) to count as naming the argument."""
    err_buf = io.StringIO()
    try:
        with contextlib.redirect_stderr(err_buf), contextlib.redirect_stdout(io.StringIO()):
            out = fn()
    except OK_TYPES + tuple(accept) as e:
        if isinstance(e, SystemExit):
            msg = str(e.code) if not isinstance(e.code, int) else err_buf.getvalue().strip().splitlines()[-1:] 
            msg = msg if isinstance(msg, str) else (msg[0] if msg else f"exit {e.code}")
        else:
            msg = str(e)
        text = f"{type(e).__name__}: {msg}"
        if "invalid combination of arguments" in msg:
            emit("VAGUE", mod, call, f"{text}  [raw torch signature dump]")
        elif force:
            emit("VAGUE", mod, call, f"{text}  [{force}]")
        elif names and not any(n.lower() in msg.lower() for n in names):
            emit("VAGUE", mod, call, f"{text}  [message does not name {names[0]!r}]")
        else:
            emit("vrD", mod, call, text)
        return
    except Exception as e:  # noqa: BLE001
        emit("VAGUE", mod, call, f"{type(e).__name__}: {e}")
        return
    if kind == "edge":
        problem = silent_if(out) if silent_if else None
        if problem:
            emit("SILENT", mod, call, problem)
        else:
            emit("OK-EDGE", mod, call, _desc(out))
    else:
        emit("SILENT", mod, call, _desc(out))


def finite(o):
    if isinstance(o, torch.Tensor) and o.is_floating_point() and not torch.isfinite(o).all():
        return "NaN/inf output"
    if isinstance(o, float) and not math.isfinite(o):
        return f"non-finite result {o}"
    return None


# ------------------------------------------------------------------------------------------- setup
def noisy(net):
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return net.eval()


torch.manual_seed(0)
SMALL = {"base": 8, "mults": (1, 2), "attention_levels": (), "groups": 4}
GEN = noisy(UNet(UNetConfig(in_channels=1, num_classes=3, **SMALL)))
SRN = noisy(UNet(UNetConfig(in_channels=1, cond_channels=1, **SMALL)))
PLAIN = noisy(UNet(UNetConfig(in_channels=1, **SMALL)))
PLAIN3 = noisy(UNet(UNetConfig(in_channels=3, **SMALL)))
CLF = Classifier(ClassifierConfig(in_channels=1, num_classes=3, width=8)).eval()
PROC = default_process()
G = lambda s=0: torch.Generator().manual_seed(s)  # noqa: E731
X = torch.rand(2, 1, 8, 8, generator=G(1))
X1 = X[:1]
LOW = torch.rand(1, 1, 4, 4, generator=G(2))
MASK = torch.ones(1, 1, 8, 8)
MASK[..., 2:6, 2:6] = 0


def with_nan(t, v=NAN):
    t = t.clone()
    t.view(-1)[0] = v
    return t


GP = VisionGenerationPipeline(GEN, PROC, (1, 8, 8), steps=2, guidance_scale=2.0)
SRP = SuperResolutionPipeline(SRN, PROC, 2, steps=2)
INP = InpaintingPipeline(PLAIN, PROC, (1, 8, 8), steps=2, resample=1)
torch.manual_seed(0)
DEN = noisy(UNet(UNetConfig(in_channels=1, base=8, mults=(1, 2), attention_levels=(), groups=4, time_scale=1000.0)))
RP = PurificationPipeline(DEN, CLF, pc.VP(), image_shape=(1, 8, 8), t_star=0.2, steps=2, repeats=1,
                          class_names=["a", "b", "c"])
PUR = rpur.Purifier(DEN, pc.VP(), t_star=0.2, steps=2, image_shape=(1, 8, 8))

for name, p in (("gen", GP), ("sr", SRP), ("inp", INP), ("pur", RP)):
    p.save_pretrained(WORK / name)


def copy_pipe(name, new):
    dst = WORK / new
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(WORK / name, dst)
    return dst


def rewrite(folder, comp, edit):
    file = folder / comp / "config.json"
    cfg = json.loads(file.read_text())
    edit(cfg)
    blob = json.dumps(cfg).encode()
    file.write_bytes(blob)
    idx = json.loads((folder / INDEX).read_text())
    idx["files"][f"{comp}/config.json"] = {"bytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest()}
    (folder / INDEX).write_text(json.dumps(idx))
    return folder


def png(path, array):
    from PIL import Image
    Image.fromarray(array).save(path)
    return path


IMG8 = png(WORK / "img8.png", (np.random.default_rng(0).random((8, 8)) * 255).astype(np.uint8))
IMG4 = png(WORK / "img4.png", (np.random.default_rng(1).random((4, 4)) * 255).astype(np.uint8))
RGB8 = png(WORK / "rgb8.png", (np.random.default_rng(2).random((8, 8, 3)) * 255).astype(np.uint8))
IMG7 = png(WORK / "img7.png", (np.random.default_rng(3).random((7, 7)) * 255).astype(np.uint8))
HOLE = np.zeros((8, 8), np.uint8)
HOLE[2:6, 2:6] = 255
MASKPNG = png(WORK / "mask.png", HOLE)
BLACK = png(WORK / "black.png", np.zeros((8, 8), np.uint8))
MASK4 = png(WORK / "mask4.png", np.full((4, 4), 255, np.uint8))
(WORK / "empty.png").write_bytes(b"")
(WORK / "garbage.png").write_bytes(os.urandom(64))
(WORK / "trunc.png").write_bytes(IMG8.read_bytes()[:40])
(WORK / "notes.txt").write_text("hello")
(WORK / "emptydir").mkdir()
(WORK / "txtdir").mkdir()
(WORK / "txtdir" / "a.txt").write_text("x")
ALPHA = np.zeros((8, 8, 4), np.uint8)
ALPHA[..., 3] = 100
APNG = png(WORK / "alpha.png", ALPHA)
O = str(WORK / "out")

V, R = "vision", "robustness"

# =============================================================================== vision: data
case(V + ".data", "check_images(np.random.rand(1,1,8,8))", lambda: data.check_images(np.random.rand(1, 1, 8, 8)), names=("images",))
case(V + ".data", "check_images(x, channels=3) on 1-channel x", lambda: data.check_images(X, channels=3), names=("channel",))
case(V + ".data", "check_images(torch.empty(0,1,8,8))", lambda: data.check_images(torch.empty(0, 1, 8, 8)), names=("empty",))
case(V + ".data", "check_images(x*255) (0-255 scale)", lambda: data.check_images(X * 255), names=("[0, 1]",))
case(V + ".data", "resize(x, 0)", lambda: data.resize(X, 0), names=("size",))
case(V + ".data", "resize(x, 4.5)", lambda: data.resize(X, 4.5), names=("size",))
case(V + ".data", "resize(x, (4,))", lambda: data.resize(X, (4,)), names=("size",))
case(V + ".data", "resize(x, True)", lambda: data.resize(X, True), names=("size",))
case(V + ".data", "resize(x, 16, mode='bicubic') (upsampling)", lambda: data.resize(X, 16, mode="bicubic"), kind="edge", silent_if=finite)
case(V + ".data", "resize(x NaN, 4)", lambda: data.resize(with_nan(X), 4), names=("nan",))
case(V + ".data", "read_idx(missing file)", lambda: data.read_idx(WORK / "nope-idx3-ubyte"), names=("nope",))
case(V + ".data", "read_idx(empty file)", lambda: data.read_idx(WORK / "empty.png"), names=("empty.png",))
case(V + ".data", "read_idx(garbage bytes)", lambda: data.read_idx(WORK / "garbage.png"), names=("garbage.png",))
case(V + ".data", "read_idx(directory)", lambda: data.read_idx(WORK), names=(str(WORK), "director"))
case(V + ".data", "read_idx(3) (int path)", lambda: data.read_idx(3), names=("path",))
case(V + ".data", "load_mnist('validation', path=empty dir)", lambda: data.load_mnist("validation", path=WORK / "emptydir"), names=("split",))
case(V + ".data", "load_mnist(path=empty dir, limit=0)", lambda: data.load_mnist("train", path=WORK / "emptydir", limit=0), names=("limit", "mnist"))
case(V + ".data", "load_digits(limit=-1)", lambda: data.load_digits(limit=-1), names=("limit",))
case(V + ".data", "load_digits(limit=2.5)", lambda: data.load_digits(limit=2.5), names=("limit",))
case(V + ".data", "to_model_range(np.array) (numpy in)", lambda: data.to_model_range(np.ones((1, 1, 2, 2))), kind="edge")

# =============================================================================== vision: generate
case(V + ".generate", "generate(net, P, labels=[0,1] (list))", lambda: generate.generate(GEN, PROC, [0, 1], steps=1, shape=(1, 8, 8)), names=("labels",))
case(V + ".generate", "generate(net, P, labels float tensor)", lambda: generate.generate(GEN, PROC, torch.tensor([0.0, 1.0]), steps=1, shape=(1, 8, 8)), names=("labels",))
case(V + ".generate", "generate(net, P, labels 2-D [[0],[1]])", lambda: generate.generate(GEN, PROC, torch.tensor([[0], [1]]), steps=1, shape=(1, 8, 8)), names=("labels",))
case(V + ".generate", "generate(labels=[5]) for 3 classes", lambda: generate.generate(GEN, PROC, torch.tensor([5]), steps=1, shape=(1, 8, 8)), names=("labels",))
case(V + ".generate", "generate(labels=[3]) (the null class, documented allow_null)", lambda: generate.generate(GEN, PROC, torch.tensor([3]), steps=1, shape=(1, 8, 8)), kind="edge", silent_if=finite)
case(V + ".generate", "generate(scale=nan)", lambda: generate.generate(GEN, PROC, torch.tensor([0]), scale=NAN, steps=1, shape=(1, 8, 8)), names=("scale",))
case(V + ".generate", "generate(scale='2') (string)", lambda: generate.generate(GEN, PROC, torch.tensor([0]), scale="2", steps=1, shape=(1, 8, 8)), names=("scale",))
case(V + ".generate", "generate(scale=True)", lambda: generate.generate(GEN, PROC, torch.tensor([0]), scale=True, steps=1, shape=(1, 8, 8)), names=("scale",))
case(V + ".generate", "generate(scale=1e30)", lambda: generate.generate(GEN, PROC, torch.tensor([0]), scale=1e30, steps=1, shape=(1, 8, 8)), names=("scale",))
case(V + ".generate", "generate(scale=-5) (negative guidance: core CFG allows [-1e4, 1e4])", lambda: generate.generate(GEN, PROC, torch.tensor([0]), scale=-5.0, steps=1, shape=(1, 8, 8)), kind="edge", silent_if=finite)
case(V + ".generate", "generate(steps=0)", lambda: generate.generate(GEN, PROC, torch.tensor([0]), steps=0, shape=(1, 8, 8)), names=("steps",))
case(V + ".generate", "generate(steps=True)", lambda: generate.generate(GEN, PROC, torch.tensor([0]), steps=True, shape=(1, 8, 8)), names=("steps",))
case(V + ".generate", "generate(solver='rk4')", lambda: generate.generate(GEN, PROC, torch.tensor([0]), steps=1, solver="rk4", shape=(1, 8, 8)), names=("solver",))
case(V + ".generate", "generate(generator=3)", lambda: generate.generate(GEN, PROC, torch.tensor([0]), steps=1, generator=3, shape=(1, 8, 8)), names=("generator",))
case(V + ".generate", "generate(shape=(1,0,8))", lambda: generate.generate(GEN, PROC, torch.tensor([0]), steps=1, shape=(1, 0, 8)), names=("shape",))
case(V + ".generate", "generate(shape=(1,7,7)) odd side for 2-level net", lambda: generate.generate(GEN, PROC, torch.tensor([0]), steps=1, shape=(1, 7, 7)), names=("shape",))
case(V + ".generate", "generate(net=unconditional UNet)", lambda: generate.generate(PLAIN, PROC, torch.tensor([0]), steps=1, shape=(1, 8, 8)), names=("class", "net"))
case(V + ".generate", "generate(process=None)", lambda: generate.generate(GEN, None, torch.tensor([0]), steps=1, shape=(1, 8, 8)), names=("process",))
case(V + ".generate", "generate(prediction='noise')", lambda: generate.generate(GEN, PROC, torch.tensor([0]), steps=1, shape=(1, 8, 8), prediction="noise"), names=("prediction",))
case(V + ".generate", "generate(labels=torch.tensor([], dtype=long))", lambda: generate.generate(GEN, PROC, torch.tensor([], dtype=torch.long), steps=1, shape=(1, 8, 8)), names=("labels",))
case(V + ".generate", "drop_labels(y, p_uncond=1.5, ...)", lambda: generate.drop_labels(torch.tensor([0, 1]), 1.5, 3), names=("p_uncond",))
case(V + ".generate", "drop_labels(y, 0.5, null_class=-1)", lambda: generate.drop_labels(torch.tensor([0, 1]), 0.5, -1, G()), names=("null_class",))
case(V + ".generate", "drop_labels(y float, 0.5, 3)", lambda: generate.drop_labels(torch.tensor([0.5, 1.0]), 0.5, 3, G()), names=("y", "label"))
case(V + ".generate", "generate_loss(images 0-255, labels)", lambda: generate.generate_loss(GEN, PROC, X * 255, torch.tensor([0, 1])), names=("images",))
case(V + ".generate", "generate_loss(x, labels of batch 3)", lambda: generate.generate_loss(GEN, PROC, X, torch.tensor([0, 1, 2])), names=("labels",))
case(V + ".generate", "generate_loss(x, labels=[3,3]) (null class in training)", lambda: generate.generate_loss(GEN, PROC, X, torch.tensor([3, 3])), names=("labels",))

# =============================================================================== vision: superres
case(V + ".superres", "downsample(x, factor=3) (8 not divisible)", lambda: superres.downsample(X, 3), names=("factor",))
case(V + ".superres", "downsample(x, factor=True)", lambda: superres.downsample(X, True), names=("factor",))
case(V + ".superres", "downsample(x, factor=2.0)", lambda: superres.downsample(X, 2.0), names=("factor",))
case(V + ".superres", "bicubic(lowres 0-255, 2)", lambda: superres.bicubic(LOW * 255, 2), names=("lowres",))
case(V + ".superres", "bicubic(lowres, 1) (identity factor)", lambda: superres.bicubic(LOW, 1), kind="edge")
case(V + ".superres", "super_resolve(net, P, lowres NaN, 2)", lambda: superres.super_resolve(SRN, PROC, with_nan(LOW), 2, steps=1), names=("lowres",))
case(V + ".superres", "super_resolve(lowres 3-channel, 2) on 1-ch net", lambda: superres.super_resolve(SRN, PROC, torch.rand(1, 3, 4, 4), 2, steps=1), names=("lowres", "channel"))
case(V + ".superres", "super_resolve(lowres 3x3, factor 2) -> 6x6 (divisible by the 2-level net)", lambda: superres.super_resolve(SRN, PROC, torch.rand(1, 1, 3, 3), 2, steps=1), kind="edge", silent_if=finite)
case(V + ".superres", "super_resolve(net=unconditional UNet)", lambda: superres.super_resolve(PLAIN, PROC, LOW, 2, steps=1), names=("net", "cond"))
case(V + ".superres", "super_resolve(residual='yes')", lambda: superres.super_resolve(SRN, PROC, LOW, 2, steps=1, residual="yes"), names=("residual",))
case(V + ".superres", "super_resolve(generator=[g] for batch 1 ok?) list len 2 for batch 1", lambda: superres.super_resolve(SRN, PROC, LOW, 2, steps=1, generator=[G(0), G(1)]), names=("generator",))
case(V + ".superres", "super_resolve_mean(k=0)", lambda: superres.super_resolve_mean(SRN, PROC, LOW, 2, 0, steps=1), names=("k",))
case(V + ".superres", "super_resolve_mean(k=2, generator=[g,g])", lambda: superres.super_resolve_mean(SRN, PROC, LOW, 2, 2, steps=1, generator=[G(), G()]), names=("generator",))
case(V + ".superres", "superres_loss(highres 8x8, factor=3)", lambda: superres.superres_loss(SRN, PROC, X, 3), names=("factor",))
case(V + ".superres", "regression_upsample(net, lowres, factor=-2)", lambda: superres.regression_upsample(SRN, LOW, -2), names=("factor",))
case(V + ".superres", "consistency_projection(lowres NaN, 2)", lambda: superres.consistency_projection(with_nan(LOW), 2), names=("lowres",))

# =============================================================================== vision: inpaint
case(V + ".inpaint", "inpaint(x, mask bool dtype)", lambda: inpaint.inpaint(PLAIN, PROC, X1, MASK.bool(), steps=1), kind="edge", silent_if=finite)
case(V + ".inpaint", "inpaint(x, mask numpy array)", lambda: inpaint.inpaint(PLAIN, PROC, X1, MASK.numpy(), steps=1), names=("mask",))
case(V + ".inpaint", "inpaint(x, mask with NaN)", lambda: inpaint.inpaint(PLAIN, PROC, X1, with_nan(MASK), steps=1), names=("mask",))
case(V + ".inpaint", "inpaint(x, mask [1,8,8] rank 3)", lambda: inpaint.inpaint(PLAIN, PROC, X1, MASK[0], steps=1), names=("mask",))
case(V + ".inpaint", "inpaint(x 0-255, mask)", lambda: inpaint.inpaint(PLAIN, PROC, X1 * 255, MASK, steps=1), names=("images",))
case(V + ".inpaint", "inpaint(x, all-zero mask) (nothing known)", lambda: inpaint.inpaint(PLAIN, PROC, X1, torch.zeros(1, 1, 8, 8), steps=1), kind="edge", silent_if=finite)
case(V + ".inpaint", "inpaint(resample=0)", lambda: inpaint.inpaint(PLAIN, PROC, X1, MASK, steps=1, resample=0), names=("resample",))
case(V + ".inpaint", "inpaint(jump_length=100 > steps=2)", lambda: inpaint.inpaint(PLAIN, PROC, X1, MASK, steps=2, jump_length=100, resample=2), kind="edge", silent_if=finite)
case(V + ".inpaint", "inpaint(clip='no')", lambda: inpaint.inpaint(PLAIN, PROC, X1, MASK, steps=1, clip="no"), names=("clip",))
case(V + ".inpaint", "inpaint(cond={'y': NaN tensor}) on unconditional net", lambda: inpaint.inpaint(PLAIN, PROC, X1, MASK, steps=1, cond={"y": torch.tensor([NAN])}), names=("cond",))
case(V + ".inpaint", "inpaint(cond={'y': tensor([0])}) on unconditional net", lambda: inpaint.inpaint(PLAIN, PROC, X1, MASK, steps=1, cond={"y": torch.tensor([0])}), names=("cond", "y"))
case(V + ".inpaint", "inpaint(3-channel images) with 1-channel net", lambda: inpaint.inpaint(PLAIN, PROC, torch.rand(1, 3, 8, 8), MASK, steps=1), names=("images", "channel"))
case(V + ".inpaint", "make_mask('center', 2, 8, box=0)", lambda: inpaint.make_mask("center", 2, 8, box=0.0), names=("box",))
case(V + ".inpaint", "make_mask('center', 2, 8, box=nan)", lambda: inpaint.make_mask("center", 2, 8, box=NAN), names=("box",))
case(V + ".inpaint", "make_mask('center', 0, 8)", lambda: inpaint.make_mask("center", 0, 8), names=("n",))
case(V + ".inpaint", "make_mask('center', 2, 8.0)", lambda: inpaint.make_mask("center", 2, 8.0), names=("size",))
case(V + ".inpaint", "make_mask('half', 1, 1) (1 px image)", lambda: inpaint.make_mask("half", 1, 1), kind="edge", silent_if=lambda m: "mask without a missing pixel (all 1)" if bool((m == 1).all()) else None)
case(V + ".inpaint", "make_mask('strokes', 1, 8, strokes=0)", lambda: inpaint.make_mask("strokes", 1, 8, strokes=0), names=("strokes",))
case(V + ".inpaint", "make_mask('strokes', 1, 8, generator=3)", lambda: inpaint.make_mask("strokes", 1, 8, generator=3), names=("generator",))
case(V + ".inpaint", "make_mask('half', 1, 8, box=5) (box ignored by 'half')", lambda: inpaint.make_mask("half", 1, 8, box=5.0), names=("box",))
case(V + ".inpaint", "repaint_settings(0)", lambda: inpaint.repaint_settings(0), names=("steps",))
case(V + ".inpaint", "biharmonic(x, mask not 0/1)", lambda: inpaint.biharmonic(X1, MASK * 0.5), names=("mask",))
case(V + ".inpaint", "exemplar_fill(x, mask, exemplars 4x4)", lambda: inpaint.exemplar_fill(X1, MASK, torch.rand(3, 1, 4, 4)), names=("exemplars",))
case(V + ".inpaint", "exemplar_fill(x, mask, exemplars empty)", lambda: inpaint.exemplar_fill(X1, MASK, torch.empty(0, 1, 8, 8)), names=("exemplars",))

# =============================================================================== vision: sdedit
case(V + ".sdedit", "sdedit(guide, strength=0)", lambda: sdedit.sdedit(PLAIN, PROC, X1, 0.0, steps=1), names=("strength",))
case(V + ".sdedit", "sdedit(guide, strength=1.5)", lambda: sdedit.sdedit(PLAIN, PROC, X1, 1.5, steps=1), names=("strength",))
case(V + ".sdedit", "sdedit(guide, strength=nan)", lambda: sdedit.sdedit(PLAIN, PROC, X1, NAN, steps=1), names=("strength",))
case(V + ".sdedit", "sdedit(guide NaN)", lambda: sdedit.sdedit(PLAIN, PROC, with_nan(X1), 0.5, steps=1), names=("guide",))
case(V + ".sdedit", "sdedit(guide, guidance='cfg')", lambda: sdedit.sdedit(PLAIN, PROC, X1, 0.5, steps=1, guidance="cfg"), names=("guidance",))
case(V + ".sdedit", "sdedit(guide, generator=[g] for batch 2)", lambda: sdedit.sdedit(PLAIN, PROC, X, 0.5, steps=1, generator=[G()]), names=("generator",))
case(V + ".sdedit", "strength_to_time(P, 1.0) (full strength, documented range (0,1])", lambda: sdedit.strength_to_time(PROC, 1.0), kind="edge")
case(V + ".sdedit", "stroke_painting(x, cells=0)", lambda: sdedit.stroke_painting(X, 0), names=("cells",))
case(V + ".sdedit", "stroke_painting(x, cells=100) on 8x8", lambda: sdedit.stroke_painting(X, 100), names=("cells",))
case(V + ".sdedit", "stroke_painting(x, levels=1)", lambda: sdedit.stroke_painting(X, 4, 1), names=("levels",))

# =============================================================================== vision: anomaly
NS = anomaly.noise_sampler("gaussian", G())
case(V + ".anomaly", "noise_sampler('perlin')", lambda: anomaly.noise_sampler("perlin"), names=("kind",))
case(V + ".anomaly", "noise_sampler('gaussian', generator=3)", lambda: anomaly.noise_sampler("gaussian", 3)(X, 0), names=("generator",))
case(V + ".anomaly", "noise_sampler('simplex', octaves=0)", lambda: anomaly.noise_sampler("simplex", octaves=0)(X, 0), names=("octaves",))
case(V + ".anomaly", "noise_sampler('simplex', frequency=-1)", lambda: anomaly.noise_sampler("simplex", frequency=-1.0)(X, 0), names=("frequency",))
case(V + ".anomaly", "reconstruct(t_star=nan)", lambda: anomaly.reconstruct(PLAIN, PROC, X1, NAN, noise=NS, steps=1), names=("t_star",))
case(V + ".anomaly", "reconstruct(t_star=5000) (DiscreteVP 0..999)", lambda: anomaly.reconstruct(PLAIN, PROC, X1, 5000.0, noise=NS, steps=1), names=("t_star",))
case(V + ".anomaly", "reconstruct(t_star=0.3) on DiscreteVP 0..999 (fraction given, index expected; arguable)", lambda: anomaly.reconstruct(PLAIN, PROC, X1, 0.3, noise=NS, steps=1), names=("t_star",))
case(V + ".anomaly", "reconstruct(noise returning [1,...] for batch 2)", lambda: anomaly.reconstruct(PLAIN, PROC, X, 200.0, noise=lambda x, s: torch.randn(1, *x.shape[1:]), steps=1), names=("noise",))
case(V + ".anomaly", "reconstruct(noise returning NaN)", lambda: anomaly.reconstruct(PLAIN, PROC, X1, 200.0, noise=lambda x, s: torch.full_like(x, NAN), steps=1), names=("noise",))
case(V + ".anomaly", "anomaly_maps(batch=0)", lambda: anomaly.anomaly_maps(PLAIN, PROC, X1, 200.0, noise=NS, steps=1, batch=0), names=("batch",))
case(V + ".anomaly", "image_scores(maps, 'quantile', q='0.5')", lambda: anomaly.image_scores(torch.rand(2, 4, 4), "quantile", q="0.5"), names=("q",))
case(V + ".anomaly", "image_scores(maps, 'quantile', q=1)", lambda: anomaly.image_scores(torch.rand(2, 4, 4), "quantile", q=1.0), names=("q",))
case(V + ".anomaly", "image_scores(maps, 'mean', q=7) (q ignored)", lambda: anomaly.image_scores(torch.rand(2, 4, 4), "mean", q=7.0), names=("q",))
case(V + ".anomaly", "image_scores(maps int64)", lambda: anomaly.image_scores(torch.ones(2, 4, 4, dtype=torch.long)), names=("maps",))
case(V + ".anomaly", "image_scores(maps [N,C,H,W] rank 4)", lambda: anomaly.image_scores(torch.rand(2, 1, 4, 4)), names=("maps",))
case(V + ".anomaly", "image_scores(maps with 1e30)", lambda: anomaly.image_scores(torch.full((2, 4, 4), 1e30)), kind="edge", silent_if=finite)
case(V + ".anomaly", "ConvAutoencoder(width=0)", lambda: anomaly.ConvAutoencoder(1, 0), names=("width",))
case(V + ".anomaly", "train_autoencoder(x 6x6)", lambda: anomaly.train_autoencoder(torch.rand(2, 1, 6, 6), steps=1), names=("images",))
case(V + ".anomaly", "train_autoencoder(x, lr=nan)", lambda: anomaly.train_autoencoder(X, steps=1, lr=NAN), names=("lr",))
case(V + ".anomaly", "train_autoencoder(x, width=8.5) (kwargs to the net)", lambda: anomaly.train_autoencoder(X, steps=1, width=8.5), names=("width",))
case(V + ".anomaly", "train_autoencoder(x, depth=3) (unknown kwarg)", lambda: anomaly.train_autoencoder(X, steps=1, depth=3), names=("depth",))
case(V + ".anomaly", "autoencoder_maps(ae 1-ch, images 3-ch)", lambda: anomaly.autoencoder_maps(anomaly.ConvAutoencoder(1, 8, 2), torch.rand(1, 3, 8, 8)), names=("images", "channel"))
case(V + ".anomaly", "synthetic_lesions(x, region float 0.5)", lambda: anomaly.synthetic_lesions(X, torch.full((2, 8, 8), 0.5)), names=("region",))
case(V + ".anomaly", "synthetic_lesions(x, region all zero)", lambda: anomaly.synthetic_lesions(X, torch.zeros(2, 8, 8)), names=("region",))
case(V + ".anomaly", "synthetic_lesions(x, region, intensity=2)", lambda: anomaly.synthetic_lesions(X, torch.ones(2, 8, 8), intensity=2.0), names=("intensity",))
case(V + ".anomaly", "synthetic_lesions(x, region, radius=(0.2, 0.1)) (high < low)", lambda: anomaly.synthetic_lesions(X, torch.ones(2, 8, 8), radius=(0.2, 0.1)), names=("radius",))
case(V + ".anomaly", "synthetic_lesions(x, region, generator=3)", lambda: anomaly.synthetic_lesions(X, torch.ones(2, 8, 8), generator=3), names=("generator",))
case(V + ".anomaly", "anoddpm_loss(noise=NaN-returning)", lambda: anomaly.anoddpm_loss(PLAIN, PROC, X, lambda x, s: torch.full_like(x, NAN)), names=("noise",))

# =============================================================================== vision: simplex
case(V + ".simplex", "simplex_noise((1,1,8,8), octaves=2.0)", lambda: simplex.simplex_noise((1, 1, 8, 8), octaves=2.0), names=("octaves",))
case(V + ".simplex", "simplex_noise((1,1,8,8), decay=nan)", lambda: simplex.simplex_noise((1, 1, 8, 8), decay=NAN), names=("decay",))
case(V + ".simplex", "simplex_noise((1,1,8,8), dtype=torch.int64)", lambda: simplex.simplex_noise((1, 1, 8, 8), dtype=torch.int64), names=("dtype",))
case(V + ".simplex", "simplex_noise((1,8,8)) rank 3", lambda: simplex.simplex_noise((1, 8, 8)), names=("shape",))
case(V + ".simplex", "simplex_noise((1,1,8,8), octaves=2000)", lambda: simplex.simplex_noise((1, 1, 8, 8), octaves=2000), names=("octaves",))
case(V + ".simplex", "SimplexNoise(generator=3)(x, 0)", lambda: simplex.SimplexNoise(generator=3)(X, 0), names=("generator",))

# =============================================================================== vision: metrics
case(V + ".metrics", "psnr(x, x NaN)", lambda: metrics.psnr(X, with_nan(X)), names=("target",))
case(V + ".metrics", "psnr(x, x[:1]) batch mismatch", lambda: metrics.psnr(X, X[:1]), names=("target", "shape"))
case(V + ".metrics", "psnr(x, x) identical", lambda: metrics.psnr(X, X), kind="edge", silent_if=finite)
case(V + ".metrics", "ssim(x 2x2, x 2x2)", lambda: metrics.ssim(torch.rand(1, 1, 2, 2), torch.rand(1, 1, 2, 2)), names=("ssim", "3x3"))
case(V + ".metrics", "masked_psnr(x, y, mask all zero)", lambda: metrics.masked_psnr(X, X.flip(0), torch.zeros(1, 1, 8, 8)), names=("mask",))
case(V + ".metrics", "iou_per_class(pred, target, num_classes=0)", lambda: metrics.iou_per_class(torch.zeros(4, dtype=torch.long), torch.zeros(4, dtype=torch.long), 0), names=("num_classes",))
case(V + ".metrics", "iou_per_class(pred float, target, 2)", lambda: metrics.iou_per_class(torch.zeros(4), torch.zeros(4, dtype=torch.long), 2), names=("pred",))
case(V + ".metrics", "miou(pred, target) where one class absent", lambda: metrics.miou(torch.zeros(4, dtype=torch.long), torch.zeros(4, dtype=torch.long), 2), kind="edge", silent_if=finite)
case(V + ".metrics", "dice(pred {0,2}, target)", lambda: metrics.dice(torch.tensor([0, 2]), torch.tensor([0, 1])), names=("pred", "binary"))
case(V + ".metrics", "dice(pred empty, target empty)", lambda: metrics.dice(torch.tensor([], dtype=torch.long), torch.tensor([], dtype=torch.long)), names=("pred", "empty"))
case(V + ".metrics", "best_dice(maps NaN, masks)", lambda: metrics.best_dice(with_nan(torch.rand(1, 4, 4)), torch.ones(1, 4, 4, dtype=torch.long)), names=("maps",))
case(V + ".metrics", "best_dice(maps, masks {0,3})", lambda: metrics.best_dice(torch.rand(1, 4, 4), torch.full((1, 4, 4), 3)), names=("masks", "binary"))
case(V + ".metrics", "auroc(scores NaN, labels)", lambda: metrics.auroc([NAN, 0.2, 0.3], [0, 1, 1]), names=("scores",))
case(V + ".metrics", "auroc(scores, labels length mismatch)", lambda: metrics.auroc([0.1, 0.2, 0.3], [0, 1]), names=("labels", "scores"))
case(V + ".metrics", "auroc(scores, labels {0,2})", lambda: metrics.auroc([0.1, 0.2], [0, 2]), names=("labels",))
case(V + ".metrics", "auprc(scores strings)", lambda: metrics.auprc(["a", "b"], [0, 1]), names=("scores",))
case(V + ".metrics", "accuracy(clf, x, labels, batch=0)", lambda: metrics.accuracy(CLF, X, torch.tensor([0, 1]), batch=0), names=("batch",))
case(V + ".metrics", "accuracy(clf 1-ch, x 3-ch, labels)", lambda: metrics.accuracy(CLF, torch.rand(2, 3, 8, 8), torch.tensor([0, 1])), names=("images", "channel"))
case(V + ".metrics", "frechet_distance(feats 1-D, feats 1-D)", lambda: metrics.frechet_distance(np.zeros(5), np.zeros(5)), names=("feat",))
case(V + ".metrics", "frechet_distance(feats with 1e30)", lambda: metrics.frechet_distance(np.full((3, 2), 1e30) * np.arange(1, 4)[:, None], np.random.rand(3, 2)), kind="edge", silent_if=finite)
case(V + ".metrics", "frechet_distance(list of str)", lambda: metrics.frechet_distance([["a"]], [["b"]]), names=("feat",))
case(V + ".metrics", "classifier_frechet_distance(clf, a, b single image each)", lambda: metrics.classifier_frechet_distance(CLF, X1, X1), names=("two", "sample", "images_a"))
case(V + ".metrics", "inpainting_scores(hole without truth)", lambda: metrics.inpainting_scores(CLF, X, torch.tensor([0, 1]), X, hole=MASK), names=("hole",))

# =============================================================================== vision: segment
case(V + ".segment", "FeatureExtractor(net, P, timesteps=[])", lambda: segment.FeatureExtractor(PLAIN, PROC, timesteps=[]), names=("timesteps",))
case(V + ".segment", "FeatureExtractor(net, P, timesteps=[5000])", lambda: segment.FeatureExtractor(PLAIN, PROC, timesteps=[5000]), names=("timesteps",))
case(V + ".segment", "FeatureExtractor(net, P, timesteps=[nan])", lambda: segment.FeatureExtractor(PLAIN, PROC, timesteps=[NAN]), names=("timesteps",))
case(V + ".segment", "FeatureExtractor(classifier, P)", lambda: segment.FeatureExtractor(CLF, PROC, timesteps=[50]), names=("net",))
case(V + ".segment", "FeatureExtractor(net, P, levels=[-1])", lambda: segment.FeatureExtractor(PLAIN, PROC, timesteps=[50], levels=[-1]), names=("levels",))
FE = segment.FeatureExtractor(PLAIN, PROC, timesteps=[50])
case(V + ".segment", "FeatureExtractor(...)(x 3-channel)", lambda: FE(torch.rand(1, 3, 8, 8)), names=("images", "channel"))
case(V + ".segment", "train_segmenter(fe, x, labels float, 2)", lambda: segment.train_segmenter(FE, X, torch.zeros(2, 8, 8), 2, n_models=1, epochs=1), names=("labels",))
case(V + ".segment", "train_segmenter(fe, x, labels [2,4,4], 2)", lambda: segment.train_segmenter(FE, X, torch.zeros(2, 4, 4, dtype=torch.long), 2, n_models=1, epochs=1), names=("labels",))
case(V + ".segment", "train_segmenter(fe, x, labels, 2, lr=inf)", lambda: segment.train_segmenter(FE, X, torch.zeros(2, 8, 8, dtype=torch.long), 2, n_models=1, epochs=1, lr=INF), names=("lr",))
case(V + ".segment", "train_segmenter(extractor=net)", lambda: segment.train_segmenter(PLAIN, X, torch.zeros(2, 8, 8, dtype=torch.long), 2), names=("extractor",))
case(V + ".segment", "train_unet_segmenter(x, labels, 2, steps=0)", lambda: segment.train_unet_segmenter(X, torch.zeros(2, 8, 8, dtype=torch.long), 2, steps=0), names=("steps",))

# =============================================================================== vision: nets
case(V + ".nets", "UNetConfig(base=0)", lambda: UNetConfig(base=0), names=("base",))
case(V + ".nets", "UNetConfig(mults=())", lambda: UNetConfig(mults=(), attention_levels=()), names=("mults",))
case(V + ".nets", "UNetConfig(dropout=1.0)", lambda: UNetConfig(dropout=1.0), names=("dropout",))
case(V + ".nets", "UNetConfig(groups=3) with base 32", lambda: UNetConfig(groups=3), names=("groups",))
case(V + ".nets", "UNetConfig(residual_scale=nan, residual=True, cond_channels=1)", lambda: UNetConfig(residual=True, cond_channels=1, residual_scale=NAN), names=("residual_scale",))
case(V + ".nets", "UNetConfig(num_classes=-1)", lambda: UNetConfig(num_classes=-1), names=("num_classes",), force="lumps three arguments, no 'got' value")
case(V + ".nets", "ClassifierConfig(num_classes=0)", lambda: ClassifierConfig(num_classes=0), names=("num_classes",))
case(V + ".nets", "ClassifierConfig(width=6)", lambda: ClassifierConfig(width=6), names=("width",))
case(V + ".nets", "UNet(...)(x, t=None)", lambda: PLAIN(X, None), names=("t",))
case(V + ".nets", "UNet(...)(x 3-channel, t)", lambda: PLAIN(torch.rand(1, 3, 8, 8), torch.zeros(1)), names=("x", "channel"))
case(V + ".nets", "UNet(num_classes=3)(x, t, y=tensor([7]))", lambda: GEN(X1, torch.zeros(1), y=torch.tensor([7])), names=("y",))
case(V + ".nets", "UNet(cond_channels=1)(x, t) without x_cond", lambda: SRN(X1, torch.zeros(1)), names=("x_cond",))
case(V + ".nets", "timestep_embedding(t, dim=3) odd dim", lambda: __import__("polydiff.vision.nets", fromlist=["x"]).timestep_embedding(torch.zeros(2), 3), names=("dim",))
save_net(PLAIN, WORK / "net")
(WORK / "net_bad").mkdir(exist_ok=True)
(WORK / "net_bad" / "config.json").write_text(json.dumps({"class": "UNet"}))
case(V + ".nets", "load_net(missing folder)", lambda: load_net(WORK / "nope"), names=("nope",))
case(V + ".nets", "load_net(folder with config only)", lambda: load_net(WORK / "net_bad"), names=("safetensors", "net_bad"))
net_cls = WORK / "net_cls"
shutil.copytree(WORK / "net", net_cls)
cfg = json.loads((net_cls / "config.json").read_text())
(net_cls / "config.json").write_text(json.dumps({**cfg, "class": "Transformer"}))
case(V + ".nets", "load_net(config.json class='Transformer')", lambda: load_net(net_cls), names=("class", "Transformer"))
net_emp = WORK / "net_empty"
shutil.copytree(WORK / "net", net_emp)
(net_emp / "config.json").write_text("")
case(V + ".nets", "load_net(empty config.json)", lambda: load_net(net_emp), names=("config.json",))
net_list = WORK / "net_list"
shutil.copytree(WORK / "net", net_list)
(net_list / "config.json").write_text("[1, 2]")
case(V + ".nets", "load_net(config.json is a JSON list)", lambda: load_net(net_list), names=("config.json",))
case(V + ".nets", "from_diffusers(missing folder)", lambda: __import__("polydiff.vision.nets", fromlist=["x"]).from_diffusers(WORK / "nope"), names=("nope",))

# =============================================================================== vision: image_files
case(V + ".image_files", "read_image(empty file)", lambda: image_files.read_image(WORK / "empty.png"), names=("empty.png",))
case(V + ".image_files", "read_image(truncated png)", lambda: image_files.read_image(WORK / "trunc.png"), names=("trunc.png",))
case(V + ".image_files", "read_image(rgb, channels=1)", lambda: image_files.read_image(RGB8, channels=1), names=("rgb8",))
case(V + ".image_files", "read_image(gray, channels=2)", lambda: image_files.read_image(IMG8, channels=2), names=("channels",))
case(V + ".image_files", "read_image(alpha<255)", lambda: image_files.read_image(APNG), names=("alpha.png",))
case(V + ".image_files", "read_mask(garbage)", lambda: image_files.read_mask(WORK / "garbage.png"), names=("garbage.png",))
case(V + ".image_files", "save_png(image NaN, path)", lambda: image_files.save_png(with_nan(X[0]), WORK / "nan.png"), names=("image", "nan"))
case(V + ".image_files", "save_png(image 0-255, path)", lambda: image_files.save_png(X[0] * 255, WORK / "big.png"), names=("image", "[0, 1]"))
case(V + ".image_files", "save_png(image [2,8,8], path)", lambda: image_files.save_png(torch.rand(2, 8, 8), WORK / "c2.png"), names=("image",))
case(V + ".image_files", "save_png(image, missing folder/x.png)", lambda: image_files.save_png(X[0], WORK / "no" / "dir" / "x.png"), names=("no/dir", "x.png", "folder"))
case(V + ".image_files", "png_files(missing folder)", lambda: image_files.png_files(WORK / "nope"), names=("nope",))

# =============================================================================== vision: train
from polydiff.vision import train as vtrain  # noqa: E402
case(V + ".train", "build_net('colourise')", lambda: vtrain.build_net("colourise"), names=("task",))
case(V + ".train", "build_net('generate', in_channels=0)", lambda: vtrain.build_net("generate", in_channels=0), names=("in_channels",), force="lumps three arguments, no 'got' value")
case(V + ".train", "make_loss('superres', P, factor=0) then its first call", lambda: vtrain.make_loss("superres", PROC, factor=0)(SRN, [X, torch.tensor([0, 1])], G()), names=("factor",))
case(V + ".train", "make_loss('anomaly', P, noise='pink') then its first call", lambda: vtrain.make_loss("anomaly", PROC, noise="pink")(PLAIN, [X, torch.tensor([0, 1])], G()), names=("noise",))
case(V + ".train", "make_loss('generate', P, p_uncond=2.0) then its first call", lambda: vtrain.make_loss("generate", PROC, p_uncond=2.0)(GEN, [X, torch.tensor([0, 1])], G()), names=("p_uncond",))
case(V + ".train", "make_loss('generate', P, noise='simplex') (noise only applies to 'anomaly')", lambda: vtrain.make_loss("generate", PROC, noise="simplex")(GEN, [X, torch.tensor([0, 1])], G()), names=("noise",))
case(V + ".train", "train('generate', x, labels, steps=0)", lambda: vtrain.train("generate", X, torch.tensor([0, 1]), steps=0), names=("steps",))
case(V + ".train", "train('generate', x NaN, labels, steps=1)", lambda: vtrain.train("generate", with_nan(X), torch.tensor([0, 1]), steps=1, batch_size=2, net_kwargs=None) if False else vtrain.train("generate", with_nan(X), torch.tensor([0, 1]), steps=1, batch_size=2), names=("images",))
case(V + ".train", "load_trained(missing dir)", lambda: vtrain.load_trained(WORK / "nope"), names=("nope",))
case(V + ".train", "load_images('cifar')", lambda: vtrain.load_images("cifar"), names=("dataset",))
case(V + ".train", "main(['--task','generate','--steps','-1'])", lambda: vtrain.main(["--task", "generate", "--steps", "-1", "--out", str(WORK / "tr")]), names=("--steps", "steps"))

# =============================================================================== vision: plots
from polydiff.vision import plots  # noqa: E402
case(V + ".plots", "save_grid(images rank 3, path)", lambda: plots.save_grid(torch.rand(2, 8, 8), WORK / "g.png"), names=("images",))
case(V + ".plots", "save_grid(images, path, ncol=0)", lambda: plots.save_grid(X, WORK / "g.png", ncol=0), names=("ncol",))

# =============================================================================== vision: pipelines
case(V + ".pipelines", "VisionGenerationPipeline(unet, P, (1,8,8), steps=2.0)", lambda: VisionGenerationPipeline(GEN, PROC, (1, 8, 8), steps=2.0), names=("steps",))
case(V + ".pipelines", "VisionGenerationPipeline(unet, P, (1,8.0,8))", lambda: VisionGenerationPipeline(GEN, PROC, (1, 8.0, 8)), names=("image_shape",))
case(V + ".pipelines", "VisionGenerationPipeline(unet, P, 8)", lambda: VisionGenerationPipeline(GEN, PROC, 8), names=("image_shape",))
case(V + ".pipelines", "VisionGenerationPipeline(unet, P, (1,8,8), guidance_scale=-1)", lambda: VisionGenerationPipeline(GEN, PROC, (1, 8, 8), guidance_scale=-1.0), names=("guidance_scale",))
case(V + ".pipelines", "VisionGenerationPipeline(unet, process='vp', ...)", lambda: VisionGenerationPipeline(GEN, "vp", (1, 8, 8)), names=("process",))
case(V + ".pipelines", "VisionGenerationPipeline(unconditional unet)", lambda: VisionGenerationPipeline(PLAIN, PROC, (1, 8, 8)), names=("unet",))
case(V + ".pipelines", "gen_pipe(torch.tensor([5])) labels >= classes", lambda: GP(torch.tensor([5]), steps=1), names=("labels",))
case(V + ".pipelines", "gen_pipe(torch.tensor([3])) (null class = unconditional, as generate() documents)", lambda: GP(torch.tensor([3]), steps=1), kind="edge", silent_if=finite)
case(V + ".pipelines", "gen_pipe(labels, guidance_scale=nan)", lambda: GP(torch.tensor([0]), steps=1, guidance_scale=NAN), names=("guidance_scale", "scale"))
case(V + ".pipelines", "gen_pipe(labels, guidance_scale=-3) (constructor refuses < 0)", lambda: GP(torch.tensor([0]), steps=1, guidance_scale=-3.0), names=("guidance_scale", "scale"))
case(V + ".pipelines", "gen_pipe(labels, guidance_scale='3')", lambda: GP(torch.tensor([0]), steps=1, guidance_scale="3"), names=("guidance_scale", "scale"))
case(V + ".pipelines", "gen_pipe(labels, steps=0)", lambda: GP(torch.tensor([0]), steps=0), names=("steps",))
case(V + ".pipelines", "gen_pipe(labels, generator=7)", lambda: GP(torch.tensor([0]), steps=1, generator=7), names=("generator",))
case(V + ".pipelines", "gen_pipe(np.array([0,1]))", lambda: GP(np.array([0, 1]), steps=1), names=("labels",))
case(V + ".pipelines", "SuperResolutionPipeline(unet, P, factor=1)", lambda: SuperResolutionPipeline(SRN, PROC, 1), names=("factor",))
case(V + ".pipelines", "SuperResolutionPipeline(unet, P, 2, consistent='yes')", lambda: SuperResolutionPipeline(SRN, PROC, 2, consistent="yes"), names=("consistent",))
case(V + ".pipelines", "SuperResolutionPipeline(gen unet)", lambda: SuperResolutionPipeline(GEN, PROC, 2), names=("unet",))
case(V + ".pipelines", "sr_pipe(lowres 0-255)", lambda: SRP(LOW * 255, steps=1), names=("lowres",))
case(V + ".pipelines", "sr_pipe(lowres [1,4,4] rank 3)", lambda: SRP(LOW[0], steps=1), names=("lowres",))
case(V + ".pipelines", "sr_pipe(lowres, callback='x')", lambda: SRP(LOW, steps=1, callback="x"), names=("callback",))
case(V + ".pipelines", "sr_pipe(lowres, rtol=5) (unknown solver option for ddim)", lambda: SRP(LOW, steps=1, rtol=5.0), names=("rtol",))
case(V + ".pipelines", "sr_pipe(lowres, guidance=123) (bad solver option)", lambda: SRP(LOW, steps=1, guidance=123), names=("guidance",))
case(V + ".pipelines", "InpaintingPipeline(unet, P, (1,8,8), resample=0)", lambda: InpaintingPipeline(PLAIN, PROC, (1, 8, 8), resample=0), names=("resample",))
case(V + ".pipelines", "InpaintingPipeline(unet, P, (3,8,8)) channels differ from unet", lambda: InpaintingPipeline(PLAIN, PROC, (3, 8, 8)), names=("image_shape", "channel"))
case(V + ".pipelines", "InpaintingPipeline(unet, P, (1,8,8), clip=1)", lambda: InpaintingPipeline(PLAIN, PROC, (1, 8, 8), clip=1), names=("clip",))
case(V + ".pipelines", "inp_pipe(images, mask 1=fill convention inverted: all ones)", lambda: INP(X1, torch.ones(1, 1, 8, 8), steps=1), names=("mask",))
case(V + ".pipelines", "inp_pipe(images, mask 0/255)", lambda: INP(X1, MASK * 255, steps=1), names=("mask",))
case(V + ".pipelines", "inp_pipe(images 16x16) other size than image_shape (documented OK)", lambda: INP(torch.rand(1, 1, 16, 16), torch.ones(1, 1, 16, 16).index_fill_(2, torch.tensor([3]), 0), steps=1), kind="edge", silent_if=finite)
case(V + ".pipelines", "inp_pipe.schedule(steps=0)", lambda: INP.schedule(steps=0), names=("steps",))
case(V + ".pipelines", "inp_pipe.schedule(jump_length=-3)", lambda: INP.schedule(jump_length=-3), names=("jump_length",))
case(V + ".pipelines", "inp_pipe(images, mask, jump_length=2.5)", lambda: INP(X1, MASK, steps=2, jump_length=2.5), names=("jump_length",))
case(V + ".pipelines", "VisionGenerationPipeline.from_pretrained(sr folder)", lambda: VisionGenerationPipeline.from_pretrained(WORK / "sr"), names=("VisionGenerationPipeline", "SuperResolution", "class"))
case(V + ".pipelines", "InpaintingPipeline.from_pretrained(gen folder)", lambda: InpaintingPipeline.from_pretrained(WORK / "gen"), names=("InpaintingPipeline", "class"))
case(V + ".pipelines", "SuperResolutionPipeline.from_pretrained(missing)", lambda: SuperResolutionPipeline.from_pretrained(WORK / "nope"), names=("nope",))
case(V + ".pipelines", "VisionGenerationPipeline.from_pretrained(a file)", lambda: VisionGenerationPipeline.from_pretrained(IMG8), names=("img8",))
d = rewrite(copy_pipe("gen", "gen_nokey"), "sampler", lambda c: c.pop("guidance_scale"))
case(V + ".pipelines", "from_pretrained(sampler/config.json without guidance_scale)", lambda: VisionGenerationPipeline.from_pretrained(d), names=("guidance_scale",))
d = rewrite(copy_pipe("gen", "gen_steps"), "sampler", lambda c: c.update(steps=-2))
case(V + ".pipelines", "from_pretrained(sampler steps=-2)", lambda: VisionGenerationPipeline.from_pretrained(d), names=("steps",))
d = rewrite(copy_pipe("gen", "gen_shape"), "sampler", lambda c: c.update(image_shape=[1, 8]))
case(V + ".pipelines", "from_pretrained(sampler image_shape=[1,8])", lambda: VisionGenerationPipeline.from_pretrained(d), names=("image_shape",))
d = rewrite(copy_pipe("gen", "gen_proc"), "process", lambda c: c.pop("betas", None) or c.pop("T", None) or c.clear())
case(V + ".pipelines", "from_pretrained(process/config.json missing a key)", lambda: VisionGenerationPipeline.from_pretrained(d), names=("process",))
d = rewrite(copy_pipe("gen", "gen_unet"), "unet", lambda c: c.update(base=16))
case(V + ".pipelines", "from_pretrained(unet config base=16 vs 8-wide weights)", lambda: VisionGenerationPipeline.from_pretrained(d), names=("unet", "shape"))
d = rewrite(copy_pipe("sr", "sr_factor"), "sampler", lambda c: c.update(factor=2.5))
case(V + ".pipelines", "SR from_pretrained(sampler factor=2.5)", lambda: SuperResolutionPipeline.from_pretrained(d), names=("factor",))
d = rewrite(copy_pipe("sr", "sr_pred"), "sampler", lambda c: c.update(prediction="x0"))
case(V + ".pipelines", "SR from_pretrained(sampler prediction 'x0' vs unet 'eps')", lambda: SuperResolutionPipeline.from_pretrained(d), names=("prediction",))
d = copy_pipe("inp", "inp_trunc")
wf = next((d / "unet").glob("*.safetensors"))
wf.write_bytes(wf.read_bytes()[:100])
case(V + ".pipelines", "Inpainting from_pretrained(truncated unet weights)", lambda: InpaintingPipeline.from_pretrained(d), names=("safetensors", "unet"))
d = copy_pipe("inp", "inp_noidx")
(d / INDEX).write_text("{not json")
case(V + ".pipelines", f"Inpainting from_pretrained({INDEX} garbage)", lambda: InpaintingPipeline.from_pretrained(d), names=(INDEX,))
case(V + ".pipelines", "gen_pipe.save_pretrained(path, dtype=torch.int8)", lambda: GP.save_pretrained(WORK / "g8", dtype=torch.int8), names=("dtype",))

# =============================================================================== vision: commands
GM, SM, IM = str(WORK / "gen"), str(WORK / "sr"), str(WORK / "inp")
case(V + ".commands", "generate --labels 0 --per-label 0", lambda: cli(["generate", "--model", GM, "--labels", "0", "--per-label", "0", "--out", O, "--no-progress"]), names=("--per-label",))
case(V + ".commands", "generate --labels '' ", lambda: cli(["generate", "--model", GM, "--labels", "", "--out", O, "--no-progress"]), names=("--labels",))
case(V + ".commands", "generate --labels -1", lambda: cli(["generate", "--model", GM, "--labels=-1", "--out", O, "--no-progress"]), names=("--labels",))
case(V + ".commands", "generate --guidance nan", lambda: cli(["generate", "--model", GM, "--labels", "0", "--guidance", "nan", "--out", O, "--no-progress"]), names=("--guidance",))
case(V + ".commands", "generate --steps 0", lambda: cli(["generate", "--model", GM, "--labels", "0", "--steps", "0", "--out", O, "--no-progress"]), names=("--steps",))
case(V + ".commands", "generate --seed -1", lambda: cli(["generate", "--model", GM, "--labels", "0", "--seed=-1", "--out", O, "--no-progress"]), names=("--seed",))
case(V + ".commands", "generate --solver rk4", lambda: cli(["generate", "--model", GM, "--labels", "0", "--solver", "rk4", "--out", O, "--no-progress"]), names=("--solver",))
case(V + ".commands", "generate --device cuda:7 (no GPU / bad index)", lambda: cli(["generate", "--model", GM, "--labels", "0", "--device", "cuda:7", "--out", O, "--steps", "1", "--no-progress"]), names=("--device",))
case(V + ".commands", "generate --device tpu", lambda: cli(["generate", "--model", GM, "--labels", "0", "--device", "tpu", "--out", O, "--steps", "1", "--no-progress"]), names=("--device",))
case(V + ".commands", "generate --model <superres pipeline>", lambda: cli(["generate", "--model", SM, "--labels", "0", "--out", O, "--no-progress"]), names=("--model",))
case(V + ".commands", "generate --out <existing file>", lambda: cli(["generate", "--model", GM, "--labels", "0", "--steps", "1", "--out", str(IMG8), "--no-progress"]), names=("--out",))
case(V + ".commands", "superres --input empty.png", lambda: cli(["superres", "--model", SM, "--input", str(WORK / "empty.png"), "--output", str(WORK / "o1.png"), "--no-progress"]), names=("--input",))
case(V + ".commands", "superres --input garbage.png", lambda: cli(["superres", "--model", SM, "--input", str(WORK / "garbage.png"), "--output", str(WORK / "o1.png"), "--no-progress"]), names=("--input",))
case(V + ".commands", "superres --input notes.txt", lambda: cli(["superres", "--model", SM, "--input", str(WORK / "notes.txt"), "--output", str(WORK / "o1.png"), "--no-progress"]), names=("--input",))
case(V + ".commands", "superres --input rgb.png (1-channel model)", lambda: cli(["superres", "--model", SM, "--input", str(RGB8), "--output", str(WORK / "o1.png"), "--no-progress"]), names=("--input",))
case(V + ".commands", "superres --input 7x7.png (x2 -> 14x14, divisible by the 2-level net)", lambda: cli(["superres", "--model", SM, "--input", str(IMG7), "--output", str(WORK / "o7.png"), "--steps", "1", "--no-progress"]), kind="edge")
case(V + ".commands", "superres --input emptydir", lambda: cli(["superres", "--model", SM, "--input", str(WORK / "emptydir"), "--output", str(WORK / "od"), "--no-progress"]), names=("--input",))
case(V + ".commands", "superres --output out.jpg", lambda: cli(["superres", "--model", SM, "--input", str(IMG4), "--output", str(WORK / "o.jpg"), "--no-progress"]), names=("--output",))
case(V + ".commands", "superres --output = --input", lambda: cli(["superres", "--model", SM, "--input", str(IMG4), "--output", str(IMG4), "--no-progress"]), names=("--output",))
case(V + ".commands", "superres --consistent maybe", lambda: cli(["superres", "--model", SM, "--input", str(IMG4), "--output", str(WORK / "o1.png"), "--consistent", "maybe"]), names=("--consistent",))
case(V + ".commands", "superres --model <inpaint pipeline>", lambda: cli(["superres", "--model", IM, "--input", str(IMG4), "--output", str(WORK / "o1.png"), "--no-progress"]), names=("--model",))
case(V + ".commands", "inpaint --mask missing", lambda: cli(["inpaint", "--model", IM, "--input", str(IMG8), "--mask", str(WORK / "nope.png"), "--output", str(WORK / "f.png"), "--no-progress"]), names=("--mask",))
case(V + ".commands", "inpaint --mask 4x4 for 8x8 image", lambda: cli(["inpaint", "--model", IM, "--input", str(IMG8), "--mask", str(MASK4), "--output", str(WORK / "f.png"), "--no-progress"]), names=("--mask",))
case(V + ".commands", "inpaint --mask all black (nothing to fill)", lambda: cli(["inpaint", "--model", IM, "--input", str(IMG8), "--mask", str(BLACK), "--output", str(WORK / "f.png"), "--no-progress"]), names=("--mask",))
case(V + ".commands", "inpaint --mask garbage.png", lambda: cli(["inpaint", "--model", IM, "--input", str(IMG8), "--mask", str(WORK / "garbage.png"), "--output", str(WORK / "f.png"), "--no-progress"]), names=("--mask",))
case(V + ".commands", "inpaint --mask alpha.png (transparent)", lambda: cli(["inpaint", "--model", IM, "--input", str(IMG8), "--mask", str(APNG), "--output", str(WORK / "f.png"), "--no-progress"]), names=("--mask",))
case(V + ".commands", "inpaint --output = --mask", lambda: cli(["inpaint", "--model", IM, "--input", str(IMG8), "--mask", str(MASKPNG), "--output", str(MASKPNG), "--no-progress"]), names=("--output",))
case(V + ".commands", "inpaint --resample 0", lambda: cli(["inpaint", "--model", IM, "--input", str(IMG8), "--mask", str(MASKPNG), "--output", str(WORK / "f.png"), "--resample", "0"]), names=("--resample",))
case(V + ".commands", "inpaint --jump-length 2.5", lambda: cli(["inpaint", "--model", IM, "--input", str(IMG8), "--mask", str(MASKPNG), "--output", str(WORK / "f.png"), "--jump-length", "2.5"]), names=("--jump-length",))
case(V + ".commands", "inpaint --input 7x7.png (2-level unet needs even sides)", lambda: cli(["inpaint", "--model", IM, "--input", str(IMG7), "--mask", str(png(WORK / "m7.png", np.pad(np.full((1, 1), 255, np.uint8), 3))), "--output", str(WORK / "f7.png"), "--steps", "1", "--no-progress"]), names=("--input",))
case(V + ".commands", "inpaint --jump-length 50 --steps 2 (jump > steps)", lambda: cli(["inpaint", "--model", IM, "--input", str(IMG8), "--mask", str(MASKPNG), "--output", str(WORK / "f.png"), "--steps", "2", "--jump-length", "50", "--resample", "2", "--no-progress"]), kind="edge")

# =============================================================================== robustness: purify
case(R + ".purify", "Purifier(net, P, t_star=0.2, dt=inf, steps=None)", lambda: rpur.Purifier(DEN, pc.VP(), t_star=0.2, dt=INF), names=("dt",))
case(R + ".purify", "Purifier(net, P, t_star=0.2, grid='exponential', steps=2)", lambda: rpur.Purifier(DEN, pc.VP(), t_star=0.2, steps=2, grid="exponential"), names=("grid",))
case(R + ".purify", "Purifier(net, P, t_star=np.float32(0.2), steps=2)", lambda: rpur.Purifier(DEN, pc.VP(), t_star=np.float32(0.2), steps=2), kind="edge", force="an in-range numpy float refused; the message says it must be in [0.001, 1.0] and got 0.2")
case(R + ".purify", "Purifier(net, P=DiscreteVP, t_star=0.2) (continuous t* on 0..999 process)", lambda: rpur.Purifier(DEN, PROC, t_star=0.2, steps=2), names=("t_star",))
case(R + ".purify", "Purifier(net, P, seed=-1)", lambda: rpur.Purifier(DEN, pc.VP(), t_star=0.2, steps=2, seed=-1), kind="edge")
case(R + ".purify", "Purifier(net, P, seed=1.5)", lambda: rpur.Purifier(DEN, pc.VP(), t_star=0.2, steps=2, seed=1.5), names=("seed",))
case(R + ".purify", "Purifier(net, P, solver_options={'eta': 50}, solver='ddim')", lambda: rpur.Purifier(DEN, pc.VP(), t_star=0.2, steps=2, solver="ddim", solver_options={"eta": 50})(X), names=("eta",))
case(R + ".purify", "Purifier(net, P, image_shape=(1,8))", lambda: rpur.Purifier(DEN, pc.VP(), t_star=0.2, steps=2, image_shape=(1, 8)), names=("image_shape",))
case(R + ".purify", "Purifier(net, P, prediction='noise')", lambda: rpur.Purifier(DEN, pc.VP(), t_star=0.2, steps=2, prediction="noise"), names=("prediction",))
case(R + ".purify", "Purifier(lambda x,t: x)", lambda: rpur.Purifier(lambda x, t: x), names=("net",))
case(R + ".purify", "purifier(x 0-255)", lambda: PUR(X * 255), names=("x",))
case(R + ".purify", "purifier(x float64 vs float32 weights)", lambda: PUR(X.double()), names=("dtype", "x"))
case(R + ".purify", "purifier(x 16x16 vs image_shape 8x8)", lambda: PUR(torch.rand(1, 1, 16, 16)), names=("x", "shape"))
case(R + ".purify", "purifier(np array)", lambda: PUR(X.numpy()), names=("x",))
case(R + ".purify", "purifier.purify(x, seeds=[1]) batch 2", lambda: PUR.purify(X, seeds=[1]), names=("seeds",))
case(R + ".purify", "purifier.purify(x, seeds=[-1, 2])", lambda: PUR.purify(X, seeds=[-1, 2]), names=("seeds",))
case(R + ".purify", "purifier.purify(x, seeds=torch.tensor([1,2]))", lambda: PUR.purify(X, seeds=torch.tensor([1, 2])), names=("seeds",))
case(R + ".purify", "purifier.purify(x, gradient='reinforce')", lambda: PUR.purify(X, "reinforce"), names=("gradient",))
case(R + ".purify", "purifier.reseed('3')", lambda: PUR.reseed("3"), names=("seed",))
case(R + ".purify", "Purifier(net with NaN output)(x)", lambda: rpur.Purifier(type("N", (torch.nn.Module,), {"forward": lambda s, x, t: torch.full_like(x, NAN)})(), pc.VP(), t_star=0.2, steps=2)(X), names=("model", "NaN"), accept=(FloatingPointError,))
case(R + ".purify", "PurifiedClassifier(pur, clf, repeats=0)", lambda: rpur.PurifiedClassifier(PUR, CLF, repeats=0), names=("repeats",))
case(R + ".purify", "PurifiedClassifier(pur, clf)(x NaN)", lambda: rpur.PurifiedClassifier(PUR, CLF)(with_nan(X)), names=("x",))
case(R + ".purify", "PurifiedClassifier(pur, 'clf')", lambda: rpur.PurifiedClassifier(PUR, "clf"), names=("classifier",))
case(R + ".purify", "tweedie_purifier(net, P, t_star=0)", lambda: rpur.tweedie_purifier(DEN, pc.VP(), t_star=0.0), names=("t_star",))
case(R + ".purify", "check_images(x bool)", lambda: rpur.check_images(X > 0.5), names=("x",))
case(R + ".purify", "check_images(x, shape=(1,8,8)) with x (2,1,8,8) ok", lambda: rpur.check_images(X, (1, 8, 8)), kind="edge")

# =============================================================================== robustness: gradients
case(R + ".gradients", "run_chain(step, x, n_steps=2.0)", lambda: rgrad.run_chain(lambda x, k: x, X, 2.0), names=("n_steps",))
case(R + ".gradients", "run_chain(step, x, True)", lambda: rgrad.run_chain(lambda x, k: x, X, True), names=("n_steps",))
case(R + ".gradients", "run_chain(step, x, 2, segment=0, mode='adjoint')", lambda: rgrad.run_chain(lambda x, k: x, X, 2, "adjoint", segment=0), names=("segment",))
case(R + ".gradients", "run_chain(step, x, 0) (no steps)", lambda: rgrad.run_chain(lambda x, k: x, X, 0), kind="edge")
case(R + ".gradients", "EOT(clf, n=0)", lambda: rgrad.EOT(CLF, 0), names=("n",))
case(R + ".gradients", "EOT(clf, reduce='mean')", lambda: rgrad.EOT(CLF, 2, reduce="mean"), names=("reduce",))
case(R + ".gradients", "bpda('fn', x)", lambda: rgrad.bpda("fn", X), names=("fn",))

# =============================================================================== robustness: attacks
case(R + ".attacks", "make_attack('pgd', clf, eps=8)", lambda: ratt.make_attack("pgd", CLF, eps=8), names=("eps",))
case(R + ".attacks", "make_attack('pgd', clf, eps=nan)", lambda: ratt.make_attack("pgd", CLF, eps=NAN), names=("eps",))
case(R + ".attacks", "make_attack('pgd', clf, eps=0.1, norm='Linf', alpha=-1)", lambda: ratt.make_attack("pgd", CLF, eps=0.1, alpha=-1.0), names=("alpha",))
case(R + ".attacks", "make_attack('pgd', clf, eps=0.1, norm='linf')", lambda: ratt.make_attack("pgd", CLF, eps=0.1, norm="linf"), names=("norm",))
case(R + ".attacks", "make_attack('pgd', clf, eps=0.1, n_classes=1)", lambda: ratt.make_attack("pgd", CLF, eps=0.1, n_classes=1), names=("n_classes",))
case(R + ".attacks", "make_attack('pgd', clf, eps=0.1, steps=1)(x, labels 3 for 3 logits)", lambda: ratt.make_attack("pgd", CLF, eps=0.1, steps=1)(X, torch.tensor([0, 3])), names=("label",))
case(R + ".attacks", "make_attack('pgd', clf, eps=0.1, steps=1)(x 0-255, y)", lambda: ratt.make_attack("pgd", CLF, eps=0.1, steps=1)(X * 255, torch.tensor([0, 1])), names=("images",))
case(R + ".attacks", "make_attack('pgd', clf, eps=0.1, steps=1)(x, y float)", lambda: ratt.make_attack("pgd", CLF, eps=0.1, steps=1)(X, torch.tensor([0.0, 1.0])), names=("labels",))
case(R + ".attacks", "make_attack('pgd', eps=0.1, seed=-1)", lambda: ratt.make_attack("pgd", CLF, eps=0.1, seed=-1), names=("seed",))
case(R + ".attacks", "reseed(clf, seed=None)", lambda: ratt.reseed(CLF, None), names=("seed",))
FAC = {"pgd": lambda m, s: ratt.make_attack("pgd", m, eps=0.1, steps=1, seed=s)}
case(R + ".attacks", "evaluate(clf, x, y, attacks={})", lambda: ratt.evaluate(CLF, X, torch.tensor([0, 1]), {}), names=("attacks",))
case(R + ".attacks", "evaluate(clf, x, y, attacks, seeds=3)", lambda: ratt.evaluate(CLF, X, torch.tensor([0, 1]), FAC, seeds=3), names=("seeds",))
case(R + ".attacks", "evaluate(clf, x, y, attacks, seeds=[])", lambda: ratt.evaluate(CLF, X, torch.tensor([0, 1]), FAC, seeds=[]), names=("seeds",))
case(R + ".attacks", "evaluate(clf, x, y=[0,1] list)", lambda: ratt.evaluate(CLF, X, [0, 1], FAC), names=("labels", "y"))
case(R + ".attacks", "evaluate(clf, x, y=[0,5]) 3 logits", lambda: ratt.evaluate(CLF, X, torch.tensor([0, 5]), FAC), names=("labels", "y"))
case(R + ".attacks", "evaluate(clf, x, y, attacks, level=1.0)", lambda: ratt.evaluate(CLF, X, torch.tensor([0, 1]), FAC, level=1.0), names=("level",))
case(R + ".attacks", "evaluate(clf, x, y, attacks={'pgd': 'pgd'})", lambda: ratt.evaluate(CLF, X, torch.tensor([0, 1]), {"pgd": "pgd"}), names=("attacks",))
case(R + ".attacks", "evaluate(model returning [B] scores)", lambda: ratt.evaluate(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 1), torch.nn.Flatten(0)), X, torch.tensor([0, 1]), FAC), names=("model", "logits"))
case(R + ".attacks", "evaluate(..., progress='print')", lambda: ratt.evaluate(CLF, X, torch.tensor([0, 1]), FAC, progress="print"), names=("progress",))
case(R + ".attacks", "evaluate(factory returning None)", lambda: ratt.evaluate(CLF, X, torch.tensor([0, 1]), {"x": lambda m, s: None}), names=("attack", "factory"))
case(R + ".attacks", "attack_batches(clf, x, y, idx, factory, 0, batch_size=0)", lambda: list(ratt.attack_batches(CLF, X, torch.tensor([0, 1]), torch.tensor([0, 1]), FAC["pgd"], 0, 0)), names=("batch_size",))
case(R + ".attacks", "attack_batches(clf, x, y, idx=[5] out of range)", lambda: list(ratt.attack_batches(CLF, X, torch.tensor([0, 1]), torch.tensor([5]), FAC["pgd"], 0, 2)), names=("idx",))

# =============================================================================== robustness: metrics / checks
case(R + ".metrics", "proportion_ci(3, 2)", lambda: rmet.proportion_ci(3, 2), names=("k",))
case(R + ".metrics", "proportion_ci(1, 2, level=0)", lambda: rmet.proportion_ci(1, 2, level=0.0), names=("level",))
case(R + ".metrics", "proportion_ci(1, 2, method='bayes')", lambda: rmet.proportion_ci(1, 2, method="bayes"), names=("method",))
case(R + ".metrics", "proportion_ci(nan, 2)", lambda: rmet.proportion_ci(NAN, 2), names=("k",))
case(R + ".metrics", "proportion_ci(True, 2)", lambda: rmet.proportion_ci(True, 2), names=("k",))
case(R + ".metrics", "accuracy(correct int tensor [1,0])", lambda: rmet.accuracy(torch.tensor([1, 0])), names=("correct",))
case(R + ".metrics", "accuracy(correct float probabilities)", lambda: rmet.accuracy(torch.tensor([0.9, 0.2])), names=("correct",))
case(R + ".metrics", "accuracy(correct [2,2] bool)", lambda: rmet.accuracy(torch.ones(2, 2, dtype=torch.bool)), names=("correct",))
case(R + ".metrics", "paired_difference(a, b different lengths)", lambda: rmet.paired_difference(torch.ones(3, dtype=torch.bool), torch.ones(2, dtype=torch.bool)), names=("a", "b"))
case(R + ".metrics", "paired_difference(a int, b int)", lambda: rmet.paired_difference(torch.ones(3, dtype=torch.long), torch.ones(3, dtype=torch.long)), names=("a",))
case(R + ".checks", "plateau(fn, steps=0)", lambda: rchk.plateau(lambda s, d: 0.5, 0), names=("steps",))
case(R + ".checks", "plateau(fn returning 1.5, 1)", lambda: rchk.plateau(lambda s, d: 1.5, 1), names=("robust_accuracy",))
case(R + ".checks", "plateau(fn returning nan, 1)", lambda: rchk.plateau(lambda s, d: NAN, 1), names=("robust_accuracy",))
case(R + ".checks", "plateau(fn returning 50 (percent), 1)", lambda: rchk.plateau(lambda s, d: 50.0, 1), names=("robust_accuracy",))
case(R + ".checks", "plateau(fn, 1, tol=nan)", lambda: rchk.plateau(lambda s, d: 0.5, 1, tol=NAN), names=("tol",))
case(R + ".checks", "plateau(fn, 8, max_steps=4)", lambda: rchk.plateau(lambda s, d: 0.5, 8, max_steps=4), names=("max_steps",))
case(R + ".checks", "masking_gap({'square': .5})", lambda: rchk.masking_gap({"square": 0.5}), names=("square",))
case(R + ".checks", "masking_gap({'pgd': .5, 'square': 'x'})", lambda: rchk.masking_gap({"pgd": 0.5, "square": "x"}), names=("square",))
case(R + ".checks", "strength_problems({'pgd': 90}, {'pgd': .9}) (percent vs fraction)", lambda: rchk.strength_problems({"pgd": 90}, {"pgd": 0.9}), names=("measured",))
case(R + ".checks", "strength_problems([('pgd',.5)], {})", lambda: rchk.strength_problems([("pgd", 0.5)], {}), names=("measured",))

# =============================================================================== robustness: nets / data / image_io / train
case(R + ".nets", "classifier(width=12)", lambda: rnets.classifier(width=12), names=("width",))
case(R + ".nets", "classifier(num_classes=1)", lambda: rnets.classifier(num_classes=1), names=("num_classes",))
case(R + ".nets", "denoiser(mults=(1,2,2,2)) (28 not divisible by 8)", lambda: rnets.denoiser(mults=(1, 2, 2, 2)), names=("mults",))
case(R + ".nets", "denoiser(mults=[1, 2.0])", lambda: rnets.denoiser(mults=[1, 2.0]), names=("mults",))
case(R + ".nets", "denoiser(base=12) (12 not divisible by groups 8)", lambda: rnets.denoiser(base=12), names=("base", "groups"))
case(R + ".nets", "denoiser(attention_levels=(5,))", lambda: rnets.denoiser(attention_levels=(5,)), names=("attention",))
case(R + ".nets", "load(missing)", lambda: rnets.load(WORK / "nope"), names=("nope",))
case(R + ".data", "load_images('cifar10')", lambda: rdata.load_images("cifar10"), names=("dataset",))
case(R + ".data", "load_images(n=0)", lambda: rdata.load_images(n=0), names=("n",))
case(R + ".data", "load_images(split='val', path=empty dir)", lambda: rdata.load_images("mnist", "val", path=WORK / "emptydir"), names=("split",))
case(R + ".image_io", "list_images(missing)", lambda: rio.list_images(WORK / "nope"), names=("nope",))
case(R + ".image_io", "list_images(folder of .txt)", lambda: rio.list_images(WORK / "txtdir"), names=("txtdir",))
case(R + ".image_io", "read_image(garbage.png, (1,8,8))", lambda: rio.read_image(WORK / "garbage.png", (1, 8, 8)), names=("garbage.png",))
case(R + ".image_io", "read_image(truncated png, (1,8,8))", lambda: rio.read_image(WORK / "trunc.png", (1, 8, 8)), names=("trunc.png",))
case(R + ".image_io", "read_image(img8.png, shape=(2,8,8))", lambda: rio.read_image(IMG8, (2, 8, 8)), names=("channel", "img8"), force="garbled: 'the model takes 2 images', advises convert('RGB')")
case(R + ".image_io", "read_image(str path)", lambda: rio.read_image(str(IMG8), (1, 8, 8)), kind="edge")
case(R + ".image_io", "write_png(image NaN)", lambda: rio.write_png(with_nan(X[0]), WORK / "rn.png"), names=("image", "nan"))
case(R + ".image_io", "write_png(image 0-255)", lambda: rio.write_png(X[0] * 255, WORK / "rb.png"), names=("image", "[0, 1]"))
from polydiff.robustness import train as rtrain  # noqa: E402
from polydiff.core.training import TrainConfig  # noqa: E402
case(R + ".train", "train_classifier(x, y float, cfg)", lambda: rtrain.train_classifier(X, torch.tensor([0.0, 1.0]), TrainConfig(steps=1, batch_size=2)), names=("y", "label"))
case(R + ".train", "train_classifier(x 0-255, y, cfg)", lambda: rtrain.train_classifier(X * 255, torch.tensor([0, 1]), TrainConfig(steps=1, batch_size=2)), names=("x",))
case(R + ".train", "train_classifier(x, y, cfg, adversarial=True, eps=8)", lambda: rtrain.train_classifier(X, torch.tensor([0, 1]), TrainConfig(steps=1, batch_size=2), adversarial=True, eps=8.0), names=("eps",))
case(R + ".train", "train_classifier(x, y, cfg, eps_ramp=2)", lambda: rtrain.train_classifier(X, torch.tensor([0, 1]), TrainConfig(steps=1, batch_size=2), adversarial=True, eps_ramp=2.0), names=("eps_ramp",))
case(R + ".train", "train_classifier(x, y, cfg={'steps':1})", lambda: rtrain.train_classifier(X, torch.tensor([0, 1]), {"steps": 1}), names=("cfg",))
case(R + ".train", "train_diffusion(x NaN, cfg)", lambda: rtrain.train_diffusion(with_nan(X), TrainConfig(steps=1, batch_size=2)), names=("x",))
case(R + ".train", "main(['adversarial','--eps','-1','--n-train','4','--steps','1'])", lambda: rtrain.main(["adversarial", "--eps", "-1", "--n-train", "4", "--steps", "1", "--batch-size", "2", "--out", str(WORK / "rt")]), names=("--eps", "eps"))
case(R + ".train", "main(['classifier','--n-train','0'])", lambda: rtrain.main(["classifier", "--n-train", "0", "--steps", "1", "--out", str(WORK / "rt0")]), names=("--n-train",))
case(R + ".train", "main(['classifier','--eps','-1']) (eps unused by a plain classifier)", lambda: rtrain.main(["classifier", "--eps", "-1", "--n-train", "4", "--steps", "1", "--batch-size", "2", "--out", str(WORK / "rt1")]), names=("--eps", "eps"))

# =============================================================================== robustness: pipelines
case(R + ".pipelines", "PurificationPipeline(den, clf, image_shape=(1,7,7))", lambda: PurificationPipeline(DEN, CLF, pc.VP(), image_shape=(1, 7, 7), steps=2), names=("image_shape",))
case(R + ".pipelines", "PurificationPipeline(clf, den) swapped", lambda: PurificationPipeline(CLF, DEN), names=("denoiser",))
case(R + ".pipelines", "PurificationPipeline(den, clf, class_names=['a','a','b'])", lambda: PurificationPipeline(DEN, CLF, image_shape=(1, 8, 8), steps=2, class_names=["a", "a", "b"]), names=("class_names",))
case(R + ".pipelines", "PurificationPipeline(den, clf, class_names='abc')", lambda: PurificationPipeline(DEN, CLF, image_shape=(1, 8, 8), steps=2, class_names="abc"), names=("class_names",))
case(R + ".pipelines", "PurificationPipeline(den, clf, t_star=2.0)", lambda: PurificationPipeline(DEN, CLF, image_shape=(1, 8, 8), steps=2, t_star=2.0), names=("t_star",))
case(R + ".pipelines", "PurificationPipeline(den, clf, eot_iter=0)", lambda: PurificationPipeline(DEN, CLF, image_shape=(1, 8, 8), steps=2, eot_iter=0), names=("eot_iter",))
case(R + ".pipelines", "PurificationPipeline(den, clf, gradient='adjoint', solver='dpmpp_2m')", lambda: PurificationPipeline(DEN, CLF, image_shape=(1, 8, 8), steps=2, gradient="adjoint", solver="dpmpp_2m"), names=("gradient",))
case(R + ".pipelines", "PurificationPipeline(den, clf, process=DiscreteVP) default t*=0.1 (index scale)", lambda: PurificationPipeline(DEN, CLF, PROC, image_shape=(1, 8, 8), steps=2), names=("t_star",))
case(R + ".pipelines", "rp(x, seed=-1)", lambda: RP(X, seed=-1), names=("seed",))
case(R + ".pipelines", "rp(x, seed=1.5)", lambda: RP(X, seed=1.5), names=("seed",))
case(R + ".pipelines", "rp(x, seed=[1])  batch 2", lambda: RP(X, seed=[1]), names=("seed",))
case(R + ".pipelines", "rp(x, seed=torch.Generator())", lambda: RP(X, seed=torch.Generator()), names=("seed",))
case(R + ".pipelines", "rp(x, repeats=0)", lambda: RP(X, repeats=0), names=("repeats",))
case(R + ".pipelines", "rp(x, t_star=nan)", lambda: RP(X, t_star=NAN), names=("t_star",))
case(R + ".pipelines", "rp(x, steps=2.5)", lambda: RP(X, steps=2.5), names=("steps",))
case(R + ".pipelines", "rp(x 0-255)", lambda: RP(X * 255), names=("x",))
case(R + ".pipelines", "rp(x [1,8,8] rank 3)", lambda: RP(X[0]), names=("x",))
case(R + ".pipelines", "rp(x 3-channel)", lambda: RP(torch.rand(1, 3, 8, 8)), names=("x", "shape"))
case(R + ".pipelines", "rp(torch.empty(0,1,8,8))", lambda: RP(torch.empty(0, 1, 8, 8)), names=("x",))
case(R + ".pipelines", "rp.purified_classifier(repeats=0)", lambda: RP.purified_classifier(repeats=0), names=("repeats",))
case(R + ".pipelines", "PurificationPipeline.from_pretrained(vision gen folder)", lambda: PurificationPipeline.from_pretrained(WORK / "gen"), names=("PurificationPipeline", "class"))
d = rewrite(copy_pipe("pur", "pur_range"), "purifier", lambda c: c.update(model_range=[0, 1]))
case(R + ".pipelines", "from_pretrained(purifier model_range=[0,1])", lambda: PurificationPipeline.from_pretrained(d), names=("model_range",))
d = rewrite(copy_pipe("pur", "pur_miss"), "purifier", lambda c: c.pop("repeats"))
case(R + ".pipelines", "from_pretrained(purifier without repeats)", lambda: PurificationPipeline.from_pretrained(d), names=("repeats",))
d = rewrite(copy_pipe("pur", "pur_cls"), "classifier", lambda c: c.update({"class": "UNet"}))
case(R + ".pipelines", "from_pretrained(classifier config class 'UNet')", lambda: PurificationPipeline.from_pretrained(d), names=("classifier",))
d = rewrite(copy_pipe("pur", "pur_names"), "purifier", lambda c: c.update(class_names=["a", "b"]))
case(R + ".pipelines", "from_pretrained(class_names of 2 for 3 classes)", lambda: PurificationPipeline.from_pretrained(d), names=("class_names",))
d = rewrite(copy_pipe("pur", "pur_pred"), "purifier", lambda c: c.update(prediction="v"))
case(R + ".pipelines", "from_pretrained(purifier prediction 'v' vs denoiser 'eps')", lambda: PurificationPipeline.from_pretrained(d), names=("prediction",))
save_net(CLF, WORK / "clf_run")
save_net(DEN, WORK / "den_run")
case(R + ".pipelines", "from_run(classifier_dir, diffusion_dir) swapped", lambda: PurificationPipeline.from_run(WORK / "clf_run", WORK / "den_run", image_shape=(1, 8, 8), steps=2), names=("config.json", "Classifier", "UNet"))
case(R + ".pipelines", "from_run(den, clf, t_sar=0.1) (typo kwarg)", lambda: PurificationPipeline.from_run(WORK / "den_run", WORK / "clf_run", image_shape=(1, 8, 8), steps=2, t_sar=0.1), names=("t_sar",))

# =============================================================================== robustness: commands
PM = str(WORK / "pur")
INDIR = WORK / "rin"
INDIR.mkdir()
png(INDIR / "a.png", (np.random.default_rng(5).random((8, 8)) * 255).astype(np.uint8))
CSV = str(WORK / "p.csv")
base = ["purify", "--model", PM, "--no-progress"]
case(R + ".commands", "purify --input missing", lambda: cli(base + ["--input", str(WORK / "nope"), "--predictions", CSV]), names=("--input",))
case(R + ".commands", "purify --input emptydir", lambda: cli(base + ["--input", str(WORK / "emptydir"), "--predictions", CSV]), names=("--input",))
case(R + ".commands", "purify --input garbage.png", lambda: cli(base + ["--input", str(WORK / "garbage.png"), "--predictions", CSV]), names=("--input",))
case(R + ".commands", "purify --input empty.png", lambda: cli(base + ["--input", str(WORK / "empty.png"), "--predictions", CSV]), names=("--input",))
case(R + ".commands", "purify --input notes.txt (a file, not an image)", lambda: cli(base + ["--input", str(WORK / "notes.txt"), "--predictions", CSV]), names=("--input",))
case(R + ".commands", "purify --input rgb8.png (grayscale model)", lambda: cli(base + ["--input", str(RGB8), "--predictions", CSV]), names=("--input",))
case(R + ".commands", "purify --input img4.png (4x4 vs 8x8)", lambda: cli(base + ["--input", str(IMG4), "--predictions", CSV]), names=("--input",))
case(R + ".commands", "purify --input alpha.png", lambda: cli(base + ["--input", str(APNG), "--predictions", CSV]), names=("--input",))
case(R + ".commands", "purify --t-star 5", lambda: cli(base + ["--input", str(INDIR), "--predictions", CSV, "--t-star", "5"]), names=("--t-star",))
case(R + ".commands", "purify --t-star nan", lambda: cli(base + ["--input", str(INDIR), "--predictions", CSV, "--t-star", "nan"]), names=("--t-star",))
case(R + ".commands", "purify --repeats 0", lambda: cli(base + ["--input", str(INDIR), "--predictions", CSV, "--repeats", "0"]), names=("--repeats",))
case(R + ".commands", "purify --batch-size 1.5", lambda: cli(base + ["--input", str(INDIR), "--predictions", CSV, "--batch-size", "1.5"]), names=("--batch-size",))
case(R + ".commands", "purify --scores softmax", lambda: cli(base + ["--input", str(INDIR), "--predictions", CSV, "--scores", "softmax"]), names=("--scores",))
case(R + ".commands", "purify --predictions <a folder>", lambda: cli(base + ["--input", str(INDIR), "--predictions", str(WORK)]), names=("--predictions",))
case(R + ".commands", "purify --predictions in missing folder", lambda: cli(base + ["--input", str(INDIR), "--predictions", str(WORK / "no" / "p.csv")]), names=("--predictions",))
case(R + ".commands", "purify --output <existing file>", lambda: cli(base + ["--input", str(INDIR), "--output", str(IMG8)]), names=("--output",))
case(R + ".commands", "purify --output = --input folder", lambda: cli(base + ["--input", str(INDIR), "--output", str(INDIR)]), names=("--output",))
case(R + ".commands", "purify --model <vision gen pipeline>", lambda: cli(base[:2] + [GM, "--input", str(INDIR), "--predictions", CSV]), names=("--model",))
case(R + ".commands", "purify --predictions preds.txt (not .csv; accepted?)", lambda: cli(base + ["--input", str(INDIR), "--predictions", str(WORK / "p.txt"), "--steps", "1"]), kind="edge")
case(R + ".commands", "purify --device cuda (none available)", lambda: cli(base + ["--input", str(INDIR), "--predictions", CSV, "--device", "cuda"]), names=("--device",))
case(R + ".commands", "purify --device banana", lambda: cli(base + ["--input", str(INDIR), "--predictions", CSV, "--device", "banana"]), names=("--device",))

# =============================================================================== extra NaN / inf / mismatch
case(V + ".metrics", "masked_psnr(x, y, mask NaN)", lambda: metrics.masked_psnr(X, X.flip(0), with_nan(MASK)), names=("mask",))
case(V + ".metrics", "accuracy(clf, images inf, labels)", lambda: metrics.accuracy(CLF, with_nan(X, INF), torch.tensor([0, 1])), names=("images",))
case(V + ".metrics", "best_dice(maps, masks float with NaN)", lambda: metrics.best_dice(torch.rand(1, 4, 4), with_nan(torch.ones(1, 4, 4))), names=("masks",))
case(V + ".metrics", "inpainting_scores(clf, completed NaN, labels, real)", lambda: metrics.inpainting_scores(CLF, with_nan(X), torch.tensor([0, 1]), X), names=("completed",))
case(V + ".anomaly", "synthetic_lesions(x, region NaN)", lambda: anomaly.synthetic_lesions(X, with_nan(torch.ones(2, 8, 8))), names=("region",))
case(V + ".inpaint", "exemplar_fill(x, mask, exemplars NaN)", lambda: inpaint.exemplar_fill(X1, MASK, with_nan(torch.rand(3, 1, 8, 8))), names=("exemplars",))
case(V + ".segment", "FeatureExtractor(classifier, P)(x) (first call)", lambda: segment.FeatureExtractor(CLF, PROC, timesteps=[50])(X), names=("net",))
case(V + ".pipelines", "inp_pipe(3-channel images) on 1-channel unet", lambda: INP(torch.rand(1, 3, 8, 8), MASK, steps=1), names=("images", "channel"))
case(V + ".pipelines", "sr_pipe(lowres 3-channel) on 1-channel unet", lambda: SRP(torch.rand(1, 3, 4, 4), steps=1), names=("lowres", "channel"))
case(R + ".attacks", "evaluate(clf, x inf, y, attacks)", lambda: ratt.evaluate(CLF, with_nan(X, INF), torch.tensor([0, 1]), FAC), names=("x",))
case(R + ".metrics", "proportion_ci(1, inf)", lambda: rmet.proportion_ci(1, INF), names=("n",))
case(R + ".pipelines", "rp(x with inf)", lambda: RP(with_nan(X, INF)), names=("x",))
case(R + ".gradients", "EOT(module dropping rows, 2, batched=True)(x)", lambda: rgrad.EOT(type("D", (torch.nn.Module,), {"forward": lambda s, x: CLF(x[:1])})(), 2, batched=True)(X), names=("batched", "rows"))
case(R + ".gradients", "EOT(module dropping rows, 2, batched=False)(x)", lambda: rgrad.EOT(type("D", (torch.nn.Module,), {"forward": lambda s, x: CLF(x[:1])})(), 2)(X), names=("rows", "module"))
case(R + ".purify", "Purifier(..., solver='ddim', gradient='adjoint')(x requires_grad)", lambda: rpur.Purifier(DEN, pc.VP(), t_star=0.2, steps=2, solver="ddim", gradient="adjoint", image_shape=(1, 8, 8))(X.clone().requires_grad_()), kind="edge", silent_if=finite)

print()
print("COUNTS " + "  ".join(f"{k}={v}" for k, v in sorted(COUNTS.items())) + f"  total={sum(COUNTS.values())}")
shutil.rmtree(WORK, ignore_errors=True)

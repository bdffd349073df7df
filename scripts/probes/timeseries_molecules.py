"""Bad-input / edge-case probe of polydiff.timeseries and polydiff.molecules.

Run: OMP_NUM_THREADS=1 TQDM_DISABLE=1 .venv/bin/python scripts/probes/timeseries_molecules.py
Prints `CLASS | module | call | outcome` per case, then counts.
CLASS: tmD (named ValueError/TypeError/FileNotFoundError/documented subclass or a SystemExit
naming the flag, raised by polydiff itself, message names the argument), VAGUE, SILENT, OK-EDGE.
"""
import contextlib
import hashlib
import io
import json
import os
import shutil
import sys
import tempfile
import traceback
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

import numpy as np
import torch

torch.set_num_threads(1)
warnings.simplefilter("ignore")

from polydiff.core.pipeline import INDEX, PipelineError  # noqa: E402

try:
    from polydiff.core.training.checkpoint import CheckpointError  # noqa: E402
except Exception:  # pragma: no cover
    CheckpointError = PipelineError
from polydiff.timeseries.range_guard import OutOfRangeError  # noqa: E402

import polydiff.timeseries as _pt
ROOT = Path(_pt.__file__).resolve().parent  # polydiff/timeseries; its parent is the package
NAMED = (ValueError, TypeError, FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError,
         PipelineError, CheckpointError, OutOfRangeError, FloatingPointError)
RAW = (KeyError, AttributeError, IndexError, ZeroDivisionError, RuntimeError, OverflowError, OSError)
TMP = Path(tempfile.mkdtemp(prefix="probe_tm_"))
COUNTS: dict[str, int] = {}
ROWS: list[tuple[str, str, str, str]] = []
import re  # noqa: E402


def _own_frame(tb) -> bool:
    """Was the exception raised by a line of polydiff (not numpy/torch/rdkit/stdlib)?"""
    last = traceback.extract_tb(tb)[-1] if tb is not None else None
    if last is None:
        return False
    f = str(Path(last.filename).resolve())
    return f.startswith(str(ROOT.parent)) and "site-packages" not in f and ".venv" not in f


def run(module: str, call: str, fn, kind: str = "bad", need: str | None = None, check=None):
    """kind: 'bad' (must be refused), 'edge' (legitimate; a clear refusal is tmD) or 'legit' (an
    ordinary call that must work: any exception is VAGUE). need: regex the message must match
    (the argument/file name). check(result) -> None or a string describing a silent fault."""
    err = io.StringIO()
    out = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out), warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            res = fn()
        wmsg = "; ".join(sorted({str(x.message)[:80] for x in w}))[:160]
    except SystemExit as e:
        msg = str(e.code) if not isinstance(e.code, int) else err.getvalue().strip().splitlines()[-1:] or [""]
        msg = msg if isinstance(msg, str) else msg[0]
        ok = "--" in msg or "argument" in msg
        if need and not re.search(need, msg, re.S):
            ok = False
        if kind == "legit":
            ok = False
        cls = "tmD" if ok else "VAGUE"
        return _emit(cls, module, call, f"SystemExit: {msg[:230]}")
    except BaseException as e:  # noqa: BLE001
        tb = e.__traceback__
        msg = f"{type(e).__name__}: {str(e)}".replace("\n", " ")
        own = _own_frame(tb)
        named = isinstance(e, NAMED) and not isinstance(e, (json.JSONDecodeError, UnicodeDecodeError))
        ok = named and own and kind != "legit"
        if need and not re.search(need, str(e), re.S):
            ok = False
        cls = "tmD" if ok else "VAGUE"
        where = "" if own else " [raised outside polydiff]"
        return _emit(cls, module, call, msg[:260] + where)
    note = check(res) if check else None
    if kind in ("edge", "legit"):
        cls = "SILENT" if note else "OK-EDGE"
        return _emit(cls, module, call, f"returned {_short(res)}" + (f"; {note}" if note else "")
                     + (f" (warned: {wmsg})" if wmsg else ""))
    return _emit("SILENT", module, call, f"returned {_short(res)}" + (f"; {note}" if note else "")
                 + (f" (warned: {wmsg})" if wmsg else ""))


def _short(r) -> str:
    if isinstance(r, np.ndarray):
        fin = np.isfinite(r).all() if r.dtype.kind == "f" else True
        return f"array{r.shape}{'' if fin else ' WITH NaN/inf'}"
    if isinstance(r, torch.Tensor):
        return f"tensor{tuple(r.shape)}"
    if isinstance(r, dict):
        return f"dict keys {sorted(map(str, r))[:5]}"
    if isinstance(r, (list, tuple)):
        return f"{type(r).__name__} of {len(r)}"
    return repr(r)[:80]


def _emit(cls, module, call, outcome):
    COUNTS[cls] = COUNTS.get(cls, 0) + 1
    ROWS.append((cls, module, call, outcome))
    print(f"{cls} | {module} | {call} | {outcome}", flush=True)


def finite(r):
    arr = None
    if isinstance(r, np.ndarray):
        arr = r
    elif hasattr(r, "median"):
        arr = r.median
    if arr is not None and arr.dtype.kind == "f" and not np.isfinite(arr).all():
        return "output holds NaN/inf"
    return None


def reindex(folder: Path, name: str, data: bytes) -> None:
    """Replace ``folder/name`` and its checksum in the index (a consistent, edited folder)."""
    (folder / name).write_bytes(data)
    idx = json.loads((folder / INDEX).read_text())
    idx["files"][name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (folder / INDEX).write_text(json.dumps(idx))


def copy(src: Path, name: str) -> Path:
    dst = TMP / name
    shutil.copytree(src, dst)
    return dst


def edit_json(folder: Path, name: str, fn) -> Path:
    cfg = json.loads((folder / name).read_text())
    reindex(folder, name, json.dumps(fn(cfg)).encode())
    return folder


def fwrite(name: str, data) -> Path:
    p = TMP / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data if isinstance(data, bytes) else data.encode())
    return p


# =================================================================================================
# timeseries fixtures (the tests' tiny configs)
# =================================================================================================
from polydiff.timeseries import calibration, masks, metrics  # noqa: E402
from polydiff.timeseries.baselines import linear_interpolation, locf, mean_impute  # noqa: E402
from polydiff.timeseries.data import Normalizer, mcar_mask, mean_scale, split_by_time, windows  # noqa: E402
from polydiff.timeseries.forecast import CSDIForecaster, ets_samples, forecast_windows, seasonal_naive  # noqa: E402
from polydiff.timeseries.impute import CSDIImputer, ImputerConfig  # noqa: E402
from polydiff.timeseries.pipelines import ForecastPipeline, ImputationPipeline  # noqa: E402
from polydiff.timeseries.pypots_api import indicating_mask, unpack_set  # noqa: E402
from polydiff.bench.cli import main  # noqa: E402

TINY = {"layers": 1, "channels": 8, "heads": 2, "time_emb_dim": 16, "feature_emb_dim": 4,
        "diffusion_emb_dim": 16, "ff_dim": 8}
FEAT = ["temp", "humid"]


def _windows(N=8, L=6, K=2, seed=0, p=0.3):
    rng = np.random.default_rng(seed)
    X = np.sin(np.arange(L)[None, :, None] / 2 + rng.normal(size=(N, 1, K))) + 0.1 * rng.normal(size=(N, L, K))
    X[rng.random(X.shape) < p] = np.nan
    X[:, 0, 0] = 0.5
    return X


def new_imp(**kw):
    s = {"train_steps": 1, "batch_size": 4, "solver": "ddim", "sample_steps": 2, **kw}
    return CSDIImputer(2, net=TINY, **s)


imp = new_imp().fit(_windows())
pipe = ImputationPipeline(imp, 6, FEAT)
rng0 = np.random.default_rng(0)
W = 5 + np.sin(np.arange(7)[None, :, None] / 2 + rng0.normal(size=(8, 1, 2)))
fc = CSDIForecaster(2, 5, 2, net=TINY, scaling="mean", train_steps=1, batch_size=4, solver="ddim",
                    sample_steps=2).fit(W)
fpipe = ForecastPipeline(fc, ["load", "price"])
X = _windows(2, seed=5)
V = np.sin(np.arange(15)[:, None] / 2 + np.array([[0.0, 1.0]]))
V[3:5] = np.nan
H = 5 + np.sin(np.arange(9)[:, None] / 2 + np.array([[0.0, 1.0]]))
IMP_DIR = TMP / "imp_pipe"
pipe.save_pretrained(IMP_DIR)
FC_DIR = TMP / "fc_pipe"
fpipe.save_pretrained(FC_DIR)
IMP_CKPT = TMP / "imp_ckpt"
imp.save(IMP_CKPT)
FC_CKPT = TMP / "fc_ckpt"
fc.save(FC_CKPT)
I2 = dict(steps=1)  # every sampling call below: 1 solver step
T = "timeseries"

# ---- CSDIImputer.impute / predict ---------------------------------------------------------------
run(T, "imp.impute(X, n_samples=True)", lambda: imp.impute(X, True, **I2), need="n_samples")
run(T, "imp.impute(X, 2, seed=torch.Generator())", lambda: imp.impute(X, 2, seed=torch.Generator(), **I2), need="seed")
run(T, "imp.impute(X, 2, seed=-1)", lambda: imp.impute(X, 2, seed=-1, **I2), need="seed")
run(T, "imp.impute(X, 2, steps=2.0)", lambda: imp.impute(X, 2, steps=2.0), need="steps")
run(T, "imp.impute(X, 2, steps=-1)", lambda: imp.impute(X, 2, steps=-1), need="steps")
run(T, "imp.impute(X, 2, solver=3)", lambda: imp.impute(X, 2, solver=3, **I2), need="solver")
run(T, "imp.impute(X.tolist(), 2)", lambda: imp.impute(X.tolist(), 2, **I2), "edge", check=finite)
run(T, "imp.impute(torch.tensor(X, requires_grad=True), 2)",
    lambda: imp.impute(torch.tensor(X, requires_grad=True), 2, **I2), "edge", check=finite)
run(T, "imp.impute(X.astype(bool), 2)", lambda: imp.impute(np.ones((1, 6, 2), bool), 2, **I2), need=r"\bX\b")
run(T, "imp.impute(X * 1e30, 2, out_of_range='ignore')", lambda: imp.impute(X * 1e30, 2, out_of_range="ignore", **I2),
    need=r"\bX\b|observed|rescale")
run(T, "imp.impute(X, 2, out_of_range=True)", lambda: imp.impute(X, 2, out_of_range=True, **I2), need="out_of_range")
run(T, "imp.impute(X, 2, timestamps=NaN array [N, T])",
    lambda: imp.impute(X, 2, timestamps=np.full((2, 6), np.nan), **I2), need="timestamps")
run(T, "imp.impute(X, 2, timestamps=['a']*...)",
    lambda: imp.impute(X, 2, timestamps=np.array([["a"] * 6] * 2), **I2), need="timestamps")
run(T, "imp.impute(X, 2, timestamps=1e30 * arange)",
    lambda: imp.impute(X, 2, timestamps=1e30 * np.tile(np.arange(6.0), (2, 1)), **I2), check=finite)
run(T, "imp.impute(X, 2, timestamps=torch.zeros(2, 6))",
    lambda: imp.impute(X, 2, timestamps=torch.zeros(2, 6), **I2), "edge", check=finite)
run(T, "imp.impute(X, 2, max_batch=0)", lambda: imp.impute(X, 2, max_batch=0, **I2), need="max_batch")
run(T, "imp.impute(X, 2, max_batch=2.5)", lambda: imp.impute(X, 2, max_batch=2.5, **I2), need="max_batch")
run(T, "imp.impute({'X': X}, n_sampling_times=2)", lambda: imp.impute({"X": X}, n_sampling_times=2, **I2), "edge",
    check=finite)
run(T, "imp.impute({'x': X}, 2)  # wrong key", lambda: imp.impute({"x": X}, 2, **I2), need="X")
run(T, "imp.impute(X, 2, solver='ddim', eta=float('nan'))", lambda: imp.impute(X, 2, eta=float("nan"), **I2),
    need="eta")
run(T, "imp.impute(X, 2, bogus_option=1)", lambda: imp.impute(X, 2, bogus_option=1, **I2), need="bogus_option")
run(T, "imp.impute(X[:, :1], 2)  # T = 1", lambda: imp.impute(X[:, :1], 2, **I2), "edge", check=finite)
run(T, "imp.impute(long window T=40, 2)", lambda: imp.impute(_windows(1, 40, seed=3), 2, **I2), "edge",
    check=finite)
run(T, "new_imp().impute(X, 2)  # unfitted", lambda: new_imp().impute(X, 2, **I2), need="fit")
run(T, "imp.impute(X float32 -1e38..)", lambda: imp.impute(np.full((1, 6, 2), 3.0e38, np.float32), 2,
                                                          out_of_range="ignore", **I2), need=r"\bX\b")
run(T, "imp.predict(X, 2, quantiles=0.5)", lambda: imp.predict(X, 2, quantiles=0.5, steps=1), need="quantile")
run(T, "imp.predict(X, 2, quantiles=[nan])", lambda: imp.predict(X, 2, quantiles=[float("nan")], steps=1),
    need="quantile")
run(T, "imp.predict(X, 2, quantiles=(0.5, 0.5))", lambda: imp.predict(X, 2, quantiles=(0.5, 0.5), steps=1),
    need="quantile")
run(T, "imp.predict(X, 2, quantiles=[])", lambda: imp.predict(X, 2, quantiles=[], steps=1), "edge")
run(T, "imp.predict(X, n_samples=2, n_sampling_times=2)", lambda: imp.predict(X, 2, n_sampling_times=2, steps=1),
    need="n_sampling_times")
run(T, "imp.loss(X, seed=1.5)", lambda: imp.loss(X, seed=1.5), need="seed")
run(T, "imp.loss(X K=3)", lambda: imp.loss(_windows(2, K=3)), need="features")

# ---- CSDIImputer construction / fit -------------------------------------------------------------
run(T, "CSDIImputer(0)", lambda: CSDIImputer(0), need="n_features")
run(T, "CSDIImputer(True)", lambda: CSDIImputer(True), need="n_features")
run(T, "CSDIImputer(2, net={'layers': 0})", lambda: CSDIImputer(2, net={**TINY, "layers": 0}), need="layers")
run(T, "CSDIImputer(2, net={'channels': 7, 'heads': 2})", lambda: CSDIImputer(2, net={**TINY, "channels": 7}),
    need="channels|heads")
run(T, "CSDIImputer(2, net={'channels': 8.0})", lambda: CSDIImputer(2, net={**TINY, "channels": 8.0}),
    need="channels")
run(T, "CSDIImputer(2, net={'time_emb_dim': 15})", lambda: CSDIImputer(2, net={**TINY, "time_emb_dim": 15}),
    need="time_emb_dim")
run(T, "CSDIImputer(2, net=[('layers', 1)])", lambda: CSDIImputer(2, net=[("layers", 1)]), need="net")
run(T, "CSDIImputer(2, bogus=1)", lambda: CSDIImputer(2, bogus=1), need="bogus")
run(T, "CSDIImputer(2, beta_end=2.0)", lambda: CSDIImputer(2, net=TINY, beta_end=2.0), need="beta")
run(T, "CSDIImputer(2, beta_start=0.3, beta_end=0.1)", lambda: CSDIImputer(2, net=TINY, beta_start=0.3, beta_end=0.1),
    need="beta")
run(T, "CSDIImputer(2, beta_end=nan)", lambda: CSDIImputer(2, net=TINY, beta_end=float("nan")), need="beta_end")
run(T, "CSDIImputer(2, beta_start=-1e-4)", lambda: CSDIImputer(2, net=TINY, beta_start=-1e-4), need="beta_start")
run(T, "ImputerConfig(horizon=3)  # strategy='random': horizon ignored", lambda: ImputerConfig(horizon=3),
    need="horizon")
run(T, "new_imp(x0_clip='no').fit(X).impute(X)  # the string is truthy",
    lambda: new_imp(x0_clip="no").fit(_windows(4)).impute(X, 1, **I2), need="x0_clip")
run(T, "new_imp(lr_schedule='foo').fit(X)", lambda: new_imp(lr_schedule="foo").fit(_windows(4)), need="lr_schedule")
run(T, "new_imp(device='tpu').fit(X)", lambda: new_imp(device="tpu").fit(_windows(4)), need="device")
run(T, "ImputerConfig(batch_size=16.0)", lambda: ImputerConfig(batch_size=16.0), need="batch_size")
run(T, "ImputerConfig(ema_decay=1.0)", lambda: ImputerConfig(ema_decay=1.0), need="ema_decay")
run(T, "ImputerConfig(weight_decay=-1)", lambda: ImputerConfig(weight_decay=-1), need="weight_decay")
run(T, "ImputerConfig(range_margin=nan)", lambda: ImputerConfig(range_margin=float("nan")), need="range_margin")
run(T, "new_imp(num_steps=3, solver='ddpm', sample_steps=50).fit(X).impute(X, 1)",
    lambda: new_imp(num_steps=3, solver="ddpm", sample_steps=50).fit(_windows(4)).impute(X, 1),
    need="sample_steps|num_steps|steps")
run(T, "new_imp().fit(np.zeros((0, 6, 2)))", lambda: new_imp().fit(np.zeros((0, 6, 2))), need=r"\bX\b|train_set")
run(T, "new_imp().fit({'X': X})", lambda: new_imp().fit({"X": _windows(4)}), "edge")
run(T, "new_imp().fit('missing.h5')", lambda: new_imp().fit(str(TMP / "missing.h5")), need="train_set|missing")
run(T, "new_imp().fit(X, timestamps=zeros((3, 6)))", lambda: new_imp().fit(_windows(4), timestamps=np.zeros((3, 6))),
    need="timestamps")
run(T, "new_imp().fit(X, eval_every=True)", lambda: new_imp().fit(_windows(4), eval_every=True), need="eval_every")
run(T, "new_imp().fit(X, ckpt_every=1)", lambda: new_imp().fit(_windows(4), ckpt_every=1), need="ckpt_dir")
run(T, "new_imp().fit(X, train_config={'steps': 1})", lambda: new_imp().fit(_windows(4), train_config={"steps": 1}),
    need="train_config")
run(T, "new_imp().fit(X, val_set=X_K3)", lambda: new_imp().fit(_windows(4), val_set=_windows(2, K=3)),
    need="val_X|val_set")
run(T, "new_imp().fit(X, val_set={'X': X, 'X_ori': X})",
    lambda: new_imp().fit(_windows(4), val_set={"X": _windows(2), "X_ori": _windows(2)}), need="X_ori")
run(T, "new_imp().fit(X with a constant feature)",
    lambda: new_imp().fit(np.concatenate([_windows(4)[..., :1], np.ones((4, 6, 1))], 2)), "edge")
run(T, "new_imp().fit(X * 1e30)", lambda: new_imp().fit(_windows(4) * 1e30).impute(_windows(1) * 1e30, 1, **I2),
    "edge", check=finite)
run(T, "new_imp().fit(X int64)", lambda: new_imp().fit(np.arange(48).reshape(4, 6, 2)), "edge")
run(T, "new_imp().fit(X, val_X=X, val_set=X)", lambda: new_imp().fit(_windows(4), val_X=X, val_set=X),
    need="val_X|val_set")

# ---- save / load --------------------------------------------------------------------------------
run(T, "CSDIImputer.load('missing/')", lambda: CSDIImputer.load(TMP / "nope"), need="nope")
d = copy(IMP_CKPT, "ck_garbage")
for f in d.rglob("*.safetensors"):
    f.write_bytes(b"garbage bytes, not safetensors")
run(T, "CSDIImputer.load(dir with garbage model.safetensors)", lambda: CSDIImputer.load(d), need="safetensors")
d2 = copy(IMP_CKPT, "ck_nokey")
cfgs = [p for p in d2.rglob("*.json")]
def _drop_imputer(p):
    c = json.loads(p.read_text())
    def walk(o):
        if isinstance(o, dict):
            o.pop("imputer", None)
            for v in o.values():
                walk(v)
    walk(c)
    p.write_text(json.dumps(c))
for p in cfgs:
    if p.name != "manifest.json":
        _drop_imputer(p)
for mf in d2.rglob("manifest.json"):
    man = json.loads(mf.read_text())
    for name in man["files"]:
        b = (mf.parent / name).read_bytes()
        man["files"][name] = {"bytes": len(b), "sha256": hashlib.sha256(b).hexdigest()}
    mf.write_text(json.dumps(man))
run(T, "CSDIImputer.load(checkpoint whose JSON lacks 'imputer')", lambda: CSDIImputer.load(d2), need="imputer")
run(T, "CSDIForecaster.load(imputer checkpoint)", lambda: CSDIForecaster.load(IMP_CKPT), need="forecaster")
d3 = copy(FC_CKPT, "fc_badjson")
(d3 / "forecaster.json").write_text("{not json")
run(T, "CSDIForecaster.load(dir with garbage forecaster.json)", lambda: CSDIForecaster.load(d3), need="forecaster.json")
d4 = copy(FC_CKPT, "fc_nokey")
(d4 / "forecaster.json").write_text(json.dumps({"context_length": 5, "prediction_length": 2}))
run(T, "CSDIForecaster.load(forecaster.json missing 'scaling')", lambda: CSDIForecaster.load(d4), need="scaling")
d5 = copy(FC_CKPT, "fc_badscaling")
m5 = json.loads((d5 / "forecaster.json").read_text())
(d5 / "forecaster.json").write_text(json.dumps({**m5, "scaling": "median", "prediction_length": 7}))
run(T, "CSDIForecaster.load(forecaster.json scaling='median', prediction_length=7)",
    lambda: CSDIForecaster.load(d5).forecast(H[None], 1, **I2), need="scaling|prediction_length")
fwrite("afile", "x")
run(T, "imp.save(<path of an existing file>)", lambda: imp.save(TMP / "afile"), need="afile")
run(T, "imp.save(None)", lambda: imp.save(None), need="path")
run(T, "fc.save(None)", lambda: fc.save(None), need="path")

# ---- ImputationPipeline -------------------------------------------------------------------------
run(T, "ImputationPipeline(imp, 6.0)", lambda: ImputationPipeline(imp, 6.0), need="window_length")
run(T, "ImputationPipeline(imp, 0)", lambda: ImputationPipeline(imp, 0), need="window_length")
run(T, "ImputationPipeline(imp, 6, features=['a'])", lambda: ImputationPipeline(imp, 6, ["a"]), need="features")
run(T, "ImputationPipeline(imp, 6, features='ab')", lambda: ImputationPipeline(imp, 6, "ab"), need="features")
run(T, "ImputationPipeline(fc.imputer, 6)  # a forecasting imputer", lambda: ImputationPipeline(fc.imputer, 7))
run(T, "ImputationPipeline('imp', 6)", lambda: ImputationPipeline("imp", 6), need="imputer")
run(T, "ImputationPipeline(new_imp(), 6)  # unfitted", lambda: ImputationPipeline(new_imp(), 6), need="fit")
run(T, "pipe.impute_series(V[None], 2)  # rank 3", lambda: pipe.impute_series(V[None], 2, steps=1), need=r"^values")
run(T, "pipe.impute_series(V with K=3, 2)", lambda: pipe.impute_series(np.c_[V, V[:, :1]], 2, steps=1),
    need=r"^values")
run(T, "pipe.impute_series(V, 2)  # default quantiles=()", lambda: pipe.impute_series(V, 2, steps=1), "legit",
    check=finite)
run(T, "fpipe.forecast_series(H, 2)  # default quantiles=()", lambda: fpipe.forecast_series(H, 2, steps=1), "legit",
    check=finite)
run(T, "pipe.impute_series(V.tolist(), 2, (0.5,))", lambda: pipe.impute_series(V.tolist(), 2, (0.5,), steps=1), "edge",
    check=finite)
run(T, "pipe.impute_series(all-NaN V, 2)", lambda: pipe.impute_series(np.full((15, 2), np.nan), 2, steps=1),
    need=r"^values")
Vinf = V.copy(); Vinf[0, 0] = np.inf
run(T, "pipe.impute_series(V with an inf, 2)", lambda: pipe.impute_series(Vinf, 2, steps=1), need=r"^values")
run(T, "pipe.impute_series(V, 2, quantiles=[1.5])", lambda: pipe.impute_series(V, 2, [1.5], steps=1),
    need="quantile")
run(T, "pipe.impute_series(V, 2, quantiles='0.1')", lambda: pipe.impute_series(V, 2, "0.1", steps=1),
    need="quantile")
run(T, "pipe.impute_series(V, 0)", lambda: pipe.impute_series(V, 0, steps=1), need="n_samples")
run(T, "pipe.impute_series(V, 2, seed=1.5)", lambda: pipe.impute_series(V, 2, seed=1.5, steps=1), need="seed")
run(T, "pipe.impute_series(V[:1], 2, (0.5,))  # T = 1", lambda: pipe.impute_series(V[:1], 2, (0.5,), steps=1), "edge",
    check=finite)
run(T, "pipe.impute_series(np.zeros((0, 2)), 2)", lambda: pipe.impute_series(np.zeros((0, 2)), 2), need=r"^values")
run(T, "pipe.impute_series(V.astype(str), 2)", lambda: pipe.impute_series(V.astype(str), 2), need=r"^values")
run(T, "pipe.impute_series(V, 2, timestamps=zeros((1, 6)))",
    lambda: pipe.impute_series(V, 2, (0.5,), steps=1, timestamps=np.zeros((1, 6))), need="timestamps.*window|series")
run(T, "pipe.impute_series(V * 1e6, 2)  # out of the training range",
    lambda: pipe.impute_series(V * 1e6, 2, (0.5,), steps=1), need="training range")
run(T, "pipe(X, 2, steps=0)", lambda: pipe(X, 2, steps=0), need="steps")
run(T, "pipe(X, 2, solver='magic')", lambda: pipe(X, 2, solver="magic", steps=1), need="solver")
run(T, "pipe.save_pretrained(<existing file>)", lambda: pipe.save_pretrained(TMP / "afile"), need="afile")
run(T, "pipe.save_pretrained(dir, dtype=torch.int8)", lambda: pipe.save_pretrained(TMP / "p_int8", dtype=torch.int8),
    need="dtype")
run(T, "ImputationPipeline.from_pretrained('missing/')", lambda: ImputationPipeline.from_pretrained(TMP / "nope2"),
    need="nope2")
run(T, "ImputationPipeline.from_pretrained(<forecast pipeline>)", lambda: ImputationPipeline.from_pretrained(FC_DIR),
    need="Forecast")
run(T, "ForecastPipeline.from_pretrained(<imputation pipeline>)", lambda: ForecastPipeline.from_pretrained(IMP_DIR),
    need="Imputation")
dd = copy(IMP_DIR, "p_trunc")
wf = next(dd.rglob("*.safetensors"))
reindex(dd, str(wf.relative_to(dd)), wf.read_bytes()[:100])
run(T, "ImputationPipeline.from_pretrained(truncated weights, index updated)",
    lambda: ImputationPipeline.from_pretrained(dd), need="safetensors|truncated")
dd2 = copy(IMP_DIR, "p_nowl")
edit_json(dd2, "data/config.json", lambda c: {k: v for k, v in c.items() if k != "window_length"})
run(T, "ImputationPipeline.from_pretrained(data/config.json without window_length)",
    lambda: ImputationPipeline.from_pretrained(dd2), need="window_length")
dd3 = copy(IMP_DIR, "p_negwl")
edit_json(dd3, "data/config.json", lambda c: {**c, "window_length": -3})
run(T, "ImputationPipeline.from_pretrained(window_length=-3)", lambda: ImputationPipeline.from_pretrained(dd3),
    need="window_length")
dd4 = copy(IMP_DIR, "p_garbage_index")
(dd4 / INDEX).write_bytes(b"\x00\xff garbage")
run(T, "ImputationPipeline.from_pretrained(garbage index bytes)", lambda: ImputationPipeline.from_pretrained(dd4),
    need=INDEX)
dd5 = copy(IMP_DIR, "p_nanscaler")
scal = [p for p in (dd5 / "scaler").glob("*.json")][0]
edit_json(dd5, f"scaler/{scal.name}", lambda c: json.loads(json.dumps(c).replace("[", "[NaN, ", 1)))
run(T, "ImputationPipeline.from_pretrained(scaler/config.json with a NaN)",
    lambda: ImputationPipeline.from_pretrained(dd5), need="scaler|mean|std|normal")
run(T, "ImputationPipeline.from_run('missing/')", lambda: ImputationPipeline.from_run(TMP / "nope3"),
    need="nope3.*(no such|not exist|no checkpoint|not found)")
dr = copy(IMP_CKPT, "run_fcdata")
(dr / "data.json").write_text(json.dumps({"task": "forecast"}))
run(T, "ImputationPipeline.from_run(run with data.json task=forecast)", lambda: ImputationPipeline.from_run(dr),
    need="forecast")
dr2 = copy(IMP_CKPT, "run_badjson")
(dr2 / "data.json").write_text("{garbage")
run(T, "ImputationPipeline.from_run(run with garbage data.json)", lambda: ImputationPipeline.from_run(dr2),
    need="data.json")
run(T, "ImputationPipeline.from_run(old run, no window_length)", lambda: ImputationPipeline.from_run(IMP_CKPT),
    need="window_length")
run(T, "ImputationPipeline.from_run(<forecaster ckpt>, window_length=7)",
    lambda: ImputationPipeline.from_run(FC_CKPT, window_length=7))
run(T, "ForecastPipeline.from_run(<imputer ckpt>)", lambda: ForecastPipeline.from_run(IMP_CKPT), need="forecast")

# ---- CSDIForecaster / ForecastPipeline -----------------------------------------------------------
run(T, "CSDIForecaster(2, 5, 2, scaling='Mean')", lambda: CSDIForecaster(2, 5, 2, scaling="Mean"), need="scaling")
run(T, "CSDIForecaster(2, 5.0, 2)", lambda: CSDIForecaster(2, 5.0, 2), need="context_length")
run(T, "CSDIForecaster(2, 5, 2, strategy='random')", lambda: CSDIForecaster(2, 5, 2, strategy="random"),
    need="strategy")
run(T, "fc.forecast(H, 2)  # rank 2", lambda: fc.forecast(H, 2, **I2), need="history")
run(T, "fc.forecast(H[None] K=3, 2)", lambda: fc.forecast(np.c_[H, H[:, :1]][None], 2, **I2),
    need="history|features")
run(T, "fc.forecast(H[None, :2], 2)  # shorter than context", lambda: fc.forecast(H[None, :2], 2, **I2), "edge",
    check=finite)
run(T, "fc.forecast(zeros history, 2)", lambda: fc.forecast(np.zeros((1, 5, 2)), 2, **I2), "edge", check=finite)
run(T, "fc.forecast(H * 1e30, 2)", lambda: fc.forecast(H[None] * 1e30, 2, **I2), "edge", check=finite)
run(T, "fc.forecast(H with NaN rows, 2)", lambda: fc.forecast(np.r_[H, np.full((5, 2), np.nan)][None], 2, **I2),
    need="history")
run(T, "fc.fit(W of length 6)", lambda: CSDIForecaster(2, 5, 2, net=TINY, train_steps=1).fit(W[:, :6]),
    need="windows|length")
run(T, "fpipe.forecast_series(H[None], 2)", lambda: fpipe.forecast_series(H[None], 2, steps=1), need="history")
run(T, "fpipe.forecast_series(H, 2, quantiles=[0])  # the minimum", lambda: fpipe.forecast_series(H, 2, [0.0], steps=1),
    "edge", check=finite)
run(T, "fpipe.forecast_series(H, 2, n_samples=2.0)", lambda: fpipe.forecast_series(H, 2.0, steps=1), need="n_samples")
run(T, "ForecastPipeline(imp)", lambda: ForecastPipeline(imp), need="forecaster")
run(T, "ForecastPipeline(fc, ['a', 'a'])", lambda: ForecastPipeline(fc, ["a", "a"]), need="features")
run(T, "forecast_windows(H, 5, 2, stride=0)", lambda: forecast_windows(H, 5, 2, stride=0), need="stride")
run(T, "forecast_windows(H[:, 0], 5, 2)  # 1-D", lambda: forecast_windows(H[:, 0], 5, 2), need="values")
run(T, "forecast_windows(H, 8, 4)  # series too short", lambda: forecast_windows(H, 8, 4), need="length|short")
run(T, "seasonal_naive(H[None], 2, 0)", lambda: seasonal_naive(H[None], 2, 0), need="season_length")
run(T, "ets_samples(H[None], 2, 2.5)", lambda: ets_samples(H[None], 2, 2.5), need="season_length")

# ---- data / metrics / masks / baselines ------------------------------------------------------------
run(T, "windows(V, 3, stride=0.5)", lambda: windows(V, 3, 0.5), need="stride")
run(T, "windows(V, 3, stride=-1)", lambda: windows(V, 3, -1), need="stride")
run(T, "split_by_time(V, (0.5, 0.5, 0.0))", lambda: split_by_time(V, (0.5, 0.5, 0.0)), need="fractions")
run(T, "split_by_time(V, 0.5)", lambda: split_by_time(V, 0.5), need="fractions")
run(T, "Normalizer().transform(X)", lambda: Normalizer().transform(X), need="fit")
run(T, "Normalizer.from_dict({'mean': [0], 'std': [0]})", lambda: Normalizer.from_dict({"mean": [0], "std": [0]}),
    need="std")
run(T, "Normalizer(mean=[0, 0], std=[1, 1]).transform(X K=3)",
    lambda: Normalizer([0.0, 0.0], [1.0, 1.0]).transform(_windows(1, K=3)), need=r"features|\bK\b|mean")
run(T, "Normalizer().fit(np.zeros((0, 2)))", lambda: Normalizer().fit(np.zeros((0, 2))), need="X|feature")
run(T, "mcar_mask(X, 1.0)", lambda: mcar_mask(X, 1.0), need="rate")
run(T, "mcar_mask(X, 0.5, seed=-1)", lambda: mcar_mask(X, 0.5, seed=-1), need="seed")
run(T, "mcar_mask(X, 0.5, seed=2.5)", lambda: mcar_mask(X, 0.5, seed=2.5), need="seed")
run(T, "mean_scale(V)  # rank 2", lambda: mean_scale(V), need="context")
run(T, "mean_scale(H[None], minimum=-1)", lambda: mean_scale(-H[None] * 0, minimum=-1.0), need="minimum")
S = np.random.default_rng(0).normal(size=(2, 3, 6, 2))
Y = np.random.default_rng(1).normal(size=(2, 6, 2))
Mk = np.ones((2, 6, 2))
Ynan = Y.copy(); Ynan[0, 0, 0] = np.nan
run(T, "metrics.mae(S, target with NaN under mask=1, M)", lambda: metrics.mae(S, Ynan, Mk), need="target")
run(T, "metrics.rmse(S, target[:, :5], M)", lambda: metrics.rmse(S, Y[:, :5], Mk), need="target|shape")
run(T, "metrics.sample_quantiles(S, [1.5])", lambda: metrics.sample_quantiles(S, [1.5]), need="quantile")
run(T, "metrics.sample_quantiles(S, [0.5], method='magic')", lambda: metrics.sample_quantiles(S, [0.5], "magic"),
    need="method")
run(T, "metrics.quantile_crps_sum(S, Y, mask=0.5*M)", lambda: metrics.quantile_crps_sum(S, Y, 0.5 * Mk), need="mask")
run(T, "metrics.sample_crps(S, Y, zero mask)", lambda: metrics.sample_crps(S, Y, 0 * Mk), need="mask")
run(T, "metrics.median(S[0, 0])  # rank 2", lambda: metrics.median(S[0, 0]), need="samples")
run(T, "calibration.gaussian_crps(mean, std=-1, ...)", lambda: calibration.gaussian_crps(Y, -np.ones_like(Y), Y, Mk.astype(bool)),
    need="std")
run(T, "calibration.interval_coverage(S, Y, M, level=1.5)", lambda: calibration.interval_coverage(S, Y, Mk, 1.5),
    need="level")
run(T, "calibration.energy_distance(S, reference K=3, M)",
    lambda: calibration.energy_distance(S, np.zeros((2, 3, 6, 3)), Mk), need="reference|shape")
obs = torch.ones(2, 6, 2)
run(T, "masks.random_mask(obs, generator=3)", lambda: masks.random_mask(obs, 3), need="generator")
run(T, "masks.training_mask('foo', obs)", lambda: masks.training_mask("foo", obs), need="strategy")
run(T, "masks.forecast_mask(obs, 10)  # horizon > L", lambda: masks.forecast_mask(obs, 10), need="horizon")
run(T, "masks.random_mask(obs numpy)", lambda: masks.random_mask(np.ones((2, 6, 2))), need="observed_mask")
run(T, "masks.random_mask(obs with NaN)", lambda: masks.random_mask(torch.full((2, 6, 2), float("nan"))),
    need="observed_mask")
run(T, "unpack_set({'X': X, 'X_ori': X[:, :3]})", lambda: unpack_set({"X": X, "X_ori": X[:, :3]}, "val_set"),
    need="X_ori")
run(T, "unpack_set(42, 'train_set')", lambda: unpack_set(42, "train_set"), need="train_set")
run(T, "indicating_mask(X, X_ori with NaN where X observed)",
    lambda: indicating_mask(np.ones((1, 2, 1)), np.array([[[np.nan], [1.0]]])), need="X_ori")
run(T, "linear_interpolation(X, fallback=None)", lambda: linear_interpolation(X, None), need="fallback")
run(T, "mean_impute(X[0], fallback=[0, 0])  # rank 2", lambda: mean_impute(X[0], [0.0, 0.0]), need=r"\bX\b")
run(T, "locf(X, fallback=[nan, 0])", lambda: locf(np.full((1, 3, 2), np.nan), [np.nan, 0.0]), need="fallback")

# ---- polydiff impute / forecast ------------------------------------------------------------------
import pandas as pd  # noqa: E402


def csv(name, values, cols=("temp", "humid"), time=True):
    frame = pd.DataFrame(values, columns=list(cols))
    if time:
        frame.insert(0, "time", pd.date_range("2024-01-01", periods=len(values), freq="h").astype(str))
    p = TMP / name
    frame.to_csv(p, index=False)
    return p


good = csv("good.csv", V)
hist = csv("hist.csv", H, ("load", "price"))
OUT = str(TMP / "out.csv")
base = ["--steps", "1", "--samples", "2", "--no-progress"]


def cli(*a):
    return main([*a])


run(T, "polydiff impute --model missing/", lambda: cli("impute", "--model", str(TMP / "nope"), "--input", str(good),
                                                       "--output", OUT, *base), need="--model")
run(T, "polydiff impute --input missing.csv", lambda: cli("impute", "--model", str(IMP_DIR), "--input",
                                                          str(TMP / "missing.csv"), "--output", OUT, *base),
    need="--input")
run(T, "polydiff impute --input empty.csv", lambda: cli("impute", "--model", str(IMP_DIR), "--input",
                                                        str(fwrite("empty.csv", "")), "--output", OUT, *base),
    need="--input")
run(T, "polydiff impute --input header-only.csv", lambda: cli("impute", "--model", str(IMP_DIR), "--input",
                                                              str(fwrite("hdr.csv", "time,temp,humid\n")),
                                                              "--output", OUT, *base), need="--input")
run(T, "polydiff impute --input garbage bytes", lambda: cli("impute", "--model", str(IMP_DIR), "--input",
                                                            str(fwrite("garb.csv", bytes(range(256)) * 4)),
                                                            "--output", OUT, *base), need="--input")
run(T, "polydiff impute --input with cell 'abc'", lambda: cli(
    "impute", "--model", str(IMP_DIR), "--input", str(fwrite("abc.csv", "temp,humid\n1,2\nabc,3\n")), "--output", OUT,
    *base), need="--input.*abc")
run(T, "polydiff impute --input with cell 'inf'", lambda: cli(
    "impute", "--model", str(IMP_DIR), "--input", str(fwrite("inf.csv", "temp,humid\n1,2\ninf,\n")), "--output", OUT,
    *base), need="--input.*inf")
run(T, "polydiff impute --input wrong columns", lambda: cli(
    "impute", "--model", str(IMP_DIR), "--input", str(csv("wc.csv", V, ("a", "b"))), "--output", OUT, *base),
    need="--input")
run(T, "polydiff impute --samples 0", lambda: cli("impute", "--model", str(IMP_DIR), "--input", str(good), "--output",
                                                  OUT, "--samples", "0"), need="--samples")
run(T, "polydiff impute --samples 1.5", lambda: cli("impute", "--model", str(IMP_DIR), "--input", str(good),
                                                    "--output", OUT, "--samples", "1.5"), need="--samples")
run(T, "polydiff impute --quantiles 0.1,0.1", lambda: cli("impute", "--model", str(IMP_DIR), "--input", str(good),
                                                          "--output", OUT, "--quantiles", "0.1,0.1"),
    need="--quantiles")
run(T, "polydiff impute --quantiles nan", lambda: cli("impute", "--model", str(IMP_DIR), "--input", str(good),
                                                      "--output", OUT, "--quantiles", "nan"), need="--quantiles")
run(T, "polydiff impute --output == --input", lambda: cli("impute", "--model", str(IMP_DIR), "--input", str(good),
                                                          "--output", str(good), *base), need="--output")
run(T, "polydiff impute --model <forecast pipeline>", lambda: cli("impute", "--model", str(FC_DIR), "--input",
                                                                  str(good), "--output", OUT, *base), need="--model")
run(T, "polydiff impute --steps 0", lambda: cli("impute", "--model", str(IMP_DIR), "--input", str(good), "--output",
                                                OUT, "--steps", "0"), need="--steps")
run(T, "polydiff impute --solver magic", lambda: cli("impute", "--model", str(IMP_DIR), "--input", str(good),
                                                     "--output", OUT, "--solver", "magic"), need="--solver")
run(T, "polydiff impute --seed -1", lambda: cli("impute", "--model", str(IMP_DIR), "--input", str(good), "--output",
                                                OUT, "--seed", "-1"), need="--seed")
run(T, "polydiff impute --device cuda:7", lambda: cli("impute", "--model", str(IMP_DIR), "--input", str(good),
                                                      "--output", OUT, "--device", "cuda:7", *base),
    need="--device")
run(T, "polydiff impute --device banana", lambda: cli("impute", "--model", str(IMP_DIR), "--input", str(good),
                                                      "--output", OUT, "--device", "banana", *base),
    need="--device")
run(T, "polydiff impute --time-column nonexistent", lambda: cli("impute", "--model", str(IMP_DIR), "--input",
                                                                str(good), "--output", OUT, "--time-column", "zz",
                                                                *base), need="--time-column|zz")
run(T, "polydiff impute (valid run, no --quantiles)", lambda: cli("impute", "--model", str(IMP_DIR), "--input",
                                                                str(good), "--output", OUT, *base), "legit")
run(T, "polydiff impute --input with an all-empty feature column", lambda: cli(
    "impute", "--model", str(IMP_DIR), "--input", str(fwrite("allnan.csv", "temp,humid\n1,\n2,\n3,\n")),
    "--output", OUT, "--quantiles", "0.5", *base), "edge")
run(T, "polydiff impute --input with two extra columns", lambda: cli(
    "impute", "--model", str(IMP_DIR), "--input", str(fwrite("extra.csv", "a,b,temp,humid\n1,1,1,\n2,2,2,3\n")),
    "--output", OUT, *base), need="--input")
run(T, "polydiff impute --input values 1e300", lambda: cli(
    "impute", "--model", str(IMP_DIR), "--input", str(fwrite("huge.csv", "temp,humid\n1e300,\n1e300,3\n")),
    "--output", OUT, *base), need="--input|out-of-range")
run(T, "polydiff impute --input <a directory>", lambda: cli("impute", "--model", str(IMP_DIR), "--input", str(TMP),
                                                            "--output", OUT, *base), need="--input")
(TMP / "outdir.csv").mkdir(exist_ok=True)
run(T, "polydiff impute --output <an existing directory>", lambda: cli(
    "impute", "--model", str(IMP_DIR), "--input", str(good), "--output", str(TMP / "outdir.csv"), "--quantiles", "0.5",
    *base),
    need="--output")
run(T, "polydiff impute --input latin-1 bytes", lambda: cli(
    "impute", "--model", str(IMP_DIR), "--input", str(fwrite("latin.csv", "temp,humid\n1,\xe9\n".encode("latin-1"))),
    "--output", OUT, *base), need="--input")
run(T, "polydiff impute (no --input)", lambda: cli("impute", "--model", str(IMP_DIR), "--output", OUT), need="--input")
run(T, "polydiff forecast --input with all-empty history", lambda: cli(
    "forecast", "--model", str(FC_DIR), "--input", str(fwrite("emptyh.csv", "load,price\n,\n,\n")),
    "--output", OUT, *base), need="--input")
run(T, "polydiff forecast --model <imputation pipeline>", lambda: cli("forecast", "--model", str(IMP_DIR), "--input",
                                                                      str(hist), "--output", OUT, *base),
    need="--model")
run(T, "polydiff forecast --quantiles 0,1", lambda: cli("forecast", "--model", str(FC_DIR), "--input", str(hist),
                                                        "--output", OUT, "--quantiles", "0,1"), need="--quantiles")
run(T, "polydiff forecast --input irregular time column", lambda: cli(
    "forecast", "--model", str(FC_DIR), "--input",
    str(fwrite("irr.csv", "time,load,price\n1,5,5\n2,5,5\n7,5,5\n8,5,6\n9,5,5\n")), "--output", OUT, *base), "edge")
run(T, "polydiff forecast --input with one row", lambda: cli(
    "forecast", "--model", str(FC_DIR), "--input", str(fwrite("one.csv", "load,price\n5,5\n")), "--output", OUT,
    *base), "edge")

# =================================================================================================
# molecules
# =================================================================================================
from rdkit import Chem  # noqa: E402
from rdkit.Chem import AllChem  # noqa: E402

from polydiff.molecules import files as mfiles  # noqa: E402
from polydiff.molecules.baselines import clustered_etkdg, etkdg, etkdg_mmff  # noqa: E402
from polydiff.molecules.data import mol_from_xyz, split_by_molecule  # noqa: E402
from polydiff.molecules.featurize import mol_to_data, parse_molecule  # noqa: E402
from polydiff.molecules.generate import generate_conformers  # noqa: E402
from polydiff.molecules.graph import extend_graph, radius_graph  # noqa: E402
from polydiff.molecules.metrics import ConformerScores, coverage_curve, rmsd_matrix, score_conformers, summarize  # noqa: E402
from polydiff.molecules.nets import NetConfig, build_net  # noqa: E402
from polydiff.molecules.pipeline import ConformerGenerator, write_sdf  # noqa: E402
from polydiff.molecules.pipelines import ConformerPipeline  # noqa: E402
from polydiff.molecules.process import geodiff_process  # noqa: E402
from polydiff.molecules.relax import mmff_relax  # noqa: E402
from polydiff.molecules.splits import random_qm9_split  # noqa: E402
from polydiff.molecules.stereo import match_enantiomer  # noqa: E402

M = "molecules"
torch.manual_seed(0)
NET = build_net(NetConfig(hidden=8, num_convs_global=1, num_convs_local=1, num_rbf=4, cutoff=5.0))
PROC = geodiff_process(200, beta_end=0.05)


def gen_(**kw):
    return ConformerGenerator(NET, PROC, (2, 6), **{"steps": 2, "solver": "ddim", "stereo_rounds": 0, **kw})


cp = ConformerPipeline(gen_(), n_conformers=1)
CP_DIR = TMP / "conf_pipe"
cp.save_pretrained(CP_DIR)


def mol3d(smi="CCO", n=1, nan=False):
    m = Chem.AddHs(Chem.MolFromSmiles(smi))
    AllChem.EmbedMultipleConfs(m, n, randomSeed=7)
    if nan:
        m.GetConformer(0).SetAtomPosition(1, (float("nan"), 0.0, 0.0))
    return m


def nconf(r):
    ms = r if isinstance(r, list) else [r]
    for m in ms:
        for c in m.GetConformers():
            if not np.isfinite(c.GetPositions()).all():
                return "a conformer holds NaN/inf"
    return None


run(M, "cp('CCO', seed=1.5)", lambda: cp("CCO", seed=1.5), need="seed")
run(M, "cp('CCO', seed=torch.Generator())", lambda: cp("CCO", seed=torch.Generator()), need="seed")
run(M, "cp('CCO', seed=True)", lambda: cp("CCO", seed=True), need="seed")
run(M, "cp('CCO', steps=0)", lambda: cp("CCO", steps=0), need="steps")
run(M, "cp('CCO', steps=2.5)", lambda: cp("CCO", steps=2.5), need="steps")
run(M, "cp('CCO', solver='magic')", lambda: cp("CCO", solver="magic"), need="solver")
run(M, "cp('CCO', n=True)", lambda: cp("CCO", True), need="n")
run(M, "cp('')", lambda: cp(""), need="SMILES|empty")
run(M, "cp([])", lambda: cp([]), need="molecule")
run(M, "cp(['CCO', None])", lambda: cp(["CCO", None]), need="SMILES|Mol")
run(M, "cp('[Na+].[Cl-]')  # disconnected ions", lambda: cp("[Na+].[Cl-]"), check=nconf)
run(M, "cp('CCO.CCO')  # two fragments", lambda: cp("CCO.CCO"), check=nconf)
run(M, "cp('[H][H]')  # H2", lambda: cp("[H][H]"), "edge", check=nconf)
run(M, "cp('C')  # methane", lambda: cp("C"), "edge", check=nconf)
run(M, "cp('[Cl]')  # one atom", lambda: cp("Cl"), "edge", check=nconf)
run(M, "cp(np.array(['CCO', 'CC']))", lambda: cp(np.array(["CCO", "CC"])), need="SMILES|Mol|list")
run(M, "cp(('CCO', 'CC'))  # tuple", lambda: cp(("CCO", "CC")), "edge", check=nconf)
run(M, "cp('CCO', first_index=-1)", lambda: cp("CCO", first_index=-1), need="first_index")
run(M, "cp(Mol without Hs)", lambda: cp(Chem.MolFromSmiles("CCO")), "edge", check=nconf)
run(M, "cp(Mol with a NaN conformer)  # coordinates ignored", lambda: cp(mol3d(nan=True)), "edge", check=nconf)
run(M, "cp('CCCCCCCCCC')  # 10 heavy atoms > training 6", lambda: cp("CCCCCCCCCC"), "edge", check=nconf)
run(M, "cp('C[Si](C)(C)C')  # Si: in the featurizer's vocabulary", lambda: cp("C[Si](C)(C)C"), "edge", check=nconf)
run(M, "cp('[U]F')  # uranium: outside the featurizer's elements", lambda: cp("[U]F"), check=nconf)
run(M, "cp('CCO', 1, stats={})", lambda: cp("CCO", 1, stats={}), need="stats")
run(M, "ConformerPipeline(gen, n_conformers=0)", lambda: ConformerPipeline(gen_(), n_conformers=0),
    need="n_conformers")
run(M, "ConformerPipeline(gen, n_conformers=2.5)", lambda: ConformerPipeline(gen_(), n_conformers=2.5),
    need="n_conformers")
run(M, "ConformerPipeline('gen')", lambda: ConformerPipeline("gen"), need="generator")
run(M, "ConformerPipeline(ConformerGenerator(nn.Linear, proc))",
    lambda: ConformerPipeline(ConformerGenerator(torch.nn.Linear(1, 1), PROC)), need="net")
run(M, "ConformerPipeline(ConformerGenerator(net, None))", lambda: ConformerPipeline(ConformerGenerator(NET, None)),
    need="process")
run(M, "ConformerPipeline(gen(steps=0))", lambda: ConformerPipeline(gen_(steps=0)), need="steps")
run(M, "ConformerPipeline(gen(restarts=1, restart_noise=inf))",
    lambda: ConformerPipeline(gen_(restarts=1, restart_noise=float("inf"))), need="restart_noise")
run(M, "ConformerPipeline(gen(restarts=1, restart_noise=1e6)).save_pretrained",
    lambda: ConformerPipeline(gen_(restarts=1, restart_noise=1e6)).save_pretrained(TMP / "cp_noise"),
    need="restart_noise")
run(M, "ConformerPipeline(gen(relax='uff'))", lambda: ConformerPipeline(gen_(relax="uff")), need="relax")
run(M, "ConformerPipeline(gen(solver='ddim', steps=10**6))  # more steps than T=200",
    lambda: ConformerPipeline(gen_(steps=1000)).save_pretrained(TMP / "cp_steps"), need="steps")
run(M, "ConformerGenerator(net, proc, heavy_atom_range=(6, 2))",
    lambda: ConformerGenerator(NET, PROC, (6, 2)), need="heavy_atom_range")
run(M, "ConformerGenerator(net, proc, heavy_atom_range=(2.5, 6))",
    lambda: ConformerGenerator(NET, PROC, (2.5, 6)), need="heavy_atom_range")
run(M, "ConformerGenerator(net, proc, stereo_rounds=-1)('CCO', 1)",
    lambda: ConformerGenerator(NET, PROC, stereo_rounds=-1, steps=2)("CCO", 1), need="stereo_rounds")
import polydiff.core as pc  # noqa: E402
run(M, "ConformerPipeline.from_pretrained(<imputation pipeline>)", lambda: ConformerPipeline.from_pretrained(IMP_DIR),
    need="Imputation")
run(M, "ImputationPipeline.from_pretrained(<conformer pipeline>)", lambda: ImputationPipeline.from_pretrained(CP_DIR),
    need="Conformer")
c1 = copy(CP_DIR, "cp_feat")
edit_json(c1, "featurizer/config.json", lambda c: {**c, "elements": ["H", "C"]} if "elements" in c else
          {**c, list(c)[0]: "changed"})
run(M, "ConformerPipeline.from_pretrained(featurizer/config.json edited)", lambda: ConformerPipeline.from_pretrained(c1),
    need="featurizer")
c2 = copy(CP_DIR, "cp_steps_str")
edit_json(c2, "sampler/config.json", lambda c: {**c, "steps": "10"})
run(M, "ConformerPipeline.from_pretrained(sampler steps='10')", lambda: ConformerPipeline.from_pretrained(c2),
    need="steps")
c3 = copy(CP_DIR, "cp_hidden")
edit_json(c3, "net/config.json", lambda c: {**c, "hidden": -1})
run(M, "ConformerPipeline.from_pretrained(net hidden=-1)", lambda: ConformerPipeline.from_pretrained(c3),
    need="hidden")
c4 = copy(CP_DIR, "cp_trunc")
w4 = next(c4.rglob("*.safetensors"))
reindex(c4, str(w4.relative_to(c4)), w4.read_bytes()[:64])
run(M, "ConformerPipeline.from_pretrained(truncated weights, index updated)",
    lambda: ConformerPipeline.from_pretrained(c4), need="safetensors|truncated")
c5 = copy(CP_DIR, "cp_sizes")
edit_json(c5, "stats/config.json", lambda c: {**c, "heavy_atoms": [6, 2]})
run(M, "ConformerPipeline.from_pretrained(stats heavy_atoms=[6, 2])", lambda: ConformerPipeline.from_pretrained(c5),
    need="heavy_atom")
c6 = copy(CP_DIR, "cp_betas")
edit_json(c6, "process/config.json", lambda c: {**c, "betas": [float("nan")] + list(c.get("betas", [0.1]))[1:]})
run(M, "ConformerPipeline.from_pretrained(process betas with NaN)", lambda: ConformerPipeline.from_pretrained(c6),
    need="betas|process")
c7 = copy(CP_DIR, "cp_ncnf")
edit_json(c7, "sampler/config.json", lambda c: {**c, "n_conformers": 0})
run(M, "ConformerPipeline.from_pretrained(sampler n_conformers=0)", lambda: ConformerPipeline.from_pretrained(c7),
    need="n_conformers")
c8 = copy(CP_DIR, "cp_nostats")
edit_json(c8, "stats/config.json", lambda c: {})
run(M, "ConformerPipeline.from_pretrained(stats/config.json = {})", lambda: ConformerPipeline.from_pretrained(c8),
    need="heavy_atoms|stats")
c9 = copy(CP_DIR, "cp_kind")
edit_json(c9, "net/config.json", lambda c: {**c, "kind": "e3nn"})
run(M, "ConformerPipeline.from_pretrained(net kind geodiff->e3nn, geodiff weights)",
    lambda: ConformerPipeline.from_pretrained(c9), need="^(?!.*sampler/config.json).*net/")
run(M, "cp.save_pretrained(dir, dtype=torch.int8)", lambda: cp.save_pretrained(TMP / "cp_int8", dtype=torch.int8),
    need="dtype")
run(M, "ConformerPipeline.from_run('missing/')", lambda: ConformerPipeline.from_run(TMP / "nope5"), need="nope5")
run(M, "ConformerPipeline.from_run(<imputer checkpoint>)", lambda: ConformerPipeline.from_run(IMP_CKPT),
    need="imp_ckpt")
run(M, "write_sdf([mol], path=5)", lambda: write_sdf([mol3d()], 5), need="path")
run(M, "write_sdf(mol, 'x.sdf')  # a Mol, not a list", lambda: write_sdf(mol3d(), str(TMP / "x.sdf")), need="list|mols")
run(M, "write_sdf([], 'e.sdf')", lambda: write_sdf([], str(TMP / "e.sdf")), "edge")
run(M, "write_sdf([mol without conformer], 'n.sdf')", lambda: write_sdf([Chem.MolFromSmiles("CCO")], str(TMP / "n.sdf")),
    need="conformer")
run(M, "gen.write_sdf('CCO', 'out.txt', 1)  # not an SDF suffix", lambda: gen_().write_sdf("CCO", str(TMP / "o.txt"), 1),
    need="sdf|suffix")
run(M, "read_molecules('x.mol2')", lambda: mfiles.read_molecules(fwrite("x.mol2", "")), need="mol2")
run(M, "read_molecules('missing.smi')", lambda: mfiles.read_molecules(TMP / "missing.smi"), need="missing.smi")
run(M, "read_molecules(empty .smi)", lambda: mfiles.read_molecules(fwrite("e.smi", "")), "edge")
run(M, "read_molecules(garbage bytes .smi)", lambda: mfiles.read_molecules(fwrite("g.smi", bytes(range(128, 256)))),
    need="g.smi")
run(M, "read_molecules(garbage bytes .sdf)", lambda: mfiles.read_molecules(fwrite("g.sdf", bytes(range(256)) * 3)),
    "edge")
sdf_good = TMP / "good.sdf"
write_sdf([mol3d()], str(sdf_good))
run(M, "read_molecules(truncated .sdf)", lambda: mfiles.read_molecules(fwrite("t.sdf", sdf_good.read_bytes()[:150])),
    "edge", check=lambda r: None if r[1] else "truncated record read with no Problem")
run(M, "read_molecules(<dir named d.smi>)", lambda: mfiles.read_molecules((TMP / "d.smi").mkdir() or TMP / "d.smi"),
    need="d.smi")
run(M, "parse_molecule('CCO', add_hs='no')", lambda: parse_molecule("CCO", add_hs="no"), need="add_hs")
run(M, "parse_molecule(b'CCO')", lambda: parse_molecule(b"CCO"), need="SMILES")
run(M, "mol_to_data('CCO', conf_id=1.5)", lambda: mol_to_data(mol3d(), conf_id=1.5), need="conf_id")
run(M, "mol_to_data('CCO')  # SMILES, no conformer", lambda: mol_to_data("CCO"), "edge")
run(M, "generate_conformers('CCO', 1, clip=-1)", lambda: generate_conformers("CCO", 1, net=NET, process=PROC, steps=2,
                                                                            solver="ddim", clip=-1.0), need="clip")
run(M, "generate_conformers('CCO', 1, clip=nan)", lambda: generate_conformers("CCO", 1, net=NET, process=PROC, steps=2,
                                                                             solver="ddim", clip=float("nan")),
    need="clip")
run(M, "generate_conformers('CCO', 1, clip=0)", lambda: generate_conformers("CCO", 1, net=NET, process=PROC, steps=2,
                                                                           solver="ddim", clip=0.0), need="clip")
run(M, "generate_conformers('CCO', 1, max_batch_atoms=2)  # < one molecule",
    lambda: generate_conformers("CCO", 1, net=NET, process=PROC, steps=2, solver="ddim", max_batch_atoms=2),
    need="max_batch_atoms")
run(M, "generate_conformers('CCO', 1, restarts=1, restart_noise=-1)",
    lambda: generate_conformers("CCO", 1, net=NET, process=PROC, steps=2, solver="ddim", restarts=1,
                                restart_noise=-1.0), need="restart_noise")
run(M, "generate_conformers('CCO', 1, ddim eta=nan)",
    lambda: generate_conformers("CCO", 1, net=NET, process=PROC, steps=2, solver="ddim", eta=float("nan")),
    need="eta")
run(M, "generate_conformers('CCO', 1, match_stereo=1)",
    lambda: generate_conformers("CCO", 1, net=NET, process=PROC, steps=2, solver="ddim", match_stereo=1),
    need="match_stereo")
run(M, "generate_conformers('CCO', 1, steps=500)  # more steps than T=200",
    lambda: generate_conformers("CCO", 1, net=NET, process=PROC, steps=500, solver="ddim"), need="steps")
run(M, "generate_conformers('CCO', 1, net=<E3 net of wrong config>, ...)",
    lambda: generate_conformers("CCO", 1, net=torch.nn.Linear(3, 3), process=PROC, steps=2, solver="ddim"),
    need="net")
run(M, "geodiff_process(T=0)", lambda: geodiff_process(0), need="T")
run(M, "geodiff_process(T=2.5)", lambda: geodiff_process(2.5), need="T")
run(M, "geodiff_process(beta_end=2.0)", lambda: geodiff_process(10, beta_end=2.0), need="beta")
run(M, "geodiff_process(beta_start=0.1, beta_end=0.01)", lambda: geodiff_process(10, 0.1, 0.01), need="beta")
run(M, "NetConfig(hidden=0) -> build_net", lambda: build_net(NetConfig(hidden=0)), need="hidden")
run(M, "NetConfig(kind='foo') -> build_net", lambda: build_net(NetConfig(kind="foo")), need="kind")
run(M, "NetConfig(cutoff=-1) -> build_net", lambda: build_net(NetConfig(hidden=8, num_rbf=4, cutoff=-1.0)),
    need="cutoff")
run(M, "NetConfig(cutoff=nan) -> build_net", lambda: build_net(NetConfig(hidden=8, num_rbf=4, cutoff=float("nan"))),
    need="cutoff")
run(M, "NetConfig(hidden=8.5) -> build_net", lambda: build_net(NetConfig(hidden=8.5)), need="hidden")
run(M, "split_by_molecule(10, val=1.5)", lambda: split_by_molecule(10, val=1.5), need="val")
run(M, "split_by_molecule(10, val=0.6, test=0.6)", lambda: split_by_molecule(10, val=0.6, test=0.6), need="val|test")
run(M, "split_by_molecule(0)", lambda: split_by_molecule(0), need="n")
run(M, "random_qm9_split(-1, 1, 1)", lambda: random_qm9_split(-1, 1, 1, root=TMP / "noqm9"), need="n_train")
run(M, "random_qm9_split(1, 1, 1, min_heavy_atoms=5, max_heavy_atoms=2)",
    lambda: random_qm9_split(1, 1, 1, min_heavy_atoms=5, max_heavy_atoms=2, root=TMP / "noqm9"), need="heavy_atoms")
sc = ConformerScores([np.array([[0.1, 0.5], [0.3, 0.2]])])
run(M, "summarize(scores, delta=-1)", lambda: summarize(sc, -1.0), need="delta")
run(M, "coverage_curve(scores, [0.5], kind='X')", lambda: coverage_curve(sc, [0.5], kind="X"), need="kind")
run(M, "coverage_curve(scores, [])", lambda: coverage_curve(sc, []), "edge")
run(M, "ConformerScores([rmsd with NaN])", lambda: ConformerScores([np.array([[np.nan]])]), need="rmsd")
run(M, "ConformerScores([negative rmsd])", lambda: ConformerScores([np.array([[-1.0]])]), need="rmsd")
run(M, "rmsd_matrix(CCO confs, CCN confs)  # different molecules",
    lambda: rmsd_matrix(mol3d("CCO"), mol3d("CCN")), need="ref|gen|molecule")
run(M, "rmsd_matrix(ref, gen, max_matches=0)", lambda: rmsd_matrix(mol3d(), mol3d(), max_matches=0),
    need="max_matches")
run(M, "score_conformers([a, b], [a])  # lengths differ", lambda: score_conformers([mol3d(), mol3d()], [mol3d()]),
    need="reference|refs")
run(M, "etkdg('CCO', 2, threads=0)", lambda: etkdg("CCO", 2, threads=0), "edge")
run(M, "etkdg('CCO', 2, threads=-5)", lambda: etkdg("CCO", 2, threads=-5), need="threads")
run(M, "etkdg('CCO', 2, stereo='foo')", lambda: etkdg("CCO", 2, stereo="foo"), need="stereo")
run(M, "clustered_etkdg('CCO', 2, threshold=-1)", lambda: clustered_etkdg("CCO", 2, threshold=-1.0), need="threshold")
run(M, "clustered_etkdg('CCO', 2, oversample=0)", lambda: clustered_etkdg("CCO", 2, oversample=0), need="oversample")
run(M, "etkdg_mmff('CCO', 1, max_iters=0)", lambda: etkdg_mmff("CCO", 1, max_iters=0), need="max_iters")
run(M, "mmff_relax(mol, max_iters=-1)", lambda: mmff_relax(mol3d(), max_iters=-1), need="max_iters")
run(M, "mmff_relax('CCO')", lambda: mmff_relax("CCO"), need="Mol")
run(M, "mol_from_xyz(['C', 'Xx'], coords)", lambda: mol_from_xyz(["C", "Xx"], [[0, 0, 0], [1.5, 0, 0]]),
    need="Xx")
run(M, "mol_from_xyz(['C', 'O'], [[0, 0, 0]])  # count differs", lambda: mol_from_xyz(["C", "O"], [[0, 0, 0]]),
    need="coords|elements")
run(M, "mol_from_xyz(['C', 'O'], NaN coords)", lambda: mol_from_xyz(["C", "O"], [[0, 0, 0], [np.nan, 0, 0]]),
    need="coords")
run(M, "match_enantiomer(Mol without a conformer)", lambda: match_enantiomer(Chem.MolFromSmiles("C[C@H](N)O")),
    "edge")
ei = torch.tensor([[0, 1], [1, 0]])
run(M, "extend_graph(edge_index, edge_type, 2, order=0)", lambda: extend_graph(ei, torch.tensor([1, 1]), 2, order=0),
    need="order")
run(M, "radius_graph(pos, r=nan)", lambda: radius_graph(torch.zeros(3, 3), float("nan")), need="r")
run(M, "radius_graph(pos with NaN, 1.0)", lambda: radius_graph(torch.tensor([[0.0, 0, 0], [np.nan, 0, 0]]), 1.0),
    need="pos")
run(M, "NET(pos with NaN, t, batch)", lambda: NET(torch.full((9, 3), float("nan")), torch.zeros(1),
                                                   __import__("polydiff.molecules.featurize", fromlist=["x"]).mols_to_batch(["CCO"])),
    need="pos")

# ---- polydiff conformers -------------------------------------------------------------------------
smi = fwrite("in.smi", "CCO ethanol\nCC\n")
SDFO = str(TMP / "c.sdf")
cb = ["--steps", "1", "--no-progress"]
run(M, "polydiff conformers --input missing.smi", lambda: cli("conformers", "--model", str(CP_DIR), "--input",
                                                              str(TMP / "missing.smi"), "--output", SDFO, *cb),
    need="--input")
run(M, "polydiff conformers --input x.mol2", lambda: cli("conformers", "--model", str(CP_DIR), "--input",
                                                         str(fwrite("y.mol2", "x")), "--output", SDFO, *cb),
    need="--input")
run(M, "polydiff conformers --input empty.smi", lambda: cli("conformers", "--model", str(CP_DIR), "--input",
                                                            str(fwrite("e2.smi", "")), "--output", SDFO, *cb),
    need="--input")
run(M, "polydiff conformers --input garbage bytes .smi", lambda: cli(
    "conformers", "--model", str(CP_DIR), "--input", str(fwrite("g2.smi", bytes(range(128, 256)))), "--output", SDFO,
    *cb), need="--input.*g2.smi.*:")
run(M, "polydiff conformers --strict with an invalid SMILES", lambda: cli(
    "conformers", "--model", str(CP_DIR), "--input", str(fwrite("bad.smi", "CCO\nC1CC((N\n")), "--output", SDFO,
    "--strict", *cb), need="--input|--strict")
run(M, "polydiff conformers --output out.txt", lambda: cli("conformers", "--model", str(CP_DIR), "--input", str(smi),
                                                           "--output", str(TMP / "o.txt"), *cb), need="--output")
run(M, "polydiff conformers --n 0", lambda: cli("conformers", "--model", str(CP_DIR), "--input", str(smi), "--output",
                                                SDFO, "--n", "0"), need="--n")
run(M, "polydiff conformers --batch-size -1", lambda: cli("conformers", "--model", str(CP_DIR), "--input", str(smi),
                                                          "--output", SDFO, "--batch-size", "-1"),
    need="--batch-size")
run(M, "polydiff conformers --model <imputation pipeline>", lambda: cli("conformers", "--model", str(IMP_DIR),
                                                                         "--input", str(smi), "--output", SDFO, *cb),
    need="--model")
run(M, "polydiff conformers --steps 500  # more than T=200", lambda: cli(
    "conformers", "--model", str(CP_DIR), "--input", str(smi), "--output", SDFO, "--steps", "500", "--no-progress"),
    need="--steps")
sdf_in = TMP / "in.sdf"
write_sdf([mol3d()], str(sdf_in))
run(M, "polydiff conformers --output == --input (sdf)", lambda: cli(
    "conformers", "--model", str(CP_DIR), "--input", str(sdf_in), "--output", str(sdf_in), *cb), need="--output")
run(M, "polydiff conformers --input <dir d2.smi>", lambda: cli(
    "conformers", "--model", str(CP_DIR), "--input", str((TMP / "d2.smi").mkdir() or TMP / "d2.smi"), "--output",
    SDFO, *cb), need="--input")
run(M, "polydiff conformers --input truncated .sdf", lambda: cli(
    "conformers", "--model", str(CP_DIR), "--input", str(fwrite("t2.sdf", sdf_in.read_bytes()[:150])), "--output",
    SDFO, *cb), need="--input")
run(M, "polydiff conformers --input one-atom SMILES only", lambda: cli(
    "conformers", "--model", str(CP_DIR), "--input", str(fwrite("one.smi", "[Na+]\n")), "--output", SDFO, *cb),
    need="--input")
run(M, "polydiff conformers (valid run)", lambda: cli("conformers", "--model", str(CP_DIR), "--input", str(smi),
                                                      "--output", SDFO, *cb), "edge")

print()
print("COUNTS: " + ", ".join(f"{k}={v}" for k, v in sorted(COUNTS.items())) + f", total={sum(COUNTS.values())}")
shutil.rmtree(TMP, ignore_errors=True)

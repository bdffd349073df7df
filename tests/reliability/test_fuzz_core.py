"""Fuzz of the engine's front doors: ``sample``, ``prior_sample``, ``make_grid``,
``process_from_config``, ``dsm_loss``, over random ranks, shapes, dtypes, batch sizes, values
and hyper-parameters. Each example ends in a named error raised by polydiff or in a finite
result of the right shape."""
import math
import sys
from pathlib import Path

import torch
from hypothesis import example, given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
import polydiff.core as pc
from fuzz import FUZZ, outcome
from polydiff.core.sample import solver_options_of

PROCESSES = {"VP": pc.VP(), "SubVP": pc.SubVP(), "VE": pc.VE(), "EDM": pc.EDM(), "Flow": pc.Flow()}
ODD = [0.0, -1.0, 0.5, 1.0, 3.0, 50.0, math.inf, -math.inf, math.nan, 2, True, "x", None]
SHAPES = st.lists(st.integers(1, 3), min_size=1, max_size=4)
FAST = [s for s in pc.SOLVERS if s != "rk45"]  # rk45's cost depends on the tolerance drawn


def _model(kind: str):
    if kind == "zeros":
        return lambda x, t: torch.zeros_like(x)
    if kind == "linear":
        return lambda x, t: 0.5 * x
    if kind == "nan":
        return lambda x, t: torch.full_like(x, math.nan)
    if kind == "wrong-shape":
        return lambda x, t: torch.zeros(x.shape[0], 1, dtype=x.dtype)
    return lambda x, t: x.sum()  # a scalar


@FUZZ
@given(shape=SHAPES, process=st.sampled_from(sorted(PROCESSES)), solver=st.sampled_from(FAST),
       prediction=st.sampled_from(pc.PREDICTIONS), steps=st.sampled_from([1, 2, 3, 0, -2, 2.5, "3"]),
       dtype=st.sampled_from([torch.float32, torch.float64, torch.float16, torch.int64]),
       value=st.sampled_from([1.0, 1e-30, 1e30, math.nan, math.inf]),
       model=st.sampled_from(["zeros", "linear", "nan", "wrong-shape", "scalar"]),
       option=st.sampled_from(["eta", "snr", "order", "n_corrector", "lower_order_final", None]),
       option_value=st.sampled_from(ODD))
@example(shape=[2, 3], process="VP", solver="ddim", prediction="eps", steps=2, dtype=torch.float32,
         value=1.0, model="zeros", option="eta", option_value=50.0)
def test_sample_random_inputs(shape, process, solver, prediction, steps, dtype, value, model, option,
                              option_value):
    proc = PROCESSES[process]
    x_T = (torch.randn(shape, generator=torch.Generator().manual_seed(0)) * value).to(dtype)
    options = {option: option_value} if option else {}
    out, err = outcome(lambda: pc.sample(_model(model), proc, x_T, steps=steps, solver=solver,
                                         prediction=prediction, **options))
    if err is None:
        assert out.shape == x_T.shape and out.dtype == x_T.dtype
    if option == "eta" and option in solver_options_of(solver) and option_value == 50.0:
        assert err is not None and "eta" in str(err)  # DDIM's eta lies in [0, 1]
    if model in ("nan", "scalar") or (model == "wrong-shape" and x_T.shape[1:] != (1,)):
        assert err is not None  # never a result from a broken model


@FUZZ
@given(shape=st.one_of(SHAPES, st.integers(-2, 4), st.lists(st.sampled_from([0, -1, 2.5, 2.0, "2", 2]),
                                                            min_size=0, max_size=3)),
       process=st.sampled_from(sorted(PROCESSES)),
       generator=st.sampled_from(["none", "one", "per-sample", "int", "too-few"]))
def test_prior_sample_random_shapes(shape, process, generator):
    n = shape[0] if isinstance(shape, list) and shape and isinstance(shape[0], int) else 1
    gen = {"none": None, "one": torch.Generator().manual_seed(1), "int": 3,
           "per-sample": [torch.Generator().manual_seed(i) for i in range(max(n, 1))],
           "too-few": [torch.Generator()] * (max(n, 1) + 1)}[generator]
    out, err = outcome(lambda: PROCESSES[process].prior_sample(shape, gen))
    if err is None:
        want = (shape,) if isinstance(shape, int) else tuple(shape)
        assert tuple(out.shape) == want and all(isinstance(s, int) and s > 0 for s in want)
    if generator == "int":
        assert err is not None and ("generator" in str(err) or "shape" in str(err))


@FUZZ
@given(process=st.sampled_from(sorted(PROCESSES)), kind=st.sampled_from([*pc.GRID_KINDS, "cosine", None]),
       steps=st.sampled_from([1, 2, 7, 0, 2.5]), rho=st.sampled_from([7.0, 1.0, 0.0, -3.0, math.inf, math.nan]),
       final=st.sampled_from(["zero", "spaced", "none", "clean"]),
       t_start=st.sampled_from([None, 0.5, 2.0, -1.0, math.nan]))
def test_make_grid_random_arguments(process, kind, steps, rho, final, t_start):
    proc = PROCESSES[process]
    if t_start is not None and t_start == 0.5:
        t_start = proc.t_min + 0.5 * (proc.t_max - proc.t_min)
    g, err = outcome(lambda: pc.make_grid(proc, steps, kind, t_start=t_start, final=final, rho=rho))
    if err is None:
        assert g.steps == steps and bool((g.sigma >= 0).all()) and bool((g.t[:-1] >= g.t[1:]).all())
    if kind == "karras" and not (rho > 0 and math.isfinite(rho)):
        assert err is not None


@FUZZ
@given(cls=st.sampled_from(["VP", "SubVP", "VE", "EDM", "Flow", "DiscreteVP", "Nope"]),
       drop=st.sampled_from([None, "beta_min", "beta_max", "betas", "sigma_min"]),
       extra=st.sampled_from([None, "bogus"]))
def test_process_from_config_random_keys(cls, drop, extra):
    full = (pc.DiscreteVP(pc.beta_schedule("linear", 20)) if cls == "DiscreteVP" else
            PROCESSES.get(cls, pc.VP()))
    cfg = {**full.config(), "class": cls}
    cfg.pop(drop, None)
    if extra:
        cfg[extra] = 1.0
    out, err = outcome(lambda: pc.process_from_config(cfg))
    if err is None:
        assert isinstance(out, pc.GaussianProcess)


@FUZZ
@given(shape=SHAPES, value=st.sampled_from([1.0, 1e30, math.nan, math.inf]),
       dtype=st.sampled_from([torch.float32, torch.float64, torch.int64]),
       prediction=st.sampled_from(pc.PREDICTIONS), weighting=st.sampled_from([*pc.WEIGHTINGS, "nope"]))
def test_dsm_loss_random_inputs(shape, value, dtype, prediction, weighting):
    x0 = (torch.ones(shape) * value).to(dtype)
    loss, err = outcome(lambda: pc.dsm_loss(lambda x, t: torch.zeros_like(x), pc.VP(), x0,
                                            prediction=prediction, weighting=weighting,
                                            generator=torch.Generator().manual_seed(0)))
    if err is None:
        assert loss.shape == (x0.shape[0],)


# --- issue #31: constructors, grids, hooks and weights under random arguments -----------------
NUMBERS = [0.0, -1.0, 1e-3, 0.5, 1.0, 2.0, 20.0, 1e30, math.inf, math.nan, True, "0.1", None]


@FUZZ
@given(cls=st.sampled_from(["VP", "SubVP", "VE", "EDM", "Flow"]), key=st.sampled_from(
    ["beta_min", "beta_max", "t_min", "t_max", "s", "sigma_min", "sigma_max", "sigma_data", "rho"]),
       value=st.sampled_from(NUMBERS), schedule=st.sampled_from(["linear", "cosine"]))
def test_process_constructor_random_parameter(cls, key, value, schedule):
    """Every accepted process is usable: finite alpha/sigma at both ends, alpha(t_max) > 0."""
    import inspect

    if key not in inspect.signature(getattr(pc, cls)).parameters:
        return  # a key this class does not take
    kw = {"schedule": schedule} if cls == "VP" else {}
    proc, err = outcome(lambda: getattr(pc, cls)(**kw, **{key: value}))
    if err is None:
        t = torch.tensor([proc.t_min, proc.t_max], dtype=torch.float64)
        a, s = proc.alpha(t), proc.sigma(t)
        assert bool(torch.isfinite(a).all() and torch.isfinite(s).all()) and float(a[1]) > 0 and float(s[0]) > 0
    default_none = value is None and cls == "VP" and key == "t_max"  # None: the schedule's own t_max
    if isinstance(value, (bool, str)) or (value is None and not default_none) or (
            isinstance(value, float) and not math.isfinite(value)):
        assert err is not None, f"{cls}({key}={value!r}) was accepted"


@FUZZ
@given(t=st.lists(st.sampled_from([1.0, 0.5, 0.1, 0.0, -1.0, 2.0, math.nan, math.inf, 1, "1"]),
                  min_size=0, max_size=4), as_tensor=st.booleans())
def test_grid_random_t(t, as_tensor):
    """A Grid is finite, floating and runs from noise to data, or it is refused by name."""
    n = len(t)
    alpha, sigma = [1.0] * n, [0.5] * n
    if as_tensor and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in t):
        t = torch.tensor(t, dtype=torch.float64)
    g, err = outcome(lambda: pc.Grid(t=t, alpha=alpha, sigma=sigma))
    if err is None:
        assert g.t.is_floating_point() and bool(torch.isfinite(g.t).all()) and bool((g.t[1:] <= g.t[:-1]).all())
    else:
        assert "grid" in str(err)


@FUZZ
@given(hook=st.sampled_from(["clip", "dynamic_threshold", "zero_center", "nearest_embedding", "Known", "CFG"]),
       a=st.sampled_from(NUMBERS + [3, -2, 2.5]), b=st.sampled_from(NUMBERS + [3, -2, 2.5]))
def test_hooks_random_arguments(hook, a, b):
    """Hooks refuse bad arguments when built (by name); an accepted hook maps finite input to
    finite output of the same shape."""
    x = torch.randn(2, 3, 4, generator=torch.Generator().manual_seed(0))
    build = {
        "clip": lambda: pc.clip(a, b),
        "dynamic_threshold": lambda: pc.dynamic_threshold(a, b),
        "zero_center": lambda: pc.zero_center(None, a),
        "nearest_embedding": lambda: pc.nearest_embedding(torch.full((3, 4), a) if isinstance(a, float) else a),
        "Known": lambda: pc.Known(torch.zeros(2, 3, 4), torch.ones(2, 3, 4), jump_length=a, resample=b),
        "CFG": lambda: pc.CFG(a),
    }[hook]
    h, err = outcome(build)
    if err is None and callable(h):
        y, err2 = outcome(lambda: h(x, torch.ones(2)))
        if err2 is None:
            assert y.shape == x.shape
    if isinstance(a, (bool, str)) or a is None:
        assert err is not None or hook in ("nearest_embedding", "zero_center") and a is None


@FUZZ
@given(keys=st.lists(st.sampled_from(["weight", "bias", "extra", 1]), min_size=0, max_size=3, unique=True),
       value=st.sampled_from(["ok", "nan", "int", "half", "shape", "list"]), container=st.sampled_from(["dict", "str"]))
def test_load_weights_random_dicts(keys, value, container):
    """load_weights either loads finite weights of the right keys/shapes/kind or raises a named
    error mentioning the file, and never changes the network when it refuses."""
    from polydiff.core.training.checkpoint import load_weights

    net = torch.nn.Linear(3, 2)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    ref = net.state_dict()

    def make(k):
        shape = tuple(ref[k].shape) if k in ref else (1,)
        return {"ok": torch.ones(shape), "nan": torch.full(shape, math.nan), "int": torch.ones(shape, dtype=torch.long),
                "half": torch.ones(shape, dtype=torch.float16), "shape": torch.ones(7), "list": [1.0]}[value]

    tensors = {k: make(k) for k in keys} if container == "dict" else "weights"
    _, err = outcome(lambda: load_weights(net, tensors, Path("w.safetensors")))
    if err is not None:
        assert "w.safetensors" in str(err) or "mapping" in str(err)
        assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    else:
        assert sorted(keys) == ["bias", "weight"] and value in ("ok", "half")
        assert all(bool(torch.isfinite(v).all()) for v in net.state_dict().values())

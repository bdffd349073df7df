"""The core engine's entry in the benchmark suite (issue 3, "Measure").

Two measurements, in one process and on the same noise:

1. **Error versus NFE.** Exact-score Gaussian-mixture data in 2 and 64 dimensions under
   diffusers' default linear-beta ``DiscreteVP`` (T = 1000, trailing spacing). Every solver
   starts from the same ``x_T`` and is compared with the exact probability-flow solution
   (adaptive RK45 at tight tolerance on the same ODE, integrated down to sigma = 1e-5). polydiff's
   solvers run beside diffusers' schedulers (DDIM, DPM-Solver++ 2M/3M, UniPC 2/3, Euler,
   Heun, DEIS) at NFE 5, 10, 20, 50.
2. **Per-step overhead** of the sampling loop with a zero-cost model on a tiny ``[1, 2]`` and
   a large ``[16, 4, 64, 64]`` input, beside diffusers' ``DPMSolverMultistepScheduler`` loop
   and the cost of one elementwise pass over the large tensor.
"""
from __future__ import annotations

import math
import pathlib
import time
from collections.abc import Callable

import polydiff.core as pc
import torch
from polydiff.core.testing import GaussianMixture

NFES = (5, 10, 20, 50)
# polydiff: (label, solver, options, grid kind, evaluations per step). The first block uses
# diffusers' own trailing grid (the same time points as the peers), the second the peers'
# alternative grids (uniform log-SNR, Karras), the third polydiff's few-step setting, fixed for every NFE and dataset: a uniform log-SNR grid whose last model
# evaluation is at t = 10 (sigma/alpha = 0.033) before the final step onto clean data.
T_END = 10.0
POLYDIFF = [
    ("ddim", "ddim", {}, None, 1),
    ("euler", "euler", {}, None, 1),
    ("heun", "heun", {}, None, 2),
    ("dpmpp_2m", "dpmpp_2m", {}, None, 1),
    ("dpmpp_3m", "dpmpp_3m", {}, None, 1),
    ("unipc-2", "unipc", {"order": 2}, None, 1),
    ("unipc-3", "unipc", {"order": 3}, None, 1),
    # the peers' alternative grids, on polydiff's solvers
    ("dpmpp_2m-lu", "dpmpp_2m", {}, "log_snr", 1),
    ("dpmpp_3m-lu", "dpmpp_3m", {}, "log_snr", 1),
    ("dpmpp_2m-karras", "dpmpp_2m", {}, "karras", 1),
    ("unipc-3-karras", "unipc", {"order": 3}, "karras", 1),
    ("dpmpp_2m-logsnr", "dpmpp_2m", {"t_end": T_END}, "log_snr", 1),
    ("dpmpp_3m-logsnr", "dpmpp_3m", {"t_end": T_END}, "log_snr", 1),
    ("unipc-2-logsnr", "unipc", {"order": 2, "t_end": T_END}, "log_snr", 1),
    ("unipc-3-logsnr", "unipc", {"order": 3, "t_end": T_END}, "log_snr", 1),
]


def _diffusers():
    try:
        import diffusers
    except ImportError as e:  # the peer is a dev dependency
        raise ImportError('pip install "polydiff[dev]"') from e
    return diffusers


def _peers(d):
    base = {"beta_schedule": "linear", "timestep_spacing": "trailing"}
    return [
        ("DDIM", lambda: d.DDIMScheduler(clip_sample=False, **base), 1),
        ("DPMSolver++2M", lambda: d.DPMSolverMultistepScheduler(solver_order=2, **base), 1),
        ("DPMSolver++3M", lambda: d.DPMSolverMultistepScheduler(solver_order=3, **base), 1),
        ("UniPC-2", lambda: d.UniPCMultistepScheduler(solver_order=2, **base), 1),
        ("UniPC-3", lambda: d.UniPCMultistepScheduler(solver_order=3, **base), 1),
        ("Euler", lambda: d.EulerDiscreteScheduler(**base), 1),
        ("Heun", lambda: d.HeunDiscreteScheduler(**base), 2),
        ("DEIS-3", lambda: d.DEISMultistepScheduler(solver_order=3, **base), 1),
        # diffusers' own alternative grids: uniform log-SNR (Lu et al.) and Karras sigmas
        ("DPMSolver++2M-lu", lambda: d.DPMSolverMultistepScheduler(solver_order=2, use_lu_lambdas=True,
                                                                    beta_schedule="linear"), 1),
        ("DPMSolver++3M-lu", lambda: d.DPMSolverMultistepScheduler(solver_order=3, use_lu_lambdas=True,
                                                                    beta_schedule="linear"), 1),
        ("DPMSolver++2M-karras", lambda: d.DPMSolverMultistepScheduler(solver_order=2, use_karras_sigmas=True,
                                                                        beta_schedule="linear"), 1),
        ("UniPC-3-karras", lambda: d.UniPCMultistepScheduler(solver_order=3, use_karras_sigmas=True,
                                                              beta_schedule="linear"), 1),
    ]


def _mixture(dim: int, seed: int) -> GaussianMixture:
    g = torch.Generator().manual_seed(seed)
    k = 4 if dim == 2 else 8
    means = torch.randn(k, dim, generator=g, dtype=torch.float64) * (1.0 if dim == 2 else 0.5)
    stds = 0.2 + 0.4 * torch.rand(k, generator=g, dtype=torch.float64)
    return GaussianMixture(means, stds)


def _run_diffusers(sched, model, x_T: torch.Tensor, steps: int) -> torch.Tensor:
    sched.set_timesteps(steps)
    if hasattr(sched, "sigmas") and float(sched.init_noise_sigma) > 1.0:
        # sigma-space schedulers: start from the same VP state (latents = x_T sqrt(1 + s_max^2))
        lat = x_T * math.sqrt(1.0 + float(sched.sigmas.max()) ** 2)
    else:
        lat = x_T.clone()
    for t in sched.timesteps:
        inp = sched.scale_model_input(lat, t)
        out = model(inp, torch.full((x_T.shape[0],), float(t), dtype=x_T.dtype))
        lat = sched.step(out, t, lat).prev_sample
    return lat


def _reference(gm: GaussianMixture, proc: pc.DiscreteVP, x_T: torch.Tensor) -> torch.Tensor:
    """Exact PF-ODE solution from x_T at t = T-1 down to sigma = 1e-5 (RK45, rtol 1e-9)."""
    t0 = torch.tensor(proc.t_max, dtype=torch.float64)
    s0 = float(proc.sigma_edm(t0))
    edm = pc.EDM(sigma_min=1e-5, sigma_max=s0)
    y_T = x_T.double() / float(proc.alpha(t0))
    grid = pc.make_grid(edm, 2, "karras", final="none")
    return pc.sample(gm.as_model(edm, "eps"), edm, y_T, grid=grid, solver="rk45", rtol=1e-9, atol=1e-9)


def _rmse(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a.double() - b.double()) ** 2).mean().sqrt())


def rmse_interval(a: torch.Tensor, b: torch.Tensor, z: float = 1.96) -> tuple[float, float]:
    """95% interval of the RMSE between ``a`` and ``b`` ``[n, ...]`` over their ``n`` samples."""
    return _rmse_with_interval(a, b, z)[1]


def _rmse_with_interval(a: torch.Tensor, b: torch.Tensor, z: float = 1.96) -> tuple[float, tuple[float, float]]:
    """``(RMSE, (low, high))``: the interval is the normal one of the mean per-sample squared
    error ``m +- z s / sqrt(n)``, square-rooted (clipped at 0 below; unbounded for one sample)."""
    e = ((a.double() - b.double()) ** 2).reshape(len(a), -1).mean(1)
    m = float(e.mean())
    half = z * float(e.std()) / math.sqrt(len(e)) if len(e) > 1 else float("inf")
    return math.sqrt(m), (math.sqrt(max(m - half, 0.0)), math.sqrt(m + half))


def error_vs_nfe(mode: str, progress: Callable[[str], None] | None = None) -> list[dict]:
    d = _diffusers()
    proc = pc.DiscreteVP.from_diffusers({"beta_schedule": "linear", "timestep_spacing": "trailing",
                                         "num_train_timesteps": 1000})
    records = []
    for dim, n in ((2, 256 if mode == "full" else 64), (64, 64 if mode == "full" else 16)):
        gm = _mixture(dim, seed=dim)
        x_T = torch.randn(n, dim, generator=torch.Generator().manual_seed(100 + dim), dtype=torch.float64)
        model = gm.as_model(proc, "eps")
        if progress:
            progress(f"core: exact PF-ODE reference, {dim}-d")
        ref = _reference(gm, proc, x_T)
        dataset = f"gmm-{dim}d"
        for nfe in NFES:
            for label, solver, opts, kind, per in POLYDIFF:
                steps = (nfe + 1) // 2 if per == 2 else nfe
                t0 = time.perf_counter()
                out = pc.sample(model, proc, x_T, steps=steps, solver=solver, grid=kind, **opts)
                sec = time.perf_counter() - t0
                records.append(_rec("ode-error", dataset, f"nfe={nfe}", f"polydiff-{label}",
                                    *_rmse_with_interval(out, ref), nfe=nfe, seconds=sec, n=n))
            for label, make, per in _peers(d):
                steps = (nfe + 1) // 2 if per == 2 else nfe
                t0 = time.perf_counter()
                try:
                    out = _run_diffusers(make(), model, x_T.float(), steps).double()
                    val, ci = _rmse_with_interval(out, ref)
                except Exception:  # a scheduler that cannot run this step count
                    continue
                sec = time.perf_counter() - t0
                if not math.isfinite(val):
                    continue
                records.append(_rec("ode-error", dataset, f"nfe={nfe}", f"diffusers-{label}", val, ci, nfe, sec, n))
    return records


# Default calls (issue 25): ``pc.sample(model, pc.VP(), x_T, steps=N, solver=s)`` with nothing
# else, beside diffusers' default scheduler of the same family on its default config, each
# against the exact PF-ODE solution of its own process from the same x_T. The defaults of
# polydiff.core.defaults were chosen on the "tuning" targets; the "held-out" ones were not used.
# (dim, modes, separation, std, scale, seed, split); see polydiff.core.testing.mixture_target
TARGETS = [
    (2, 4, 2.0, 0.3, 1.0, 0, "tuning"), (2, 8, 1.0, 0.1, 2.0, 1, "tuning"), (8, 4, 4.0, 0.3, 0.5, 2, "tuning"),
    (8, 1, 0.0, 1.0, 1.0, 3, "tuning"), (32, 8, 1.0, 0.2, 1.0, 4, "tuning"), (64, 8, 2.0, 0.2, 1.0, 5, "tuning"),
    (64, 4, 0.5, 0.1, 2.0, 6, "tuning"), (2, 2, 4.0, 0.05, 1.0, 7, "tuning"),
    (4, 6, 2.0, 0.2, 1.0, 8, "held-out"), (16, 8, 1.0, 0.3, 1.0, 9, "held-out"),
    (48, 3, 3.0, 0.1, 0.5, 10, "held-out"), (3, 5, 1.5, 0.15, 3.0, 11, "held-out"),
]
DEFAULT_NFES = (5, 10, 20)
DEFAULT_SOLVERS = ("dpmpp_2m", "unipc", "dpmpp_3m", "euler", "heun")


def _target_name(dim, modes, sep, std, scale) -> str:
    return f"gmm-{dim}d-{modes}modes-sep{sep:g}-std{std:g}-scale{scale:g}"


def default_calls(mode: str, progress: Callable[[str], None] | None = None) -> list[dict]:
    """Default-call rows: polydiff's plain call (now and with the former default grid,
    uniform in t with a last evaluation at t_min) and diffusers' default schedulers."""
    from polydiff.core.testing import mixture_target

    d = _diffusers()
    vp = pc.VP()
    peers = (("DPMSolver++2M", d.DPMSolverMultistepScheduler), ("UniPC", d.UniPCMultistepScheduler))
    dproc = pc.DiscreteVP.from_diffusers(d.DPMSolverMultistepScheduler().config)
    targets = TARGETS if mode == "full" else [t for t in TARGETS if t[5] in (0, 5, 8, 10)]
    n = 256 if mode == "full" else 64
    records = []
    for dim, modes, sep, std, scale, seed, split in targets:
        if progress:
            progress(f"core: default calls, {dim}-d target {seed}")
        gm = mixture_target(dim, modes, sep, std, scale, seed=seed)
        x_T = torch.randn(n, dim, generator=torch.Generator().manual_seed(100 + seed), dtype=torch.float64)
        ref, dref = gm.flow_solution(x_T, vp), gm.flow_solution(x_T, dproc)
        model, dmodel = gm.as_model(vp, "eps"), gm.as_model(dproc, "eps")
        name = _target_name(dim, modes, sep, std, scale)
        for nfe in DEFAULT_NFES:
            setting = f"nfe={nfe}, {split}"
            for solver in DEFAULT_SOLVERS:
                steps = (nfe + 1) // 2 if solver == "heun" else nfe
                for label, kw in (("default", {}), ("former-default", {"grid": "uniform_t", "final": "zero"})):
                    t0 = time.perf_counter()
                    out = pc.sample(model, vp, x_T, steps=steps, solver=solver, **kw)
                    sec = time.perf_counter() - t0
                    records.append(_rec("default-call", name, setting, f"polydiff-{solver}-{label}",
                                        *_rmse_with_interval(out, ref), nfe=nfe, seconds=sec, n=n))
            for label, cls in peers:
                t0 = time.perf_counter()
                out = _run_diffusers(cls(), dmodel, x_T.float(), nfe).double()
                sec = time.perf_counter() - t0
                records.append(_rec("default-call", name, setting, f"diffusers-{label}-default",
                                    *_rmse_with_interval(out, dref), nfe=nfe, seconds=sec, n=n))
    return records


def default_call_ratios(records: list[dict]) -> list[dict]:
    """Per (split, NFE, dimension group) and family: the geometric mean and the worst of
    ``error(polydiff default) / error(diffusers default)`` over the targets."""
    err = {(r["dataset"], r["setting"], r["method"]): r["value"] for r in records if r["task"] == "default-call"}
    pairs = (("dpmpp_2m", "DPMSolver++2M"), ("unipc", "UniPC"))
    groups: dict[tuple, list[float]] = {}
    for (ds, setting, method), v in err.items():
        for ours, theirs in pairs:
            if method == f"polydiff-{ours}-default" and (ds, setting, f"diffusers-{theirs}-default") in err:
                dim = int(ds.split("-")[1][:-1])
                nfe, split = setting.split(", ")
                key = (split, int(nfe[4:]), "2-8 dims" if dim <= 8 else "16-64 dims", ours)
                groups.setdefault(key, []).append(v / err[(ds, setting, f"diffusers-{theirs}-default")])
    return [{"split": k[0], "nfe": k[1], "dims": k[2], "solver": k[3], "targets": len(v),
             "gmean": math.exp(sum(math.log(r) for r in v) / len(v)), "worst": max(v),
             "at_most_0.6": sum(r <= 0.6 for r in v)} for k, v in sorted(groups.items())]


STUDY_PROCESSES = {"VP": lambda: pc.VP(), "VP-cosine": lambda: pc.VP(schedule="cosine"), "SubVP": lambda: pc.SubVP(),
                   "Flow": lambda: pc.Flow(), "EDM": lambda: pc.EDM(), "VE": lambda: pc.VE()}
STUDY_SOLVERS = ("dpmpp_2m", "dpmpp_3m", "unipc", "euler", "heun", "ddim")


def grid_study(process: str, n: int = 256) -> list[dict]:
    """The measurement behind polydiff.core.defaults: every grid kind with ``final`` "zero" or
    "spaced", every deterministic solver, NFE 5/10/20, on all :data:`TARGETS` (the exact
    eps-model of each in ``process``), error against the exact PF-ODE solution."""
    from polydiff.core.testing import mixture_target

    proc = STUDY_PROCESSES[process]()
    rows = []
    for dim, modes, sep, std, scale, seed, split in TARGETS:
        gm = mixture_target(dim, modes, sep, std, scale, seed=seed)
        x_T = proc.prior_sample((n, dim), generator=torch.Generator().manual_seed(100 + seed)).double()
        ref, model = gm.flow_solution(x_T, proc), gm.as_model(proc, "eps")
        for solver in STUDY_SOLVERS:
            for nfe in DEFAULT_NFES:
                steps = (nfe + 1) // 2 if solver == "heun" else nfe
                for kind in pc.GRID_KINDS:
                    for final in ("zero", "spaced"):
                        out = pc.sample(model, proc, x_T, grid=pc.make_grid(proc, steps, kind, final=final),
                                        solver=solver)
                        rows.append({"target": seed, "split": split, "solver": solver, "nfe": nfe,
                                     "grid": f"{kind}/{final}", "err": _rmse(out, ref)})
    return rows


def grid_study_summary(rows: list[dict]) -> list[str]:
    """Per solver, the grids ranked by the geometric mean over tuning targets and NFEs of
    ``err / best err of any grid``; the same ratio on the held-out targets beside it."""
    best: dict[tuple, float] = {}
    for r in rows:
        key = (r["target"], r["solver"], r["nfe"])
        best[key] = min(best.get(key, math.inf), r["err"])
    lines = []
    for solver in dict.fromkeys(r["solver"] for r in rows):
        ranked = []
        for grid in dict.fromkeys(r["grid"] for r in rows):
            ratio = {split: [math.log(r["err"] / best[(r["target"], solver, r["nfe"])]) for r in rows
                             if r["solver"] == solver and r["grid"] == grid and r["split"] == split]
                     for split in ("tuning", "held-out")}
            ranked.append((math.exp(sum(ratio["tuning"]) / len(ratio["tuning"])),
                           math.exp(sum(ratio["held-out"]) / len(ratio["held-out"])), grid))
        ranked.sort()
        lines.append(f"{solver}: " + "; ".join(f"{g} {t:.2f} (held-out {h:.2f})" for t, h, g in ranked[:4]))
    return lines


def _time_per_step(fn: Callable[[int], None], steps: int, repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(steps)
        best = min(best, time.perf_counter() - t0)
    return best / steps


def overhead(mode: str, progress: Callable[[str], None] | None = None) -> list[dict]:
    d = _diffusers()
    proc = pc.DiscreteVP.from_diffusers({"beta_schedule": "linear", "timestep_spacing": "trailing"})
    repeats = 5 if mode == "full" else 2
    records = []
    for label, shape in (("tiny [1,2]", (1, 2)), ("large [16,4,64,64]", (16, 4, 64, 64))):
        if progress:
            progress(f"core: loop overhead, {label}")
        x = torch.randn(shape)
        zero = torch.zeros(shape)
        model = lambda x, t: zero
        steps = 200 if shape == (1, 2) else 50

        def ours(n, solver="dpmpp_2m", **kw):
            pc.sample(model, proc, x, steps=n, solver=solver, **kw)

        def theirs(n):
            s = d.DPMSolverMultistepScheduler(beta_schedule="linear", timestep_spacing="trailing")
            s.set_timesteps(n)
            lat = x
            for t in s.timesteps:
                lat = s.step(model(s.scale_model_input(lat, t), t), t, lat).prev_sample

        buf = torch.empty(shape)

        def one_pass(n):
            for _ in range(n):
                torch.mul(x, 1.0001, out=buf)

        ours(3)
        theirs(3)  # warm up
        for name, fn in (("polydiff-dpmpp_2m", ours), ("polydiff-unipc", lambda n: ours(n, "unipc")),
                         ("diffusers-DPMSolverMultistep", theirs), ("one elementwise pass", one_pass)):
            us = 1e6 * _time_per_step(fn, steps, repeats)
            records.append(_rec("loop-overhead", "zero-cost-model", label, name, us, None, 1, us * steps / 1e6,
                                int(x.numel()), metric="microseconds per step"))
    return records


def _rec(task, dataset, setting, method, value, ci, nfe, seconds, n, metric="RMSE vs exact PF-ODE"):
    out = {"domain": "core", "task": task, "dataset": dataset, "setting": setting, "method": method,
           "metric": metric, "value": float(value), "higher_is_better": False, "nfe": int(nfe),
           "seconds": float(seconds), "n": int(n)}
    if ci is not None:  # 95% interval over the n samples (rmse_interval)
        out["ci_low"], out["ci_high"] = float(ci[0]), float(ci[1])
    return out


def plot(records: list[dict], out_dir: pathlib.Path) -> None:
    """error-vs-NFE and overhead figures (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for ds in sorted({r["dataset"] for r in records if r["task"] == "ode-error"}):
        fig, ax = plt.subplots(figsize=(6, 4))
        methods = sorted({r["method"] for r in records if r["dataset"] == ds})
        for m in methods:
            rs = sorted((r for r in records if r["dataset"] == ds and r["method"] == m), key=lambda r: r["nfe"])
            ax.loglog([r["nfe"] for r in rs], [r["value"] for r in rs], "o-" if m.startswith("polydiff") else "x--",
                      label=m, lw=1)
        ax.set_xlabel("NFE")
        ax.set_ylabel("RMSE vs exact PF-ODE")
        ax.set_title(f"core: {ds}")
        ax.legend(fontsize=5, ncol=2)
        fig.tight_layout()
        fig.savefig(out_dir / f"core-error-vs-nfe-{ds}.png", dpi=120)
        plt.close(fig)


def run(mode: str, out_dir: pathlib.Path, device: str = "cpu",
        progress: Callable[[str], None] | None = None) -> list[dict]:
    """Benchmark the solvers of ``polydiff.core`` (see ``polydiff.bench.runner``)."""
    if mode not in ("quick", "full"):
        raise ValueError(f"mode must be 'quick' or 'full', got {mode!r}")
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    records = error_vs_nfe(mode, progress) + default_calls(mode, progress) + overhead(mode, progress)
    plot(records, out_dir)
    return records


def summary_markdown(records: list[dict]) -> str:
    """Two compact tables for the README: best polydiff vs best diffusers error per NFE, and
    the per-step loop overhead (generated from the records, never typed)."""
    lines = ["| dataset | NFE | best polydiff (RMSE) | best diffusers (RMSE) | ratio |", "|---|---|---|---|---|"]
    err = [r for r in records if r["task"] == "ode-error"]
    for ds in sorted({r["dataset"] for r in err}, key=lambda d: int(d.split("-")[1][:-1])):
        for nfe in sorted({r["nfe"] for r in err if r["dataset"] == ds}):
            group = [r for r in err if r["dataset"] == ds and r["nfe"] == nfe]
            ours = min((r for r in group if r["method"].startswith("polydiff")), key=lambda r: r["value"])
            theirs = min((r for r in group if r["method"].startswith("diffusers")), key=lambda r: r["value"])
            lines.append(f"| {ds} | {nfe} | {ours['method'][9:]} ({ours['value']:.2e}) | "
                         f"{theirs['method'][10:]} ({theirs['value']:.2e}) | {ours['value'] / theirs['value']:.2f} |")
    ratios = default_call_ratios(records)
    if ratios:
        lines += ["", "Default calls (`pc.sample(model, pc.VP(), x_T, steps=N, solver=s)`, nothing else) against "
                  "diffusers' default scheduler of the same family; error ratio over the targets:", "",
                  "| targets | NFE | dims | solver | geometric mean | worst | at most 0.6x |", "|---|---|---|---|---|---|---|"]
        for r in ratios:
            lines.append(f"| {r['split']} | {r['nfe']} | {r['dims']} | {r['solver']} | {r['gmean']:.2f} | "
                         f"{r['worst']:.2f} | {r['at_most_0.6']}/{r['targets']} |")
    ov = [r for r in records if r["task"] == "loop-overhead"]
    if ov:
        methods = ["polydiff-dpmpp_2m", "polydiff-unipc", "diffusers-DPMSolverMultistep",
                   "one elementwise pass"]
        lines += ["", "| input (zero-cost model) | " + " | ".join(m + " (µs/step)" for m in methods) + " |",
                  "|---" * (len(methods) + 1) + "|"]
        for setting in sorted({r["setting"] for r in ov}):
            vals = {r["method"]: r["value"] for r in ov if r["setting"] == setting}
            lines.append(f"| {setting} | " + " | ".join(f"{vals[m]:.1f}" if m in vals else "—" for m in methods) + " |")
    return "\n".join(lines)

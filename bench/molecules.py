"""The molecules entry of the benchmark suite: GeoDiff conformers on held-out QM9 vs RDKit.

Task ``conformers``: for held-out QM9 molecules (a seeded random split over every QM9 molecule
in the size range, disjoint by molecule and graph; the dataset label names it, e.g.
``qm9-dft-random-heavy1-9-seed...``) generate ``n_gen`` conformers from the 2D graph
(hydrogens as in the DFT structure) and score them against the single B3LYP geometry with
heavy-atom symmetry-aware RMSD: COV-R / MAT-R / COV-P / MAT-P at δ = 0.5 Å
(:mod:`polydiff.molecules.metrics`), and the share of conformers with the reference's R/S and
E/Z (``stereo-ok %``, ``stereo-wrong %``). With one reference per molecule, MAT-R is the
smallest RMSD of the generated set to the DFT geometry.

Methods: polydiff's GeoDiff network (GeoDiff's sigmoid ``DiscreteVP``) sampled with the
paper's ancestral chain (``ddpm``; as many of the paper's steps as the budget allows —
the step count is in the method name) and with DDIM, DPM-Solver++(2M) and its SDE variant
(Lu et al. 2022) at 50/100 steps, and the SDE solver followed by rounds of Restart sampling
(Xu et al. 2023; ``generate_conformers(restarts=...)``: re-noise to ``s = 0.2`` Å, solve back
in 10 steps; level and step count chosen on the validation split); each also with its
conformers relaxed by MMFF94 (``+mmff``, the refinement the ETKDG+MMFF baseline gets:
:func:`~polydiff.molecules.relax_sampled.relax_conformers`, which checks the stereo again after the
relaxation, since MMFF can invert a strained centre or turn a double bond, and reflects or
redraws the flipped conformers; its seconds and NFE include the relaxation and the redraws);
RDKit ETKDGv3, ETKDG + MMFF94 and clustered ETKDG; and ETKDGv3's conformers refined by the
network (:func:`~polydiff.molecules.generate.refine_conformers`, SDEdit from ``s = 0.2`` Å,
a level chosen on the validation split), the learned counterpart of the MMFF refinement,
kept apart from the from-scratch rows. ``seconds`` is the wall time of
generating all conformers of the test set, the stereo filter included; the metric
``s/conformer`` reports it per conformer. ``nfe`` is the mean number of network evaluations
per returned conformer, rounded: the solver's steps (plus the Restart rounds' steps) for every
draw, the stereo filter's redraws included, so it exceeds the step count in the method's name
when wrong stereoisomers were redrawn; the exact mean is in ``nfe_mean``, the redrawn
conformers in ``resampled`` and the filter's share of ``seconds`` in ``stereo_seconds``.
A COV-vs-δ plot is written to ``out_dir``.

Both modes use the paper's T = 5000 sigmoid schedule (with T = 1000 the same betas end at
alpha_bar = exp(-1): the chain would not reach the Gaussian prior), and GeoDiff's gradient
clip (:data:`polydiff.molecules.train.GRAD_CLIP`, as ``polydiff train molecules``). Quick mode
(~2 min on 2 cores): QM9 molecules with 5–7 heavy atoms, a small network trained for a few
hundred steps, 16 test molecules x 8 conformers; when the ``geodiff-qm9`` pipeline ships, also
that pipeline at its defaults on the full protocol's first 16 test molecules beside ETKDGv3 with
the same stereo (setting ``shipped-pipelines``, :mod:`~polydiff.bench.molecules_shipped`). Full mode (QM9 molecules with 1–9 heavy
atoms, 30,000 training steps of 64 molecules, 200 test molecules, the ancestral chain at 500
of the 5,000 steps) is estimated, not yet measured, at 3–3.5 h on one CPU thread: about
1.8–2 h of training (5,526 s measured on the earlier file-order set, whose molecules were
smaller), about 1 h of sampling and 20 min of MMFF, ETKDG and scoring; about 1.3 h with the
network cached. 40 further molecules are held out as a validation split
(``scripts/mol_validation.py``, which sized the training run of the earlier configuration) and
are never scored here. Trained models are cached under ``out_dir / "cache"`` keyed by a
hash of the configuration and the training data.

Stereo information, named in every record (``stereo_info``): the network reads the input's
R/S and E/Z labels and the sampler matches them (``generate_conformers(match_stereo=True,
stereo_rounds=R)``: mirror images reflected, wrong stereoisomers redrawn up to R rounds,
``+stereo-filterR`` in the name, its cost in the seconds), i.e. it receives the full stereo of
the input. ETKDG is reported given the same (``-same-stereo``, the fair baseline), with the
reference's full tags (no suffix) and with none (``-no-stereo``). Since the network receives
the full stereo, ``-same-stereo`` and the full-tag rows are one run reported under both names
(equal numbers): the fair baseline is the strongest ETKDG.
"""
from __future__ import annotations

import hashlib
import json
import pathlib
import time
from collections.abc import Callable

import numpy as np
import polydiff.molecules  # noqa: F401  (a missing [molecules] extra raises its pip line here)
from polydiff.bench.common import cached, digest, prepare_entry, record, timed, training_checks
from polydiff.bench.molecules_shipped import full_setting, sampler_name, shipped_records

__all__ = ["SETTINGS", "model_dir", "run"]

SETTINGS = {
    "quick": {
        "spec": {"n_mols": 3000, "min_heavy_atoms": 5, "max_heavy_atoms": 7, "n_test": 16,
                 "n_val": 0, "T": 5000},
        "net": {"hidden": 64, "num_convs_global": 3, "num_convs_local": 3, "cutoff": 10.0},
        "train": {"steps": 350, "batch_size": 32, "lr": 2e-3, "ema_decay": 0.995,
                  "warmup_steps": 20},
        "n_gen": 8, "ancestral_steps": (200,),
        "fast": (("ddim", 50), ("dpmpp_2m", 50), ("dpmpp_2m_sde", 50)),
        "restart": {"solver": "dpmpp_2m_sde", "steps": 50, "rounds": (3,), "noise": 0.2, "round_steps": 10},
        "refine": {"noise_level": 0.2, "steps": 30, "solver": "dpmpp_2m_sde"},
        "clustered_oversample": 4, "stereo_rounds": 2,
        # the shipped pipeline on the full protocol's first test molecules (bench/molecules_shipped.py)
        "shipped": {"name": "geodiff-qm9", "n_test": 16, "n_gen": 8}},
    "full": {
        "spec": {"n_mols": 20000, "min_heavy_atoms": 1, "max_heavy_atoms": 9, "n_test": 200,
                 "n_val": 40, "T": 5000},
        "net": {"hidden": 64, "num_convs_global": 3, "num_convs_local": 3, "cutoff": 10.0},
        "train": {"steps": 30000, "batch_size": 64, "lr": 1e-3, "ema_decay": 0.999,
                  "warmup_steps": 500},
        "n_gen": 8, "ancestral_steps": (500,),
        "fast": (("ddim", 50), ("ddim", 100), ("dpmpp_2m", 50), ("dpmpp_2m", 100),
                 ("dpmpp_2m_sde", 50), ("dpmpp_2m_sde", 100)),
        "restart": {"solver": "dpmpp_2m_sde", "steps": 50, "rounds": (5, 8), "noise": 0.2, "round_steps": 10},
        "refine": {"noise_level": 0.2, "steps": 30, "solver": "dpmpp_2m_sde"},
        "clustered_oversample": 5, "stereo_rounds": 4},
}
DELTA = 0.5  # QM9 threshold (Å)


def _rec(dataset: str, setting: str, method: str, metric: str, value: float, nfe, seconds: float,
         n: int, higher: bool) -> dict:
    return record("molecules", "conformers", dataset, setting, method, metric, value, higher, nfe, seconds, n)


def _data_hash(mols) -> str:
    h = hashlib.sha256()
    for m in mols:
        h.update(m.GetProp("_Name").encode())
        h.update(np.ascontiguousarray(m.GetConformer().GetPositions(), dtype=np.float64).tobytes())
    return h.hexdigest()


def _train_config(cfg: dict) -> dict:
    """GeoDiff's clipping, the same as `polydiff train molecules` (a setting may override it)."""
    from polydiff.molecules.train import GRAD_CLIP

    return {"grad_clip": GRAD_CLIP, **cfg["train"]}


def model_dir(cache: pathlib.Path, cfg: dict, train_mols) -> pathlib.Path:
    """The cache folder of the network a protocol ``cfg`` trains on ``train_mols``: keyed by the
    network's full config (new ``NetConfig`` fields such as stereo change the key), the training
    settings and the training molecules."""
    from polydiff.molecules.nets import NetConfig

    key = digest({"spec": cfg["spec"], "net": NetConfig(**cfg["net"]).to_dict(), "train": _train_config(cfg)},
                 _data_hash(train_mols))
    return cache / f"molecules-geodiff-{key}"


def _trained(cfg: dict, train_mols, cache: pathlib.Path, progress):
    """Train (or load the cached) network; returns ``(net, process, run_dir)``."""
    from polydiff.core.training import TrainConfig
    from polydiff.molecules.generate import conformer_generator
    from polydiff.molecules.nets import NetConfig
    from polydiff.molecules.train import MolTrainSpec, train

    train_cfg = _train_config(cfg)

    def load(run_dir: pathlib.Path):
        progress("molecules: loading cached model")
        net, proc = conformer_generator(run_dir)
        return net, proc, run_dir

    def build(run_dir: pathlib.Path):
        progress(f"molecules: training GeoDiff net ({cfg['train']['steps']} steps)")
        spec = MolTrainSpec(**cfg["spec"])
        tcfg = TrainConfig(**train_cfg, lr_schedule="cosine", ckpt_dir=str(run_dir), seed=0,
                           log_every=50, keep_last=1, ckpt_every=max(cfg["train"]["steps"] // 5, 1))
        (net, proc, hist), seconds = timed(train, spec, NetConfig(**cfg["net"]), tcfg, train_mols, resume=True)
        (run_dir / "done.json").write_text(json.dumps({"train_seconds": seconds,
                                                       "final_loss": hist[-1]["loss"] if hist else None}))
        return net.eval(), proc, run_dir

    return cached(model_dir(cache, cfg, train_mols), "done.json", load, build)


_STATS = ("nfe", "seconds", "conformers", "conformer_nfe", "reflected", "resampled", "stereo_wrong", "stereo_seconds")


def _write_sdf(path: pathlib.Path, mols, stats) -> None:
    """The conformers, each SDF record carrying the run's :class:`GenerationStats` as JSON."""
    from rdkit import Chem

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    cost = json.dumps({k: getattr(stats, k) for k in _STATS})
    with Chem.SDWriter(str(tmp)) as w:
        for m in mols:
            for c in m.GetConformers():
                m.SetProp("generation_stats", cost)
                w.write(m, confId=c.GetId())
    tmp.replace(path)


def _read_sdf(path: pathlib.Path, test, n_gen: int):
    """``(mols, GenerationStats)`` of a :func:`_write_sdf` file; ``None`` for a file written
    before the stats were kept (it is regenerated)."""
    from polydiff.molecules.generate import GenerationStats
    from rdkit import Chem

    recs = list(Chem.SDMolSupplier(str(path), removeHs=False, sanitize=False))
    if len(recs) != len(test) * n_gen or any(r is None for r in recs):
        raise ValueError(f"{path}: cached conformers do not match the test set; delete the file")
    if not recs[0].HasProp("generation_stats"):
        return None
    mols = []
    for i, ref in enumerate(test):
        block = recs[i * n_gen:(i + 1) * n_gen]
        out = Chem.Mol(ref)
        out.RemoveAllConformers()
        for r in block:
            out.AddConformer(Chem.Conformer(r.GetConformer()), assignId=True)
        mols.append(out)
    return mols, GenerationStats(**json.loads(recs[0].GetProp("generation_stats")))


def _sum_stats(a, b):
    """The cost of ``a``'s conformers after the further work ``b`` on the same conformers."""
    from polydiff.molecules.generate import GenerationStats

    out = GenerationStats(**{k: getattr(a, k) + getattr(b, k) for k in _STATS})
    out.conformers = a.conformers
    return out


def run(mode: str, out_dir: pathlib.Path, device: str = "cpu",
        progress: Callable[[str], None] | None = None) -> list[dict]:
    """Run the molecules benchmark in ``mode`` ("quick" | "full"); returns docs/design.md records."""
    from polydiff.molecules import baselines, metrics
    from polydiff.molecules.generate import GenerationStats, generate_conformers, refine_conformers
    from polydiff.molecules.relax_sampled import relax_conformers
    from polydiff.molecules.stereo import stereo_report
    from polydiff.molecules.stereo_filter import stereo_information
    from polydiff.molecules.train import MolTrainSpec, qm9_split

    out_dir, progress = prepare_entry(mode, SETTINGS, out_dir, device, progress)
    cfg = SETTINGS[mode]
    progress("molecules: loading QM9")
    split = qm9_split(MolTrainSpec(**cfg["spec"]))
    test, n_gen = split.test, int(cfg["n_gen"])
    net, proc, run_dir = _trained(cfg, split.train, out_dir / "cache", progress)
    net = net.to(device)
    s = cfg["spec"]
    dataset = split.label  # a random split over QM9's molecules in the size range, seeded
    rounds_stereo = int(cfg.get("stereo_rounds", 0))
    info = stereo_information(net, True)  # what the sampler receives; the fair ETKDG gets the same
    setting = full_setting(s, n_gen, DELTA)
    n_conf = len(test) * n_gen
    results: dict[str, metrics.ConformerScores] = {}
    records: list[dict] = []

    def score(method: str, gens, seconds: float, nfe, stereo: str = info, st=None):
        """Records of one method; ``st``: its GenerationStats (then ``nfe`` is the mean network
        evaluations per returned conformer, stereo redraws included, and ``nfe_mean``,
        ``stereo_seconds`` and ``resampled`` are added)."""
        extra = {"stereo_info": stereo}  # every record names the stereo information its method received
        if st is not None:
            nfe = round(st.nfe_per_conformer)
            extra.update(nfe_mean=st.nfe_per_conformer, stereo_seconds=st.stereo_seconds, resampled=st.resampled)
        sc = metrics.score_conformers(test, gens)
        results[method] = sc
        summ = metrics.summarize(sc, DELTA)
        first = len(records)
        for name, higher in (("COV-R", True), ("MAT-R", False), ("COV-P", True), ("MAT-P", False)):
            for stat in ("mean", "median"):
                records.append(_rec(dataset, setting, method, f"{name} {stat}", summ[f"{name} {stat}"],
                                    nfe, seconds, len(test), higher))
        rep = stereo_report(gens, test)  # conformers with the reference's R/S and E/Z, as generated
        if rep["conformers"]:
            records.append(_rec(dataset, setting, method, "stereo-ok %", 100 * rep["ok"], nfe, seconds,
                                rep["conformers"], True))
            records.append(_rec(dataset, setting, method, "stereo-wrong %", 100 * rep["wrong"], nfe,
                                seconds, rep["conformers"], False))
        records.append(_rec(dataset, setting, method, "s/conformer", seconds / n_conf, nfe, seconds,
                            n_conf, False))
        for r in records[first:]:
            r.update(extra)

    rs = cfg.get("restart")
    runs = [("ddpm", k, 0) for k in cfg["ancestral_steps"]] + [(sv, k, 0) for sv, k in cfg["fast"]]
    runs += [(rs["solver"], rs["steps"], r) for r in rs["rounds"]] if rs else []
    test_key = _data_hash(test)[:12]
    def cached(name: str, make):
        """Conformers and their GenerationStats from ``samples/`` (a rerun only evaluates) or ``make()``."""
        path = run_dir / "samples" / f"{name}-n{n_gen}-{test_key}.sdf"
        if path.is_file() and (hit := _read_sdf(path, test, n_gen)) is not None:
            progress(f"molecules: cached {name}")
            return hit
        gens, st = make()
        _write_sdf(path, gens, st)
        return gens, st

    def options(solver: str, steps: int, rounds: int) -> dict:
        extra = {"restarts": rounds, "restart_noise": rs["noise"], "restart_steps": rs["round_steps"]} if rounds else {}
        return {"net": net, "process": proc, "steps": steps, "solver": solver, "seed": 1,
                "stereo_rounds": rounds_stereo, **extra}

    def sample(solver: str, steps: int, rounds: int):
        progress(f"molecules: sampling {solver} x {steps}" + (f" + {rounds} restarts" if rounds else ""))
        st = GenerationStats()
        gens = generate_conformers(test, n_gen, stats=st, match_stereo=True, **options(solver, steps, rounds))
        return gens, st

    def relax(gens, st, run: tuple):
        """The same conformers refined like the ETKDG+MMFF baseline; stereo flipped by MMFF is
        reflected or redrawn (``relax_conformers``, as ``generate_conformers(relax="mmff")``)."""
        progress("molecules: MMFF94 relaxation, stereo checked again")
        st_relax = GenerationStats()
        out = relax_conformers(gens, n_gen, stats=st_relax, **options(*run))
        return out, _sum_stats(st, st_relax)

    for solver, steps, rounds in runs:  # stereo filter's redraws count in seconds and nfe
        name = sampler_name(solver, steps, rounds, rs["round_steps"] if rounds else 0, rs["noise"] if rounds else 0.0,
                            rounds_stereo)
        gens, st = cached(name, lambda a=(solver, steps, rounds): sample(*a))
        score(name, gens, st.seconds, None, st=st)
        gens_mmff, st_mmff = cached(f"{name}+mmff", lambda g=gens, s=st, a=(solver, steps, rounds): relax(g, s, a))
        score(f"{name}+mmff", gens_mmff, st_mmff.seconds, None, st=st_mmff)
    etkdg_out = {}
    # ETKDG given the stereo information the sampler received (the fair baseline, "-same-stereo"),
    # with the full tags of the reference (the answer's stereo), and with none. A variant given
    # the same information as one already run is that run's conformers under its own name (with
    # the stereo-reading network, "-same-stereo" is the full-tag run: equal numbers, run once)
    variants = (("-same-stereo", info), ("", "full"), ("-no-stereo", "none"))
    for base, fn in (("rdkit-etkdgv3", baselines.etkdg), ("rdkit-etkdg+mmff", baselines.etkdg_mmff)):
        done: dict[str, tuple] = {}
        for suffix, stereo in variants if base == "rdkit-etkdgv3" else variants[:2]:
            name = base + suffix
            if stereo not in done:
                progress(f"molecules: {name}")
                t0 = time.perf_counter()
                gens = [fn(m, n_gen, stereo=stereo) for m in test]
                done[stereo] = (gens, time.perf_counter() - t0)
            etkdg_out[name] = done[stereo]
            score(name, *etkdg_out[name], None, stereo)
    ref = cfg["refine"]
    progress(f"molecules: ETKDG refined by the network (s = {ref['noise_level']} A)")
    st = GenerationStats()
    gens = refine_conformers(etkdg_out["rdkit-etkdgv3"][0], net=net, process=proc, seed=1, stats=st, **ref)
    score(f"rdkit-etkdgv3+polydiff-refine-s{ref['noise_level']}-{ref['solver']}-{ref['steps']}", gens,
          etkdg_out["rdkit-etkdgv3"][1] + st.seconds, round(st.nfe_per_conformer), "full")
    done = {}
    for suffix, stereo in variants[:2]:
        if stereo not in done:
            progress(f"molecules: clustered ETKDG{suffix}")
            t0 = time.perf_counter()
            gens = [baselines.clustered_etkdg(m, n_gen, oversample=cfg["clustered_oversample"], stereo=stereo)
                    for m in test]
            done[stereo] = (gens, time.perf_counter() - t0)
        score(f"rdkit-clustered-etkdg{suffix}", *done[stereo], None, stereo)
    metrics.plot_coverage(results, out_dir / f"molecules-cov-vs-delta-{mode}.png", mark=DELTA,
                          deltas=np.linspace(0.05, 1.5, 30),
                          title=f"QM9 held-out ({len(test)} molecules, {n_gen} conformers each)")
    if cfg.get("shipped"):
        records += shipped_records(cfg["shipped"], SETTINGS["full"]["spec"], DELTA, progress)
    return training_checks(records, mode)  # quick mode: its minutes-long network checks training

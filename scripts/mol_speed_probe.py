"""Where the time of one conformer goes: featurise / network (its edge building) / solver / stereo check / MMFF.

Times :func:`polydiff.molecules.generate.generate_conformers` on the first QM9 test molecules of
the benchmark's random split (9 heavy atoms, about 18 atoms, for most), with the network wrapped
by timers, on CPU::

    python scripts/mol_speed_probe.py --molecules 16 --steps 100 --max-batch-atoms 20000 1000

Without ``--run-dir`` the network is the benchmark's full-mode architecture (hidden 64, 3 + 3
convolutions, cutoff 10 Å) with random weights: the cost per evaluation is the trained one's,
but the stereo filter's redraws are not, so it runs with ``stereo_rounds=0`` and reports the
check alone (a redraw costs one more sample per redrawn conformer; read ``resampled`` in the
benchmark's records). Timings on a shared machine vary by 2-3x: compare within one run.
"""
from __future__ import annotations

import argparse
import time
import warnings


def main(argv: list[str] | None = None) -> None:
    import torch
    from polydiff.molecules import nets
    from polydiff.molecules.featurize import mol_to_data
    from polydiff.molecules.generate import (
        GenerationStats,
        conformer_generator,
        generate_conformers,
    )
    from polydiff.molecules.process import geodiff_process, global_cutoff_t
    from polydiff.molecules.relax import mmff_relax
    from polydiff.molecules.splits import random_qm9_split

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--molecules", type=int, default=16)
    ap.add_argument("--conformers", type=int, default=8)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--solver", default="dpmpp_2m")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-batch-atoms", type=int, nargs="+", default=[20000])
    ap.add_argument("--run-dir", default=None, help="a trained checkpoint (default: random weights)")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # molecules RDKit cannot perceive are skipped
        mols = random_qm9_split(0, 0, a.molecules, seed=2022).test
    if a.run_dir:
        net, proc = conformer_generator(a.run_dir)
    else:
        proc = geodiff_process(5000, 1e-7, 2e-3)
        torch.manual_seed(0)
        net = nets.build_net(nets.NetConfig(hidden=64, num_convs_global=3, num_convs_local=3, cutoff=10.0,
                                            global_cutoff_t=global_cutoff_t(proc, 0.5)))
    net.eval()
    n_conf = a.molecules * a.conformers
    ms = lambda s: f"{1000 * s / n_conf:.2f} ms"
    [mol_to_data(m, conf_id=None) for m in mols]  # warm-up (lazy imports)
    tic = time.perf_counter()
    [mol_to_data(m, conf_id=None) for m in mols]
    featurise = time.perf_counter() - tic
    spent = {"net": 0.0, "edges": 0.0}
    forward, edges = net.forward, nets.molecule_edges

    def timed(key, fn):
        def run(*args, **kw):
            t0 = time.perf_counter()
            out = fn(*args, **kw)
            spent[key] += time.perf_counter() - t0
            return out
        return run

    net.forward, nets.molecule_edges = timed("net", forward), timed("edges", edges)
    print(f"{a.molecules} molecules (mean {sum(m.GetNumAtoms() for m in mols) / len(mols):.1f} atoms) x "
          f"{a.conformers} conformers, {a.steps} NFE {a.solver}, {a.threads} thread(s); per conformer:")
    for cap in a.max_batch_atoms:
        spent.update(net=0.0, edges=0.0)
        st = GenerationStats()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = generate_conformers(mols, a.conformers, net=net, process=proc, steps=a.steps, solver=a.solver,
                                      seed=1, stats=st, stereo_rounds=0, max_batch_atoms=cap)
        tic = time.perf_counter()
        [mmff_relax(m) for m in out]
        mmff = time.perf_counter() - tic
        sampling = st.seconds - st.stereo_seconds
        print(f"max_batch_atoms {cap} ({len(st.batches)} chunks): generate {ms(st.seconds)} = network "
              f"{ms(spent['net'])} (edge building {ms(spent['edges'])}) + featurise, solver and rest "
              f"{ms(sampling - spent['net'])} + stereo check {ms(st.stereo_seconds)}; "
              f"featurise alone {ms(featurise)}; MMFF94 {ms(mmff)}")


if __name__ == "__main__":
    main()

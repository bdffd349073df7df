"""Task commands of the molecules domain.

``polydiff conformers``: 3D conformers of 2D molecules from a :class:`ConformerPipeline`, SMILES
or SDF in, SDF out (every conformer one record: the molecule's name as its title, its index as
the ``conformer`` property, the input's line or record as ``input_line``/``input_record``)::

    polydiff conformers --model pretrained/geodiff-qm9 --input mols.smi --output confs.sdf --n 10
    polydiff conformers --model DIR --input ligands.sdf --output confs.sdf --steps 50 --seed 1 --device cuda

The input is a SMILES file (``.smi``/``.smiles``/``.txt``: ``SMILES [name]`` a line) or an SDF
(``.sdf``/``.sd``; its coordinates are ignored) (:mod:`polydiff.molecules.files`). A molecule
that cannot be used (an invalid SMILES, an unreadable record, a single atom) is **skipped**:
each is reported on stderr by its line or record number and counted in the summary; with
``--strict`` the command refuses the file instead and writes nothing. The pipeline's warnings
(a molecule outside the training sizes, unspecified stereo) are printed as ``warning:`` lines;
their "molecule i" counts the usable molecules from 0. The output appears
only when complete (written beside it under a temporary name, then renamed). Conformer ``k``
of the ``m``-th usable molecule is seeded with ``(--seed, m, k)``, so the output does not
depend on ``--batch-size`` (beyond float rounding, ~1e-7 Å: the batch changes summation order).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from polydiff.core.flags import positive_int
from polydiff.core.task_cli import add_task_flags, load_task_pipeline
from tqdm.auto import tqdm

from .files import SDF_SUFFIXES, Problem, atomic_output, read_molecules, write_records
from .pipelines import ConformerPipeline

__all__ = ["COMMANDS", "DEFAULT_CONFORMER_MODEL"]

#: The shipped pipeline ``polydiff conformers`` applies by default (``pretrained/geodiff-qm9``).
DEFAULT_CONFORMER_MODEL: str | None = "geodiff-qm9"

_SHOWN_PROBLEMS = 20  # reported one by one; the rest are counted



def _add_conformers(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("conformers", help="3D conformers of SMILES/SDF molecules to SDF (molecules)",
                       description="Generate conformers of every molecule of a SMILES or SDF file with a "
                                   "conformer pipeline and write them all to one SDF file. Unusable "
                                   "molecules are skipped and reported (--strict: refuse the file).")
    p.add_argument("--input", required=True,
                   help="SMILES file (.smi/.smiles/.txt, 'SMILES [name]' a line) or SDF (.sdf/.sd)")
    p.add_argument("--output", required=True, help="SDF file to write (replaced when complete)")
    p.add_argument("--n", type=positive_int, default=None, help="conformers per molecule (default: the pipeline's)")
    p.add_argument("--batch-size", type=positive_int, default=16,
                   help="molecules per sampling call (the conformers do not depend on it; default 16)")
    p.add_argument("--strict", action="store_true",
                   help="refuse an input with an unusable molecule instead of skipping it")
    add_task_flags(p, DEFAULT_CONFORMER_MODEL)
    return p


def _report(problems: list[Problem], source: str) -> None:
    for problem in problems[:_SHOWN_PROBLEMS]:
        print(f"--input {source}, {problem}", file=sys.stderr)
    if len(problems) > _SHOWN_PROBLEMS:
        print(f"--input {source}: ... and {len(problems) - _SHOWN_PROBLEMS} more unusable molecules",
              file=sys.stderr)


def _relay(caught: list[warnings.WarningMessage]) -> None:
    """polydiff's warnings about the user's molecules as plain lines above the progress bar;
    the libraries' own warnings as Python shows them."""
    package = Path(__file__).resolve().parent.parent
    for w in caught:
        if Path(w.filename).resolve().is_relative_to(package):
            tqdm.write(f"warning: {w.message}", file=sys.stderr)
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)


def _check_grid(pipe: ConformerPipeline, args: argparse.Namespace) -> None:
    """``--steps``/``--solver`` on the pipeline's process, refused before any sampling."""
    import polydiff.core as pc

    steps = args.steps or pipe.generator.steps
    solver = args.solver or pipe.generator.solver
    try:
        pc.build_grid(pipe.generator.process, steps, solver)
    except ValueError as e:
        raise SystemExit(f"--steps {steps} / --solver {solver}: {e}") from None


def _run_conformers(args: argparse.Namespace) -> int:
    from rdkit import Chem

    out = Path(args.output)
    if out.suffix.lower() not in SDF_SUFFIXES:
        raise SystemExit(f"--output {args.output}: expected an SDF file ({', '.join(SDF_SUFFIXES)})")
    if out.exists() and Path(args.input).exists() and out.resolve() == Path(args.input).resolve():
        raise SystemExit(f"--output {args.output}: is the --input file; write to another file")
    try:
        mols, problems = read_molecules(args.input)
    except (ValueError, OSError) as e:
        raise SystemExit(f"--input {e}") from None
    if problems and args.strict:
        shown = "\n".join(str(p) for p in problems[:_SHOWN_PROBLEMS])
        raise SystemExit(f"--input {args.input}: {len(problems)} unusable molecules (--strict):\n{shown}")
    _report(problems, args.input)
    if not mols:
        raise SystemExit(f"--input {args.input}: no usable molecule")
    pipe = load_task_pipeline(ConformerPipeline, args)
    _check_grid(pipe, args)
    n = args.n or pipe.n_conformers
    records = 0
    with (atomic_output(out) as tmp, Chem.SDWriter(str(tmp)) as writer,
          tqdm(total=len(mols), desc="conformers", unit="mol", disable=args.no_progress) as bar):
        for start in range(0, len(mols), args.batch_size):
            batch = mols[start:start + args.batch_size]
            with warnings.catch_warnings(record=True) as caught:
                confs = pipe(batch, n, seed=args.seed, steps=args.steps, solver=args.solver, first_index=start)
            _relay(caught)
            records += write_records(writer, confs, first_index=start)
            bar.update(len(batch))
    skipped = f"; skipped {len(problems)} unusable molecules (listed above)" if problems else ""
    print(f"wrote {records} conformers of {len(mols)} molecules to {out}{skipped}")
    return 0


#: ``name -> (add the parser, run the parsed arguments)``; registered by ``polydiff``'s CLI.
COMMANDS = {"conformers": (_add_conformers, _run_conformers)}

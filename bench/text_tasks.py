"""The text domain's benchmark entry: its parts are E2E data-to-text (:mod:`.text`: likelihood,
data-to-text with every decoder, the NFE sweep, shipped pipelines), E2E Diffusion-LM control
(:func:`.text.run_control`) and the KJV -> WEB verse paraphrase (:mod:`.text_bible`, full mode
only).

``python -m polydiff.bench.text_tasks --full --parts bible --json PART.json`` runs one part alone;
``--models masked,ar`` (before the other options) trains and scores only those of the data-to-text
models (e.g. after a change of their budgets, the other models' records stay valid);
``python -m polydiff.bench.parts bench/results/text.json PART.json`` adds it to the committed
document (:mod:`.parts`).
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path

from . import text
from .text_bible import BIBLE_FULL, run_bible

__all__ = ["PARTS", "main", "run"]

#: The parts in run order; ``bible`` runs in full mode only.
PARTS = ("e2e", "control", "bible")
MODE_PARTS = {"quick": ("e2e", "control"), "full": PARTS}
#: The data-to-text models ``--models`` may name.
MODELS = ("diffuseq", "masked", "ar")


def run(mode: str, out_dir: Path, device: str = "cpu", progress: Callable[[str], None] | None = None,
        parts: Sequence[str] | None = None, models: Sequence[str] | None = None) -> list[dict]:
    """Records of the chosen ``parts`` (default: every part ``mode`` runs); ``models``: only these
    data-to-text models in the ``e2e`` and ``bible`` parts (default: the mode's).

    Raises:
        ValueError: unknown mode, part or model, or ``bible`` asked for in quick mode.
    """
    if mode not in MODE_PARTS:
        raise ValueError(f"mode must be one of {tuple(MODE_PARTS)}, got {mode!r}")
    if parts is None:
        chosen = MODE_PARTS[mode]
    else:
        if isinstance(parts, str) or not parts or any(p not in PARTS for p in parts):
            raise ValueError(f"parts must be a non-empty list of names from {PARTS}, got {parts!r}")
        off = [p for p in parts if p not in MODE_PARTS[mode]]
        if off:
            raise ValueError(f"parts {off} run in full mode only, got mode={mode!r}")
        chosen = tuple(dict.fromkeys(parts))
    own = {} if models is None else {"models": _checked_models(models)}
    records: list[dict] = []
    if "e2e" in chosen:
        config = replace(text._config(mode, None), **own) if own else None
        records += text.run(mode, out_dir, device, progress, control=False, config=config)
    if "control" in chosen:
        records += text.run_control(mode, out_dir, device, progress)
    if "bible" in chosen:
        records += run_bible(Path(out_dir), device, progress, config=replace(BIBLE_FULL, **own))
    return records


def _checked_models(models: Sequence[str]) -> tuple[str, ...]:
    """``models`` as a tuple without repeats.

    Raises:
        ValueError: not a non-empty list of names from :data:`MODELS`.
    """
    if isinstance(models, str) or not models or any(m not in MODELS for m in models):
        raise ValueError(f"models must be a non-empty list of names from {MODELS}, got {models!r}")
    return tuple(dict.fromkeys(models))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m polydiff.bench.text_tasks [--models masked,ar] [--quick | --full] --parts bible --json OUT.json``."""
    from .parts import part_main

    argv = list(sys.argv[1:] if argv is None else argv)
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--models", default=None)
    known, rest = pre.parse_known_args(argv)
    prog = "python -m polydiff.bench.text_tasks"
    entry = run
    if known.models is not None:
        try:
            models = _checked_models([m.strip() for m in known.models.split(",") if m.strip()])
        except ValueError as e:
            print(f"{prog}: --models: {e}", file=sys.stderr)
            return 2
        prog, entry = f"{prog} --models {','.join(models)}", partial(run, models=models)
    return part_main("text", entry, PARTS, rest, prog=prog)


if __name__ == "__main__":
    raise SystemExit(main())

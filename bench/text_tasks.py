"""The text domain's benchmark entry: its parts are E2E data-to-text (:mod:`.text`: likelihood,
data-to-text with every decoder, the NFE sweep, shipped pipelines), E2E Diffusion-LM control
(:func:`.text.run_control`) and the KJV -> WEB verse paraphrase (:mod:`.text_bible`, full mode
only).

``python -m polydiff.bench.text_tasks --full --parts bible --json PART.json`` runs one part alone;
``python -m polydiff.bench.parts bench/results/text.json PART.json`` adds it to the committed
document (:mod:`.parts`).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from . import text
from .text_bible import run_bible

__all__ = ["PARTS", "main", "run"]

#: The parts in run order; ``bible`` runs in full mode only.
PARTS = ("e2e", "control", "bible")
MODE_PARTS = {"quick": ("e2e", "control"), "full": PARTS}


def run(mode: str, out_dir: Path, device: str = "cpu", progress: Callable[[str], None] | None = None,
        parts: Sequence[str] | None = None) -> list[dict]:
    """Records of the chosen ``parts`` (default: every part ``mode`` runs).

    Raises:
        ValueError: unknown mode or part, or ``bible`` asked for in quick mode.
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
    records: list[dict] = []
    if "e2e" in chosen:
        records += text.run(mode, out_dir, device, progress, control=False)
    if "control" in chosen:
        records += text.run_control(mode, out_dir, device, progress)
    if "bible" in chosen:
        records += run_bible(Path(out_dir), device, progress)
    return records


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m polydiff.bench.text_tasks [--quick | --full] --parts bible --json OUT.json``."""
    from .parts import part_main

    return part_main("text", run, PARTS, argv, prog="python -m polydiff.bench.text_tasks")


if __name__ == "__main__":
    raise SystemExit(main())

"""Task commands of the text domain.

``polydiff text``: one generated text per source line, from a :class:`MaskedTextPipeline` (or
an :class:`ARTextPipeline`, the autoregressive baseline; the folder's index says which)::

    polydiff text --model pretrained/e2e-mdlm --input sources.txt --output out.txt \\
        --steps 48 --solver confidence --seed 0 --batch-size 64

The input is UTF-8 text, one source per line (``\\n`` or ``\\r\\n``; runs of whitespace in a
line become one space). The output has exactly one line per input line, in the same order;
a blank input line gives an empty output line. Line ``i`` (0-based) is decoded with its own
generator seeded ``derive_seed(--seed, i)`` (:func:`line_generators`), so an output does not
depend on ``--batch-size`` or on the other lines. Line breaks inside a generated text become
spaces (:func:`as_line`). A source longer than the model's source half is refused with its
line number, before any decoding, unless ``--truncate``. The output is written to a
temporary file beside ``--output`` and renamed into place when complete. An autoregressive
pipeline decodes one token per step: ``--steps`` and ``--solver`` are refused for it.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from polydiff.core.atomic import atomic_file
from polydiff.core.flags import positive_int
from polydiff.core.task_cli import (
    add_task_flags,
    held_pipeline_class,
    load_task_pipeline,
    refuse_flags,
    task_device,
)
from polydiff.core.training.data import derive_seed
from polydiff.core.validate import check_int, describe
from tqdm.auto import tqdm

from .masked import SOLVERS
from .pipelines import ARTextPipeline, MaskedTextPipeline, Seq2SeqTextPipeline

__all__ = ["COMMANDS", "as_line", "line_generators", "pipeline_class", "read_sources", "write_lines"]

#: The shipped pipeline ``polydiff text`` applies by default (None until one ships).
DEFAULT_TEXT_MODEL: str | None = "e2e-mdlm"

_BREAKS = str.maketrans({c: " " for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"})



def _temperature(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (value >= 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


def read_sources(path: str | os.PathLike) -> list[str]:
    """The lines of a UTF-8 file (``\\n`` or ``\\r\\n``; a final newline ends the last line),
    whitespace runs collapsed to one space; blank lines are ``""``."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a path (str or os.PathLike), got {describe(path)}")
    text = Path(path).read_text(encoding="utf-8")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [" ".join(line.split()) for line in lines]


def as_line(text: str) -> str:
    """``text`` on one line: every character Python counts as a line break becomes a space."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {describe(text)}")
    return text.translate(_BREAKS)


def line_generators(seed: int, lines: Sequence[int], device: str | torch.device = "cpu") -> list[torch.Generator]:
    """One generator per line index, seeded ``derive_seed(seed, line)``."""
    seed = check_int(seed, "seed", low=0)
    if isinstance(lines, (str, bytes)) or not isinstance(lines, Sequence):
        raise TypeError(f"lines must be a sequence of line indices, got {describe(lines)}")
    lines = [check_int(i, f"lines[{k}]", low=0) for k, i in enumerate(lines)]
    return [torch.Generator(device=device).manual_seed(derive_seed(seed, i)) for i in lines]


def write_lines(path: str | os.PathLike, lines: Sequence[str]) -> None:
    """Write ``lines`` (one per line, UTF-8) to a temporary file beside ``path``, then rename it
    into place: a crash never leaves a partial file under the final name. A line must be a str
    without line breaks (:func:`as_line` makes one)."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a path (str or os.PathLike), got {describe(path)}")
    if isinstance(lines, (str, bytes)) or not isinstance(lines, Sequence):
        raise TypeError(f"lines must be a list of str, got {describe(lines)}")
    for i, line in enumerate(lines):
        if not isinstance(line, str):
            raise TypeError(f"lines[{i}] must be a str, got {describe(line)}")
        if as_line(line) != line:
            raise ValueError(f"lines[{i}] holds a line break (write_lines writes one text per line; "
                             f"as_line() replaces them): {line[:60]!r}")
    with atomic_file(path, "w", encoding="utf-8", newline="\n") as f:
        f.writelines(line + "\n" for line in lines)


def pipeline_class(model: str | os.PathLike) -> type[Seq2SeqTextPipeline]:
    """The text pipeline class the pipeline ``model`` holds (:class:`MaskedTextPipeline` when the
    index cannot be read: loading it then names the problem)."""
    return held_pipeline_class(model, (MaskedTextPipeline, ARTextPipeline))


def _add_text(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("text", help="one generated text per source line (text)",
                       description="Generate one text per line of --input with a text pipeline "
                                   "(masked diffusion or the autoregressive baseline) and write them, "
                                   "line for line, to --output.")
    p.add_argument("--input", required=True, help="UTF-8 file, one source per line")
    p.add_argument("--output", required=True, help="output file, one text per input line (replaced)")
    p.add_argument("--batch-size", type=positive_int, default=32, help="sources per decoding call (default 32)")
    p.add_argument("--temperature", type=_temperature, default=None,
                   help="sampling temperature (masked diffusion: of the length and the tokens), "
                        "0 = greedy (default: the pipeline's)")
    p.add_argument("--truncate", action="store_true",
                   help="cut sources too long for the model instead of refusing them")
    add_task_flags(p, DEFAULT_TEXT_MODEL, solvers=SOLVERS)
    return p


def _run_text(args: argparse.Namespace) -> int:
    task_device(args)  # before reading the input: a bad flag is named first
    try:
        sources = read_sources(args.input)
    except FileNotFoundError:
        raise SystemExit(f"--input {args.input}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SystemExit(f"--input {args.input}: cannot read it as UTF-8 text ({e})") from None
    out = Path(args.output)
    if out.is_dir() or not out.parent.is_dir():
        raise SystemExit(f"--output {args.output}: must be a file in an existing folder")
    cls = pipeline_class(args.model)
    if cls is ARTextPipeline:
        refuse_flags(args, ("steps", "solver"), "an autoregressive pipeline (one token per step)")
    pipe = load_task_pipeline(cls, args)
    todo = [i for i, s in enumerate(sources) if s]
    if not args.truncate:
        for i in todo:
            n = pipe.source_tokens(sources[i])
            if n > pipe.max_source_tokens:
                raise SystemExit(f"--input {args.input} line {i + 1}: the source has {n} tokens, the model "
                                 f"takes at most {pipe.max_source_tokens} (pass --truncate to cut it)")
    outputs = [""] * len(sources)
    with tqdm(total=len(todo), desc="text", unit="line", disable=args.no_progress) as bar:
        for start in range(0, len(todo), args.batch_size):
            batch = todo[start:start + args.batch_size]
            decode = {} if cls is ARTextPipeline else {"steps": args.steps, "solver": args.solver}
            texts = pipe([sources[i] for i in batch], temperature=args.temperature,
                         truncate=args.truncate or None, generator=line_generators(args.seed, batch), **decode)
            for i, t in zip(batch, texts):
                outputs[i] = as_line(t)
            bar.update(len(batch))
    write_lines(out, outputs)
    print(f"wrote {len(outputs)} lines ({len(todo)} generated) to {out}")
    return 0


#: ``name -> (add the parser, run the parsed arguments)``; registered by ``polydiff``'s CLI.
COMMANDS = {"text": (_add_text, _run_text)}

"""The flags every task command shares (``polydiff generate``, ``polydiff impute`` ...) and the
loading of the pipeline a command applies.

Every command takes ``--model`` (a pipeline folder, a shipped name or a Hub id; default the
domain's shipped pipeline), ``--device``, ``--seed``, ``--steps`` and ``--solver`` (default: the
pipeline's own), and ``--no-progress``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import TypeVar

import torch

from .flags import non_negative_int, positive_int
from .pipeline import Pipeline, PipelineError, read_index
from .pipeline_hub import resolve_pipeline, shipped_pipelines
from .solvers import SOLVERS
from .validate import check_device

__all__ = ["add_task_flags", "held_pipeline_class", "load_task_pipeline", "refuse_flags", "task_device",
           "task_generator"]

P = TypeVar("P", bound=Pipeline)


def add_task_flags(parser: argparse.ArgumentParser, default_model: str | None, *,
                   solvers: Sequence[str] | None = None) -> None:
    """Add the shared flags to a task command's parser; ``solvers``: the names ``--solver``
    accepts (default: core's Gaussian solvers; a token model has its own decoders)."""
    g = parser.add_argument_group("model and sampling (shared by every task command)")
    shipped = f" (default: the shipped pipeline {default_model!r})" if default_model else ""
    g.add_argument("--model", default=default_model, required=default_model is None,
                   help="pipeline folder (save_pretrained), shipped name or Hub id" + shipped)
    g.add_argument("--device", default="cpu", help="cpu, cuda or cuda:i (default cpu)")
    g.add_argument("--seed", type=non_negative_int, default=0, help="seed of the sampling noise (default 0)")
    g.add_argument("--steps", type=positive_int, default=None,
                   help="solver steps (default: the pipeline's)")
    g.add_argument("--solver", choices=sorted(SOLVERS if solvers is None else solvers), default=None,
                   help="solver (default: the pipeline's)")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")


def held_pipeline_class(model: str | os.PathLike, classes: Sequence[type[P]]) -> type[P]:
    """Which of ``classes`` (the pipelines one command applies) the pipeline ``model`` holds,
    read from its index; ``classes[0]`` when the index cannot be read or names none of them
    (loading it then names the problem)."""
    try:
        held = read_index(resolve_pipeline(model))["class"]
    except (OSError, TypeError, PipelineError):
        return classes[0]
    return next((c for c in classes if held == f"{c.__module__}:{c.__qualname__}"), classes[0])


def refuse_flags(args: argparse.Namespace, dests: Sequence[str], why: str) -> None:
    """End the command naming the first of the flags ``dests`` (argparse names) that was given:
    they do not apply to the pipeline ``--model`` holds, which ``why`` describes."""
    for dest in dests:
        if getattr(args, dest) is not None:
            flag = "--" + dest.replace("_", "-")
            raise SystemExit(f"{flag}: {args.model} is {why}; drop {flag}")


def load_task_pipeline(cls: type[P], args: argparse.Namespace) -> P:
    """The pipeline named by ``--model``, on ``--device``; a clear message when it is missing."""
    device = task_device(args)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"--device {args.device}: no CUDA device is available")
    try:
        return cls.from_pretrained(args.model, device=device)
    except (FileNotFoundError, PipelineError) as e:
        names = shipped_pipelines()
        known = f"shipped pipelines: {', '.join(names)}" if names else "no pipeline ships yet"
        raise SystemExit(f"--model {args.model}: {e}\n({known}; pass --model DIR with a folder "
                         f"written by {cls.__name__}.save_pretrained)") from None


def task_device(args: argparse.Namespace) -> torch.device:
    """``--device`` as a ``torch.device``; a name torch does not know ends the command naming
    the flag."""
    try:
        return check_device(args.device, "--device")
    except (TypeError, ValueError) as e:
        raise SystemExit(str(e)) from None


def task_generator(args: argparse.Namespace, device: torch.device | str = "cpu") -> torch.Generator:
    """The generator of a command's sampling noise, seeded with ``--seed``."""
    return torch.Generator(device=device).manual_seed(args.seed)

"""The ``polydiff`` command.

    polydiff bench [--quick | --full] [--domains core,vision,...] [--json PATH] [--out DIR]
                   [--device cpu|cuda] [--results-dir DIR] [--no-progress]
    polydiff train <domain> [args...]     # = python -m polydiff.<domain>.train args...
    polydiff generate --model DIR --labels 0,1 --out DIR   # a task command (see TASK_MODULES)

Unknown subcommands, domains or flags end with a one-line error and exit status 2.
``polydiff bench`` exits 1 when a domain failed (skipped domains are not failures).
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import shlex
import subprocess
import sys
from collections.abc import Sequence

from . import runner

#: Modules whose ``COMMANDS`` (``name -> (add_parser, run)``) become ``polydiff <name>``: each
#: applies a trained pipeline to the user's own files.
TASK_MODULES: tuple[str, ...] = (
    "polydiff.vision.commands",
    "polydiff.text.commands",
    "polydiff.timeseries.commands",
    "polydiff.molecules.commands",
    "polydiff.robustness.commands",
)

#: Domains with a training script (``polydiff.<domain>.train``); core is a library only.
TRAIN_DOMAINS: tuple[str, ...] = tuple(d for d in runner.DOMAINS if d != "core")


def _domain_list(text: str) -> list[str]:
    names = [d.strip() for d in text.split(",") if d.strip()]
    known = list(runner.ENTRIES)  # read at parse time: tests and plug-ins may add entries
    unknown = [d for d in names if d not in known]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown domain(s): {', '.join(unknown)} (choose from {', '.join(known)})")
    if not names:
        raise argparse.ArgumentTypeError("empty domain list")
    return list(dict.fromkeys(names))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``polydiff`` command."""
    parser = argparse.ArgumentParser(
        prog="polydiff",
        description="polydiff: one diffusion engine and its domains (vision, text, time "
                    "series, molecules, robustness).")
    from importlib.metadata import PackageNotFoundError, version
    try:
        ver = version("polydiff")
    except PackageNotFoundError:
        ver = "unknown"
    parser.add_argument("--version", action="version", version=f"polydiff {ver}")
    sub = parser.add_subparsers(dest="command")

    b = sub.add_parser("bench", help="run the cross-domain benchmark suite",
                       description="Train small models on bundled real data in every domain, "
                                   "evaluate them beside their baselines and peers, and write "
                                   "results.json, report.md and PNG figures.")
    mode = b.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="mode", action="store_const", const="quick",
                      help="small models, minutes on 2 CPU cores (default)")
    mode.add_argument("--full", dest="mode", action="store_const", const="full",
                      help="the settings of the committed results (bench/results/*.json)")
    b.set_defaults(mode="quick")
    b.add_argument("--domains", type=_domain_list, default=list(runner.ENTRIES),
                   help=f"comma-separated subset of {','.join(runner.ENTRIES)} (default: all)")
    b.add_argument("--json", metavar="PATH", help="also write the results document here")
    b.add_argument("--out", metavar="DIR", default="polydiff-bench",
                   help="output folder (default: ./polydiff-bench)")
    b.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    b.add_argument("--results-dir", metavar="DIR", default=str(runner.RESULTS_DIR),
                   help="where --full writes <domain>.json (default: the package's "
                        "bench/results)")
    b.add_argument("--no-progress", action="store_true", help="no progress bars")

    t = sub.add_parser("train", help="train a domain's model (python -m polydiff.<domain>.train)",
                       description="Runs `python -m polydiff.<domain>.train args...` with this "
                                   "interpreter; `polydiff train <domain> --help` lists its "
                                   "arguments.")
    t.add_argument("domain", choices=TRAIN_DOMAINS)
    t.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the training script")
    for name, (add, run) in _task_commands().items():
        add(sub).set_defaults(task_run=run)
    return parser


def _task_commands() -> dict:
    """Every task command of the installed domains (a domain whose extra is missing has none)."""
    commands = {}
    for module in TASK_MODULES:
        try:
            commands.update(importlib.import_module(module).COMMANDS)
        except ModuleNotFoundError as e:  # the domain's optional dependencies are not installed
            if (e.name or "").startswith("polydiff"):
                raise  # a broken command module is a bug, not a missing extra
            continue
    return commands


def _bench(args: argparse.Namespace, parser: argparse.ArgumentParser, argv: Sequence[str]) -> int:
    from .report import console_summary

    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            parser.error("--device cuda: no CUDA device is available (torch.cuda.is_available() "
                         "is False)")
    result = runner.run_suite(args.mode, args.domains, args.out, args.device, json_path=args.json,
                       results_dir=args.results_dir, show_progress=not args.no_progress,
                       command="polydiff " + shlex.join(argv))
    print()
    print(console_summary(result))
    print(f"\n{len(result.records)} records in {result.duration_s:.1f} s -> "
          f"{result.out_dir / 'results.json'}, {result.out_dir / 'report.md'}")
    return 1 if any(o.status == "error" for o in result.outcomes) else 0


def _train(args: argparse.Namespace) -> int:
    module = f"polydiff.{args.domain}.train"
    try:
        spec = importlib.util.find_spec(module)
    except ImportError as e:  # the domain's extra is missing: its message is the pip line
        print(f"polydiff train {args.domain}: {e}", file=sys.stderr)
        return 1
    if spec is None:
        print(f"polydiff train {args.domain}: {module} does not exist yet", file=sys.stderr)
        return 1
    return subprocess.run([sys.executable, "-m", module, *args.args], check=False).returncode


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``polydiff`` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if args.command == "bench":
        return _bench(args, parser, argv)
    if args.command == "train":
        return _train(args)
    return args.task_run(args)


if __name__ == "__main__":
    sys.exit(main())

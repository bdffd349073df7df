"""Metrics of a run: JSONL records, and on request a CSV and a PNG of the loss curve."""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path
from typing import Any

__all__ = ["MetricsLog", "plot_loss"]


class MetricsLog:
    """Appends one JSON object per line to ``run_dir/metrics.jsonl`` (nothing without a dir).

    On resume, records past the resumed step (written after that checkpoint by the run that
    stopped) are dropped so the file describes one consistent trajectory.
    """

    def __init__(self, run_dir: str | os.PathLike | None, enabled: bool = True):
        self.path = Path(run_dir) / "metrics.jsonl" if (run_dir is not None and enabled) else None

    def truncate_after(self, step: int) -> None:
        if self.path is None or not self.path.is_file():
            return
        kept = [r for r in self.read() if r.get("step", 0) <= step]
        tmp = self.path.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
        os.replace(tmp, self.path)

    def write(self, record: dict[str, Any]) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def read(self) -> list[dict[str, Any]]:
        if self.path is None or not self.path.is_file():
            return []
        out = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:  # a line cut by a crash
                continue
        return out


def plot_loss(
    records: list[dict[str, Any]], out_dir: str | os.PathLike
) -> tuple[Path, Path | None]:
    """Write ``loss.csv`` (step, loss, lr) and ``loss.png`` (log-scale loss vs step).

    matplotlib is imported here only; without it the CSV is still written and the PNG path
    is ``None``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = [r for r in records if "loss" in r]
    csv_path = out_dir / "loss.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["step", "loss", "lr"])
        for r in rows:
            w.writerow([r["step"], r["loss"], r.get("lr", "")])
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return csv_path, None
    fig = Figure(figsize=(5, 3.2), dpi=120)  # no pyplot: the caller's backend is untouched
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    steps = [r["step"] for r in rows]
    losses = [r["loss"] for r in rows]
    ax.plot(steps, losses, lw=1.2)
    if losses and all(v > 0 and math.isfinite(v) for v in losses):
        ax.set_yscale("log")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    png = out_dir / "loss.png"
    fig.savefig(png)
    return csv_path, png

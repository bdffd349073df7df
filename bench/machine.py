"""Where and from what a benchmark ran: git commit and machine description."""
from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

_REPO = Path(__file__).resolve().parent.parent


def git_commit(repo: Path | None = None) -> str:
    """Short SHA of ``HEAD`` of the checkout polydiff runs from, or ``"unknown"``.

    An installed wheel has no git checkout: then the answer is ``"unknown"``.
    """
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo or _REPO,
                             capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and sha else "unknown"


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, ``platform`` elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine_info(device: str = "cpu") -> dict[str, Any]:
    """CPU model, core count, torch threads, torch version and GPU name (if one is used)."""
    import torch  # base dependency; imported here so `polydiff --help` stays fast

    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": device,
        "gpu": None,
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info

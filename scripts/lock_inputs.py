"""Prints the digest of what requirements/dev.lock is resolved from.

That is pyproject.toml's ``dependencies`` and ``optional-dependencies`` and the lines of
requirements/peers.in; scripts/setup.sh compares it with the lock's ``inputs-sha256`` header
and stops, naming ``bash scripts/lock.sh``, when they differ.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def inputs_digest(root: Path = ROOT) -> str:
    """sha256 of the dependency specs in pyproject.toml and requirements/peers.in."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    peers = [line.strip() for line in (root / "requirements" / "peers.in").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    specs = {"dependencies": project.get("dependencies", []),
             "optional-dependencies": project.get("optional-dependencies", {}),
             "requires-python": project.get("requires-python"), "peers": peers}
    return hashlib.sha256(json.dumps(specs, sort_keys=True).encode()).hexdigest()


if __name__ == "__main__":
    sys.stdout.write(inputs_digest() + "\n")

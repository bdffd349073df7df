"""The design document lives in the repository, the README links it, and no source file
cites a document outside the repository (the first draft's ``DESIGN.md`` or ``../shared``)."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("core", "vision", "text", "timeseries", "molecules", "robustness", "bench", "scripts",
           "tests", "docs")
OUTSIDE = re.compile(r"\bDESIGN\.md\b|\.\./shared\b|/work/shared\b")


def test_design_document_is_in_the_repository_and_linked():
    design = ROOT / "docs" / "design.md"
    assert design.is_file(), "docs/design.md is missing"
    text = design.read_text()
    for section in ("## Layout", "## The engine", "## Domains", "## Benchmark results"):
        assert section in text, f"docs/design.md lacks its {section!r} section"
    assert "(docs/design.md)" in (ROOT / "README.md").read_text(), "README.md does not link docs/design.md"


def test_no_source_cites_a_document_outside_the_repository():
    this = Path(__file__).resolve()
    bad = []
    for folder in SOURCES:
        for f in sorted((ROOT / folder).rglob("*")):
            if f.suffix not in (".py", ".md", ".sh", ".toml") or f.resolve() == this or "results" in f.parts:
                continue
            for i, line in enumerate(f.read_text(errors="replace").splitlines(), 1):
                if OUTSIDE.search(line):
                    bad.append(f"{f.relative_to(ROOT)}:{i}: {line.strip()}")
    for name in ("README.md", "Makefile", "pyproject.toml"):
        bad += [f"{name}:{i}" for i, line in enumerate((ROOT / name).read_text().splitlines(), 1)
                if OUTSIDE.search(line)]
    assert not bad, "\n".join(bad)

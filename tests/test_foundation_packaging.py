"""Packaging: every package folder is listed in pyproject.toml and ends up in the wheel."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
PACKAGE_DIR: dict[str, str] = SETUPTOOLS["package-dir"]
PACKAGES: list[str] = SETUPTOOLS["packages"]
IGNORED_PARTS = {"__pycache__", "cache"}


def _package_folders(root: Path = ROOT) -> dict[str, Path]:
    """Package name -> folder, for every folder with an ``__init__.py`` under a mapped root."""
    found = {}
    for top, folder in PACKAGE_DIR.items():
        base = root / folder
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base)
            if IGNORED_PARTS & set(rel.parts):
                continue
            found[".".join((top, *rel.parts))] = init.parent
    return found


def test_every_package_folder_is_listed():
    missing = sorted(set(_package_folders()) - set(PACKAGES))
    assert not missing, (f"folders with __init__.py that pyproject.toml's [tool.setuptools] "
                         f"packages leaves out of the wheel: {missing}")


def test_every_listed_package_has_its_folder():
    """A listed package without its folder breaks every build (``pip install``, wheels)."""
    folders = _package_folders()
    absent = sorted(p for p in PACKAGES if p not in folders)
    assert not absent, f"listed in pyproject.toml but no <folder>/__init__.py: {absent}"


def test_package_dir_maps_every_top_level_package():
    tops = {p for p in PACKAGES if p.count(".") == 1}
    assert tops == set(PACKAGE_DIR), (tops ^ set(PACKAGE_DIR))
    for name, folder in PACKAGE_DIR.items():
        assert name == f"polydiff.{folder}", (name, folder)


def test_console_script_points_at_the_cli():
    assert PYPROJECT["project"]["scripts"]["polydiff"] == "polydiff.bench.cli:main"
    from polydiff.bench.cli import main

    assert callable(main)


def test_extras_cover_every_domain():
    extras = PYPROJECT["project"]["optional-dependencies"]
    for domain in ("vision", "text", "timeseries", "molecules", "robustness", "all", "dev"):
        assert domain in extras, f"extra [{domain}] missing"
    base = " ".join(PYPROJECT["project"]["dependencies"])
    for heavy in ("rdkit", "gluonts", "sentencepiece", "e3nn", "torch-geometric", "diffusers"):
        assert heavy not in base, f"{heavy} must be an extra, not a base dependency"


def test_wheel_contains_every_module(tmp_path):
    """Build a wheel, in isolation, from a copy of the sources (a few seconds): every .py of every package and
    every file matched by ``[tool.setuptools.package-data]`` is inside."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "cache")
    for folder in PACKAGE_DIR.values():
        shutil.copytree(ROOT / folder, src / folder, ignore=ignore)
    # In build isolation: the build sees only pyproject.toml's build requirements, never the
    # plug-ins of whatever happens to be installed in the development venv (a `kernels` release's
    # egg_info writer once broke this build on a fresh machine).
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                          "--disable-pip-version-check", "-q",
                          "-w", str(tmp_path / "dist"), str(src)],
                         capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    (wheel,) = (tmp_path / "dist").glob("polydiff-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = set()
    folders = _package_folders(src)  # the copy: other work may add files meanwhile
    for package, folder in folders.items():
        for py in folder.glob("*.py"):
            expected.add("/".join((*package.split("."), py.name)))
    for package, patterns in SETUPTOOLS.get("package-data", {}).items():
        folder = folders.get(package)
        for pattern in patterns if folder else ():
            for f in folder.glob(pattern):
                expected.add("/".join((*package.split("."), *f.relative_to(folder).parts)))
    missing = sorted(expected - names)
    assert not missing, f"modules missing from the wheel: {missing}"
    assert "polydiff/bench/cli.py" in names

    # A normal (non-editable) install of that wheel imports and runs from its own files.
    target = tmp_path / "site"
    out = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index",
                          "--disable-pip-version-check", "-q", "--target", str(target),
                          str(wheel)], capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    code = ("import polydiff.core, polydiff.bench.cli as c; print(polydiff.core.__file__); "
            "c.main(['--help'])")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(target)},
                         check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0].startswith(str(target)), run.stdout
    assert "usage: polydiff" in run.stdout

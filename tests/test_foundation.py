"""The layout's promises (docs/design.md "Layout"), each checked in a fresh interpreter.

- ``import polydiff.core`` loads no domain and no domain dependency;
- ``import polydiff.<domain>`` loads none of the other domains' extras;
- a missing extra fails at import with the exact ``pip install "polydiff[<domain>]"`` line;
- no domain imports a sibling (robustness may import ``polydiff.vision``), checked statically;
  each benchmark entry in ``polydiff.bench`` imports only the domain it measures.

Domains whose ``__init__.py`` is still an empty placeholder are skipped, not passed.
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOMAINS = ("vision", "text", "timeseries", "molecules", "robustness")
#: Modules only one domain's extra brings (shared ones such as pandas or scipy are not here).
EXCLUSIVE = {
    "vision": ("skimage", "nilearn", "nibabel", "tifffile"),
    "text": ("sentencepiece", "sacrebleu", "rouge_score"),
    "timeseries": ("gluonts", "pmdarima", "statsmodels", "pypots"),
    "molecules": ("rdkit", "torch_geometric", "e3nn"),
    "robustness": ("torchattacks",),
}
#: Peer libraries used by tests and benchmarks only: never loaded by importing a package.
PEERS = ("diffusers", "transformers", "torchvision")
#: One module of each domain's extra, used to simulate a missing extra.
PROBE = {"vision": "skimage", "text": "sentencepiece", "timeseries": "gluonts",
         "molecules": "rdkit", "robustness": "scipy"}
#: Sibling imports the design allows: robustness purifies images with vision's networks.
ALLOWED_SIBLINGS = {"robustness": {"vision"}}


def _is_real_package(domain: str) -> bool:
    """True when ``<domain>/__init__.py`` holds more than a docstring (i.e. it was written)."""
    init = ROOT / domain / "__init__.py"
    if not init.exists():
        return False
    body = ast.parse(init.read_text()).body
    return any(not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)) for n in body)


def _modules_after(statement: str, cwd: Path = ROOT.parent) -> set[str]:
    """Names in ``sys.modules`` after running ``statement`` in a fresh interpreter."""
    code = f"import sys, json\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=180, cwd=cwd, check=False)
    assert out.returncode == 0, f"{statement!r} failed in a fresh interpreter:\n{out.stderr}"
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def _top(mods: set[str]) -> set[str]:
    return {m.split(".")[0] for m in mods}


#: Run around a domain import: importing must not draw from or seed the global RNGs, change
#: torch's threads, or write files (STYLE.md: nothing runs at import beyond definitions).
_SIDE_EFFECT_PROBE = """
import os, numpy, torch
rng_t, rng_n = torch.random.get_rng_state().clone(), numpy.random.get_state()[1].copy()
threads = torch.get_num_threads()
import polydiff.{domain}
assert torch.equal(rng_t, torch.random.get_rng_state()), "torch's global RNG was used"
assert (numpy.random.get_state()[1] == rng_n).all(), "numpy's global RNG was used"
assert torch.get_num_threads() == threads, "torch.set_num_threads at import"
assert os.listdir(".") == [], f"files written at import: {{os.listdir('.')}}"
"""


def test_core_loads_no_domain_and_no_extra(tmp_path):
    mods = _modules_after(_SIDE_EFFECT_PROBE.format(domain="core"), cwd=tmp_path)
    heavy = {m for ms in EXCLUSIVE.values() for m in ms} | set(PEERS) | {
        "pandas", "matplotlib", "scipy", "sklearn", "torch_geometric"}
    assert not (_top(mods) & heavy), f"polydiff.core loaded {sorted(_top(mods) & heavy)}"
    domains = {m for m in mods if m.split(".")[:2] in ([["polydiff", d] for d in DOMAINS]
                                                        + [["polydiff", "bench"]])}
    assert not domains, f"polydiff.core imported {sorted(domains)}"


def test_cli_import_is_light():
    """``polydiff --help`` must not pay for torch or any domain."""
    mods = _modules_after("import polydiff.bench.cli")
    assert not (_top(mods) & {"torch", "matplotlib", *PEERS}), sorted(_top(mods) & {"torch"})
    assert not {m for m in mods if m.split(".")[:2] in [["polydiff", d] for d in DOMAINS]}


@pytest.mark.parametrize("domain", DOMAINS)
def test_domain_loads_only_its_own_extras(domain, tmp_path):
    """...and has no import-time side effects (RNG, threads, files in the working dir)."""
    if not _is_real_package(domain):
        pytest.skip(f"{domain}/__init__.py is still a placeholder")
    mods = _modules_after(_SIDE_EFFECT_PROBE.format(domain=domain), cwd=tmp_path)
    allowed = {domain} | ALLOWED_SIBLINGS.get(domain, set())
    foreign = {m for d, ms in EXCLUSIVE.items() if d not in allowed for m in ms} | set(PEERS)
    loaded = sorted(_top(mods) & foreign)
    assert not loaded, f"import polydiff.{domain} loaded other domains' extras: {loaded}"
    siblings = sorted({m.split(".")[1] for m in mods if m.startswith("polydiff.")
                       and m.split(".")[1] in DOMAINS and m.split(".")[1] not in allowed})
    assert not siblings, f"import polydiff.{domain} imported sibling domains {siblings}"


@pytest.mark.parametrize("domain", DOMAINS)
def test_missing_extra_names_the_pip_line(domain):
    if not _is_real_package(domain):
        pytest.skip(f"{domain}/__init__.py is still a placeholder")
    # sys.modules[name] = None makes `import name` raise ImportError, as if not installed.
    code = (f"import sys\nsys.modules[{PROBE[domain]!r}] = None\n"
            f"try:\n    import polydiff.{domain}\n"
            f"except ImportError as e:\n    print(str(e))\n    sys.exit(0)\n"
            f"sys.exit(3)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=180, cwd=ROOT.parent, check=False)
    assert out.returncode == 0, (f"import polydiff.{domain} did not fail without "
                                 f"{PROBE[domain]}:\n{out.stdout}{out.stderr}")
    assert out.stdout.strip() == f'pip install "polydiff[{domain}]"'


def test_missing_torchattacks_names_its_no_deps_install_step():
    """torchattacks is installed --no-deps (its pins would pull a CUDA torch), so the message
    gives both commands."""
    code = ("import sys\nsys.modules['torchattacks'] = None\n"
            "try:\n    import polydiff.robustness\nexcept ImportError as e:\n    print(str(e))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180,
                         cwd=ROOT.parent, check=False)
    assert out.stdout.strip() == 'pip install "polydiff[robustness]" && pip install --no-deps "torchattacks==3.5.1"'


def _imported_polydiff_modules(path: Path, package: str) -> list[tuple[int, str]]:
    """Absolute ``polydiff.*`` module names imported anywhere in ``path`` (line, name)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    parts = package.split(".")
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = parts[: len(parts) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.append((node.lineno, mod))
            # `from polydiff import vision` imports the package polydiff.vision
            if mod == "polydiff":
                found += [(node.lineno, f"polydiff.{a.name}") for a in node.names]
    return [(ln, m) for ln, m in found if m == "polydiff" or m.startswith("polydiff.")]


def _package_of(file: Path, folder: str) -> str:
    rel = file.relative_to(ROOT / folder).parent.parts
    return ".".join(("polydiff", folder, *rel))


def _bench_domain(file: Path) -> str | None:
    """The domain a ``bench/<domain>.py`` or ``bench/<domain>_<part>.py`` module measures."""
    stem = file.stem
    return next((d for d in DOMAINS if stem == d or stem.startswith(f"{d}_")), None)


@pytest.mark.parametrize("folder", ("core", "bench", *DOMAINS))
def test_no_forbidden_imports(folder):
    """core imports no domain; a domain imports core and itself only; in bench, a domain's
    entry (``bench/<domain>.py`` and its parts) imports that domain and core, and the suite's
    machinery (runner, report, cli, ...) imports no domain: it loads the entries by name at run
    time (importlib), so a missing extra skips one domain only."""
    base = {"core"} if folder == "core" else {"core", folder} | ALLOWED_SIBLINGS.get(folder, set())
    bad = []
    for file in sorted((ROOT / folder).rglob("*.py")):
        measured = _bench_domain(file) if folder == "bench" else None
        allowed = base | ({measured} | ALLOWED_SIBLINGS.get(measured, set()) if measured else set())
        for line, mod in _imported_polydiff_modules(file, _package_of(file, folder)):
            target = mod.split(".")[1] if mod.count(".") else None
            if target is not None and target not in allowed:
                bad.append(f"{file.relative_to(ROOT)}:{line} imports {mod}")
    assert not bad, "\n".join(bad)


def test_nothing_imports_torchvision():
    """torchvision breaks the pinned CPU torch here; no package file may import it."""
    bad = []
    for folder in ("core", "bench", *DOMAINS):
        for file in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(file.read_text())):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                         [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                bad += [f"{file.relative_to(ROOT)}:{node.lineno}" for n in names
                        if n.split(".")[0] == "torchvision"]
    assert not bad, bad

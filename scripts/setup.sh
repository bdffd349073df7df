#!/usr/bin/env bash
# Sets up ./.venv with polydiff and every extra. Idempotent: a second run only checks.
# Usage: bash scripts/setup.sh   (the lock: requirements/dev.lock, made by scripts/lock.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${POLYDIFF_VENV:-.venv}
stamp="$VENV/.polydiff-setup"
# The lock must be resolved from the dependency specs it is installed for.
lock=requirements/dev.lock
have="$(sed -n 's/^# inputs-sha256: //p' "$lock" 2>/dev/null || true)"
if [ "$have" != "$("$PY" scripts/lock_inputs.py)" ]; then
  echo "polydiff setup: $lock is older than pyproject.toml's dependencies or" \
       "requirements/peers.in; run: bash scripts/lock.sh (and commit the new lock)" >&2
  exit 1
fi
want="$(cat pyproject.toml scripts/setup.sh "$lock" | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@"; }
# 1. Exactly the locked environment (scripts/lock.sh made it from pyproject.toml's extras and
#    requirements/peers.in: the pinned CPU torch, `.[all,dev]`, and the peers installed around
#    their declared dependencies). --no-deps: nothing is resolved anew on this machine.
pip install --no-deps -r "$lock"
# 2. polydiff itself, editable, without touching the locked packages.
pip install --no-deps -e .
# 3. Data that ships as Debian packages (Fashion-MNIST, WordNet, SWORD Bibles): fetched with
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
# 4. Check: torch and every domain import; the pinned CPU build is expected on machines like
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

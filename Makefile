# The two commands of README.md. Both set everything up first (scripts/setup.sh is
# idempotent: a second run only checks a stamp).
VENV ?= .venv
# Two pytest-xdist workers (one torch thread each, see tests/conftest.py) use both cores of the
# CI box; a per-test timeout turns a hang into a failure with a traceback.
PYTEST_ARGS ?= -n 2 --timeout=900

.PHONY: setup bench test
setup:
	bash scripts/setup.sh

bench: setup
	$(VENV)/bin/polydiff bench --quick

test: setup
	$(VENV)/bin/python -m pytest -q $(PYTEST_ARGS)

# The two commands of README.md. Both set everything up first (scripts/setup.sh is
# idempotent: a second run only checks a stamp).
VENV ?= .venv
PYTEST_ARGS ?=

.PHONY: setup bench test
setup:
	bash scripts/setup.sh

bench: setup
	$(VENV)/bin/polydiff bench --quick

test: setup
	$(VENV)/bin/python -m pytest -q $(PYTEST_ARGS)

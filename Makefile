# The two README commands: `make demo` and `make test`. Also `make lint`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: demo test lint install kafka-start kafka-stop clean

$(INSTALLED): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "dixian needs Python >= 3.11 (set PYTHON=python3.11)")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing dixian and its pinned dependencies into $(VENV) ..."
	@$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	@$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	@$(BIN)/python -c 'import aiokafka.record._crecords' || { echo "aiokafka's C extension did not build"; exit 1; }
	@touch $@

install: $(INSTALLED)

## Run the main job on the embedded default (no Kafka needed).
demo: $(INSTALLED)
	$(BIN)/dixian demo

## Every test tier against a fresh real broker on its own port; the broker is stopped even on failure.
test: $(INSTALLED)
	@PATH="$(abspath $(BIN)):$$PATH" bash deploy/run-tests.sh

lint: $(INSTALLED)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) var build *.egg-info

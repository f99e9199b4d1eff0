# trackpref — `make run` starts the site, `make test` proves it. `make help` lists the rest.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ARGS ?=
PYTEST_ARGS ?=
CHECKED := src tests bench scripts

STAMP_CORE := $(VENV)/.stamp-core
STAMP_DEV := $(VENV)/.stamp-dev

.PHONY: help run test lint typecheck unit system-deps bench clean venv

help: ## List the targets.
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || \
	  { echo "trackpref needs Python 3.11 or newer (found: $$($(PYTHON) --version 2>&1)); set PYTHON=" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

venv: $(VENV)/bin/python ## Create the virtual environment.

PIP_INSTALL := $(BIN)/pip install -q --disable-pip-version-check -c constraints.txt

$(STAMP_CORE): pyproject.toml constraints.txt | $(VENV)/bin/python
	$(PIP_INSTALL) -e .
	@touch $@

$(STAMP_DEV): pyproject.toml constraints.txt | $(VENV)/bin/python
	$(PIP_INSTALL) -e '.[dev]'
	@touch $@ $(STAMP_CORE)

run: $(STAMP_CORE) ## Start `trackpref serve` on ./trackpref.db (ARGS="--port 8080" to pass options).
	$(BIN)/trackpref serve $(ARGS)

system-deps: ## Install chromium and postgresql when run as root (Debian/Ubuntu).
	@bash scripts/install-system-deps.sh

lint: $(STAMP_DEV) ## ruff check and format check.
	$(BIN)/ruff check $(CHECKED)
	$(BIN)/ruff format --check $(CHECKED)

typecheck: $(STAMP_DEV) ## mypy --strict.
	$(BIN)/mypy

unit: $(STAMP_DEV) ## Only the tests that need no browser and no PostgreSQL.
	$(BIN)/pytest -m "not browser and not postgres" $(PYTEST_ARGS)

test: system-deps $(STAMP_DEV) ## Everything: lint, types and the whole test suite.
	$(BIN)/ruff check $(CHECKED)
	$(BIN)/ruff format --check $(CHECKED)
	$(BIN)/mypy
	$(BIN)/pytest -p no:cacheprovider $(PYTEST_ARGS)

bench: $(STAMP_DEV) ## Run the benchmarks in bench/ (quick mode); see bench/README.md.
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b --quick || exit 1; done

clean: ## Remove the virtual environment and caches (not your databases).
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis build dist src/*.egg-info

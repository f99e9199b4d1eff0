# trackpref — `make run` starts the site, `make test` proves it. `make help` lists the rest.
# GNU make. Recipes use bash; every target works from a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Extra arguments: `make run ARGS="--port 8080"`, `make test PYTEST_ARGS="-k ledger"`.
ARGS ?=
PYTEST_ARGS ?=
BENCH_ARGS ?= --quick
CHECKED := src tests bench scripts
# In CI (CI=true) pytest writes no cache and lists the slowest tests.
PYTEST_CI_ARGS := $(if $(CI),-p no:cacheprovider --durations=25,)

STAMP_CORE := $(VENV)/.stamp-core
STAMP_DEV := $(VENV)/.stamp-dev
PIP_INSTALL := $(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt

.PHONY: help venv install run system-deps lint typecheck unit test bench clean

help: ## List the targets.
	@echo "trackpref — make targets (PYTHON=$(PYTHON), VENV=$(VENV)):"
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null || \
	  { echo "error: trackpref needs Python 3.11 or newer; PYTHON=$(PYTHON) is" \
	    "$$($(PYTHON) --version 2>/dev/null || echo 'not found')." \
	    "Run e.g. \`make $(MAKECMDGOALS) PYTHON=python3.11\`." >&2; exit 1; }
	@# Debian's Python ships venv's ensurepip in a package of its own, per version.
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || { \
	  pkg="python$$($(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')-venv"; \
	  if [ "$$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing $$pkg (needed to create $(VENV))"; \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends "$$pkg" </dev/null >/dev/null; \
	  else \
	    echo "error: $(PYTHON) cannot create a virtual environment (no ensurepip)." \
	      "On Debian/Ubuntu: sudo apt-get install $$pkg" >&2; exit 1; \
	  fi; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip

$(STAMP_CORE): pyproject.toml constraints.txt | $(BIN)/python
	$(PIP_INSTALL) -e .
	@touch $@

$(STAMP_DEV): pyproject.toml constraints.txt | $(BIN)/python
	$(PIP_INSTALL) -e '.[dev]'
	@touch $@ $(STAMP_CORE)

venv: $(STAMP_DEV) ## Create .venv and install trackpref with the dev extras (fast when done).

install: venv ## Same as venv.

run: $(STAMP_CORE) ## Start `trackpref serve` (defaults; ARGS="--port 8080" passes options).
	$(BIN)/trackpref serve $(ARGS)

system-deps: ## Install chromium and postgresql (as root, Debian/Ubuntu); else say what is missing.
	@bash scripts/install-system-deps.sh

lint: $(STAMP_DEV) ## ruff check and ruff format --check.
	$(BIN)/ruff check $(CHECKED)
	$(BIN)/ruff format --check $(CHECKED)

typecheck: $(STAMP_DEV) ## mypy --strict (configured in pyproject.toml).
	$(BIN)/mypy

unit: $(STAMP_DEV) ## Only the tests that need no browser and no PostgreSQL.
	$(BIN)/pytest -m "not browser and not postgres" $(PYTEST_CI_ARGS) $(PYTEST_ARGS)

test: ## Everything: system packages, venv, ruff, format, mypy and the whole pytest suite.
	@$(MAKE) --no-print-directory system-deps
	@$(MAKE) --no-print-directory $(STAMP_DEV)
	@bash scripts/check.sh $(BIN) $(CHECKED) -- $(PYTEST_CI_ARGS) $(PYTEST_ARGS)

bench: $(STAMP_DEV) ## Run every bench/*.py (with --quick where supported; BENCH_ARGS= for full runs).
	@shopt -s nullglob; scripts=(bench/*.py); \
	if [ $${#scripts[@]} -eq 0 ]; then echo "no benchmarks in bench/"; exit 0; fi; \
	for b in "$${scripts[@]}"; do \
	  args=(); if grep -q -- '--quick' "$$b"; then args=($(BENCH_ARGS)); fi; \
	  echo "== $$b $${args[*]}"; \
	  $(BIN)/python "$$b" "$${args[@]}" || { echo "benchmark failed: $$b" >&2; exit 1; }; \
	done

clean: ## Remove the virtual environment and caches (not your databases or bench results).
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis build dist src/*.egg-info
	find src tests bench scripts -name __pycache__ -type d -prune -exec rm -rf {} +

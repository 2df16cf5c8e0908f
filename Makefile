# pooltui — the two set-up commands are `make demo` and `make test`.
# Uses the active virtualenv if there is one, else creates .venv with python3 (3.9+).

SHELL := /bin/bash
PYTHON ?= python3
ifdef VIRTUAL_ENV
VENV := $(VIRTUAL_ENV)
else
VENV := .venv
endif
BIN := $(VENV)/bin
STAMP := $(VENV)/.pooltui-installed
SCENARIO ?= logging_fork

.PHONY: demo test install lint fixtures screenshots bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## the main job on a bundled scenario: a pool whose workers hang on a lock inherited across fork()
demo: install
	$(BIN)/pooltui demo $(SCENARIO)

lint: install
	$(BIN)/ruff check pooltui tests scripts
	$(BIN)/lint-imports

test: lint
	$(BIN)/python -m pytest -q

## re-record the unit-test fixtures from live demo scenarios on every installed interpreter
fixtures: install
	$(BIN)/python scripts/record_fixtures.py

screenshots: install
	$(BIN)/python scripts/screenshots.py

bench: install
	$(BIN)/python scripts/bench.py

clean:
	rm -rf .pytest_cache .ruff_cache build *.egg-info

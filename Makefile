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

.PHONY: demo test install lint fixtures screenshots bench clean demo-venvs

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

## one virtualenv per installed interpreter (3.8+) with gunicorn, celery, joblib and uwsgi, for
## the gunicorn_stuck / celery_hang / joblib_stuck / uwsgi_stuck scenarios and
## tests/live/test_frameworks.py. pip compiles uwsgi (~25 s per interpreter, needs a C compiler):
## a failed build only leaves uwsgi_stuck out for that interpreter
DEMO_VERSIONS ?= 3.8 3.9 3.10 3.11 3.12 3.13
demo-venvs:
	@for v in $(DEMO_VERSIONS); do \
	  py=$$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/$$v.*/bin/python 2>/dev/null | tail -1); \
	  [ -n "$$py" ] || py=$$(command -v python$$v | grep -v /shims/); \
	  if [ -z "$$py" ]; then echo "python$$v: not installed, skipped"; continue; fi; \
	  [ -x .demo-venvs/py$$v/bin/python ] || $$py -m venv .demo-venvs/py$$v || continue; \
	  .demo-venvs/py$$v/bin/python -m pip install -q gunicorn celery joblib setproctitle && echo "py$$v: ok"; \
	  .demo-venvs/py$$v/bin/python -m pip install -q uwsgi && echo "py$$v: uwsgi ok" \
	    || echo "py$$v: uwsgi did not build (a C compiler and Python's headers are needed)"; \
	done

## re-record the unit-test fixtures from live demo scenarios on every installed interpreter
fixtures: install
	$(BIN)/python scripts/record_fixtures.py

screenshots: install
	$(BIN)/python scripts/screenshots.py

## pooltui against plain py-spy, ~4 min (README "Speed"); BENCH_ARGS=--full for 1000 refreshes, --only SECTION to redo one
bench: install
	$(BIN)/python scripts/bench.py $(BENCH_ARGS)

clean:
	rm -rf .pytest_cache .ruff_cache build *.egg-info

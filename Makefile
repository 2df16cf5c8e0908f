# pooltui — the two set-up commands are `make demo` and `make test` (`make check`: the fast tier).
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

.PHONY: demo test check check-wheel test-tui test-live install lint fixtures screenshots bench bench-docs bench-ps clean demo-venvs

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

## ruff, the import-linter contracts and mypy (pyproject [tool.mypy]: strict on model/ and analysis/)
lint: install
	$(BIN)/ruff check pooltui tests scripts
	$(BIN)/lint-imports
	$(BIN)/mypy

## the fast tier, < 1 min: lint + unit tests (recorded fixtures, no target process). The tui,
## live and e2e folders hold no unit test (tests/conftest.py marks by folder): not even imported.
## Hypothesis properties run a quarter of their examples here (POOLTUI_FUZZ_SCALE), all under `make test`
check: lint
	POOLTUI_FUZZ_SCALE=0.25 $(BIN)/python -m pytest -q -m unit -p no:cacheprovider -p no:textual-snapshot -p no:syrupy \
	  --ignore=tests/ui --ignore=tests/live --ignore=tests/e2e

## what CI runs: the wheel users install (check-wheel), then every tier (unit, tui, live against
## real pools, e2e in tmux). Builds the framework venvs first (cheap once built); whatever still
## cannot run is listed, with why, in the "pooltui: N tests did not run" lines at the end.
## In TEST_WORKERS processes (pytest-xdist): a live test mostly waits (a demo reaching its state,
## `--samples 5 --interval 1`, py-spy), so 4 share 2 CPUs well; worksteal hands a long test's
## neighbours to an idle process. TEST_WORKERS=0 runs them in this one process
TEST_WORKERS ?= 4
XDIST = $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist worksteal)
test: lint check-wheel
	@$(MAKE) --no-print-directory demo-venvs DEMO_VERSIONS="$(TEST_DEMO_VERSIONS)"
	$(BIN)/python -m pytest -q $(XDIST)

## what users get, tested as they get it (~1 min): build the sdist and the wheel, install the
## wheel into a clean venv, run --version, --help, doctor, demo --list, a live demo's snapshot
## and the unit tier there (tests/packaging/check_wheel.sh says what each step proves)
check-wheel: install
	tests/packaging/check_wheel.sh $(BIN)/python

## one tier: the Textual app over recorded sources / real pools and the tmux end-to-end test
test-tui: install
	$(BIN)/python -m pytest -q -m tui $(XDIST)
test-live: install
	@$(MAKE) --no-print-directory demo-venvs DEMO_VERSIONS="$(TEST_DEMO_VERSIONS)"
	$(BIN)/python -m pytest -q -m live $(XDIST)

## one virtualenv per installed interpreter (3.8+) with gunicorn, celery, joblib and uwsgi, for
## the gunicorn_stuck / celery_hang / joblib_stuck / uwsgi_stuck scenarios and
## tests/live/test_frameworks.py. pip compiles uwsgi (~25 s per interpreter, needs a C compiler):
## a failed build only leaves uwsgi_stuck out for that interpreter. A venv built once is
## not touched again (it has the frameworks, or the stamp .demo-venvs/py3.X/.pooltui-demos:
## delete the venv to rebuild it); .demo-venvs may be a symlink to a shared set.
## `make test` (and so CI) builds three of them (TEST_DEMO_VERSIONS: the oldest, the newest and
## the middle; ~45 s each on a fresh machine, uwsgi compiling most of it): all six kept CI past its
## 15-minute budget once every tier ran. 3.9, 3.10 and 3.12's framework tests then skip, saying
## so; `make demo-venvs` (all of DEMO_VERSIONS) builds them and they run (21 tests, all passing)
DEMO_VERSIONS ?= 3.8 3.9 3.10 3.11 3.12 3.13
TEST_DEMO_VERSIONS ?= 3.8 3.11 3.13
HAS_FRAMEWORKS := import importlib.util as u, sys; sys.exit(not all(u.find_spec(m) for m in ("gunicorn", "celery", "joblib")))
demo-venvs:
	@mkdir -p .demo-venvs/
	@for v in $(DEMO_VERSIONS); do \
	  [ -e .demo-venvs/py$$v/.pooltui-demos ] && continue; \
	  .demo-venvs/py$$v/bin/python -c '$(HAS_FRAMEWORKS)' 2>/dev/null && continue; \
	  py=$$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/$$v.*/bin/python 2>/dev/null | tail -1); \
	  [ -n "$$py" ] || py=$$(command -v python$$v | grep -v /shims/); \
	  if [ -z "$$py" ]; then echo "python$$v: not installed, its framework tests skip"; continue; fi; \
	  [ -x .demo-venvs/py$$v/bin/python ] || $$py -m venv .demo-venvs/py$$v || continue; \
	  .demo-venvs/py$$v/bin/python -m pip install -q gunicorn celery joblib setproctitle && echo "py$$v: ok" || continue; \
	  if .demo-venvs/py$$v/bin/python -m pip install -q uwsgi; then echo "py$$v: uwsgi ok"; \
	  else echo "py$$v: uwsgi did not build (a C compiler and Python's headers are needed): uwsgi_stuck skips"; fi; \
	  touch .demo-venvs/py$$v/.pooltui-demos; \
	done

## re-record the unit-test fixtures from live demo scenarios on every installed interpreter
fixtures: install
	$(BIN)/python scripts/record_fixtures.py
	$(BIN)/python scripts/record_census.py
	$(BIN)/python scripts/record_proc.py

screenshots: install
	$(BIN)/python scripts/screenshots.py

## pooltui against plain py-spy, ~6 min (docs/speed.md): whole commands on four workloads, then in-process; BENCH_ARGS=--full for 1000 refreshes, --only SECTION to redo one (commands, one, trees, ...).
## Writes bench/latest.json, then renders docs/speed.md's tables from it (bench-docs)
bench: install
	$(BIN)/python scripts/bench.py $(BENCH_ARGS)
	@$(MAKE) --no-print-directory bench-docs

## docs/speed.md's tables, re-rendered from bench/latest.json (never copied by hand)
bench-docs:
	$(PYTHON) scripts/bench_tables.py

## `pooltui ps` with ~300 Python processes (20 demo pools on every interpreter, 40 lone ones): the whole command and its phases
bench-ps: install
	$(BIN)/python scripts/bench_ps.py $(BENCH_ARGS)

clean:
	rm -rf .pytest_cache .ruff_cache build *.egg-info

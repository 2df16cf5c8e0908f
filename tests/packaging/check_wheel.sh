#!/usr/bin/env bash
# What users install is what is tested: build the sdist and the wheel the way `pip install .`,
# `pipx install .` and a release do, install the wheel into a clean virtualenv (no -e, no
# source tree on sys.path: everything runs from an empty temporary folder), and run there
# what a new user runs first. `make test` (and so CI) runs it; alone: `make check-wheel`.
#
#   tests/packaging/check_wheel.sh [PYTHON]   PYTHON: has `build` (the dev venv's; default python3)
#
# Checks, each failing with what went wrong:
#  1. the sdist builds, and the wheel built from it holds the same files as one built from the
#     tree, and every file of pooltui/ and demo/ (as pooltui/demos/) is in it;
#  2. the installed `pooltui --version`, `--help`, `doctor`, `demo --list` work, and
#     `pooltui serve` without the serve extra says in one line how to get it;
#  3. `pooltui demo logging_fork --print`: the installed package's own demo, started, ready,
#     and snapshotted: exit 1 and the orphaned-lock verdict;
#  4. the unit tier (tests/unit, copied out of the tree) passes against the installed package.
set -euo pipefail

PYTHON="${1:-python3}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/pooltui-wheel.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
say() { printf 'check-wheel: [%3ds] %s\n' "$SECONDS" "$*"; }
fail() { printf 'check-wheel: FAILED: %s\n' "$*" >&2; exit 1; }
# pip_install LOG ARGS...: pip's own chatter (a find-links folder it cannot read) left out
pip_install() {
  local log=$1 code=0
  shift
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-input "$@" >"$log" 2>&1 || code=$?
  grep -v '^WARNING: Location' "$log" || true
  return $code
}

# -- 1. build ------------------------------------------------------------------------------
# from a copy of the tree as git sees it (tracked and new files, not ignored ones): the build
# writes build/ and *.egg-info beside its sources, and an uncommitted change is tested too
mkdir -p "$WORK/src" "$WORK/dist" "$WORK/tree-wheel" "$WORK/run"
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git -C "$ROOT" ls-files -z --cached --others --exclude-standard | (cd "$ROOT" && xargs -0 cp --parents -t "$WORK/src" 2>/dev/null || true)
else
  (cd "$ROOT" && tar --exclude=.venv --exclude=.demo-venvs --exclude=.git -cf - .) | tar -xf - -C "$WORK/src"
fi
say "building the sdist and the wheel from it (python -m build), and the wheel from the tree (pip install .)"
# two copies of the tree: each build writes its build/ and *.egg-info beside the sources
cp -r "$WORK/src" "$WORK/src2"
"$PYTHON" -m build --wheel --outdir "$WORK/tree-wheel" "$WORK/src2" >"$WORK/build-tree.log" 2>&1 &
TREE_BUILD=$!
"$PYTHON" -m build --outdir "$WORK/dist" "$WORK/src" >"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log"; fail "python -m build"; }
wait "$TREE_BUILD" || { tail -30 "$WORK/build-tree.log"; fail "python -m build --wheel"; }
SDIST=$(ls "$WORK"/dist/pooltui-*.tar.gz)
WHEEL=$(ls "$WORK"/dist/pooltui-*.whl)
"$PYTHON" - "$WHEEL" "$WORK"/tree-wheel/pooltui-*.whl "$WORK/src" <<'EOF' || fail "the wheel's contents (above)"
import sys, zipfile
from pathlib import Path
from_sdist, from_tree, src = sys.argv[1], sys.argv[2], Path(sys.argv[3])
def names(wheel):
    return {n for n in zipfile.ZipFile(wheel).namelist() if ".dist-info/" not in n}
shipped = names(from_sdist)
if shipped != names(from_tree):
    print("the wheel built from the sdist differs from the one built from the tree:",
          sorted(shipped ^ names(from_tree)))
    sys.exit(1)
wanted = {str(p.relative_to(src)) for p in (src / "pooltui").rglob("*") if p.is_file() and "__pycache__" not in p.parts}
wanted |= {"pooltui/demos/" + p.name for p in (src / "demo").iterdir() if p.suffix in (".py", ".sh")}
missing = sorted(wanted - shipped)
if missing:
    print("not in the wheel (a package or data file setup.py / pyproject.toml do not ship):")
    print("\n".join("  " + m for m in missing))
    sys.exit(1)
print("check-wheel: the wheel holds %d files, the same from the sdist and from the tree" % len(shipped))
EOF

# -- 2. install into a clean venv and run the commands --------------------------------------
say "installing $(basename "$WHEEL") into a clean virtualenv"
"$PYTHON" -c 'import sys; print(getattr(sys, "_base_executable", sys.executable))' >"$WORK/base"
"$(cat "$WORK/base")" -m venv "$WORK/venv"
VENV="$WORK/venv"
pip_install "$WORK/pip.log" "$WHEEL" || fail "pip install $(basename "$WHEEL")"
cd "$WORK/run"  # an empty folder: nothing of the tree can be imported from here
unset PYTHONPATH PYTHONHOME
POOLTUI="$VENV/bin/pooltui"
where=$("$VENV/bin/python" -c 'import pooltui, pooltui.scenarios as s; print(pooltui.__file__); print(s.demo_dir())')
case "$where" in
  "$VENV"/*"$VENV"/*) ;;
  *) fail "pooltui or its demos were not imported from the clean venv: $where" ;;
esac

run() {  # run EXPECTED_EXIT NAME CMD...: output in $WORK/out
  local expected=$1 name=$2 code=0
  shift 2
  "$@" >"$WORK/out" 2>&1 || code=$?
  if [ "$code" != "$expected" ]; then
    tail -20 "$WORK/out"
    fail "$name exited $code, not $expected"
  fi
}
expect() {  # expect NAME TEXT: the last command's output has TEXT
  grep -qF -- "$2" "$WORK/out" || { tail -20 "$WORK/out"; fail "$1: no \"$2\" in its output"; }
}
run 2 "pooltui serve (no serve extra)" "$POOLTUI" serve 1
expect "pooltui serve" "pip install 'pooltui[serve]'"
[ "$(wc -l <"$WORK/out")" = 1 ] || { cat "$WORK/out"; fail "pooltui serve without the extra: more than one line"; }
# what the unit tier needs (tests/unit/test_serve_guard.py: the serve extra), installed while
# the commands below run
pip_install "$WORK/pip-tests.log" "$WHEEL[serve]" "pytest>=8" "pytest-timeout>=2.2" "pytest-xdist>=3.5" "hypothesis>=6.100" \
  >"$WORK/pip-tests.out" 2>&1 &
PIP_TESTS=$!
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/pyproject.toml")
run 0 "pooltui --version" "$POOLTUI" --version && expect "pooltui --version" "pooltui $version"
run 0 "pooltui --help" "$POOLTUI" --help && expect "pooltui --help" "snapshot"
run 0 "pooltui doctor" "$POOLTUI" doctor && expect "pooltui doctor" "py-spy"
run 0 "pooltui demo --list" "$POOLTUI" demo --list && expect "pooltui demo --list" "logging_fork"
expect "pooltui demo --list" "killed_worker"
say "serve without its extra, --version, --help, doctor, demo --list: ok"

# -- 3. a live demo pool, snapshotted ------------------------------------------------------
# `demo --print`: the installed package starts its own scenario, waits for its readiness
# signal, and prints a snapshot (exit 1: a verdict of severity error)
run 1 "pooltui demo logging_fork --print" timeout 120 "$POOLTUI" demo logging_fork --print
expect "pooltui demo logging_fork --print" "orphaned_lock"
expect "pooltui demo logging_fork --print" "is ready (pid"
say "demo logging_fork --print: exit 1 with its orphaned_lock verdict"

# -- 4. the unit tier against the installed package -----------------------------------------
# (Hypothesis at its fewest examples: `make test` runs them all on the same code; here they
# prove the installed modules are there and whole)
# tests/ and pyproject.toml (markers, timeout) copied here, with the documents some unit tests
# hold against the code (README.md's verdicts table, docs/speed.md from bench/latest.json by
# scripts/bench_tables.py): pytest's pythonpath "." is then this folder, which holds tests but
# no pooltui, so `import pooltui` finds the installed one
cp -r "$ROOT/tests" "$ROOT/pyproject.toml" "$ROOT/README.md" "$ROOT/docs" "$ROOT/bench" "$ROOT/scripts" "$WORK/run/"
wait "$PIP_TESTS" || { cat "$WORK/pip-tests.out"; fail "installing the serve extra and pytest"; }
cat "$WORK/pip-tests.out"
say "unit tier against the installed package"
POOLTUI_FUZZ_SCALE=0.05 "$VENV/bin/python" -m pytest -q -n 2 -m unit -p no:cacheprovider --rootdir "$WORK/run" \
  -W "ignore::pytest.PytestUnknownMarkWarning" tests/unit >"$WORK/out" 2>&1 || { tail -40 "$WORK/out"; fail "the unit tier on the installed wheel"; }
tail -1 "$WORK/out" | sed 's/^/check-wheel: unit tier: /'
"$VENV/bin/python" - "$VENV" <<'EOF' || fail "the unit tier imported pooltui from the tree"
import sys
sys.path.insert(0, ".")  # as pytest's pythonpath does
import pooltui
sys.exit(0 if pooltui.__file__.startswith(sys.argv[1]) else 1)
EOF
say "ok: $(basename "$SDIST") and $(basename "$WHEEL") install and run"

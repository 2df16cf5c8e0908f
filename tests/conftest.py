"""Shared test helpers: the interpreters present, starting demo scenarios, capturing."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import io
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from pooltui import scenarios
from pooltui.model import Snapshot
from tests import captured

# A demo gives up on reaching its state after 15 s (demo/_common.py); a framework starting on a loaded
# 2-CPU machine took longer (celery at load 34). The tests wait for readiness 60 s: let the demo try 45 s.
os.environ.setdefault("POOLTUI_DEMO_STATE_TIMEOUT", "45")

# The records of binaries the direct reader was checked on (capture.checkrecords) in a folder
# of this test run, not root's /var/cache/pooltui: a run starts as a first run does, and
# leaves nothing behind (xdist's workers inherit the controller's folder)
if "POOLTUI_CACHE_DIR" not in os.environ:
    os.environ["POOLTUI_CACHE_DIR"] = tempfile.mkdtemp(prefix="pooltui-test-records-")
    atexit.register(shutil.rmtree, os.environ["POOLTUI_CACHE_DIR"], True)

FIXTURES = Path(__file__).parent / "fixtures"

# interpreters the targets may run (pooltui itself runs on the venv's Python)
TARGET_VERSIONS = ("2.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13")


def interpreter_params(versions=TARGET_VERSIONS):
    """pytest params, one per version; absent ones skip with a reason."""
    params = []
    for v in versions:
        python = scenarios.find_python(v)
        marks = [] if python else [pytest.mark.skip(reason=f"Python {v} is not installed on this machine")]
        params.append(pytest.param(python, id=f"py{v}", marks=marks))
    return params


def capture(pid: int, **options) -> Snapshot:
    from pooltui.capture.snapshot import CaptureOptions
    from pooltui.sources import LiveSource

    s = asyncio.run(LiveSource(pid, options=CaptureOptions(**options)).capture())
    captured.remember_snapshot(s)
    return s


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    """A failed test's report says what its captures read (tests/captured.py)."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "setup":
        captured.clear()
    elif report.when == "call" and report.failed and captured.summary():
        report.sections.append(("what the captures read", captured.summary()))


@pytest.fixture
def start_demo():
    """start_demo(name, python, *args) -> RunningDemo, stopped after the test."""
    running = []

    def start(name: str, python: str, *args: str, relative: bool = False, lifetime: float = 900.0):
        demo = scenarios.start(name, python, args=tuple(args), timeout=60, relative=relative, lifetime=lifetime)
        running.append(demo)
        return demo

    yield start
    for demo in running:
        demo.stop()


def load_fixture(name: str) -> tuple[Snapshot, dict]:
    """A recorded raw capture (report JSON) and its scenario's truth (a fresh copy: a test may change it)."""
    return recorded_report(name).snapshot, json.loads(_truth_text(name))


@functools.cache
def recorded_report(name: str):  # type: ignore[no-untyped-def]
    """tests/fixtures/NAME.json loaded once per session (a Report is frozen: tests share it)."""
    from pooltui.report import load_report

    return load_report(FIXTURES / f"{name}.json")


@functools.cache
def _truth_text(name: str) -> str:
    return (FIXTURES / f"{name}.truth.json").read_text()


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """``pooltui ARGS`` run by ``cli.main`` in this process: its exit code and what it printed,
    as ``subprocess.run`` would give them, without starting an interpreter (a third of a second
    each, many times that on a loaded machine). For refusals that happen before any target is
    read; what needs a process boundary (stdin, a closed stdout) keeps ``subprocess``."""
    from pooltui.cli import main

    out, err = io.StringIO(), io.StringIO()
    code: object = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as stop:
            code = stop.code
    if not isinstance(code, int):  # sys.exit("message") prints it and exits 1; None is 0
        if code is not None:
            err.write(f"{code}\n")
        code = 0 if code is None else 1
    return subprocess.CompletedProcess(["pooltui", *args], code, out.getvalue(), err.getvalue())


# Random inputs per Hypothesis property: as written under `make test` and plain pytest;
# `make check` sets POOLTUI_FUZZ_SCALE (a fraction) to keep its one-minute budget on a
# loaded machine: the same properties over fewer inputs.
FUZZ_SCALE = float(os.environ.get("POOLTUI_FUZZ_SCALE", "1"))


def examples(n: int) -> int:
    """``n`` Hypothesis examples, scaled by POOLTUI_FUZZ_SCALE (at least 10)."""
    return max(10, round(n * FUZZ_SCALE))


def fixture_names(prefix: str = "") -> list[str]:
    """Recorded scenario fixtures (those with a truth sidecar written by scripts/record_fixtures.py)."""
    return sorted(p.name[: -len(".truth.json")] for p in FIXTURES.glob(f"{prefix}*.truth.json"))


# ---------------------------------------------------------------- tiers
# Each test is marked by what it needs, from the folder it lives in (a test may add its own):
#   unit  recorded fixtures or pure functions, no process started but pooltui's own CLI (`make check`)
#   tui   drives the Textual app over recorded sources (Pilot, SVG snapshots)
#   live  starts real pools from demo/ and reads them with real py-spy
#   e2e   the real `pooltui attach` in tmux (also live)
TIERS = {"unit": "unit", "ui": "tui", "live": "live", "e2e": "e2e"}


def pytest_collection_modifyitems(config, items):  # type: ignore[no-untyped-def]
    for item in items:
        parts = Path(str(item.fspath)).relative_to(Path(__file__).parent).parts
        tier = TIERS.get(parts[0]) if len(parts) > 1 else "unit"  # tests/test_layers.py: a unit test
        if tier and not item.get_closest_marker(tier):
            item.add_marker(getattr(pytest.mark, tier))
        if tier == "e2e" and not item.get_closest_marker("live"):
            item.add_marker(pytest.mark.live)


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # type: ignore[no-untyped-def]
    """One line that says what did not run and why, grouped (the -ra list names each test)."""
    skipped = terminalreporter.stats.get("skipped", [])
    if not skipped:
        return
    reasons: dict[str, int] = {}
    for report in skipped:
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reason = reason.removeprefix("Skipped: ")
        reasons[reason] = reasons.get(reason, 0) + 1
    parts = [f"{n} × {reason}" for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1])]
    terminalreporter.write_sep("=", f"pooltui: {len(skipped)} tests did not run", yellow=True, bold=True)
    for part in parts:
        terminalreporter.write_line("  skipped " + part)

#!/usr/bin/env python3
"""Record unit-test fixtures from live demo scenarios (``make fixtures``).

For every scenario in demo/ and every interpreter installed among 2.7 and 3.8-3.13:
start it, wait for its readiness signal, capture the raw tree (stacks with locals, and the
lock objects blocked threads wait on; no roles, waits or verdicts: the unit tests run the
analysis on it), and write

  tests/fixtures/<scenario>-py<ver>.json        the raw capture, in the report format
  tests/fixtures/<scenario>-py<ver>.truth.json  what the scenario says is true
  tests/fixtures/pyspy/<scenario>-py<ver>.json  py-spy's own JSON for the root process
  tests/fixtures/<scenario>-native-py<ver>.json the raw capture with --native too (NATIVE scenarios)

Nothing here is typed by hand: rerun it after changing a scenario or the capture.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pooltui import pipeline, scenarios  # noqa: E402
from pooltui.analysis.history import History  # noqa: E402
from pooltui.capture import state  # noqa: E402
from pooltui.capture.pyspy import find_pyspy  # noqa: E402
from pooltui.capture.snapshot import CaptureOptions  # noqa: E402
from pooltui.model import dumps  # noqa: E402
from pooltui.pipeline.live import LiveCollector  # noqa: E402

VERSIONS = ("2.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13")
FIXTURES = ROOT / "tests" / "fixtures"
SKIP = {"pool_size"}  # benchmark helper, not a diagnosis scenario
NATIVE = {"abba", "logging_fork"}  # also recorded with C frames: native frames never change a verdict


async def capture_raw(pid: int, native: bool = False):
    """What LiveSource reads, before analysis: one refresh through the same pipeline
    (``pooltui.pipeline``: the tree, stacks with locals, the lock objects of threads blocked
    on a lock, a Manager lock's waiters read again, the pipe and socket ends when a thread is
    blocked on one, the joined threads and Condition lock holders a cycle could go through),
    kept as read: the unit tests re-run the analysis on it."""
    collector = LiveCollector(pid)
    with state.active(collector.state):
        done = await pipeline.refresh(collector, History(), CaptureOptions(locals=True, native=native))
    return done.raw


def record(name: str, version: str, python: str) -> str:
    stem = f"{name}-py{version}"
    try:
        demo = scenarios.start(name, python, timeout=60)
    except scenarios.DemoError as exc:
        return f"skip ({exc})"
    with demo:
        raw = asyncio.run(capture_raw(demo.pid))
        pyspy = subprocess.run([find_pyspy(), "dump", "--pid", str(demo.pid), "--json"], capture_output=True, text=True, timeout=30)
        if name in NATIVE:
            (FIXTURES / f"{name}-native-py{version}.json").write_text(dumps(asyncio.run(capture_raw(demo.pid, native=True))))
    (FIXTURES / f"{stem}.json").write_text(dumps(raw))
    (FIXTURES / f"{stem}.truth.json").write_text(json.dumps(demo.info, indent=1, sort_keys=True) + "\n")
    if pyspy.returncode == 0:
        (FIXTURES / "pyspy" / f"{stem}.json").write_text(pyspy.stdout)
    return f"ok ({len(raw.processes)} processes)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", action="append", help="only these scenarios")
    parser.add_argument("--version", action="append", help="only these interpreter versions (e.g. 3.11)")
    args = parser.parse_args()
    (FIXTURES / "pyspy").mkdir(parents=True, exist_ok=True)
    names = args.scenario or [n for n in scenarios.scenarios() if n not in SKIP]
    for version in args.version or VERSIONS:
        python = scenarios.find_python(version)
        if python is None:
            print(f"py{version}: not installed, skipped")
            continue
        for name in names:
            # gunicorn_stuck, celery_hang: a demo virtualenv of that version with the framework
            target = scenarios.python_for(name, version) if name in scenarios.FRAMEWORKS else python
            if target is None:
                print(f"{name}-py{version}: skip (no Python {version} with {scenarios.FRAMEWORKS[name]}: make demo-venvs)")
                continue
            print(f"{name}-py{version}: {record(name, version, target)}", flush=True)


if __name__ == "__main__":
    main()

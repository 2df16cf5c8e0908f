#!/usr/bin/env python3
"""Record the `pooltui ps` unit-test fixture from live processes (``make fixtures`` runs it).

Starts hung and healthy demo pools on several interpreters plus lone Python processes
(tests/targets/census_extras.py), waits for each one's readiness signal, takes one census of
the box (``capture.census.take_census``: kernel facts only) and keeps the processes of those
trees, then writes

  tests/fixtures/census/box.json        the census (pooltui.census/1)
  tests/fixtures/census/box.truth.json  per root pid: what was started and what `ps` should say

Nothing is typed by hand: rerun it after changing the census or a scenario.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pooltui.model import replace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pooltui import scenarios  # noqa: E402
from pooltui.capture.census import take_census  # noqa: E402
from pooltui.model.census import Census, census_dumps  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "census"  # not beside the reports: their tests take every *.truth.json there
EXTRAS = ROOT / "tests" / "targets" / "census_extras.py"

# (scenario, interpreter version, extra args, looks hung?, verdict kinds `ps` must give)
SCENARIOS = (
    ("logging_fork", "3.11", (), True, ("looks_hung",)),
    ("logging_fork", "2.7", (), True, ("looks_hung",)),
    ("plain_reentry", "3.12", (), True, ("looks_hung",)),
    ("mp_abba", "3.9", (), True, ("looks_hung",)),
    ("stopped_worker", "3.10", (), True, ("stopped",)),
    ("healthy", "3.13", (), False, ()),
    ("pool_size", "3.13", ("--workers", "4", "--mode", "idle"), False, ("quiet",)),
    ("manager_lock", "3.12", (), True, ("looks_hung",)),
    ("manager_gone", "3.11", (), False, ("quiet",)),
    ("executor", "3.8", (), False, ()),
    ("oversubscribed", "3.11", (), False, ("oversubscribed",)),
    # pre-fork servers (a .demo-venvs interpreter with the framework): one worker stuck on a lock
    ("gunicorn_stuck", "3.11", (), True, ("looks_hung",)),
    ("celery_hang", "3.11", (), True, ("looks_hung",)),
    ("uwsgi_stuck", "3.11", (), True, ("looks_hung",)),
    ("joblib_stuck", "3.11", (), False, ()),
)
# lone processes: (mode, version, looks hung?, verdict kinds)
LONE = (("sleeper", "3.11", False, ()), ("zombie", "3.12", True, ("zombies",)))


def start_lone(mode: str, python: str) -> subprocess.Popen[bytes]:
    """A census_extras process, returned once it printed its readiness line."""
    proc = subprocess.Popen([python, str(EXTRAS), mode], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith(b"ready"):
        proc.kill()
        raise RuntimeError(f"census_extras {mode} did not become ready: {line!r}")
    return proc


def trees_of(census: Census, roots: set[int]) -> Census:
    """The census with only the processes under ``roots`` (the rest of the box is not ours)."""
    by_pid = {p.pid: p for p in census.processes}

    def under(pid: int) -> bool:
        seen: set[int] = set()
        while pid in by_pid and pid not in seen:
            if pid in roots:
                return True
            seen.add(pid)
            pid = by_pid[pid].ppid
        return False

    return replace(census, processes=tuple(p for p in census.processes if under(p.pid)), vanished=0, unchecked=0)


def main() -> int:
    demos, lone, truth = [], [], {}
    try:
        for name, version, args, hung, kinds in SCENARIOS:
            python = scenarios.python_for(name, version) if name in scenarios.FRAMEWORKS else scenarios.find_python(version)
            if python is None:
                print(f"{name} py{version}: skip (not installed)")
                continue
            demo = scenarios.start(name, python, args=args, timeout=90)
            demos.append(demo)
            truth[str(demo.pid)] = {"name": name, "python": version, "hung": hung, "verdicts": list(kinds), "truth": demo.truth}
            print(f"{name} py{version}: ready, pid {demo.pid}")
        for mode, version, hung, kinds in LONE:
            python = scenarios.find_python(version)
            if python is None:
                print(f"{mode} py{version}: skip (not installed)")
                continue
            proc = start_lone(mode, python)
            lone.append(proc)
            truth[str(proc.pid)] = {"name": mode, "python": version, "hung": hung, "verdicts": list(kinds), "truth": {}}
            print(f"{mode} py{version}: ready, pid {proc.pid}")
        census = trees_of(take_census(), {int(pid) for pid in truth})
    finally:
        for demo in demos:
            demo.stop()
        for proc in lone:
            proc.kill()
            proc.wait()
    FIXTURES.joinpath("box.json").write_bytes(census_dumps(census) + b"\n")
    FIXTURES.joinpath("box.truth.json").write_text(json.dumps(truth, indent=1, sort_keys=True) + "\n")
    print(f"census/box: {len(census.processes)} processes of {len(truth)} trees, window {census.window:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

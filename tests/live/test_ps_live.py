"""`pooltui ps` against real processes: hung and healthy demo pools and lone Python
processes, each started and ready (readiness signals, no sleeps); the real command's JSON
must list each tree at its root pid with its roles and mark exactly the hung ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pooltui import scenarios

pytestmark = pytest.mark.live

EXTRAS = Path(__file__).parent.parent / "targets" / "census_extras.py"
# (scenario, its arguments, preferred interpreter, looks hung, a verdict kind it must have)
POOLS = (
    ("logging_fork", (), "3.11", True, "looks_hung"),
    ("stopped_worker", (), "3.10", True, "stopped"),
    ("plain_reentry", (), "3.12", True, "looks_hung"),
    ("healthy", (), "3.13", False, None),
    ("pool_size", ("--workers", "3", "--mode", "idle"), "3.9", False, "quiet"),  # idle: said, not marked
)
LONE = (("sleeper", False, None), ("zombie", True, "zombies"))


def _python(version: str) -> str:
    return scenarios.find_python(version) or sys.executable


@pytest.fixture
def lone():
    started: list[subprocess.Popen[bytes]] = []

    def start(mode: str) -> int:
        proc = subprocess.Popen([sys.executable, str(EXTRAS), mode], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        started.append(proc)
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith(b"ready"), mode
        return proc.pid

    yield start
    for proc in started:
        proc.kill()
        proc.wait()


def _ps_json() -> dict:
    out = subprocess.run([sys.executable, "-m", "pooltui", "ps", "--format", "json"], capture_output=True, timeout=120, check=True)
    return json.loads(out.stdout)


def test_ps_lists_every_tree_at_its_root_with_roles_and_marks_the_hung_ones(start_demo, lone):
    expected = {}
    for name, args, version, hung, kind in POOLS:
        demo = start_demo(name, _python(version), *args)
        expected[demo.pid] = (name, hung, kind, demo.truth.get("worker_pids"))
    for mode, hung, kind in LONE:
        expected[lone(mode)] = (mode, hung, kind, None)
    data = _ps_json()
    assert data["schema"] == "pooltui.ps/1" and "pooltui snapshot ROOT" in data["basis"]
    rows = {t["root_pid"]: t for t in data["trees"]}
    for pid, (name, hung, kind, workers) in expected.items():
        assert pid in rows, f"{name} (pid {pid}) is not listed as a tree root"
        row = rows[pid]
        assert row["hung"] is hung, (name, row["verdicts"])
        if kind:
            assert kind in {v["kind"] for v in row["verdicts"]}, (name, row["verdicts"])
        roles = {r["role"]: r["count"] for r in row["roles"]}
        if workers:
            assert set(workers) <= set(row["pids"]), name
            assert roles.get("worker") == len(workers), (name, row["roles"])
            assert roles.get("parent") == 1, (name, row["roles"])
        elif name == "sleeper":
            assert roles == {"main": 1} and row["pids"] == [pid] and not row["verdicts"]
    listed = [p for t in data["trees"] for p in t["pids"]]
    assert len(listed) == len(set(listed)), "a process is listed in two trees"
    table = subprocess.run([sys.executable, "-m", "pooltui", "ps"], capture_output=True, text=True, timeout=120, check=True).stdout
    lines = {int(line[1:].split()[0]): line for line in table.splitlines() if line[1:].split()[:1] and line[1:].split()[0].isdigit()}
    for pid, (name, hung, _, _) in expected.items():  # the table for people: the same trees, the hung ones marked
        assert pid in lines, f"{name} (pid {pid}) is not in the table"
        assert lines[pid].startswith("!") is hung, lines[pid]


def test_a_process_it_may_not_read_is_listed_with_why(start_demo, monkeypatch):
    """The executable of the demo's root refused (as for another user's process when not
    root): the root is still a row, with the reason, never left out."""
    from pooltui.analysis.census import trees
    from pooltui.capture import census

    demo = start_demo("logging_fork", _python("3.11"))
    real = os.readlink

    def refusing(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if path == f"/proc/{demo.pid}/exe":
            raise PermissionError(13, "Permission denied", path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(census.os, "readlink", refusing)
    rows = {t.root_pid: t for t in trees(census.take_census())}
    row = rows[demo.pid]
    assert (row.error, row.state) == ("permission", "unreadable")
    assert "Permission denied" in row.error_message
    for worker in demo.truth["worker_pids"]:  # its readable children are still listed
        assert any(worker in t.pids for t in rows.values())

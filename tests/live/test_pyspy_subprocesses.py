"""Why pooltui runs py-spy once per process instead of once per tree (issue 18): the one
py-spy mode that reads several processes in one run, ``dump --subprocesses``, gives
less than the per-process dumps pooltui parses. Checked against the py-spy installed:
should a py-spy fix this, these tests fail and say the one-run capture is worth a look.

(The CPU side, measured by ``make bench``: that one run parses every child's interpreter
again, ~the loop's CPU per process; docs/speed.md.)
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pooltui.capture import procs
from pooltui.capture.pyspy import find_pyspy

pytestmark = pytest.mark.live


@pytest.fixture
def pool(start_demo):
    demo = start_demo("pool_size", sys.executable, "--workers", "2", "--mode", "idle")
    workers = [info.pid for info in procs.walk_tree(demo.pid) if info.pid != demo.pid]
    return demo.pid, workers


def _pyspy(*args: str) -> str:
    return subprocess.run([find_pyspy(), "dump", *args], capture_output=True, text=True, timeout=60, check=True).stdout


def test_subprocesses_json_stops_after_the_root(pool):
    root, workers = pool
    threads = json.loads(_pyspy("--pid", str(root), "--subprocesses", "--json"))
    tids = {t["os_thread_id"] for t in threads}
    assert tids <= set(procs.read_sched(root)), "py-spy --subprocesses --json now prints children too: revisit issue 18 item 4"
    assert not tids & {tid for w in workers for tid in procs.read_sched(w)}


def test_subprocesses_text_lacks_what_the_per_process_json_has(pool):
    """The text form walks the children, but without each thread's pthread id (which lock
    owners are matched by) and with short file names (source lines are read by the full one)."""
    root, workers = pool
    text = _pyspy("--pid", str(root), "--subprocesses")
    frames = "\n".join(line for line in text.splitlines() if line.startswith("    "))
    assert frames
    for pid in workers:
        assert f"Process {pid}:" in text
        for thread in json.loads(_pyspy("--pid", str(pid), "--json")):
            assert f"{thread['thread_id']:x}" not in text.lower()
            assert f"{thread['thread_id']}" not in text
            full = [f["filename"] for f in thread["frames"] if f["filename"].startswith("/")]
            assert full and not any(name in frames for name in full)

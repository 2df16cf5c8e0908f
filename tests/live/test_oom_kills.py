"""A pool worker killed by the kernel's OOM killer is said to be, from the kernel's own facts
(``capture.oomkill``: the kernel log naming its pid, its memory cgroup's and the machine's
oom_kill counters); one killed with SIGKILL by a person is said not to be, because the
counters did not move. The worker runs in a memory cgroup the test makes (cgroup v1's
memory controller or cgroup v2, whichever is writable here) with a small limit, and
allocates until the kernel kills it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Optional

import pytest

from tests.conftest import interpreter_params

pytestmark = pytest.mark.live

LIMIT = 96 << 20

POOL = """
import multiprocessing, os, sys, time
FIFO, CGROUP = sys.argv[1], sys.argv[2]

def parse_record(task):
    if task == 0:
        with open(os.path.join(CGROUP, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
    open("started-%d" % task, "w").close()
    if task == 0:
        with open(FIFO) as go:
            if go.read(1) == "m":
                hoard = []
                while True:
                    hoard.append(bytearray(1 << 20))  # every page touched: the cgroup's limit is reached
    time.sleep(3600)
    return task

def ready():
    while not all(os.path.exists("started-%d" % i) for i in range(2)):
        time.sleep(0.05)
    sys.stdout.write("ready\\n")
    sys.stdout.flush()

if __name__ == "__main__":
    import threading
    threading.Thread(target=ready).start()
    pool = multiprocessing.Pool(2)
    pool.map(parse_record, range(2), chunksize=1)
"""


def _own_memory_cgroup() -> Optional[tuple[Path, str]]:
    """(a new memory cgroup this test may use, its limit file), or None when none is writable."""
    text = Path("/proc/self/cgroup").read_text()
    name = f"pooltui-test-{uuid.uuid4().hex[:8]}"
    for line in text.splitlines():
        hier, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            base = Path("/sys/fs/cgroup/memory") / path.lstrip("/")
            limit = "memory.limit_in_bytes"
        elif hier == "0" and not controllers:
            root = Path("/sys/fs/cgroup") if Path("/sys/fs/cgroup/cgroup.controllers").exists() else Path("/sys/fs/cgroup/unified")
            base = root / path.lstrip("/")
            enabled = base / "cgroup.subtree_control"
            if not enabled.exists() or "memory" not in enabled.read_text().split():
                continue
            limit = "memory.max"
        else:
            continue
        try:
            (base / name).mkdir()
        except OSError:
            continue
        if (base / name / limit).exists():
            return base / name, limit
        (base / name).rmdir()
    return None


@pytest.fixture
def cgroup():
    if os.geteuid() != 0:
        pytest.skip("making a memory cgroup needs root")
    made = _own_memory_cgroup()
    if made is None:
        pytest.skip("no memory cgroup (v1 memory controller or v2 with memory in subtree_control) is writable here")
    path, limit = made
    yield path, limit
    for _ in range(100):  # its processes are gone once the pool's process group is killed and reaped
        try:
            path.rmdir()
            return
        except OSError:
            time.sleep(0.05)  # polling for the kernel to empty it, not a fixed wait


def _run(python: str, tmp_path: Path, cgroup: Path, how: str) -> str:
    """The lost_task evidence after the worker in ``cgroup`` died (``how``: "m" allocates
    until the OOM killer comes, "k" is a person's SIGKILL)."""
    from pooltui.capture import procs
    from pooltui.sources import LiveSource

    fifo = tmp_path / "go"
    os.mkfifo(fifo)
    (tmp_path / "pool.py").write_text(POOL)
    proc = subprocess.Popen([python, str(tmp_path / "pool.py"), str(fifo), str(cgroup)], cwd=tmp_path, stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        victim = int((cgroup / "cgroup.procs").read_text().split()[0])
        source = LiveSource(proc.pid)
        first = asyncio.run(source.capture())
        assert any(p.pid == victim for p in first.processes)
        with open(fifo, "w") as go:
            go.write(how)
        if how == "k":
            os.kill(victim, signal.SIGKILL)
        for _ in range(1200):  # the pool reaps the dead worker and forks another
            kids = {p.pid for p in procs.walk_tree(proc.pid)}
            if victim not in kids and len(kids) >= 3:
                break
            time.sleep(0.1)  # polling for a state, not waiting a fixed time
        second = asyncio.run(source.capture())
        lost = [d for d in second.diagnoses if d.kind == "lost_task" and victim in d.pids]
        assert lost, [d.summary for d in second.diagnoses]
        (event,) = [e for e in second.events if e.kind == "process_exited" and e.pid == victim]
        return "\n".join(lost[0].evidence) + "\nEVENT " + event.detail
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.parametrize("python", interpreter_params(("3.11",)))
def test_a_worker_the_oom_killer_killed_is_said_to_be_from_the_kernel(python, tmp_path, cgroup):
    path, limit = cgroup
    (path / limit).write_text(str(LIMIT))
    text = _run(python, tmp_path, path, "m")
    assert "gone at" in text and "killed by SIGKILL" in text, text
    assert "killed by the kernel's OOM killer (out of memory)" in text, text
    assert "EVENT " in text and "by the kernel's OOM killer (out of memory)" in text.partition("EVENT ")[2], text


@pytest.mark.parametrize("python", interpreter_params(("3.11",)))
def test_a_worker_a_person_killed_with_sigkill_is_not_called_an_oom_kill(python, tmp_path, cgroup):
    path, _limit = cgroup  # no limit: its own cgroup, so another test's OOM kill moves no counter of it
    text = _run(python, tmp_path, path, "k")
    assert "killed by SIGKILL (not the OOM killer: " in text, text
    assert "OOM killer (out of memory)" not in text, text
    assert "not by the OOM killer" in text.partition("EVENT ")[2], text

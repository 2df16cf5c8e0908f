"""Targets that make capture facts wrong unless it is careful (issue 14 items 12 and 14):
threads started after the /proc walk, processes exiting mid-dump, a thread id given as
a pid, a process another tracer holds."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import textwrap
import time

import pytest

from tests.conftest import capture, interpreter_params
from tests.live.test_bad_input import assert_clean_failure, run

pytestmark = pytest.mark.live


def _start(code: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE, text=True, start_new_session=True)
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    assert ready and proc.stdout.readline().strip() == "ready"
    return proc


@pytest.fixture
def target():
    started: list[subprocess.Popen] = []

    def start(code: str) -> subprocess.Popen:
        started.append(_start(code))
        return started[-1]

    yield start
    for proc in started:
        os.killpg(proc.pid, 9)
        proc.wait()


CHURNING_THREADS = """
    import threading, time
    def short(): time.sleep(0.3)
    def churn():
        while True:
            threading.Thread(target=short).start()
            time.sleep(0.002)
    threading.Thread(target=churn, daemon=True).start()
    time.sleep(0.5)
    print("ready", flush=True)
    threading.Event().wait()
"""


def test_threads_started_after_the_walk_are_never_fork_ghosts(target):
    """~150 threads come and go all the time in a process that never forked: each capture
    lists its tasks before py-spy runs, so some threads are always newer than that list."""
    proc = target(CHURNING_THREADS)
    for _ in range(4):
        # churning: > 20 threads alive (on a loaded machine the churner may be starved a
        # while, and the threads that exist when the stacks are read are all there is)
        deadline = time.monotonic() + 30
        while len(os.listdir(f"/proc/{proc.pid}/task")) <= 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        snap = capture(proc.pid)
        me = snap.process(proc.pid)
        assert me is not None and me.error is None, me
        assert len(me.threads) > 2
        assert [t for t in me.threads if t.ghost] == []
        assert all(t.role != "fork ghost" for t in me.threads)


CHURNING_CHILDREN = """
    import subprocess, sys, threading, time
    def churn():
        kids = []
        while True:
            kids.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.15)"]))
            kids = [k for k in kids if k.poll() is None]
            time.sleep(0.03)
    threading.Thread(target=churn, daemon=True).start()
    time.sleep(1)
    print("ready", flush=True)
    threading.Event().wait()
"""


def test_children_exiting_mid_dump_are_gone_not_unreadable(target):
    proc = target(CHURNING_CHILDREN)
    for _ in range(12):
        snap = capture(proc.pid)
        assert [d.summary for d in snap.diagnoses if d.kind == "unreadable"] == []
        for p in snap.processes:
            assert p.error is None or p.error.code in ("process_gone", "not_python"), (p.pid, p.error)


RETIRED_WORKERS = """
    import os, threading, time
    pids = []
    for _ in range(3):
        pid = os.fork()
        if pid == 0:
            os._exit(0)  # a worker that retired normally
        pids.append(pid)
    for pid in pids:  # never waited for: zombies until reaped
        while open("/proc/%d/stat" % pid).read().rpartition(")")[2].split()[0] != "Z":
            time.sleep(0.01)
    print("ready", flush=True)
    threading.Event().wait()
"""


def test_workers_that_retired_normally_show_as_process_gone(target):
    """Issue 23 item 5: an exited worker (a zombie its parent has not reaped) is "process
    gone" in the tree, as the README says: not "not python", not "unreadable", no warning."""
    proc = target(RETIRED_WORKERS)
    snap = capture(proc.pid)
    retired = [p for p in snap.processes if p.pid != proc.pid]
    assert len(retired) == 3 and all(p.status == "zombie" for p in retired), [(p.pid, p.status) for p in retired]
    assert [p.role for p in retired] == ["process gone"] * 3
    assert not [d for d in snap.diagnoses if d.kind == "unreadable"]
    from pooltui.report import render

    text = render(snap, "md")
    assert "not python" not in text and "unreadable" not in text


CORRUPTED_CHILD = """
import ctypes, os, sys, time
interp_head, threads_head = int(sys.argv[1]), int(sys.argv[2])
r, w = os.pipe()
pid = os.fork()
if pid == 0:  # a fresh worker breaks its own interpreter state (its threads list): py-spy finds no interpreter
    runtime = ctypes.addressof(ctypes.c_char.in_dll(ctypes.pythonapi, "_PyRuntime"))
    interp = ctypes.c_uint64.from_address(runtime + interp_head).value
    ctypes.c_uint64.from_address(interp + threads_head).value = 0xDEAD0000
    os.write(w, b"x")
    while True:
        time.sleep(3600)
os.read(r, 1)
print(pid, flush=True)
time.sleep(3600)
"""


@pytest.mark.parametrize("python", interpreter_params(("3.8", "3.11", "3.13")))
def test_a_corrupted_child_draws_the_unreadable_warning_however_young(python, monkeypatch):
    """Issue 23 item 5: a child younger than 2 s with no readable interpreter is taken as
    "had just started" -- unless its _PyRuntime already names an interpreter: then it is
    broken, and says so. (The age rule is stretched so that the child is young whatever
    the load: what is tested is the fact, not the timing.)"""
    from pooltui.capture import snapshot as capture_snapshot
    from pooltui.capture.memory.stacks import STACK_LAYOUTS

    version = subprocess.run([python, "-c", "import sys; print('%d %d' % sys.version_info[:2])"], capture_output=True, text=True).stdout.split()
    layout = STACK_LAYOUTS[int(version[0]), int(version[1])]
    monkeypatch.setattr(capture_snapshot, "STARTING", 3600.0)
    proc = subprocess.Popen([python, "-c", CORRUPTED_CHILD, str(layout.interp_head), str(layout.threads_head)], stdout=subprocess.PIPE, text=True)
    child = 0
    try:
        assert proc.stdout is not None
        child = int(proc.stdout.readline())
        snap = capture(proc.pid)
        warned = [d for d in snap.diagnoses if d.kind == "unreadable" and child in d.pids]
        assert warned, [(p.pid, p.error) for p in snap.processes]
    finally:
        proc.kill()
        proc.wait()
        if child:
            os.kill(child, 9)


def test_a_thread_id_is_refused_naming_its_process(target):
    proc = target(
        """
        import threading, time
        threading.Thread(target=time.sleep, args=(600,), daemon=True).start()
        print("ready", flush=True)
        time.sleep(600)
        """
    )
    tid = next(int(t) for t in os.listdir(f"/proc/{proc.pid}/task") if int(t) != proc.pid)
    out = run("snapshot", str(tid))
    assert_clean_failure(out, 2, f"{tid} is a thread of process {proc.pid}, not a process: use pid {proc.pid}")


@pytest.mark.skipif(not shutil.which("strace") or os.geteuid() != 0, reason="needs strace and root")
def test_another_tracer_is_named_and_root_is_not_told_to_run_as_root(target):
    proc = target(
        """
        import threading, time
        def spin():
            while True: pass
        threading.Thread(target=spin, daemon=True).start()
        print("ready", flush=True)
        time.sleep(600)
        """
    )
    tracer = subprocess.Popen(["strace", "-o", "/dev/null", "-p", str(proc.pid)], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with open(f"/proc/{proc.pid}/status") as f:
                if f"TracerPid:\t{tracer.pid}" in f.read():
                    break
            time.sleep(0.02)
        else:
            pytest.fail("strace did not attach")
        out = run("snapshot", str(proc.pid))
        assert out.returncode == 3, out.stderr
        assert f"another tracer holds it: TracerPid {tracer.pid} (strace)" in out.stderr
        assert "sudo" not in out.stderr and "run as root" not in out.stderr
    finally:
        tracer.kill()
        tracer.wait()

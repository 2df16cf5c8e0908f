"""Incremental refresh against live processes: a refresh dumps only processes with a thread
that was scheduled since their last dump, never shows a stale stack, and `d` (``pids=``)
dumps just what it is asked to.

Reads are counted in one log: py-spy calls through a wrapper named by $POOLTUI_PYSPY that
logs its arguments and execs the real py-spy, and stacks read directly (capture.direct)
through a wrapper of ``StackMemory.threads`` that logs ``direct --pid PID --nonblocking``.
"""

from __future__ import annotations

import asyncio
import os
import select
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pooltui.capture import dump, procs
from pooltui.capture.memory import stacks
from pooltui.capture.pyspy import find_pyspy
from pooltui.capture.snapshot import capture_tree
from pooltui.model import Snapshot
from pooltui.sources import LiveSource

pytestmark = pytest.mark.live

TARGET = Path(__file__).resolve().parent.parent / "targets" / "alternate_target.py"


class PySpyLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen = 0

    def new_calls(self) -> list[list[str]]:
        """The py-spy command lines run since the last call of this method."""
        lines = self.path.read_text().splitlines() if self.path.exists() else []
        fresh, self.seen = lines[self.seen :], len(lines)
        return [line.split() for line in fresh]


@pytest.fixture
def pyspy_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PySpyLog:
    real = find_pyspy()
    log = tmp_path / "pyspy-calls.log"
    wrapper = tmp_path / "py-spy"
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> {shlex.quote(str(log))}\nexec {shlex.quote(real)} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("POOLTUI_PYSPY", str(wrapper))
    real_threads = stacks.StackMemory.threads

    def logged(self):  # type: ignore[no-untyped-def]
        with open(log, "a") as f:
            f.write(f"direct --pid {self.pid} --nonblocking\n")  # a direct read never pauses the target
        return real_threads(self)

    monkeypatch.setattr(stacks.StackMemory, "threads", logged)
    return PySpyLog(log)


def settled(pids: list[int], timeout: float = 60.0) -> None:
    """Wait until none of ``pids``' threads is scheduled for 0.3 s (their context switch
    counts stand still): a demo says it is ready a moment before its last worker is asleep,
    and on a loaded machine that moment is long. A readiness condition, not a fixed sleep."""

    def switches() -> dict[str, bytes]:
        out = {}
        for pid in pids:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/status", "rb") as f:
                    out[f"{pid}/{tid}"] = b"".join(line for line in f if b"ctxt_switches" in line)
        return out

    deadline, before = time.monotonic() + timeout, switches()
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = switches()
        if now == before:
            return
        before = now
    raise AssertionError(f"the demo's processes never settled in {timeout} s")


def capture(source: LiveSource, **kwargs) -> Snapshot:  # type: ignore[no-untyped-def]
    return asyncio.run(source.capture(**kwargs))


def dumped_pids(calls: list[list[str]]) -> list[int]:
    """Whose stacks were dumped. Dumps with --locals are left out: those are the looks a
    verdict asks for (LiveCollector.look_closer: a stuck thread's telling locals), taken
    once per unchanged stack, not the refresh's own. Each pid once: a direct read tried again
    (a thread woke during it) or checked against py-spy is still one process read."""
    return list(dict.fromkeys(int(call[call.index("--pid") + 1]) for call in calls if "--pid" in call and "--locals" not in call))


@pytest.fixture
def alternating(tmp_path: Path):  # type: ignore[no-untyped-def]
    """(pid, child pid, switch()) of tests/targets/alternate_target.py; switch() moves its
    main thread to the other function and returns that function's name once it is there."""
    control, ack = tmp_path / "control", tmp_path / "ack"
    os.mkfifo(control)
    os.mkfifo(ack)
    proc = subprocess.Popen([sys.executable, str(TARGET), str(control), str(ack)], start_new_session=True)
    ack_fd = os.open(ack, os.O_RDONLY | os.O_NONBLOCK)
    pending = b""

    def next_ack() -> str:
        nonlocal pending
        deadline = time.monotonic() + 20
        while b"\n" not in pending:
            assert time.monotonic() < deadline, "the target did not acknowledge"
            if select.select([ack_fd], [], [], 0.2)[0]:
                pending += os.read(ack_fd, 4096)
        line, _, pending = pending.partition(b"\n")
        return line.decode()

    try:
        first = next_ack()
        control_fd = os.open(control, os.O_RDWR)

        def switch() -> str:
            os.write(control_fd, b"x")
            return next_ack()

        child = int(Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()[0])
        yield proc.pid, child, first, switch
        os.close(control_fd)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        os.close(ack_fd)


def top_function(snapshot: Snapshot, pid: int) -> str:
    proc = snapshot.process(pid)
    assert proc is not None and proc.error is None, proc
    main = proc.thread(pid)
    assert main is not None and main.frames, proc
    return main.frames[0].function


def test_a_thread_that_ran_is_always_dumped_again(alternating, pyspy_log):  # type: ignore[no-untyped-def]
    pid, child, expected, switch = alternating
    source = LiveSource(pid, root=pid)
    snapshot = capture(source)
    assert top_function(snapshot, pid) == expected
    reused_after_change = 0
    for _ in range(8):
        expected = switch()
        pyspy_log.new_calls()
        snapshot = capture(source)
        # the main thread ran (it switched functions): its process is dumped, never reused
        assert not snapshot.process(pid).reused
        assert pid in dumped_pids(pyspy_log.new_calls())
        assert top_function(snapshot, pid) == expected
        for _ in range(3):  # no change: the stack stays right, and soon nothing is dumped at all
            pyspy_log.new_calls()  # this capture's calls only: on a loaded machine the one before may still have
            snapshot = capture(source)  # caught the main thread on its way to sleep, and dumped it (rightly)
            assert top_function(snapshot, pid) == expected
            if snapshot.process(pid).reused:
                reused_after_change += 1
                assert dumped_pids(pyspy_log.new_calls()) == []
                break
        assert snapshot.process(child).reused  # the forked child never runs
    assert reused_after_change == 8


@pytest.mark.parametrize("mode", ["idle", "blocked"])
def test_a_hung_pools_second_refresh_dumps_nothing(start_demo, pyspy_log, mode):  # type: ignore[no-untyped-def]
    demo = start_demo("pool_size", sys.executable, "--workers", "4", "--mode", mode)
    settled([demo.pid, *demo.truth["worker_pids"]])  # asleep, so the first refresh reads without pausing
    source = LiveSource(demo.pid)
    first = capture(source)
    calls = pyspy_log.new_calls()
    assert set(dumped_pids(calls)) >= {demo.pid, *demo.truth["worker_pids"]}
    assert all("--nonblocking" in call for call in calls)  # asleep: read without pausing it
    second = capture(source)
    assert dumped_pids(pyspy_log.new_calls()) == []
    assert all(p.reused for p in second.processes if p.threads)
    assert {(p.pid, p.role) for p in second.processes} == {(p.pid, p.role) for p in first.processes}
    assert second.locks == first.locks and [d.kind for d in second.diagnoses] == [d.kind for d in first.diagnoses]
    if mode == "blocked":
        assert any(lock.waiters for lock in second.locks)


def test_pids_dumps_only_those_and_keeps_the_rest(start_demo, pyspy_log):  # type: ignore[no-untyped-def]
    demo = start_demo("pool_size", sys.executable, "--workers", "3", "--mode", "idle")
    source = LiveSource(demo.pid)
    first = capture(source)
    worker = demo.truth["worker_pids"][1]
    pyspy_log.new_calls()
    again = capture(source, pids=(worker,))
    assert dumped_pids(pyspy_log.new_calls()) == [worker]
    assert not again.process(worker).reused
    assert all(p.reused for p in again.processes if p.pid != worker and p.threads)
    assert again.process(worker).threads[0].frames == first.process(worker).threads[0].frames
    everything = capture(source, pids=tuple(p.pid for p in first.processes))  # the `D` key
    assert sorted(dumped_pids(pyspy_log.new_calls())) == sorted(p.pid for p in first.processes if p.threads)
    assert not any(p.reused for p in everything.processes)


def test_on_walk_comes_after_every_threads_switches_and_before_any_stack_is_read(start_demo, monkeypatch):  # type: ignore[no-untyped-def]
    """A knot's confirmation counts its gap from ``on_walk`` (ends.moved's ``captured``): it
    must come once the walk has read every thread's context switches, and before any
    process is read (a read after it may pause a process; its threads then count as moved)."""
    demo = start_demo("pool_size", sys.executable, "--workers", "2", "--mode", "blocked")
    events: list[str] = []
    real_walk, real_threads, real_dump = procs.walk_tree, stacks.StackMemory.threads, dump.dump

    def walk_tree(pid):  # type: ignore[no-untyped-def]
        found = real_walk(pid)
        events.append("walked")
        return found

    def threads(self):  # type: ignore[no-untyped-def]
        events.append(f"read {self.pid}")  # read directly
        return real_threads(self)

    async def dumped(pid, *args, **kwargs):  # type: ignore[no-untyped-def]
        events.append(f"read {pid}")  # by py-spy (a process that ran since the walk, a binary's check)
        return await real_dump(pid, *args, **kwargs)

    monkeypatch.setattr(procs, "walk_tree", walk_tree)
    monkeypatch.setattr(stacks.StackMemory, "threads", threads)
    monkeypatch.setattr(dump, "dump", dumped)
    snap = asyncio.run(capture_tree(demo.pid, on_walk=lambda: events.append("on_walk")))
    assert events[:2] == ["walked", "on_walk"] and events.count("walked") == events.count("on_walk") == 1, events
    assert {f"read {p.pid}" for p in snap.processes if p.threads} <= set(events[2:]), events

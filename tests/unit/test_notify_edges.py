"""Notify edges (analysis.graph._notify_edges): a Condition/Event/queue wait with no timeout
waits on every other live thread of its process; when each of those waits on it in turn,
nobody can end any of the waits. Built from model objects as a capture records them."""

from __future__ import annotations

from pooltui.analysis import deadlocks
from pooltui.model import Frame, Kind, Process, Snapshot, Thread, Wait, WaitKind

THREADING = "/usr/lib/python3.11/threading.py"


def _waiting(tid: int, *, timed: bool = False, kind: WaitKind = WaitKind.EVENT) -> Thread:
    frames = (
        Frame("Condition.wait", THREADING, 327, code="waiter.acquire()"),
        Frame("Event.wait", THREADING, 629, code="signaled = self._cond.wait(timeout)"),
        Frame("run", "/srv/app/jobs.py", 40 + tid, code="DONE.wait()"),
    )
    wait = Wait(kind, "waits for an Event to be set in `DONE.wait()` in run, jobs.py", 2)
    return Thread(tid=tid, ident=tid, name=f"t{tid}", frames=frames, wait=wait, syscall="futex", timed=timed, futex=0x7F00 + tid)


def _snapshot(*threads: Thread) -> Snapshot:
    proc = Process(pid=100, ppid=1, create_time=0.0, threads=threads, python="3.11.7", caught_signals=0)
    return Snapshot(created=1.0, host="h", root_pid=100, processes=(proc,))


def test_threads_that_each_wait_for_another_to_set_are_a_deadlock_named_in_bounded_words():
    s = _snapshot(*(_waiting(100 + i) for i in range(12)))
    found = deadlocks.diagnose(s)
    assert [d.kind for d in found] == [Kind.DEADLOCK]
    text = " ".join(found[0].evidence)
    assert "only a thread of pid 100 can end it" in text and "and 3 more" in text, text


def test_one_thread_in_a_timed_wait_could_set_it_so_nothing_is_said():
    s = _snapshot(_waiting(100), _waiting(101), _waiting(102, timed=True))
    assert deadlocks.diagnose(s) == []


def test_a_running_thread_could_set_it_so_nothing_is_said():
    frames = (Frame("work", "/srv/app/jobs.py", 9),)
    running = Thread(tid=103, ident=103, name="worker", active=True, frames=frames, wait=Wait(WaitKind.RUNNING, "running"))
    assert deadlocks.diagnose(_snapshot(_waiting(100), _waiting(101), running)) == []

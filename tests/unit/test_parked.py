"""Which processes get a closer look at their locals in a first sample after a process of
the tree died (``plan.parked``): those waiting in their own code, and those whose threads
stand exactly where one of those does -- a sibling of the same retry loop read awake at its
sleep line (workers that lost their Manager together retry in step; on a loaded box two of
three were read running, and manager_gone named one of three)."""

from __future__ import annotations

from pooltui.analysis import plan
from pooltui.model import Frame, Process, ProcessStatus, Snapshot, Thread, Wait, WaitKind

LOOP = (Frame("record_heartbeats", "/srv/app.py", 66, code="time.sleep(RETRY_INTERVAL)"), Frame("worker", "/srv/app.py", 20))


def _worker(pid: int, kind: WaitKind, frames=LOOP) -> Process:  # type: ignore[no-untyped-def]
    return Process(pid=pid, ppid=1, create_time=0.0, threads=(Thread(tid=pid, ident=pid, frames=frames, wait=Wait(kind, "")),))


def _tree(*workers: Process, died: bool = True) -> Snapshot:
    zombie = Process(pid=9, ppid=1, create_time=0.0, status=ProcessStatus.ZOMBIE, exit_code=9 if died else 0)
    root = _worker(1, WaitKind.CONDITION, (Frame("main", "/srv/app.py", 5),))
    return Snapshot(created=0.0, host="h", root_pid=1, processes=(root, zombie, *workers))


def test_a_sibling_read_running_where_a_sleeping_one_stands_is_looked_at_too():
    s = _tree(_worker(2, WaitKind.SLEEP), _worker(3, WaitKind.RUNNING), _worker(4, WaitKind.RUNNING))
    assert plan.parked(None, s) == [2, 3, 4]


def test_a_running_process_elsewhere_is_not_looked_at():
    busy = (Frame("crunch", "/srv/app.py", 90),)
    s = _tree(_worker(2, WaitKind.SLEEP), _worker(3, WaitKind.RUNNING, busy))
    assert plan.parked(None, s) == [2]


def test_nothing_is_looked_at_in_a_first_sample_when_nothing_died():
    s = _tree(_worker(2, WaitKind.SLEEP), _worker(3, WaitKind.RUNNING), died=False)
    assert plan.parked(None, s) == []

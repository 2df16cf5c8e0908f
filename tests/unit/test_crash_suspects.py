"""A pool that may be crash-looping but showed too few deaths in one short capture
(analysis.faults.crash_suspects): its next exits are waited for a moment (Plan.deaths)."""

from __future__ import annotations

from pooltui.analysis import faults, plan
from pooltui.model import Exit, Frame, Process, Snapshot, Thread, Wait, WaitKind

NOW = 1000.0


def _pool(*workers: Process, exits=(), age=60.0) -> Snapshot:
    waiting = Thread(
        tid=10,
        ident=1,
        name="MainThread",
        role="main thread",
        frames=(
            Frame("wait", "/usr/lib/python3.11/threading.py", 320),
            Frame("get", "/usr/lib/python3.11/multiprocessing/pool.py", 768),
            Frame("main", "/app/x.py", 5),
        ),
        wait=Wait(WaitKind.CONDITION, "waits for pool results"),
        timed=False,
    )
    handler = Thread(tid=11, ident=2, role="worker handler", wait=Wait(WaitKind.IDLE, "idle: watches the workers"))
    parent = Process(pid=10, ppid=1, create_time=NOW - age, role="pool parent", threads=(waiting, handler))
    return Snapshot(created=NOW, host="h", root_pid=10, processes=(parent, *workers), exits=tuple(exits))


def _worker(pid: int, *, age: float, idle: bool) -> Process:
    wait = Wait(WaitKind.IDLE, "idle: waits for a task") if idle else Wait(WaitKind.UNKNOWN, "running in init")
    return Process(
        pid=pid,
        ppid=10,
        create_time=NOW - age,
        role="pool worker",
        threads=(Thread(tid=pid, ident=pid, wait=wait, frames=(Frame("worker", "/p/pool.py", 1),)),),
    )


def test_one_failed_exit_or_none_while_no_worker_is_past_its_start_is_worth_waiting_for():
    died = Exit(pid=20, status=1 << 8, at=NOW, ppid=10)
    assert faults.crash_suspects(_pool(exits=(died,))) == (10,)  # one death, no worker alive
    assert faults.crash_suspects(_pool()) == (10,)  # none alive at all: between two respawns
    starting = Process(pid=21, ppid=10, create_time=NOW - 0.1, role="pool worker")  # not readable yet: not past its start
    assert faults.crash_suspects(_pool(starting)) == (10,)
    assert plan.confirmations(_pool(exits=(died,)), None, facts=False, look=False).deaths == (10,)


def test_a_pool_with_a_worker_past_its_start_is_no_suspect():
    assert faults.crash_suspects(_pool(_worker(21, age=0.1, idle=True))) == ()  # it waits for tasks: it started fine
    assert faults.crash_suspects(_pool(_worker(21, age=30.0, idle=False))) == ()  # an old worker in its task
    two = (Exit(pid=20, status=1 << 8, at=NOW, ppid=10), Exit(pid=22, status=1 << 8, at=NOW, ppid=10))
    assert faults.crash_suspects(_pool(exits=two)) == ()  # enough deaths: crash_loop says it without waiting
    killed = Exit(pid=20, status=9, at=NOW, ppid=10)
    assert faults.crash_suspects(_pool(exits=(killed,))) == ()  # killed by a signal: a lost task's story, not a loop

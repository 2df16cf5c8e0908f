"""The rule incremental refresh rests on (capture.procs.ran_since): a thread asleep at two
reads with the same context-switch count was not scheduled in between."""

from __future__ import annotations

from pooltui.capture.procs import any_running, ran_since

ASLEEP = {10: ("S", 7), 11: ("S", 3), 12: ("D", 0)}


def test_asleep_with_the_same_switch_counts_did_not_run():
    assert not ran_since(ASLEEP, dict(ASLEEP))
    assert not any_running(ASLEEP)


def test_a_switch_a_running_state_or_another_set_of_threads_counts_as_ran():
    assert ran_since(ASLEEP, {**ASLEEP, 11: ("S", 4)})  # woke, ran, slept again
    assert ran_since(ASLEEP, {**ASLEEP, 10: ("R", 7)})  # running now, not switched out yet
    assert ran_since({**ASLEEP, 10: ("R", 7)}, ASLEEP)  # was running at the first read
    assert ran_since(ASLEEP, {10: ("S", 7), 11: ("S", 3)})  # a thread exited
    assert ran_since(ASLEEP, {**ASLEEP, 13: ("S", 1)})  # a thread started
    assert any_running({**ASLEEP, 12: ("R", 0)})


def test_nothing_read_is_never_taken_as_asleep():
    assert ran_since({}, {})
    assert any_running({})


def _task(root, tid: int, state: str) -> None:
    task = root / "40" / "task" / str(tid)
    task.mkdir(parents=True)
    (task / "syscall").write_text("202 0x7f0000001000 0x80 0x0 0x0 0x0 0x0 0x7ffd00000000 0x7f0000002000\n")
    (task / "status").write_text(f"Name:\tpython\nState:\t{state}\nTgid:\t40\nvoluntary_ctxt_switches:\t5\nnonvoluntary_ctxt_switches:\t2\n")


def test_a_thread_woken_but_not_yet_on_a_cpu_is_not_confirmed_blocked(tmp_path):
    """A Condition's notify releases the waiter's lock: the waiter is runnable at once, but on a
    busy machine it may wait longer than the confirmation gap for a CPU -- still inside the
    futex call it slept in, with the switch count it had. Only its state (``R``) says it no
    longer waits; two threads handing a turn through one Condition were a false deadlock."""
    from pooltui.capture import ends, state
    from pooltui.model import Process, Snapshot, Thread

    _task(tmp_path, 41, "S (sleeping)")
    _task(tmp_path, 42, "R (running)")
    threads = tuple(Thread(tid=tid, ident=tid, name=f"t{tid}", syscall="futex", timed=False) for tid in (41, 42))
    raw = Snapshot(created=0.0, host="h", root_pid=40, processes=(Process(pid=40, ppid=1, create_time=0.0, threads=threads),))
    with state.active(state.CaptureState(proc_root=str(tmp_path))):
        assert ends.moved(raw, {(40, 41), (40, 42)}) == {(40, 42)}
        confirmed = ends.confirm(raw, {(40, 41), (40, 42)})
    assert [(t.tid, t.ran, t.syscall) for t in confirmed.processes[0].threads] == [(41, False, "futex"), (42, True, None)]

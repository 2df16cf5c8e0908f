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


def test_a_thread_let_go_from_a_ptrace_stop_is_read_once_it_is_back_in_its_call(monkeypatch):
    """py-spy's paused dump stops every thread; let go, each is runnable until it gets a CPU
    to re-enter the call it was stopped in -- on a busy machine for longer than the
    confirmation gap. Read then, a thread deadlocked for good looked woken (a 2.7 deadlock
    went unconfirmed at load 116). Its first read is taken once it ran: back in the same call
    on the same object it still waits (a 2.7 queue feeder's write() into a full pipe, cut
    short by the stop, is re-issued for the rest of its buffer: its other arguments change);
    anywhere else (a woken Condition waiter, on its next wait) it moved."""
    from pooltui.capture import ends
    from pooltui.capture.procfs import Status, Syscall
    from pooltui.model import Process, Snapshot, Thread

    futex = Syscall(41, 202, (0x7F00, 0x80, 0, 0, 0, 0))
    other = Syscall(42, 202, (0x7F80, 0x80, 0, 0, 0, 0))
    cut = Syscall(44, 1, (7, 0x7F00, 0x10000, 0, 0, 0))  # write(7, buf, 64 KiB) into a full pipe
    rest = Syscall(44, 1, (7, 0x17F00, 0xF000, 0, 0, 0))  # the stop cut it short: the rest of buf

    def status(state: str, switches: int) -> Status:
        return Status(f"State:\t{state}\nvoluntary_ctxt_switches:\t{switches}\nnonvoluntary_ctxt_switches:\t0\n".encode())

    script = {  # each read of each thread, in order; the last repeats
        (40, 41): [(futex, status("R (running)", 5)), (futex, status("S (sleeping)", 6))],  # let go: back in its futex
        (40, 42): [(futex, status("R (running)", 5)), (other, status("S (sleeping)", 7))],  # woken: waits elsewhere now
        (40, 43): [(futex, status("S (sleeping)", 3))],  # asleep all along
        (40, 44): [(cut, status("R (running)", 4)), (rest, status("S (sleeping)", 5))],  # write() re-issued, same fd
    }
    reads = {n: list(r) for n, r in script.items()}

    def read(node):
        return reads[node].pop(0) if len(reads[node]) > 1 else reads[node][0]

    monkeypatch.setattr(ends, "_read", read)
    monkeypatch.setattr(ends.procfs, "syscall_or_none", lambda pid, tid: read((pid, tid))[0])
    monkeypatch.setattr(ends.procfs, "status_or_none", lambda pid, tid: read((pid, tid))[1])
    threads = tuple(Thread(tid=tid, ident=tid, name=f"t{tid}", syscall="futex", timed=False) for tid in (41, 42, 43))
    writer = Thread(tid=44, ident=44, name="feeder", syscall="write", fd=7, timed=False)
    raw = Snapshot(created=0.0, host="h", root_pid=40, processes=(Process(pid=40, ppid=1, create_time=0.0, threads=(*threads, writer)),))
    assert ends.moved(raw, {(40, 41), (40, 42), (40, 43), (40, 44)}) == {(40, 42)}

"""A lock inside a file or socket object (a buffered file's, a C FILE's): a thread at a line
that reads or writes one but asleep untimed in a futex waits for the object's own lock, held
by a thread of its process inside a read or write (``analysis.iolocks``). Before, such a
thread read "waits on I/O", and no edge led from it: a child's threads printing to a pipe its
parent never reads (2.7's FILE lock) drew "No problems found"."""

from __future__ import annotations

from pooltui.analysis import deadlocks, graph, iolocks, waits
from pooltui.model import Frame, Process, Snapshot, Thread, replace

READ = Frame("reader", "/srv/app.py", 9, code="line = f.readline()")


def _thread(tid: int, code: str, syscall: str, *, timed=False, fd=None, active=False) -> Thread:  # type: ignore[no-untyped-def]
    """A thread as the capture reads it, its wait classified as the analysis does."""
    t = Thread(tid=tid, ident=tid, frames=(Frame("reader", "/srv/app.py", 9, code=code),), syscall=syscall, timed=timed, fd=fd, active=active)
    return replace(t, wait=waits.classify(t))


def _snapshot(*threads: Thread) -> Snapshot:
    return Snapshot(created=0.0, host="h", root_pid=1, processes=(Process(pid=1, ppid=0, create_time=0.0, threads=threads),))


def test_a_thread_at_a_read_asleep_in_a_futex_waits_on_the_objects_lock_not_on_io():
    w = _thread(2, "line = f.readline()", "futex").wait
    assert w.summary.startswith(iolocks.WAIT_WORDS) and "waits on I/O" not in w.summary


def test_a_thread_in_read_at_the_same_line_waits_on_io():
    assert "waits on I/O" in _thread(2, "line = f.readline()", "read", fd=3).wait.summary


def test_a_line_that_writes_then_sleeps_is_not_a_sleep_while_the_kernel_says_write():
    w = _thread(2, 'sys.stdout.write("x"); time.sleep(0.05)', "write", fd=1).wait
    assert not w.summary.startswith("sleeps"), w.summary


def test_a_python_lock_line_and_a_timed_futex_are_not_taken_for_it():
    assert not iolocks.waits_inside((Frame("f", "/a.py", 1, code="with self.lock: f.write(x)"),), "futex", False)
    assert not iolocks.waits_inside((READ,), "futex", True)  # 3.x's GIL wait is timed


def test_the_waiter_leads_to_the_threads_inside_a_read_or_write_and_the_running_ones():
    waiter = _thread(2, "line = f.readline()", "futex")
    reading = _thread(3, "line = f.readline()", "read", fd=3)
    running = _thread(4, "total += 1", "futex", active=True)
    asleep = _thread(5, "time.sleep(1)", "clock_nanosleep", timed=True)
    [edge] = [e for e in graph.edges(_snapshot(waiter, reading, running, asleep)) if e.via == "io"]
    assert edge.waiter == (1, 2) and set(edge.targets) == {(1, 3), (1, 4)}


def test_no_thread_inside_a_call_no_edge():
    waiter = _thread(2, "line = f.readline()", "futex")
    asleep = _thread(5, "time.sleep(1)", "clock_nanosleep", timed=True)
    assert [e for e in graph.edges(_snapshot(waiter, asleep)) if e.via == "io"] == []


def test_a_cycle_through_a_files_own_lock_gets_the_shared_file_fix():
    """Read from memory (a buffered file's lock, by its key) or inferred (an "io" edge)."""
    from pooltui.analysis.edge import Edge
    from pooltui.model import Certainty

    owned = {"lock 1:7f00": "_io.BufferedReader", "lock 1:7f08": "_thread.lock"}
    assert deadlocks._on_a_files_lock(Edge((1, 2), ((1, 3),), "io", "", Certainty.INFERRED), owned)
    assert deadlocks._on_a_files_lock(Edge((1, 2), ((1, 3),), "lock", "", Certainty.FACT, "lock 1:7f00"), owned)
    assert not deadlocks._on_a_files_lock(Edge((1, 2), ((1, 3),), "lock", "", Certainty.FACT, "lock 1:7f08"), owned)

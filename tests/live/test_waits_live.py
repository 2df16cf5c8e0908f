"""Waits whose holders or wakers are not recorded anywhere, on real targets: two plain Locks
taken with acquire() in opposite orders (named by module globals, and passed as arguments
to one function two threads run)."""

from __future__ import annotations

import pytest

from tests.conftest import capture, interpreter_params
from tests.expectations import check_acquire_abba

pytestmark = pytest.mark.live
VERSIONS = ("2.7", "3.8", "3.11", "3.13")


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
@pytest.mark.parametrize("spelling", ["argument", "global"])
def test_acquire_abba_is_a_deadlock(spelling, python, start_demo):
    demo = start_demo("acquire_abba", python, "--spelling", spelling)
    check_acquire_abba(capture(demo.pid), demo.truth, demo.info["python"].rsplit(".", 1)[0])


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
def test_a_small_pools_crash_loop_is_said_from_one_snapshot_and_loses_no_task(python, start_demo):
    """Pool(2) whose initializer raises: one snapshot (no --samples) sees two or three deaths,
    each exit code 1; it is a crash loop, and no task is said lost (none was ever taken)."""
    demo = start_demo("crash_loop", python, "--workers", "2")
    for _ in range(3):
        s = capture(demo.pid)
        kinds = [d.kind.value for d in s.diagnoses]
        assert "crash_loop" in kinds and "lost_task" not in kinds and "pool_hung" not in kinds, [(d.kind.value, d.summary) for d in s.diagnoses]


@pytest.mark.parametrize("python", interpreter_params(("2.7",)))
def test_live_threads_on_a_cpu_are_never_fork_ghosts(python):
    """CPython 2.7: py-spy often reports every thread with OS tid 0; a thread on a CPU has no
    stack pointer to tie its ident to its task. Such a live thread was read as a fork ghost
    (tid 0), and an orphaned-lock verdict then named "thread 0" as the owner."""
    import os
    import subprocess

    from pooltui.capture.threads import match_tasks
    from pooltui.model import replace

    target = subprocess.Popen([python, os.path.join(os.path.dirname(__file__), "..", "targets", "spinning_threads.py")], stdout=subprocess.PIPE)
    try:
        assert target.stdout.readline().strip() == b"ready"
        for _ in range(5):
            s = capture(target.pid)
            [p] = s.processes
            live = {int(t) for t in os.listdir(f"/proc/{p.pid}/task")}
            as_pyspy_27 = [replace(t, tid=0) for t in p.threads]  # what py-spy gives on 2.7 when it cannot see tids
            got = match_tasks(p.pid, as_pyspy_27, live, "2.7")
            assert not [t for t in got if t.ghost], [(t.ident, t.tid, t.ghost) for t in got]
            tids = [t.tid for t in got if t.tid]
            assert len(tids) == len(set(tids)) and set(tids) <= live, tids
    finally:
        target.kill()
        target.wait()


SHAPES = ["event", "queue", "condition", "semaphore", "future"]


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
@pytest.mark.parametrize("shape", SHAPES)
def test_a_forked_child_waiting_on_its_parents_notifier_has_no_waker(shape, python, start_demo):
    """The child's only thread waits, without a timeout, on a threading primitive whose
    notifier thread exists only in the parent (future: an executor whose threads exist only
    in the parent): nobody can end it (an error, naming what)."""
    from pooltui.model import Severity

    if shape == "future" and "/2.7" in python:
        pytest.skip("concurrent.futures needs Python 3")
    demo = start_demo("lonely_wait", python, "--shape", shape)
    s = capture(demo.pid)
    child = demo.truth["child_pid"]
    [d] = [d for d in s.diagnoses if d.kind.value == "no_waker"]
    assert d.severity is Severity.ERROR and d.pids == (child,) and d.summary.startswith("Nobody can end this wait"), d
    what = {
        "event": "of a threading.Event",
        "queue": "of a queue.Queue",
        "condition": "of a threading.Condition",
        "semaphore": "acquire() of a threading.Semaphore",
        "future": "of a concurrent.futures Future",
    }[shape]
    assert what in d.summary and "no other live thread" in d.summary, d.summary


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
@pytest.mark.parametrize("shape", SHAPES)
def test_the_healthy_twin_of_a_lonely_wait_draws_nothing(shape, python, start_demo):
    """The same child with a notifier thread of its own (asleep), polling get(timeout=...), or
    an executor created after fork."""
    from pooltui.model import Severity

    if shape == "future" and "/2.7" in python:
        pytest.skip("concurrent.futures needs Python 3")
    demo = start_demo("lonely_wait", python, "--shape", shape, "--healthy")
    for _ in range(3):
        s = capture(demo.pid)
        assert [(d.kind.value, d.summary) for d in s.diagnoses if d.severity is not Severity.INFO] == []


@pytest.mark.parametrize("python", interpreter_params(("3.8", "3.11", "3.13")))
@pytest.mark.parametrize("healthy", [False, True], ids=["hung", "healthy"])
def test_a_lone_thread_asleep_on_a_private_futex_waits_for_nobody(healthy, python, start_demo):
    """A forked child's only thread asleep on a C lock inside a hashlib object, taken by a
    parent thread when the child was forked: no rule names that lock, but a process-private
    futex with no timeout and no other thread is a wait nobody can end (a fact). The twin
    with its own hash object draws nothing."""
    from pooltui.model import Certainty, Severity

    demo = start_demo("c_lock_fork", python, *(["--healthy"] if healthy else []))
    child = demo.truth["child_pid"]
    s = capture(demo.pid)
    loud = [d for d in s.diagnoses if d.severity is not Severity.INFO]
    if healthy:
        assert [(d.kind.value, d.summary) for d in loud] == []
        return
    [d] = loud
    assert d.kind.value == "no_waker" and d.severity is Severity.ERROR and d.certainty is Certainty.FACT and d.pids == (child,), d
    assert "CHECKSUM.update(" in d.summary and "private to its process" in d.summary, d.summary
    t = s.process(child).thread(child)
    assert t.syscall == "futex" and t.futex_shared is False and t.timed is False, t


@pytest.mark.parametrize("python", interpreter_params(("3.8", "3.11", "3.13")))
@pytest.mark.parametrize("variant", ["hung", "healthy", "signal"])
def test_a_lone_event_loop_awaiting_a_future_nobody_sets_waits_for_nobody(variant, python, start_demo):
    """A forked child's asyncio loop awaits a Future nobody will set: its only thread polls,
    with no timeout, its own self-pipe, whose other end no other process on the box holds --
    nobody can end it (a fact). A server's loop (a listening socket) draws nothing; a loop a
    SIGTERM handler can stop is said as info."""
    from pooltui.model import Certainty, Severity

    args = {"hung": (), "healthy": ("--healthy",), "signal": ("--signal",)}[variant]
    demo = start_demo("lonely_loop", python, *args)
    child = demo.truth["child_pid"]
    s = capture(demo.pid)
    loud = [d for d in s.diagnoses if d.severity is not Severity.INFO]
    if variant != "hung":
        assert [(d.kind.value, d.summary) for d in loud] == []
        said = [d for d in s.diagnoses if d.kind.value == "no_waker"]
        assert (variant == "signal") == bool(said) and all(d.summary.startswith("Only a signal can end this wait") for d in said), said
        return
    [d] = loud
    assert d.kind.value == "no_waker" and d.certainty is Certainty.FACT and d.pids == (child,), d
    assert "asyncio event loop with no timer" in d.summary and "epoll" in d.summary, d.summary


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
@pytest.mark.parametrize("shape", ["pause", "sigwait", "timed"])
def test_a_task_waiting_for_a_signal_says_so(shape, python, start_demo):
    """A task in signal.pause()/sigwait() waits for a signal: said in its wait (the kernel's
    pause()/rt_sigtimedwait()), never "blocked in a C call" or "idle" -- and no verdict: anyone
    allowed to may still send it, as a peer outside the tree may still answer."""
    from pooltui.model import Severity, WaitKind

    if shape != "pause" and "/2.7" in python:
        pytest.skip("signal.sigwait/sigtimedwait need Python 3")
    demo = start_demo("signal_wait", python, "--shape", shape)
    s = capture(demo.pid)
    assert [(d.kind.value, d.summary) for d in s.diagnoses if d.severity is not Severity.INFO] == []
    waiter = s.process(demo.truth["waiter_pid"]).thread(demo.truth["waiter_pid"])
    call = "pause" if shape == "pause" else "rt_sigtimedwait"
    if shape == "timed":
        assert waiter.wait.kind is WaitKind.SLEEP and waiter.wait.summary.startswith("waits for a signal, with a timeout"), waiter.wait
    else:
        assert waiter.wait.summary.startswith(f"waits for a signal, no timeout (in {call}()"), waiter.wait
    assert waiter.syscall == call and waiter.timed is (shape == "timed"), waiter

"""Python 2's one import lock, taken in C: who waits for it and who holds it, from frames."""

from __future__ import annotations

from pooltui.analysis import deadlocks, importlock
from pooltui.model import Frame, Lock, LockHolder, Process, Snapshot, Thread, Wait, WaitKind

_RUN = Frame("run", "/usr/lib/python2.7/threading.py", 763, code="self.__target(*self.__args, **self.__kwargs)")


def _snapshot(*, python="2.7", holder_outer=_RUN, locks=()):
    late = Thread(
        tid=12,
        ident=2,
        name="late-import",
        frames=(Frame("late", "app.py", 4, code="import plugin"),),
        wait=Wait(WaitKind.UNKNOWN, "blocked in a C call in `import plugin`"),
        syscall="futex",
        timed=False,
    )
    joining = (
        Frame("wait", "/usr/lib/python2.7/threading.py", 340, code="waiter.acquire()"),
        Frame("join", "/usr/lib/python2.7/threading.py", 951, code="self.__block.wait()"),
        Frame("<module>", "plugin.py", 9, code="t.join()"),
        holder_outer,
    )
    joins = Wait(WaitKind.JOIN, "waits for a thread to finish")
    loader = Thread(tid=11, ident=1, name="loader", frames=joining, wait=joins, syscall="futex", timed=False)
    p = Process(pid=10, ppid=1, create_time=0.0, threads=(loader, late), python=python)
    return Snapshot(created=0.0, host="h", root_pid=10, processes=(p,), locks=locks)


def test_a_thread_at_an_import_line_waits_for_the_thread_running_a_modules_code_under_an_import():
    [e] = importlock.edges(_snapshot())
    assert (e.waiter, e.targets, e.via) == ((10, 12), ((10, 11),), "import"), e
    # the import line itself as the caller of the module's code, too
    assert importlock.edges(_snapshot(holder_outer=Frame("<module>", "main.py", 3, code="import plugin")))


def test_a_cycle_through_the_import_lock_is_a_deadlock_with_the_import_fix():
    # the loader's module code waits on a Lock the importing thread holds (a join edge needs the
    # joined thread's ident read from memory: a lock edge closes the cycle here)
    held = Lock(id="a", kind="lock", name="REGISTRY", pid=10, addr=1, holder=LockHolder(10, tid=12, ident=2), waiters=((10, 11),))
    [d] = deadlocks.diagnose(_snapshot(locks=(held,)))
    assert set(d.tids) == {11, 12} and "the import lock" in d.summary and d.fix.startswith("On Python 2 every import holds one lock"), d


def test_no_import_lock_edge_on_python_3_or_for_a_script_run_by_runpy_or_exec():
    assert importlock.edges(_snapshot(python="3.11")) == []  # per-module locks, read from memory
    runpy = Frame("_run_code", "/usr/lib/python2.7/runpy.py", 72, code="exec code in run_globals")
    assert importlock.edges(_snapshot(holder_outer=runpy)) == []
    execd = Frame("main", "app.py", 20, code="exec(compile(source, path, 'exec'), scope)")
    assert importlock.edges(_snapshot(holder_outer=execd)) == []

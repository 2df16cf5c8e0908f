"""Waits for a lock on a file (``flock()``, ``fcntl(F_SETLKW)``, ``lockf()``): who holds it,
from the kernel's table of file locks (``capture.filelocks``), said in the wait, and an edge
of the graph of waits to the holder's threads. Any thread of the holding process can release
it (unlock, close the file, exit), so the waiter waits on all of them: when every one of them
waits, in turn, on the waiter, nobody can (a deadlock through a file, ``deadlocks.diagnose``).
A holder outside the tree, or one the kernel does not record (an OFD lock), is said in words."""

from __future__ import annotations

from pooltui.analysis.edge import Edge, label, labels, live
from pooltui.analysis.hangs import where
from pooltui.model import Certainty, FileLockWait, Process, Snapshot, Thread, WaitKind
from pooltui.model.record import replace


def waiting_words(syscall: str) -> str:
    """What ``analysis.waits`` says of a thread in ``syscall`` before who holds the lock is known."""
    return f"waits for a lock on a file ({syscall}())"


def what(lock: FileLockWait) -> str:
    """The lock asked for, in words: "an exclusive flock() lock on /tmp/app.lock"."""
    how = {"flock": "flock()", "posix": "record (fcntl/lockf)", "ofd": "open-file (F_OFD_SETLKW)"}.get(lock.kind, lock.kind)
    mode = "an exclusive" if lock.exclusive else "a shared"
    span = ""
    if lock.kind != "flock" and (lock.start or lock.end is not None):
        span = f" (bytes {lock.start}-{'EOF' if lock.end is None else lock.end})"
    return f"{mode} {how} lock on {lock.path or 'a file'}{span}"


def holder_text(snapshot: Snapshot, lock: FileLockWait, waiter: int = 0) -> str:
    """Who the kernel says holds it: "pid 12 (pool worker #1)", "pid 99 (nginx), outside this
    tree", "an open file description (OFD lock: the kernel records no process)"."""
    if not lock.holders:
        return "nobody any more (released as it was read)"
    out = []
    for pid in lock.holders:
        if pid < 0:
            out.append("an open file description (an OFD lock: the kernel records no process for it)")
            continue
        p = snapshot.process(pid)
        if pid == waiter:
            out.append(f"its own process (pid {pid}), through another open file of it" if lock.kind == "flock" else f"its own process (pid {pid})")
        elif p is None:
            out.append(f"pid {pid}, outside this tree")
        else:
            out.append(f"pid {pid} ({p.role_label})" + _doing(p))
    return "; ".join(out)


def _doing(p: Process) -> str:
    """What the holder's main thread does, in a few words: a holder asleep for an hour is the
    first thing to see."""
    main = p.thread(p.pid) or next((t for t in p.threads if not t.ghost), None)
    if main is None or main.wait is None:
        return ""
    summary = main.wait.summary.split(" in `")[0].split(" in ")[0]
    return f", whose '{main.label}' {summary[:80]}"


def said(snapshot: Snapshot) -> Snapshot:
    """Every thread waiting for a file lock, with the lock and its holders in its wait."""
    processes = []
    for p in snapshot.processes:
        threads = tuple(_said(snapshot, p, t) for t in p.threads)
        processes.append(p if all(a is b for a, b in zip(threads, p.threads)) else replace(p, threads=threads))
    return snapshot.with_(processes=tuple(processes))


def _said(snapshot: Snapshot, p: Process, t: Thread) -> Thread:
    if t.file_lock is None or t.wait is None or t.wait.kind is not WaitKind.FILE_LOCK or t.wait.holder is not None:
        return t
    holder = holder_text(snapshot, t.file_lock, p.pid)
    said = waiting_words(t.syscall or "")
    at = t.wait.summary[len(said) :] if t.wait.summary.startswith(said) else ""  # " in `...` in f, file:line"
    summary = f"waits for {what(t.file_lock)}, held by {holder}{at}"
    return replace(t, wait=t.wait.reworded(summary=summary, holder=holder))


def edges(snapshot: Snapshot) -> list[Edge]:
    """A waiter of a file lock waits on every live thread of each process of the tree that
    holds it (a fact of the kernel's table)."""
    out = []
    for p in snapshot.processes:
        for t in p.threads:
            lock = t.file_lock
            if lock is None or not live(t) or t.wait is None or t.wait.kind is not WaitKind.FILE_LOCK:
                continue
            me = (p.pid, t.tid)
            if not lock.holders or any(pid < 0 or snapshot.process(pid) is None for pid in lock.holders):
                continue  # released, or a holder outside the tree (or not recorded) can release it: no cycle through it
            holders = [q for pid in lock.holders if (q := snapshot.process(pid)) is not None]
            targets = tuple((q.pid, x.tid) for q in holders for x in q.threads if not x.ghost and (q.pid, x.tid) != me)
            if not targets and [q.pid for q in holders] == [p.pid]:
                targets = (me,)  # its own process holds it through another open file, and it has no other thread
            if not targets:
                continue
            names = labels(snapshot, targets)
            text = f"{label(snapshot, me)} waits for {what(lock)} at {where(t)}, held by {_pids(lock)} (the kernel's lock table): "
            if targets == (me,):
                text += "its own process, through another open file of it (a flock() lock belongs to the open file), and it has no other thread"
            else:
                text += f"only its threads can release it ({names})"
            out.append(Edge(me, targets, "file", text, Certainty.FACT))
    return out


def _pids(lock: FileLockWait) -> str:
    return ", ".join(f"pid {pid}" for pid in lock.holders)

"""A plain ``threading.Lock`` that no thread left in its process can release.

CPython records no owner for a plain Lock, so the usual rules (an owner that is no thread
of the process, a holder in a cycle) never fire on one. But a ``threading`` lock lives in
one process's memory (a process-private futex): only a thread of that process can release
it. When every live thread of the process waits on it with no timeout, nobody is left to
release it and the waits never end. Two ways to get there:

- **inherited locked across fork()**: a thread of the parent held it (a ``QueueHandler``'s
  ``queue.Queue.mutex`` mid-``put()``, a cache lock) when another thread forked; the child
  has only the forking thread, which then takes the lock. The child's memory still holds
  the parent thread's frame inside ``with`` of it (``Lock.with_frames`` naming a function
  no live thread runs), and the child's main thread has the ident of the parent's forking
  thread (glibc keeps the forking thread's descriptor);
- **a self-deadlock**: the one thread took it already (a plain Lock is not re-entrant),
  or a thread that has ended left it locked.

And in any process, a **self-deadlock seen in memory**: the only live ``with`` of the lock
beyond the waiters' own (``Lock.with_exits``) is in an outer frame of a waiter (a function in
``Lock.with_frames`` that no other thread runs): the thread holds the lock and is entering it
again (``with LOCK:`` calling a helper that takes ``with LOCK:``).

A waiter with a timeout, a process that is stopped or not read, or any other live thread
(it may release it: a plain Lock can be released by any thread) and the rule says nothing.
"""

from __future__ import annotations

from typing import Optional

from pooltui.analysis.locks import entering_at, entering_waiters, lock_key
from pooltui.analysis.lockverdicts import FORK_FIX
from pooltui.analysis.wakers import no_hidden_threads
from pooltui.model import Certainty, Diagnosis, Kind, Lock, LockKind, Process, ProcessStatus, Snapshot, Thread

SELF_FIX = (
    "A plain threading.Lock is not re-entrant: use threading.RLock where a thread may take it again, take it only "
    "in a `with` block (or release it in `finally`), and acquire with a timeout where a hang must not happen."
)


def _live(proc: Process) -> list[Thread]:
    return [t for t in proc.threads if not t.ghost]


def _nobody_left(lock: Lock, proc: Optional[Process]) -> bool:
    """Every live thread of the lock's process waits on this lock, none with a timeout."""
    if proc is None or proc.error is not None or proc.status in (ProcessStatus.STOPPED, ProcessStatus.TRACING_STOP, ProcessStatus.ZOMBIE):
        return False
    if lock.kind != LockKind.LOCK or lock.holder is not None or lock.locked is False:
        return False
    waiting = {tid for pid, tid in lock.waiters if pid == proc.pid}
    live = _live(proc)
    if not live or not no_hidden_threads(proc):
        return False
    return all(t.tid in waiting and t.timed is not True and t.wait is not None and t.wait.lock_id == lock.id for t in live)


def _fork_facts(lock: Lock, proc: Process, snapshot: Snapshot) -> list[str]:
    """What shows ``proc`` was forked with the lock taken by a thread that did not come along."""
    facts = []
    running = {(f.file, f.function.rpartition(".")[2]) for t in _live(proc) for f in t.frames}
    stale = [f"{function}() ({file})" for file, function in lock.with_frames if (file, function) not in running]
    if stale:
        facts.append(f"a `with` block of it is open in a frame of {', '.join(stale[:3])} no live thread runs (copied from the parent)")
    if any(t.ghost for t in proc.threads):
        facts.append("CPython kept the parent's other thread states in it (fork ghosts): it was forked")
    parent = snapshot.process(proc.ppid) if proc.ppid != proc.pid else None
    main = proc.thread(proc.pid)
    forker = next((t for t in parent.threads if main is not None and main.ident and t.ident == main.ident), None) if parent is not None else None
    if forker is not None and parent is not None:
        facts.append(f"pid {proc.pid} was forked from pid {parent.pid} without exec (its main thread has the ident of {forker.label!r} there)")
    return facts


def _one_beyond_the_waiters(lock: Lock, proc: Process) -> bool:
    """Memory leaves exactly one live `with` of the lock beyond the waiters entering one --
    said only when every waiter's line is known (``entering_waiters``): a waiter whose
    source was not read could be entering one (a relative script path on <= 3.8 once made a
    thread waiting at `with L:` for L taken by another thread's acquire() a self-deadlock)."""
    entering = entering_waiters(lock, proc)
    return entering is not None and lock.with_exits is not None and lock.with_exits - entering == 1


def _self_holder(lock: Lock, proc: Optional[Process]) -> Optional[tuple[Thread, int]]:
    """(waiter, index of its frame inside `with` of the lock) when memory leaves exactly one
    live `with` beyond the waiters entering one, and only that waiter runs its function."""
    if proc is None or lock.kind != LockKind.LOCK or lock.holder is not None or not lock.with_frames or lock.with_exits is None:
        return None
    waiting = {tid for pid, tid in lock.waiters if pid == proc.pid}
    waiters = [t for t in proc.threads if t.tid in waiting and not t.ghost]
    if not waiters or not _one_beyond_the_waiters(lock, proc):
        return None
    keys = {(file, function) for file, function in lock.with_frames}
    inside = []
    for t in _live(proc):
        at = entering_at(t) if t.tid in waiting else None  # every waiter's line is known here
        start = at + 1 if at is not None else 0
        at = next((i for i in range(start, len(t.frames)) if (t.frames[i].file, t.frames[i].function.rpartition(".")[2]) in keys), None)
        if at is not None:
            inside.append((t, at))
    if len(inside) != 1 or inside[0][0].tid not in waiting or inside[0][0].timed is True:
        return None
    return inside[0]


def suspended_holder(lock: Lock, proc: Optional[Process]) -> list[tuple[str, str]]:
    """(file, function) of the frames inside `with` of a plain Lock that no live thread runs,
    when memory leaves exactly one live `with` beyond the waiters entering one: the lock is
    held by a frame off every thread's stack -- a suspended coroutine or generator."""
    if proc is None or lock.kind != LockKind.LOCK or lock.holder is not None or not lock.with_frames or lock.with_exits is None:
        return []
    waiting = {tid for pid, tid in lock.waiters if pid == proc.pid}
    waiters = [t for t in proc.threads if t.tid in waiting and not t.ghost]
    if not waiters or not _one_beyond_the_waiters(lock, proc):
        return []
    running = {(f.file, f.function.rpartition(".")[2]) for t in _live(proc) for f in t.frames}
    return [key for key in lock.with_frames if key not in running]


def self_deadlocks(snapshot: Snapshot) -> list[Diagnosis]:
    """A thread waiting on a plain Lock it holds itself (inside `with` of it in an outer frame)."""
    out = []
    for lock in snapshot.locks:
        found = _self_holder(lock, snapshot.process(lock.pid))
        if found is None:
            continue
        t, at = found
        frame = t.frames[at]
        code = f", at `{(frame.code or '').strip()}`" if frame.code else ""
        proc = snapshot.process(lock.pid)
        behind = [b.label for pid, tid in lock.waiters if tid != t.tid and proc is not None for b in (proc.thread(tid),) if b is not None]
        out.append(
            Diagnosis(
                kind=Kind.DEADLOCK,
                certainty=Certainty.FRAME,
                subject=lock_key(lock),
                summary=(
                    f"Deadlock: {t.label!r} (pid {lock.pid}) waits on {lock.name} (a plain threading.Lock), which it holds itself: its "
                    f"frame {frame.function} ({frame.where}{code}) is inside a `with` of it, and a plain Lock is not re-entrant."
                ),
                pids=(lock.pid,),
                tids=(t.tid,),
                evidence=(
                    f"{lock.type_name or 'lock'} at 0x{lock.addr:x}: {lock.with_exits} live `with` exit(s) of it; "
                    f"beyond the waiters' own, one is held by the frame of {frame.function} ({frame.where}) on the stack of {t.label!r} itself",
                    *([f"also blocked behind it: {', '.join(map(repr, behind))}"] if behind else []),
                ),
                fix=SELF_FIX,
            )
        )
    return out


def unreleasable(snapshot: Snapshot) -> list[Diagnosis]:
    """One verdict per lock name (every worker forked from one parent has its own copy)."""
    groups: dict[tuple[str, bool], list[tuple[Lock, list[str]]]] = {}
    for lock in snapshot.locks:
        proc = snapshot.process(lock.pid)
        if proc is None or not _nobody_left(lock, proc) or _self_holder(lock, proc) is not None:
            continue  # (_nobody_left is False without a process)
        facts = _fork_facts(lock, proc, snapshot)
        groups.setdefault((lock.name, bool(facts)), []).append((lock, facts))
    out = []
    for (name, forked), group in groups.items():
        pids = tuple(dict.fromkeys(lock.pid for lock, _ in group))
        waiters = [w for lock, _ in group for w in lock.waiters]
        where = f"pid {pids[0]}" if len(pids) == 1 else f"{len(pids)} processes (pids {', '.join(map(str, pids))})"
        if forked:
            summary = (
                f"{name} (a plain threading.Lock) is taken in {where} and no thread there can release it: every live thread "
                f"waits on it. It was inherited locked across fork() (a thread of the parent held it when the process was "
                f"forked); {len(waiters)} thread(s) wait on it forever."
            )
        else:
            summary = (
                f"{name} (a plain threading.Lock) is taken in {where} and no thread there can release it: every live thread "
                f"waits on it, so the waits never end. The waiting thread took it already (a plain Lock is not re-entrant), "
                f"or a thread that has ended left it locked."
            )
        evidence = [
            f"pid {lock.pid}: {len(lock.waiters)} waiter(s), the only live thread(s); a threading lock can be released only from its own process"
            for lock, _ in group
        ]
        evidence += list(dict.fromkeys(fact for _, facts in group for fact in facts))[:4]
        out.append(
            Diagnosis(
                kind=Kind.ORPHANED_LOCK,
                certainty=Certainty.INFERRED,
                subject=f"lock {name}",
                summary=summary,
                pids=pids,
                tids=tuple(tid for _, tid in waiters),
                evidence=tuple(evidence),
                fix=FORK_FIX if forked else SELF_FIX,
            )
        )
    return out

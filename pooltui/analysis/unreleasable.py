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

A waiter with a timeout, a process that is stopped or not read, or any other live thread
(it may release it: a plain Lock can be released by any thread) and the rule says nothing.
"""

from __future__ import annotations

from typing import Optional

from pooltui.analysis.locks import FORK_FIX
from pooltui.model import Certainty, Diagnosis, Kind, Lock, Process, Snapshot, Thread

SELF_FIX = (
    "A plain threading.Lock is not re-entrant: use threading.RLock where a thread may take it again, take it only "
    "in a `with` block (or release it in `finally`), and acquire with a timeout where a hang must not happen."
)


def _live(proc: Process) -> list[Thread]:
    return [t for t in proc.threads if not t.ghost]


def _nobody_left(lock: Lock, proc: Optional[Process]) -> bool:
    """Every live thread of the lock's process waits on this lock, none with a timeout."""
    if proc is None or proc.error is not None or proc.status in ("stopped", "tracing-stop", "zombie"):
        return False
    if lock.kind != "lock" or lock.holder is not None or lock.locked is False:
        return False
    waiting = {tid for pid, tid in lock.waiters if pid == proc.pid}
    live = _live(proc)
    return bool(live) and all(t.tid in waiting and t.timed is not True and t.wait is not None and t.wait.lock_id == lock.id for t in live)


def _fork_facts(lock: Lock, proc: Process, snapshot: Snapshot) -> list[str]:
    """What shows ``proc`` was forked with the lock taken by a thread that did not come along."""
    facts = []
    running = {(f.file, f.function.rpartition(".")[2]) for t in _live(proc) for f in t.frames}
    stale = [f"{function}() ({file})" for file, function in lock.with_frames if (file, function) not in running]
    if stale:
        facts.append(
            f"a `with` block of it is open in a frame of {', '.join(stale[:3])} no live thread of pid {proc.pid} runs (copied from the parent)"
        )
    if any(t.ghost for t in proc.threads):
        facts.append("CPython kept the parent's other thread states in it (fork ghosts): it was forked")
    parent = snapshot.process(proc.ppid) if proc.ppid != proc.pid else None
    main = proc.thread(proc.pid)
    forker = next((t for t in parent.threads if main is not None and main.ident and t.ident == main.ident), None) if parent is not None else None
    if forker is not None and parent is not None:
        facts.append(f"pid {proc.pid} was forked from pid {parent.pid} without exec (its main thread has the ident of {forker.label!r} there)")
    return facts


def unreleasable(snapshot: Snapshot) -> list[Diagnosis]:
    """One verdict per lock name (every worker forked from one parent has its own copy)."""
    groups: dict[tuple[str, bool], list[tuple[Lock, list[str]]]] = {}
    for lock in snapshot.locks:
        proc = snapshot.process(lock.pid)
        if not _nobody_left(lock, proc):
            continue
        facts = _fork_facts(lock, proc, snapshot)  # type: ignore[arg-type]
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

"""The lock verdicts, over the holders ``analysis.locks`` resolved: a lock inherited locked
across ``fork()`` (orphaned), a multiprocessing lock whose holder died, contention on a
lock whose holder is busy. Deadlocks are the wait-for graph's (``analysis.graph``), over
every kind of wait: its cycle finder is the only one.
"""

from __future__ import annotations

from typing import Optional

from pooltui.analysis.locks import (
    OWNED_LABEL,
    dead_semaphores,
    holder_label,
    kind_label,
    lock_key,
    thread_by_ident,
)
from pooltui.model import Certainty, Diagnosis, Kind, Lock, LockHolder, Process, Snapshot, Thread, Wait, WaitKind

_NO_WAIT = Wait(WaitKind.UNKNOWN, "")
# what to do about a lock inherited locked across fork(), by the lock's type_name (else FORK_FIX)
_BUFFER_FORK_FIX = (
    "Do not fork while other threads write to a shared file or stream: a child inherits its buffer lock as the writer "
    "held it. Fork from a process without writer threads (the 'forkserver' or 'spawn' start method), or send the "
    "writes that can block (a pipe to a stalled reader) through one thread over a queue."
)
OWNED_FORK_FIX = {
    **dict.fromkeys(("_io.BufferedWriter", "_io.BufferedReader", "_io.BufferedRandom"), _BUFFER_FORK_FIX),
    "_ModuleLock": "Import what the workers need before forking (at module level, in the main thread), never lazily in a "
    "background thread while the pool starts; or use the 'spawn' or 'forkserver' start method.",
}
FORK_FIX = (
    "Use the 'spawn' or 'forkserver' start method; or re-create the lock in the child "
    "(os.register_at_fork(after_in_child=...)); and do not log or hold locks in other threads while forking."
)


def _by_node(snapshot: Snapshot) -> dict[tuple[int, int], tuple[Process, Thread]]:
    return {(p.pid, t.tid): (p, t) for p in snapshot.processes for t in p.threads}


def fork_evidence(lock: Lock, snapshot: Snapshot) -> tuple[Optional[Certainty], str]:
    """What supports "``lock`` was inherited locked across fork()" when its owner ident is
    no live thread of its process: (certainty, the fact in words), or (None, "") when
    nothing does (then the owner ended holding it, or the owner field is not what it seems).

    * fact: a thread of the parent process has the owner's ident (it held the lock when
      it forked this child), or CPython 2.7 kept the owner's thread state in the child
      (a fork ghost: only fork() copies one);
    * inferred: the process's main thread has the ident of a thread of its parent: it was
      forked without exec (glibc keeps the forking thread's descriptor), so a lock locked
      at that moment came over locked, though its owner has since ended in the parent.
    """
    proc = snapshot.process(lock.pid)
    if proc is None or not lock.owner_ident:
        return None, ""
    parent = snapshot.process(proc.ppid) if proc.ppid != proc.pid else None
    in_parent = thread_by_ident(parent, lock.owner_ident)
    if parent is not None and in_parent is not None:
        return Certainty.FACT, f"thread {in_parent.label!r} of the parent pid {parent.pid} has the owner's ident"
    ghost = thread_by_ident(proc, lock.owner_ident)
    if ghost is not None and ghost.ghost:
        return Certainty.FACT, "CPython kept the owner's thread state from the parent (a fork ghost)"
    main = proc.thread(proc.pid)
    forker = thread_by_ident(parent, main.ident) if main is not None and main.ident else None
    if parent is not None and forker is not None:
        return Certainty.INFERRED, (
            f"pid {proc.pid} was forked from pid {parent.pid} without exec (its main thread has the ident of {forker.label!r} there)"
        )
    return None, ""


def _owned_name(lock: Lock) -> str:
    """A lock inside an io object named with what it is: "AUDIT (a BufferedWriter's lock on fd 7)"."""
    if lock.type_name in OWNED_LABEL and lock.type_name != "_ModuleLock":  # "the import of module x" says it
        return f"{lock.name} ({kind_label(lock)})"
    return lock.name


def orphans(snapshot: Snapshot) -> list[Diagnosis]:
    """One verdict per lock name: every forked worker has its own orphaned copy of it.
    "Inherited across fork()" is said only with a fact behind it (``fork_evidence``);
    an owner that is no thread of a process not seen to fork is a guess (a warning)."""
    groups: dict[str, list[Lock]] = {}
    first_holder: dict[str, LockHolder] = {}
    for lock in snapshot.locks:
        if lock.orphaned and lock.holder is not None:
            groups.setdefault(lock.name, []).append(lock)
            first_holder.setdefault(lock.name, lock.holder)
    out = []
    for name, group in groups.items():
        first, holder = group[0], first_holder[name]
        waiters = [w for lock in group for w in lock.waiters]
        pids = tuple(dict.fromkeys(lock.pid for lock in group))
        where = f"pid {pids[0]}" if len(pids) == 1 else f"{len(pids)} processes (pids {', '.join(map(str, pids))})"
        held = f"thread ident 0x{holder.ident or 0:x}"
        facts = sorted((fork_evidence(lock, snapshot) for lock in group), key=lambda e: e[0].rank if e[0] else 9)
        certainty, fact = facts[0]
        evidence = tuple(
            (f"pid {lock.pid}: " if len(group) > 1 else "")
            + f"{lock.type_name} at 0x{lock.addr:x}: owner 0x{lock.owner_ident or 0:x}, count {lock.count}"
            for lock in group
        )
        if certainty is not None:
            origin = f" — {holder.thread_name} held it when the process was forked" if holder.thread_name else ""
            summary = (
                f"{_owned_name(first)} in {where} is held by {held}, a thread that does not exist in this process: "
                f"the lock was inherited locked across fork(){origin}. {len(waiters)} thread(s) wait on it forever."
            )
            fix = OWNED_FORK_FIX.get(first.type_name, FORK_FIX)
        else:
            summary = (
                f"{name} in {where} is held by {held}, which is no thread of this process, and nothing shows the process "
                f"was forked: its owner may have ended without releasing it, or the owner was misread. "
                f"{len(waiters)} thread(s) wait on it."
            )
            fix = (
                "Dump again: a misread owner changes, a real one does not. A thread that can end while holding a lock "
                "should take it in a `with` block (or release it in `finally`)."
            )
        out.append(
            Diagnosis(
                kind=Kind.ORPHANED_LOCK,
                certainty=certainty or Certainty.GUESS,
                subject=f"lock {name}",
                summary=summary,
                pids=tuple(dict.fromkeys(w[0] for w in waiters)),
                tids=tuple(w[1] for w in waiters),
                evidence=(*evidence, fact) if fact else evidence,
                fix=fix,
            )
        )
    return out


def dead_holders(snapshot: Snapshot) -> list[Diagnosis]:
    out = []
    for lock in dead_semaphores(snapshot):
        if lock.confirmed is False:
            continue  # read again, it had a holder or its waiters were woken: it changed hands
        certain = lock.confirmed is True
        out.append(
            Diagnosis(
                kind=Kind.DEAD_HOLDER,
                certainty=Certainty.FACT if certain else Certainty.GUESS,
                subject=lock_key(lock),
                summary=(
                    f"{lock.name} is taken but no live process holds it: the process that acquired it died "
                    f"(killed?) without releasing it. {len(lock.waiters)} waiter(s) will wait forever."
                    + ("" if certain else " (Read once: it may have been changing hands; a second read decides.)")
                ),
                pids=tuple(dict.fromkeys(w[0] for w in lock.waiters)),
                tids=tuple(w[1] for w in lock.waiters),
                evidence=(
                    f"semaphore {lock.sem}: value {lock.sem_value}; no process has count > 0"
                    + (" in two reads a moment apart, and no waiter was woken in between" if certain else ""),
                ),
                fix="Never kill a worker that may hold a shared lock; acquire with a timeout; restart the pool after a worker died.",
            )
        )
    return out


def contention(snapshot: Snapshot) -> list[Diagnosis]:
    threads = _by_node(snapshot)
    out = []
    for lock in snapshot.locks:
        holders = lock.holders or ((lock.holder,) if lock.holder is not None else ())
        waiters = [w for w in lock.waiters if w in threads and (threads[w][1].wait or _NO_WAIT).lock_id == lock.id]
        if lock.manager is not None and any(w[0] != lock.pid for w in waiters):
            waiters = [w for w in waiters if w[0] != lock.pid]  # a Manager's server thread waits for its client: count the client once
        if not holders or any(not h.alive or h.tid is None for h in holders) or len(waiters) < 2:
            continue
        if lock.confirmed is False and lock.manager is None:
            continue  # read again a moment later its waiters had moved: the lock changes hands, no convoy
        held = [threads.get((h.pid, h.tid)) if h.tid is not None else None for h in holders]  # None: not read above
        if any(x is None or (x[1].wait and (x[1].wait.lock_id or x[1].wait.kind is WaitKind.IDLE)) for x in held):
            continue  # a blocked holder is a chain or a cycle; an idle one abandoned it: not contention
        doing = [f"{holder_label(h)} which {x[1].wait.summary if x and x[1].wait else '?'}" for h, x in zip(holders, held)]
        what = lock.name if len(holders) == 1 else f"{lock.name} ({kind_label(lock)})"
        # a Manager lock's holder is its connection's last request, read from the Manager at another
        # instant than its clients: a fact only once its waiters, read again a moment later, had not moved
        sure = lock.manager is None or lock.confirmed is True
        # threads taking turns on one file's buffer (or on one module's import) queue up for an
        # instant all the time: read once, that is a guess (info), never a warning
        owned = lock.type_name in OWNED_LABEL
        sure = sure and not owned
        # a holder on a CPU may be one preempted for a moment while the lock changes hands
        # thousands of times a second (a healthy busy pool on a loaded machine): said, not warned
        running = any(x is not None and x[1].wait is not None and x[1].wait.kind is WaitKind.RUNNING for x in held)
        out.append(
            Diagnosis(
                kind=Kind.LOCK_CONTENTION,
                certainty=Certainty.FACT if sure and not running else Certainty.GUESS,
                subject=lock_key(lock),
                summary=f"{len(waiters)} threads wait on {what}, held by {'; and by '.join(doing)}."
                + (" (Its holder is on a CPU: this may be a lock changing hands fast; dump again to see it stay.)" if running and sure else "")
                + (
                    ""
                    if sure
                    else " (Read once: threads taking turns on it look like this for an instant.)"
                    if owned
                    else " (Read once while the lock changed hands: its waiters had moved on a moment later.)"
                ),
                pids=tuple(dict.fromkeys([*(h.pid for h in holders), *(w[0] for w in waiters)])),
                tids=tuple(w[1] for w in waiters),
                evidence=tuple(f"waiter pid {p} tid {t}" for p, t in waiters),
                fix="Hold the lock for less time (no sleeping or I/O inside it), or shard the work so workers do not share one lock.",
            )
        )
    return out


def diagnose(snapshot: Snapshot) -> list[Diagnosis]:
    """Lock verdicts; deadlocks are the wait-for graph's (``analysis.graph``), over every kind of wait."""
    return [*orphans(snapshot), *dead_holders(snapshot), *contention(snapshot)]

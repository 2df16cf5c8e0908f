"""Who holds each lock, and what follows for the threads waiting: wait lines naming the
holder, the threads whose locks to read, a second read of a lock no live process holds.
The verdicts over these holders (orphaned, dead holder, contention) are ``analysis.lockverdicts``.

Input: a snapshot whose ``locks`` hold raw facts read from memory (``capture.locks``):
per lock object its kind, owner ident / per-process count, the semaphore under it and
the threads waiting on it. Rules (facts in ARCHITECTURE.md, Lock facts):

- RLock (C ``_thread.RLock``, 2.7 ``threading._RLock``): the owner ident names the
  holder thread; an ident that is not a thread of that process means the lock was
  inherited locked across fork() from a thread that only exists in the parent.
- multiprocessing Lock/RLock (``SemLock``): one OS semaphore shared by every process;
  the holder is the process whose own SemLock object has ``count > 0`` (``last_tid``
  names its thread). Taken (value 0) with no such process: the holder died.
- plain ``threading.Lock``: CPython records no owner. We say so, and name the threads
  that *could* hold it (inside code of the same class), never as fact.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from typing import Optional

from pooltui.analysis.frames import innermost_user
from pooltui.model import HOW_WITH, Lock, LockHolder, LockKind, Process, SemLockKind, Snapshot, Thread, WaitKind
from pooltui.model.record import replace

# locks that are no Python lock object but record their owner (capture.ownedlocks), by type_name
OWNED_LABEL = {
    "_ModuleLock": "the import system's lock for that module",
    "_io.BufferedWriter": "a BufferedWriter's lock",
    "_io.BufferedReader": "a BufferedReader's lock",
    "_io.BufferedRandom": "a BufferedRandom's lock",
}
# the wait on a lock of each kind (a threading.Semaphore: its Condition's plain lock)
_WAIT_KIND: dict[str, WaitKind] = {
    LockKind.RLOCK: WaitKind.RLOCK,
    LockKind.LOCK: WaitKind.LOCK,
    LockKind.SEMLOCK: WaitKind.SEMLOCK,
    LockKind.SEMAPHORE: WaitKind.LOCK,
}
KIND_LABEL: dict[str, str] = {
    LockKind.RLOCK: "RLock",
    LockKind.LOCK: "Lock",
    LockKind.SEMLOCK: "multiprocessing lock",
    LockKind.SEMAPHORE: "threading.Semaphore",
}
NO_OWNER = "a plain threading.Lock records no owner (CPython keeps none)"
NO_OWNER_SEMAPHORE = "a threading.Semaphore records no holder (CPython keeps none)"


def holder_label(holder: LockHolder) -> str:
    name = f"'{holder.thread_name}'" if holder.thread_name else (f"thread {holder.tid}" if holder.tid else f"ident 0x{holder.ident or 0:x}")
    return f"{name} (pid {holder.pid})"


def _semlock_holders(lock: Lock, group: list[Lock], snapshot: Snapshot) -> tuple[tuple[LockHolder, ...], str]:
    """Every process whose own copy of the shared semaphore counts an acquisition (its
    ``last_tid`` names the thread), matched across processes by the /dev/shm file."""
    if lock.sem_value is not None and lock.maxvalue is not None and lock.sem_value >= lock.maxvalue:
        return (), "free at the moment of reading"  # a count left by a release in another process lies
    holders = []
    for g in group:
        if (g.count or 0) > 0:
            thread = thread_by_ident(snapshot.process(g.pid), g.owner_ident)
            tid = thread.tid if thread else None
            holders.append(LockHolder(g.pid, tid, g.owner_ident, thread.name if thread else None, evidence=_took(g, tid)))
    if holders:
        return tuple(holders), ""
    if lock.sem_value not in (0, None):
        return (), "free at the moment of reading"
    if lock.sem_value == 0 and not is_mutex(lock):
        # a count, not a mutex: a Semaphore(0) used as a signal was never acquired by anyone
        return (), "value 0, no process of the tree counts an acquisition of it: a release() from any process that maps it wakes it"
    if lock.sem_value == 0 and all(g.count is not None for g in group):
        return (LockHolder(pid=0, alive=False),), "taken, but no live process of the tree holds it"
    return (), "taken; its holder is a process whose copy could not be read"


def _took(lock: Lock, tid: Optional[int]) -> str:
    """Where the recorded owner ``tid`` took ``lock`` ("inside `with cond:` at app.py:9"),
    from its source (``capture.holders.owners_took_at``); "" if not found."""
    return next((h.evidence for h in lock.could_hold if tid is not None and h.tid == tid), "")


def _rlock_holder(lock: Lock, snapshot: Snapshot) -> tuple[Optional[LockHolder], str]:
    if not lock.owner_ident:
        return None, "not owned at the moment of reading" if lock.locked is False else "no owner recorded at the moment of reading"
    proc = snapshot.process(lock.pid)
    thread = thread_by_ident(proc, lock.owner_ident)
    if thread is not None and not thread.ghost:
        return LockHolder(lock.pid, thread.tid, thread.ident, thread.name, evidence=_took(lock, thread.tid)), ""
    # the owner is not a live thread here: copied locked by fork(), or its owner ended
    # holding it, or the owner field was misread (fork_evidence says which facts exist)
    parent = snapshot.process(proc.ppid) if proc is not None else None
    in_parent = thread_by_ident(parent, lock.owner_ident)
    name = None
    if in_parent is not None and parent is not None:
        name = f"'{in_parent.name}' in the parent pid {parent.pid}" if in_parent.name else f"thread {in_parent.tid} in the parent pid {parent.pid}"
    note = "owner thread does not exist in this process"
    if thread is not None:  # CPython 2.7 keeps the parent's thread states: it shows where the owner was at fork()
        i = innermost_user(thread.frames)
        if i is not None:
            note += f"; at fork() it was in {thread.frames[i].function} ({thread.frames[i].where})"
    return LockHolder(lock.pid, None, lock.owner_ident, name, alive=False), note


def thread_by_ident(proc: Optional[Process], ident: Optional[int]) -> Optional[Thread]:
    """The thread with this pthread ident; a live one before a fork ghost with the same ident."""
    if proc is None or not ident:
        return None
    found = [t for t in proc.threads if t.ident == ident]
    found.sort(key=lambda t: t.ghost)
    return found[0] if found else None


def _could_hold(lock: Lock, snapshot: Snapshot) -> list[Thread]:
    """Threads of the lock's process inside a method of the class the lock belongs to."""
    cls = lock.name.split(".")[0] if "." in lock.name else None
    proc = snapshot.process(lock.pid)
    if not cls or proc is None:
        return []
    waiting = {tid for _, tid in lock.waiters}
    out = []
    for t in proc.threads:
        if t.tid in waiting:
            continue
        for f in t.frames:
            if f.function.startswith(cls + ".") or any(loc.name == "self" and loc.repr.startswith(f"<{cls} ") for loc in f.locals or ()):
                out.append(t)
                break
    return out


def _in_frame(frame_file: str, frame_function: str, key: tuple[str, str]) -> bool:
    return frame_file == key[0] and frame_function.rpartition(".")[2] == key[1]


_WITH_LINE = ("with ", "async with ")


def entering_at(t: Thread) -> Optional[int]:
    """Index of a waiter's innermost user frame when its line enters a ``with`` (the waiter
    holds an ``__exit__`` of its own there), -1 when its line is another, None when its line
    is not known (its source not read)."""
    i = innermost_user(t.frames)
    code = (t.frames[i].code or "").lstrip() if i is not None else ""
    if not code:
        return None
    return i if code.startswith(_WITH_LINE) else -1


def entering_waiters(lock: Lock, proc: Process) -> Optional[int]:
    """How many of ``lock``'s waiters in ``proc`` are blocked entering a ``with`` of it (each
    holds an ``__exit__`` of its own: ``Lock.with_exits`` counts it), or None when a waiter's
    line is not known (a relative script path on <= 3.8 before it was read against the
    target's cwd): then nobody can tell the waiters' exits from a holder's."""
    waiting = {tid for pid, tid in lock.waiters if pid == proc.pid}
    found = [entering_at(t) for t in proc.threads if t.tid in waiting and not t.ghost]
    known = [i for i in found if i is not None]
    return None if len(known) < len(found) else sum(i >= 0 for i in known)


def _with_holders(lock: Lock, snapshot: Snapshot) -> tuple[LockHolder, ...]:
    """The threads inside a ``with`` block of a lock that records no owner, when memory says so.

    ``lock.with_exits`` counts the lock's live ``__exit__`` objects: one per thread inside a
    ``with`` of it, plus one per waiter blocked entering one (its line is a ``with``).
    ``lock.with_frames`` are the functions whose frames hold one on their value stack (a
    holder's always does). The threads (not waiting on it) running one of those functions
    must be exactly as many as the exits beyond the waiters' (one for a Lock, up to N for a
    Semaphore(N)): then each holds it. Anything less certain stays "could hold"."""
    proc = snapshot.process(lock.pid)
    if proc is None or not lock.with_frames or lock.with_exits is None:
        return ()
    waiting = {tid for _, tid in lock.waiters}
    entering = entering_waiters(lock, proc)
    if entering is None:
        return ()
    keys = set(lock.with_frames)
    inside = [
        t for t in proc.threads if t.tid not in waiting and not t.ghost and any(_in_frame(f.file, f.function, k) for f in t.frames for k in keys)
    ]
    expected = lock.with_exits - entering
    if len(inside) > expected:
        # threads running the same function with another lock in `with` (a lock passed as an
        # argument): keep those whose own source and locals point at this one (capture.holders)
        inside = [t for t in inside if any(h.tid == t.tid and h.evidence.startswith("inside") for h in lock.could_hold)]
    if not inside or expected != len(inside) or (lock.kind == LockKind.LOCK and len(inside) != 1):
        return ()
    out = []
    for thread in inside:
        frame = next(f for f in thread.frames if any(_in_frame(f.file, f.function, k) for k in keys))
        hint = next((h.evidence for h in lock.could_hold if h.tid == thread.tid and h.evidence.startswith("inside")), "")
        evidence = hint or f"its frame {frame.function} ({frame.where}) is inside a `with` of it; the `with` line was not found in its source"
        out.append(LockHolder(lock.pid, thread.tid, thread.ident, thread.name, how=HOW_WITH, evidence=evidence))
    return tuple(out)


def _no_owner(lock: Lock) -> str:
    return NO_OWNER_SEMAPHORE if lock.kind == LockKind.SEMAPHORE else NO_OWNER


def _could_hold_text(lock: Lock, snapshot: Snapshot) -> str:
    """'; could be held by 'flusher' (past FLUSH_LOCK.acquire() at app.py:32), ...': the
    capture's source evidence first, then threads inside code of the lock's class."""
    named: dict[int, str] = {}
    proc = snapshot.process(lock.pid)
    for h in lock.could_hold:
        thread = proc.thread(h.tid) if proc is not None and h.tid is not None else None
        label = thread.label if thread is not None else (h.thread_name or f"thread {h.tid}")
        named.setdefault(h.tid or 0, f"{label!r} ({h.evidence})" if h.evidence else repr(label))
    for t in _could_hold(lock, snapshot):
        named.setdefault(t.tid, repr(t.label))
    return f"; could be held by {', '.join(named.values())}" if named else ""


def resolve_holders(snapshot: Snapshot) -> Snapshot:
    """Fill holder / orphaned / note on every lock and the wait line of every waiter."""
    groups: dict[str, list[Lock]] = defaultdict(list)
    for lock in snapshot.locks:
        if lock.sem:
            groups[lock.sem].append(lock)
    resolved: list[Lock] = []
    for lock in snapshot.locks:
        if lock.holder is not None or lock.note:
            resolved.append(lock)  # already resolved (a saved report): its siblings' copies are gone
            continue
        if not lock.waiters:
            continue  # a sibling's copy of a multiprocessing lock: evidence only
        holders: tuple[LockHolder, ...] = ()
        if lock.kind == LockKind.SEMLOCK:
            holders, note = _semlock_holders(lock, groups[lock.sem or ""], snapshot)
            holder = holders[0] if holders else None
            waiters = tuple(w for g in groups[lock.sem or ""] for w in g.waiters)
        elif lock.kind == LockKind.RLOCK:
            holder, note = _rlock_holder(lock, snapshot)
            waiters = lock.waiters
        else:
            holders, waiters = _with_holders(lock, snapshot), lock.waiters
            holder = holders[0] if holders else None
            note = "" if holder is not None else _no_owner(lock) + _could_hold_text(lock, snapshot)
        orphaned = holder is not None and not holder.alive and lock.kind == LockKind.RLOCK
        holders = holders or ((holder,) if holder is not None else ())
        resolved.append(replace(lock, holder=holder, holders=holders, note=note, orphaned=orphaned, waiters=tuple(dict.fromkeys(waiters))))
    # one record per shared semaphore: the first waiter's copy speaks for all
    unique: dict[str, Lock] = {}
    for lock in resolved:
        unique.setdefault(lock.sem if lock.kind == LockKind.SEMLOCK and lock.sem else lock.id, lock)
    locks = _told_apart(tuple(unique.values()))
    return _with_wait_lines(snapshot.with_(locks=locks))


def _told_apart(locks: tuple[Lock, ...]) -> tuple[Lock, ...]:
    """Two lock objects of one process found under one name (the same parameter `dst` of a
    function two threads run with the locks swapped) carry their address in their name."""
    addrs: dict[tuple[int, str], set[int]] = defaultdict(set)
    for lock in locks:
        if lock.kind != LockKind.SEMLOCK and lock.manager is None:
            addrs[(lock.pid, lock.name)].add(lock.addr)
    return tuple(replace(lock, name=f"{lock.name} <0x{lock.addr:x}>") if len(addrs.get((lock.pid, lock.name), ())) > 1 else lock for lock in locks)


SEM_VALUE_MAX = 0x7FFFFFFF


def kind_label(lock: Lock) -> str:
    """ "RLock", "multiprocessing lock", "multiprocessing BoundedSemaphore, 0 of 2 free"..."""
    if lock.kind == LockKind.SEMAPHORE:
        value = "?" if lock.sem_value is None else str(lock.sem_value)
        if lock.maxvalue:
            return f"threading.BoundedSemaphore, {value} of {lock.maxvalue} free"
        return f"{lock.type_name or KIND_LABEL[LockKind.SEMAPHORE]}, value {value}"
    if lock.type_name in OWNED_LABEL:
        return OWNED_LABEL[lock.type_name] + (f" on fd {lock.fd}" if lock.fd is not None else "")
    if lock.kind != LockKind.SEMLOCK:
        return KIND_LABEL[lock.kind]
    if lock.semlock_kind == SemLockKind.RECURSIVE_MUTEX:
        return "multiprocessing RLock"
    if lock.maxvalue in (None, 1):
        return KIND_LABEL[LockKind.SEMLOCK]  # Lock and BoundedSemaphore(1) are the same object
    value = "?" if lock.sem_value is None else str(lock.sem_value)
    if lock.maxvalue >= SEM_VALUE_MAX:
        return f"multiprocessing Semaphore, value {value}"
    return f"multiprocessing BoundedSemaphore, {value} of {lock.maxvalue} free"


def holder_text(lock: Lock) -> str:
    """The holder(s) in words, or why not known."""
    if lock.holder is None:
        return lock.note or "owner unknown"
    if lock.kind == LockKind.SEMLOCK and not lock.holder.alive:
        return "no live process (its holder died)"
    if len(lock.holders) > 1:
        return ", ".join(holder_label(h) + (f" ({h.evidence})" if h.evidence else "") for h in lock.holders) + (
            f", {lock.holder.how}" if lock.holder.how == HOW_WITH else ""
        )
    if not lock.holder.alive:
        return f"thread ident 0x{lock.holder.ident or 0:x}, which does not exist in this process" + (
            f" (it was {lock.holder.thread_name})" if lock.holder.thread_name else ""
        )
    if lock.holder.how == HOW_WITH:
        return f"{holder_label(lock.holder)}, {lock.holder.how}" + (f" ({lock.holder.evidence})" if lock.holder.evidence else "")
    return holder_label(lock.holder) + (f", {lock.holder.evidence}" if lock.holder.evidence else "")


def _with_wait_lines(snapshot: Snapshot) -> Snapshot:
    by_waiter = {w: lock for lock in snapshot.locks for w in lock.waiters}
    processes = []
    for p in snapshot.processes:
        threads = []
        for t in p.threads:
            lock = by_waiter.get((p.pid, t.tid))
            if lock is None or t.wait is None or t.wait.kind not in _LOCKISH:
                threads.append(t)
                continue
            kind = _WAIT_KIND[lock.kind]
            index = t.wait.frame_index if t.wait.frame_index is not None else innermost_user(t.frames)
            at = ""
            if index is not None:
                f = t.frames[index]
                at = f" in {f.function}, {f.where}"
            holder = holder_text(lock)
            summary = f"waits on {lock.name} ({kind_label(lock)}) held by {holder}{at}"
            if lock.holder is None:
                summary = f"waits on {lock.name} ({kind_label(lock)}): {holder}{at}"
            wait = t.wait.reworded(kind=kind, summary=summary, lock_id=lock.id, holder=holder)
            threads.append(replace(t, wait=wait))
        processes.append(replace(p, threads=tuple(threads)))
    return snapshot.with_(processes=tuple(processes))


_LOCKISH = frozenset({WaitKind.LOCK, WaitKind.RLOCK, WaitKind.SEMLOCK, WaitKind.UNKNOWN})


def threads_to_read(snapshot: Snapshot) -> dict[int, set[int]]:
    """{pid: {tid}} of threads worth a memory read: asleep in futex() on what looks like
    a lock. Idle workers (asleep on the task queue's lock) and Condition/queue waits are
    left out, so a healthy pool costs no memory reads."""
    wanted: dict[int, set[int]] = {}
    for p in snapshot.processes:
        for t in p.threads:
            if t.futex is not None and not t.ghost and t.wait is not None and t.wait.kind in _LOCKISH:
                wanted.setdefault(p.pid, set()).add(t.tid)
    return wanted


def _frame_text(thread: Thread) -> str:
    i = thread.wait.frame_index if thread.wait and thread.wait.frame_index is not None else innermost_user(thread.frames)
    if i is None:
        return ""
    f = thread.frames[i]
    return f"at {f.function} ({f.where})" + (f" `{f.code}`" if f.code else "")


def lock_key(lock: Lock) -> str:
    """A lock as a subject key: its shared semaphore (one per multiprocessing lock, in every
    process), else the object (pid and address)."""
    return f"lock {lock.sem}" if lock.kind == LockKind.SEMLOCK and lock.sem else f"lock {lock.pid}:0x{lock.addr:x}"


def is_mutex(lock: Lock) -> bool:
    """A multiprocessing Lock/RLock (or BoundedSemaphore(1)): taken means someone holds it.
    A Semaphore(N) or a queue's slot semaphore is a count, and a Condition's or Event's
    semaphores rest at 0 by design: "taken, no holder" says nothing about a death there."""
    return lock.semlock_kind == SemLockKind.RECURSIVE_MUTEX or lock.maxvalue in (None, 1)


def dead_semaphores(snapshot: Snapshot) -> list[Lock]:
    """Mutexes that read as taken by no live process, waited on as locks."""
    waits = {(p.pid, t.tid): t.wait for p in snapshot.processes for t in p.threads}
    out = []
    for lock in snapshot.locks:
        if lock.kind != LockKind.SEMLOCK or lock.holder is None or lock.holder.alive or not is_mutex(lock):
            continue
        kinds = [wait.kind for w in lock.waiters if (wait := waits.get(w)) is not None]
        if kinds and all(k.is_lock for k in kinds):
            out.append(lock)
    return out


def confirm(first: tuple[Lock, ...], again: tuple[Lock, ...], dead: list[Lock], moved: Collection[tuple[int, int]] = ()) -> tuple[Lock, ...]:
    """The lock facts after a second read of the semaphores the first read found taken by
    no live process: the second read wins (a value read while the lock changed hands is
    not a fact). A lock is ``confirmed`` only when it is taken and unaccounted for in both
    reads *and* none of its waiters ran in between (``moved``: the threads the kernel saw
    scheduled or out of their futex between the reads). In a healthy, busy pool the counts of
    64 processes are read one after the other while the lock changes hands thousands of times
    a second: every read can miss the holder, but a release always wakes a waiter."""
    moved = set(moved)
    dead_sems = {lock.sem for lock in dead if lock.sem}
    woken = {lock.sem for lock in dead if any(w in moved for w in lock.waiters)}
    counted = {g.sem for g in again if (g.count or 0) > 0}
    still = {lock.sem for lock in again if lock.sem in dead_sems and lock.sem_value == 0 and lock.sem not in counted | woken}
    out = [lock for lock in first if lock.sem not in dead_sems]
    out += [replace(lock, confirmed=lock.sem in still) for lock in again if lock.sem in dead_sems]
    return tuple(out)

"""Wait-for edges of waits on a semaphore in shared memory that is no lock: a multiprocessing
Event, Condition, Semaphore or a full Queue's free slot, waited on without a timeout. Only a
process that maps its ``/dev/shm`` file can post it (``Thread.shared_by``, read by
``capture.sharers``), so the waiter waits on every thread of those processes that runs user
code; who will post it is not known better than that. When every one of them waits, in
turn, on the waiter, nobody can (``deadlocks.diagnose``): a worker waiting for an Event its
parent sets only after joining it, pool workers waiting on a Condition the parent notifies
only after map() returns."""

from __future__ import annotations

from typing import Optional

from pooltui.analysis.edge import MACHINERY, Edge, Node, at, label, labels, live, user_threads
from pooltui.analysis.locks import is_mutex
from pooltui.model import Certainty, LockKind, Snapshot, Thread, ThreadRole, WaitKind

# and a ProcessPoolExecutor's management thread: it sets a future only once a worker's result arrives
_MACHINERY = (*MACHINERY, ThreadRole.EXECUTOR_MANAGER)
_WHAT = {
    WaitKind.EVENT: "an Event",
    WaitKind.CONDITION: "a Condition",
    WaitKind.QUEUE_PUT: "a free slot of a full queue",
    WaitKind.QUEUE_GET: "a queue",
    WaitKind.SEMLOCK: "a Semaphore",
}


def what(t: Thread) -> str:
    kind = _WHAT.get(t.wait.kind, "a semaphore") if t.wait is not None else "a semaphore"
    return f"{kind} in shared memory"


def _free_semaphore(snapshot: Snapshot, t: Thread) -> bool:
    """``t`` waits on a Semaphore (a count, not a mutex) no process holds an acquisition of:
    nobody holds it, and any process that maps it may release it."""
    if t.wait is None or not t.wait.lock_id or not t.asleep_on_shared or t.ran:
        return False
    lock = next((x for x in snapshot.locks if x.id == t.wait.lock_id), None)
    return lock is not None and lock.kind == LockKind.SEMLOCK and not is_mutex(lock) and not lock.holders and lock.sem_value == 0


def unread(snapshot: Snapshot) -> bool:
    """A thread waits on such a Semaphore, and which processes map it was not read yet (it is
    read with the ends: ``plan.joins`` asks for them)."""
    return any(t.shared_by is None and _free_semaphore(snapshot, t) for p in snapshot.processes for t in p.threads)


def _sharers(snapshot: Snapshot, t: Thread) -> Optional[tuple[int, ...]]:
    """The processes of the tree that map the semaphore ``t`` waits on (``Thread.shared_by``,
    from their memory maps): an Event, a Condition, a queue slot, a Semaphore nobody holds."""
    return t.shared_by if t.shared_wait or _free_semaphore(snapshot, t) else None


def edges(snapshot: Snapshot, followed: set[Node]) -> list[Edge]:
    """The waiter on every thread (running user code) of the processes that map the semaphore."""
    out = []
    for p in snapshot.processes:
        for t in p.threads:
            me = (p.pid, t.tid)
            pids = _sharers(snapshot, t) if me not in followed and live(t) else None
            if not pids:
                continue
            sharers = [q for pid in pids if (q := snapshot.process(pid)) is not None]
            others = user_threads(sharers, besides=me, machinery=_MACHINERY)
            if not others:
                continue  # nobody else maps it: nobody.lone_futex says so when the process has no other thread
            names = labels(snapshot, others)
            text = (
                f"{label(snapshot, me)} waits, without a timeout, on {what(t)} at {at(t)}: only a process that maps it can post it "
                f"(pids {', '.join(str(q.pid) for q in sharers)}), and their threads are {names}"
            )
            out.append(Edge(me, others, "shared", text, Certainty.INFERRED))
    return out

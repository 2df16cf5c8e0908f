"""The wait-for graph over every kind of wait, and the deadlocks in it.

A node is a thread (pid, tid). An edge says "this thread cannot go on until one of those
threads acts", with the evidence and how it is known:

- a lock, semaphore or RLock: to its holder(s) (``analysis.locks``, read from memory);
- a Future's ``result()``/``wait()``: to the executor threads (or worker processes) running
  work items now -- one of them runs it;
- ``Thread.join``: to that thread (its ident, from py-spy --locals), or to the queue feeder
  threads a ``Queue`` finaliser joins at exit;
- ``Process.join`` (blocked in ``wait4(pid)``, a kernel fact): to the child's main thread;
- a pool result (``map``/``get``): to the pool's workers inside a task;
- a ``Condition.wait()`` whose lock another thread holds (its RLock's owner, read from the
  Condition object): to that thread, the only one that can notify it now;
- a ``Condition``/``Event``/``queue.Queue``/Future wait with no timeout (the kernel says so)
  that no rule above follows: to every other live thread of its process, the only ones
  that could notify, set or fill it (``analysis.wakers``); when each of them waits on
  the waiter in turn, nobody can;
- a blocked ``write()``/``read()``/``recv()``/``send()`` on a pipe or a socket: to the threads
  of every other process of the tree holding the other end (a pipe's inode in /proc/PID/fd;
  a socket's peer inode from sock_diag or /proc/net/tcp) that could act on it: those blocked
  on it the same way (both wait to read: each waits for the other), else those not waiting
  for work nor blocked on other fds (``capture.polls`` reads what a select/poll watches).

Several targets mean "any of them" (whoever runs the future). A set of threads each of
which waits only on threads of the same set can never move: a deadlock. That is found
as the largest such set (remove every thread that waits on someone outside it, until
nothing changes); each cycle in it is told once, with every edge's evidence (``analysis.deadlocks``). A
timed wait is never part of one (it ends by itself).
"""

from __future__ import annotations

from typing import Optional

from pooltui.analysis import filelocks, importlock, iolocks, managers, shared, wakers
from pooltui.analysis.edge import Edge, Node, labels
from pooltui.analysis.edge import at as _at
from pooltui.analysis.edge import label as _label
from pooltui.analysis.edge import live as _live
from pooltui.analysis.ends import end_edges
from pooltui.analysis.frames import find, origin
from pooltui.analysis.locks import KIND_LABEL, OWNED_LABEL, _frame_text, kind_label, lock_key
from pooltui.analysis.workedges import future_edges, join_edges, pool_edges
from pooltui.model import FD_CALLS as FD_CALLS
from pooltui.model import (
    POLL_CALLS,
    Certainty,
    Lock,
    LockHolder,
    LockKind,
    ProcessStatus,
    Snapshot,
    Thread,
    ThreadRole,
    WaitKind,
)


def _lock_edges(snapshot: Snapshot) -> list[Edge]:
    threads = {(p.pid, t.tid): t for p in snapshot.processes for t in p.threads}
    out = []
    for lock in snapshot.locks:
        holders = [h for h in (lock.holders or ((lock.holder,) if lock.holder else ())) if h is not None and h.alive and h.tid is not None]
        certainty, held_by = Certainty.FACT, "is held by"
        if not holders:
            holders, certainty, held_by = _could_hold(lock, threads), Certainty.INFERRED, "could only be held by"
        if not holders:
            continue
        targets = tuple((h.pid, h.tid) for h in holders if h.tid is not None)  # all have a tid (both lists keep only those)
        for w in lock.waiters:
            t = threads.get(w)
            if t is None or not _live(t) or t.wait is None or t.wait.lock_id not in (lock.id, None) or w in targets:
                continue
            why = [f" ({h.evidence})" if certainty is Certainty.INFERRED and h.evidence else "" for h in holders]
            held = ", ".join(_label(snapshot, n) + because for n, because in zip(targets, why))
            label = kind_label(lock) if lock.type_name in OWNED_LABEL else KIND_LABEL.get(lock.kind, lock.kind)
            out.append(
                Edge(
                    w,
                    targets,
                    "lock",
                    f"{_label(snapshot, w)} waits to lock {lock.name} ({label}){_addr(lock)} {_frame_text(t)}, which {held_by} {held}",
                    certainty,
                    lock_key(lock),
                )
            )
    return out


def _addr(lock: Lock) -> str:
    """ " <0x7f..>" unless the lock's name already carries its address (``locks._told_apart``)."""
    addr = f" <0x{lock.addr:x}>"
    return "" if lock.name.endswith(addr[1:]) else addr


def _could_hold(lock: Lock, threads: dict[Node, Thread]) -> list[LockHolder]:
    """The live threads a lock that records no owner (a plain Lock taken with ``acquire()``)
    could be held by, from their own source and locals (``capture.holders``: past
    ``NAME.acquire()`` with NAME this object, no release since): one of them holds it."""
    if lock.kind not in (LockKind.LOCK, LockKind.SEMAPHORE):
        return []
    waiting = set(lock.waiters)
    out = []
    for h in lock.could_hold:
        t = threads.get((h.pid, h.tid)) if h.tid is not None else None
        if t is not None and not t.ghost and (h.pid, h.tid) not in waiting:
            out.append(h)
    return out


Followed = tuple[list[Edge], list[Edge]]  # (the join edges, every lock, future, pool and join edge)


def followed(snapshot: Snapshot) -> Followed:
    """The edges the plan's third round looks at, built once for ``objects_to_read`` and
    ``pollers_to_read``."""
    joins = join_edges(snapshot)
    return joins, [*_lock_edges(snapshot), *future_edges(snapshot), *pool_edges(snapshot), *joins]


def objects_to_read(snapshot: Snapshot, edges: Optional[Followed] = None) -> dict[int, set[int]]:
    """{pid: {tid}} of threads in ``Thread.join()`` whose joined thread is not known, or in
    ``Condition.wait()`` without a timeout, in a process where another thread waits on
    something the graph follows (a cycle could go through them): the capture reads which
    thread is joined, and who holds the Condition's lock (``capture.joins``)."""
    joins, found = edges or followed(snapshot)
    busy = {e.waiter[0] for e in found} | {t[0] for e in found for t in e.targets}
    out: dict[int, set[int]] = {}
    for e in joins:
        if e.certainty is Certainty.GUESS and e.waiter[0] in busy:
            out.setdefault(e.waiter[0], set()).add(e.waiter[1])
    for p in snapshot.processes:
        for t in p.threads:
            if p.pid in busy and _awaits_notify(t) and t.notifier is None:
                out.setdefault(p.pid, set()).add(t.tid)
    return out


def pollers_to_read(snapshot: Snapshot, edges: Optional[Followed] = None) -> bool:
    """A thread in select()/poll()/epoll_wait() with no timeout, its set not read, is what
    another thread waits on (a lock's holder, a joined thread, a future's runner): whether
    anyone can end its poll decides whether that wait ever ends (a lock held across a select
    on a pipe only the waiter would write). The capture reads its set and the ends."""
    targets = {n for e in (edges or followed(snapshot))[1] for n in e.targets}
    return any((p.pid, t.tid) in targets and _unread_poll(t) for p in snapshot.processes if p.pipes == () and p.sockets == () for t in p.threads)


def _unread_poll(t: Thread) -> bool:
    untimed = t.syscall in POLL_CALLS and t.timed is False and t.polls is None
    return untimed and not t.ghost and t.wait is not None and t.wait.kind is not WaitKind.IDLE


def _awaits_notify(t: Thread) -> bool:
    """A thread in a plain ``threading.Condition.wait()`` (not an Event, queue or pool result
    built on one: the frame that calls it is not the standard library's), with no timeout."""
    if not _live(t) or t.wait is None or t.wait.kind is not WaitKind.CONDITION:
        return False
    index = find(t.frames, "threading.py", "wait")
    caller = next((f for f in t.frames[index + 1 :] if not f.native), None) if index is not None else None
    return caller is not None and origin(caller) != "stdlib"


def _condition_edges(snapshot: Snapshot) -> list[Edge]:
    """A thread waiting on a Condition whose lock another thread holds waits on that thread:
    only the holder can notify it (``notify()`` needs the lock), and the waiter cannot return
    before it gets the lock back. The holder is the Condition's RLock's recorded owner -- read
    at another instant than the waiter's stack: a waiter seen to run when read again
    (``Thread.ran``) no longer waits where it was read (two threads handing a turn through
    one Condition, each read waiting while the other held the lock, were a deadlock)."""
    out = []
    for p in snapshot.processes:
        for t in p.threads:
            if not t.notifier or t.ran or not _awaits_notify(t):
                continue
            holder = next((x for x in p.threads if x.ident == t.notifier and not x.ghost and x.tid != t.tid), None)
            if holder is None:
                continue
            me, them = (p.pid, t.tid), (p.pid, holder.tid)
            out.append(
                Edge(
                    me,
                    (them,),
                    "condition",
                    f"{_label(snapshot, me)} waits on a Condition at {_at(t)} whose lock is held by {_label(snapshot, them)} "
                    "(its RLock's recorded owner): only that thread can notify it, and the waiter cannot return before it releases the lock",
                    Certainty.FACT,
                )
            )
    return out


_NO_USER_CODE = (ThreadRole.WORKER_HANDLER,)  # a Pool's thread that only replaces workers: it notifies nothing of the user's


def _notify_edges(snapshot: Snapshot, followed: set[Node]) -> list[Edge]:
    """A thread waiting on a process-private primitive (a ``threading.Condition``/``Event``,
    a ``queue.Queue``, a Future: ``wakers.primitive``) with no timeout -- a kernel fact, and
    not seen to run -- that no other edge follows can be ended only by another live thread
    of its own process (a thread of the parent does not exist after fork): it waits on all
    of them. Who could end it is not known better than that, so any one of them that is
    free (running, in a timed wait, waiting for work, or on something the graph does not
    follow) ends it; when every one of them waits, in turn, on the waiter, nobody can. In
    the main thread of CPython 3 a signal handler could end it too: then a guess."""
    out = []
    for p in snapshot.processes:
        if p.status == ProcessStatus.ZOMBIE:
            continue
        for t in p.threads:
            me = (p.pid, t.tid)
            if me in followed or not _live(t) or t.ran or t.timed is not False or t.wait is None:
                continue
            what = wakers.private_wait(t) if t.wait.kind is not WaitKind.JOIN else None
            others = tuple(
                (p.pid, x.tid)
                for x in p.threads
                if x.tid != t.tid and not x.ghost and x.role not in _NO_USER_CODE and not managers.waits_for_shutdown(x)
            )
            if what is None or not others:
                continue  # alone: wakers.lone_waits says nobody can
            handler = t.tid == p.pid and wakers.signal_handlers(p) is not False
            names = labels(snapshot, others)
            text = (
                f"{_label(snapshot, me)} waits, without a timeout, on {what} at {_at(t)}: only a thread of pid {p.pid} can end it, "
                f"and it has {names}" + (" (or a signal handler in its main thread)" if handler else "")
            )
            nested = "Future" in what and find(t.frames, "concurrent/futures/thread.py", "run", "_worker") is not None
            if nested:
                text += "; it runs inside one of its executor's own workers, so the work it waits for may be queued behind it"
            out.append(Edge(me, others, "nested" if nested else "notify", text, Certainty.GUESS if handler else Certainty.INFERRED))
    return out


def edges(snapshot: Snapshot) -> list[Edge]:
    found = [*_lock_edges(snapshot), *future_edges(snapshot), *join_edges(snapshot), *pool_edges(snapshot), *_condition_edges(snapshot)]
    found += filelocks.edges(snapshot) + importlock.edges(snapshot) + iolocks.edges(snapshot)
    found += managers.could_hold_edges(snapshot) + managers.in_flight_edges(snapshot) + managers.accepter_edges(snapshot)
    followed = {e.waiter for e in found}
    # a notify edge is weaker than these ("any thread of its process could"): its waiter is
    # not one the ends take as certain to answer once its wait ends (``ends._writers``: then a guess)
    return found + _notify_edges(snapshot, followed) + shared.edges(snapshot, followed) + end_edges(snapshot, followed)


def deadlocked(graph: list[Edge]) -> dict[Node, Edge]:
    """The threads that wait only on each other: no way out without someone acting. An
    edge's ``soft`` targets may be outside (it is then a guess: ``unless``) when the others,
    at least one, are inside."""
    out: dict[Node, Edge] = {}
    for e in graph:
        out.setdefault(e.waiter, e)
    changed = True
    while changed:
        changed = False
        for node, e in list(out.items()):
            hard = [t for t in e.targets if t not in e.soft] or e.targets
            if any(t not in out for t in hard):
                del out[node]
                changed = True
    return out


def unless(e: Edge, stuck: dict[Node, Edge]) -> tuple[Node, ...]:
    """The soft targets of ``e`` that are not stuck: each could still act on it."""
    return tuple(t for t in e.soft if t not in stuck)


def cycles(stuck: dict[Node, Edge]) -> list[list[Node]]:
    """Each cycle of the deadlocked set once (following the first target inside it)."""
    found: list[list[Node]] = []
    seen: set[Node] = set()
    for start in stuck:
        path: list[Node] = []
        index: dict[Node, int] = {}
        node = start
        while node in stuck and node not in index and node not in seen:
            index[node] = len(path)
            path.append(node)
            node = next(t for t in stuck[node].targets if t in stuck)
        if node in index:
            found.append(path[index[node] :])
        seen.update(path)
    return found

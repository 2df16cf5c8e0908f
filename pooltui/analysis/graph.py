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
- a blocked ``write()``/``read()``/``recv()``/``send()`` on a pipe or a socket: to the threads
  of every other process of the tree holding the other end (a pipe's inode in /proc/PID/fd;
  a socket's peer inode from sock_diag or /proc/net/tcp) that could act on it: those blocked
  on it the same way (both wait to read: each waits for the other), else those not waiting
  for work nor blocked on other fds (``capture.ends`` reads what a select/poll watches).

Several targets mean "any of them" (whoever runs the future). A set of threads each of
which waits only on threads of the same set can never move: a deadlock. That is found
as the largest such set (remove every thread that waits on someone outside it, until
nothing changes); each cycle in it is reported once, with every edge's evidence. A
timed wait is never part of one (it ends by itself).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from pooltui.analysis import hangs, roles
from pooltui.analysis.frames import find
from pooltui.analysis.locks import KIND_LABEL, _frame_text, lock_key
from pooltui.model import Certainty, Diagnosis, Kind, Process, Snapshot, Thread, WaitKind

Node = tuple[int, int]  # (pid, tid)

_THREAD_IDENT = re.compile(r"<\w*Thread\([^,]*, (?:started|stopped)(?: daemon)? (\d+)\)")
_FIX = {
    "lock": "Take the locks in one global order everywhere (or use a single lock), or acquire with a timeout and back off.",
    "future": (
        "Never wait for a future (or join a thread) while holding a lock that the work it waits for needs: release the lock "
        "before result()/join(), or give the work what it needs as an argument."
    ),
    "pool": "A pool task must not need a lock its parent holds while waiting for the results: release it before map()/get().",
    "socket": (
        "Two processes each wait for the other over a connection: never block on a reply from a process that is itself "
        "waiting for you (its pool results, its join); give every recv() a timeout, or answer from a thread that waits on nothing else."
    ),
    "pipe": (
        "Drain a multiprocessing.Queue before joining the process that put into it (the 'joining processes that use "
        "queues' rule in the multiprocessing docs): get() everything, then join(); or use Manager().Queue()."
    ),
}


@dataclass(frozen=True)
class Edge:
    """``waiter`` cannot go on until one of ``targets`` acts."""

    waiter: Node
    targets: tuple[Node, ...]
    via: str  # lock | future | join | pool | pipe | socket
    evidence: str
    certainty: Certainty
    subject: str = ""  # the lock key, when the edge is a lock


def _label(snapshot: Snapshot, node: Node) -> str:
    p = snapshot.process(node[0])
    t = p.thread(node[1]) if p is not None else None
    name = f"'{t.label}'" if t is not None else f"thread {node[1]}"
    return f"{name} (pid {node[0]}{', ' + p.role_label if p is not None and p.role != 'other' else ''})"


def _at(t: Thread) -> str:
    return hangs.where(t)


def _live(t: Thread) -> bool:
    return not t.ghost and t.wait is not None and t.timed is not True


def _lock_edges(snapshot: Snapshot) -> list[Edge]:
    threads = {(p.pid, t.tid): t for p in snapshot.processes for t in p.threads}
    out = []
    for lock in snapshot.locks:
        holders = [h for h in (lock.holders or ((lock.holder,) if lock.holder else ())) if h is not None and h.alive and h.tid is not None]
        if not holders:
            continue
        targets = tuple((h.pid, h.tid) for h in holders)  # type: ignore[misc]
        for w in lock.waiters:
            t = threads.get(w)
            if t is None or not _live(t) or t.wait is None or t.wait.lock_id not in (lock.id, None) or w in targets:
                continue
            held = ", ".join(_label(snapshot, n) for n in targets)
            out.append(
                Edge(
                    w,
                    targets,
                    "lock",
                    f"{_label(snapshot, w)} waits to lock {lock.name} ({KIND_LABEL.get(lock.kind, lock.kind)}) <0x{lock.addr:x}> {_frame_text(t)}, "
                    f"which is held by {held}",
                    Certainty.FACT,
                    lock_key(lock),
                )
            )
    return out


def _running_work(p: Process) -> list[Thread]:
    """Executor threads of ``p`` inside a work item (not idle in their queue get)."""
    return [
        t
        for t in p.threads
        if not t.ghost
        and t.wait is not None
        and t.wait.kind is not WaitKind.IDLE
        and find(t.frames, "concurrent/futures/thread.py", "run") is not None
    ]


def _future_edges(snapshot: Snapshot) -> list[Edge]:
    out = []
    for p in snapshot.processes:
        for t in p.threads:
            if not _live(t) or find(t.frames[:4], "concurrent/futures/_base.py", "result", "wait", "as_completed", "__exit__") is None:
                continue
            if t.role == "executor manager":
                continue
            targets = [(p.pid, r.tid) for r in _running_work(p) if r.tid != t.tid]
            kind = "threads"
            if not targets:  # a ProcessPoolExecutor's future: its workers in a task
                workers = [c for c in snapshot.children(p.pid) if c.role == roles.EXECUTOR_WORKER and hangs.in_task(c)]
                targets = [(c.pid, c.pid) for c in workers]
                kind = "worker processes"
            if targets:
                names = ", ".join(_label(snapshot, n) for n in targets)
                out.append(
                    Edge(
                        (p.pid, t.tid),
                        tuple(targets),
                        "future",
                        f"{_label(snapshot, (p.pid, t.tid))} waits for a future's result at {_at(t)}; the executor {kind} running work now: {names}",
                        Certainty.INFERRED,
                    )
                )
    return out


def _join_edges(snapshot: Snapshot) -> list[Edge]:
    out = []
    for p in snapshot.processes:
        for t in p.threads:
            if not _live(t) or t.wait is None or t.wait.kind is not WaitKind.JOIN:
                continue
            me = (p.pid, t.tid)
            if t.syscall in ("wait4", "waitid") and t.child:
                child = snapshot.process(t.child)
                if child is not None and child.status != "zombie" and child.thread(child.pid) is not None:
                    out.append(
                        Edge(
                            me,
                            ((child.pid, child.pid),),
                            "join",
                            f"{_label(snapshot, me)} waits for pid {child.pid} to exit (wait4, at {_at(t)})",
                            Certainty.FACT,
                        )
                    )
                continue
            ident = _joined_ident(t)
            target = next((x for x in p.threads if ident and x.ident == ident and not x.ghost), None)
            if target is not None and target.tid != t.tid:
                out.append(
                    Edge(
                        me,
                        ((p.pid, target.tid),),
                        "join",
                        f"{_label(snapshot, me)} joins {_label(snapshot, (p.pid, target.tid))} at {_at(t)}"
                        + (" (its Thread object's ident, read from memory)" if t.joins else ""),
                        Certainty.FACT,
                    )
                )
            elif find(t.frames, "threading.py", "join") is not None and find(t.frames, "multiprocessing/queues.py", "_finalize_join") is None:
                # which thread is joined is not in the stacks (py-spy shows a Thread local as <Thread at 0x...>):
                # the threads of this process that are themselves waiting could be it -- a guess
                maybe = tuple(
                    (p.pid, x.tid) for x in p.threads if x.tid != t.tid and not x.ghost and x.wait is not None and x.wait.kind not in _RESTING
                )
                if maybe:
                    names = ", ".join(_label(snapshot, n) for n in maybe)
                    text = f"{_label(snapshot, me)} joins a thread at {_at(t)}; which one is not in the stacks"
                    text += f", and of this process's threads {names} wait too"
                    out.append(Edge(me, maybe, "join", text, Certainty.GUESS))
            elif find(t.frames, "multiprocessing/queues.py", "_finalize_join") is not None:
                feeders = tuple((p.pid, x.tid) for x in p.threads if x.role == "queue feeder" and not x.ghost)
                if feeders:
                    out.append(
                        Edge(
                            me,
                            feeders,
                            "join",
                            f"{_label(snapshot, me)} joins its multiprocessing.Queue feeder thread at exit (Queue._finalize_join): "
                            "it exits only once the feeder has flushed the queue into its pipe",
                            Certainty.INFERRED,
                        )
                    )
    return out


_RESTING = (WaitKind.IDLE, WaitKind.SELECT)


def _joined_ident(t: Thread) -> Optional[int]:
    """The ident of the thread ``t`` joins: read from the Thread object (``capture.joins``),
    or from the ``self`` of its join frame when py-spy shows it with its ident."""
    if t.joins:
        return t.joins
    index = find(t.frames, "threading.py", "join")
    local = t.frames[index].local("self") if index is not None else None
    m = _THREAD_IDENT.search(local.repr) if local is not None else None
    return int(m.group(1)) if m else None


def _pool_edges(snapshot: Snapshot) -> list[Edge]:
    out = []
    for parent in snapshot.processes:
        if parent.role != roles.POOL_PARENT:
            continue
        busy = [w for w in hangs.pool_workers(snapshot, parent) if hangs.in_task(w)]
        if not busy:
            continue
        for t in parent.threads:
            if _live(t) and hangs.awaits_pool(t):
                me = (parent.pid, t.tid)
                targets = tuple((w.pid, w.pid) for w in busy)
                names = ", ".join(_label(snapshot, n) for n in targets)
                out.append(
                    Edge(
                        me,
                        targets,
                        "pool",
                        f"{_label(snapshot, me)} waits for pool results at {_at(t)}; the workers running tasks: {names}",
                        Certainty.INFERRED,
                    )
                )
    return out


FD_CALLS = ("read", "write", "readv", "writev", "recvfrom", "recvmsg", "sendto", "sendmsg")
_WRITE_CALLS = ("write", "writev", "sendto", "sendmsg")
_MACHINERY = ("worker handler", "task handler", "result handler", "queue feeder", "executor manager thread")


def _fd_of(q: Process, inode: int, socket: bool) -> set[int]:
    """The fds through which ``q`` holds ``inode`` (a pipe, or a socket)."""
    return {e.fd for e in (q.sockets if socket else q.pipes) if e.inode == inode}


def _writers(q: Process, fds: set[int], writing: bool, waiting: set[Node]) -> tuple[tuple[Thread, ...], tuple[Thread, ...], bool]:
    """The threads of ``q`` that could act on the other end (its ``fds``) and end the wait:
    (those that can, those that could only once their own unknown wait ends, mutual).

    Threads blocked on it the same way (both wait to read, or both to write) are the answer,
    and mutual: each waits for the other. Otherwise not the threads that wait for work (idle
    loops, the pool's and queues' own threads) or are blocked on other fds (a read, or a
    select/poll/epoll whose set is known and lacks these fds): they are not in this exchange.
    Of the rest, a thread in an untimed wait that the graph cannot follow (an Event nobody is
    known to set) could write only once that ends: the edge is then a guess."""
    same = tuple(t for t in q.threads if not t.ghost and t.fd in fds and t.syscall in FD_CALLS and (t.syscall in _WRITE_CALLS) == writing)
    if same:
        return same, (), True
    can, later = [], []
    for t in q.threads:
        if t.ghost or t.wait is None or t.wait.kind is WaitKind.IDLE or t.role in _MACHINERY:
            continue
        if t.syscall in FD_CALLS and t.fd is not None and t.fd not in fds:
            continue  # blocked reading or writing something else
        if t.polls is not None and not fds & set(t.polls):
            continue  # waits in select/poll on other fds
        free = t.active or t.wait.kind in (WaitKind.RUNNING, WaitKind.SLEEP) or t.timed is True
        (can if free or (q.pid, t.tid) in waiting or (t.polls is not None) else later).append(t)
    return (tuple(can), tuple(later), False) if can else (tuple(later), (), False)


def _end_edges(snapshot: Snapshot, waiting: set[Node]) -> list[Edge]:
    """A thread blocked in read()/write()/recv()/send() on a pipe or a socket waits on whoever
    holds the other end, when that is another process of the tree."""
    pipes: dict[int, list[tuple[Process, bool]]] = {}
    for p in snapshot.processes:
        for e in p.pipes:
            pipes.setdefault(e.inode, []).append((p, e.writes))
    holders: dict[int, list[Process]] = {}
    for p in snapshot.processes:
        for s in p.sockets:
            holders.setdefault(s.inode, []).append(p)
    out = []
    for p in snapshot.processes:
        by_fd = {e.fd: ("pipe", e.inode, e.inode) for e in p.pipes} | {s.fd: ("socket", s.inode, s.peer) for s in p.sockets}
        for t in p.threads:
            if not _live(t) or t.fd not in by_fd or t.syscall not in FD_CALLS or t.wait is None or t.wait.kind is WaitKind.IDLE:
                continue  # waiting for work is not a dependency
            what, inode, far_inode = by_fd[t.fd]  # type: ignore[index]
            writing = t.syscall in _WRITE_CALLS
            if far_inode is None:
                continue
            far = [q for q, w in pipes.get(inode, []) if w != writing] if what == "pipe" else holders.get(far_inode, [])
            far = [q for q in dict.fromkeys(far) if q.pid != p.pid and q.status != "zombie" and q.threads]
            edge = _end_edge(snapshot, (p, t), what, inode, far, far_inode, writing, waiting)
            if edge is not None:
                out.append(edge)
    return out


def _end_edge(
    snapshot: Snapshot, at: tuple[Process, Thread], what: str, inode: int, far: list[Process], far_inode: int, writing: bool, waiting: set[Node]
) -> Optional[Edge]:
    p, t = at
    targets: list[Node] = []
    said, unless = [], []
    for q in far:
        threads, later, mutual = _writers(q, _fd_of(q, far_inode, what == "socket"), writing, waiting)
        targets += [(q.pid, x.tid) for x in threads]
        names = ", ".join(f"'{x.label}'" for x in threads)
        if mutual:
            said.append(f"pid {q.pid} ({q.role_label}), whose {names} waits to {'write' if writing else 'read'} it too")
        elif threads:
            said.append(f"pid {q.pid} ({q.role_label}): {names}")
        unless += [f"'{x.label}' (pid {q.pid}, which {x.wait.summary if x.wait else 'waits'})" for x in later]
    if not targets:
        return None
    me = (p.pid, t.tid)
    action = "write to" if writing else "read from" if what == "pipe" else "read"
    full = " — the pipe is full" if writing and what == "pipe" else ""
    text = (
        f"{_label(snapshot, me)} is blocked in {t.syscall}() waiting to {action} {what}:[{inode}] (fd {t.fd}){full}; "
        f"its other end is held by {'; '.join(said)}, which {'does not read it' if writing else 'has not written to it'}"
    )
    if unless:
        text += "; unless " + ", ".join(unless[:4]) + " answers once its own wait ends"
    return Edge(me, tuple(dict.fromkeys(targets)), what, text, Certainty.GUESS if unless else Certainty.INFERRED)


def unknown_joins(snapshot: Snapshot) -> dict[int, set[int]]:
    """{pid: {tid}} of threads in ``Thread.join()`` whose joined thread is not known, in a
    process where another thread waits on something the graph follows (a cycle could go
    through the join): the capture reads which thread it is (``capture.joins``)."""
    found = [*_lock_edges(snapshot), *_future_edges(snapshot), *_pool_edges(snapshot)]
    busy = {e.waiter[0] for e in found} | {t[0] for e in found for t in e.targets}
    out: dict[int, set[int]] = {}
    for e in _join_edges(snapshot):
        if e.certainty is Certainty.GUESS and e.waiter[0] in busy:
            out.setdefault(e.waiter[0], set()).add(e.waiter[1])
    return out


def edges(snapshot: Snapshot) -> list[Edge]:
    found = [*_lock_edges(snapshot), *_future_edges(snapshot), *_join_edges(snapshot), *_pool_edges(snapshot)]
    return found + _end_edges(snapshot, {e.waiter for e in found})


def deadlocked(graph: list[Edge]) -> dict[Node, Edge]:
    """The threads that wait only on each other: no way out without someone acting."""
    out: dict[Node, Edge] = {}
    for e in graph:
        out.setdefault(e.waiter, e)
    changed = True
    while changed:
        changed = False
        for node, e in list(out.items()):
            if any(t not in out for t in e.targets):
                del out[node]
                changed = True
    return out


def cycles(stuck: dict[Node, Edge]) -> list[list[Node]]:
    """Each cycle of the deadlocked set once (following the first target inside it)."""
    found, seen = [], set()
    for start in stuck:
        path, index, node = [], {}, start
        while node in stuck and node not in index and node not in seen:
            index[node] = len(path)
            path.append(node)
            node = next(t for t in stuck[node].targets if t in stuck)
        if node in index:
            found.append(path[index[node] :])
        seen.update(path)
    return found


def deadlocks(snapshot: Snapshot) -> list[Diagnosis]:
    stuck = deadlocked(edges(snapshot))
    out = []
    for cycle in cycles(stuck):
        chain = [stuck[n] for n in cycle]
        vias = [e.via for e in chain]
        pids = tuple(dict.fromkeys(n[0] for n in cycle))
        where = f"threads in {len(pids)} processes" if len(pids) > 1 else "threads"
        names = " -> ".join(_label(snapshot, n) for n in cycle)
        what = "a lock another one holds" if set(vias) == {"lock"} else "another one (" + ", ".join(dict.fromkeys(_VIA_WORDS[v] for v in vias)) + ")"
        others = [n for n in stuck if n not in cycle and any(t in cycle for t in stuck[n].targets)]
        certainty = max((e.certainty for e in chain), key=lambda c: c.rank)
        fix = next((_FIX[v] for v in ("pipe", "socket") if v in vias), "") or " ".join(
            dict.fromkeys(_FIX[_FIX_OF[v]] for v in vias if v != "lock" or set(vias) == {"lock"})
        )
        lead = "Probably a deadlock" if certainty is Certainty.GUESS else "Deadlock"
        out.append(
            Diagnosis(
                kind=Kind.DEADLOCK,
                certainty=certainty,
                subject="threads " + ",".join(f"{p}/{t}" for p, t in sorted(cycle)),
                summary=f"{lead}: {len(cycle)} {where} each wait for {what}; none can go on ({names} -> back).",
                pids=pids,  # the cycle's; who is blocked behind it is in the evidence
                tids=tuple(n[1] for n in cycle),
                evidence=tuple(e.evidence for e in chain) + tuple(f"also blocked behind it: {_label(snapshot, n)}" for n in others[:8]),
                fix=fix or _FIX["lock"],
            )
        )
    return out


_FIX_OF = {"lock": "lock", "future": "future", "join": "future", "pool": "pool", "pipe": "pipe", "socket": "socket"}
_VIA_WORDS = {"lock": "a lock", "future": "a future", "join": "a join", "pool": "pool results", "pipe": "a pipe", "socket": "a socket"}

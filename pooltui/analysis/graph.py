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
- a blocked ``write()``/``read()`` on a pipe: to the main thread of every other process of
  the tree holding the other end (matched by the pipe's inode in /proc/PID/fd).

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
    via: str  # lock | future | join | pool | pipe
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
                        f"{_label(snapshot, me)} joins {_label(snapshot, (p.pid, target.tid))} at {_at(t)}",
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
    """The ident of the thread ``t`` joins, from the ``self`` of its join frame (--locals)."""
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


def _pipe_edges(snapshot: Snapshot) -> list[Edge]:
    ends: dict[int, list[tuple[Process, bool]]] = {}
    for p in snapshot.processes:
        for e in p.pipes:
            ends.setdefault(e.inode, []).append((p, e.writes))
    out = []
    for p in snapshot.processes:
        fds = {e.fd: e for e in p.pipes}
        for t in p.threads:
            if not _live(t) or t.fd is None or t.fd not in fds or t.syscall not in ("read", "write", "readv", "writev"):
                continue
            if t.wait is not None and t.wait.kind is WaitKind.IDLE:
                continue  # waiting for work is not a dependency
            end = fds[t.fd]
            writing = t.syscall in ("write", "writev")
            others = [
                q for q, w in ends.get(end.inode, []) if w != writing and q.pid != p.pid and q.status != "zombie" and q.thread(q.pid) is not None
            ]
            if not others:
                continue
            me = (p.pid, t.tid)
            targets = tuple(dict.fromkeys((q.pid, q.pid) for q in others))
            what = "write to" if writing else "read from"
            side = "reads" if writing else "writes"
            names = ", ".join(f"pid {q.pid} ({q.role_label})" for q in dict.fromkeys(others))
            out.append(
                Edge(
                    me,
                    targets,
                    "pipe",
                    f"{_label(snapshot, me)} is blocked in {t.syscall}() trying to {what} pipe:[{end.inode}] (fd {t.fd})"
                    + (" — the pipe is full" if writing else "")
                    + f"; the other end, which only {names} {side}, is not being {'read' if writing else 'written'}",
                    Certainty.INFERRED,
                )
            )
    return out


def edges(snapshot: Snapshot) -> list[Edge]:
    return [*_lock_edges(snapshot), *_future_edges(snapshot), *_join_edges(snapshot), *_pool_edges(snapshot), *_pipe_edges(snapshot)]


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
        fix = _FIX["pipe"] if "pipe" in vias else " ".join(dict.fromkeys(_FIX[_FIX_OF[v]] for v in vias if v != "lock" or set(vias) == {"lock"}))
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


_FIX_OF = {"lock": "lock", "future": "future", "join": "future", "pool": "pool", "pipe": "pipe"}
_VIA_WORDS = {"lock": "a lock", "future": "a future", "join": "a join", "pool": "pool results", "pipe": "a pipe"}

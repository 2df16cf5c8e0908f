"""Wait-for edges of waits on other threads' work (``analysis.graph`` joins them with the
rest): a Future's ``result()`` to the executor threads (or worker processes) running work
now, ``Thread.join`` to the joined thread (or a Queue finaliser to its feeders),
``Process.join`` (``wait4(pid)``) to the child, a pool's ``map()``/``get()`` to the workers
inside a task."""

from __future__ import annotations

import re
from typing import Optional

from pooltui.analysis import hangs, roles
from pooltui.analysis.edge import Edge
from pooltui.analysis.edge import at as _at
from pooltui.analysis.edge import label as _label
from pooltui.analysis.edge import live as _live
from pooltui.analysis.frames import find
from pooltui.analysis.waits import coroutine_of, loop_callback
from pooltui.model import Certainty, Process, ProcessStatus, Snapshot, Thread, ThreadRole, WaitKind

_THREAD_IDENT = re.compile(r"<\w*Thread\([^,]*, (?:started|stopped)(?: daemon)? (\d+)\)")


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


def _own_loop_future(p: Process, t: Thread) -> bool:
    """``t`` runs an asyncio loop and waits, inside one of its callbacks, on the future of a
    ``run_coroutine_threadsafe()`` called there (the line says so), and no other thread of
    ``p`` runs a loop: that future's coroutine can only run on this very loop."""
    inside = loop_callback(t.frames)
    if inside is None or not any("run_coroutine_threadsafe(" in (f.code or "") for f in t.frames[:inside] if not f.native):
        return False
    return not any(x.tid != t.tid and not x.ghost and find(x.frames, "asyncio/base_events.py", "run_forever") is not None for x in p.threads)


def future_edges(snapshot: Snapshot) -> list[Edge]:
    out = []
    for p in snapshot.processes:
        for t in p.threads:
            if not _live(t) or find(t.frames[:4], "concurrent/futures/_base.py", "result", "wait", "as_completed", "__exit__") is None:
                continue
            if t.role == ThreadRole.EXECUTOR_MANAGER:
                continue
            if _own_loop_future(p, t):
                me = (p.pid, t.tid)
                said = (
                    f"{_label(snapshot, me)} waits at {_at(t)} for the future of run_coroutine_threadsafe(): only an event loop "
                    f"runs its coroutine, and the one loop of pid {p.pid} is this thread's, stopped inside {coroutine_of(t.frames)}"
                )
                out.append(Edge(me, (me,), "loop", said, Certainty.INFERRED))
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


def waited_children(snapshot: Snapshot, pid: int, t: Thread) -> list[Optional[Process]]:
    """The children of ``pid`` whose exit ends ``t``'s wait4()/waitid(): the one it names, or
    any of them (``Thread.child`` 0: os.wait(), the first to exit ends it); None for one
    not in the snapshot; none when ``t`` waits for no child (``Thread.child`` is set only
    for those two calls)."""
    if t.child is None:
        return []
    return [snapshot.process(t.child)] if t.child else list(snapshot.children(pid))


def join_edges(snapshot: Snapshot) -> list[Edge]:
    out = []
    for p in snapshot.processes:
        for t in p.threads:
            if not _live(t) or t.wait is None or t.wait.kind is not WaitKind.JOIN:
                continue
            me = (p.pid, t.tid)
            if t.child is not None:  # blocked in wait4()/waitid() (``capture.kernel.describe``)
                children = waited_children(snapshot, p.pid, t)
                live = [c for c in children if c is not None and c.status != ProcessStatus.ZOMBIE and c.thread(c.pid) is not None]
                if live and (t.child or len(live) == len(children)):
                    which = f"pid {live[0].pid}" if t.child else "any of its children (pids " + ", ".join(str(c.pid) for c in live) + ")"
                    text = f"{_label(snapshot, me)} waits for {which} to exit ({t.syscall}, at {_at(t)})"
                    out.append(Edge(me, tuple((c.pid, c.pid) for c in live), "join", text, Certainty.FACT))
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
                feeders = tuple((p.pid, x.tid) for x in p.threads if x.role == ThreadRole.QUEUE_FEEDER and not x.ghost)
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


def pool_edges(snapshot: Snapshot) -> list[Edge]:
    out = []
    for parent in snapshot.processes:
        if parent.role != roles.POOL_PARENT:
            continue
        delivers = hangs.result_handler_busy(parent)
        busy = [w for w in hangs.pool_workers(snapshot, parent) if hangs.in_task(w)]
        for t in parent.threads:
            if not _live(t) or not hangs.awaits_pool(t) or t is delivers:
                continue
            me = (parent.pid, t.tid)
            if delivers is not None:  # only it sets a result, and it is stuck in a callback: the workers cannot help
                words = f"only the pool's result handler thread delivers them, and it is in a callback at {_at(delivers)}"
                out.append(
                    Edge(
                        me,
                        ((parent.pid, delivers.tid),),
                        "callback",
                        f"{_label(snapshot, me)} waits for pool results at {_at(t)}; {words}",
                        Certainty.INFERRED,
                    )
                )
            elif busy:
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

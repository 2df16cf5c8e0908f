"""An edge of the wait-for graph (``analysis.graph``) and how its threads are named."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Optional

from pooltui.analysis import hangs
from pooltui.model import Certainty, Process, ProcessRole, Snapshot, Thread, ThreadRole
from pooltui.model.record import Record

Node = tuple[int, int]  # (pid, tid)

# a pool's and a queue's own threads: they run no user code, so they never write the user's
# pipe, post the user's semaphore or call the user's Manager
MACHINERY = (ThreadRole.WORKER_HANDLER, ThreadRole.TASK_HANDLER, ThreadRole.RESULT_HANDLER, ThreadRole.QUEUE_FEEDER)
NAMED = 8  # threads named in an edge's words, at most


class Edge(Record, frozen=True):
    """``waiter`` cannot go on until one of ``targets`` acts."""

    waiter: Node
    targets: tuple[Node, ...]
    via: str  # lock | future | join | pool | callback | pipe | socket | condition | notify | ...
    evidence: str
    certainty: Certainty
    subject: str = ""  # the lock key, when the edge is a lock
    # targets that could act only once their own wait ends and are not seen to be part of
    # this exchange (no frame that reads or writes a pipe or socket): the edge holds without
    # them -- as a guess, "unless" they answer -- where they turn out able to go on
    soft: tuple[Node, ...] = ()


def label(snapshot: Snapshot, node: Node) -> str:
    p = snapshot.process(node[0])
    t = p.thread(node[1]) if p is not None else None
    name = f"'{t.label}'" if t is not None else f"thread {node[1]}"
    return f"{name} (pid {node[0]}{', ' + p.role_label if p is not None and p.role != ProcessRole.OTHER else ''})"


def at(t: Thread) -> str:
    return hangs.where(t)


def live(t: Thread) -> bool:
    return not t.ghost and t.wait is not None and t.timed is not True


def user_threads(processes: Iterable[Process], besides: Optional[Node] = None, machinery: tuple[str, ...] = MACHINERY) -> tuple[Node, ...]:
    """Every thread of ``processes`` that could run user code: no fork ghost, none of the
    ``machinery`` (a pool's and a queue's own threads), not ``besides`` (the waiter itself)."""
    return tuple((q.pid, x.tid) for q in processes for x in q.threads if not x.ghost and (q.pid, x.tid) != besides and x.role not in machinery)


def labels(snapshot: Snapshot, nodes: tuple[Node, ...]) -> str:
    """The first ``NAMED`` of ``nodes`` by ``label``, and how many more (a process may have thousands)."""
    more = f" and {len(nodes) - NAMED} more" if len(nodes) > NAMED else ""
    return ", ".join(label(snapshot, n) for n in nodes[:NAMED]) + more

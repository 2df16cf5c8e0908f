"""Verdicts about a ``multiprocessing.Pool``'s own handler threads, from one snapshot.

A Pool's parent runs three threads: the task handler (hands tasks to the workers), the
result handler (reads the workers' results and completes each ``AsyncResult``) and the
worker handler (replaces workers that exited). The result handler ends only once the pool
is shut down and no result is outstanding, so a parent that waits for results while its
worker handler still runs and no result handler exists lost it: an exception ended it (it
catches only OSError/EOFError -- a result the parent cannot unpickle, such as an exception
class whose ``__init__`` wants other arguments than it passes on, raises TypeError there;
CPython gh-103061 and its kin). Its traceback went to stderr; the results its workers sent
sit unread in the pipe and the wait never ends. Said as that, not as a dead worker.
"""

from __future__ import annotations

from pooltui.analysis import roles
from pooltui.analysis.hangs import handler, pool_workers, result_handler_lost, waiter, where
from pooltui.model import Certainty, Diagnosis, Kind, Snapshot, pids_key

DEAD_HANDLER_FIX = (
    "The result handler's traceback went to the parent's stderr: look there. A pool's results must unpickle in the "
    "parent (an exception class must accept the args it passes to Exception.__init__); concurrent.futures."
    "ProcessPoolExecutor fails the future instead of hanging. Restart the pool: it cannot recover."
)


def dead_handlers(snapshot: Snapshot) -> list[Diagnosis]:
    out = []
    for parent in snapshot.processes:
        if parent.role != roles.POOL_PARENT or parent.stopped:
            continue
        wait = waiter(parent)
        if wait is None or not result_handler_lost(parent, wait):
            continue
        workers = pool_workers(snapshot, parent)
        keeper = handler(parent, "worker handler")
        out.append(
            Diagnosis(
                kind=Kind.POOL_HUNG,
                certainty=Certainty.INFERRED,
                subject=pids_key((parent.pid,)),
                summary=(
                    f"The pool is hung: its result handler thread is gone from pid {parent.pid} while {wait.label} waits for "
                    f"results in {where(wait)}. It ends only when the pool is shut down with nothing outstanding, so it died "
                    "(an exception ended it: a result the parent could not unpickle?): what the workers send is never read "
                    "and the wait can never end. No worker needs to have died."
                ),
                pids=(parent.pid, *(w.pid for w in workers)),
                tids=(wait.tid,),
                evidence=(
                    f"pid {parent.pid}: {wait.label} {where(wait)} ({wait.wait.summary if wait.wait else 'waits'})",
                    f"pid {parent.pid}: the worker handler ({keeper.label if keeper else '?'}) runs, the result handler does not",
                    f"{len(workers)} worker(s) alive",
                ),
                fix=DEAD_HANDLER_FIX,
            )
        )
    return out

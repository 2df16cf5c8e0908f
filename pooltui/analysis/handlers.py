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
from pooltui.analysis.hangs import handler, where
from pooltui.model import Certainty, Diagnosis, Kind, Snapshot, ThreadRole, pids_key

# A worker handler wakes every 0.1 s (3.8+: or when a worker's sentinel says it exited) and
# does microseconds of work: far below 1 % of a CPU even for a Pool(64). One that has spent
# SPIN_SHARE of its process's life on a CPU loops without sleeping (a sentinel that reads as
# ready forever: a worker closed its end of the pipe its parent watches) -- on a loaded box too.
SPIN_SHARE = 0.05
SPIN_MIN_CPU = 1.0  # seconds: a young process's first wake-ups are no spin
# CPU per time it blocked (voluntary context switches): a handler woken often (a healthy pool
# running thousands of short maps wakes it on each one) sleeps between its wake-ups, 0.02-0.25 ms
# of CPU per wake-up (3.11, two busy loops beside it, measured); a spinning one blocks only
# while the pool starts (~1000 times), then never: 0.9 ms per block once it has a second of
# CPU, and more every second. Preemptions are not counted: a busy machine preempts a spinner
# thousands of times a second (0.01-0.2 ms of CPU per switch: it read as sleeping)
SPIN_CPU_PER_SWITCH = 0.0006


def spinning_handlers(snapshot: Snapshot) -> list[Diagnosis]:
    """A pool's worker handler thread that spins: py-spy shows it idle (its wait returns at
    once) and the process sleeping (its main thread does); its CPU time says it never stops."""
    out = []
    for parent in snapshot.processes:
        keeper = handler(parent, ThreadRole.WORKER_HANDLER) if parent.role == roles.POOL_PARENT else None
        age = snapshot.created - parent.create_time
        if keeper is None or keeper.cpu_time is None or age <= 0:
            continue
        if keeper.cpu_time < SPIN_MIN_CPU or keeper.cpu_time < SPIN_SHARE * age:
            continue
        # the times it blocked, not every switch: a busy machine preempts a spinner thousands of
        # times a second (0.01-0.2 ms of CPU per switch under load), but it never blocks
        sleeps = keeper.blocked if keeper.blocked is not None else keeper.switches  # a report saved before it was read
        if sleeps is None or keeper.cpu_time < SPIN_CPU_PER_SWITCH * sleeps:
            continue  # it sleeps between wake-ups: woken often, not spinning
        out.append(
            Diagnosis(
                kind=Kind.BUSY_SPIN,
                certainty=Certainty.FACT,
                subject=pids_key((parent.pid,)),
                summary=(
                    f"The pool's worker handler thread ({keeper.label}, tid {keeper.tid}) of pid {parent.pid} spins: "
                    f"{keeper.cpu_time:.1f} s of CPU in the {age:.0f} s the process has lived, where it should use almost "
                    "none. It loops without sleeping, though py-spy shows it idle and the process sleeping: a worker's "
                    "exit sentinel reads as ready forever (the worker closed the pipe its parent watches)."
                ),
                pids=(parent.pid,),
                tids=(keeper.tid,),
                evidence=(
                    f"tid {keeper.tid}: {keeper.cpu_time:.2f} s of CPU (user+system, /proc) over {sleeps} times it blocked, process age {age:.1f} s",
                    f"tid {keeper.tid}: {keeper.wait.summary if keeper.wait else 'no wait'} at {where(keeper)}",
                ),
                fix="Do not close inherited file descriptors in pool workers (an initializer or task that closes every fd "
                "but its own): the parent watches each worker's end of a pipe to learn it exited. Restart the pool.",
            )
        )
    return out

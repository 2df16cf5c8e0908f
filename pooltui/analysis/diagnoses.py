"""Verdicts over one snapshot: what a person would otherwise need an hour and the
CPython sources for. Each is a ``Diagnosis`` with a sentence, evidence and a fix."""

from __future__ import annotations

from typing import Optional

from pooltui.analysis import aioloops, deadlocks, faults, handlers, hangs, interpreters, lockverdicts, managers, nobody, roles, unreleasable, wakers
from pooltui.model import Certainty, Diagnosis, ErrorCode, Kind, Process, ProcessStatus, Severity, Snapshot, WaitKind, pids_key

SATURATED = 0.5  # of the machine's CPUs the busy workers use together, to call them oversubscribed
SETTLED = 5.0  # seconds of life after which a worker's average CPU use says what it usually does
HARDLY_BLOCKS = 2.0  # voluntary context switches per second of a process that wants a CPU all the time


def voluntary(p: Process) -> Optional[int]:
    """How often ``p``'s threads blocked (voluntary context switches), when each one's is known."""
    counts = [t.blocked for t in p.threads if not t.ghost]
    return sum(c for c in counts if c is not None) if counts and None not in counts else None


def queued(runq: Optional[float], blocked: Optional[int], seconds: float) -> float:
    """The seconds ``runq`` that a process waited runnable for a CPU, counted as wanting one
    when it hardly ever blocked in those ``seconds`` (a spinning worker: other load takes CPU
    time from it, not its wish to run); none for one that sleeps often -- a bursty worker on
    a loaded box waits for a CPU at every wake-up: the box is busy, not the pool."""
    if runq is None or blocked is None or seconds <= 0 or blocked > HARDLY_BLOCKS * seconds:
        return 0.0
    return max(runq, 0.0)


def _mostly_asleep(snapshot: Snapshot, busy: list[Process], cpus: int) -> bool:
    """Workers caught on a CPU that, over their lives, ran (or, hardly ever blocking, waited
    runnable for a CPU: ``queued``) less than ``SATURATED`` of the machine between them: they
    sleep most of the time (one instant cannot tell)."""
    ages = [snapshot.created - p.create_time for p in busy]
    if min(ages, default=0.0) < SETTLED:
        return False  # too young for their average to mean anything
    wanted = ((p.cpu_time or 0.0) + queued(p.runq_time, voluntary(p), age) for p, age in zip(busy, ages))
    return sum(w / age for w, age in zip(wanted, ages)) < SATURATED * cpus


def oversubscribed(snapshot: Snapshot) -> list[Diagnosis]:
    """More pool workers runnable (kernel state R) and on CPU (py-spy) than the machine
    has CPUs; not workers that sleep most of their lives and were caught awake."""
    cpus = snapshot.cpu_count or 0
    busy = [
        p
        for p in snapshot.processes
        if p.role in roles.WORKER_ROLES and p.status == ProcessStatus.RUNNING and any(t.wait and t.wait.kind is WaitKind.RUNNING for t in p.threads)
    ]
    if not cpus or len(busy) <= cpus or _mostly_asleep(snapshot, busy, cpus):
        return []
    return [
        Diagnosis(
            kind=Kind.OVERSUBSCRIBED,
            # one instant: workers caught on a CPU may sleep most of the time (a guess, so info);
            # the samples' CPU counters make it a fact (analysis.timeline)
            certainty=Certainty.GUESS,
            subject=pids_key(p.pid for p in busy),
            summary=(
                f"{len(busy)} workers were running on CPU at this instant but the machine has {cpus} CPUs: if they stay busy they "
                "time-slice and each task takes longer (one sample cannot tell; --samples measures it)."
            ),
            pids=tuple(p.pid for p in busy),
            evidence=tuple(f"pid {p.pid} {p.role_label}: running" for p in busy),
            fix=f"Size the pool to the CPUs it may use (Pool({cpus}) or os.sched_getaffinity); move I/O-bound work to threads.",
        )
    ]


def unreadable(snapshot: Snapshot) -> list[Diagnosis]:
    """Processes that could not be read, so the picture is incomplete."""
    out = []
    for p in snapshot.processes:
        if p.error is not None and p.error.code not in (ErrorCode.NOT_PYTHON, ErrorCode.PROCESS_GONE):
            out.append(
                Diagnosis(
                    kind=Kind.UNREADABLE,
                    certainty=Certainty.FACT,
                    subject=pids_key((p.pid,)),
                    summary=f"pid {p.pid} could not be read: {p.error.message}",
                    pids=(p.pid,),
                    evidence=(p.error.detail,) if p.error.detail else (),
                    fix=p.error.help,
                )
            )
    return out


RULES = (
    deadlocks.diagnose,
    lockverdicts.diagnose,
    unreleasable.unreleasable,
    unreleasable.self_deadlocks,
    managers.diagnose,
    aioloops.diagnose,
    aioloops.held_across_await,
    *hangs.RULES,
    handlers.spinning_handlers,
    faults.stopped,
    lambda s: faults.crash_loops([s]),
    wakers.lone_waits,
    nobody.unanswered_ends,
    nobody.lone_futex,
    nobody.lone_poll,
    wakers.no_result_handler,
    oversubscribed,
    unreadable,
    interpreters.unseen,
)


def diagnose(snapshot: Snapshot) -> tuple[Diagnosis, ...]:
    found = [d for rule in RULES for d in rule(snapshot)]
    cycles = {pid for d in found if d.kind is Kind.DEADLOCK for pid in d.pids}
    # a lock whose holder is in a deadlock is not "contended": the deadlock is the story
    found = [d for d in found if not (d.kind is Kind.LOCK_CONTENTION and d.pids and d.pids[0] in cycles)]
    # workers dying in their initializer never took a task: no task was lost, the crash loop is the story;
    # a pool whose result handler is gone loses no task either: its results are never read
    looping = {d.pids[0] for d in found if d.kind in (Kind.CRASH_LOOP, Kind.NO_WAKER) and d.pids}
    found = [d for d in found if not (d.kind in (Kind.LOST_TASK, Kind.POOL_HUNG) and d.pids and d.pids[0] in looping)]
    # a wait another error already explains (an orphaned lock under a queue.Queue's get()) is that error's story
    told = {tid for d in found if d.kind is not Kind.NO_WAKER and d.severity is Severity.ERROR for tid in d.tids}
    found = [d for d in found if not (d.kind is Kind.NO_WAKER and set(d.tids) & told)]
    found.sort(key=lambda d: -d.severity.rank)
    return tuple(found)


def worst_for(snapshot: Snapshot, pid: int) -> Diagnosis | None:
    for d in snapshot.diagnoses:  # sorted most severe first
        if pid in d.pids:
            return d
    return None

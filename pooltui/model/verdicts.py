"""Verdicts: what a ``Diagnosis`` says (``Kind``), how it is known (``Certainty``) and
the severity rules, written once (``SEVERITY``): a verdict's severity follows from its
kind and certainty, never from the code that found it."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

from pooltui.model.record import Record, force_setattr, replace


class Severity(str, Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return {"info": 0, "warning": 1, "error": 2}[self.value]


class Kind(str, Enum):
    """What a verdict says. Its severity follows from the kind (``SEVERITY``), never from
    the code that found it."""

    DEADLOCK = "deadlock_cycle"  # a cycle of waits: locks, futures, joins, pool results, pipes
    ORPHANED_LOCK = "orphaned_lock"  # inherited locked across fork() from a thread the child lacks
    DEAD_HOLDER = "dead_holder"  # a multiprocessing lock taken by a process that died
    LOST_TASK = "lost_task"  # a worker died mid-task; the pool never resends it
    POOL_HUNG = "pool_hung"  # the parent waits for results no worker will produce
    CRASH_LOOP = "crash_loop"  # workers die at start and are respawned forever
    MANAGER_GONE = "manager_gone"  # the Manager server is gone and clients still use it
    STOPPED_HOLDS_POOL = "stopped_holds_pool"  # a stopped/traced process others wait on
    LOCK_CONTENTION = "lock_contention"
    OVERSUBSCRIBED = "oversubscribed"
    STUCK_THREAD = "stuck_thread"
    UNREADABLE = "unreadable"
    MANAGER_EXITED = "manager_exited"  # the Manager server exited; no client is seen waiting on it
    PROCESS_STOPPED = "process_stopped"  # stopped (SIGSTOP) or held by a debugger; nothing waits on it
    BUSY_SPIN = "busy_spin"
    ABANDONED_LOCK = "abandoned_lock"  # a Manager lock no connected client can release (its holder's task ended / it left)
    BLOCKED_EVENT_LOOP = "blocked_event_loop"  # an asyncio loop's thread blocked in a synchronous lock
    OTHER_INTERPRETERS = "other_interpreters"  # sub-interpreters: only one interpreter's threads could be shown
    NO_WAKER = "no_waker"  # a thread waits, without a timeout, for something no live thread can do

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


class Certainty(str, Enum):
    """How a verdict is known: read from memory or the kernel; from the frame (a ``with``
    block's line); inferred from the shape of the stacks; or a guess."""

    FACT = "fact"
    FRAME = "from the frame"
    INFERRED = "inferred"
    GUESS = "guess"

    @property
    def rank(self) -> int:
        return ("fact", "from the frame", "inferred", "guess").index(self.value)


# The severity rules, written once. error: the pool cannot finish without someone acting;
# warning: likely a problem; info: a fact worth knowing. A guess is one step lower.
SEVERITY = {
    **dict.fromkeys(
        (
            Kind.DEADLOCK,
            Kind.ORPHANED_LOCK,
            Kind.DEAD_HOLDER,
            Kind.LOST_TASK,
            Kind.POOL_HUNG,
            Kind.CRASH_LOOP,
            Kind.MANAGER_GONE,
            Kind.STOPPED_HOLDS_POOL,
            Kind.ABANDONED_LOCK,
            Kind.NO_WAKER,
        ),
        Severity.ERROR,
    ),
    **dict.fromkeys(
        (
            Kind.LOCK_CONTENTION,
            Kind.OVERSUBSCRIBED,
            Kind.STUCK_THREAD,
            Kind.UNREADABLE,
            Kind.MANAGER_EXITED,
            Kind.PROCESS_STOPPED,
            Kind.BLOCKED_EVENT_LOOP,
        ),
        Severity.WARNING,
    ),
    Kind.BUSY_SPIN: Severity.INFO,
    Kind.OTHER_INTERPRETERS: Severity.INFO,
}


def severity_of(kind: Kind, certainty: Certainty) -> Severity:
    base = SEVERITY[kind]
    if certainty is Certainty.GUESS and base is not Severity.INFO:
        return Severity.WARNING if base is Severity.ERROR else Severity.INFO
    return base


def pids_key(pids: Iterable[int]) -> str:
    """A subject key naming processes: "pids 12,13" (sorted, so one set is one key)."""
    return "pids " + ",".join(str(p) for p in sorted(set(pids)))


class Diagnosis(Record, frozen=True):
    """A verdict. ``severity`` follows from ``kind`` and ``certainty`` (``severity_of``)
    when not given; a loaded report keeps the severity it was saved with. ``subject``:
    what it is about, as a key ("lock shm:0:42", "pids 12,13"); ``over_time``: told from
    a series of samples (a death seen happen), not from one."""

    kind: Kind
    severity: Severity = None  # type: ignore[assignment]  # filled by __post_init__
    summary: str = ""
    pids: tuple[int, ...] = ()
    tids: tuple[int, ...] = ()
    evidence: tuple[str, ...] = ()
    fix: str = ""
    certainty: Certainty = Certainty.INFERRED
    subject: str = ""
    over_time: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.kind, Kind):  # a caller's plain "lost_task": compared by identity (`is Kind.X`)
            force_setattr(self, "kind", Kind(self.kind))
        if self.severity is None:
            force_setattr(self, "severity", severity_of(self.kind, self.certainty))

    def as_kind(self, kind: Kind) -> Diagnosis:
        """The same verdict told as another kind, with that kind's severity."""
        return replace(self, kind=kind, severity=severity_of(kind, self.certainty))

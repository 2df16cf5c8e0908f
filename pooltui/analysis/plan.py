"""What the analysis needs read next, as data: a ``Plan`` the capture fulfils exactly.

One refresh (``pooltui.pipeline``) asks three rounds of facts before the diagnosis rules
run, each planned from what the one before read, then at most one round of confirmations
that a verdict asks for:

* ``reads(prepared)``: the lock objects threads asleep on a lock wait on
  (``locks.threads_to_read``), and every process's pipe and socket ends when a thread
  blocks on one (``blocked_on_pipes``);
* ``rereads(holders, wanted)``: a multiprocessing mutex read as taken by no live process is
  read again before it is a fact (``locks.dead_semaphores``: a handover caught midway);
* ``joins(holders)``: which thread a ``join()`` waits for, who holds a waited Condition's
  lock, where a deadlock could go through them (``graph.objects_to_read``);
* ``looks(resolved, previous)``: the processes parked at one place since the last sample,
  worth a closer look (a dump with locals keeping the telling ones: a caught
  BrokenPipeError next to a manager proxy), read before the rules as any other fact;
* ``confirmations(snapshot, previous, ...)``: a Manager lock's contention or abandonment
  (its waiters read twice more), a deadlock through the ends (every thread of its knot read
  again), a pool that lost a worker too few times yet for a crash loop (its children's exits
  waited for a moment more), and the processes the verdicts over time ask a closer look at (a replaced pool
  worker's ``maxtasks``, a stuck thread's locals); with the parked ones again, so that what
  is no longer asked about is shown as captured.

Everything here is pure: which facts, never how they are read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Optional

from pooltui.analysis import ends, faults, graph, hangs, shared
from pooltui.analysis.edge import Node
from pooltui.analysis.locks import dead_semaphores, lock_key, threads_to_read
from pooltui.analysis.workedges import waited_children
from pooltui.model import POLL_CALLS, Kind, Lock, Process, ProcessStatus, Severity, Snapshot, WaitKind
from pooltui.model.record import Record, field, field_names

Threads = Mapping[int, frozenset[int]]  # pid -> tids


class Plan(Record, frozen=True):
    """The facts one round reads; an empty plan (false) reads nothing."""

    locks: Threads = field(default_factory=dict)  # read the lock each of these threads waits on
    recheck: tuple[Lock, ...] = ()  # read ``locks`` again: the second read of these semaphores wins
    ends: bool = False  # every process's pipe and socket ends, what each poller watches, who holds a waited file lock
    joins: Threads = field(default_factory=dict)  # the thread a join() waits for / a Condition's lock holder
    knot: frozenset[Node] = frozenset()  # threads a deadlock through the ends stands on: still blocked?
    watch: float = 0.0  # seconds the knot is watched (until one of it moves): a sleeper passed over may wake and act
    manager_locks: Mapping[str, tuple[Node, ...]] = field(default_factory=dict)  # Manager lock id -> its waiters: still waiting?
    deaths: tuple[int, ...] = ()  # pool parents whose children's exits to wait a moment more for (a suspected crash loop)
    closer: tuple[int, ...] = ()  # processes dumped again with locals, keeping the telling ones
    maxtasks: tuple[int, ...] = ()  # replacement pool workers whose maxtasks argument to read
    look: bool = False  # the last closer look of the refresh: a past look no longer asked about stops applying

    def __bool__(self) -> bool:
        return any(getattr(self, name) for name in field_names(self))


def _threads(wanted: Mapping[int, set[int]]) -> Threads:
    return {pid: frozenset(tids) for pid, tids in wanted.items() if tids}


def blocked_on_pipes(snapshot: Snapshot) -> bool:
    """A thread that is not idle sits in read()/write()/recv()/send() on a file descriptor,
    or waits for a lock on a file (flock(), fcntl(F_SETLKW): who holds it is in the kernel's
    table, read with the ends) or on a futex other processes may post (which of them map it),
    or a process's only thread polls with no timeout (what it watches: can anyone write?),
    or a thread waits in wait4() for a child whose threads no dump gave (a program it started,
    ``sort`` fed through a pipe: its threads, as the kernel shows them, are read with the ends)."""
    return any(
        (t.fd is not None and t.syscall in graph.FD_CALLS and t.wait is not None and t.wait.kind is not WaitKind.IDLE)
        or t.awaits_file_lock
        or t.shared_wait
        or (t.syscall in POLL_CALLS and t.timed is False and sum(1 for x in p.threads if not x.ghost) == 1)
        or any(map(_unread, waited_children(snapshot, p.pid, t)))
        for p in snapshot.processes
        for t in p.threads
        if not t.ghost
    )


def _unread(p: Optional[Process]) -> bool:
    return p is not None and p.status != ProcessStatus.ZOMBIE and not p.threads


def reads(prepared: Snapshot) -> Plan:
    """The first round, from roles and waits (``analysis.prepare``)."""
    return Plan(locks=_threads(threads_to_read(prepared)), ends=blocked_on_pipes(prepared))


def rereads(holders: Snapshot, wanted: Threads) -> Plan:
    """``holders``: the prepared capture with the locks read and their holders resolved
    (``locks.resolve_holders``); ``wanted``: the threads whose locks were read."""
    dead = tuple(dead_semaphores(holders))
    return Plan(locks=wanted, recheck=dead) if dead else Plan()


def joins(holders: Snapshot) -> Plan:
    """``holders``: the prepared capture with every fact read so far and holders resolved
    (``analysis.resolve``). The ends again only where a thread waits on a Semaphore nobody
    holds (known once its lock was read), to read which processes could release it, or where
    a lock's holder (a joined thread...) polls with no timeout: who could end its poll."""
    edges = graph.followed(holders)
    return Plan(joins=_threads(graph.objects_to_read(holders, edges)), ends=shared.unread(holders) or graph.pollers_to_read(holders, edges))


def looks(resolved: Snapshot, previous: Optional[Snapshot]) -> Plan:
    """``resolved``: the prepared capture with its facts and holders (``analysis.resolve``:
    the waits ``parked`` reads are final there, the verdicts add none)."""
    return Plan(closer=tuple(parked(previous, resolved)))


def _knot(snapshot: Snapshot) -> frozenset[Node]:
    """Every thread a deadlock stands on, not only the cycle it names: the knot's, and every
    blocked thread of its processes -- one left out of it for the call it was seen in (an rpc
    server caught in recv() on another worker's socket) may have moved."""
    if not any(d.kind is Kind.DEADLOCK for d in snapshot.diagnoses):
        return frozenset()
    stuck = graph.deadlocked(graph.edges(snapshot))
    pids = {pid for pid, _ in stuck}
    blocked = {(p.pid, t.tid) for p in snapshot.processes if p.pid in pids for t in p.threads if not t.ghost and t.syscall}
    return frozenset(stuck) | blocked


WATCH = 1.0  # seconds a knot is watched when a sleeper at one of its ends was passed over


def _watch(snapshot: Snapshot, knot: frozenset[Node]) -> float:
    """``WATCH`` when a thread of the knot waits on a pipe or socket end held by a process
    with a sleeper passed over as its waker (``ends.sleepers``): a heartbeat wakes and the knot
    stays put; an rpc server wakes and answers, and its client moves (a healthy rpc pool read
    as a deadlock for 0.05 s of watching was a false alarm). A sleeper that wakes later than
    that is still passed over."""
    if not knot:
        return 0.0
    stuck = graph.deadlocked(graph.edges(snapshot))
    far = {pid for node, e in stuck.items() if node in knot and e.via in ("pipe", "socket") for pid, _ in e.targets}
    return WATCH if any(ends.sleepers(p) for p in snapshot.processes if p.pid in far) else 0.0


def _hung_knot(snapshot: Snapshot) -> frozenset[Node]:
    """A pool judged hung from one instant (not over time): every live thread of its
    processes, read again before it stands -- between two maps of a busy pool one instant
    can show every worker idle and the parent waiting (hangs.hung_threads)."""
    return frozenset(n for d in snapshot.diagnoses if d.kind is Kind.POOL_HUNG and not d.over_time for n in hangs.hung_threads(snapshot, d))


def _manager_locks(snapshot: Snapshot) -> dict[str, tuple[Node, ...]]:
    """Contention on any lock, and a Manager lock's abandonment, is concluded from a holder and
    waiters read at different instants (the counts of many processes one after the other; a
    Manager's holder at another instant than its clients): its waiters are read again, and the
    lock is ``confirmed`` only when none of them moved (contention whose waiters moved is a
    lock changing hands: no verdict)."""
    keys = {d.subject for d in snapshot.diagnoses if d.kind in (Kind.LOCK_CONTENTION, Kind.ABANDONED_LOCK)}
    return {lock.id: lock.waiters for lock in snapshot.locks if lock_key(lock) in keys}


def _positions(p: Process) -> list[list[tuple[str, int]]]:
    return [[(f.function, f.line) for f in t.frames] for t in p.threads]


_RESTING = (WaitKind.IDLE, WaitKind.RUNNING, WaitKind.SELECT, WaitKind.UNKNOWN)


def parked(previous: Optional[Snapshot], snapshot: Snapshot) -> list[int]:
    """Processes worth a look at their locals (a caught BrokenPipeError next to a manager
    proxy tells a Manager is gone): waiting inside their own code (a retry loop's sleep, a
    wait) at the same place as in the previous sample -- or, in a first sample, every such
    process when a process of the tree died (a zombie with a failure status), and every
    process whose threads stand where one of those does: a sibling of the same retry loop
    caught awake at its sleep line (workers that lost their Manager together retry in
    step; on a loaded box two of three were read running, and the verdict named one)."""

    def alive(p: Process) -> bool:
        return p.error is None and p.status != ProcessStatus.ZOMBIE

    def waiting(p: Process) -> bool:
        return alive(p) and any(t.wait is not None and t.wait.kind not in _RESTING and not t.ghost for t in p.threads)

    if previous is None:
        if not any(p.status == ProcessStatus.ZOMBIE and p.exit_code not in (None, 0) for p in snapshot.processes):
            return []
        others = [p for p in snapshot.processes if p.pid != snapshot.root_pid]
        places = [_positions(p) for p in others if waiting(p)]
        return [p.pid for p in others if waiting(p) or (alive(p) and _positions(p) in places)]
    before = {p.key: p for p in previous.processes}
    return [p.pid for p in snapshot.processes if waiting(p) and p.key in before and _positions(before[p.key]) == _positions(p)]


def confirmations(snapshot: Snapshot, previous: Optional[Snapshot], *, facts: bool, look: bool) -> Plan:
    """What the verdicts of ``snapshot`` (analysed and concluded over time) ask to read again
    before they stand. ``facts``: lock facts were read this refresh (not kept from the last);
    ``look``: closer looks are wanted (no --locals)."""
    maxtasks: tuple[int, ...] = ()
    closer: tuple[int, ...] = ()
    if look:
        ask = {pid for d in snapshot.diagnoses if d.kind == Kind.LOST_TASK and d.severity is Severity.WARNING for pid in d.pids[1:]}
        stuck = [pid for d in snapshot.diagnoses if d.kind == Kind.STUCK_THREAD for pid in d.pids if pid not in ask]
        stuck += [pid for pid in parked(previous, snapshot) if pid not in ask]
        maxtasks, closer = tuple(sorted(ask)), tuple(dict.fromkeys(stuck))
    knot = _knot(snapshot) if facts else frozenset()
    return Plan(
        # a deadlock read from system calls (ends, wait4, a futex wait with no timeout under a
        # Condition/Event/queue) is read again before it stands: one of them may have been
        # woken between two threads' reads
        knot=knot | _hung_knot(snapshot),
        watch=_watch(snapshot, knot),
        deaths=faults.crash_suspects(snapshot) if not any(d.kind is Kind.CRASH_LOOP for d in snapshot.diagnoses) else (),
        manager_locks=_manager_locks(snapshot) if facts else {},
        closer=closer,
        maxtasks=maxtasks,
        look=look,
    )

"""Sources of snapshots, injected into the UI and the headless commands.

``LiveSource`` reads a running tree (capture + analysis); ``RecordedSource`` replays a
saved report. Both answer ``await source.capture()`` with an analysed ``Snapshot``;
``live`` says whether keys that need a running process make sense.

A refresh of a ``LiveSource`` is incremental: a thread that was not scheduled since its
process was dumped cannot have a different Python stack, so a process whose threads all
slept through (same context-switch counts, ``procs.ran_since``) keeps its previous stacks
(``Process.reused``) and is not dumped again; when no process was dumped, the lock facts
read last time are kept too. A hung tree therefore costs one /proc walk per refresh.

Each capture is analysed once (``analysis.prepare``, the lock facts its waits ask for,
``analysis.finish``; again only when the verdicts ask for more: the ends of a pipe or
socket a thread blocks on, a join a deadlock could go through, a first look closer at a
stuck process) and added to the source's ``History`` (``analysis.history``: its diff
against the last sample computed there, once), which the verdicts over time
(``analysis.timeline``) and the TUI session read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import replace
from pathlib import Path
from typing import Optional

from pooltui.analysis import analyze, finish, graph, prepare, timeline
from pooltui.analysis.history import History
from pooltui.analysis.locks import confirm, dead_semaphores, lock_key, resolve_holders, threads_to_read
from pooltui.capture import ends, exits, joins, procs, workers
from pooltui.capture.locks import read_locks
from pooltui.capture.snapshot import CaptureOptions, Progress, capture_tree
from pooltui.model import Kind, Process, Severity, Snapshot, Timeline, WaitKind
from pooltui.report import load_report

LOOK_CLOSER = 4  # processes dumped again with locals per capture, at most (_look_closer)


def _positions(p: Process) -> list[list[tuple[str, int]]]:
    return [[(f.function, f.line) for f in t.frames] for t in p.threads]


def _frames_of(seen: Process, now: Process) -> Process:
    """``now`` with the frames (and their telling locals) found when ``seen`` was looked at
    closer; every kernel fact (context switches, CPU, system call) stays this sample's."""
    frames = {t.tid: t.frames for t in seen.threads}
    threads = tuple(replace(t, frames=frames[t.tid]) if t.tid in frames and frames[t.tid] != t.frames else t for t in now.threads)
    return now if threads == now.threads else replace(now, threads=threads)


_RESTING = (WaitKind.IDLE, WaitKind.RUNNING, WaitKind.SELECT, WaitKind.UNKNOWN)


def parked(previous: Optional[Snapshot], snapshot: Snapshot) -> list[int]:
    """Processes worth a look at their locals (a caught BrokenPipeError next to a manager
    proxy tells a Manager is gone): waiting inside their own code (a retry loop's sleep, a
    wait) at the same place as in the previous sample -- or, in a first sample, every such
    process when a process of the tree died (a zombie with a failure status)."""

    def waiting(p: Process) -> bool:
        return p.error is None and p.status != "zombie" and any(t.wait is not None and t.wait.kind not in _RESTING and not t.ghost for t in p.threads)

    if previous is None:
        died = any(p.status == "zombie" and p.exit_code not in (None, 0) for p in snapshot.processes)
        return [p.pid for p in snapshot.processes if died and waiting(p) and p.pid != snapshot.root_pid]
    before = {p.key: p for p in previous.processes}
    return [p.pid for p in snapshot.processes if waiting(p) and p.key in before and _positions(before[p.key]) == _positions(p)]


class LiveSource:
    live = True

    def __init__(self, pid: int, *, root: Optional[int] = None, options: CaptureOptions = CaptureOptions()) -> None:
        self.target_pid = pid
        self.root_pid = root if root is not None else procs.find_root(pid)
        self.options = options
        self.history = History()  # the last samples, each with its diff: events and verdicts over time (analysis.timeline)
        self._raw: Optional[Snapshot] = None  # the last raw capture (with its locks), whose stacks may be reused
        self._raw_stacks: tuple[bool, ...] = ()  # CaptureOptions.stacks it was taken with
        self._baselines: dict[tuple[int, float], procs.ProcInfo] = {}  # what the walk saw right before each stack was dumped
        self._looked: dict[tuple[int, float], Process] = {}  # stuck processes looked at closer, with what was found (_look_closer)
        self._exits = exits.watcher()  # how processes that vanished between two captures ended

    @property
    def description(self) -> str:
        return f"pid {self.root_pid}" + (f" (from {self.target_pid})" if self.target_pid != self.root_pid else "")

    @property
    def previous(self) -> Optional[Snapshot]:
        """The last sample (analysed, with its verdicts over time)."""
        return self.history.latest

    async def capture(
        self,
        *,
        progress: Optional[Progress] = None,
        options: Optional[CaptureOptions] = None,
        pids: Optional[Collection[int]] = None,
    ) -> Snapshot:
        """The tree now. ``pids`` (the `d` key): dump just these processes again; every
        other process keeps its previous stacks (shown as reused), new ones are dumped."""
        options = options or self.options
        previous = {p.key: p for p in self._raw.processes} if self._raw is not None and self._raw_stacks == options.stacks else {}
        baselines: dict[tuple[int, float], procs.ProcInfo] = {}

        def reuse(info: procs.ProcInfo) -> Optional[Process]:
            key = (info.pid, info.create_time)
            old, base = previous.get(key), self._baselines.get(key)
            forced = pids is not None and info.pid in pids
            if old is None or base is None or old.error is not None or not old.threads or forced:
                baselines[key] = info
                return None
            if pids is None and procs.ran_since(base.sched, info.sched):
                baselines[key] = info
                return None
            baselines[key] = base
            return old

        raw = self._with_exits(await capture_tree(self.root_pid, options, progress=progress, reuse=reuse))
        raw, as_captured = self._looked_again(raw, options)
        same_locks = options.locks and self._nothing_dumped(raw, previous)
        if same_locks:
            raw = raw.with_(locks=self._raw.locks, notes=self._raw.notes)  # type: ignore[union-attr]  # last time's lock facts still hold
        # analysed once: roles and waits say which locks to read, whose facts then
        # complete that same analysis (analysis.prepare / finish)
        prepared = await asyncio.to_thread(prepare, raw, self.previous)
        if options.locks and not same_locks:
            raw, prepared = await self._with_locks(raw, prepared, options)
        snapshot = await asyncio.to_thread(finish, prepared)
        if options.locks and not same_locks:
            raw, snapshot = await with_manager_confirmed(raw, prepared, snapshot)
            raw, snapshot = await self._with_ends(raw, snapshot, options)
        window = self.history.then(snapshot)
        snapshot = timeline.conclude(window)
        raw, closer = await self._look_closer(raw, snapshot, options, as_captured)
        if closer:  # a process dumped again with locals (the first time it is looked at) tells more
            window = self.history.then(await asyncio.to_thread(analyze, raw, self.previous))
            snapshot = timeline.conclude(window)
        self._raw, self._raw_stacks, self._baselines = raw, options.stacks, baselines
        self.history = window.settled(snapshot)
        return snapshot

    def _with_exits(self, raw: Snapshot) -> Snapshot:
        """The exits the kernel reported since the last capture, of this tree's processes
        and their children (capture.exits): how a worker its parent reaped at once ended."""
        if not self._exits.working:
            return raw.with_(notes=(*raw.notes, f"Exit statuses of processes reaped between two refreshes are unknown: {self._exits.reason}."))
        before = self._raw.processes if self._raw is not None else ()
        found = self._exits.since(self._raw.created if self._raw is not None else raw.created, {p.pid for p in (*before, *raw.processes)})
        return raw.with_(exits=found) if found else raw

    def _looked_again(self, raw: Snapshot, options: CaptureOptions) -> tuple[Snapshot, dict[int, Process]]:
        """``raw`` with what the last look closer found (``_look_closer``) in each process
        whose stacks did not move since, before it is analysed: a hung tree's stuck
        processes are then analysed once per capture, not again after ``_look_closer``.
        Also the processes so changed, as captured (pid -> process)."""
        if options.locals or not self._looked:
            return raw, {}
        as_captured, processes = {}, []
        for p in raw.processes:
            seen = self._looked.get(p.key)
            if seen is not None and _positions(seen) == _positions(p):
                closer = _frames_of(seen, p)
                if closer is not p:
                    as_captured[p.pid] = p
                    p = closer
            processes.append(p)
        return (raw.with_(processes=tuple(processes)) if as_captured else raw), as_captured

    async def _look_closer(
        self, raw: Snapshot, snapshot: Snapshot, options: CaptureOptions, as_captured: Optional[dict[int, Process]] = None
    ) -> tuple[Snapshot, bool]:
        """Without --locals, a few processes the verdicts ask about are dumped again with
        locals and keep only the telling ones (capture.workers): a replaced pool worker's
        maxtasks (died or retired?), what a stuck thread's frames hold (a caught
        BrokenPipeError next to a manager proxy). A process whose stacks did not move
        since it was looked at keeps what was found then, without another dump (given it
        before the analysis by ``_looked_again``; ``as_captured``: those processes without
        it, for the ones the verdicts no longer ask about)."""
        if options.locals:
            return raw, False
        ask = {pid for d in snapshot.diagnoses if d.kind == "lost_task" and d.severity is Severity.WARNING for pid in d.pids[1:]}
        stuck = [pid for d in snapshot.diagnoses if d.kind == "stuck_thread" for pid in d.pids if pid not in ask]
        stuck += [pid for pid in parked(self.previous, snapshot) if pid not in ask]
        by_pid, changed = {p.pid: p for p in raw.processes}, {}
        for pid in dict.fromkeys(stuck):
            seen = self._looked.get(by_pid[pid].key) if pid in by_pid else None
            if seen is not None and _positions(seen) == _positions(by_pid[pid]):
                changed[pid] = _frames_of(seen, by_pid[pid])
        todo = [pid for pid in dict.fromkeys(stuck) if pid in by_pid and pid not in changed][:LOOK_CLOSER]
        found = await asyncio.gather(
            *(workers.with_maxtasks(by_pid[pid], options.timeout) for pid in ask if pid in by_pid),
            *(workers.with_telling_locals(by_pid[pid], options.timeout) for pid in todo),
        )
        self._looked = {p.key: p for p in found if p.pid in todo} | {p.key: p for p in changed.values()}
        changed |= {pid: p for pid, p in (as_captured or {}).items() if pid not in changed}  # no longer asked about: as captured
        changed.update({p.pid: p for p in found})
        if all(changed[pid] is by_pid[pid] for pid in changed):
            return raw, False
        return raw.with_(processes=tuple(changed.get(p.pid, p) for p in raw.processes)), True

    def as_timeline(self) -> Timeline:
        """The samples kept so far (at most ``analysis.history.HISTORY``) and their events."""
        return self.history.as_timeline()

    def _nothing_dumped(self, raw: Snapshot, previous: dict[tuple[int, float], Process]) -> bool:
        """The same processes as last time, every one with its stacks reused (or unreadable)."""
        return self._raw is not None and previous.keys() == {p.key for p in raw.processes} and all(p.reused or not p.threads for p in raw.processes)

    async def _with_locks(self, raw: Snapshot, prepared: Snapshot, options: CaptureOptions) -> tuple[Snapshot, Snapshot]:
        """Read the locks blocked threads wait on (``with_lock_facts``), before the analysis
        is finished: its waits say which, and the lock facts complete it."""
        raw, prepared = await with_lock_facts(raw, prepared, options.timeout)
        return raw, prepared

    async def _with_ends(self, raw: Snapshot, snapshot: Snapshot, options: CaptureOptions) -> tuple[Snapshot, Snapshot]:
        """Who is at the other end of a pipe or socket a thread blocks on (``with_pipes``) and
        which thread a ``join()`` waits for (``with_joins``). Read only when the analysis asks
        (a blocked read/write; a join a deadlock could go through), and only then is the
        capture analysed again: what to read depends on the verdicts (a deadlock through
        the ends is read twice before it stands)."""
        raw, snapshot = await with_pipes(raw, snapshot, self.previous)
        return await with_joins(raw, snapshot, options.timeout, self.previous)


async def with_lock_facts(raw: Snapshot, prepared: Snapshot, timeout: float) -> tuple[Snapshot, Snapshot]:
    """Read the locks blocked threads wait on (``prepared``: ``raw`` after
    ``analysis.prepare``, whose waits say which); a multiprocessing lock that reads as
    taken by no live process is read again (``analysis.locks.confirm``) before it is a
    fact: in a healthy contended pool the value and the holders' counts can be read
    mid-handover. Both come back with the locks read."""
    wanted = threads_to_read(prepared)
    if not wanted:
        return raw, prepared
    found, notes = await read_locks(raw, wanted, timeout)
    dead = dead_semaphores(resolve_holders(prepared.with_(locks=found)))  # holders only: the rest of the analysis is finish()'s
    if dead:
        moved = await asyncio.to_thread(ends.moved, raw, {w for lock in dead for w in lock.waiters})
        again, _ = await read_locks(raw, wanted, timeout)
        found = confirm(found, again, dead, moved)
    raw, prepared = (s.with_(locks=found, notes=raw.notes + notes) for s in (raw, prepared))
    return raw, prepared


async def with_manager_confirmed(raw: Snapshot, prepared: Snapshot, snapshot: Snapshot) -> tuple[Snapshot, Snapshot]:
    """Contention on any lock, and a Manager lock's abandonment, is concluded from a holder and
    waiters read at different instants (the counts of many processes one after the other; a
    Manager's holder at another instant than its clients): its waiters are read twice
    more a moment apart (``capture.ends.confirm``, as a deadlock through the ends is) and the
    lock is ``confirmed`` when none of them moved. ``analysis.locks.contention`` is a warning
    and ``analysis.managers.diagnose`` an error only then (contention whose waiters moved is a
    lock changing hands: none); the capture is then analysed again."""
    keys = {d.subject for d in snapshot.diagnoses if d.kind in (Kind.LOCK_CONTENTION, Kind.ABANDONED_LOCK)}
    wanted = {lock.id: lock.waiters for lock in snapshot.locks if lock_key(lock) in keys}
    if not wanted:
        return raw, snapshot
    still = {}
    for lock_id, waiters in wanted.items():
        still[lock_id] = await asyncio.to_thread(ends.confirm, raw, waiters) is raw
    found = tuple(replace(lock, confirmed=still[lock.id]) if lock.id in still else lock for lock in raw.locks)
    return raw.with_(locks=found), await asyncio.to_thread(finish, prepared.with_(locks=found))


def blocked_on_pipes(snapshot: Snapshot) -> bool:
    """A thread that is not idle sits in read()/write()/recv()/send() on a file descriptor."""
    return any(
        t.fd is not None and t.syscall in graph.FD_CALLS and t.wait is not None and t.wait.kind is not WaitKind.IDLE
        for p in snapshot.processes
        for t in p.threads
    )


async def with_pipes(raw: Snapshot, snapshot: Snapshot, previous: Optional[Snapshot] = None) -> tuple[Snapshot, Snapshot]:
    """The pipe and socket ends of every process of the tree, when a thread is blocked on
    one: the wait-for graph then knows who is at the other end (``analysis.graph``). A
    deadlock found that way is read again (``capture.ends.confirm``: every thread of the
    knot) before it stands."""
    if not blocked_on_pipes(snapshot):
        return raw, snapshot
    raw = await asyncio.to_thread(ends.with_ends, raw)
    snapshot = await asyncio.to_thread(analyze, raw, previous)
    if any(d.kind is Kind.DEADLOCK for d in snapshot.diagnoses):
        # every thread the deadlock stands on, not only the cycle it names: the knot's, and
        # every blocked thread of its processes -- one left out of it for the call it was
        # seen in (an rpc server caught in recv() on another worker's socket) may have moved
        stuck = graph.deadlocked(graph.edges(snapshot))
        pids = {pid for pid, _ in stuck}
        nodes = set(stuck) | {(p.pid, t.tid) for p in raw.processes if p.pid in pids for t in p.threads if not t.ghost and t.syscall}
        again = await asyncio.to_thread(ends.confirm, raw, nodes)
        if again is not raw:
            raw, snapshot = again, await asyncio.to_thread(analyze, again, previous)
    return raw, snapshot


async def with_joins(raw: Snapshot, snapshot: Snapshot, timeout: float, previous: Optional[Snapshot] = None) -> tuple[Snapshot, Snapshot]:
    """Which thread a ``Thread.join()`` waits for and who holds a waited Condition's lock,
    read from those objects, where a deadlock could go through them (``analysis.graph.objects_to_read``)."""
    wanted = graph.objects_to_read(snapshot)
    if not wanted:
        return raw, snapshot
    again = await joins.with_joined(raw, wanted, timeout)
    if again is raw:
        return raw, snapshot
    return again, await asyncio.to_thread(analyze, again, previous)


class RecordedSource:
    live = False

    def __init__(self, snapshot: Snapshot, timeline: Optional[Timeline] = None, path: str = "") -> None:
        if all(p.role == "other" for p in snapshot.processes):
            snapshot = analyze(snapshot)  # a raw capture (test fixture): give it roles, waits, verdicts
        self.snapshot = snapshot
        self.timeline = timeline
        self.path = path
        samples = timeline.snapshots if timeline is not None else ()
        if samples and samples[-1].created == snapshot.created:
            samples = samples[:-1]  # the report's snapshot is its timeline's last sample
        samples = (*samples, snapshot)
        self.history = History(samples, keep=len(samples))  # the samples as the live source kept them (a report keeps them all)
        self.root_pid = snapshot.root_pid
        self.options = CaptureOptions()

    @classmethod
    def from_file(cls, path: str | Path) -> RecordedSource:
        report = load_report(path)
        return cls(report.snapshot, report.timeline, str(path))

    @property
    def description(self) -> str:
        return f"report {self.path or '(memory)'}"

    async def capture(
        self, *, progress: Optional[Progress] = None, options: Optional[CaptureOptions] = None, pids: Optional[Collection[int]] = None
    ) -> Snapshot:
        return self.snapshot

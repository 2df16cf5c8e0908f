"""The ``Collector`` of a running tree: the capture layer behind the pipeline's stages, and
what it read last time, which the next refresh reuses.

A refresh is incremental: a thread that was not scheduled since its process was dumped
cannot have a different Python stack, so a process whose threads all slept through (same
context-switch counts, ``procs.ran_since``) keeps its previous stacks (``Process.reused``)
and is not dumped again; when no process was dumped, every fact read last time (locks,
ends, joins, confirmations) is kept too (``Collected.settled``). A hung tree therefore
costs one /proc walk per refresh.

A closer look (a dump with locals keeping the telling ones, ``capture.workers``) is kept
for a process whose stacks did not move since: given back at ``collect`` (before the
analysis), so a hung tree's stuck processes are analysed once per refresh.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection
from typing import Optional

from pooltui.analysis.edge import Node
from pooltui.analysis.plan import Threads
from pooltui.capture import exits, procs, state
from pooltui.capture.locks import read_locks
from pooltui.capture.snapshot import CaptureOptions, Progress, capture_tree
from pooltui.model import Exit, Lock, Process, Snapshot
from pooltui.model.record import replace
from pooltui.pipeline import Collected

DEATHS_WATCH = 1.0  # seconds a suspected crash loop's next death is waited for (more_exits)
LOOK_CLOSER = 4  # processes dumped again with locals per refresh, at most (look_closer)

Key = tuple[int, float]  # (pid, create_time)


def _positions(p: Process) -> list[list[tuple[str, int]]]:
    return [[(f.function, f.line) for f in t.frames] for t in p.threads]


def _frames_of(seen: Process, now: Process) -> Process:
    """``now`` with the frames (and their telling locals) found when ``seen`` was looked at
    closer; every kernel fact (context switches, CPU, system call) stays this sample's."""
    frames = {t.tid: t.frames for t in seen.threads}
    threads = tuple(replace(t, frames=frames[t.tid]) if t.tid in frames and frames[t.tid] != t.frames else t for t in now.threads)
    return now if threads == now.threads else replace(now, threads=threads)


class LiveCollector:
    """Reads the tree under ``root_pid``; owns what it read last (the raw capture, the walk's
    view right before each dump, the looks closer) and the exit watcher."""

    def __init__(self, root_pid: int, *, long_lived: bool = True) -> None:
        self.root_pid = root_pid
        self._raw: Optional[Snapshot] = None  # the last raw capture (with its facts), whose stacks may be reused
        self._raw_stacks: tuple[bool, ...] = ()  # CaptureOptions.stacks it was taken with
        self._baselines: dict[Key, procs.ProcInfo] = {}  # what the walk saw right before each stack was dumped
        self._pending: dict[Key, procs.ProcInfo] = {}  # the same, for this refresh (kept by keep())
        self._looked: dict[Key, Process] = {}  # processes looked at closer, with what was found
        self._looked_now: dict[Key, Process] = {}  # the same, looked at during this refresh
        self._dumps_left = LOOK_CLOSER  # closer looks this refresh may still dump
        self._as_captured: dict[int, Process] = {}  # this refresh's processes given a past look, as captured
        # how processes that vanished between two captures ended; a command that ends after a
        # few captures reads the kernel's queue of exits at each one, with no thread (exits.watcher)
        self._exits = exits.watcher(background=long_lived)
        self.state = state.CaptureState()  # what the capture keeps between refreshes (active while a refresh runs)
        # time.monotonic() when this refresh's walk had read every thread's context switches
        # (a knot's confirmation counts its gap from there: ends.moved's ``captured``)
        self._walked_at: Optional[float] = None

    async def collect(self, options: CaptureOptions, pids: Optional[Collection[int]], progress: Optional[Progress]) -> Collected:
        """The tree now. ``pids`` (the `d` key): dump just these processes again; every other
        process keeps its previous stacks (shown as reused), new ones are dumped."""
        previous = {p.key: p for p in self._raw.processes} if self._raw is not None and self._raw_stacks == options.stacks else {}
        baselines: dict[Key, procs.ProcInfo] = {}

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

        def walked() -> None:
            self._walked_at = time.monotonic()

        raw = self._with_exits(await capture_tree(self.root_pid, options, progress=progress, reuse=reuse, on_walk=walked))
        self._pending = baselines
        raw = self._looked_again(raw, options)
        settled = options.locks and self._nothing_dumped(raw, previous)
        if settled and self._raw is not None:
            raw = raw.with_(locks=self._raw.locks, notes=self._raw.notes)  # last time's lock facts still hold
        return Collected(raw, settled)

    def keep(self, raw: Snapshot, options: CaptureOptions) -> None:
        self._raw, self._raw_stacks, self._baselines = raw, options.stacks, self._pending

    def _with_exits(self, raw: Snapshot) -> Snapshot:
        """The exits the kernel reported since the last capture, of this tree's processes
        and their children (capture.exits): how a worker its parent reaped at once ended."""
        if not self._exits.working:
            return raw.with_(notes=(*raw.notes, f"Exit statuses of processes reaped between two refreshes are unknown: {self._exits.reason}."))
        before = self._raw.processes if self._raw is not None else ()
        found = self._exits.since(self._raw.created if self._raw is not None else raw.created, {p.pid for p in (*before, *raw.processes)})
        return raw.with_(exits=found) if found else raw

    def _nothing_dumped(self, raw: Snapshot, previous: dict[Key, Process]) -> bool:
        """The same processes as last time, every one with its stacks reused (or unreadable)."""
        return self._raw is not None and previous.keys() == {p.key for p in raw.processes} and all(p.reused or not p.threads for p in raw.processes)

    def _looked_again(self, raw: Snapshot, options: CaptureOptions) -> Snapshot:
        """``raw`` with what the last look closer found in each process whose stacks did not
        move since, before it is analysed (those processes as captured: ``_as_captured``)."""
        self._as_captured, self._looked_now, self._dumps_left = {}, {}, LOOK_CLOSER
        if options.locals or not self._looked:
            return raw
        processes = []
        for p in raw.processes:
            seen = self._looked.get(p.key)
            if seen is not None and _positions(seen) == _positions(p):
                closer = _frames_of(seen, p)
                if closer is not p:
                    self._as_captured[p.pid] = p
                    p = closer
            processes.append(p)
        return raw.with_(processes=tuple(processes)) if self._as_captured else raw

    async def look_closer(
        self, raw: Snapshot, closer: tuple[int, ...], maxtasks: tuple[int, ...], options: CaptureOptions, *, last: bool
    ) -> Snapshot:
        """A few processes the analysis asks about dumped again with locals, keeping only the
        telling ones (capture.workers: a replaced worker's maxtasks, what a parked or stuck
        thread's frames hold), at most ``LOOK_CLOSER`` dumps a refresh. A process whose stacks
        did not move since it was looked at keeps what was found then, without another dump
        (given back at ``collect``). After the ``last`` look of a refresh, only the processes
        it asked about keep theirs: one no longer asked about is as captured again."""
        from pooltui.capture import workers  # what a look closer reads (locals): only when a verdict asks

        by_pid, changed = {p.pid: p for p in raw.processes}, {}
        for pid in closer:
            now = by_pid.get(pid)
            seen = (self._looked_now.get(now.key) or self._looked.get(now.key)) if now is not None else None
            if now is not None and seen is not None and _positions(seen) == _positions(now):
                changed[pid] = _frames_of(seen, now)
        todo = [pid for pid in closer if pid in by_pid and pid not in changed][: self._dumps_left]
        self._dumps_left -= len(todo)
        redact_secrets = options.redact
        found = await asyncio.gather(
            *(workers.with_maxtasks(by_pid[pid], options.timeout, redact_secrets=redact_secrets) for pid in maxtasks if pid in by_pid),
            *(workers.with_telling_locals(by_pid[pid], options.timeout, redact_secrets=redact_secrets) for pid in todo),
        )
        looked = {p.key: p for p in found if p.pid in todo} | {p.key: p for p in changed.values()}
        self._looked_now |= looked
        if last:
            self._looked = looked
            changed |= {pid: p for pid, p in self._as_captured.items() if pid not in changed}  # no longer asked about: as captured
        changed.update({p.pid: p for p in found})
        if all(changed[pid] is by_pid[pid] for pid in changed):
            return raw
        return raw.with_(processes=tuple(changed.get(p.pid, p) for p in raw.processes))

    async def read_locks(self, raw: Snapshot, wanted: Threads, timeout: float) -> tuple[tuple[Lock, ...], tuple[str, ...]]:
        return await read_locks(raw, {pid: set(tids) for pid, tids in wanted.items()}, timeout)

    async def read_ends(self, raw: Snapshot) -> Snapshot:
        from pooltui.capture import ends  # sockets and pipes: only when a thread waits on one (as the plans below)

        return await asyncio.to_thread(ends.with_ends, raw)

    async def read_joins(self, raw: Snapshot, wanted: Threads, timeout: float) -> Snapshot:
        from pooltui.capture import joins

        return await joins.with_joined(raw, {pid: set(tids) for pid, tids in wanted.items()}, timeout)

    async def woken(self, raw: Snapshot, nodes: Collection[Node]) -> set[Node]:
        from pooltui.capture import ends

        return await asyncio.to_thread(ends.moved, raw, nodes, 0.0, self._walked_at)

    async def more_exits(self, raw: Snapshot, parents: tuple[int, ...]) -> Snapshot:
        if not self._exits.working:
            return raw
        pids = {p.pid for p in raw.processes}

        def failed(found: tuple[Exit, ...]) -> int:
            return sum(1 for e in found if e.ppid in parents and e.status != 0)

        seen, deadline = failed(raw.exits), time.monotonic() + DEATHS_WATCH
        found = raw.exits
        while time.monotonic() < deadline and failed(found) <= seen:
            await asyncio.sleep(0.05)
            known = {e.pid for e in raw.exits}  # those of before this capture too (_with_exits)
            found = raw.exits + tuple(e for e in self._exits.since(raw.created, pids) if e.pid not in known)
        return raw.with_(exits=found) if found != raw.exits else raw

    async def moved(self, raw: Snapshot, nodes: Collection[Node], watch: float = 0.0) -> Snapshot:
        from pooltui.capture import ends

        return await asyncio.to_thread(ends.confirm, raw, nodes, watch, self._walked_at)

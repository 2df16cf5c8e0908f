"""Sources of snapshots, injected into the UI and the headless commands.

``LiveSource`` reads a running tree (capture + analysis); ``RecordedSource`` replays a
saved report. Both answer ``await source.capture()`` with an analysed ``Snapshot``;
``live`` says whether keys that need a running process make sense.

A ``LiveSource`` refresh is one run of ``pooltui.pipeline``'s stages (collect, plan, fulfil,
analyze once, conclude) over its ``LiveCollector``, which owns what the last refresh read
(stacks reused while no thread ran, kept lock facts, looks closer). Each sample is added to
the source's ``History`` (``analysis.history``: its diff against the last sample computed
there, once), which the verdicts over time (``analysis.timeline``) and the TUI session read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import replace
from pathlib import Path
from typing import Optional

from pooltui import pipeline
from pooltui.analysis import analyze
from pooltui.analysis.history import History
from pooltui.capture import crashcores, procs, state
from pooltui.model import CaptureOptions, Event, Progress, Snapshot, Timeline
from pooltui.pipeline.live import LiveCollector
from pooltui.report import load_report


class LiveSource:
    """A running tree (``model.Source``)."""

    live = True
    events: tuple[Event, ...] = ()  # a live tree's events come with each sample

    def __init__(self, pid: int, *, root: Optional[int] = None, options: CaptureOptions = CaptureOptions(), cores: Optional[str] = None) -> None:
        self.target_pid = pid
        self.root_pid = root if root is not None else procs.find_root(pid)
        self.options = options
        self.history = History()  # the last samples, each with its diff: events and verdicts over time (analysis.timeline)
        self.collector = LiveCollector(self.root_pid)
        self.raw: Optional[Snapshot] = None  # what the last refresh read, before analysis (with every fact it read)
        self.cores = cores  # --cores DIR: where dead workers' core files are (else core_pattern says)
        self._crashes: dict[int, tuple[str, ...]] = {}  # dead pid -> its last stack from its core (crashcores)

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
        with state.active(self.collector.state):  # what this source's captures keep, for it alone
            done = await pipeline.refresh(self.collector, self.history, options or self.options, pids=pids, progress=progress)
            snapshot = await self._with_crash_stacks(done.history, done.snapshot)
        self.raw = done.raw
        self.history = done.history if snapshot is done.snapshot else done.history.settled(snapshot)
        return snapshot

    async def _with_crash_stacks(self, window: History, snapshot: Snapshot) -> Snapshot:
        """A lost_task about a worker that died dumping core carries its last Python stack,
        read from the core file (capture.crashcores), once per dead process."""
        dumped = {
            alive.pid: (alive, zombie.exit_code)
            for diff in window.diffs
            for alive, zombie in diff.departed
            if zombie is not None and crashcores.core_dumped(zombie.exit_code)
        }
        out, changed = [], False
        for d in snapshot.diagnoses:
            pid = d.pids[1] if d.kind == "lost_task" and d.over_time and len(d.pids) > 1 else None
            if pid in dumped and pid not in self._crashes:
                alive, status = dumped[pid]
                found = await asyncio.to_thread(crashcores.last_stack, alive, status or 0, crashcores.cwd_of(alive.ppid), self.cores)
                self._crashes[pid] = found
            found = self._crashes.get(pid) if pid is not None else None
            if found and found[0] not in d.evidence:  # also once the death left the samples kept (carried)
                d, changed = replace(d, evidence=(*d.evidence, *found)), True
            out.append(d)
        return snapshot.with_(diagnoses=tuple(out)) if changed else snapshot

    def as_timeline(self) -> Timeline:
        """The samples kept so far (at most ``analysis.history.HISTORY``) and their events."""
        return self.history.as_timeline()


class RecordedSource:
    """A saved report (``model.Source``): its snapshot, and its timeline's samples and events."""

    live = False
    target_pid: Optional[int] = None

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
        self.events: tuple[Event, ...] = timeline.events if timeline is not None else ()

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


class CensusSource:
    """Every Python process tree on the box, for the picker of `pooltui attach` without a pid:
    ``await source.trees()`` takes a new census (kernel facts only, a fraction of a second,
    off the event loop) and answers the rows, hung-looking first, and the census they are of."""

    description = "every Python process tree on this machine"

    async def trees(self):  # type: ignore[no-untyped-def]
        from pooltui.analysis.census import hung_first, trees
        from pooltui.capture.census import take_census

        census = await asyncio.to_thread(take_census)
        return hung_first(trees(census)), census

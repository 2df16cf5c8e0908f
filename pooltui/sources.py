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
from pathlib import Path
from typing import Optional

from pooltui import pipeline
from pooltui.analysis import analyze
from pooltui.analysis.history import History
from pooltui.capture import procs, state
from pooltui.capture.errors import CaptureError
from pooltui.model import CaptureOptions, ErrorCode, Event, ProcessRole, Progress, Snapshot, Timeline
from pooltui.pipeline.deaths import DeathWatch
from pooltui.pipeline.live import LiveCollector
from pooltui.report import load_report


class CoreNotFound(CaptureError):
    code = ErrorCode.CORE_NOT_FOUND
    help = "pooltui opens the core of a worker whose death it saw and whose core file it found (see docs/cores.md)."


class LiveSource:
    """A running tree (``model.Source``)."""

    live = True
    events: tuple[Event, ...] = ()  # a live tree's events come with each sample

    def __init__(
        self,
        pid: int,
        *,
        root: Optional[int] = None,
        options: CaptureOptions = CaptureOptions(),
        cores: Optional[str] = None,
        captures: Optional[int] = None,
    ) -> None:
        """``captures``: how many times a command that ends will capture (``pooltui snapshot``:
        its samples), None while a user watches (the TUI): after the last, nothing is kept
        for a next one (no exit listener thread, no OOM baselines)."""
        self.target_pid = pid
        self.root_pid = root if root is not None else procs.find_root(pid)
        self.options = options
        self.history = History()  # the last samples, each with its diff: events and verdicts over time (analysis.timeline)
        self.collector = LiveCollector(self.root_pid, long_lived=captures is None)
        self.raw: Optional[Snapshot] = None  # what the last refresh read, before analysis (with every fact it read)
        self._captures_left = captures
        self.deaths = DeathWatch(cores, redact=options.redact)  # how its workers died: cores, OOM kills

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
        if self._captures_left is not None:
            self._captures_left -= 1
        last = self._captures_left is not None and self._captures_left <= 0  # no next capture to learn for
        with state.active(self.collector.state):  # what this source's captures keep, for it alone
            if not last:
                self.deaths.before_capture()
            done = await pipeline.refresh(self.collector, self.history, options or self.options, pids=pids, progress=progress)
            snapshot = await self.deaths.explain(done.history, done.snapshot, learn=not last)
        self.raw = done.raw
        self.history = done.history if snapshot is done.snapshot else done.history.settled(snapshot)
        return snapshot

    def core_of(self, pid: int) -> Optional[str]:
        """The core file a dead worker of this tree left, when one was found and read."""
        return self.deaths.core_of(pid)

    async def open_core(self, pid: int) -> RecordedSource:
        """The core a dead worker left, read as ``pooltui open CORE`` reads it (a CaptureError,
        a ``model.Failure``, when it cannot be)."""
        from pooltui.capture.coredump import read_core

        path = self.deaths.core_of(pid)
        if path is None:
            raise CoreNotFound(f"no core file of pid {pid} was found")
        return RecordedSource(await asyncio.to_thread(read_core, path), path=path)

    def as_timeline(self) -> Timeline:
        """The samples kept so far (at most ``analysis.history.HISTORY``) and their events."""
        return self.history.as_timeline()


class RecordedSource:
    """A saved report (``model.Source``): its snapshot, and its timeline's samples and events."""

    live = False
    target_pid: Optional[int] = None

    def __init__(self, snapshot: Snapshot, timeline: Optional[Timeline] = None, path: str = "") -> None:
        if all(p.role == ProcessRole.OTHER for p in snapshot.processes):
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

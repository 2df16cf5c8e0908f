"""Sources of snapshots, injected into the UI and the headless commands.

``LiveSource`` reads a running tree (capture + analysis); ``RecordedSource`` replays a
saved report. Both answer ``await source.capture()`` with an analysed ``Snapshot``;
``live`` says whether keys that need a running process make sense.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from pooltui.analysis import analyze
from pooltui.analysis.locks import threads_to_read
from pooltui.capture import procs
from pooltui.capture.locks import read_locks
from pooltui.capture.snapshot import CaptureOptions, Progress, capture_tree
from pooltui.model import Snapshot, Timeline
from pooltui.report import load_report


class LiveSource:
    live = True

    def __init__(self, pid: int, *, root: Optional[int] = None, options: CaptureOptions = CaptureOptions()) -> None:
        self.target_pid = pid
        self.root_pid = root if root is not None else procs.find_root(pid)
        self.options = options
        self.previous: Optional[Snapshot] = None

    @property
    def description(self) -> str:
        return f"pid {self.root_pid}" + (f" (from {self.target_pid})" if self.target_pid != self.root_pid else "")

    async def capture(self, *, progress: Optional[Progress] = None, options: Optional[CaptureOptions] = None) -> Snapshot:
        options = options or self.options
        raw = await capture_tree(self.root_pid, options, progress=progress)
        snapshot = analyze(raw)
        if options.locks:
            wanted = threads_to_read(snapshot)
            if wanted:
                found, notes = await read_locks(raw, wanted, options.timeout)
                snapshot = analyze(raw.with_(locks=found, notes=raw.notes + notes))
        self.previous = snapshot
        return snapshot


class RecordedSource:
    live = False

    def __init__(self, snapshot: Snapshot, timeline: Optional[Timeline] = None, path: str = "") -> None:
        if all(p.role == "other" for p in snapshot.processes):
            snapshot = analyze(snapshot)  # a raw capture (test fixture): give it roles, waits, verdicts
        self.snapshot = snapshot
        self.timeline = timeline
        self.path = path
        self.root_pid = snapshot.root_pid
        self.options = CaptureOptions()

    @classmethod
    def from_file(cls, path: str | Path) -> RecordedSource:
        report = load_report(path)
        return cls(report.snapshot, report.timeline, str(path))

    @property
    def description(self) -> str:
        return f"report {self.path or '(memory)'}"

    async def capture(self, *, progress: Optional[Progress] = None, options: Optional[CaptureOptions] = None) -> Snapshot:
        return self.snapshot

"""What the UI remembers between captures: the current and previous snapshot, the
marked diff base, the event log and the refresh state. Plain Python, no Textual, so
its rules are testable without an App."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Optional

from pooltui.analysis.diff import SnapshotDiff, diff_snapshots
from pooltui.analysis.history import LINGER, Departed, History, Step
from pooltui.model import Event, ProcessStatus, Snapshot

__all__ = ["LINGER", "MAX_EVENTS", "Departed", "Session"]

MAX_EVENTS = 500


def _continues(mine: History, theirs: Optional[Sequence[Snapshot]], snapshot: Snapshot) -> bool:
    """``theirs`` (the source's) is ``mine`` with ``snapshot`` added: take it as it is."""
    if not isinstance(theirs, History) or theirs.latest is not snapshot:
        return False
    return mine.latest is None or (len(theirs) >= 2 and theirs[-2] is mine.latest)


@dataclass
class Session:
    live: bool
    current: Optional[Snapshot] = None
    previous: Optional[Snapshot] = None
    marked: Optional[Snapshot] = None
    events: list[Event] = field(default_factory=list)
    paused: bool = False
    show_locals: bool = False  # draw the locals a capture holds (`l`)
    target_gone: bool = False  # the whole tree exited: nothing left to capture
    capturing: bool = False
    progress: tuple[int, int] = (0, 0)
    last_error: str = ""
    history: History = field(default_factory=History)  # the samples, their diffs and the processes that left

    @classmethod
    def replay(cls, snapshots: Sequence[Snapshot] | History, events: Sequence[Event] = (), live: bool = False) -> Session:
        """A session that starts with recorded history (a report's timeline; a source's History as it is)."""
        session = cls(live=live)
        session.history = snapshots if isinstance(snapshots, History) else History(snapshots, keep=max(len(snapshots), 1))
        for step in session.history.steps:
            session._take(step.snapshot, step)
        session._log(events)
        return session

    def add(self, snapshot: Snapshot, history: Optional[Sequence[Snapshot]] = None) -> list[Event]:
        """Make ``snapshot`` current; return the events it brings (the source's own, or
        the process appearances/exits implied by comparing it with the previous one).
        ``history``: the source's, when ``snapshot`` is its latest sample (its diff is not
        computed again)."""
        if self.current is not None and self.current.created == snapshot.created:
            return self._show(snapshot, list(snapshot.events))  # the same instant again: nothing happened
        self.history = history if isinstance(history, History) and _continues(self.history, history, snapshot) else self.history.then(snapshot)
        return self._take(snapshot, self.history.steps[-1])

    def _take(self, snapshot: Snapshot, step: Step) -> list[Event]:
        new = list(snapshot.events)
        if self.current is not None and not new and self.current.created != snapshot.created:
            new = list(step.events)
        return self._show(snapshot, new)

    def _show(self, snapshot: Snapshot, new: list[Event]) -> list[Event]:
        root = snapshot.process(snapshot.root_pid)
        if self.current is not None and (root is None or root.status == ProcessStatus.ZOMBIE):
            # the root died (a zombie not yet reaped): what it left is not worth showing;
            # keep the last real snapshot on screen, as when the capture says it is gone
            self.target_gone = True
            return self._log(new)
        if self.current is not None and self.current.created != snapshot.created:
            self.previous = self.current
        self.current = snapshot
        self.last_error = ""
        return self._log(new)

    @property
    def departed(self) -> Mapping[tuple[int, float], Departed]:
        return self.history.departed

    def lingering(self) -> list[Departed]:
        """Processes gone from the current snapshot less than ``LINGER`` seconds ago
        (none whose pid a current process has taken)."""
        if self.current is None:
            return []
        now, pids = self.current.created, {p.pid for p in self.current.processes}
        return [d for d in self.departed.values() if now - d.left <= LINGER and d.process.pid not in pids and d.left <= now]

    def _log(self, events: Sequence[Event]) -> list[Event]:
        seen = {(e.time, e.kind, e.pid) for e in self.events}
        fresh = [e for e in events if (e.time, e.kind, e.pid) not in seen]
        self.events.extend(fresh)
        del self.events[:-MAX_EVENTS]
        return fresh

    @property
    def base(self) -> Optional[Snapshot]:
        """What `x` compares against: the marked snapshot, else the previous one."""
        return self.marked or self.previous

    def diff(self) -> Optional[SnapshotDiff]:
        base = self.base
        if base is None or self.current is None:
            return None
        return self._kept_diff(base) or diff_snapshots(base, self.current)

    def last_diff(self) -> Optional[SnapshotDiff]:
        """Previous -> current (for CPU % between refreshes), whatever is marked."""
        if self.previous is None or self.current is None:
            return None
        return self._kept_diff(self.previous) or diff_snapshots(self.previous, self.current)

    def _kept_diff(self, base: Snapshot) -> Optional[SnapshotDiff]:
        """The history's diff of ``base`` -> current, when it has that one (the usual case:
        the last two samples): the diff is computed once per capture, not on every redraw."""
        kept = self.history.last_diff
        return kept if kept is not None and kept.before is base and kept.after is self.current else None

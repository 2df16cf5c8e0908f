"""What the UI remembers between captures: the current and previous snapshot, the
marked diff base, the event log and the refresh state. Plain Python, no Textual, so
its rules are testable without an App."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional

from pooltui.analysis.diff import SnapshotDiff, departed, diff_snapshots, replacements
from pooltui.analysis.timeline import events_between
from pooltui.model import Event, Process, Snapshot

MAX_EVENTS = 500
LINGER = 30.0  # seconds an exited or replaced process stays in the tree, dimmed


@dataclass(frozen=True)
class Departed:
    """A process that left the tree: as last seen alive, when, and how ("exited", "replaced")."""

    process: Process
    left: float
    how: str


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
    departed: dict[tuple[int, float], Departed] = field(default_factory=dict)

    @classmethod
    def replay(cls, snapshots: Sequence[Snapshot], events: Sequence[Event] = (), live: bool = False) -> Session:
        """A session that starts with recorded history (a report's timeline)."""
        session = cls(live=live)
        for s in snapshots:
            session.add(s)
        session._log(events)
        return session

    def add(self, snapshot: Snapshot) -> list[Event]:
        """Make ``snapshot`` current; return the events it brings (the source's own, or
        the process appearances/exits implied by comparing it with the previous one)."""
        new = list(snapshot.events)
        if self.current is not None and self.current.created != snapshot.created:
            diff = diff_snapshots(self.current, snapshot)
            if not new:
                new = list(events_between(self.current, snapshot))
            self._remember_departed(diff)
        root = snapshot.process(snapshot.root_pid)
        if self.current is not None and (root is None or root.status == "zombie"):
            # the root died (a zombie not yet reaped): what it left is not worth showing;
            # keep the last real snapshot on screen, as when the capture says it is gone
            self.target_gone = True
            return self._log(new)
        if self.current is not None and self.current.created != snapshot.created:
            self.previous = self.current
        self.current = snapshot
        self.last_error = ""
        return self._log(new)

    def _remember_departed(self, diff: SnapshotDiff) -> None:
        heirs = {old.key: new for old, new in replacements(diff)}
        for alive, ended in departed(diff):
            if ended is None or ended.status != "zombie":  # a zombie stays in the snapshot itself, with its badge
                heir = heirs.get(alive.key)
                parts = ([] if ended is None else [ended.exit_text]) + ([f"replaced by {heir.pid}"] if heir is not None else [])
                how = ", ".join(parts) or "exited"
                self.departed[alive.key] = Departed(alive, diff.after.created, how)
        for p in diff.removed:  # a reaped zombie: show it as it was last seen alive, if it was
            self.departed.setdefault(p.key, Departed(p, diff.after.created, "exited"))
        horizon = diff.after.created - LINGER
        for key in [k for k, d in self.departed.items() if d.left < horizon]:
            del self.departed[key]

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
        return diff_snapshots(base, self.current)

    def last_diff(self) -> Optional[SnapshotDiff]:
        """Previous -> current (for CPU % between refreshes), whatever is marked."""
        if self.previous is None or self.current is None:
            return None
        return diff_snapshots(self.previous, self.current)

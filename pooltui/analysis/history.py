"""The samples of one tree over time and what changed between each two: one ``History``
is what the live source judges over time (``analysis.timeline``), what the TUI session
shows (events, processes that left the tree, CPU between refreshes) and what a replayed
report with several samples is.

A ``History`` is immutable: ``then(snapshot)`` is the history with one more sample, whose
diff against the last one (``analysis.diff``), events, departed processes and index by
process identity are computed there, once; the samples before keep theirs. At most
``keep`` samples are kept; a process that left stays in ``departed`` for ``linger``
seconds after the sample that saw it gone, however many samples that spans.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import cached_property
from typing import Optional, Union, overload

from pooltui.analysis.diff import Key, SnapshotDiff, by_key, diff_events, diff_snapshots
from pooltui.model import Event, Process, ProcessStatus, Snapshot, Timeline
from pooltui.model.record import Record, replace

HISTORY = 20  # samples kept for the verdicts over time; errors already found are carried on beyond it
LINGER = 30.0  # seconds a process that left the tree is remembered (the TUI shows it, dimmed)


class Departed(Record, frozen=True):
    """A process that left the tree: as last seen alive, when (the first sample without
    it alive), and how ("killed by SIGKILL, replaced by 123", "exited")."""

    process: Process
    left: float
    how: str


class Step:
    """One sample, its processes by identity, and what changed since the sample before it
    (``diff`` is None for the first sample ever). Equal when their snapshots are."""

    __slots__ = ("__dict__", "by_key", "diff", "snapshot")  # __dict__: for the cached events

    def __init__(self, snapshot: Snapshot, by_key: Mapping[Key, Process], diff: Optional[SnapshotDiff] = None) -> None:
        self.snapshot, self.by_key, self.diff = snapshot, by_key, diff

    def __eq__(self, other: object) -> bool:
        return other.__class__ is self.__class__ and self.snapshot == other.snapshot

    __hash__ = None  # type: ignore[assignment]  # a snapshot holds dicts: never hashable

    @cached_property
    def events(self) -> tuple[Event, ...]:
        """What happened since the sample before (``diff.diff_events``): computed from the
        diff, whatever events the snapshot itself carries."""
        return diff_events(self.diff) if self.diff is not None else ()


class History(Sequence[Snapshot]):
    """The last ``keep`` samples of one tree (oldest first), each with its ``Step``, and the
    processes that left it within ``linger`` seconds. A ``Sequence`` of snapshots, so a
    verdict over samples takes a History or a plain list alike."""

    __slots__ = ("_departed", "_steps", "keep", "linger")

    def __init__(self, samples: Iterable[Snapshot] = (), *, keep: int = HISTORY, linger: float = LINGER) -> None:
        self.keep, self.linger = max(1, keep), linger
        self._steps: tuple[Step, ...] = ()
        self._departed: dict[Key, Departed] = {}
        for s in samples:
            self._push(s)

    # -- growing -----------------------------------------------------------------------
    def then(self, snapshot: Snapshot) -> History:
        """This history with ``snapshot`` (newer than every sample) as its latest sample."""
        grown = self._copy()
        grown._push(snapshot)
        return grown

    def settled(self, snapshot: Snapshot) -> History:
        """This history with its latest sample replaced by ``snapshot``: the same capture with
        its events and verdicts over time added (``timeline.conclude``), the same processes,
        so its diff and departures stand (re-pointed at it, for the verdicts it compares)."""
        last = self._steps[-1]
        if snapshot.processes is not last.snapshot.processes:
            raise ValueError("settled() takes the latest sample with the same processes")
        step = Step(snapshot, last.by_key, replace(last.diff, after=snapshot) if last.diff is not None else None)
        if "events" in last.__dict__:
            step.__dict__["events"] = last.events  # the same diff: the same events
        out = self._copy()
        out._steps = (*self._steps[:-1], step)
        return out

    def _copy(self) -> History:
        out = History(keep=self.keep, linger=self.linger)
        out._steps, out._departed = self._steps, self._departed
        return out

    def _push(self, snapshot: Snapshot) -> None:
        index = by_key(snapshot)
        last = self._steps[-1] if self._steps else None
        diff = diff_snapshots(last.snapshot, snapshot, last.by_key, index) if last is not None else None
        self._steps = (*self._steps[-(self.keep - 1) :], Step(snapshot, index, diff)) if self.keep > 1 else (Step(snapshot, index, diff),)
        if diff is not None:
            self._departed = _remember(self._departed, diff, self.linger)

    # -- reading -----------------------------------------------------------------------
    @property
    def steps(self) -> tuple[Step, ...]:
        return self._steps

    @property
    def latest(self) -> Optional[Snapshot]:
        return self._steps[-1].snapshot if self._steps else None

    @property
    def diffs(self) -> tuple[SnapshotDiff, ...]:
        """The diff of each two consecutive samples kept, oldest first."""
        return tuple(s.diff for s in self._steps[1:] if s.diff is not None)

    @property
    def last_diff(self) -> Optional[SnapshotDiff]:
        """The sample before the latest -> the latest (None with fewer than two samples kept)."""
        return self._steps[-1].diff if len(self._steps) >= 2 else None

    @property
    def departed(self) -> Mapping[Key, Departed]:
        """Processes that left the tree less than ``linger`` seconds before the latest sample
        (as of the sample that saw them go); a zombie is not among them while it is still in
        the snapshot, with its badge."""
        return self._departed

    def trail(self, key: Key) -> Iterator[tuple[Snapshot, Process]]:
        """The process of identity ``key`` in each sample, newest first, while it is there."""
        for step in reversed(self._steps):
            p = step.by_key.get(key)
            if p is None:
                return
            yield step.snapshot, p

    def process(self, index: int, key: Key) -> Optional[Process]:
        """Sample ``index``'s process of identity ``key``."""
        return self._steps[index].by_key.get(key)

    def as_timeline(self) -> Timeline:
        """The samples kept and the events they carry (what a report saves)."""
        samples = tuple(self)
        return Timeline(snapshots=samples, events=tuple(e for s in samples for e in s.events))

    @overload
    def __getitem__(self, i: int) -> Snapshot: ...
    @overload
    def __getitem__(self, i: slice) -> tuple[Snapshot, ...]: ...
    def __getitem__(self, i: Union[int, slice]) -> Union[Snapshot, tuple[Snapshot, ...]]:
        if isinstance(i, slice):
            return tuple(s.snapshot for s in self._steps[i])
        return self._steps[i].snapshot

    def __len__(self) -> int:
        return len(self._steps)

    def __iter__(self) -> Iterator[Snapshot]:
        return (s.snapshot for s in self._steps)

    def __repr__(self) -> str:
        return f"History({len(self)} samples, {len(self._departed)} departed)"


def as_history(samples: Union[History, Sequence[Snapshot]]) -> History:
    return samples if isinstance(samples, History) else History(samples)


def _remember(known: Mapping[Key, Departed], diff: SnapshotDiff, linger: float) -> dict[Key, Departed]:
    """``known`` with the processes that left in ``diff`` (as last seen alive), without those
    that left more than ``linger`` seconds before it."""
    out = dict(known)
    heirs = diff.heirs
    for alive, ended in diff.departed:
        if ended is None or ended.status != ProcessStatus.ZOMBIE:  # a zombie stays in the snapshot itself, with its badge
            heir = heirs.get(alive.key)
            parts = ([] if ended is None else [ended.exit_text]) + ([f"replaced by {heir.pid}"] if heir is not None else [])
            out[alive.key] = Departed(alive, diff.after.created, ", ".join(parts) or "exited")
    for p in diff.removed:  # a reaped zombie: shown as it was last seen alive, if it was
        out.setdefault(p.key, Departed(p, diff.after.created, "exited"))
    horizon = diff.after.created - linger
    return {k: d for k, d in out.items() if d.left >= horizon}

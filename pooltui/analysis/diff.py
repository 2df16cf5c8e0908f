"""Compare two snapshots of one tree: which processes appeared, vanished or stayed, and
for each process that stayed, which threads kept the same stack and which moved.

A process is the same process when its identity ``(pid, create_time)`` matches (a reused
pid is a new process); a thread is the same thread when its OS thread id matches within
that process. Two stacks are the same when every frame is at the same function, file and
line: locals and source text may differ without the thread having moved.

A diff also says which processes ended (``departed``: as last seen alive and as they
ended, when knowable) and which workers replaced them, each computed once per diff, and
the events between its two snapshots (``diff_events``). ``analysis.history`` keeps one
diff per sample, so nothing here runs twice for the same two samples.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import Enum
from functools import cached_property
from typing import Optional

from pooltui.model import Diagnosis, Event, EventKind, Frame, Process, ProcessStatus, Snapshot, Thread, exit_text
from pooltui.model.record import Record, replace

Key = tuple[int, float]  # a process's identity: (pid, create_time)


class Change(str, Enum):
    SAME = "same"
    CHANGED = "changed"
    NEW = "new"
    GONE = "gone"


class ThreadDiff(Record, frozen=True):
    tid: int
    change: Change
    before: Optional[Thread] = None
    after: Optional[Thread] = None

    @property
    def thread(self) -> Thread:
        """The newest view of the thread (the old one when it is gone)."""
        found = self.after or self.before
        assert found is not None
        return found

    @property
    def first_difference(self) -> Optional[int]:
        """For a changed stack: how many frames from the outermost end are shared, so
        ``len(after.frames) - shared`` innermost frames are new."""
        if self.change is not Change.CHANGED or self.before is None or self.after is None:
            return None
        shared = 0
        for old, new in zip(reversed(self.before.frames), reversed(self.after.frames)):
            if _position(old) != _position(new):
                break
            shared += 1
        return shared


class ProcessDiff(Record, frozen=True):
    before: Process
    after: Process
    threads: tuple[ThreadDiff, ...] = ()

    @property
    def pid(self) -> int:
        return self.after.pid

    @property
    def moved(self) -> bool:
        """Some thread changed stack, started or ended."""
        return any(t.change is not Change.SAME for t in self.threads)

    def count(self, change: Change) -> int:
        return sum(1 for t in self.threads if t.change is change)

    def cpu_percent(self, seconds: float) -> Optional[float]:
        """CPU use between the two snapshots, as ``top`` shows it (100 = one full CPU)."""
        if seconds <= 0 or self.before.cpu_time is None or self.after.cpu_time is None:
            return None
        return max(0.0, (self.after.cpu_time - self.before.cpu_time) / seconds * 100.0)


class SnapshotDiff(Record, frozen=True, dict=True):  # dict: a place for its cached properties
    before: Snapshot
    after: Snapshot
    added: tuple[Process, ...] = ()
    removed: tuple[Process, ...] = ()
    kept: tuple[ProcessDiff, ...] = ()

    @property
    def seconds(self) -> float:
        return self.after.created - self.before.created

    def process(self, pid: int) -> Optional[ProcessDiff]:
        return self._kept_by_pid.get(pid)

    @cached_property
    def _kept_by_pid(self) -> dict[int, ProcessDiff]:  # asked for every row of the tree on each redraw
        return {p.pid: p for p in self.kept}

    @cached_property
    def departed(self) -> tuple[tuple[Process, Optional[Process]], ...]:
        """``departed(self)``, computed once: the history, the events and the verdicts over
        time all ask."""
        return _departed(self)

    @cached_property
    def replacements(self) -> tuple[tuple[Process, Process], ...]:
        return _replacements(self)

    @property
    def heirs(self) -> dict[Key, Process]:
        """Each replaced worker's identity -> the worker that took its place."""
        return {old.key: new for old, new in self.replacements}

    @property
    def new_diagnoses(self) -> tuple[Diagnosis, ...]:
        """Verdicts of ``after`` that ``before`` did not have (same kind, pids and threads)."""
        old = {_verdict(d) for d in self.before.diagnoses}
        return tuple(d for d in self.after.diagnoses if _verdict(d) not in old)

    @property
    def resolved_diagnoses(self) -> tuple[Diagnosis, ...]:
        new = {_verdict(d) for d in self.after.diagnoses}
        return tuple(d for d in self.before.diagnoses if _verdict(d) not in new)

    @property
    def changed(self) -> bool:
        """Anything at all differs: processes, their state, any stack, the verdicts."""
        return bool(
            self.added
            or self.removed
            or self.new_diagnoses
            or self.resolved_diagnoses
            or any(p.moved or p.before.status != p.after.status or p.before.role != p.after.role for p in self.kept)
        )


def _verdict(d: Diagnosis) -> tuple[str, tuple[int, ...], tuple[int, ...]]:
    return (d.kind, tuple(sorted(d.pids)), tuple(sorted(d.tids)))


def _position(frame: Frame) -> tuple[str, str, int, bool]:
    return (frame.function, frame.file, frame.line, frame.native)


def same_stack(a: Thread, b: Thread) -> bool:
    """The same Python frames: native frames (`--native`, switched on and off with `n`) are
    not the thread's position, so turning them on never makes a stuck thread look moved."""
    if a.frames is b.frames:  # a process kept from the previous dump (Process.reused) shares its frames
        return True
    return [_position(f) for f in a.frames if not f.native] == [_position(f) for f in b.frames if not f.native]


def diff_threads(before: Iterable[Thread], after: Iterable[Thread]) -> tuple[ThreadDiff, ...]:
    """Threads in the order of ``after`` (then the vanished ones), each with its change."""
    old = {t.tid: t for t in before}
    out = []
    for t in after:
        prev = old.pop(t.tid, None)
        if prev is None:
            out.append(ThreadDiff(t.tid, Change.NEW, None, t))
        else:
            out.append(ThreadDiff(t.tid, Change.SAME if same_stack(prev, t) else Change.CHANGED, prev, t))
    out.extend(ThreadDiff(t.tid, Change.GONE, t, None) for t in old.values())
    return tuple(out)


def diff_process(before: Process, after: Process) -> ProcessDiff:
    return ProcessDiff(before, after, diff_threads(before.threads, after.threads))


def by_key(s: Snapshot) -> dict[Key, Process]:
    return {p.key: p for p in s.processes}


def diff_snapshots(
    a: Snapshot, b: Snapshot, old: Optional[Mapping[Key, Process]] = None, new: Optional[Mapping[Key, Process]] = None
) -> SnapshotDiff:
    """What changed from ``a`` (older) to ``b`` (newer); ``old``/``new``: their processes by
    identity (``by_key``), when the caller has them already."""
    old = by_key(a) if old is None else old
    new = by_key(b) if new is None else new
    return SnapshotDiff(
        before=a,
        after=b,
        added=tuple(p for k, p in new.items() if k not in old),
        removed=tuple(p for k, p in old.items() if k not in new),
        kept=tuple(diff_process(old[k], p) for k, p in new.items() if k in old),
    )


def _name(p: Process) -> str:
    return f"{p.role_label} (pid {p.pid})"


def departed(diff: SnapshotDiff) -> tuple[tuple[Process, Optional[Process]], ...]:
    """Processes that ended between the two snapshots (``_departed``; kept by the diff)."""
    return diff.departed


def _departed(diff: SnapshotDiff) -> tuple[tuple[Process, Optional[Process]], ...]:
    """Processes that ended between the two snapshots, each as last seen alive and as it
    ended: the zombie it is now, or (gone: reaped) with the status the kernel reported at
    its exit (``Snapshot.exits``); None when that is not known."""
    reported = {e.pid: e for e in diff.after.exits if e.at >= diff.before.created}

    def ended(p: Process) -> Optional[Process]:
        e = reported.get(p.pid)
        return replace(p, status=ProcessStatus.DEAD, exit_code=e.status) if e is not None else None

    out: list[tuple[Process, Optional[Process]]] = [(p, ended(p)) for p in diff.removed if p.status != ProcessStatus.ZOMBIE]
    out.extend((pd.before, pd.after) for pd in diff.kept if pd.after.status == ProcessStatus.ZOMBIE and pd.before.status != ProcessStatus.ZOMBIE)
    return tuple(out)


def replacements(diff: SnapshotDiff) -> tuple[tuple[Process, Process], ...]:
    """(ended worker, new worker): a pool/executor worker ended and a worker appeared
    under the same parent (what Pool does when a worker dies or is recycled)."""
    return diff.replacements


def _replacements(diff: SnapshotDiff) -> tuple[tuple[Process, Process], ...]:
    fresh = sorted((p for p in diff.added if p.role.endswith("worker") and p.status != ProcessStatus.ZOMBIE), key=lambda p: (p.create_time, p.pid))
    pairs = []
    for old, _ in diff.departed:
        heir = next((p for p in fresh if p.ppid == old.ppid), None) if old.role.endswith("worker") else None
        if heir is not None:
            fresh.remove(heir)
            pairs.append((old, heir))
    return tuple(pairs)


def process_events(diff: SnapshotDiff) -> tuple[Event, ...]:
    """The process events two snapshots imply: new, exited (with the exit status when it
    is knowable: a zombie's, or the kernel's report of the exit, see ``departed``),
    reaped, and a worker replaced."""
    when = diff.after.created
    events: list[Event] = []
    heirs = diff.heirs
    for alive, zombie in diff.departed:
        how = zombie.exit_text if zombie is not None else "exit status unknown (reaped before it could be seen)"
        events.append(Event(when, EventKind.PROCESS_EXITED, alive.pid, f"{_name(alive)} exited: {how}"))
        heir = heirs.get(alive.key)
        if heir is not None:
            events.append(Event(when, EventKind.WORKER_REPLACED, heir.pid, f"{_name(alive)} replaced by {_name(heir)}"))
    for p in diff.removed:
        if p.status == ProcessStatus.ZOMBIE:
            events.append(Event(when, EventKind.PROCESS_REAPED, p.pid, f"pid {p.pid} ({p.exit_text}) was reaped by its parent"))
    replaced = {new.key for new in heirs.values()}
    for p in diff.added:
        if p.key in replaced:
            continue
        if p.status == ProcessStatus.ZOMBIE:
            events.append(Event(when, EventKind.PROCESS_EXITED, p.pid, f"pid {p.pid} appeared and exited between samples: {p.exit_text}"))
        else:
            events.append(Event(when, EventKind.PROCESS_NEW, p.pid, f"{_name(p)} appeared"))
    seen = {p.pid for p in (*diff.before.processes, *diff.after.processes)}
    parents = {p.pid: p for p in diff.after.processes}
    for e in diff.after.exits:  # a child forked and ended between two samples: only the kernel saw it
        if e.at >= diff.before.created and e.pid not in seen and e.ppid in parents:
            detail = f"pid {e.pid}, a child of {_name(parents[e.ppid])}, appeared and exited between samples: {exit_text(e.status)}"
            events.append(Event(e.at, EventKind.PROCESS_EXITED, e.pid, detail))
    return tuple(events)


def _readable(p: Process) -> bool:
    return p.error is None and bool(p.threads) and p.status != ProcessStatus.ZOMBIE


def _thread(t: Thread) -> str:
    return f"'{t.name}' (tid {t.tid})" if t.name else f"tid {t.tid}"


def thread_events(diff: SnapshotDiff) -> list[Event]:
    when, out = diff.after.created, []
    for pd in diff.kept:
        if not (_readable(pd.before) and _readable(pd.after)):
            continue  # unreadable on one side: its threads did not come and go
        for t in pd.threads:
            if t.thread.ghost:
                continue
            if t.change.value == "new":
                out.append(Event(when, EventKind.THREAD_NEW, pd.pid, f"{pd.after.role_label} (pid {pd.pid}): thread {_thread(t.thread)} started"))
            elif t.change.value == "gone":
                out.append(Event(when, EventKind.THREAD_GONE, pd.pid, f"{pd.after.role_label} (pid {pd.pid}): thread {_thread(t.thread)} ended"))
    return out


def role_events(diff: SnapshotDiff) -> list[Event]:
    return [
        Event(diff.after.created, EventKind.ROLE_CHANGED, pd.pid, f"pid {pd.pid}: {pd.before.role_label} → {pd.after.role_label}")
        for pd in diff.kept
        if pd.before.role != pd.after.role and _readable(pd.before) and _readable(pd.after)
    ]


def diff_events(diff: SnapshotDiff) -> tuple[Event, ...]:
    """Everything that happened from ``diff.before`` to ``diff.after``: processes (``process_events``),
    role changes, threads that started or ended."""
    return (*process_events(diff), *role_events(diff), *thread_events(diff))

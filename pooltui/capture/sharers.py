"""Who could post the process-shared futex a thread sleeps on without a timeout: a
multiprocessing Event, Condition, Semaphore or Queue slot is a POSIX semaphore in a
``/dev/shm`` file unlinked at once, so only processes that map that file can post it (fork
children inherit the mapping; spawn children map it when they unpickle it). Which processes
of the tree map it is read from their memory maps (``capture.semlocks``: by device and
inode, whatever address each maps it at); nothing of their memory is read.
Any failure leaves the thread as it was."""

from __future__ import annotations

from typing import Optional

from pooltui.capture import memory, semlocks
from pooltui.capture.errors import CaptureError
from pooltui.model import Process, ProcessStatus, Snapshot, Thread
from pooltui.model.record import replace


def waiting(snapshot: Snapshot) -> bool:
    return any(t.asleep_on_shared for p in snapshot.processes for t in p.threads)


def with_sharers(snapshot: Snapshot) -> Snapshot:
    """``snapshot`` with ``Thread.shared_by`` on every thread asleep so."""
    if not waiting(snapshot):
        return snapshot
    live = [p for p in snapshot.processes if p.error is None and p.status != ProcessStatus.ZOMBIE]
    known: dict[str, tuple[int, ...]] = {}  # one semaphore's sharers, for all its waiters
    processes = []
    for p in snapshot.processes:
        threads = tuple(_with(p, t, live, known) if t.asleep_on_shared else t for t in p.threads)
        processes.append(p if all(a is b for a, b in zip(threads, p.threads)) else replace(p, threads=threads))
    return snapshot.with_(processes=tuple(processes))


def _with(p: Process, t: Thread, live: list[Process], known: dict[str, tuple[int, ...]]) -> Thread:
    assert t.futex is not None
    try:
        place: Optional[semlocks.ShmPlace] = semlocks.shm_place(memory.read_maps(p.pid), t.futex)
    except CaptureError:
        return t
    if place is None:
        return t  # shared, but not in a /dev/shm file (an mmap of another file, anonymous shared memory): who maps it is not read
    if place.identity not in known:
        known[place.identity] = tuple(q.pid for q in live if q.pid == p.pid or semlocks.maps(q.pid, place))
    return replace(t, shared_by=known[place.identity])

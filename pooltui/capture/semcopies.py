"""The waited multiprocessing lock or semaphore as every other process of the tree sees
it (``capture.semlocks``: matched by the ``/dev/shm`` file under it), one ``Lock`` record
per copy: fork, spawn and forkserver children alike."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

from pooltui.capture import memory, procs, semlocks
from pooltui.capture.errors import CaptureError
from pooltui.capture.waited import record
from pooltui.model import Lock, LockKind, Snapshot
from pooltui.model.record import replace

_UNREAD = memory.LockObject(0, "_multiprocessing.SemLock", "semlock", None, None, None, None, None, None)


def _place_of(lock: Lock, snapshot: Snapshot) -> Optional[semlocks.ShmPlace]:
    proc = snapshot.process(lock.pid)
    version = procs.version_tuple(proc.python) if proc is not None else None
    if version is None:
        return None
    with memory.TargetMemory(lock.pid, version) as mem:
        obj = mem.read_lock(lock.addr)
    if obj is None or obj.sem_addr is None:
        return None
    return semlocks.shm_place(memory.read_maps(lock.pid), obj.sem_addr)


def sibling_semlocks(snapshot: Snapshot, waited: Sequence[Lock]) -> list[Lock]:
    """The same multiprocessing lock or semaphore as seen by every other process of the
    tree, matched by the ``/dev/shm`` file under it (``capture.semlocks``): fork, spawn
    and forkserver children alike. Each copy's per-process ``count`` and ``last_tid``
    say which processes hold it."""
    out: list[Lock] = []
    seen = {(lock.pid, lock.addr) for lock in waited}
    done: set[str] = set()
    for lock in waited:
        if lock.kind != LockKind.SEMLOCK or not (lock.sem or "").startswith("shm:") or lock.sem in done:
            continue
        done.add(lock.sem or "")
        try:
            place = _place_of(lock, snapshot)
        except CaptureError:
            continue
        if place is None:
            continue
        group = [g for g in waited if g.sem == lock.sem]
        for proc in snapshot.processes:
            version = procs.version_tuple(proc.python)
            if version is None or proc.error is not None or any(g.pid == proc.pid for g in group):
                continue
            if semlocks.acquisitions_unaccounted(group) == 0:
                break  # every acquisition the semaphore's value counts is explained
            try:
                found = semlocks.copies_in(proc.pid, proc.create_time, version, place, lock.addr)
            except CaptureError:
                found = None
            if not found:
                if found is None or semlocks.maps(proc.pid, place):
                    # it has the semaphore but its copy was not read: it may be the holder
                    unread = replace(record(proc.pid, _UNREAD, lock.name, "", lock.sem), addr=0, count=None, locked=None)
                    group.append(unread)
                    out.append(unread)
                continue
            for obj in found:
                if (proc.pid, obj.addr) in seen:
                    continue
                seen.add((proc.pid, obj.addr))
                copy = record(proc.pid, obj, lock.name, "", lock.sem)
                group.append(copy)
                out.append(copy)
    return out

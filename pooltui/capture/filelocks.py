"""Who holds the lock on a file a thread waits for in ``flock()`` or ``fcntl(F_SETLKW)``,
read from the kernel's table of file locks (``/proc/locks``).

A waiter has a line of its own there ("->", with its pid and the file's inode), numbered as
the lock it is blocked behind; the holders of that file are the other lines on the same
inode whose lock is in the way: any lock on the file for an exclusive request, a write lock
for a shared one, and for record locks only those whose byte range meets the waiter's. Which
file the thread waits on is its fd's (``fdinfo``'s inode); its name is the fd's link. Nothing
is opened or stat'ed: a file on a hung network file system cannot hang the capture.
Any failure leaves the thread as it was."""

from __future__ import annotations

from typing import Optional

from pooltui.capture import procfs
from pooltui.capture.errors import CaptureError
from pooltui.capture.procfs import FileLockEntry
from pooltui.model import FileLockWait, Process, Snapshot, Thread
from pooltui.model.record import replace

_KINDS = {"FLOCK": "flock", "POSIX": "posix", "OFDLCK": "ofd"}
MAX_HOLDERS = 8  # pids named per waiter, at most


def waiting(snapshot: Snapshot) -> bool:
    """A live thread of the tree is blocked waiting for a file lock."""
    return any(t.awaits_file_lock for p in snapshot.processes for t in p.threads)


def with_file_locks(snapshot: Snapshot) -> Snapshot:
    """``snapshot`` with ``Thread.file_lock`` on every thread blocked waiting for a file lock."""
    if not waiting(snapshot):
        return snapshot
    try:
        table = procfs.locks()
    except CaptureError:
        return snapshot
    return snapshot.with_(processes=tuple(_process(p, table) for p in snapshot.processes))


def _process(p: Process, table: list[FileLockEntry]) -> Process:
    threads = tuple(replace(t, file_lock=found) if t.awaits_file_lock and (found := _wait_of(p.pid, t, table)) else t for t in p.threads)
    return p if all(a is b for a, b in zip(threads, p.threads)) else replace(p, threads=threads)


def _wait_of(pid: int, t: Thread, table: list[FileLockEntry]) -> Optional[FileLockWait]:
    if t.fd is None:
        return None
    try:
        inode = procfs.fdinfo(pid, t.fd).inode
    except CaptureError:
        return None
    kind = "flock" if t.syscall == "flock" else None
    mine = [e for e in table if e.blocked and e.pid in (pid, -1) and (inode is None or e.inode == inode) and (kind is None or e.kind == "FLOCK")]
    if not mine or (inode is None and len({(e.dev, e.inode) for e in mine}) > 1):
        return None  # not (yet) in the table, or which of its files is not known
    me = mine[0]
    holders = [e for e in table if not e.blocked and (e.dev, e.inode) == (me.dev, me.inode) and _in_the_way(e, me, pid)]
    try:
        path = procfs.fd_target(pid, t.fd)
    except CaptureError:
        path = ""
    pids = tuple(dict.fromkeys(e.pid for e in holders))[:MAX_HOLDERS]
    return FileLockWait(kind=_KINDS.get(me.kind, me.kind.lower()), exclusive=me.exclusive, path=path, holders=pids, start=me.start, end=me.end)


def _in_the_way(held: FileLockEntry, wanted: FileLockEntry, pid: int) -> bool:
    """``held`` conflicts with the lock ``wanted`` asks for (both of the same family: flock
    and record locks do not see each other on Linux)."""
    if (held.kind == "FLOCK") != (wanted.kind == "FLOCK") or held.kind in ("LEASE", "DELEG"):
        return False
    if not (held.exclusive or wanted.exclusive):
        return False
    if wanted.kind == "POSIX" and held.kind == "POSIX" and held.pid == pid:
        return False  # a process's own record locks never block it (they merge)
    if wanted.kind == "FLOCK":
        return True
    return (held.end is None or held.end >= wanted.start) and (wanted.end is None or wanted.end >= held.start)

"""What the kernel says about a process: each thread's current syscall (the futex a
blocked thread sleeps on) and the memory map (shared semaphores). Reads ``/proc`` only,
through ``capture.procfs`` (where ``Syscall``, ``Mapping`` and their parsers live)."""

from __future__ import annotations

from typing import Optional

from pooltui.capture import procfs
from pooltui.capture.errors import ProcessGone
from pooltui.capture.procfs import Mapping, Syscall, parse_maps
from pooltui.capture.procfs import parse_syscall as _parse_syscall

__all__ = [
    "Mapping",
    "Syscall",
    "_parse_syscall",
    "alive",
    "parse_maps",
    "read_maps",
    "semaphore_identity",
    "thread_syscalls",
]

read_maps = procfs.maps


def thread_syscalls(pid: int) -> dict[int, Syscall]:
    """TID -> what that thread is doing in the kernel, for every task of ``pid``.

    Tasks that exit while being read are left out. Reading needs ptrace access to the
    process (root, or same user with a permissive Yama scope)."""
    out: dict[int, Syscall] = {}
    for tid in sorted(procfs.tids(pid)):
        try:
            call = procfs.syscall(pid, tid)
        except ProcessGone:
            continue  # the thread exited
        if call is not None:
            out[tid] = call
    if not out and not procfs.exists(pid):
        raise ProcessGone(f"process {pid} exited", pid=pid)
    return out


def semaphore_identity(pid: int, addr: int) -> Optional[tuple[int, int, str]]:
    """(dev, inode, path) of the shared ``/dev/shm`` mapping holding ``addr`` in ``pid``:
    the identity of a multiprocessing semaphore across processes (fork keeps the
    address, spawn does not; the inode is the same either way). None for private memory."""
    for m in read_maps(pid):
        if m.contains(addr):
            if len(m.perms) >= 4 and m.perms[3] == "s" and m.inode and m.path.startswith("/dev/shm/"):
                return (m.dev, m.inode, m.path)
            return None
    return None


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (its memory is still there)."""
    fields = procfs.stat_fields(pid)
    return bool(fields) and fields[0][:1] not in (b"Z", b"X", b"x")  # type: ignore[index]

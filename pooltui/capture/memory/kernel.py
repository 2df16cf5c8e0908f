"""What the kernel says about a process: each thread's current syscall (the futex a
blocked thread sleeps on) and the memory map (shared semaphores). Reads ``/proc`` only."""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from typing import Optional

from pooltui.capture import state
from pooltui.capture.errors import CaptureError, PermissionDenied, ProcessGone

SYS_FUTEX_X86_64 = 202
FUTEX_PRIVATE_FLAG = 0x80
FUTEX_CLOCK_REALTIME = 0x100
# FUTEX_WAIT, FUTEX_LOCK_PI, FUTEX_WAIT_BITSET, FUTEX_WAIT_REQUEUE_PI, FUTEX_LOCK_PI2
_FUTEX_WAIT_CMDS = frozenset({0, 6, 9, 11, 13})


@dataclass(frozen=True)
class Syscall:
    """One thread's ``/proc/PID/task/TID/syscall``: ``running``, ``-1 SP PC`` (blocked
    outside a syscall) or ``NR ARG0..ARG5 SP PC``."""

    tid: int
    nr: Optional[int]  # None: running; -1: blocked outside a syscall
    args: tuple[int, ...] = ()
    sp: Optional[int] = None
    pc: Optional[int] = None

    @property
    def futex_op(self) -> Optional[int]:
        if self.nr == SYS_FUTEX_X86_64 and len(self.args) >= 2:
            return self.args[1]
        return None

    @property
    def futex_addr(self) -> Optional[int]:
        """The futex word a thread sleeps on (a glibc ``sem_t`` for CPython locks), only
        for wait operations; None otherwise (wake, requeue, not in futex)."""
        op = self.futex_op
        if op is None or (op & ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)) not in _FUTEX_WAIT_CMDS:
            return None
        return self.args[0]

    @property
    def shared(self) -> Optional[bool]:
        """True for a process-shared futex (no FUTEX_PRIVATE_FLAG: a multiprocessing
        semaphore in shared memory), False for a private one, None when not waiting."""
        if self.futex_addr is None:
            return None
        return not (self.futex_op or 0) & FUTEX_PRIVATE_FLAG


def _parse_syscall(tid: int, text: str) -> Optional[Syscall]:
    text = text.strip()
    if not text:
        return None
    if text == "running":
        return Syscall(tid, None)
    try:
        nums = [int(part, 0) for part in text.split()]
    except ValueError:
        return None
    nr = nums[0]
    if nr == -1:
        return Syscall(tid, -1, (), nums[1] if len(nums) > 1 else None, nums[2] if len(nums) > 2 else None)
    if len(nums) >= 9:
        return Syscall(tid, nr, tuple(nums[1:7]), nums[7], nums[8])
    return Syscall(tid, nr, tuple(nums[1:]))


def thread_syscalls(pid: int) -> dict[int, Syscall]:
    """TID -> what that thread is doing in the kernel, for every task of ``pid``.

    Tasks that exit while being read are left out. Reading needs ptrace access to the
    process (root, or same user with a permissive Yama scope)."""
    task_dir = f"/proc/{pid}/task"
    try:
        tids = sorted(int(name) for name in os.listdir(task_dir) if name.isdigit())
    except (FileNotFoundError, ProcessLookupError):
        raise ProcessGone(f"process {pid} exited", pid=pid) from None
    except PermissionError as exc:
        raise PermissionDenied(f"cannot list the threads of process {pid}", pid=pid, detail=str(exc)) from None
    out: dict[int, Syscall] = {}
    for tid in tids:
        try:
            with open(f"{task_dir}/{tid}/syscall", "rb") as handle:
                raw = handle.read()
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread exited
        except PermissionError as exc:
            raise PermissionDenied(f"cannot read what the threads of process {pid} wait on", pid=pid, detail=str(exc)) from None
        except OSError as exc:
            if exc.errno == errno.ESRCH:
                continue
            raise CaptureError(f"cannot read /proc/{pid}/task/{tid}/syscall: {exc}", pid=pid) from None
        call = _parse_syscall(tid, raw.decode("ascii", "replace"))
        if call is not None:
            out[tid] = call
    if not out and not os.path.exists(f"/proc/{pid}"):
        raise ProcessGone(f"process {pid} exited", pid=pid)
    return out


# --------------------------------------------------------------------------- /proc/PID/maps


@dataclass(frozen=True)
class Mapping:
    start: int
    end: int
    perms: str
    offset: int
    dev: int
    inode: int
    path: str

    def contains(self, addr: int) -> bool:
        return self.start <= addr < self.end


def read_maps(pid: int) -> list[Mapping]:
    try:
        with open(f"/proc/{pid}/maps", "rb") as handle:
            raw = handle.read().decode("utf-8", "replace")
    except (FileNotFoundError, ProcessLookupError):
        raise ProcessGone(f"process {pid} exited", pid=pid) from None
    except PermissionError as exc:
        raise PermissionDenied(f"cannot read the memory map of process {pid}", pid=pid, detail=str(exc)) from None
    # maps text -> its (immutable) mappings, in the capture's state: a pure function of
    # the text just read from this process; the 64 workers of a fork pool have
    # byte-identical maps, parsed once instead of 64 times (~0.3 ms each)
    cache = state.current().maps
    parsed = cache.get(raw)
    if parsed is None:
        parsed = cache.put(raw, tuple(parse_maps(raw)))
    if not parsed and not os.path.exists(f"/proc/{pid}"):
        raise ProcessGone(f"process {pid} exited", pid=pid)
    return list(parsed)


def parse_maps(raw: str) -> list[Mapping]:
    """The lines of a /proc/PID/maps text that parse (others are skipped)."""
    out = []
    for line in raw.splitlines():
        parts = line.split(None, 5)
        if len(parts) < 5:
            continue
        lo, _, hi = parts[0].partition("-")
        major, _, minor = parts[3].partition(":")
        try:
            out.append(
                Mapping(
                    int(lo, 16),
                    int(hi, 16),
                    parts[1],
                    int(parts[2], 16),
                    os.makedev(int(major, 16), int(minor, 16)),
                    int(parts[4]),
                    parts[5].strip() if len(parts) > 5 else "",
                )
            )
        except (ValueError, OverflowError):  # OverflowError: makedev of a device number past 32 bits
            continue
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
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return False
    state = stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3]
    return state not in (b"Z", b"X", b"x")

"""Every process's copy of a multiprocessing lock or semaphore, found through the
``/dev/shm`` file under it -- under fork, spawn and forkserver alike.

A ``multiprocessing`` Lock, RLock, Semaphore or BoundedSemaphore is one POSIX semaphore
(a ``/dev/shm/sem.*`` file, unlinked at once) mapped into every process that has it, and
in each process a ``_multiprocessing.SemLock`` object around it whose ``count`` says how
many times *this* process acquired it (``last_tid``: which thread did last). Fork
children keep the parent's addresses; spawn and forkserver children map the file at an
address of their own and unpickle a SemLock of their own elsewhere. What is the same
everywhere is the mapping's device and inode (shared/lock-introspection.md, section 4).

So for a waited SemLock, in every other process of the tree:
1. ``/proc/PID/maps``: does it map that inode? (Processes that do not are never read.)
   The ``sem_t`` there is the mapping's start plus the semaphore's offset in the file.
2. The SemLock object whose ``handle`` (+16) is that address: at the waiter's own object
   address first (fork children), then at the address found on an earlier refresh, else
   by searching the process's private writable memory for that pointer value.
3. Its per-process ``count`` / ``last_tid`` (``TargetMemory.read_lock``) say whether that
   process holds it; ``analysis.locks`` concludes the holders from all the copies.

Cost: one maps read per process of the tree; the memory search (about 1 s per 180 MB of
private memory) only in processes that map the semaphore and were not seen before, and it
stops once every acquisition the semaphore's value accounts for has been found.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional, Protocol

from pooltui.capture import memory, state
from pooltui.capture.errors import CaptureError
from pooltui.model import LockKind, SemLockKind
from pooltui.model.record import Record

SEMLOCK_HANDLE = 16  # SemLockObject.handle (sem_t *), 2.7 and 3.6-3.13


class ShmPlace(Record, frozen=True):
    """Where a shared semaphore lives: its file (device, inode) and offset in it."""

    dev: int
    inode: int
    offset: int

    @property
    def identity(self) -> str:
        return f"shm:{self.dev}:{self.inode}"


def shm_place(maps: Sequence[memory.Mapping], addr: int) -> Optional[ShmPlace]:
    """The ``/dev/shm`` file and offset behind ``addr``; None for private memory."""
    for m in maps:
        if m.contains(addr):
            if len(m.perms) >= 4 and m.perms[3] == "s" and m.inode and m.path.startswith("/dev/shm/"):
                return ShmPlace(m.dev, m.inode, addr - m.start + m.offset)
            return None
    return None


def address_in(maps: Sequence[memory.Mapping], place: ShmPlace) -> Optional[int]:
    """The address at which this process maps the semaphore at ``place``, if it does."""
    for m in maps:
        if m.dev == place.dev and m.inode == place.inode and m.offset <= place.offset < m.offset + (m.end - m.start):
            return m.start + place.offset - m.offset
    return None


def maps(pid: int, place: ShmPlace) -> bool:
    """Whether the process maps the semaphore at all (False also when it is gone)."""
    try:
        return address_in(memory.read_maps(pid), place) is not None
    except CaptureError:
        return False


def _search(mem: memory.TargetMemory, maps: Sequence[memory.Mapping], sem_addr: int) -> list[memory.LockObject]:
    """SemLock objects in private writable memory whose ``handle`` is ``sem_addr``."""
    private = [m for m in maps if m.perms.startswith("rw") and m.perms[3:4] == "p" and m.path in ("", "[heap]")]
    out = []
    for hit in memory._search_words(mem, private, [sem_addr]).get(sem_addr, []):
        obj = hit - SEMLOCK_HANDLE
        refcnt = mem._u64(obj)
        if refcnt is None or not 0 < refcnt < 1 << 32:
            continue  # a freed block keeps its old fields
        lock = mem.read_lock(obj)
        if lock is not None and lock.kind == LockKind.SEMLOCK and lock.sem_addr == sem_addr:
            out.append(lock)
    return out


def copies_in(pid: int, start_time: float, version: tuple[int, int], place: ShmPlace, hint: Optional[int]) -> list[memory.LockObject]:
    """This process's SemLock objects over the semaphore at ``place`` ([] if it has none).
    ``hint``: an object address to try first (the waiter's: fork children share it)."""
    maps = memory.read_maps(pid)
    sem_addr = address_in(maps, place)
    if sem_addr is None:
        return []
    key = (pid, start_time, sem_addr)
    with memory.TargetMemory(pid, version, memory.SCAN_BUDGET) as mem:  # a search reads all private memory
        # (pid, start time, sem_t address) -> the SemLock found by the last search
        # (capture.state): a refresh reads it again instead of searching, validated by
        # the read (handle == sem_t)
        for addr in dict.fromkeys(a for a in (hint, state.current().semlock_addrs.get(key)) if a):
            try:
                lock = mem.read_lock(addr)
            except CaptureError:
                lock = None
            if lock is not None and lock.kind == LockKind.SEMLOCK and lock.sem_addr == sem_addr:
                return [lock]
        found = _search(mem, maps, sem_addr)
    if found:
        state.current().semlock_addrs.put(key, found[0].addr)
    return found


class _Counted(Protocol):  # read-only, as the frozen model.Lock and memory.LockObject give them
    @property
    def sem_value(self) -> Optional[int]: ...
    @property
    def maxvalue(self) -> Optional[int]: ...
    @property
    def semlock_kind(self) -> Optional[str]: ...
    @property
    def count(self) -> Optional[int]: ...


def acquisitions_unaccounted(copies: Sequence[_Counted]) -> Optional[int]:
    """How many acquisitions of the semaphore no copy read so far explains (None: unknown).

    A bounded semaphore (maxvalue N, as Lock, RLock and BoundedSemaphore are) taken
    ``N - value`` times; each process's count covers its share. A plain Semaphore has
    no known maximum: every process must be read."""
    if not copies:
        return None
    first = copies[0]
    if first.maxvalue is None or first.sem_value is None or first.maxvalue >= memory.SEM_VALUE_MAX:
        return None
    taken = first.maxvalue - first.sem_value
    if first.semlock_kind == SemLockKind.RECURSIVE_MUTEX:
        taken = 1 if first.sem_value == 0 else 0
        return taken - sum(1 for c in copies if (c.count or 0) > 0)
    return taken - sum(c.count or 0 for c in copies)

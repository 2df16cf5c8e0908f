"""Locks that are no Python lock object a user made, but record their owner: the import
system's per-module lock (``importlib._bootstrap._ModuleLock``, 3.x).

A thread blocked in ``import x`` while another thread imports ``x`` sleeps in
``_ModuleLock.acquire`` on the module lock's private ``wakeup`` lock: a plain lock that
records no owner. The ``_ModuleLock`` itself does: ``owner`` (the importing thread's
``get_ident()``, None when free), ``count`` (an int up to 3.11, a list of one entry per
re-entry since 3.12) and ``name`` (the module). It is read from the ``self`` of that
``acquire`` frame (py-spy ``--locals``) and recorded as an owned lock named "the import
of module x": the analysis then resolves its owner as for an RLock -- a live thread
(a cycle through it is a deadlock), or one that does not exist in the process (inherited
across fork() mid-import: orphaned). 2.7 has one global import lock instead, reset in a
fork child: not read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

from pooltui.capture import memory
from pooltui.model import Frame, Lock, LockKind

BOOTSTRAP = "<frozen importlib._bootstrap>"
MODULE_LOCK = "_ModuleLock"
TYPE_NAME = "_ModuleLock"  # Lock.type_name of the locks read here (analysis.locks labels them)
MAX_MODULE_NAME = 512


def acquiring_frame(frames: Sequence[Frame]) -> Optional[Frame]:
    """The ``_ModuleLock.acquire`` frame a thread blocked on a module lock sleeps in
    (innermost; 3.11+ qualifies the name, earlier ones say ``acquire``)."""
    for f in frames[:2]:
        if f.file == BOOTSTRAP and f.function in ("acquire", "_ModuleLock.acquire"):
            return f
    return None


def _count(mem: memory.TargetMemory, addr: int) -> Optional[int]:
    """``count``: an int (<= 3.11) or the length of a list (3.12+)."""
    info = mem._type_of(addr)
    if info is None:
        return None
    if info.name == "list":
        size = mem._u64(addr + 16)  # PyVarObject.ob_size
        return size if size is not None and 0 <= size < 1 << 20 else None
    return mem._int(addr)


def _owner(mem: memory.TargetMemory, attrs: dict[str, int]) -> tuple[bool, Optional[int], Optional[int]]:
    """(consistent, owner ident, count) as read now: an owner exactly when the count is above 0."""
    owner_at, count_at = attrs.get("owner"), attrs.get("count")
    if owner_at is None or count_at is None:
        return False, None, None
    owner_info = mem._type_of(owner_at)
    owner = None if owner_info is not None and owner_info.name == "NoneType" else mem._int(owner_at)
    count = _count(mem, count_at)
    known = owner is not None or (owner_info is not None and owner_info.name == "NoneType")
    ok = known and count is not None and (owner is None) == (count == 0) and (owner is None or owner > 0)
    return ok, owner, count


def module_lock(mem: memory.TargetMemory, pid: int, frames: Sequence[Frame], futex: int, where: str) -> Optional[Lock]:
    """The module lock a thread blocked in ``_ModuleLock.acquire`` on ``futex`` waits for,
    when its ``self`` (a ``_ModuleLock`` whose ``wakeup`` lock sleeps on ``futex``) reads whole."""
    frame = acquiring_frame(frames)
    self_local = frame.local("self") if frame is not None else None
    addr = self_local.addr if self_local is not None else None
    if not addr or mem.type_name(addr).rpartition(".")[2] != MODULE_LOCK:
        return None
    attrs = mem.attrs(addr)
    wakeup = mem.read_lock(attrs["wakeup"]) if "wakeup" in attrs else None
    name = mem._str(attrs["name"]) if "name" in attrs else None
    if wakeup is None or wakeup.sem_addr != futex or not name or len(name) > MAX_MODULE_NAME:
        return None
    ok, owner, count = _owner(mem, attrs)
    if not ok:  # read mid-change (an acquire or release between the two fields): once more
        ok, owner, count = _owner(mem, mem.attrs(addr))
    return Lock(
        id=f"{pid}:{addr:x}",
        kind=LockKind.RLOCK,  # an owner ident and a count, as an RLock records them
        name=f"the import of module {name}",
        pid=pid,
        addr=addr,
        type_name=TYPE_NAME,
        sem=f"mem:{pid}:{futex:x}",
        locked=(count > 0) if ok and count is not None else None,
        count=count if ok else None,
        owner_ident=owner if ok else None,
        where=where,
        note="" if ok else "its owner and count did not read consistently (an import was starting or ending)",
    )

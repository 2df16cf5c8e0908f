"""Which thread a ``Thread.join()`` waits for, and who holds the lock of the ``Condition``
a thread waits on, read from those objects themselves.

py-spy shows them only as ``self = <Thread at 0x…>`` / ``<Condition at 0x…>`` in the
``join`` / ``wait`` frame (with --locals). A Thread's ident is its ``_ident`` attribute
(2.7 ``_Thread__ident``), an int; a Condition's lock is its ``_lock`` (2.7
``_Condition__lock``), whose owner an RLock records (``capture.memory``). Asked only for the
waits a deadlock could go through (``analysis.graph.objects_to_read``): a healthy process
that joins a thread or waits on a Condition costs nothing.
"""

from __future__ import annotations

from typing import Optional

from pooltui.capture import locks, memory
from pooltui.capture.errors import CaptureError
from pooltui.model import Frame, LockKind, Process, Snapshot, Thread
from pooltui.model.record import replace

_IDENT = ("_ident", "_Thread__ident")
_COND_LOCK = ("_lock", "_Condition__lock")


def _self_of(frames: tuple[Frame, ...], function: str) -> Optional[int]:
    """The address of ``self`` of the innermost ``threading.py`` frame of ``function``."""
    for f in frames:
        if not f.native and f.function.rpartition(".")[2] == function and f.file.endswith("threading.py"):
            local = f.local("self")
            return local.addr if local is not None else None
    return None


def _read(proc: Process, addr: int, timeout: float, join: bool) -> Optional[int]:
    """A joined Thread's ident, or the owner ident of a Condition's (R)Lock (None: free,
    a plain Lock, or not readable)."""
    version = locks.version_of(proc)
    if version is None:
        return None
    try:
        with memory.TargetMemory(proc.pid, version, locks.budget(timeout)) as mem:
            attrs = mem.attrs(addr)
            found = next((attrs[name] for name in (_IDENT if join else _COND_LOCK) if name in attrs), None)
            if join:
                value = mem._int(found) if found else None
            else:
                lock = mem.read_lock(found) if found else None
                value = lock.owner_ident if lock is not None and lock.kind == LockKind.RLOCK and lock.count else None
    except CaptureError:
        return None
    return value if value and value > 0 else None


def _with_ident(t: Thread, join: bool, ident: int) -> Thread:
    return replace(t, joins=ident) if join else replace(t, notifier=ident)


async def with_joined(raw: Snapshot, wanted: dict[int, set[int]], timeout: float) -> Snapshot:
    """``raw`` with ``Thread.joins`` (the joined thread's ident) and ``Thread.notifier`` (the
    holder of the waited Condition's lock) of the ``wanted`` {pid: {tid}} waits that could be read."""
    out = {}
    for pid, tids in wanted.items():
        proc = raw.process(pid)
        if proc is None or proc.error is not None:
            continue
        try:
            frames = await locks._frames_with_locals(proc, timeout, {t.tid for t in proc.threads if not t.ghost})
        except CaptureError:
            continue
        found: dict[int, tuple[bool, int]] = {}  # tid -> (a join: else a Condition's wait, the ident read)
        for tid in tids:
            for join in (True, False):
                addr = _self_of(frames.get(tid, ()), "join" if join else "wait")
                ident = _read(proc, addr, timeout, join) if addr else None
                if ident is not None:
                    found[tid] = (join, ident)
                    break
        if found:
            out[pid] = replace(proc, threads=tuple(_with_ident(t, *found[t.tid]) if t.tid in found else t for t in proc.threads))
    return raw.with_(processes=tuple(out.get(p.pid, p) for p in raw.processes)) if out else raw

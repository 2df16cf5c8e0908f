"""Which thread a ``Thread.join()`` waits for, read from the ``Thread`` object itself.

py-spy shows the joined thread only as ``self = <Thread at 0x…>`` in the ``join`` frame
(with --locals). Its ident is an attribute of that object: ``_ident`` (3.x) or
``_Thread__ident`` (2.7), an int read from the target's memory (``capture.memory``). Asked
only for the join waits a deadlock would go through (``analysis.graph.unknown_joins``):
a healthy process that joins a thread costs nothing.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Optional

from pooltui.capture import locks, memory
from pooltui.capture.errors import CaptureError
from pooltui.model import Frame, Process, Snapshot

_IDENT = ("_ident", "_Thread__ident")


def _join_self(frames: tuple[Frame, ...]) -> Optional[int]:
    """The address of the ``Thread`` a ``threading.py`` ``join`` frame is a method of."""
    for f in frames:
        if not f.native and f.function.rpartition(".")[2] == "join" and f.file.endswith("threading.py"):
            local = f.local("self")
            return local.addr if local is not None else None
    return None


def _ident(proc: Process, addr: int, timeout: float) -> Optional[int]:
    version = locks.version_of(proc)
    if version is None:
        return None
    try:
        with memory.TargetMemory(proc.pid, version, locks.budget(timeout)) as mem:
            attrs = mem.attrs(addr)
            found = next((attrs[name] for name in _IDENT if name in attrs), None)
            value = mem._int(found) if found else None
    except CaptureError:
        return None
    return value if value and value > 0 else None


async def with_joined(raw: Snapshot, wanted: dict[int, set[int]], timeout: float) -> Snapshot:
    """``raw`` with ``Thread.joins`` (the joined thread's ident) of the ``wanted`` {pid: {tid}}
    join waits that could be read."""
    out = {}
    for pid, tids in wanted.items():
        proc = raw.process(pid)
        if proc is None or proc.error is not None:
            continue
        try:
            frames = await locks._frames_with_locals(proc, timeout, {t.tid for t in proc.threads if not t.ghost})
        except CaptureError:
            continue
        joins = {}
        for tid in tids:
            addr = _join_self(frames.get(tid, ()))
            ident = _ident(proc, addr, timeout) if addr else None
            if ident is not None:
                joins[tid] = ident
        if joins:
            out[pid] = replace(proc, threads=tuple(replace(t, joins=joins[t.tid]) if t.tid in joins else t for t in proc.threads))
    return raw.with_(processes=tuple(out.get(p.pid, p) for p in raw.processes)) if out else raw

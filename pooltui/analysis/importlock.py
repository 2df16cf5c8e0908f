"""Python 2's import lock: one lock for every import, held by the importing thread for as
long as the imported module runs its top-level code (3.x has one lock per module, read from
memory as a ``_ModuleLock``). Python 2 takes it in C: a thread waiting for it shows no
frame of its own, only the ``import`` line it is at, asleep in an untimed futex wait. Its
holder is the thread running a module's top-level code under an import: a ``<module>``
frame called from another frame (an import line, ``__import__`` as a thread's target) that is
not runpy running a script or an ``exec`` (``importing``)."""

from __future__ import annotations

import re

from pooltui.analysis.edge import Edge, labels
from pooltui.analysis.edge import at as _at
from pooltui.analysis.edge import label as _label
from pooltui.analysis.edge import live as _live
from pooltui.model import Certainty, Frame, Process, ProcessStatus, Snapshot, Thread

_IMPORT = re.compile(r"^\s*(?:import\s|from\s+\S+\s+import\s)|\b__import__\(|\bimport_module\(")


def _imports(f: Frame) -> bool:
    return not f.native and bool(_IMPORT.search(f.code or ""))


_EXEC = re.compile(r"\bexec(?:file)?\b")


def importing(t: Thread) -> bool:
    """``t`` runs a module's top-level code under an import (and so holds Python 2's lock):
    a ``<module>`` frame called from another frame -- an import line, or ``__import__``
    passed as a thread's target -- that is not ``runpy`` running a script (``python -m``)
    or an ``exec``."""
    frames = [f for f in t.frames if not f.native]
    return any(
        f.function == "<module>" and (_imports(outer) or not (outer.file.endswith("runpy.py") or _EXEC.search(outer.code or "")))
        for f, outer in zip(frames, frames[1:])
    )


def _waits_for_it(p: Process, t: Thread) -> bool:
    """Asleep untimed in a futex at an ``import`` line with no frame above it, in Python 2."""
    inner = next((f for f in t.frames if not f.native), None)
    return (
        bool(p.python and p.python.startswith("2."))
        and _live(t)
        and not t.ran
        and t.syscall == "futex"
        and t.timed is False
        and inner is not None
        and _imports(inner)
    )


def edges(snapshot: Snapshot) -> list[Edge]:
    out = []
    for p in snapshot.processes:
        if p.status == ProcessStatus.ZOMBIE:
            continue
        for t in p.threads:
            if not _waits_for_it(p, t):
                continue
            holders = tuple((p.pid, x.tid) for x in p.threads if x.tid != t.tid and not x.ghost and importing(x))
            if not holders:
                continue
            me = (p.pid, t.tid)
            text = (
                f"{_label(snapshot, me)} waits for Python 2's import lock (one lock for every import) at {_at(t)}, which is held by "
                f"{labels(snapshot, holders)}: it runs a module's top-level code under an import, and holds the lock until that code ends"
            )
            out.append(Edge(me, holders, "import", text, Certainty.INFERRED))
    return out

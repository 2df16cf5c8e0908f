"""A lock inside a file or socket object: a buffered file's (3.x ``BufferedReader`` and
``BufferedWriter`` take their own C lock around each call) or a C ``FILE``'s (2.7's file
objects, glibc's stdio lock). No Python frame shows it: a thread waiting for it is at the
line that calls the object (``f.readline()``, ``sys.stdout.write(...)``, ``print``),
asleep in an untimed futex -- not in the read or write the line names. The lock is held
by a thread of its process inside a call on that object, asleep in the read or write
itself (a pipe nobody writes, a full pipe nobody reads), or running (3.x takes the GIL
back holding it; 2.7's GIL is an untimed futex too, its holder runs): one of those ends
the wait. An edge to all of them is a deadlock only when none of them can go on.

Python locks have frames or lines of their own (``with lock:``, ``.acquire(``) and are read
from memory (``analysis.locks``); a line that says one is not taken for this."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Optional

from pooltui.analysis.edge import Edge, labels
from pooltui.analysis.edge import at as _at
from pooltui.analysis.edge import label as _label
from pooltui.model import FD_CALLS, Certainty, Frame, ProcessStatus, Snapshot

IO_CALL = re.compile(r"\b(?:read|readline|readlines|readinto|write|writelines|flush|print|recv|recv_into|send|sendall)\(|^\s*print\b")
_PYTHON_LOCK = re.compile(r"^\s*(?:async\s+)?with\b|\.acquire\(")
WAIT_WORDS = "waits on a lock inside the file or socket it calls (its buffer's or C FILE's own, not a Python lock)"


def waits_inside(frames: Sequence[Frame], syscall: Optional[str], timed: Optional[bool]) -> bool:
    """Asleep untimed in a futex at a line that reads or writes a file or socket (and takes
    no Python lock): waiting for the object's own lock, not in I/O."""
    inner = next((f for f in frames if not f.native), None)
    code = (inner.code or "") if inner is not None else ""
    return syscall == "futex" and timed is False and bool(IO_CALL.search(code)) and not _PYTHON_LOCK.search(code)


def edges(snapshot: Snapshot) -> list[Edge]:
    out = []
    for p in snapshot.processes:
        if p.status == ProcessStatus.ZOMBIE:
            continue
        live = [t for t in p.threads if not t.ghost]
        for t in live:
            if t.active or t.ran or (t.wait is not None and t.wait.lock_id) or not waits_inside(t.frames, t.syscall, t.timed):
                continue
            holders = tuple((p.pid, x.tid) for x in live if x.tid != t.tid and (x.active or (x.syscall in FD_CALLS and x.fd is not None)))
            if not holders:
                continue
            me = (p.pid, t.tid)
            text = (
                f"{_label(snapshot, me)} {WAIT_WORDS} at {_at(t)}, which could only be held by a thread of its process inside "
                f"a read or write, or running: {labels(snapshot, holders)}"
            )
            out.append(Edge(me, holders, "io", text, Certainty.INFERRED))
    return out

"""Where `enter` on a waiting thread goes: the process and thread holding its lock, or,
for a lock inherited locked across fork() (orphaned), the parent's thread that held it
when the process was forked. When there is nowhere to go, a short reason for the footer
and a sentence for the notification. Plain Python over the model (no Textual)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from pooltui.model import Lock, Process, Snapshot, Thread
from pooltui.report.text import one_line


@dataclass(frozen=True)
class Follow:
    """``pid``/``tid``: where to go (None: nowhere); ``fork``: to the thread that held an
    orphaned lock at fork(); ``why``: when nowhere, why not, in one sentence."""

    pid: Optional[int] = None
    tid: Optional[int] = None
    fork: bool = False
    why: str = ""

    @property
    def possible(self) -> bool:
        return self.pid is not None


NO_LOCK = Follow()  # the thread waits on no lock: `enter` has nothing to say


def lock_of(snapshot: Snapshot, thread: Thread) -> Optional[Lock]:
    lock_id = thread.wait.lock_id if thread.wait else None
    if lock_id is None:
        return None
    return next((lk for lk in snapshot.locks if lk.id == lock_id), None)


def _live_thread(proc: Optional[Process], ident: Optional[int]) -> Optional[Thread]:
    if proc is None or not ident:
        return None
    return next((t for t in proc.threads if t.ident == ident and not t.ghost), None)


def follow(snapshot: Snapshot, thread: Thread) -> Follow:
    """Where `enter` on ``thread`` goes, or why it goes nowhere."""
    if thread.wait is None or thread.wait.lock_id is None:
        return NO_LOCK
    lock = lock_of(snapshot, thread)
    if lock is None:
        return Follow(why="the lock it waits on was not read from memory: its holder is unknown")
    holder = lock.holder
    if holder is None:
        note = one_line(lock.note, 200) if lock.note else "no holder is recorded"
        return Follow(why=f"{lock.name or 'the lock'}: {note}")
    if holder.alive:
        if snapshot.process(holder.pid) is None:
            return Follow(why=f"the holder, pid {holder.pid}, is not in this snapshot")
        return Follow(holder.pid, holder.tid)
    if lock.orphaned:
        proc = snapshot.process(lock.pid)
        parent = snapshot.process(proc.ppid) if proc is not None and proc.ppid else None
        if parent is None:
            return Follow(why="orphaned: inherited locked across fork(), and the parent process is not in this tree")
        held = _live_thread(parent, holder.ident)
        if held is None:
            return Follow(
                why=f"orphaned: inherited locked across fork() from thread ident 0x{holder.ident or 0:x}, "
                f"which no longer runs in the parent pid {parent.pid}"
            )
        return Follow(parent.pid, held.tid, fork=True)
    return Follow(why=f"{lock.name or 'the lock'}: its holder died (no live process of the tree holds it)")

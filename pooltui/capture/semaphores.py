"""``threading.Semaphore`` / ``BoundedSemaphore`` waits, read from the target's memory.

A ``threading.Semaphore`` is a Python object over a ``Condition``: a thread that waits
for it sleeps in ``Condition.wait()`` on a private lock of its own (one per wait, kept
in the condition's ``_waiters``), so the futex the kernel shows is not the semaphore's.
``waited_semaphore`` ties them together: the frame under ``Condition.wait`` is
``Semaphore.acquire`` (its ``self`` local, from py-spy ``--locals``, is the semaphore),
and the futex must be the sem_t of a lock in that semaphore's condition's waiters (a fact,
not a name). The semaphore records no holder; its holders are the frames inside a
``with`` of it (``memory.withblocks``: ``Semaphore.__exit__`` bound to it on their value
stack). ``Condition`` needs nothing here: ``with cond:`` blocks on its C ``RLock``,
whose owner is recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

from pooltui.capture import memory
from pooltui.model import Frame, LockKind

# 2.7: threading._Semaphore / _BoundedSemaphore (name-mangled attributes); 3.x: Semaphore / BoundedSemaphore
_TYPES = {"Semaphore": "Semaphore", "BoundedSemaphore": "BoundedSemaphore", "_Semaphore": "Semaphore", "_BoundedSemaphore": "BoundedSemaphore"}
_VALUE = ("_value", "_Semaphore__value")
_INITIAL = ("_initial_value", "_BoundedSemaphore__initial_value")


def _attr_int(mem: memory.TargetMemory, attrs: dict[str, int], names: Sequence[str]) -> Optional[int]:
    for name in names:
        if name in attrs:
            return mem._int(attrs[name])
    return None


def waited_semaphore(mem: memory.TargetMemory, frames: Sequence[Frame], futex: int) -> Optional[tuple[memory.LockObject, int]]:
    """(the semaphore as a lock record, index of the first frame outside threading.py) when
    the thread sleeping on ``futex`` waits in ``Semaphore.acquire``; None otherwise."""
    if len(frames) < 3 or not frames[0].file.endswith("threading.py") or frames[0].function.rpartition(".")[2] != "wait":
        return None
    acquire = frames[1]
    if not acquire.file.endswith("threading.py") or acquire.function.rpartition(".")[2] != "acquire":
        return None
    self_local = acquire.local("self")
    addr = self_local.addr if self_local is not None else None
    if not addr:
        return None
    kind = _TYPES.get(mem.type_name(addr).rpartition(".")[2])
    if kind is None:
        return None
    # the kernel's fact: the futex is one of this semaphore's waiter locks (cond._waiters[i])
    if not any(obj.sem_addr == futex for _path, obj in mem.find_locks([("sem", addr)], depth=3, max_objects=64)):
        return None
    attrs = mem.attrs(addr, limit=16)
    value = _attr_int(mem, attrs, _VALUE)
    initial = _attr_int(mem, attrs, _INITIAL) if kind == "BoundedSemaphore" else None
    obj = memory.LockObject(
        addr=addr,
        type_name=f"threading.{kind}",
        kind=LockKind.SEMAPHORE,
        sem_addr=None,
        locked=value == 0 if value is not None else None,
        owner_ident=None,
        count=None,
        sem_value=value,
        sem_nwaiters=None,
        maxvalue=initial,
    )
    user = next((i for i, f in enumerate(frames) if not f.file.endswith("threading.py")), 2)
    return obj, user

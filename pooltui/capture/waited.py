"""Which lock object a thread blocked in ``futex()`` waits on, found from its frames: the
lock reachable from the frames' locals (``memory.find_locks``) whose ``sem_t`` is the futex
address, else where such a lock lives (closures, classes, module globals:
``memory.find_lock_place``), an import's module lock (``capture.ownedlocks``) or a
``threading.Semaphore``'s condition (``capture.semaphores``); and the name a user would
give it (``Ledger.audit_lock``, not ``self``). ``capture.locks`` reads them per process."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Optional

from pooltui.capture import holders, memory, ownedlocks, semaphores, semlocks
from pooltui.capture.errors import CaptureError
from pooltui.model import Frame, Lock, LockKind

_REPR_TYPE = re.compile(r"^<([\w.]+) at 0x[0-9a-f]+>$")
_KIND = {"_thread.RLock": LockKind.RLOCK, "_RLock": LockKind.RLOCK, "_thread.lock": LockKind.LOCK, "thread.lock": LockKind.LOCK}
FRAMES_SEARCHED = 6
NOT_LOCK_WAITS = frozenset({"wait", "_wait_for_tstate_lock", "join"})  # innermost frames whose locals are searched for the waited lock


def _type_of(repr_text: str) -> Optional[str]:
    m = _REPR_TYPE.match(repr_text)
    return m.group(1).rpartition(".")[2] if m else None


def display_name(path: str, frame: Frame) -> str:
    """'self.flush_lock' in a BufferingHandler method -> 'BufferingHandler.flush_lock'."""
    root, _, rest = path.partition(".")
    rest = rest.removesuffix("._semlock").removesuffix("_semlock").rstrip(".")
    local = frame.local(root)
    type_name = _type_of(local.repr) if local else None
    if type_name and (root == "self" or (rest and "[" not in root + rest)):
        # where the lock lives, as the class names it: `ledger.audit_lock` -> Ledger.audit_lock
        return f"{type_name}.{rest}" if rest else type_name
    return path.removesuffix("._semlock")


def _lock_kind(obj: memory.LockObject) -> str:
    return LockKind.SEMLOCK if obj.kind == LockKind.SEMLOCK else _KIND.get(obj.type_name, obj.kind)


def record(pid: int, obj: memory.LockObject, name: str, where: str, sem: Optional[str]) -> Lock:
    return Lock(
        id=f"{pid}:{obj.addr:x}",
        kind=_lock_kind(obj),
        name=name,
        pid=pid,
        addr=obj.addr,
        type_name=obj.type_name,
        sem=sem,
        sem_value=obj.sem_value,
        semlock_kind=obj.semlock_kind,
        maxvalue=obj.maxvalue,
        locked=obj.locked,
        count=obj.count,
        owner_ident=obj.owner_ident,
        where=where,
        fd=obj.fd,
    )


def sem_identity(pid: int, obj: memory.LockObject, maps: Optional[Sequence[memory.Mapping]] = None) -> Optional[str]:
    """The semaphore's identity across processes; ``maps``: the process's, when already read."""
    if obj.sem_addr is None:
        return None
    place = semlocks.shm_place(maps or memory.read_maps(pid), obj.sem_addr) if obj.kind == LockKind.SEMLOCK else None
    if place is not None:
        return place.identity
    return f"mem:{pid}:{obj.sem_addr:x}"


def _place(
    mem: memory.TargetMemory, frames: Sequence[Frame], futex: int, name_hint: Optional[str] = None, ident: Optional[int] = None
) -> Optional[memory.Place]:
    """Where the lock of sem_t ``futex`` lives, from the thread's locals, closures, classes
    and the globals its frames run in (``memory.places``; ``ident``: the thread's)."""
    shape = [(f.file, [(loc.name, loc.addr) for loc in f.locals or () if loc.addr]) for f in frames]
    return memory.find_lock_place(mem, shape, futex, name_hint, ident=ident)


def waiting_frame(frames: Sequence[Frame]) -> Optional[Frame]:
    """The innermost frame outside threading / multiprocessing's own lock code."""
    return next((f for f in frames if not f.file.endswith(("threading.py", "synchronize.py"))), frames[0] if frames else None)


def find_waited(
    mem: memory.TargetMemory, frames: Sequence[Frame], futex: int, ident: Optional[int] = None
) -> Optional[tuple[memory.LockObject, str, str]]:
    """(lock object, display name, where) of the lock whose sem_t is ``futex`` (``ident``: the
    waiting thread's, whose frames' globals hold a module-level lock however deep it waits)."""
    if frames and frames[0].file.endswith("threading.py") and frames[0].function.rpartition(".")[2] in NOT_LOCK_WAITS:
        return None  # a Condition's private waiter lock or a join: nobody "holds" it
    candidates: list[tuple[int, memory.LockObject, str]] = []
    for index, frame in enumerate(frames[:FRAMES_SEARCHED]):
        roots = [(loc.name, loc.addr) for loc in frame.locals or () if loc.addr]
        if not roots:
            continue
        for path, obj in mem.find_locks(roots, depth=3):
            if obj.sem_addr == futex:
                candidates.append((index, obj, path))
        if candidates:
            break
    if not candidates:
        place = _place(mem, frames[:FRAMES_SEARCHED], futex, ident=ident)
        waiting = waiting_frame(frames)
        if place is None or waiting is None:
            return None
        return place.lock, place.name, waiting.where
    index, obj, path = candidates[0]
    frame = frames[index]
    if frame.file.endswith("threading.py") and frame.function.rpartition(".")[2] in NOT_LOCK_WAITS:
        return None
    name = display_name(path, frame)
    named = False
    # a stdlib frame (threading.acquire, SemLock.__enter__, Handler.acquire) names the lock
    # badly ("self"): prefer how the outer frames reach the same object, or where it lives
    for outer in frames[index + 1 : index + 1 + FRAMES_SEARCHED]:
        if outer.file.endswith("threading.py") and outer.function.rpartition(".")[2] in ("run", "_bootstrap_inner", "_bootstrap"):
            break  # Thread.run's self._args[1] is no name for a lock the target function was given
        if outer.file.endswith(("threading.py", "synchronize.py")):
            continue  # 2.7's Condition.__enter__ over _RLock.acquire: 'self._Condition__lock' is no name either
        roots = [(loc.name, loc.addr) for loc in outer.locals or () if loc.addr]
        better = next((p for p, o in mem.find_locks(roots, depth=3) if o.addr == obj.addr), None) if roots else None
        if better:
            name, frame, named = display_name(better, outer), outer, True
            break
        from_code = holders.name_from_code(outer)
        if from_code and not outer.file.endswith(("threading.py", "synchronize.py")):
            place = _place(mem, frames[index + 1 : index + 1 + FRAMES_SEARCHED], futex, from_code, ident)
            placed = place is not None and place.lock.addr == obj.addr and place.name.endswith(from_code.rpartition(".")[2])
            name, frame, named = (place.name if placed else from_code), outer, True  # type: ignore[union-attr]
            break
    if not named and frame.file.endswith(("threading.py", "synchronize.py")):
        # no outer frame reaches it and no source line spells it (2.7's Python _RLock taken in
        # code with no source): where it lives, through the frames' own globals
        place = _place(mem, frames[index + 1 : index + 1 + FRAMES_SEARCHED], futex, None, ident)
        waiting = waiting_frame(frames)
        if place is not None and place.lock.addr == obj.addr and waiting is not None:
            name, frame = place.name, waiting
    if name in ("self", "waiter", "lock"):
        name = holders.name_from_code(frame) or name
    return obj, name, frame.where


def owned_lock(mem: memory.TargetMemory, pid: int, frames: Sequence[Frame], futex: int) -> Optional[Lock]:
    """The lock that is no lock object but records its owner a thread waits on: an import's
    module lock (``capture.ownedlocks``), named where the user's frame waits."""
    if ownedlocks.acquiring_frame(frames) is None:
        return None
    user = next((f for f in frames if f.file != ownedlocks.BOOTSTRAP and not f.file.startswith("<frozen")), None)
    try:
        return ownedlocks.module_lock(mem, pid, frames, futex, user.where if user is not None else "")
    except CaptureError:
        return None


def find_semaphore(mem: memory.TargetMemory, frames: Sequence[Frame], futex: int) -> Optional[tuple[memory.LockObject, str, str]]:
    """(semaphore, display name, where) when the thread waits in a ``threading.Semaphore``'s
    acquire (``capture.semaphores``), named where it lives, else as the waiting line spells it."""
    try:
        found = semaphores.waited_semaphore(mem, frames, futex)
    except CaptureError:
        return None
    if found is None:
        return None
    obj, user = found
    outer = frames[user:][:FRAMES_SEARCHED]
    shape = [(f.file, [(loc.name, loc.addr) for loc in f.locals or () if loc.addr]) for f in outer]
    place = memory.find_lock_place(mem, shape, futex, None, target=obj)
    name = place.name if place is not None else None
    if name is None or name.partition(".")[0] in ("self", "sem"):
        name = (display_name(name, outer[0]) if name else None) or holders.name_from_code(outer[0]) or obj.type_name
    return obj, name, outer[0].where

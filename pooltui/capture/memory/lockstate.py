"""Lock objects read from a target's memory: ``_thread.lock``/``RLock``, 2.7's Python
``_RLock``, ``_multiprocessing.SemLock``, and the glibc ``sem_t`` behind each of them;
``find_locks`` walks from named roots to the locks they reach."""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Optional

from pooltui.capture.errors import Unsupported
from pooltui.capture.memory.layouts import SEM_VALUE_MAX, SEMLOCK_KINDS, TPFLAGS_TYPE_SUBCLASS
from pooltui.capture.memory.objects import PLAIN_LEAF_TYPES, ObjectMemory
from pooltui.capture.memory.reader import MAX_USER_ADDR
from pooltui.model.record import Record, replace

# io's C buffered objects, read as locks (``_read_buffered``): each holds a lock and its owner's ident
BUFFERED_TYPES = frozenset({"_io.BufferedWriter", "_io.BufferedReader", "_io.BufferedRandom"})
TEXTIO_TYPE = "_io.TextIOWrapper"


class LockObject(Record, frozen=True):
    addr: int  # address of the Python object
    type_name: str  # '_thread.RLock', '_thread.lock', 'thread.lock', '_multiprocessing.SemLock', '_RLock'
    kind: str  # 'lock' | 'rlock' | 'semlock'
    sem_addr: Optional[int]  # the sem_t a blocked thread's futex points at
    locked: Optional[bool]  # None = could not be known
    owner_ident: Optional[int]  # RLock owner / SemLock last_tid while count > 0; None for plain locks or free
    count: Optional[int]  # RLock recursion count; SemLock per-process count
    sem_value: Optional[int]  # glibc sem_t value (0 = taken)
    sem_nwaiters: Optional[int]
    semlock_kind: Optional[str] = None  # 'RECURSIVE_MUTEX' | 'SEMAPHORE'
    maxvalue: Optional[int] = None
    name: Optional[str] = None  # SemLock name (spawn) if any
    inner_addr: Optional[int] = None  # Python _RLock: its _RLock__block / _block lock object
    fd: Optional[int] = None  # an io buffered object's: the file descriptor of its raw FileIO
    text_buffer: bool = False  # an io buffered object read through the TextIOWrapper over it (sys.stdout)


class TargetMemory(ObjectMemory):
    """Read-only view of one process's objects and locks (within a read budget). Context manager."""

    # ---- sem_t

    def _sem(self, addr: int) -> tuple[Optional[int], Optional[int]]:
        """(value, nwaiters) of a glibc 64-bit ``struct new_sem``; (None, None) if invalid."""
        raw = self._try(addr, 16) if addr and addr % 8 == 0 else None
        if raw is None:
            return None, None
        data, private = struct.unpack_from("<Qi", raw)
        value, nwaiters = data & 0xFFFFFFFF, data >> 32
        if private not in (0, 128) or value > SEM_VALUE_MAX or nwaiters > 1 << 20:
            return None, None
        return value, nwaiters

    # ---- locks

    def _lock_spec(self, name: str) -> Optional[tuple[str, int]]:
        for tp_name, kind, size in self.layout.lock_types:
            if tp_name == name:
                return kind, size
        return None

    def read_lock(self, obj_addr: int) -> Optional[LockObject]:
        """The lock at ``obj_addr`` with its state, or None when it is not a lock object.

        A state that does not hold together (owner without count, locked byte against
        the semaphore) is read once more; if it still does not, those fields are None."""
        info = self._type_of(obj_addr)
        if info is None:
            return None
        if info.name == "_RLock":
            return self._read_py_rlock(obj_addr)
        if info.name in BUFFERED_TYPES or info.name == TEXTIO_TYPE:
            return self._read_buffered(obj_addr, info)
        spec = self._lock_spec(info.name)
        if spec is None:
            return None
        kind, size = spec
        if info.basicsize != size:
            raise Unsupported(
                f"{info.name} in Python {self.version[0]}.{self.version[1]} has tp_basicsize {info.basicsize}, expected {size}: unknown layout",
                pid=self.pid,
            )
        lock, ok = self._read_c_lock(obj_addr, info.name, kind, size)
        if not ok:
            lock, ok = self._read_c_lock(obj_addr, info.name, kind, size)
        if lock is None:
            return None
        if not ok:  # still torn or invalid: say "unknown", never a guess
            lock = replace(lock, locked=None, owner_ident=None, count=None)
            if kind == "semlock":
                lock = replace(lock, semlock_kind=None, maxvalue=None, name=None)
        return lock

    def _read_c_lock(self, obj: int, type_name: str, kind: str, size: int) -> tuple[Optional[LockObject], bool]:
        raw = self._try(obj, size)
        if raw is None:
            return None, False
        sem_addr = struct.unpack_from("<Q", raw, 16)[0]
        value, nwaiters = self._sem(sem_addr)
        sem_ok = value is not None
        base = LockObject(obj, type_name, kind, sem_addr or None, None, None, None, value, nwaiters)
        if kind == "rlock":
            owner, count = struct.unpack_from("<QQ", raw, 24)
            ok = value is not None and value <= 1 and (owner == 0) == (count == 0) and owner < MAX_USER_ADDR and count < 1 << 32
            ok = ok and (count == 0 or value == 0)
            return replace(base, locked=count > 0, owner_ident=owner or None, count=count), ok
        if kind == "lock":
            ok = value is not None and value <= 1
            locked = value == 0 if ok else None
            if self.layout.lock_locked is not None:
                byte = raw[self.layout.lock_locked]
                ok = ok and byte in (0, 1) and bool(byte) == locked
            return replace(base, locked=locked), ok
        # _multiprocessing.SemLock
        last_tid = struct.unpack_from("<Q", raw, 24)[0]
        count, maxvalue, sl_kind = struct.unpack_from("<iii", raw, 32)
        name = None
        if self.layout.semlock_name is not None:
            name_ptr = struct.unpack_from("<Q", raw, self.layout.semlock_name)[0]
            name = self.cstring(name_ptr) if name_ptr else None
        ok = sem_ok and sl_kind in SEMLOCK_KINDS and count >= 0 and 1 <= maxvalue <= SEM_VALUE_MAX and last_tid < MAX_USER_ADDR
        ok = ok and value <= maxvalue and (sl_kind != 0 or maxvalue == 1)
        return (
            replace(
                base,
                locked=(value == 0) if sem_ok else None,
                owner_ident=(last_tid or None) if count > 0 else None,
                count=count,
                semlock_kind=SEMLOCK_KINDS.get(sl_kind),
                maxvalue=maxvalue,
                name=name,
            ),
            ok,
        )

    def _read_buffered(self, obj: int, info: Any) -> Optional[LockObject]:
        """The lock of an io ``BufferedWriter``/``Reader``/``Random`` (of a ``TextIOWrapper``:
        its buffer's): a ``PyThread_type_lock`` (the ``sem_t`` a blocked writer sleeps on) and
        the ident of the thread holding it (``owner``, set after each acquire and cleared
        before each release). Read twice when the two disagree (a hand-over); then unknown."""
        size, raw_at, lock_at, owner_at = self.layout.buffered
        if info.name == TEXTIO_TYPE:
            text_size, buffer_at = self.layout.textio
            buffer = self._u64(obj + buffer_at) if info.basicsize == text_size else None
            inner = self._type_of(buffer) if buffer else None
            if not buffer or inner is None or inner.name not in BUFFERED_TYPES:
                return None
            found = self._read_buffered(buffer, inner)
            return replace(found, text_buffer=True) if found is not None else None
        if info.basicsize != size:
            return None  # a subclass with fields of its own: not the layout measured
        read = self._buffered_lock(obj, info.name, size, lock_at, owner_at)
        if read is None:
            return None
        result, raw = read
        raw_obj = struct.unpack_from("<Q", raw, raw_at)[0]
        raw_info = self._type_of(raw_obj) if raw_obj else None
        if raw_info is not None and raw_info.name == "_io.FileIO":
            fd = self._try(raw_obj + self.layout.fileio_fd, 4)
            result = replace(result, fd=struct.unpack("<i", fd)[0] if fd else None)
        return result

    def _buffered_lock(self, obj: int, type_name: str, size: int, lock_at: int, owner_at: int) -> Optional[tuple[LockObject, bytes]]:
        """A buffered object's lock and owner, and the bytes of the object they were read from;
        read twice when the two disagree (a hand-over): then unknown."""
        for attempt in (1, 2):
            raw = self._try(obj, size)
            if raw is None:
                return None
            sem_addr, owner = struct.unpack_from("<Q", raw, lock_at)[0], struct.unpack_from("<Q", raw, owner_at)[0]
            value, nwaiters = self._sem(sem_addr)
            if value is None:
                return None
            result = LockObject(obj, type_name, "rlock", sem_addr, value == 0, owner or None, 1 if owner else 0, value, nwaiters)
            if value <= 1 and owner < MAX_USER_ADDR and (owner != 0) == (value == 0):
                return result, raw
            if attempt == 2:
                return replace(result, locked=None, owner_ident=None, count=None), raw
        return None  # not reached: the second attempt returns

    def _read_py_rlock(self, obj: int) -> Optional[LockObject]:
        """2.7 ``threading._RLock`` (and 3.x ``threading._PyRLock``): a Python object whose
        ``block`` attribute is the plain lock the waiters sleep on."""
        prefix = self.layout.rlock_attr_prefix
        result: Optional[LockObject] = None
        for _attempt in range(2):
            attrs = self.attrs(obj)
            block, owner_obj, count_obj = (attrs.get(prefix + n) for n in ("block", "owner", "count"))
            if block is None or owner_obj is None or count_obj is None:
                return None
            info = self._type_of(block)
            spec = self._lock_spec(info.name) if info else None
            if spec is None or spec[0] != "lock" or info is None or info.basicsize != spec[1]:
                return None
            inner, inner_ok = self._read_c_lock(block, info.name, "lock", spec[1])
            if inner is None:
                return None
            owner_info = self._type_of(owner_obj)
            owner = None if owner_info is not None and owner_info.name == "NoneType" else self._int(owner_obj)
            owner_known = owner is not None or (owner_info is not None and owner_info.name == "NoneType")
            count = self._int(count_obj)
            ok = inner_ok and owner_known and count is not None and count >= 0 and (owner is None) == (count == 0)
            ok = ok and (not count or inner.locked is True)
            result = LockObject(
                addr=obj,
                type_name="_RLock",
                kind="rlock",
                sem_addr=inner.sem_addr,
                locked=(count > 0) if ok and count is not None else None,
                owner_ident=owner if ok else None,
                count=count if ok else None,
                sem_value=inner.sem_value,
                sem_nwaiters=inner.sem_nwaiters,
                inner_addr=block,
            )
            if ok:
                return result
        return result

    # ---- attributes

    def find_locks(
        self,
        roots: Iterable[tuple[str, int]],
        depth: int = 3,
        max_objects: int = 200,
        max_items: int = 32,
        max_attrs: int = 256,
    ) -> list[tuple[str, LockObject]]:
        """Locks reachable from named roots (frame locals), breadth first, with their path:
        ``self.lock``, ``self._semlock``, ``self.a.b.lock``, ``self._waiters[0]``.

        Follows attributes (dict, managed dict, slots; ``max_attrs`` per object) and items
        of lists, tuples, deques and str-keyed dicts (``max_items`` per container), up to
        ``depth`` steps and ``max_objects`` objects examined.
        Does not descend into locks, types, modules, functions or scalars."""

        def children(path: str, addr: int, info) -> Iterator[tuple[str, int]]:  # type: ignore[no-untyped-def]
            if info.name in PLAIN_LEAF_TYPES or info.flags & TPFLAGS_TYPE_SUBCLASS:
                return
            for name, child in self.attrs(addr, limit=max_attrs).items():
                yield f"{path}.{name}", child
            for suffix, child in self._items(addr, info, max_items):
                yield path + suffix, child

        return list(self.walk_locks(roots, depth, max_objects, children))

    def walk_locks(
        self,
        roots: Iterable[tuple[str, int]],
        depth: int,
        max_objects: int,
        children: Callable[[str, int, Any], Iterable[tuple[str, int]]],
        read: Optional[Callable[[int], Optional[LockObject]]] = None,
    ) -> Iterator[tuple[str, LockObject]]:
        """The locks a bounded breadth-first walk from named ``roots`` meets, with their path:
        at most ``max_objects`` objects examined, ``depth`` steps; ``children(path, addr,
        type info)`` names what an object leads to; ``read`` says what is a lock (default
        ``read_lock``). A lock is never descended into."""
        read = read or self.read_lock
        seen: set[int] = set()
        queue: deque = deque((name, addr, 0) for name, addr in roots if addr)
        visited = 0
        while queue and visited < max_objects:
            path, addr, level = queue.popleft()
            if addr in seen:
                continue
            seen.add(addr)
            visited += 1
            info = self._type_of(addr)
            if info is None:
                continue
            lock = read(addr)
            if lock is not None:
                yield path, lock
                continue
            if level >= depth:
                continue
            for child_path, child in children(path, addr, info):
                if child not in seen:
                    queue.append((child_path, child, level + 1))

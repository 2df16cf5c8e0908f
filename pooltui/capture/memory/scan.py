"""The heap scan: every lock object in a process's memory, found without a frame to start
from. A core file has no py-spy locals to name the objects a thread's frames hold, so
``capture.coredump`` finds a waiting thread's lock this way (live processes do not need it).

Finds the lock types (from a known instance, or by their names' C strings), then every
8-aligned pointer to them in writable anonymous memory and [heap]. About 1 s per 180 MB
mapped; it reads a lot, so it runs under its own budget (``search.SCAN_BUDGET``, or the
caller's). Nothing is kept from one scan to the next: a type found in one process says
nothing trustworthy about another's memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Optional

from pooltui.capture.memory.kernel import Mapping
from pooltui.capture.memory.layouts import TP_NAME, TPFLAGS_HEAPTYPE, Layout
from pooltui.capture.memory.lockstate import LockObject, TargetMemory
from pooltui.capture.memory.search import _chunks, _search_words

_MAX_STRING_REGION = 512 << 20


def _wanted_types(layout: Layout) -> set[str]:
    return {name for name, _kind, _size in layout.lock_types} | {layout.rlock_type}


def _search_strings(mem: TargetMemory, regions: Iterable[Mapping], patterns: Sequence[bytes]) -> dict[bytes, list[int]]:
    hits: dict[bytes, list[int]] = {p: [] for p in patterns}
    overlap = max((len(p) for p in patterns), default=1) - 1
    for pos, data, owned in _chunks(mem, regions, overlap):
        for p in patterns:
            i = data.find(p)
            while 0 <= i < owned:
                hits[p].append(pos + i)
                i = data.find(p, i + 1)
    return hits


def _valid_lock_type(mem: TargetMemory, tp: int, wanted: set[str]) -> Optional[str]:
    info = mem._type_info(tp)
    if info is None or info.name not in wanted:
        return None
    spec = mem._lock_spec(info.name)
    if spec is not None and info.basicsize != spec[1]:
        return None
    if spec is None and not info.flags & TPFLAGS_HEAPTYPE:  # the Python _RLock class
        return None
    return info.name


def find_lock_types(mem: TargetMemory, maps: Sequence[Mapping], hints: Iterable[int] = ()) -> dict[int, str]:
    """type address -> tp_name of the lock types in the target.

    From ``hints`` (instances whose ob_type to take), else by searching the names' C
    strings in readable memory and then a pointer to them at ``type+24`` in writable memory."""
    wanted = _wanted_types(mem.layout)
    found: dict[int, str] = {}
    for obj in hints:
        tp = mem._u64(obj + 8) if obj else None
        name = _valid_lock_type(mem, tp, wanted) if tp else None
        if name:
            found[tp] = name  # type: ignore[index]
    missing = wanted - set(found.values())
    skip = ("[vvar]", "[vsyscall]", "[vdso]")
    # type objects sit in a module's .data (static types) or in [heap] (heap types, malloc'd):
    # search there first, then every writable mapping for what is still missing
    stages = [
        [m for m in maps if m.perms.startswith("rw") and (m.path.startswith("/") or m.path == "[heap]")],
        [m for m in maps if m.perms.startswith("rw") and not (m.path.startswith("/") or m.path == "[heap]") and m.path not in skip],
    ]
    strings: Optional[dict[bytes, list[int]]] = None
    for writable in stages:
        if not missing:
            break
        if strings is None:
            readable = [m for m in maps if m.perms.startswith("r") and m.path not in skip and m.end - m.start <= _MAX_STRING_REGION]
            strings = _search_strings(mem, readable, [n.encode() + b"\0" for n in sorted(missing)])
        targets = [a for addrs in strings.values() for a in addrs[:64]]
        for _value, addrs in _search_words(mem, writable, targets).items():
            for hit in addrs:
                name = _valid_lock_type(mem, hit - TP_NAME, missing)
                if name:
                    found[hit - TP_NAME] = name
        missing = wanted - set(found.values())
    return found


def locks_in(mem: TargetMemory, type_hint_addrs: Iterable[int] = ()) -> list[LockObject]:
    """Every live lock object in ``mem``'s anonymous writable memory and [heap] (a live
    process's, or a core file's): the lock types, then every 8-aligned pointer to them at
    ``ob_type``; candidates whose refcount is not plausible (freed blocks) or that fail
    ``read_lock`` validation are dropped. ``type_hint_addrs``: addresses of known lock
    instances whose type saves the type search."""
    maps = mem.maps
    types = find_lock_types(mem, maps, type_hint_addrs)
    if not types:
        return []
    anon = [m for m in maps if m.perms.startswith("rw") and (m.path == "" or m.path == "[heap]")]
    hits = _search_words(mem, anon, types)
    out: dict[int, LockObject] = {}
    for _type, addrs in hits.items():
        for hit in addrs:
            obj = hit - 8
            refcnt = mem._u64(obj)
            if refcnt is None or not 0 < refcnt < 1 << 32:
                continue
            lock = mem.read_lock(obj)
            if lock is not None:
                out[obj] = lock
    return [out[a] for a in sorted(out)]

"""Where a lock lives, named as its code names it: ``module.NAME``, ``Class.attr``,
``outer.<locals>.name``, ``obj.attr[key]``.

``find_lock_place`` starts from the futex address a blocked thread sleeps on (the
kernel's fact) and looks for the lock object whose ``sem_t`` is that address, walking
breadth first and bounded (objects, entries per dict, depth) from:

1. the thread's frame locals, through instance attributes (dict, managed dict, slots),
   the instance's class attributes, bound methods, functions' closure cells (a
   ``threading.Thread``'s ``_target`` is one) and containers;
2. then the globals its frames run in: each frame's own ``f_globals``, innermost first,
   however deep the thread's stack (``frameglobals``: 3.8-3.13; it is also the only road
   to the namespace of code run by ``exec``); then the modules whose ``__file__`` is a
   frame's file — found through a function met on the way, else through ``sys.modules``
   (reached from any module that imported ``sys``: ``threading`` does) — and from each
   global into classes, instances, containers and closures.

Every read is one of ``TargetMemory``'s (budgeted); nothing here writes or stops the target.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Optional

from pooltui.capture.memory.frameglobals import frame_globals
from pooltui.capture.memory.layouts import METHOD_FUNC, METHOD_SELF, TPFLAGS_HEAPTYPE, TPFLAGS_TYPE_SUBCLASS
from pooltui.capture.memory.lockstate import LockObject, TargetMemory
from pooltui.capture.memory.objects import PLAIN_LEAF_TYPES
from pooltui.model.record import Record

MAX_LOCALS_OBJECTS = 1000  # objects examined from a thread's locals
MAX_MODULE_OBJECTS = 2000  # objects examined from one module's globals
MAX_ITEMS = 64  # items per container
MAX_MODULES = 4096  # entries of sys.modules looked at
_METHODS = frozenset({"method", "instancemethod"})
_SKIP_GLOBALS = frozenset({"__builtins__", "__loader__", "__spec__", "__doc__", "__cached__", "__file__", "__name__", "__package__"})


class Place(Record, frozen=True):
    """A lock object and the name of the place it was found in."""

    name: str  # 'module.NAME', 'Class.attr', 'outer.<locals>.name', 'self.lock', 'module.obj.attr[key]'
    lock: LockObject
    via: str  # 'locals' | 'globals': which walk found it


class _Walk:
    """One bounded breadth-first search for the lock whose sem_t is ``futex`` (or for the
    object ``target``: a Python-level lock such as a ``threading.Semaphore``)."""

    def __init__(self, mem: TargetMemory, futex: int, name_hint: Optional[str], target: Optional[LockObject] = None) -> None:
        self.mem = mem
        self.futex = futex
        self.target = target
        self.name_hint = name_hint.rpartition(".")[2] if name_hint is not None else None  # its last name
        self.other: Optional[tuple[str, LockObject]] = None  # a hit whose name disagrees with the hint
        self.globals_seen: list[int] = []  # module dicts met through functions

    def run(self, roots: Iterable[tuple[str, int]], depth: int, cap: int) -> Optional[tuple[str, LockObject]]:
        # a walk of its own each time: the module walk may meet an object the locals walk named otherwise
        target = self.target
        read = (lambda addr: target if addr == target.addr else None) if target is not None else None
        for label, lock in self.mem.walk_locks(roots, depth, cap, self._children, read):
            if (lock.addr == target.addr) if target is not None else lock.sem_addr == self.futex:
                if self.name_hint is None or _tail(label) == self.name_hint:
                    return label, lock
                self.other = self.other or (label, lock)
        return None

    def _children(self, label: str, addr: int, info) -> list[tuple[str, int]]:
        mem = self.mem
        if info.name == "function":
            func = mem.function(addr)
            if func is None:
                return []
            if func.globals:
                self.globals_seen.append(func.globals)
            head, sep, _ = func.name.rpartition(".<locals>.")
            prefix = f"{head}{sep}".rstrip(".") if sep else f"{func.name}.<closure>"
            return [(f"{prefix}.{var}", value) for var, value in func.closure.items()]
        if info.name in _METHODS:
            return [(label, v) for v in (mem._u64(addr + METHOD_FUNC), mem._u64(addr + METHOD_SELF)) if v]
        if info.name == "module":
            dict_addr = mem.module_dict(addr)
            return self._globals(dict_addr) if dict_addr else []
        if info.flags & TPFLAGS_TYPE_SUBCLASS:
            return [(f"{_short(self._type_name(addr))}.{k}", v) for k, v in mem.class_dict(addr).items()]
        if info.name in PLAIN_LEAF_TYPES:
            return []
        # a multiprocessing lock is named as its wrapper is: LOCK, not LOCK._semlock
        out = [(label if k == "_semlock" else f"{label}.{k}", v) for k, v in mem.attrs(addr, limit=256).items()]
        out += [(label + suffix, v) for suffix, v in mem._items(addr, info, MAX_ITEMS)]
        if info.flags & TPFLAGS_HEAPTYPE:  # an instance of a class: its class attributes
            out.append((_short(info.name), info.addr))
        return out

    def _type_name(self, type_addr: int) -> str:
        info = self.mem._type_info(type_addr)
        return info.name if info else "?"

    def _globals(self, dict_addr: int, only: Optional[str] = None) -> list[tuple[str, int]]:
        """A module's globals as walk roots (``only``: that one name, when the module has it)."""
        items = self.mem.dict_items(dict_addr)
        module = self.mem._str(items.get("__name__", 0)) or "?"
        module = "__main__" if module == "__mp_main__" else module  # the main script, re-imported in a spawn child
        return [(f"{module}.{k}", v) for k, v in items.items() if k not in _SKIP_GLOBALS and only in (None, k)]


def _tail(label: str) -> str:
    return label.rpartition(".")[2].partition("[")[0]


def _short(type_name: str) -> str:
    return type_name.rpartition(".")[2]


def _same_file(module_file: str, frame_file: str) -> bool:
    module_file = module_file[:-1] if module_file.endswith((".pyc", ".pyo")) else module_file
    if module_file == frame_file:
        return True
    a, b = os.path.normpath(module_file), os.path.normpath(frame_file)
    if os.path.basename(a) != os.path.basename(b):
        return False
    # one of them relative (a script started as `python app.py`): the tail must agree
    return a.endswith(os.sep + b) or b.endswith(os.sep + a) or not (os.path.isabs(a) and os.path.isabs(b))


def _module_dicts(mem: TargetMemory, walk: _Walk, files: Sequence[str]) -> list[int]:
    """The globals dicts of the modules whose ``__file__`` is one of ``files`` (in that order)."""
    candidates = list(dict.fromkeys(walk.globals_seen))
    found: dict[str, int] = {}

    def consider(dict_addr: int) -> None:
        items = mem.dict_items(dict_addr, 64) if dict_addr else {}
        path = mem._str(items.get("__file__", 0))
        if path is None:
            return
        for f in files:
            if f not in found and _same_file(path, f):
                found[f] = dict_addr

    for d in candidates:
        consider(d)
    if len(found) < len(set(files)):
        modules = _sys_modules(mem, candidates)
        for module in list(mem.dict_items(modules, MAX_MODULES).values()) if modules else []:
            globals_dict = mem.module_dict(module)
            if globals_dict and globals_dict not in candidates:
                consider(globals_dict)
            if len(found) == len(set(files)):
                break
    return [found[f] for f in dict.fromkeys(files) if f in found]


def _sys_modules(mem: TargetMemory, module_dicts: Sequence[int]) -> Optional[int]:
    """``sys.modules``, through a module among ``module_dicts`` that imported ``sys``."""
    for d in module_dicts:
        for value in mem.dict_items(d).values():
            md = mem.module_dict(value)
            items = mem.dict_items(md) if md else {}
            if mem._str(items.get("__name__", 0)) == "sys" and "modules" in items:
                return items["modules"]
    return None


def find_lock_place(
    mem: TargetMemory,
    frames: Sequence[tuple[str, Sequence[tuple[str, int]]]],
    futex: int,
    name_hint: Optional[str] = None,
    target: Optional[LockObject] = None,
    ident: Optional[int] = None,
) -> Optional[Place]:
    """The lock whose sem_t is ``futex`` and where it lives, from a thread's frames given
    innermost first as (file, [(local name, address)]). None when not found within bounds.

    ``name_hint``: the name the waiting line uses (``with LOCK:`` -> 'LOCK', ``with
    self._lock:`` -> 'self._lock'); a place whose last name differs (the same lock reached
    as ``initargs[0]``) is kept only when no place of that last name is found. A bare name
    that is no local of the first frame is looked up in the frames' globals first.
    ``target``: look for that object instead (``futex`` unused).
    ``ident``: the thread's ident, whose frames' own globals are searched."""
    walk = _Walk(mem, futex, name_hint, target)
    own_globals: Optional[list[int]] = None

    def globals_of_frames() -> list[int]:  # read once, when first asked for
        nonlocal own_globals
        if own_globals is None:
            own_globals = frame_globals(mem, ident)
        return own_globals

    if name_hint is not None and name_hint.isidentifier() and frames and all(name != name_hint for name, _ in frames[0][1]):
        # ``with LOCK:`` in a frame with no local LOCK: Python looks the name up in the globals
        # the frame runs in, and so does this, before walking every frame's locals for it
        for dict_addr in globals_of_frames():
            hit = walk.run(walk._globals(dict_addr, only=name_hint), depth=1, cap=MAX_ITEMS)
            if hit is not None:
                return Place(hit[0], hit[1], "globals")
        walk.other = None  # a fallback is what the walk below meets first, as before this look
    roots = [(name, addr) for _file, local_vars in frames for name, addr in local_vars]
    hit = walk.run(roots, depth=3, cap=MAX_LOCALS_OBJECTS)
    if hit is not None:
        return Place(hit[0], hit[1], "locals")
    files = [f for f, _locals in frames if f]

    def globals_dicts() -> Iterable[int]:  # the frames' own first; sys.modules only if needed
        yield from globals_of_frames()
        yield from _module_dicts(mem, walk, files)

    searched: list[int] = []
    for dict_addr in globals_dicts():
        if dict_addr in searched:
            continue
        searched.append(dict_addr)
        hit = walk.run(walk._globals(dict_addr), depth=3, cap=MAX_MODULE_OBJECTS)
        if hit is not None:
            return Place(hit[0], hit[1], "globals")
    return Place(walk.other[0], walk.other[1], "locals") if walk.other else None

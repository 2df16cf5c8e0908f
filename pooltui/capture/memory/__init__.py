"""Read-only reader of lock objects (and thread stacks) in another CPython process's memory.

Everything here reads ``/proc/PID/...`` and never writes, stops or attaches to the
target: ``os.pread`` on ``/proc/PID/mem`` for objects, ``/proc/PID/task/TID/syscall``
for the futex a blocked thread sleeps on, ``/proc/PID/maps`` for shared semaphores.
Reads are racy (the target keeps running), so every value is validated; a value that
fails validation is reported as ``None``, a build we have no layout for raises
``Unsupported``, a read past the per-process budget raises ``BudgetExceeded``.
Nothing is guessed.

Supported targets: CPython 2.7 and 3.6-3.13, GIL builds, Linux x86-64, glibc (its
64-bit ``struct new_sem``, glibc >= 2.21). Free-threaded builds change the object
header and 3.14 made ``_thread`` locks PyMutex-based: both are Unsupported.

The package, bottom up:

* ``kernel``    /proc/PID/task/*/syscall (futex waits) and /proc/PID/maps;
* ``layouts``   per-version offsets, one table entry per version: where a new version goes;
* ``reader``    the one /proc/PID/mem reader: build checks, error translation, read budget;
* ``values``    an object's type, and the values of str and int objects;
* ``objects``   walkers over dicts, instance attributes, functions, modules, classes, containers;
* ``lockstate`` lock objects and their sem_t; ``find_locks`` from named roots;
* ``places``    where a waited lock lives: locals, closures, classes, module globals;
* ``withblocks`` the frames inside a ``with`` of a lock (its ``__exit__`` on their value stack);
* ``search``    where in a process's memory a 64-bit value (a sem_t or object address) is stored;
* ``symbols``   a dynamic symbol's address, from the target's own mapped ELF tables;
* ``lines``     a frame's line number from its code object's line table, as py-spy computes it;
* ``stacks``    every Python thread's stack, as py-spy reads it (``capture.direct`` uses it).
"""

from pooltui.capture.memory.kernel import Mapping, Syscall, alive, read_maps, semaphore_identity, thread_syscalls
from pooltui.capture.memory.kernel import _parse_syscall as _parse_syscall
from pooltui.capture.memory.layouts import LAYOUTS, SEM_VALUE_MAX, Layout, layout_for
from pooltui.capture.memory.lockstate import LockObject, TargetMemory
from pooltui.capture.memory.places import Place, find_lock_place
from pooltui.capture.memory.reader import Budget, BudgetExceeded, MemoryFault, check_build, check_elf
from pooltui.capture.memory.search import SCAN_BUDGET
from pooltui.capture.memory.search import _search_words as _search_words
from pooltui.capture.memory.values import _TypeInfo as _TypeInfo
from pooltui.capture.memory.withblocks import exit_frames

__all__ = [
    "LAYOUTS",
    "SCAN_BUDGET",
    "SEM_VALUE_MAX",
    "Budget",
    "BudgetExceeded",
    "Layout",
    "LockObject",
    "Mapping",
    "MemoryFault",
    "Place",
    "Syscall",
    "TargetMemory",
    "alive",
    "check_build",
    "check_elf",
    "exit_frames",
    "find_lock_place",
    "layout_for",
    "read_maps",
    "semaphore_identity",
    "thread_syscalls",
]

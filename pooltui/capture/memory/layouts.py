"""Where CPython keeps things, per version: the one table to extend for a new version.

Each entry of ``LAYOUTS`` is one X.Y of CPython (x86-64, GIL build, glibc), written out in
full so a version is read in one place (as pystack keeps its versioned fields). Every
offset was measured against ground truth printed inside live targets
(tests/live/test_memory.py checks each one on every interpreter installed). To add a
version: copy the nearest entry, change what CPython changed, add the interpreter to the
live tests' VERSIONS. 3.14 replaced the ``sem_t`` behind ``_thread`` locks by ``PyMutex``
(a one-byte lock word, waiters parked elsewhere): it needs new lock readers, not just a row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from pooltui.capture.errors import Unsupported

# type object (PyTypeObject, 64-bit; the same prefix 2.7 .. 3.13)
TP_NAME, TP_BASICSIZE, TP_ITEMSIZE, TP_FLAGS = 24, 32, 40, 168
TP_MEMBERS, TP_BASE, TP_DICT, TP_DICTOFFSET, TP_MRO = 240, 256, 264, 288, 344
# the same in every version: PyModuleObject.md_dict, PyCellObject.ob_ref,
# PyMethodObject.im_func / im_self (2.7 instancemethod too)
MODULE_DICT, CELL_REF, METHOD_FUNC, METHOD_SELF = 16, 16, 16, 24
# PyCFunctionObject.m_ml (its PyMethodDef, ml_name first) and m_self: a bound builtin method
CFUNC_ML, CFUNC_SELF = 16, 24
TPFLAGS_INLINE_VALUES = 1 << 2  # 3.13
TPFLAGS_MANAGED_DICT = 1 << 4  # 3.11+
TPFLAGS_HEAPTYPE = 1 << 9
TPFLAGS_LIST_SUBCLASS = 1 << 25
TPFLAGS_TUPLE_SUBCLASS = 1 << 26
TPFLAGS_DICT_SUBCLASS = 1 << 29
TPFLAGS_TYPE_SUBCLASS = 1 << 31
# PyMemberDef {char *name; int type; Py_ssize_t offset; int flags; char *doc}
MEMBERDEF_SIZE = 40
T_OBJECT, T_OBJECT_EX = 6, 16
PY_RELATIVE_OFFSET = 8  # 3.12+ member flag: offset relative to the subclass's data

SEMLOCK_KINDS = {0: "RECURSIVE_MUTEX", 1: "SEMAPHORE"}
SEM_VALUE_MAX = 0x7FFFFFFF


@dataclass(frozen=True)
class Layout:
    """Where things are, for one X.Y (x86-64, GIL build)."""

    py2: bool
    str_ascii_data: int  # compact ASCII str data (2.7: PyStringObject ob_sval)
    str_compact_data: int  # compact non-ASCII str data (3.x)
    dict_kind: str  # 'py27' | 'py36' | 'py311': PyDictObject / PyDictKeysObject shape
    managed: Optional[str]  # None | '311' | '312' | '313': where a managed instance dict lives
    cached_keys: Optional[int]  # PyHeapTypeObject.ht_cached_keys
    values_header: int  # bytes before values[] in PyDictValues (3.13: 8)
    long_tagged: bool  # 3.12+ PyLongObject lv_tag
    lock_locked: Optional[int]  # _thread.lock 'locked' char
    semlock_name: Optional[int]  # SemLockObject.name
    lock_types: tuple[tuple[str, str, int], ...]  # (tp_name, kind, tp_basicsize)
    function: tuple[int, int, int, int, Optional[int]]  # PyFunctionObject: code, globals, closure, name, qualname
    code_freevar_names: int  # PyCodeObject tuple whose last len(closure) items name the free variables
    # (co_freevars up to 3.10, co_localsplusnames since 3.11)
    code_file_name: tuple[int, int]  # PyCodeObject co_filename, co_name
    # the frame a value-stack slot belongs to: ("object", f_code, f_globals, f_valuestack) for a
    # PyFrameObject (up to 3.10, ob_type "frame"); ("interp", f_code, f_globals, f_func) for a
    # _PyInterpreterFrame (3.11+: the value stack follows the frame's localsplus)
    frame: tuple
    # io's C buffered objects (Modules/_io/bufferedio.c ``buffered``, the same struct 2.7-3.13):
    # (tp_basicsize, raw, lock (a PyThread_type_lock: the sem_t* itself), owner (thread ident))
    buffered: tuple[int, int, int, int] = (152, 16, 104, 112)
    textio: tuple[int, int] = (192, 32)  # TextIOWrapper (textio.c): (tp_basicsize, buffer)
    fileio_fd: int = 16  # FileIO (fileio.c) ``fd``, an int


_PY2_LOCKS = (("thread.lock", "lock", 32), ("_multiprocessing.SemLock", "semlock", 48))
_PY3_LOCKS = (("_thread.lock", "lock", 40), ("_thread.RLock", "rlock", 48), ("_multiprocessing.SemLock", "semlock", 56))

# fmt: off
LAYOUTS: dict[tuple[int, int], Layout] = {
    (2, 7): Layout(py2=True, str_ascii_data=36, str_compact_data=36, dict_kind="py27", managed=None, cached_keys=None,
                   values_header=0, long_tagged=False, lock_locked=None, semlock_name=None, lock_types=_PY2_LOCKS,
                   function=(16, 24, 40, 56, None), code_freevar_names=64,
                   code_file_name=(80, 88), frame=("object", 32, 48, 64), textio=(176, 32)),
    (3, 6): Layout(py2=False, str_ascii_data=48, str_compact_data=72, dict_kind="py36", managed=None, cached_keys=None,
                   values_header=0, long_tagged=False, lock_locked=32, semlock_name=48, lock_types=_PY3_LOCKS,
                   function=(16, 24, 48, 64, 104), code_freevar_names=72,
                   code_file_name=(96, 104), frame=("object", 32, 48, 64)),
    (3, 7): Layout(py2=False, str_ascii_data=48, str_compact_data=72, dict_kind="py36", managed=None, cached_keys=None,
                   values_header=0, long_tagged=False, lock_locked=32, semlock_name=48, lock_types=_PY3_LOCKS,
                   function=(16, 24, 48, 64, 104), code_freevar_names=72,
                   code_file_name=(96, 104), frame=("object", 32, 48, 64)),
    (3, 8): Layout(py2=False, str_ascii_data=48, str_compact_data=72, dict_kind="py36", managed=None, cached_keys=None,
                   values_header=0, long_tagged=False, lock_locked=32, semlock_name=48, lock_types=_PY3_LOCKS,
                   function=(16, 24, 48, 64, 104), code_freevar_names=80,
                   code_file_name=(104, 112), frame=("object", 32, 48, 64)),
    (3, 9): Layout(py2=False, str_ascii_data=48, str_compact_data=72, dict_kind="py36", managed=None, cached_keys=None,
                   values_header=0, long_tagged=False, lock_locked=32, semlock_name=48, lock_types=_PY3_LOCKS,
                   function=(16, 24, 48, 64, 104), code_freevar_names=80,
                   code_file_name=(104, 112), frame=("object", 32, 48, 64)),
    (3, 10): Layout(py2=False, str_ascii_data=48, str_compact_data=72, dict_kind="py36", managed=None, cached_keys=None,
                    values_header=0, long_tagged=False, lock_locked=32, semlock_name=48, lock_types=_PY3_LOCKS,
                    function=(48, 16, 72, 32, 40), code_freevar_names=80,
                    code_file_name=(104, 112), frame=("object", 32, 48, 64)),
    (3, 11): Layout(py2=False, str_ascii_data=48, str_compact_data=72, dict_kind="py311", managed="311", cached_keys=872,
                    values_header=0, long_tagged=False, lock_locked=32, semlock_name=48, lock_types=_PY3_LOCKS,
                    function=(48, 16, 72, 32, 40), code_freevar_names=96,
                    code_file_name=(112, 120), frame=("interp", 32, 8, 0)),
    (3, 12): Layout(py2=False, str_ascii_data=40, str_compact_data=56, dict_kind="py311", managed="312", cached_keys=880,
                    values_header=0, long_tagged=True, lock_locked=32, semlock_name=48, lock_types=_PY3_LOCKS,
                    function=(48, 16, 72, 32, 40), code_freevar_names=96,
                    code_file_name=(112, 120), frame=("interp", 0, 24, 16), textio=(200, 32)),
    (3, 13): Layout(py2=False, str_ascii_data=40, str_compact_data=56, dict_kind="py311", managed="313", cached_keys=880,
                    values_header=8, long_tagged=True, lock_locked=32, semlock_name=48, lock_types=_PY3_LOCKS,
                    function=(48, 16, 72, 32, 40), code_freevar_names=96,
                    code_file_name=(112, 120), frame=("interp", 0, 24, 16), textio=(200, 32)),
}
# fmt: on


def layout_for(version: tuple[int, int]) -> Layout:
    """The layout of ``version``; Unsupported (saying why) for one not in the table."""
    if version in LAYOUTS:
        return LAYOUTS[version]
    text = f"{version[0]}.{version[1]}"
    if version >= (3, 14):
        raise Unsupported(
            f"Python {text}: lock objects are PyMutex-based since 3.14 (no sem_t, no owner field in the old place); "
            "pooltui has no verified layout for them"
        )
    raise Unsupported(f"Python {text}: no verified memory layout (supported: 2.7, 3.6-3.13)")

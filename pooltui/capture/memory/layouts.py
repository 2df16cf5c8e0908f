"""Where CPython keeps things, per version: the one table to extend for a new version.

Each entry of ``LAYOUTS`` is one X.Y of CPython (x86-64, GIL build, glibc), written out in
full so a version is read in one place (as pystack keeps its versioned fields). Every
offset was measured against ground truth printed inside live targets
(tests/live/test_memory.py checks each one on every interpreter installed). No reader
tests the version: what a version does differently (2.7's byte strings and old-style
instances, 3.12's tagged ints and relative member offsets) is a named field of its row. To
add a version: copy the nearest entry, change what CPython changed, add the interpreter to
the live tests' VERSIONS. 3.14 replaced the ``sem_t`` behind ``_thread`` locks by
``PyMutex`` (a one-byte lock word, waiters parked elsewhere): it needs new lock readers,
not just a row.
"""

from __future__ import annotations

from typing import Optional

from pooltui.capture.errors import Unsupported
from pooltui.model.record import Record

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


class Layout(Record, frozen=True):
    """Where things are, for one X.Y (x86-64, GIL build)."""

    str_kind: str  # 'bytes' (2.7: str is PyStringObject) | 'pep393' (3.3+: compact PyUnicodeObject)
    str_ascii_data: int  # compact ASCII str data (2.7: PyStringObject ob_sval)
    str_compact_data: int  # compact non-ASCII str data (3.x)
    dict_kind: str  # 'py27' | 'py36' | 'py311': PyDictObject / PyDictKeysObject shape
    managed: Optional[str]  # None | '311' | '312' | '313': where a managed instance dict lives
    cached_keys: Optional[int]  # PyHeapTypeObject.ht_cached_keys
    values_header: int  # bytes before values[] in PyDictValues (3.13: 8)
    # what an int / bool object holds at 16: 'ival' (2.7 PyIntObject ob_ival, a C long), 'digits'
    # (PyLongObject: ob_size, negative for a negative int, then 30-bit digits), 'tagged' (3.12+ lv_tag)
    int_kind: str
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
    member_offsets_relative: bool  # 3.12+: a PyMemberDef flagged Py_RELATIVE_OFFSET is not an instance offset
    old_instance_dict: Optional[int]  # 2.7 old-style instances (ob_type 'instance'): PyInstanceObject.in_dict
    deque_items: bool  # collections.deque read as 3.x's dequeobject (ob_size at 16, 64-item blocks after leftlink)
    rlock_type: str  # tp_name of what threading.RLock() makes: 2.7's Python class '_RLock', 3.x's C '_thread.RLock'
    rlock_attr_prefix: str  # of a Python RLock's block / owner / count: 2.7 '_RLock__' (name-mangled), 3.x '_' (_PyRLock)
    # io's C buffered objects (Modules/_io/bufferedio.c ``buffered``, the same struct 2.7-3.13):
    # (tp_basicsize, raw, lock (a PyThread_type_lock: the sem_t* itself), owner (thread ident))
    buffered: tuple[int, int, int, int] = (152, 16, 104, 112)
    textio: tuple[int, int] = (192, 32)  # TextIOWrapper (textio.c): (tp_basicsize, buffer)
    fileio_fd: int = 16  # FileIO (fileio.c) ``fd``, an int


_PY2_LOCKS = (("thread.lock", "lock", 32), ("_multiprocessing.SemLock", "semlock", 48))
_PY3_LOCKS = (("_thread.lock", "lock", 40), ("_thread.RLock", "rlock", 48), ("_multiprocessing.SemLock", "semlock", 56))

# fmt: off
LAYOUTS: dict[tuple[int, int], Layout] = {
    (2, 7): Layout(str_kind="bytes", str_ascii_data=36, str_compact_data=36, dict_kind="py27", managed=None, cached_keys=None,
                   values_header=0, int_kind="ival", lock_locked=None, semlock_name=None, lock_types=_PY2_LOCKS,
                   function=(16, 24, 40, 56, None), code_freevar_names=64,
                   code_file_name=(80, 88), frame=("object", 32, 48, 64), textio=(176, 32),
                   member_offsets_relative=False, old_instance_dict=24, deque_items=False, rlock_type="_RLock", rlock_attr_prefix="_RLock__"),
    (3, 6): Layout(str_kind="pep393", str_ascii_data=48, str_compact_data=72, dict_kind="py36", managed=None, cached_keys=None,
                   values_header=0, int_kind="digits", lock_locked=32, semlock_name=48, lock_types=_PY3_LOCKS,
                   function=(16, 24, 48, 64, 104), code_freevar_names=72,
                   code_file_name=(96, 104), frame=("object", 32, 48, 64),
                   member_offsets_relative=False, old_instance_dict=None, deque_items=True, rlock_type="_thread.RLock", rlock_attr_prefix="_"),
    (3, 7): Layout(str_kind="pep393", str_ascii_data=48, str_compact_data=72, dict_kind="py36", managed=None, cached_keys=None,
                   values_header=0, int_kind="digits", lock_locked=32, semlock_name=48, lock_types=_PY3_LOCKS,
                   function=(16, 24, 48, 64, 104), code_freevar_names=72,
                   code_file_name=(96, 104), frame=("object", 32, 48, 64),
                   member_offsets_relative=False, old_instance_dict=None, deque_items=True, rlock_type="_thread.RLock", rlock_attr_prefix="_"),
    (3, 8): Layout(str_kind="pep393", str_ascii_data=48, str_compact_data=72, dict_kind="py36", managed=None, cached_keys=None,
                   values_header=0, int_kind="digits", lock_locked=32, semlock_name=48, lock_types=_PY3_LOCKS,
                   function=(16, 24, 48, 64, 104), code_freevar_names=80,
                   code_file_name=(104, 112), frame=("object", 32, 48, 64),
                   member_offsets_relative=False, old_instance_dict=None, deque_items=True, rlock_type="_thread.RLock", rlock_attr_prefix="_"),
    (3, 9): Layout(str_kind="pep393", str_ascii_data=48, str_compact_data=72, dict_kind="py36", managed=None, cached_keys=None,
                   values_header=0, int_kind="digits", lock_locked=32, semlock_name=48, lock_types=_PY3_LOCKS,
                   function=(16, 24, 48, 64, 104), code_freevar_names=80,
                   code_file_name=(104, 112), frame=("object", 32, 48, 64),
                   member_offsets_relative=False, old_instance_dict=None, deque_items=True, rlock_type="_thread.RLock", rlock_attr_prefix="_"),
    (3, 10): Layout(str_kind="pep393", str_ascii_data=48, str_compact_data=72, dict_kind="py36", managed=None, cached_keys=None,
                    values_header=0, int_kind="digits", lock_locked=32, semlock_name=48, lock_types=_PY3_LOCKS,
                    function=(48, 16, 72, 32, 40), code_freevar_names=80,
                    code_file_name=(104, 112), frame=("object", 32, 48, 64),
                    member_offsets_relative=False, old_instance_dict=None, deque_items=True, rlock_type="_thread.RLock", rlock_attr_prefix="_"),
    (3, 11): Layout(str_kind="pep393", str_ascii_data=48, str_compact_data=72, dict_kind="py311", managed="311", cached_keys=872,
                    values_header=0, int_kind="digits", lock_locked=32, semlock_name=48, lock_types=_PY3_LOCKS,
                    function=(48, 16, 72, 32, 40), code_freevar_names=96,
                    code_file_name=(112, 120), frame=("interp", 32, 8, 0),
                    member_offsets_relative=False, old_instance_dict=None, deque_items=True, rlock_type="_thread.RLock", rlock_attr_prefix="_"),
    (3, 12): Layout(str_kind="pep393", str_ascii_data=40, str_compact_data=56, dict_kind="py311", managed="312", cached_keys=880,
                    values_header=0, int_kind="tagged", lock_locked=32, semlock_name=48, lock_types=_PY3_LOCKS,
                    function=(48, 16, 72, 32, 40), code_freevar_names=96,
                    code_file_name=(112, 120), frame=("interp", 0, 24, 16), textio=(200, 32),
                    member_offsets_relative=True, old_instance_dict=None, deque_items=True, rlock_type="_thread.RLock", rlock_attr_prefix="_"),
    (3, 13): Layout(str_kind="pep393", str_ascii_data=40, str_compact_data=56, dict_kind="py311", managed="313", cached_keys=880,
                    values_header=8, int_kind="tagged", lock_locked=32, semlock_name=48, lock_types=_PY3_LOCKS,
                    function=(48, 16, 72, 32, 40), code_freevar_names=96,
                    code_file_name=(112, 120), frame=("interp", 0, 24, 16), textio=(200, 32),
                    member_offsets_relative=True, old_instance_dict=None, deque_items=True, rlock_type="_thread.RLock", rlock_attr_prefix="_"),
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

"""Read-only reader of lock objects in another CPython process's memory.

Everything here reads ``/proc/PID/...`` and never writes, stops or attaches to the
target: ``os.pread`` on ``/proc/PID/mem`` for objects, ``/proc/PID/task/TID/syscall``
for the futex a blocked thread sleeps on, ``/proc/PID/maps`` for shared semaphores.
Reads are racy (the target keeps running), so every value is validated; a value that
fails validation is reported as ``None``, a build we have no layout for raises
``Unsupported``. Nothing is guessed.

Supported targets: CPython 2.7 and 3.6-3.13, GIL builds, Linux x86-64, glibc (its
64-bit ``struct new_sem``, glibc >= 2.21). The layouts below were measured against
ground truth printed inside live targets (tests/live/test_memory.py proves each one
on every interpreter installed). 3.14 replaced the ``sem_t`` behind ``_thread`` locks
by ``PyMutex``; free-threaded builds change the object header: both are Unsupported.

What ``TargetMemory`` checks before reading (else ``Unsupported``):

* the version is in ``LAYOUTS`` (2.7, 3.6-3.13);
* ``/proc/PID/exe`` is a 64-bit ELF for x86-64 (``e_machine`` 62);
* no abiflag ``t`` (free-threaded) or ``d`` (debug) in the interpreter's name: the
  executable (``python3.13t``), a mapped ``libpython3.13t.so`` or an extension module
  suffix (``.cpython-313t-x86_64-linux-gnu.so``); and the X.Y in those names, when
  present, equals ``version`` (a caller passing the wrong version is refused);
* the C library mapped is glibc (``libc.so.6`` / ``libc-2.NN.so``), not musl
  (``ld-musl-*``, ``libc.musl-*``, ``*-linux-musl.so``). A statically linked
  interpreter with no libc mapping is refused too: the ``sem_t`` layout is unknown.
"""

from __future__ import annotations

import errno
import os
import re
import struct
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Optional

from pooltui.capture.errors import CaptureError, PermissionDenied, ProcessGone, Unsupported

# --------------------------------------------------------------------------- kernel side

SYS_FUTEX_X86_64 = 202
FUTEX_PRIVATE_FLAG = 0x80
FUTEX_CLOCK_REALTIME = 0x100
# FUTEX_WAIT, FUTEX_LOCK_PI, FUTEX_WAIT_BITSET, FUTEX_WAIT_REQUEUE_PI, FUTEX_LOCK_PI2
_FUTEX_WAIT_CMDS = frozenset({0, 6, 9, 11, 13})


@dataclass(frozen=True)
class Syscall:
    """One thread's ``/proc/PID/task/TID/syscall``: ``running``, ``-1 SP PC`` (blocked
    outside a syscall) or ``NR ARG0..ARG5 SP PC``."""

    tid: int
    nr: Optional[int]  # None: running; -1: blocked outside a syscall
    args: tuple[int, ...] = ()
    sp: Optional[int] = None
    pc: Optional[int] = None

    @property
    def futex_op(self) -> Optional[int]:
        if self.nr == SYS_FUTEX_X86_64 and len(self.args) >= 2:
            return self.args[1]
        return None

    @property
    def futex_addr(self) -> Optional[int]:
        """The futex word a thread sleeps on (a glibc ``sem_t`` for CPython locks), only
        for wait operations; None otherwise (wake, requeue, not in futex)."""
        op = self.futex_op
        if op is None or (op & ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)) not in _FUTEX_WAIT_CMDS:
            return None
        return self.args[0]

    @property
    def shared(self) -> Optional[bool]:
        """True for a process-shared futex (no FUTEX_PRIVATE_FLAG: a multiprocessing
        semaphore in shared memory), False for a private one, None when not waiting."""
        if self.futex_addr is None:
            return None
        return not (self.futex_op or 0) & FUTEX_PRIVATE_FLAG


def _parse_syscall(tid: int, text: str) -> Optional[Syscall]:
    text = text.strip()
    if not text:
        return None
    if text == "running":
        return Syscall(tid, None)
    try:
        nums = [int(part, 0) for part in text.split()]
    except ValueError:
        return None
    nr = nums[0]
    if nr == -1:
        return Syscall(tid, -1, (), nums[1] if len(nums) > 1 else None, nums[2] if len(nums) > 2 else None)
    if len(nums) >= 9:
        return Syscall(tid, nr, tuple(nums[1:7]), nums[7], nums[8])
    return Syscall(tid, nr, tuple(nums[1:]))


def thread_syscalls(pid: int) -> dict[int, Syscall]:
    """TID -> what that thread is doing in the kernel, for every task of ``pid``.

    Tasks that exit while being read are left out. Reading needs ptrace access to the
    process (root, or same user with a permissive Yama scope)."""
    task_dir = f"/proc/{pid}/task"
    try:
        tids = sorted(int(name) for name in os.listdir(task_dir) if name.isdigit())
    except (FileNotFoundError, ProcessLookupError):
        raise ProcessGone(f"process {pid} exited", pid=pid) from None
    except PermissionError as exc:
        raise PermissionDenied(f"cannot list the threads of process {pid}", pid=pid, detail=str(exc)) from None
    out: dict[int, Syscall] = {}
    for tid in tids:
        try:
            with open(f"{task_dir}/{tid}/syscall", "rb") as handle:
                raw = handle.read()
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread exited
        except PermissionError as exc:
            raise PermissionDenied(f"cannot read what the threads of process {pid} wait on", pid=pid, detail=str(exc)) from None
        except OSError as exc:
            if exc.errno == errno.ESRCH:
                continue
            raise CaptureError(f"cannot read /proc/{pid}/task/{tid}/syscall: {exc}", pid=pid) from None
        call = _parse_syscall(tid, raw.decode("ascii", "replace"))
        if call is not None:
            out[tid] = call
    if not out and not os.path.exists(f"/proc/{pid}"):
        raise ProcessGone(f"process {pid} exited", pid=pid)
    return out


# --------------------------------------------------------------------------- /proc/PID/maps


@dataclass(frozen=True)
class Mapping:
    start: int
    end: int
    perms: str
    offset: int
    dev: int
    inode: int
    path: str

    def contains(self, addr: int) -> bool:
        return self.start <= addr < self.end


def read_maps(pid: int) -> list[Mapping]:
    try:
        with open(f"/proc/{pid}/maps", "rb") as handle:
            raw = handle.read().decode("utf-8", "replace")
    except (FileNotFoundError, ProcessLookupError):
        raise ProcessGone(f"process {pid} exited", pid=pid) from None
    except PermissionError as exc:
        raise PermissionDenied(f"cannot read the memory map of process {pid}", pid=pid, detail=str(exc)) from None
    out = []
    for line in raw.splitlines():
        parts = line.split(None, 5)
        if len(parts) < 5:
            continue
        lo, _, hi = parts[0].partition("-")
        major, _, minor = parts[3].partition(":")
        try:
            out.append(
                Mapping(
                    int(lo, 16),
                    int(hi, 16),
                    parts[1],
                    int(parts[2], 16),
                    os.makedev(int(major, 16), int(minor, 16)),
                    int(parts[4]),
                    parts[5].strip() if len(parts) > 5 else "",
                )
            )
        except ValueError:
            continue
    if not out and not os.path.exists(f"/proc/{pid}"):
        raise ProcessGone(f"process {pid} exited", pid=pid)
    return out


def semaphore_identity(pid: int, addr: int) -> Optional[tuple[int, int, str]]:
    """(dev, inode, path) of the shared ``/dev/shm`` mapping holding ``addr`` in ``pid``:
    the identity of a multiprocessing semaphore across processes (fork keeps the
    address, spawn does not; the inode is the same either way). None for private memory."""
    for m in read_maps(pid):
        if m.contains(addr):
            if len(m.perms) >= 4 and m.perms[3] == "s" and m.inode and m.path.startswith("/dev/shm/"):
                return (m.dev, m.inode, m.path)
            return None
    return None


# --------------------------------------------------------------------------- layouts

# type object (PyTypeObject, 64-bit; same prefix 2.7 .. 3.13)
TP_NAME, TP_BASICSIZE, TP_ITEMSIZE, TP_FLAGS = 24, 32, 40, 168
TP_MEMBERS, TP_BASE, TP_DICTOFFSET, TP_MRO = 240, 256, 288, 344
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
    dict_kind: str  # 'py27' | 'py36' | 'py311'
    managed: Optional[str]  # None | '311' | '312' | '313'
    cached_keys: Optional[int]  # PyHeapTypeObject.ht_cached_keys
    values_header: int  # bytes before values[] in PyDictValues (3.13: 8)
    long_tagged: bool  # 3.12+ PyLongObject lv_tag
    lock_locked: Optional[int]  # _thread.lock 'locked' char
    semlock_name: Optional[int]  # SemLockObject.name
    lock_types: tuple[tuple[str, str, int], ...]  # (tp_name, kind, tp_basicsize)


_PY3_LOCKS = (("_thread.lock", "lock", 40), ("_thread.RLock", "rlock", 48), ("_multiprocessing.SemLock", "semlock", 56))


def _py3(minor: int) -> Layout:
    if minor <= 10:
        dict_kind, managed, cached, header = "py36", None, None, 0
    elif minor == 11:
        dict_kind, managed, cached, header = "py311", "311", 872, 0
    elif minor == 12:
        dict_kind, managed, cached, header = "py311", "312", 880, 0
    else:
        dict_kind, managed, cached, header = "py311", "313", 880, 8
    return Layout(
        py2=False,
        str_ascii_data=48 if minor <= 11 else 40,
        str_compact_data=72 if minor <= 11 else 56,
        dict_kind=dict_kind,
        managed=managed,
        cached_keys=cached,
        values_header=header,
        long_tagged=minor >= 12,
        lock_locked=32,
        semlock_name=48,
        lock_types=_PY3_LOCKS,
    )


LAYOUTS: dict[tuple[int, int], Layout] = {
    (2, 7): Layout(
        py2=True,
        str_ascii_data=36,
        str_compact_data=36,
        dict_kind="py27",
        managed=None,
        cached_keys=None,
        values_header=0,
        long_tagged=False,
        lock_locked=None,
        semlock_name=None,
        lock_types=(("thread.lock", "lock", 32), ("_multiprocessing.SemLock", "semlock", 48)),
    ),
    **{(3, minor): _py3(minor) for minor in range(6, 14)},
}


def _layout_for(version: tuple[int, int]) -> Layout:
    if version in LAYOUTS:
        return LAYOUTS[version]
    text = f"{version[0]}.{version[1]}"
    if version >= (3, 14):
        raise Unsupported(
            f"Python {text}: lock objects are PyMutex-based since 3.14 (no sem_t, no owner field in the old place); "
            "pooltui has no verified layout for them"
        )
    raise Unsupported(f"Python {text}: no verified memory layout (supported: 2.7, 3.6-3.13)")


# --------------------------------------------------------------------------- build checks

_NAME_RE = re.compile(r"^(?:lib)?python(\d+)\.(\d+)([a-z]*)(?:\.so(?:\.[\d.]+)?)?$")
_EXT_RE = re.compile(r"\.cpython-(\d)(\d+)([a-z]*)-\w+-linux-(gnu|musl)\w*\.so$")
_GLIBC_RE = re.compile(r"^libc(?:\.so\.6|-2\.\d+\.so)$")


def check_elf(head: bytes) -> Optional[str]:
    """Why an executable's ELF header is not one we have layouts for, or None (x86-64, 64-bit LE)."""
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return "the executable is not an ELF file"
    if head[4] != 2 or head[5] != 1 or struct.unpack_from("<H", head, 18)[0] != 62:
        return "not a 64-bit x86-64 program; pooltui knows Linux x86-64 layouts only"
    return None


def check_build(version: tuple[int, int], paths: Iterable[str]) -> Optional[str]:
    """Why the interpreter seen in these file names (executable + mapped files) has no
    verified layout for ``version``, or None. See the module docstring."""
    hints: set[tuple[int, int, str]] = set()
    glibc = musl = False
    for name in {os.path.basename(p) for p in paths}:
        m = _NAME_RE.match(name)
        if m:
            hints.add((int(m.group(1)), int(m.group(2)), m.group(3)))
        m = _EXT_RE.search(name)
        if m:
            hints.add((int(m.group(1)), int(m.group(2)), m.group(3)))
            musl = musl or m.group(4) == "musl"
        glibc = glibc or bool(_GLIBC_RE.match(name))
        musl = musl or name.startswith(("ld-musl", "libc.musl"))
    for major, minor, flags in sorted(hints):
        if (major, minor) != tuple(version):
            return f"it runs Python {major}.{minor} (seen in its file names), not {version[0]}.{version[1]}"
        if "t" in flags:
            return f"free-threaded (no-GIL) build of Python {major}.{minor}: no verified layout"
        if "d" in flags:
            return f"debug build of Python {major}.{minor}: no verified layout"
    if musl:
        return "it uses musl libc, whose sem_t layout pooltui does not know"
    if not glibc:
        return "no glibc mapped (static build or another C library): the sem_t layout is unknown"
    return None


# --------------------------------------------------------------------------- objects


@dataclass(frozen=True)
class LockObject:
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


@dataclass(frozen=True)
class _TypeInfo:
    addr: int
    name: str
    basicsize: int
    itemsize: int
    flags: int
    dictoffset: int
    members: int
    mro: int


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie (its memory is still there)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return False
    state = stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3]
    return state not in (b"Z", b"X", b"x")


class MemoryFault(CaptureError):
    """An address of the target could not be read (unmapped, or freed meanwhile)."""


_MAX_USER_ADDR = 1 << 47
_PLAIN_LEAF_TYPES = frozenset(
    {
        "str", "bytes", "unicode", "int", "long", "float", "complex", "bool", "NoneType", "bytearray",
        "function", "builtin_function_or_method", "method", "instancemethod", "method-wrapper",
        "wrapper_descriptor", "method_descriptor", "getset_descriptor", "member_descriptor",
        "code", "frame", "cell", "module", "classobj", "generator", "coroutine", "async_generator",
        "weakref", "weakproxy", "property", "staticmethod", "classmethod", "ellipsis", "range", "xrange",
    }
)  # fmt: skip


class TargetMemory:
    """Read-only view of one process's memory (os.pread on /proc/PID/mem). Context manager."""

    def __init__(self, pid: int, version: tuple[int, int]) -> None:
        self.pid = pid
        self.version = (int(version[0]), int(version[1]))
        self.layout = _layout_for(self.version)
        self._fd: Optional[int] = None
        self._check_target()
        try:
            self._fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except (FileNotFoundError, ProcessLookupError):
            raise ProcessGone(f"process {pid} exited", pid=pid) from None
        except PermissionError as exc:
            raise PermissionDenied(f"cannot read the memory of process {pid}", pid=pid, detail=str(exc)) from None
        self._types: dict[int, Optional[_TypeInfo]] = {}
        self._slots: dict[int, list[tuple[str, int]]] = {}
        self._interned: dict[int, str] = {}  # interned str objects (attribute names) by address

    # ---- lifecycle

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> TargetMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - safety net
        try:
            self.close()
        except Exception:
            pass

    # ---- target checks (see the module docstring)

    def _check_target(self) -> None:
        pid = self.pid
        try:
            with open(f"/proc/{pid}/exe", "rb") as handle:
                head = handle.read(64)
            exe = os.readlink(f"/proc/{pid}/exe")
        except (FileNotFoundError, ProcessLookupError):
            if not _alive(pid):
                raise ProcessGone(f"process {pid} exited", pid=pid) from None
            raise Unsupported(f"process {pid} has no executable to read (a kernel thread?)", pid=pid) from None
        except PermissionError as exc:
            raise PermissionDenied(f"cannot read the executable of process {pid}", pid=pid, detail=str(exc)) from None
        problem = check_elf(head)
        if problem is None:
            names = [exe.replace(" (deleted)", "")] + [m.path for m in read_maps(pid) if m.path.startswith("/")]
            problem = check_build(self.version, names)
        if problem is not None:
            raise Unsupported(f"process {pid}: {problem}", pid=pid)

    # ---- raw reads

    def read(self, addr: int, size: int) -> bytes:
        if self._fd is None:
            raise CaptureError(f"memory of process {self.pid} is closed", pid=self.pid)
        if size < 0 or addr <= 0 or addr + size > _MAX_USER_ADDR:
            raise MemoryFault(f"address {addr:#x} (+{size}) is not a user address of process {self.pid}", pid=self.pid)
        try:
            data = os.pread(self._fd, size, addr)
        except OSError as exc:
            if exc.errno == errno.ESRCH:
                raise ProcessGone(f"process {self.pid} exited", pid=self.pid) from None
            if exc.errno in (errno.EACCES, errno.EPERM):
                raise PermissionDenied(f"cannot read the memory of process {self.pid}", pid=self.pid, detail=str(exc)) from None
            raise MemoryFault(f"cannot read {addr:#x} (+{size}) in process {self.pid}: {exc.strerror}", pid=self.pid) from None
        if len(data) != size:
            if not data and not _alive(self.pid):
                raise ProcessGone(f"process {self.pid} exited", pid=self.pid)
            raise MemoryFault(f"short read at {addr:#x} in process {self.pid}", pid=self.pid)
        return data

    def _try(self, addr: int, size: int) -> Optional[bytes]:
        try:
            return self.read(addr, size)
        except MemoryFault:
            return None

    def u64(self, addr: int) -> int:
        return struct.unpack("<Q", self.read(addr, 8))[0]

    def i64(self, addr: int) -> int:
        return struct.unpack("<q", self.read(addr, 8))[0]

    def u32(self, addr: int) -> int:
        return struct.unpack("<I", self.read(addr, 4))[0]

    def i32(self, addr: int) -> int:
        return struct.unpack("<i", self.read(addr, 4))[0]

    def u8(self, addr: int) -> int:
        return self.read(addr, 1)[0]

    def _u64(self, addr: int) -> Optional[int]:
        raw = self._try(addr, 8)
        return None if raw is None else struct.unpack("<Q", raw)[0]

    def cstring(self, addr: int, limit: int = 256) -> Optional[str]:
        """A NUL-terminated printable ASCII string, or None."""
        out = b""
        while len(out) < limit:
            chunk = min(limit - len(out), 4096 - ((addr + len(out)) % 4096))
            raw = self._try(addr + len(out), chunk)
            if raw is None:
                return None
            end = raw.find(b"\0")
            if end >= 0:
                out += raw[:end]
                break
            out += raw
        else:
            return None
        try:
            text = out.decode("ascii")
        except UnicodeDecodeError:
            return None
        return text if text.isprintable() else None

    # ---- types

    def _type_info(self, tp: int) -> Optional[_TypeInfo]:
        if tp in self._types:
            return self._types[tp]
        info = None
        raw = self._try(tp, TP_MRO + 8) if tp and tp % 8 == 0 else None
        if raw is not None:
            meta = struct.unpack_from("<Q", raw, 8)[0]
            meta_flags = self._u64(meta + TP_FLAGS) if meta else None
            if meta_flags is not None and meta_flags & TPFLAGS_TYPE_SUBCLASS:
                name = self.cstring(struct.unpack_from("<Q", raw, TP_NAME)[0])
                if name:
                    info = _TypeInfo(
                        addr=tp,
                        name=name,
                        basicsize=struct.unpack_from("<q", raw, TP_BASICSIZE)[0],
                        itemsize=struct.unpack_from("<q", raw, TP_ITEMSIZE)[0],
                        flags=struct.unpack_from("<Q", raw, TP_FLAGS)[0],
                        dictoffset=struct.unpack_from("<q", raw, TP_DICTOFFSET)[0],
                        members=struct.unpack_from("<Q", raw, TP_MEMBERS)[0],
                        mro=struct.unpack_from("<Q", raw, TP_MRO)[0],
                    )
        self._types[tp] = info
        return info

    def _type_of(self, obj: int) -> Optional[_TypeInfo]:
        if not obj or obj % 8:
            return None
        head = self._try(obj, 16)
        if head is None:
            return None
        refcnt, tp = struct.unpack("<qQ", head)
        if refcnt <= 0:
            return None
        return self._type_info(tp)

    def type_name(self, obj_addr: int) -> str:
        """``ob_type->tp_name`` (qualified for C types: '_thread.RLock'; short for classes)."""
        info = self._type_of(obj_addr)
        if info is None:
            raise MemoryFault(f"{obj_addr:#x} in process {self.pid} is not a readable Python object", pid=self.pid)
        return info.name

    def type_basicsize(self, type_addr: int) -> Optional[int]:
        info = self._type_info(type_addr)
        return info.basicsize if info else None

    # ---- small values

    def _str(self, addr: int) -> Optional[str]:
        """Value of a str object (2.7: PyStringObject; 3.x: compact PyUnicodeObject)."""
        if addr in self._interned:
            return self._interned[addr]
        info = self._type_of(addr)
        if info is None or info.name != "str":
            return None
        lay = self.layout
        if lay.py2:
            head = self._try(addr + 16, 20)  # ob_size, ob_shash, ob_sstate
            if head is None:
                return None
            size, interned = struct.unpack_from("<q", head)[0], struct.unpack_from("<i", head, 16)[0]
            if not 0 <= size <= 4096:
                return None
            raw = self._try(addr + lay.str_ascii_data, size)
            text = raw.decode("latin-1") if raw is not None else None
        else:
            head = self._try(addr + 16, 20)  # length, hash, state
            if head is None:
                return None
            length = struct.unpack_from("<q", head, 0)[0]
            state = struct.unpack_from("<I", head, 16)[0]
            interned, kind, compact, ascii_ = state & 3, (state >> 2) & 7, (state >> 5) & 1, (state >> 6) & 1
            if not compact or not 0 <= length <= 4096 or kind not in (1, 2, 4):
                return None
            if ascii_:
                raw = self._try(addr + lay.str_ascii_data, length)
                text = raw.decode("ascii", "replace") if raw is not None else None
            else:
                raw = self._try(addr + lay.str_compact_data, length * kind)
                text = raw.decode({1: "latin-1", 2: "utf-16-le", 4: "utf-32-le"}[kind], "replace") if raw is not None else None
        if text is not None and interned:
            self._interned[addr] = text
        return text

    def _int(self, addr: int) -> Optional[int]:
        """Value of a Python int (2.7 PyIntObject, 3.x PyLongObject); None if not an int."""
        info = self._type_of(addr)
        if info is None or info.name not in ("int", "bool"):
            return None
        if self.layout.py2:
            raw = self._try(addr + 16, 8)
            return struct.unpack("<q", raw)[0] if raw is not None else None
        raw = self._try(addr + 16, 8)
        if raw is None:
            return None
        word = struct.unpack("<q", raw)[0]
        if self.layout.long_tagged:
            sign_bits, ndigits = word & 3, word >> 3
            if sign_bits == 1:
                return 0
            sign = -1 if sign_bits == 2 else 1
        else:
            sign, ndigits = (-1 if word < 0 else 1), abs(word)
        if not 0 <= ndigits <= 8:
            return None
        if ndigits == 0:
            return 0
        digits = self._try(addr + 24, 4 * ndigits)
        if digits is None:
            return None
        value = 0
        for i, d in enumerate(struct.unpack(f"<{ndigits}I", digits)):
            if d >> 30:
                return None
            value |= d << (30 * i)
        return sign * value

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
            ok = sem_ok and value <= 1 and (owner == 0) == (count == 0) and owner < _MAX_USER_ADDR and count < 1 << 32
            ok = ok and (count == 0 or value == 0)
            return replace(base, locked=count > 0, owner_ident=owner or None, count=count), ok
        if kind == "lock":
            ok = sem_ok and value <= 1
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
        ok = sem_ok and sl_kind in SEMLOCK_KINDS and count >= 0 and 1 <= maxvalue <= SEM_VALUE_MAX and last_tid < _MAX_USER_ADDR
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

    def _read_py_rlock(self, obj: int) -> Optional[LockObject]:
        """2.7 ``threading._RLock`` (and 3.x ``threading._PyRLock``): a Python object whose
        ``block`` attribute is the plain lock the waiters sleep on."""
        prefix = "_RLock__" if self.layout.py2 else "_"
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

    def _slot_members(self, tp: int) -> list[tuple[str, int]]:
        """(name, offset) of object members (``__slots__``) of the type and its MRO."""
        if tp in self._slots:
            return self._slots[tp]
        info = self._type_info(tp)
        types: list[int] = [tp]
        if info is not None and info.mro:
            mro_info = self._type_of(info.mro)
            n = self._u64(info.mro + 16) if mro_info is not None and mro_info.name == "tuple" else None
            if n is not None and 0 < n <= 64:
                raw = self._try(info.mro + 24, 8 * n)
                if raw is not None:
                    types = list(struct.unpack(f"<{n}Q", raw))
        out: list[tuple[str, int]] = []
        seen: set[str] = set()
        for t in types:
            t_info = self._type_info(t)
            if t_info is None or not t_info.members:
                continue
            for i in range(256):
                raw = self._try(t_info.members + i * MEMBERDEF_SIZE, MEMBERDEF_SIZE)
                if raw is None:
                    break
                name_ptr = struct.unpack_from("<Q", raw, 0)[0]
                m_type = struct.unpack_from("<i", raw, 8)[0]
                offset = struct.unpack_from("<q", raw, 16)[0]
                m_flags = struct.unpack_from("<i", raw, 24)[0]
                if not name_ptr:
                    break
                if m_type not in (T_OBJECT, T_OBJECT_EX) or offset <= 0:
                    continue
                if not self.layout.py2 and self.version >= (3, 12) and m_flags & PY_RELATIVE_OFFSET:
                    continue
                name = self.cstring(name_ptr)
                if name and name not in seen:
                    seen.add(name)
                    out.append((name, offset))
        self._slots[tp] = out
        return out

    def _dict_entries(self, dict_addr: int) -> list[tuple[int, int]]:
        """(key address, value address) of a dict object; [] if it is not a readable dict."""
        info = self._type_of(dict_addr)
        if info is None or not info.flags & TPFLAGS_DICT_SUBCLASS:
            return []
        kind = self.layout.dict_kind
        if kind == "py27":
            head = self._try(dict_addr + 32, 16)
            if head is None:
                return []
            mask, table = struct.unpack("<qQ", head)
            if not 0 <= mask < 1 << 20:
                return []
            raw = self._try(table, (mask + 1) * 24)
            if raw is None:
                return []
            out = []
            for i in range(mask + 1):
                _h, key, value = struct.unpack_from("<qQQ", raw, i * 24)
                if key and value:
                    out.append((key, value))
            return out
        head = self._try(dict_addr + 32, 16)
        if head is None:
            return []
        keys, values = struct.unpack("<QQ", head)
        return self._keys_entries(keys, values + self.layout.values_header if values else 0)

    def _keys_entries(self, keys: int, values: int, bound: Optional[int] = None) -> list[tuple[int, int]]:
        """Entries of a PyDictKeysObject; ``values`` = split values array (or 0)."""
        if not keys:
            return []
        if self.layout.dict_kind == "py36":
            head = self._try(keys, 40)
            if head is None:
                return []
            size = struct.unpack_from("<q", head, 8)[0]
            nentries = struct.unpack_from("<q", head, 32)[0]
            if not 0 < size <= 1 << 24 or not 0 <= nentries <= size:
                return []
            ixsize = 1 if size <= 0xFF else 2 if size <= 0xFFFF else 4 if size <= 0xFFFFFFFF else 8
            entries, esize = keys + 40 + size * ixsize, 24
        else:
            head = self._try(keys, 32)
            if head is None:
                return []
            log2_size, log2_index_bytes, dk_kind = head[8], head[9], head[10]
            nentries = struct.unpack_from("<q", head, 24)[0]
            if log2_size > 24 or log2_index_bytes > 27 or dk_kind > 2 or not 0 <= nentries <= 1 << log2_size:
                return []
            entries, esize = keys + 32 + (1 << log2_index_bytes), (24 if dk_kind == 0 else 16)
        if bound is not None:
            nentries = min(nentries, bound)
        if nentries == 0:
            return []
        raw = self._try(entries, nentries * esize)
        if raw is None:
            return []
        vals: Optional[tuple[int, ...]] = None
        if values:
            vraw = self._try(values, nentries * 8)
            if vraw is None:
                return []
            vals = struct.unpack(f"<{nentries}Q", vraw)
        out = []
        for i in range(nentries):
            if esize == 24:
                _h, key, value = struct.unpack_from("<qQQ", raw, i * 24)
            else:
                key, value = struct.unpack_from("<QQ", raw, i * 16)
            if vals is not None:
                value = vals[i]
            if key and value:
                out.append((key, value))
        return out

    def _named(self, entries: Sequence[tuple[int, int]], limit: Optional[int] = None) -> dict[str, int]:
        out: dict[str, int] = {}
        for key, value in entries[:limit] if limit is not None else entries:
            name = self._str(key)
            if name is not None and name not in out:
                out[name] = value
        return out

    def attrs(self, obj_addr: int, limit: Optional[int] = None) -> dict[str, int]:
        """Instance attributes of ``obj_addr``: name -> object address.

        Reads the instance dict (``tp_dictoffset``; 3.11 managed dict/values; 3.12
        tagged dict-or-values; 3.13 inline values or the materialized dict), 2.7
        old-style instances, and ``__slots__`` (``tp_members`` of the type's MRO). {} when
        there are none or the object cannot be read. ``limit``: read at most that many
        dict entries (find_locks uses it against huge instance dicts)."""
        info = self._type_of(obj_addr)
        if info is None:
            return {}
        out: dict[str, int] = {}
        for name, offset in self._slot_members(info.addr):
            value = self._u64(obj_addr + offset)
            if value:
                out[name] = value
        lay = self.layout
        entries: list[tuple[int, int]] = []
        if lay.py2 and info.name == "instance":
            dict_addr = self._u64(obj_addr + 24)  # PyInstanceObject.in_dict
            entries = self._dict_entries(dict_addr) if dict_addr else []
        elif lay.managed == "313" and info.flags & TPFLAGS_INLINE_VALUES:
            head = self._try(obj_addr + info.basicsize, 4)  # capacity, size, embedded, valid
            if head is not None and head[3]:
                keys = self._u64(info.addr + (lay.cached_keys or 0))
                entries = self._keys_entries(keys or 0, obj_addr + info.basicsize + 8, bound=head[0])
            else:
                dict_addr = self._u64(obj_addr - 24)
                entries = self._dict_entries(dict_addr) if dict_addr else []
        elif lay.managed is not None and info.flags & TPFLAGS_MANAGED_DICT:
            word = self._u64(obj_addr - 24)
            if lay.managed == "312" and word and word & 1:
                keys = self._u64(info.addr + (lay.cached_keys or 0))
                entries = self._keys_entries(keys or 0, word + 1)
            elif word:
                entries = self._dict_entries(word)
            elif lay.managed == "311":
                values = self._u64(obj_addr - 32)
                if values:
                    keys = self._u64(info.addr + (lay.cached_keys or 0))
                    entries = self._keys_entries(keys or 0, values)
        elif info.dictoffset > 0:
            dict_addr = self._u64(obj_addr + info.dictoffset)
            entries = self._dict_entries(dict_addr) if dict_addr else []
        for name, value in self._named(entries, limit).items():
            out.setdefault(name, value)
        return out

    def resolve(self, obj_addr: int, path: Sequence[str]) -> Optional[int]:
        """Address of ``obj.a.b...`` following ``path`` through attrs(), or None."""
        cur: Optional[int] = obj_addr
        for name in path:
            if not cur:
                return None
            cur = self.attrs(cur).get(name)
        return cur

    # ---- containers (for find_locks)

    def _items(self, obj: int, info: _TypeInfo, limit: int) -> list[tuple[str, int]]:
        """(suffix, address) of the items of a list/tuple/deque/str-keyed dict."""
        if info.flags & (TPFLAGS_LIST_SUBCLASS | TPFLAGS_TUPLE_SUBCLASS):
            n = self._u64(obj + 16)
            if n is None or not 0 <= n < 1 << 31:
                return []
            n = min(n, limit)
            if info.flags & TPFLAGS_LIST_SUBCLASS:
                base = self._u64(obj + 24)
                if not base:
                    return []
            else:
                base = obj + 24
            raw = self._try(base, 8 * n) if n else b""
            if raw is None:
                return []
            return [(f"[{i}]", v) for i, v in enumerate(struct.unpack(f"<{n}Q", raw)) if v]
        if info.flags & TPFLAGS_DICT_SUBCLASS:
            return [(f"[{k!r}]", v) for k, v in self._named(self._dict_entries(obj), limit).items()]
        if info.name == "collections.deque" and not self.layout.py2:
            head = self._try(obj + 16, 32)  # ob_size, leftblock, rightblock, leftindex
            if head is None:
                return []
            n, block, _right, index = struct.unpack("<qQQq", head)
            out = []
            for i in range(min(max(n, 0), limit)):
                if not block or not 0 <= index < 64:
                    break
                value = self._u64(block + 8 + 8 * index)
                if value:
                    out.append((f"[{i}]", value))
                index += 1
                if index == 64:
                    block, index = self._u64(block + 8 + 64 * 8) or 0, 0
            return out
        return []

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
        out: list[tuple[str, LockObject]] = []
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
            lock = self.read_lock(addr)
            if lock is not None:
                out.append((path, lock))
                continue
            if level >= depth or info.name in _PLAIN_LEAF_TYPES or info.flags & TPFLAGS_TYPE_SUBCLASS:
                continue
            for name, child in self.attrs(addr, limit=max_attrs).items():
                if child not in seen:
                    queue.append((f"{path}.{name}", child, level + 1))
            for suffix, child in self._items(addr, info, max_items):
                if child not in seen:
                    queue.append((path + suffix, child, level + 1))
        return out


# --------------------------------------------------------------------------- heap scan

_CHUNK = 16 << 20
_MAX_STRING_REGION = 512 << 20
# type addresses validated in an earlier scan, per version: fork children share them
_KNOWN_TYPES: dict[tuple[int, int], set[int]] = {}


def _wanted_types(layout: Layout) -> set[str]:
    names = {name for name, _kind, _size in layout.lock_types}
    if layout.py2:
        names.add("_RLock")  # threading.RLock() is the Python class on 2.7
    else:
        names.add("_thread.RLock")
    return names


def _chunks(mem: TargetMemory, regions: Iterable[Mapping], overlap: int) -> Iterable[tuple[int, bytes, int]]:
    """(address, data, length owned) per chunk; each chunk also carries ``overlap``
    bytes of the next one so a match may straddle the boundary."""
    for region in regions:
        pos = region.start
        while pos < region.end:
            owned = min(_CHUNK, region.end - pos)
            data = mem._try(pos, min(owned + overlap, region.end - pos))
            if data is not None:
                yield pos, data, owned
            pos += owned


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


def _search_words(mem: TargetMemory, regions: Iterable[Mapping], values: Iterable[int]) -> dict[int, list[int]]:
    """8-aligned addresses holding each 64-bit value. The needle is the value without its
    high zero bytes (bytes.find skips fast over zero-filled memory when the needle does
    not end in a zero byte); the zero bytes and the alignment are checked per hit."""
    needles = {}
    for v in set(values):
        raw = struct.pack("<Q", v)
        needles[v] = (raw.rstrip(b"\0") or b"\0", raw)
    hits: dict[int, list[int]] = {v: [] for v in needles}
    for pos, data, owned in _chunks(mem, regions, 7):
        for v, (needle, full) in needles.items():
            i = data.find(needle)
            while 0 <= i < owned:
                if (pos + i) % 8 == 0 and data[i : i + 8] == full:
                    hits[v].append(pos + i)
                    i = data.find(needle, i + 8)
                else:
                    i = data.find(needle, i + 1)
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

    From ``hints`` (instances whose ob_type to take), from types validated in earlier
    scans (fork children keep them), else by searching the names' C strings in readable
    memory and then a pointer to them at ``type+24`` in writable memory."""
    wanted = _wanted_types(mem.layout)
    found: dict[int, str] = {}
    for obj in hints:
        tp = mem._u64(obj + 8) if obj else None
        name = _valid_lock_type(mem, tp, wanted) if tp else None
        if name:
            found[tp] = name  # type: ignore[index]
    for tp in sorted(_KNOWN_TYPES.get(mem.version, ())):
        name = _valid_lock_type(mem, tp, wanted)
        if name:
            found[tp] = name
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
    _KNOWN_TYPES.setdefault(mem.version, set()).update(found)
    return found


def scan_locks(pid: int, version: tuple[int, int], type_hint_addrs: Iterable[int] = ()) -> list[LockObject]:
    """Every live lock object in the process's anonymous writable memory and [heap].

    Slow path (about 1 s per 180 MB mapped, plus a one-time type search): finds the lock
    types, then every 8-aligned pointer to them at ``ob_type``; candidates whose refcount
    is not plausible (freed blocks) or that fail ``read_lock`` validation are dropped.
    ``type_hint_addrs``: addresses of known lock instances (e.g. py-spy locals) whose
    type saves the type search."""
    with TargetMemory(pid, version) as mem:
        maps = read_maps(pid)
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

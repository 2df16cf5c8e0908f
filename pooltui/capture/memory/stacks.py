"""Python thread stacks read straight from ``/proc/PID/mem``: what ``py-spy dump`` reads,
without starting py-spy.

py-spy spends ~8 ms of CPU per process, most of it parsing the interpreter's ELF symbols
again for every one of a fork pool's 64 identical workers. Here the one symbol needed,
``_PyRuntime``, is looked up in the target's own memory once per binary
(``symbols.address_of``), and the rest is the same walk py-spy makes: the main
interpreter's thread states (newest first), each one's frame chain (innermost first), each
frame's code object (name, file, first line, line table) and instruction offset, the line
computed as py-spy computes it (CPython's ``PyCode_Addr2Line`` but for two quirks), and
thread names from ``threading._active``. ~0.7 ms for a pool worker (one thread, 16 frames).

It reads a process the way ``py-spy --nonblocking`` does (the target runs on), so the
caller keeps a read only when no thread was scheduled meanwhile (``procs.ran_since``), and
``capture.direct`` checks it against py-spy once per binary before trusting it. Anything
that does not validate raises ``Unreadable`` and the caller asks py-spy instead.

Versions: 3.8-3.13 (``_PyRuntime`` is an exported symbol; the offsets are the same for
every patch release of each, as py-spy's own tables have them). 2.7 and 3.6 keep their
interpreter list in a static variable (``interp_head``) only py-spy's full symbol-table
or heap search finds, and 3.7 moved its GIL state between 3.7.3 and 3.7.4: py-spy reads
those.
"""

from __future__ import annotations

import struct
from typing import Optional, TypedDict

from pooltui.capture import state
from pooltui.capture.errors import CaptureError, Unsupported
from pooltui.capture.memory import debugoffsets, lines, symbols
from pooltui.capture.memory.debugoffsets import FRAME_OWNED_BY_CSTACK
from pooltui.capture.memory.layouts import TPFLAGS_HEAPTYPE
from pooltui.capture.memory.objects import ObjectMemory
from pooltui.capture.memory.reader import Image, MemoryFault
from pooltui.model.record import Record

MAX_THREADS = 4096
MAX_INTERPRETERS = 4096  # interpreters walked per process: past it the list is taken as unreadable
MAX_DEPTH = 4096  # frames visited per thread: past it the read is refused (py-spy refuses too)
MAX_STR = 4096  # a function or file name this long or longer: py-spy leaves the frame out
MAX_TABLE = 65536  # a line table this long or longer: py-spy says line 0


class Unreadable(CaptureError):
    """The stacks did not validate (or this build is not one this reader knows): ask py-spy."""


class StackLayout(Record, frozen=True):
    """Offsets (x86-64, GIL build) measured with gdb on the pyenv builds' debug info."""

    interp_head: int  # _PyRuntimeState.interpreters.head
    threads_head: int  # PyInterpreterState.tstate_head / threads.head
    modules: int  # PyInterpreterState.modules / imports.modules (sys.modules)
    frame_at: tuple[int, ...]  # pointer path from a PyThreadState to its innermost frame
    thread_id: int  # PyThreadState.thread_id (the pthread ident)
    native_id: Optional[int]  # PyThreadState.native_thread_id (3.11+)
    frame: str  # "object" (PyFrameObject, <= 3.10) or "interp" (_PyInterpreterFrame, 3.11+)
    f_back: int  # f_back / previous
    f_code: int  # f_code / f_executable
    f_lasti: int  # f_lasti (int, <= 3.10) / prev_instr (3.11, 3.12) / instr_ptr (3.13)
    f_owner: Optional[int]  # _PyInterpreterFrame.owner
    code_firstlineno: int
    code_linetable: int  # co_lnotab (<= 3.9) / co_linetable
    code_name: int  # co_name (<= 3.10) / co_qualname (3.11+: py-spy names a method Class.method)
    code_filename: int
    code_adaptive: Optional[int]  # offset of the bytecode inside the code object (3.11+)
    lines: str  # "lnotab" (<= 3.9), "310", "311" (the location table, 3.11+)
    # who holds the GIL, as py-spy finds it: ("runtime", offset of _PyRuntime.gilstate.tstate_current)
    # (<= 3.11), or ("interp", offset of PyInterpreterState.ceval.gil, a pointer to a struct whose
    # last_holder is at 8 and locked at 16) (3.12+)
    gil: tuple[str, int]
    ts_next: int = 8
    ts_interp: int = 16
    interp_next: int = 0  # PyInterpreterState.next (3.13 put its ceval state first: 7264)
    interp_id: int = 0  # PyInterpreterState.id (int64)
    shim_owner: Optional[int] = None  # the f_owner value of an entry shim, left out as py-spy does (3.12+)
    publishes_offsets: bool = False  # _PyRuntime begins with _Py_DebugOffsets, checked against this row (3.13+)


class _FrameFields(TypedDict):
    """The ``StackLayout`` fields every PyFrameObject version (<= 3.10) shares."""

    frame: str
    f_back: int
    f_code: int
    f_owner: Optional[int]
    code_adaptive: Optional[int]
    native_id: Optional[int]
    frame_at: tuple[int, ...]
    thread_id: int


# fmt: off
_OBJECT_FRAMES: _FrameFields = dict(frame="object", f_back=24, f_code=32, f_owner=None, code_adaptive=None, native_id=None,
                      frame_at=(24,), thread_id=176)
STACK_LAYOUTS: dict[tuple[int, int], StackLayout] = {
    (3, 8): StackLayout(interp_head=32, interp_id=16, threads_head=8, modules=56, f_lasti=104, code_firstlineno=40,
                        code_linetable=120, code_name=112, code_filename=104, lines="lnotab", gil=("runtime", 1368), **_OBJECT_FRAMES),
    (3, 9): StackLayout(interp_head=32, interp_id=24, threads_head=8, modules=856, f_lasti=104, code_firstlineno=40,
                        code_linetable=120, code_name=112, code_filename=104, lines="lnotab", gil=("runtime", 568), **_OBJECT_FRAMES),
    (3, 10): StackLayout(interp_head=32, interp_id=24, threads_head=8, modules=856, f_lasti=96, code_firstlineno=40,
                         code_linetable=120, code_name=112, code_filename=104, lines="310", gil=("runtime", 568), **_OBJECT_FRAMES),
    (3, 11): StackLayout(interp_head=40, interp_id=48, threads_head=16, modules=888, frame_at=(56, 8), thread_id=152, native_id=160,
                         frame="interp", f_back=48, f_code=32, f_lasti=56, f_owner=69, code_firstlineno=72,
                         code_linetable=136, code_name=128, code_filename=112, code_adaptive=184, lines="311", gil=("runtime", 576)),
    (3, 12): StackLayout(interp_head=40, interp_id=8, threads_head=72, modules=944, frame_at=(56, 0), thread_id=136, native_id=144,
                         frame="interp", f_back=8, f_code=0, f_lasti=56, f_owner=70, code_firstlineno=68,
                         code_linetable=136, code_name=128, code_filename=112, code_adaptive=192, lines="311", gil=("interp", 384),
                         shim_owner=FRAME_OWNED_BY_CSTACK),
    (3, 13): StackLayout(interp_head=632, interp_next=7264, interp_id=7272, threads_head=7344, modules=7656, frame_at=(72,),
                         thread_id=152, native_id=160,
                         frame="interp", f_back=8, f_code=0, f_lasti=56, f_owner=70, code_firstlineno=68,
                         code_linetable=136, code_name=128, code_filename=112, code_adaptive=200, lines="311", gil=("interp", 16),
                         shim_owner=FRAME_OWNED_BY_CSTACK, publishes_offsets=True),
}
# fmt: on


class RawFrame(Record, frozen=True):
    function: str
    file: str
    line: int


class RawThread(Record, frozen=True):
    ident: int  # pthread ident (threading.get_ident)
    tid: int  # OS thread id when the interpreter keeps it (3.11+), else 0
    name: Optional[str]  # from threading._active, as py-spy names it
    frames: tuple[RawFrame, ...]  # innermost first
    owns_gil: bool = False


# ---- the reader


class StackMemory(ObjectMemory):
    """ObjectMemory that reads thread states and frames."""

    def __init__(self, pid: int, version: tuple[int, int], *, image: Optional[Image] = None) -> None:
        stack = STACK_LAYOUTS.get((int(version[0]), int(version[1])))
        if stack is None:
            raise Unsupported(f"no stack layout for Python {version[0]}.{version[1]}", pid=pid)
        super().__init__(pid, version, image=image)
        self.stack = stack
        self._code: dict[int, tuple[str, str, int, Optional[bytes], int]] = {}
        self.binary: tuple[int, int] = (0, 0)  # (device, inode) of the file that holds _PyRuntime
        self.binary_mapping: Optional[tuple[int, int]] = None  # (start, end) of its first mapping
        self._type_addrs: dict[str, int] = {}  # type name -> the type object's address, once checked here

    def _ptr(self, addr: int) -> int:
        return struct.unpack("<Q", self.read(addr, 8))[0]

    def runtime(self) -> int:
        """Address of ``_PyRuntime``: in libpython when one is mapped, else in the executable."""
        found = symbols.interpreter_symbol(self, "_PyRuntime")
        if found is not None:
            addr, mapping = found
            self.binary = (mapping.dev, mapping.inode)
            self.binary_mapping = (mapping.start, mapping.end)
            return addr
        raise Unreadable(f"no _PyRuntime symbol found in process {self.pid}", pid=self.pid)

    def interpreter(self) -> tuple[int, int]:
        """(_PyRuntime, the newest interpreter: the one py-spy reads)."""
        runtime = self.runtime()
        if self.stack.publishes_offsets:
            self.check_published(runtime)
        interp = self._ptr(runtime + self.stack.interp_head)
        if not interp:
            raise Unreadable(f"process {self.pid} has no interpreter yet", pid=self.pid)
        return runtime, interp

    def check_published(self, runtime: int) -> None:
        """For a row that ``publishes_offsets`` (3.13+): the offsets the target publishes at
        the start of ``_PyRuntime`` must be the table's (a patched build that moved a field is
        left to py-spy)."""
        size = debugoffsets.size_of(self.version)
        published = debugoffsets.parse(self.read(runtime, size), self.version) if size else None
        if published is None:
            raise Unreadable(f"process {self.pid} publishes no _Py_DebugOffsets this reader knows", pid=self.pid)
        differ = debugoffsets.disagreement(published, self.stack)
        if published.free_threaded or differ:
            why = "free-threaded" if published.free_threaded else "; ".join(differ[:3])
            raise Unreadable(f"process {self.pid}'s published offsets differ from the table ({why})", pid=self.pid)

    def interpreter_ids(self) -> list[int]:
        """The ids of every interpreter of the process, newest first (the main one is 0): the
        ``next`` chain from ``_PyRuntime.interpreters.head``. py-spy, and ``threads()``, read
        only the newest one's threads."""
        interp = self.interpreter()[1]
        ids: list[int] = []
        seen: set[int] = set()
        while interp:
            if interp in seen or len(ids) >= MAX_INTERPRETERS:
                raise Unreadable(f"the interpreter list of process {self.pid} does not end", pid=self.pid)
            seen.add(interp)
            raw = self.read(interp, max(self.stack.interp_next, self.stack.interp_id) + 8)
            ids.append(struct.unpack_from("<q", raw, self.stack.interp_id)[0])
            interp = struct.unpack_from("<Q", raw, self.stack.interp_next)[0]
        return ids

    def gil_holder(self, runtime: int, interp: int) -> int:
        """The thread ident of the thread state holding the GIL (0: none), as py-spy finds it."""
        where, offset = self.stack.gil
        if where == "runtime":
            holder = self._ptr(runtime + offset)
        else:
            gil = self._ptr(interp + offset)
            raw = self.read(gil, 24) if gil else bytes(24)
            locked = struct.unpack_from("<i", raw, debugoffsets.GIL_LOCKED)[0]
            holder = struct.unpack_from("<Q", raw, debugoffsets.GIL_HOLDER)[0] if locked else 0
        return self._ptr(holder + self.stack.thread_id) if holder else 0

    def threads(self) -> list[RawThread]:
        """The newest interpreter's threads, newest first (the order of its list, as py-spy reads it).

        Raises ProcessGone / PermissionDenied as facts, ``Unreadable`` (or another
        CaptureError) for anything that did not validate: the caller asks py-spy then."""
        lay = self.stack
        runtime, interp = self.interpreter()
        names = self.thread_names(interp)
        holder = self.gil_holder(runtime, interp)
        out: list[RawThread] = []
        seen: set[int] = set()
        ts = self._ptr(interp + lay.threads_head)
        while ts:
            if ts in seen or len(out) >= MAX_THREADS:
                raise Unreadable(f"the thread list of process {self.pid} does not end", pid=self.pid)
            seen.add(ts)
            raw = self.read(ts, max(lay.thread_id, lay.native_id or 0, *lay.frame_at[:1]) + 8)
            ts_interp = struct.unpack_from("<Q", raw, lay.ts_interp)[0]
            if ts_interp != interp:
                raise Unreadable(f"a thread state of process {self.pid} names another interpreter", pid=self.pid)
            ident = struct.unpack_from("<Q", raw, lay.thread_id)[0]
            tid = struct.unpack_from("<Q", raw, lay.native_id)[0] if lay.native_id is not None else 0
            frame = struct.unpack_from("<Q", raw, lay.frame_at[0])[0]
            for offset in lay.frame_at[1:]:
                frame = self._ptr(frame + offset) if frame else 0
            frames = self.frames(frame)
            out.append(RawThread(ident, tid if 0 < tid < 1 << 32 else 0, names.get(ident), frames, owns_gil=ident == holder))
            ts = struct.unpack_from("<Q", raw, lay.ts_next)[0]
        return out

    def frames(self, frame: int) -> tuple[RawFrame, ...]:
        lay = self.stack
        out: list[RawFrame] = []
        seen: set[int] = set()
        size = max(lay.f_back, lay.f_code, lay.f_lasti, lay.f_owner or 0) + 8
        while frame:
            if frame in seen or len(seen) >= MAX_DEPTH:
                raise Unreadable(f"a frame chain of process {self.pid} does not end", pid=self.pid)
            seen.add(frame)
            raw = self.read(frame, size)
            back = struct.unpack_from("<Q", raw, lay.f_back)[0]
            code = struct.unpack_from("<Q", raw, lay.f_code)[0]
            if (lay.f_owner is not None and raw[lay.f_owner] == lay.shim_owner) or not code:
                frame = back  # an entry shim, not Python code: py-spy leaves it out
                continue
            name, filename, first, table, bytecode = self.code(code)
            if not filename or filename == "<shim>" or len(name) >= MAX_STR or len(filename) >= MAX_STR:
                frame = back  # py-spy leaves these out too
                continue
            if lay.frame == "object":
                lasti = struct.unpack_from("<i", raw, lay.f_lasti)[0]
                if lay.lines == "310":
                    lasti *= 2
            else:
                instr = struct.unpack_from("<Q", raw, lay.f_lasti)[0]
                lasti = instr - bytecode
            line = lines.line_of(lay.lines, table, first, lasti)
            out.append(RawFrame(function=name, file=filename, line=line))
            frame = back
        return tuple(out)

    def code(self, addr: int) -> tuple[str, str, int, Optional[bytes], int]:
        """(name, file, first line, line table, address of the bytecode) of a code object."""
        known = self._code.get(addr)
        if known is not None:
            return known
        lay = self.stack
        raw = self._object(addr, "code", max(lay.code_firstlineno, lay.code_linetable, lay.code_name, lay.code_filename) + 8)
        if raw is None:
            raise Unreadable(f"a frame of process {self.pid} has no code object", pid=self.pid)
        # Read from this process every time, never taken from a fork sibling's read of the
        # "same" code object: a sibling (one that dropped to nobody after fork included)
        # can rewrite its copy-on-write copy of the name, file name or line table, and its
        # values would then be shown, and its file name read, for this process
        first = struct.unpack_from("<i", raw, lay.code_firstlineno)[0]
        name = self._str(struct.unpack_from("<Q", raw, lay.code_name)[0])
        filename = self._str(struct.unpack_from("<Q", raw, lay.code_filename)[0])
        table = self._bytes(struct.unpack_from("<Q", raw, lay.code_linetable)[0])  # None: line 0, as py-spy
        if name is None or filename is None:
            raise Unreadable(f"a code object of process {self.pid} did not read whole", pid=self.pid)
        result = (name, filename, first, table, addr + (lay.code_adaptive or 0))
        self._code[addr] = result
        return result

    # One read per object where the general walkers (objects.py) make two or three: a frame's
    # code object and its line table are read for every frame of every process.

    def _object(self, addr: int, type_name: str, size: int) -> Optional[bytes]:
        """The first ``size`` bytes of the object at ``addr`` (fewer near the end of a mapping:
        at least its header), when its type is exactly the builtin ``type_name`` (a class of
        that name is not it); else None."""
        if not addr or addr % 8:
            return None
        raw = self._try(addr, size) or self._try(addr, 16)
        if raw is None:
            return None
        tp = struct.unpack_from("<Q", raw, 8)[0]
        if tp != self._type_addrs.get(type_name):
            info = self._type_info(tp)
            if info is None or info.name != type_name or info.flags & TPFLAGS_HEAPTYPE:
                return None
            self._type_addrs[type_name] = tp
        return raw

    def _bytes(self, addr: int, limit: int = MAX_TABLE) -> Optional[bytes]:
        """Value of a bytes object (shorter than ``limit`` bytes), or None."""
        raw = self._object(addr, "bytes", 32 + 256)
        if raw is None or len(raw) < 24:
            return None
        size = struct.unpack_from("<q", raw, 16)[0]
        if not 0 <= size < limit:
            return None
        data = self._rest(raw, addr, 32, size)
        if data is None:  # as before: the read is refused and py-spy reads the process
            raise MemoryFault(f"line table at {addr:#x} in process {self.pid} did not read whole", pid=self.pid)
        return data

    # ---- thread names: threading._active, ident -> Thread, its _name

    def thread_names(self, interp: int) -> dict[int, str]:
        modules = self._ptr(interp + self.stack.modules)
        threading = self._lookup(modules, "threading")
        active = self._lookup(self.module_dict(threading) or 0, "_active") if threading else None
        names: dict[int, str] = {}
        for key, thread in self._dict_entries(active, 1024) if active else ():
            ident = self._int(key)
            name_at = self.attrs(thread).get("_name")
            name = self._str(name_at) if name_at else None
            if ident is not None and name is not None:
                names[ident & 0xFFFFFFFFFFFFFFFF] = name
        return names

    def _lookup(self, dict_addr: int, name: str) -> Optional[int]:
        """``d[name]`` for a dict with str keys: first by the address of the key object that
        held ``name`` last time (fork siblings share interned keys; the hint is used only
        once the str at that address in this process reads as ``name``), else by value."""
        hints = state.current().dict_keys
        hint = hints.get(name)
        if hint is not None and self._str(hint) == name:
            value = self.value_at_key(dict_addr, hint)
            if value is not None:
                return value
        for key, value in self._dict_entries(dict_addr):
            if self._str(key) == name:
                hints.put(name, key)
                return value
        return None

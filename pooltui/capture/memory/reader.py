"""The one reader of another process's memory: ``os.pread`` on ``/proc/PID/mem``.

``ProcessMemory`` is the only place that turns an OS error into a typed capture error
(``ProcessGone``, ``PermissionDenied``, ``MemoryFault`` for an address that cannot be
read), and the only place that spends the read budget: every byte read counts against a
per-process byte and time budget, and a read past it raises ``BudgetExceeded`` ("not read
(budget)") before anything is allocated — a ten-million-entry dict or a corrupted size
field in the target must cost the capture a bounded time, never its memory.

What it checks before reading (else ``Unsupported``):

* the version is in ``layouts.LAYOUTS``;
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
import time
from collections.abc import Iterable
from typing import Optional, Protocol

from pooltui.capture import procfs, state
from pooltui.capture.errors import CaptureError, ProcessGone, Unsupported
from pooltui.capture.memory.kernel import Mapping, alive, read_maps
from pooltui.capture.memory.layouts import Layout, layout_for
from pooltui.model.record import Record

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
    # once per distinct list of names, in the capture's state (a pure function of them):
    # the workers of a fork pool map the same files (~0.3 ms of basenames and patterns each)
    key = (tuple(version), tuple(paths))
    cache = state.current().builds
    return cache.get_or_put(key, lambda: _check_build(*key))


def versions_named(paths: Iterable[str]) -> set[tuple[int, int]]:
    """The Python X.Y each of these file names says (``python3.11``, ``libpython3.11.so.1.0``,
    ``*.cpython-311-x86_64-linux-gnu.so``): how a core file tells its interpreter."""
    found: set[tuple[int, int]] = set()
    for name in {os.path.basename(p) for p in paths}:
        for m in (_NAME_RE.match(name), _EXT_RE.search(name)):
            if m:
                found.add((int(m.group(1)), int(m.group(2))))
    return found


def _check_build(version: tuple[int, ...], paths: tuple[str, ...]) -> Optional[str]:
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


class MemoryFault(CaptureError):
    """An address of the target could not be read (unmapped, or freed meanwhile)."""


class BudgetExceeded(CaptureError):
    """Reading one process's objects took more bytes or time than its budget allows."""


class Budget(Record, frozen=True):
    """How much one ``ProcessMemory`` may read: bytes in total, and CPU seconds of the reading
    thread from its opening (the work done, not the machine's load: on a box at load 50 a
    wall-clock budget would refuse ordinary reads, while a corrupted or huge structure
    still runs out of it)."""

    max_bytes: int = 64 << 20
    seconds: float = 2.0


MAX_USER_ADDR = 1 << 47
CLOCK_EVERY = 16  # reads between two looks at the CPU-time budget (ProcessMemory.spend)


class Image(Protocol):
    """Memory that is not a live process's (a core file, ``memory.coreimage``): the same reads."""

    exe: str
    maps: list[Mapping]

    def read(self, addr: int, size: int) -> bytes: ...


class ProcessMemory:
    """Read-only view of one process's memory, within a budget. Context manager.

    With ``image`` (a core file) the same reads go to that image instead of
    ``/proc/PID/mem``: every walker above works on either."""

    image: Optional[Image] = None

    budget = Budget()
    _spent = 0
    _reads = 0
    _deadline = float("inf")

    def __init__(self, pid: int, version: tuple[int, int], budget: Optional[Budget] = None, *, image: Optional[Image] = None) -> None:
        self.pid = pid
        self.image = image
        self.version = (int(version[0]), int(version[1]))
        self.layout: Layout = layout_for(self.version)
        self._fd: Optional[int] = None
        self.maps: list[Mapping] = []  # /proc/PID/maps as read when it was opened
        if budget is not None:
            self.budget = budget
        self._spent = 0
        self._deadline = time.thread_time() + self.budget.seconds
        if image is not None:
            self.maps = list(image.maps)
            problem = check_build(self.version, [image.exe] + [m.path for m in self.maps if m.path.startswith("/")])
            if problem is not None:
                raise Unsupported(f"core of process {pid}: {problem}", pid=pid)
            return
        self._check_target()
        self._fd = procfs.open_mem(pid)

    # ---- lifecycle

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - safety net
        try:
            self.close()
        except Exception:
            pass

    @property
    def exe(self) -> str:
        """The executable's path, as the kernel (or the core) names it; "" when unknown."""
        if self.image is not None:
            return self.image.exe
        try:
            return procfs.exe(self.pid).replace(" (deleted)", "")
        except CaptureError:
            return ""

    # ---- target checks (see the module docstring)

    def _check_target(self) -> None:
        pid = self.pid
        try:
            head = procfs.exe_head(pid)
            exe = procfs.exe(pid)
        except ProcessGone:  # no such file: gone, or a process without one
            if not alive(pid):
                raise
            raise Unsupported(f"process {pid} has no executable to read (a kernel thread?)", pid=pid) from None
        problem = check_elf(head)
        if problem is None:
            self.maps = read_maps(pid)  # kept: callers find a semaphore's mapping in it without reading it again
            names = [exe.replace(" (deleted)", "")] + [m.path for m in self.maps if m.path.startswith("/")]
            problem = check_build(self.version, names)
        if problem is not None:
            raise Unsupported(f"process {pid}: {problem}", pid=pid)

    # ---- the budget

    def spend(self, size: int) -> None:
        """Count ``size`` bytes against the budget; BudgetExceeded when that passes it. The
        CPU clock is looked at every ``CLOCK_EVERY`` reads: reading it is a system call
        (CLOCK_THREAD_CPUTIME_ID has no vDSO path), as costly as the pread it guards."""
        self._reads += 1
        late = self._reads % CLOCK_EVERY == 0 and time.thread_time() > self._deadline
        if self._spent + size > self.budget.max_bytes or self.budget.seconds <= 0 or late:
            raise BudgetExceeded(
                f"memory of process {self.pid} not read (budget: {self.budget.max_bytes >> 20} MB or {self.budget.seconds:g} s of CPU)",
                pid=self.pid,
            )
        self._spent += size

    @property
    def spent(self) -> int:
        """Bytes read so far."""
        return self._spent

    # ---- raw reads: the one error-translation boundary

    def read(self, addr: int, size: int) -> bytes:
        if self.image is not None:
            if size < 0 or addr <= 0 or addr + size > MAX_USER_ADDR:
                raise MemoryFault(f"address {addr:#x} (+{size}) is not a user address of process {self.pid}", pid=self.pid)
            self.spend(size)
            return self.image.read(addr, size)
        if self._fd is None:
            raise CaptureError(f"memory of process {self.pid} is closed", pid=self.pid)
        if size < 0 or addr <= 0 or addr + size > MAX_USER_ADDR:
            raise MemoryFault(f"address {addr:#x} (+{size}) is not a user address of process {self.pid}", pid=self.pid)
        self.spend(size)
        try:
            data = os.pread(self._fd, size, addr)
        except OSError as exc:
            if exc.errno in (errno.ESRCH, errno.EACCES, errno.EPERM):
                raise procfs.translate(exc, self.pid, "the memory") from None
            raise MemoryFault(f"cannot read {addr:#x} (+{size}) in process {self.pid}: {exc.strerror}", pid=self.pid) from None
        if len(data) != size:
            if not data and not alive(self.pid):
                raise ProcessGone(f"process {self.pid} exited", pid=self.pid)
            raise MemoryFault(f"short read at {addr:#x} in process {self.pid}", pid=self.pid)
        return data

    def _try(self, addr: int, size: int) -> Optional[bytes]:
        """``read``, or None for an address that cannot be read (other errors propagate)."""
        try:
            return self.read(addr, size)
        except MemoryFault:
            return None

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

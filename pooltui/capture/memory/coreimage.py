"""A core file as the memory of a process: ``read(addr, size)`` and ``maps``, what
``ProcessMemory`` reads from ``/proc/PID/mem`` and ``/proc/PID/maps`` for a live one.

Bytes come from the core's ``PT_LOAD`` segments. A segment's tail that was not dumped
(the kernel's default ``coredump_filter`` 0x33 leaves out file-backed pages nobody wrote:
the text and read-only data of the interpreter and its libraries, where ``.dynsym`` lives)
is read from the file the core says was mapped there (``NT_FILE``), but only:

* under ``--sysroot`` when given (``openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)``,
  as ``safeopen`` opens a target's files; the plain root ``/`` otherwise), a regular file
  (an ``O_PATH`` open is fstat'ed first: no FIFO or device is ever opened for reading);
* when its first page equals the one the core holds for that mapping (the kernel dumps the
  ELF header page of every mapped ELF object): the same build (its GNU build-id is part of
  that page), else the file is refused and why is said ("… does not match the core:
  build-id X in the core, Y on disk"). A file whose header page is not in the core cannot
  be checked and is not read (``--exe`` vouches for the executable);
* within the mapping's own range of the file.

A core names these files: root reads none it does not need, none that is not the ELF
object the process had mapped, and nothing past a mapping.
"""

from __future__ import annotations

import bisect
import errno
import itertools
import os
import stat
import struct
from typing import Optional

from pooltui.capture import safeopen
from pooltui.capture.memory.core import AT_ENTRY, BadCore, Core, MappedFile, parse_core
from pooltui.capture.memory.kernel import Mapping
from pooltui.capture.memory.reader import MAX_USER_ADDR, MemoryFault

PAGE = 4096
NT_GNU_BUILD_ID = 3

# every image gets device numbers of its own (negative: never a real device), so the
# caches keyed on (device, inode) of a mapped file never take one core's file for another's
_SERIAL = itertools.count(1)


def build_id(page: bytes) -> Optional[str]:
    """The GNU build-id (hex) in the notes of an ELF object whose first page is ``page``,
    when its program headers and that note lie within the page."""
    if len(page) < 64 or page[:4] != b"\x7fELF" or page[4] != 2:
        return None
    phoff = struct.unpack_from("<Q", page, 32)[0]
    phentsize, phnum = struct.unpack_from("<HH", page, 54)
    if phentsize != 56 or phoff + 56 * phnum > len(page):
        return None
    for i in range(phnum):
        p_type, _f, offset, _v, _p, filesz = struct.unpack_from("<IIQQQQ", page, phoff + 56 * i)
        if p_type != 4 or offset + filesz > len(page):
            continue
        at, end = offset, offset + filesz
        while at + 12 <= end:
            namesz, descsz, kind = struct.unpack_from("<III", page, at)
            desc = at + 12 + ((namesz + 3) & ~3)
            if desc + descsz > end:
                break
            if kind == NT_GNU_BUILD_ID and page[at + 12 : at + 12 + namesz].rstrip(b"\0") == b"GNU":
                return page[desc : desc + descsz].hex()
            at = desc + ((descsz + 3) & ~3)
    return None


class _Backing:
    """One file the core names, opened and checked on first need: its fd, or why not."""

    def __init__(self, fd: Optional[int], size: int, problem: str) -> None:
        self.fd, self.size, self.problem = fd, size, problem


class CoreImage:
    """The memory of the process a core file holds. Context manager (closes its files)."""

    def __init__(self, path: str, *, exe: Optional[str] = None, sysroot: Optional[str] = None) -> None:
        self.path = path
        self.sysroot = sysroot
        self._exe_override = exe
        self._backing: dict[str, _Backing] = {}
        self._fd: Optional[int] = None
        try:
            self._fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
            self.core: Core = parse_core(self._fd, path)
        except OSError as exc:
            self.close()
            raise BadCore(f"{path}: cannot be read ({exc.strerror or exc})") from None
        except BaseException:
            self.close()
            raise
        self._starts = [s.vaddr for s in self.core.segments]
        self._file_starts = [f.start for f in self.core.files]
        self.exe = self._find_exe()
        dev = -next(_SERIAL)
        inodes = {p: i + 1 for i, p in enumerate(dict.fromkeys(f.path for f in self.core.files))}
        files = [Mapping(f.start, f.end, self._perms(f.start), f.offset, dev, inodes[f.path], f.path) for f in self.core.files]
        # the anonymous memory (heap, malloc arenas, thread stacks): segments no file was mapped at
        anonymous = [
            Mapping(s.vaddr, s.vaddr + s.memsz, s.perms, 0, 0, 0, "")
            for s in self.core.segments
            if s.vaddr + s.memsz <= MAX_USER_ADDR and self._file_at(s.vaddr) is None
        ]
        self.maps: list[Mapping] = sorted(files + anonymous, key=lambda m: m.start)
        self.problems: dict[str, str] = {}  # file -> why it was not read (said in the report)
        if exe:  # the user's word that this is the interpreter: checked against the core at once
            problem = self._backing_of(self.exe).problem if self.exe else "the core names no executable (no entry point in its auxv)"
            if problem:
                self.close()
                raise BadCore(f"--exe {exe}: {problem}")

    # ---- lifecycle

    def close(self) -> None:
        for backing in self._backing.values():
            if backing.fd is not None:
                os.close(backing.fd)
                backing.fd = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> CoreImage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- what the core says

    def _perms(self, addr: int) -> str:
        seg = self._segment(addr)
        # a file mapping with no segment in the core was not written: its text or read-only data
        return seg.perms if seg is not None else "r--p"

    def _find_exe(self) -> str:
        """The executable's path as the core names it: the mapped file holding the entry point."""
        entry = self.core.auxv.get(AT_ENTRY)
        mapped = self._file_at(entry) if entry else None
        return mapped.path if mapped is not None else ""

    def _segment(self, addr: int):  # type: ignore[no-untyped-def]
        i = bisect.bisect_right(self._starts, addr) - 1
        if i >= 0:
            seg = self.core.segments[i]
            if addr < seg.vaddr + seg.memsz:
                return seg
        return None

    def _file_at(self, addr: int) -> Optional[MappedFile]:
        i = bisect.bisect_right(self._file_starts, addr) - 1  # NT_FILE lists mappings in address order
        if i >= 0 and self.core.files[i].start <= addr < self.core.files[i].end:
            return self.core.files[i]
        return None

    # ---- reading

    def read(self, addr: int, size: int) -> bytes:
        """``size`` bytes at ``addr``; MemoryFault when any of them is neither in the core nor
        in a checked file it names."""
        out = []
        while size > 0:
            seg = self._segment(addr)
            if seg is None:  # gdb's gcore writes no segment at all for file pages nobody wrote
                data = self._from_file(addr, min(size, self._gap_after(addr)))
                n = len(data)
                out.append(data)
                addr += n
                size -= n
                continue
            inside = addr - seg.vaddr
            n = min(size, seg.memsz - inside)
            if inside < seg.filesz:
                n = min(n, seg.filesz - inside)
                data = os.pread(self._fd or -1, n, seg.offset + inside)
                if len(data) != n:
                    raise MemoryFault(f"the core is shorter than its segment at {seg.vaddr:#x}")
            else:
                data = self._from_file(addr, n)
                n = len(data)
            out.append(data)
            addr += n
            size -= n
        return b"".join(out)

    def _gap_after(self, addr: int) -> int:
        """Bytes from ``addr`` (in no segment) to the next segment."""
        i = bisect.bisect_right(self._starts, addr)
        return self._starts[i] - addr if i < len(self._starts) else 1 << 62

    def _in_core(self, addr: int, size: int) -> Optional[bytes]:
        """Bytes the core itself holds at ``addr`` (never a mapped file's), or None."""
        seg = self._segment(addr)
        if seg is None or addr - seg.vaddr + size > seg.filesz:
            return None
        data = os.pread(self._fd or -1, size, seg.offset + addr - seg.vaddr)
        return data if len(data) == size else None

    def _from_file(self, addr: int, size: int) -> bytes:
        mapped = self._file_at(addr)
        if mapped is None:
            raise MemoryFault(f"address {addr:#x} was not dumped into the core (and no file was mapped there)")
        backing = self._backing_of(mapped.path)
        if backing.fd is None:
            raise MemoryFault(f"address {addr:#x} was not dumped into the core and {backing.problem}")
        n = min(size, mapped.end - addr)
        where = mapped.offset + addr - mapped.start
        if where + n > backing.size:
            raise MemoryFault(f"address {addr:#x} lies past the end of {mapped.path}")
        data = os.pread(backing.fd, n, where)
        if len(data) != n:
            raise MemoryFault(f"short read of {mapped.path} at {where:#x}")
        return data

    def _backing_of(self, path: str) -> _Backing:
        known = self._backing.get(path)
        if known is None:
            known = self._backing[path] = self._open_checked(path)
            if known.problem:
                self.problems[path] = known.problem
        return known

    def _header_in_core(self, path: str) -> Optional[bytes]:
        for f in self.core.files:
            if f.path == path and f.offset == 0:
                return self._in_core(f.start, PAGE)
        return None

    def _open_checked(self, path: str) -> _Backing:
        vouched = bool(self._exe_override) and path == self.exe
        shown = self._exe_override if vouched else path
        if path.endswith(" (deleted)"):
            return _Backing(None, 0, f"{path} was deleted when the core was written")
        try:
            fd, size = self._open_file(path)
        except (OSError, ValueError) as exc:
            why = self._why(exc) if isinstance(exc, OSError) else str(exc)
            return _Backing(None, 0, f"{shown} was not read: {why}")
        try:
            ours = self._header_in_core(path)
            head = os.pread(fd, PAGE, 0)
            if ours is None:
                if not vouched:
                    raise ValueError(f"{shown} was not read: its ELF header is not in the core to check it against (--exe vouches for an executable)")
            elif head[:4] != b"\x7fELF" or ours[: len(head)] != head:
                theirs, mine = build_id(ours), build_id(head)
                detail = f" (build-id {theirs} in the core, {mine} on disk)" if theirs and mine and theirs != mine else ""
                raise ValueError(f"{shown} does not match the core{detail}: not the binary the process ran, not read")
        except ValueError as exc:
            os.close(fd)
            return _Backing(None, 0, str(exc))
        return _Backing(fd, size, "")

    def _why(self, exc: OSError) -> str:
        under = f" under the sysroot {self.sysroot}" if self.sysroot else ""
        return {
            errno.ENOENT: f"no such file{under}",
            errno.ENOTDIR: f"no such file{under}",
            errno.EACCES: "permission denied",
            errno.ELOOP: "its path has a symbolic link loop or a /proc magic link",
            errno.EXDEV: f"its path leaves the sysroot {self.sysroot}",
        }.get(exc.errno or 0, exc.strerror or str(exc))

    def _open_file(self, path: str) -> tuple[int, int]:
        if self._exe_override and path == self.exe:
            root, name = "/", os.path.abspath(self._exe_override)
        else:
            root, name = self.sysroot or "/", path
        if "\0" in name:
            raise ValueError("its path holds a NUL byte")
        root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            probe = safeopen.open_in_root(root_fd, os.fsencode(name), os.O_PATH | os.O_CLOEXEC)
            try:
                st = os.fstat(probe)
            finally:
                os.close(probe)
            if not stat.S_ISREG(st.st_mode):
                raise ValueError("it is not a regular file")
            fd = safeopen.open_in_root(root_fd, os.fsencode(name), os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
        finally:
            os.close(root_fd)
        again = os.fstat(fd)
        if (again.st_dev, again.st_ino) != (st.st_dev, st.st_ino) or not stat.S_ISREG(again.st_mode):
            os.close(fd)
            raise ValueError("it changed while it was opened")
        return fd, again.st_size


def open_core(path: str, *, exe: Optional[str] = None, sysroot: Optional[str] = None) -> CoreImage:
    return CoreImage(path, exe=exe, sysroot=sysroot)


__all__ = ["CoreImage", "build_id", "open_core", "parse_core"]

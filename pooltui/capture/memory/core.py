"""An ELF core file of a Linux x86-64 process, parsed within bounds: its memory segments
(``PT_LOAD``), the files it had mapped (``NT_FILE``), its threads with their registers and
signal (``NT_PRSTATUS``), the process (``NT_PRPSINFO``), the signal's details
(``NT_SIGINFO``) and its auxiliary vector (``NT_AUXV``).

A core file is hostile input like a report: every header, offset and size is checked
against the file's size before it is used, counts are capped, and anything that does not
fit raises ``BadCore`` with one line saying what (exit 2 from the CLI). Nothing here opens
a file the core names: ``corefiles`` does that, checked against the core.

Layouts (``linux/elfcore.h``, ``asm/user_64.h``, x86-64): ``elf_prstatus`` is 336 bytes
(``pr_pid`` at 32, ``pr_reg`` at 112: 27 registers in ``user_regs_struct`` order);
``elf_prpsinfo`` 136 bytes (``pr_uid`` 16, ``pr_pid`` 24, ``pr_fname`` 40, ``pr_psargs`` 56).
"""

from __future__ import annotations

import os
import stat
import struct
from typing import Optional

from pooltui.capture.errors import CaptureError
from pooltui.model.record import Record
from pooltui.model.words import ErrorCode

ET_CORE, EM_X86_64 = 4, 62
PT_LOAD, PT_NOTE = 1, 4
NT_PRSTATUS, NT_PRPSINFO, NT_AUXV = 1, 3, 6
NT_SIGINFO, NT_FILE = 0x53494749, 0x46494C45
AT_ENTRY, AT_EXECFN = 9, 31
MAX_PHDRS = 1 << 16  # a process has at most vm.max_map_count (65530) mappings by default
MAX_NOTES_BYTES = 64 << 20
MAX_THREADS = 1 << 15
MAX_FILES = 1 << 16
PRSTATUS_SIZE, PRPSINFO_SIZE, REG_OFFSET = 336, 136, 112
# user_regs_struct, x86-64 (asm/user_64.h)
REGS = ("r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi", "rdi",
        "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs")  # fmt: skip


class BadCore(CaptureError):
    """The file is not a core this reader can use (truncated, foreign, empty, malformed)."""

    code = ErrorCode.BAD_CORE
    help = "Give a core file of a Linux x86-64 process (ulimit -c, core_pattern, coredumpctl dump -o FILE)."
    exit_code = 2


class Segment(Record, frozen=True):
    """One ``PT_LOAD``: memory at ``vaddr`` (``memsz`` bytes), the first ``filesz`` of which
    are in the core at ``offset`` (the rest was not dumped: read-only file pages, mostly)."""

    vaddr: int
    memsz: int
    offset: int
    filesz: int
    flags: int  # PF_X 1, PF_W 2, PF_R 4

    @property
    def perms(self) -> str:
        return ("r" if self.flags & 4 else "-") + ("w" if self.flags & 2 else "-") + ("x" if self.flags & 1 else "-") + "p"


class MappedFile(Record, frozen=True):
    """One ``NT_FILE`` entry: the file ``path`` was mapped at ``start``..``end`` from ``offset``."""

    start: int
    end: int
    offset: int
    path: str


class CoreThread(Record, frozen=True):
    tid: int
    signal: int  # pr_cursig
    regs: dict[str, int]

    @property
    def ident(self) -> int:
        """The pthread ident (``threading.get_ident()``): glibc's pthread_t is the thread's
        TCB, which is what ``fs_base`` points at on x86-64."""
        return self.regs["fs_base"]

    @property
    def syscall_args(self) -> tuple[int, ...]:
        r = self.regs
        return (r["rdi"], r["rsi"], r["rdx"], r["r10"], r["r8"], r["r9"])

    @property
    def syscall_nr(self) -> int:
        """The system call the thread was in (``orig_rax``), -1 when in none."""
        nr = self.regs["orig_rax"]
        return nr - (1 << 64) if nr >= 1 << 63 else nr


class CoreProcess(Record, frozen=True):
    pid: int
    ppid: int
    uid: int
    gid: int
    name: str  # pr_fname: the comm, 15 characters at most
    args: str  # pr_psargs: the first 80 bytes of the command line, NULs made spaces


class SigInfo(Record, frozen=True):
    signo: int
    code: int
    addr: int  # si_addr for SIGSEGV / SIGBUS / SIGILL / SIGFPE, else 0
    pid: int  # si_pid of a signal sent by a process (si_code <= 0), else 0


class Core(Record, frozen=True):
    """What a core file holds besides the bytes of its segments."""

    path: str
    size: int
    segments: tuple[Segment, ...]
    files: tuple[MappedFile, ...]
    threads: tuple[CoreThread, ...]  # the kernel writes the thread that took the signal first
    process: Optional[CoreProcess]
    siginfo: Optional[SigInfo]
    auxv: dict[int, int]
    page_size: int


def _bad(path: str, why: str) -> BadCore:
    return BadCore(f"{path}: {why}")


def _align4(n: int) -> int:
    return (n + 3) & ~3


def _notes(raw: bytes):  # type: ignore[no-untyped-def]
    """(type, name, descriptor) of each note in a PT_NOTE's bytes; stops at one that does not fit."""
    i = 0
    while i + 12 <= len(raw):
        namesz, descsz, kind = struct.unpack_from("<III", raw, i)
        name_at = i + 12
        desc_at = name_at + _align4(namesz)
        end = desc_at + _align4(descsz)
        if desc_at + descsz > len(raw):
            return
        yield kind, raw[name_at : name_at + namesz].rstrip(b"\0"), raw[desc_at : desc_at + descsz]
        i = end


def _nt_file(desc: bytes, path: str) -> tuple[tuple[MappedFile, ...], int]:
    if len(desc) < 16:
        raise _bad(path, "its NT_FILE note is truncated")
    count, page = struct.unpack_from("<QQ", desc, 0)
    if count > MAX_FILES or 16 + 24 * count > len(desc) or page not in (1, 4096, 16384, 65536):  # gdb writes 1: offsets in bytes
        raise _bad(path, "its NT_FILE note is malformed")
    names = desc[16 + 24 * count :].split(b"\0")
    if len(names) < count:
        raise _bad(path, "its NT_FILE note names fewer files than it counts")
    out = []
    for i in range(count):
        start, end, pages = struct.unpack_from("<QQQ", desc, 16 + 24 * i)
        if end <= start or pages * page >= 1 << 63:
            continue
        out.append(MappedFile(start, end, pages * page, os.fsdecode(names[i])))
    return tuple(out), page


def _prstatus(desc: bytes, path: str) -> CoreThread:
    if len(desc) < PRSTATUS_SIZE:
        raise _bad(path, "an NT_PRSTATUS note is not an x86-64 one")
    signal = struct.unpack_from("<h", desc, 12)[0]
    tid = struct.unpack_from("<i", desc, 32)[0]
    regs = dict(zip(REGS, struct.unpack_from(f"<{len(REGS)}Q", desc, REG_OFFSET)))
    return CoreThread(tid=tid, signal=signal, regs=regs)


def _prpsinfo(desc: bytes) -> Optional[CoreProcess]:
    if len(desc) < PRPSINFO_SIZE:
        return None
    uid, gid, pid, ppid = struct.unpack_from("<IIii", desc, 16)
    name = desc[40:56].split(b"\0")[0].decode("utf-8", "surrogateescape")
    args = desc[56:136].split(b"\0")[0].decode("utf-8", "surrogateescape")
    return CoreProcess(pid=pid, ppid=ppid, uid=uid, gid=gid, name=name, args=args)


def _siginfo(desc: bytes) -> Optional[SigInfo]:
    if len(desc) < 24:
        return None
    signo, _errno, code = struct.unpack_from("<iii", desc, 0)
    addr = struct.unpack_from("<Q", desc, 16)[0] if signo in (4, 7, 8, 11) else 0
    pid = struct.unpack_from("<i", desc, 16)[0] if code <= 0 else 0
    return SigInfo(signo=signo, code=code, addr=addr, pid=pid)


def looks_like_elf(path: str) -> bool:
    """The file starts with the ELF magic (a core, or another ELF file ``parse_core`` refuses
    by name); False for anything else or what cannot be opened (a report's loader says why).
    A FIFO or device is not opened."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        return os.pread(fd, 4, 0) == b"\x7fELF"
    except OSError:
        return False
    finally:
        os.close(fd)


def parse_core(fd: int, path: str) -> Core:
    """Parse the core open at ``fd``; BadCore (one line) for anything but a usable core."""
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        raise _bad(path, "not a regular file")
    size = st.st_size
    if size == 0:
        raise _bad(path, "the file is empty")
    head = os.pread(fd, 64, 0)
    if len(head) < 64 or head[:4] != b"\x7fELF":
        raise _bad(path, "not a core file (no ELF header)")
    if head[4] != 2 or head[5] != 1 or struct.unpack_from("<H", head, 18)[0] != EM_X86_64:
        raise _bad(path, "not a core of a 64-bit x86-64 process; pooltui knows Linux x86-64 layouts only")
    e_type = struct.unpack_from("<H", head, 16)[0]
    if e_type != ET_CORE:
        raise _bad(path, f"an ELF file but not a core file (e_type {e_type})")
    phoff = struct.unpack_from("<Q", head, 32)[0]
    phentsize, phnum = struct.unpack_from("<HH", head, 54)
    if phnum == 0xFFFF:  # PN_XNUM: the real count is in section 0's sh_info
        shoff = struct.unpack_from("<Q", head, 40)[0]
        sh0 = os.pread(fd, 64, shoff) if shoff + 64 <= size else b""
        if len(sh0) < 64:
            raise _bad(path, "the file is truncated (its section header is missing)")
        phnum = struct.unpack_from("<I", sh0, 44)[0]
    shoff = struct.unpack_from("<Q", head, 40)[0]
    shentsize, shnum = struct.unpack_from("<HH", head, 58)
    if shnum and shoff + shentsize * shnum > size:  # gdb writes section headers last
        raise _bad(path, "the file is truncated (its section headers are cut off)")
    if phentsize != 56 or not 0 < phnum <= MAX_PHDRS:
        raise _bad(path, "its program headers are malformed")
    if phoff + 56 * phnum > size:
        raise _bad(path, "the file is truncated (its program headers are cut off)")
    phdrs = os.pread(fd, 56 * phnum, phoff)
    segments: list[Segment] = []
    note_ranges: list[tuple[int, int]] = []
    for i in range(phnum):
        p_type, flags, offset, vaddr, _paddr, filesz, memsz, _align = struct.unpack_from("<IIQQQQQQ", phdrs, 56 * i)
        if p_type == PT_LOAD:
            if filesz > memsz or vaddr + memsz > 1 << 64 or offset + filesz < offset:
                raise _bad(path, f"its segment at {vaddr:#x} is malformed")
            if filesz and offset + filesz > size:
                raise _bad(path, f"the file is truncated (the segment at {vaddr:#x} needs {offset + filesz} bytes, the file has {size})")
            segments.append(Segment(vaddr, memsz, offset, filesz, flags))
        elif p_type == PT_NOTE:
            if offset + filesz > size:
                raise _bad(path, f"the file is truncated (its notes need {offset + filesz} bytes, the file has {size})")
            note_ranges.append((offset, filesz))
    if sum(n for _o, n in note_ranges) > MAX_NOTES_BYTES:
        raise _bad(path, "its notes are too large")
    threads: list[CoreThread] = []
    files: tuple[MappedFile, ...] = ()
    page = 4096
    process = siginfo = None
    auxv: dict[int, int] = {}
    for offset, filesz in note_ranges:
        for kind, name, desc in _notes(os.pread(fd, filesz, offset)):
            if name != b"CORE":
                continue
            if kind == NT_PRSTATUS and len(threads) < MAX_THREADS:
                threads.append(_prstatus(desc, path))
            elif kind == NT_PRPSINFO and process is None:
                process = _prpsinfo(desc)
            elif kind == NT_SIGINFO and siginfo is None:
                siginfo = _siginfo(desc)
            elif kind == NT_FILE and not files:
                files, page = _nt_file(desc, path)
            elif kind == NT_AUXV and not auxv:
                words = struct.unpack_from(f"<{len(desc) // 8}Q", desc)
                auxv = {words[i]: words[i + 1] for i in range(0, len(words) - 1, 2) if words[i]}
    if not threads:
        raise _bad(path, "a core file with no thread (no NT_PRSTATUS note)")
    if not segments:
        raise _bad(path, "a core file with no memory (no PT_LOAD segment)")
    segments.sort(key=lambda s: s.vaddr)
    return Core(path, size, tuple(segments), files, tuple(threads), process, siginfo, auxv, page)

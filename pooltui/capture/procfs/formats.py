"""One parser per ``/proc`` file format, each a pure function of the bytes read (so the
recorded tree under tests/fixtures/proc and hostile bytes test them alike). Each returns
None or skips what does not parse: never an exception for a malformed text."""

from __future__ import annotations

import os
from typing import Optional

from pooltui.model.record import Record

SYSTEM_ROOT = "/proc"  # where the kernel's proc file system is mounted
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

# --------------------------------------------------------------------------- stat
# indices into ``parse_stat``'s fields: index 0 is field 3 of proc(5) (the state)
STATE, PPID, FLAGS, UTIME, STIME, STARTTIME, EXIT_CODE = 0, 1, 6, 11, 12, 19, 49
PF_EXITING = 0x4
PF_KTHREAD = 0x00200000


def parse_stat(raw: bytes) -> list[bytes]:
    """The fields of a stat line after the command name (which may hold spaces and ')')."""
    return raw.rpartition(b")")[2].split()


def stat_comm(raw: bytes) -> str:
    """The command name between the parentheses of a stat line (any bytes: surrogate-escaped)."""
    return raw[raw.find(b"(") + 1 : raw.rfind(b")")].decode("utf-8", "surrogateescape")


def task_times(fields: list[bytes]) -> Optional[tuple[str, float]]:
    """(state letter, user+system seconds) from ``parse_stat`` fields; None when malformed."""
    try:
        return fields[STATE].decode("ascii"), (int(fields[UTIME]) + int(fields[STIME])) / CLK_TCK
    except (IndexError, ValueError):
        return None


def stat_int(fields: Optional[list[bytes]], index: int) -> Optional[int]:
    """Field ``index`` of ``parse_stat`` fields as an int; None when absent or malformed."""
    try:
        return int(fields[index]) if fields else None
    except (IndexError, ValueError):
        return None


# --------------------------------------------------------------------------- status


class Status:
    """The ``Key:\tvalue`` lines of a status text: the first line of each key counts. Looked
    up by key when asked (a refresh reads the status of every thread, and asks two or three)."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    def field(self, name: bytes) -> Optional[bytes]:
        """The value of the first ``name:`` line, stripped; None if there is none."""
        key = name + b":"
        at = 0 if self.raw.startswith(key) else self.raw.find(b"\n" + key) + 1
        if at == 0 and not self.raw.startswith(key):
            return None
        at += len(key)
        end = self.raw.find(b"\n", at)
        return self.raw[at : end if end >= 0 else len(self.raw)].strip()

    def _number(self, name: bytes, base: int = 10) -> Optional[int]:
        words = (self.field(name) or b"").split(None, 1)
        try:
            return int(words[0], base) if words else None
        except ValueError:
            return None

    @property
    def state(self) -> Optional[str]:
        """The state letter (``State:\\tS (sleeping)``), None if absent."""
        words = (self.field(b"State") or b"").split(None, 1)
        return words[0][:9].decode("ascii", "replace") if words else None

    @property
    def switches(self) -> int:
        """Voluntary + nonvoluntary context switches (0 where unreadable)."""
        total = 0
        for key in (b"voluntary_ctxt_switches", b"nonvoluntary_ctxt_switches"):
            words = (self.field(key) or b"")[:32].split(None, 1)
            if words and words[0].isdigit():
                total += int(words[0])
        return total

    @property
    def voluntary_switches(self) -> Optional[int]:
        """Voluntary context switches alone: how often the thread blocked (one that spins hardly
        ever does, however often a busy machine preempts it)."""
        words = (self.field(b"voluntary_ctxt_switches") or b"")[:32].split(None, 1)
        return int(words[0]) if words and words[0].isdigit() else None

    @property
    def tgid(self) -> Optional[int]:
        return self._number(b"Tgid")

    @property
    def tracer_pid(self) -> Optional[int]:
        """TracerPid: the pid of a debugger/strace holding it, 0 when none."""
        return self._number(b"TracerPid")

    @property
    def caught_signals(self) -> Optional[int]:
        """SigCgt: the mask of signals it has a handler for (bit N-1 = signal N)."""
        return self._number(b"SigCgt", 16)

    @property
    def effective_caps(self) -> Optional[int]:
        """CapEff: its effective capabilities (bit N = capability N)."""
        return self._number(b"CapEff", 16)

    @property
    def nested_pid_namespace(self) -> Optional[bool]:
        """NSpid lists more than one pid: the process lives in a pid namespace below the
        box's first one, whose other processes its /proc does not show (None: not said)."""
        value = self.field(b"NSpid")
        return None if value is None else len(value.split()) > 1

    @property
    def fs_ids(self) -> Optional[tuple[int, int, tuple[int, ...]]]:
        """(fsuid, fsgid, supplementary groups): the ids its file accesses are checked with."""
        try:
            uid, gid = int((self.field(b"Uid") or b"").split()[3]), int((self.field(b"Gid") or b"").split()[3])
            groups = tuple(int(g) for g in (self.field(b"Groups") or b"").split())
        except (IndexError, ValueError):
            return None
        return uid, gid, groups


def switches(raw: bytes) -> int:
    """Voluntary + nonvoluntary context switches from the text of a task's status (0 where unreadable)."""
    return Status(raw).switches


def status_state(raw: bytes) -> Optional[str]:
    """The state letter of the text of a task's status, None if absent."""
    return Status(raw).state


def status_field(raw: bytes, name: bytes) -> Optional[bytes]:
    """The value of ``Name:`` in the text of a status file (first occurrence), stripped."""
    return Status(raw).field(name)


# --------------------------------------------------------------------------- syscall
SYS_FUTEX_X86_64 = 202
FUTEX_PRIVATE_FLAG = 0x80
FUTEX_CLOCK_REALTIME = 0x100
# FUTEX_WAIT, FUTEX_LOCK_PI, FUTEX_WAIT_BITSET, FUTEX_WAIT_REQUEUE_PI, FUTEX_LOCK_PI2
_FUTEX_WAIT_CMDS = frozenset({0, 6, 9, 11, 13})


class Syscall(Record, frozen=True):
    """One thread's ``task/TID/syscall``: ``running``, ``-1 SP PC`` (blocked outside a
    system call) or ``NR ARG0..ARG5 SP PC``."""

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


def parse_syscall(tid: int, text: str) -> Optional[Syscall]:
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


# --------------------------------------------------------------------------- maps


class Mapping(Record, frozen=True):
    start: int
    end: int
    perms: str
    offset: int
    dev: int
    inode: int
    path: str

    def contains(self, addr: int) -> bool:
        return self.start <= addr < self.end


def parse_maps(raw: str) -> list[Mapping]:
    """The lines of a maps text that parse (others are skipped)."""
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
        except (ValueError, OverflowError):  # OverflowError: makedev of a device number past 32 bits
            continue
    return out


# --------------------------------------------------------------------------- fd, fdinfo


def fd_inode(target: str, kind: str) -> Optional[int]:
    """The inode of an fd link ``kind:[INODE]`` (``pipe``, ``socket``); None for another kind."""
    if not (target.startswith(kind + ":[") and target.endswith("]")):
        return None
    try:
        return int(target[len(kind) + 2 : -1])
    except ValueError:
        return None


class FdInfo(Record, frozen=True):
    flags: int  # the open flags (octal in the file): O_WRONLY, O_NONBLOCK...
    targets: tuple[int, ...]  # an epoll fd's watched fds (its ``tfd:`` lines), ascending
    inode: Optional[int] = None  # the open file's inode (``ino:``, Linux 5.14+)


def parse_fdinfo(raw: bytes) -> FdInfo:
    flags = 0
    inode: Optional[int] = None
    targets: set[int] = set()
    for line in raw.splitlines():
        words = line.split()
        if len(words) < 2:
            continue
        if words[0] == b"flags:":
            try:
                flags = int(words[1], 8)
            except ValueError:
                flags = 0
        elif words[0] == b"tfd:" and words[1].isdigit():
            targets.add(int(words[1]))
        elif words[0] == b"ino:" and words[1].isdigit():
            inode = int(words[1])
    return FdInfo(flags, tuple(sorted(targets)), inode)


# --------------------------------------------------------------------------- small files


def parse_pids(raw: bytes) -> list[int]:
    """The pids of a ``task/TID/children`` text (space-separated); a word that is no pid is skipped."""
    return [int(word) for word in raw.split() if word.isdigit() and word.isascii()]


def parse_cmdline(raw: bytes) -> tuple[str, ...]:
    """The arguments of a ``cmdline`` (NUL-separated, any bytes: surrogate-escaped)."""
    return tuple(arg.decode("utf-8", "surrogateescape") for arg in raw.rstrip(b"\0").split(b"\0")) if raw else ()


def parse_comm(raw: bytes) -> str:
    """A ``comm``, shown escaped: any bytes may be a comm (prctl PR_SET_NAME), never a line break."""
    name = raw.rstrip(b"\n").decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in name)


def parse_boot_time(raw: bytes) -> float:
    """``btime`` of the system ``stat``: when it booted (seconds since the epoch), 0 if absent."""
    for line in raw.splitlines():
        if line.startswith(b"btime "):
            try:
                return float(line.split()[1])
            except (IndexError, ValueError):
                return 0.0
    return 0.0

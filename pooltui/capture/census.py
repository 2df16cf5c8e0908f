"""Every Python process on the box, from /proc alone, fast: `pooltui ps` and the picker.

One pass over /proc reads each process's stat and executable; a process is Python when its
executable is named like an interpreter (python3.11) or, else, when its mappings hold a
libpython or a CPython extension module (``*.cpython-311-*.so``: uWSGI, embedded
interpreters). A second read ``window`` seconds later of the Python processes only (their
stat and every thread's state and context switches) says who ran; each thread asleep then
has its system call read (/proc/PID/task/TID/syscall, and the fd it reads from) so a wait
with no timeout is told from a sleep. Kernel facts only: no stack, no memory of a target.

A process that cannot be read is never dropped silently: it is listed with why when its
name says it may be Python, and counted otherwise (``Census.unchecked``, ``vanished``).
"""

from __future__ import annotations

import os
import platform
import re
import socket
import time
from dataclasses import replace
from typing import Optional

from pooltui.capture import procs
from pooltui.model.census import (
    CENSUS_SCHEMA,
    WAIT_ACCEPT,
    WAIT_CHILD,
    WAIT_FUTEX,
    WAIT_OTHER,
    WAIT_PIPE,
    WAIT_POLL,
    WAIT_SHARED_FUTEX,
    WAIT_SOCKET,
    WAIT_TERMINAL,
    WAIT_TIMED,
    WAIT_UNKNOWN,
    Census,
    ProcFacts,
    TaskFacts,
)

WINDOW = 0.25  # seconds between the two reads: long enough to see a busy thread run, short enough for ps
_MAPS_CAP = 8 << 20  # a process with more mappings than this is read that far (a JVM's maps, not a Python's)
_CMDLINE_CAP = 32 << 10
# libpython3.11.so, python3.11/lib-dynload, _socket.cpython-311-x86_64-linux-gnu.so, python27.zip
_MAPPED_PYTHON = re.compile(rb"libpython(\d)\.(\d+)|/python(\d)\.(\d+)/|\.cpython-(\d)(\d+)[-.]")
_PF_KTHREAD = 0x00200000
_CLK_TCK = os.sysconf("SC_CLK_TCK")

# x86-64 system call numbers (the project's platform) -> what a thread asleep in it waits for
_READS = {0, 17, 19, 45, 47, 295}  # read, pread64, readv, recvfrom, recvmsg, preadv
_X86_64 = platform.machine() == "x86_64"


def _read(path: str, cap: int = 64 << 10) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.read(fd, cap)
    finally:
        os.close(fd)


def _boot_time() -> float:
    for line in _read("/proc/stat", 1 << 20).splitlines():
        if line.startswith(b"btime "):
            return float(line.split()[1])
    return 0.0


def _maps_python(pid: int) -> Optional[str]:
    """ "3.11" when the mappings hold a libpython or CPython module, "?" for CPython without a
    version in a name, None when none. Raises OSError when the maps cannot be read."""
    fd = os.open(f"/proc/{pid}/maps", os.O_RDONLY | os.O_CLOEXEC)
    try:
        seen, tail = 0, b""
        while seen < _MAPS_CAP:
            chunk = os.read(fd, 256 << 10)
            if not chunk:
                return None
            seen += len(chunk)
            m = _MAPPED_PYTHON.search(tail + chunk)
            if m:
                major, minor = next((m.group(i), m.group(i + 1)) for i in (1, 3, 5) if m.group(i))
                return f"{int(major)}.{int(minor)}"
            tail = chunk[-200:]
        return None
    finally:
        os.close(fd)


def parse_syscall(text: bytes) -> Optional[tuple[int, tuple[int, ...]]]:
    """(number, arguments) of /proc/PID/task/TID/syscall; None when running or malformed."""
    parts = text.split()
    try:
        nr = int(parts[0])
        args = tuple(int(a, 16) for a in parts[1:7])
    except (IndexError, ValueError):
        return None
    return (nr, args) if nr >= 0 and len(args) == 6 else None


def wait_of(nr: int, args: tuple[int, ...], fd_target: str = "") -> str:
    """What a thread asleep in system call ``nr`` waits for (x86-64 numbers); ``fd_target``
    is the readlink of the fd a read waits on ("pipe:[12]", "socket:[34]", "/dev/pts/1")."""
    if nr == 202:  # futex: FUTEX_WAIT / WAIT_BITSET / LOCK_PI with a NULL timeout waits forever
        if (args[1] & 0x7F) not in (0, 6, 9, 13) or args[3] != 0:
            return WAIT_TIMED
        return WAIT_FUTEX if args[1] & 0x80 else WAIT_SHARED_FUTEX  # FUTEX_PRIVATE_FLAG: only its own process can wake it
    if nr in _READS:
        if fd_target.startswith("pipe:"):
            return WAIT_PIPE
        if fd_target.startswith("socket:"):
            return WAIT_SOCKET
        if fd_target.startswith(("/dev/pts/", "/dev/tty", "/dev/console")):
            return WAIT_TERMINAL
        return WAIT_OTHER
    if nr in (61, 247):  # wait4, waitid
        return WAIT_CHILD
    if nr in (43, 288):  # accept, accept4
        return WAIT_ACCEPT
    if nr in (35, 230):  # nanosleep, clock_nanosleep
        return WAIT_TIMED
    untimed = {
        7: args[2] & 0x80000000,  # poll: a negative timeout (ms)
        232: args[3] & 0x80000000,  # epoll_wait
        281: args[3] & 0x80000000,  # epoll_pwait
        23: args[4] == 0,  # select: no timeval
        270: args[4] == 0,  # pselect6
        271: args[2] == 0,  # ppoll: no timespec
        441: args[3] == 0,  # epoll_pwait2
    }
    if nr in untimed:
        return WAIT_POLL if untimed[nr] else WAIT_TIMED
    return WAIT_OTHER


def _thread_wait(pid: int, tid: int) -> str:
    if not _X86_64:
        return WAIT_UNKNOWN
    try:
        call = parse_syscall(_read(f"/proc/{pid}/task/{tid}/syscall", 512))
    except OSError:
        return WAIT_UNKNOWN
    if call is None:
        return WAIT_UNKNOWN
    nr, args = call
    target = ""
    if nr in _READS and args[0] < 1 << 20:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{args[0]}")
        except OSError:
            pass
    return wait_of(nr, args, target)


def _tasks(pid: int) -> dict[int, tuple[str, int, str]]:
    """Every thread's state letter, context switches and, when asleep, what it waits on."""
    sched = procs.read_sched(pid)
    return {tid: (state, switches, WAIT_UNKNOWN if state == "R" else _thread_wait(pid, tid)) for tid, (state, switches) in sched.items()}


class _Scan:
    """One census: the first pass over /proc, then the second read of the Python processes."""

    def __init__(self) -> None:
        self.boot = _boot_time()
        self.vanished = 0
        self.unchecked = 0

    def first(self, pid: int) -> Optional[ProcFacts]:
        """The process if it is Python, may be, or is a zombie (its parent decides later)."""
        try:
            raw = _read(f"/proc/{pid}/stat")
        except OSError:
            self.vanished += 1
            return None
        comm = raw[raw.find(b"(") + 1 : raw.rfind(b")")].decode("utf-8", "surrogateescape")
        fields = procs.parse_stat(raw)
        try:
            state, ppid, flags = fields[0].decode("ascii", "replace"), int(fields[1]), int(fields[6])
            cpu = (int(fields[11]) + int(fields[12])) / _CLK_TCK
            created = self.boot + int(fields[19]) / _CLK_TCK
        except (IndexError, ValueError):
            self.unchecked += 1
            return None
        if flags & _PF_KTHREAD or pid == 2 or ppid == 2:
            return None
        facts = ProcFacts(pid=pid, ppid=ppid, create_time=created, comm=comm, state=state, cpu_seconds=cpu)
        if state in ("Z", "X"):
            return replace(facts, exit_code=procs.read_exit_code(pid))
        try:
            exe = os.readlink(f"/proc/{pid}/exe").removesuffix(" (deleted)")
        except FileNotFoundError:
            self.vanished += 1
            return None
        except OSError as exc:
            return self._unreadable(facts, "the executable", exc)
        python, source = procs.version_from_path(exe.rpartition("/")[2]), "exe"
        if python is None or "." not in python:
            try:
                mapped = _maps_python(pid)
            except FileNotFoundError:
                self.vanished += 1
                return None
            except OSError as exc:
                if python is None:
                    return self._unreadable(facts, "the memory map", exc)
                mapped = None  # named python3: Python, its minor version unknown
            if mapped is not None:
                python, source = mapped, (source if python else "maps")
        if python is None:
            return None
        return replace(facts, exe=exe, python=python, python_from=source, cmdline=_cmdline(pid))

    def _unreadable(self, facts: ProcFacts, what: str, exc: OSError) -> Optional[ProcFacts]:
        """A process it may not read: listed when its name or command line says Python, counted otherwise."""
        cmdline = _cmdline(facts.pid)
        if "python" not in facts.comm.lower() and not any("python" in word.lower() for word in cmdline[:2]):
            self.unchecked += 1
            return None
        why = exc.strerror or type(exc).__name__
        code = "permission" if isinstance(exc, PermissionError) else "unreadable"
        hint = " (run pooltui as root, or as its user)" if code == "permission" else ""
        return replace(facts, cmdline=cmdline, error=code, error_message=f"cannot read {what} of process {facts.pid}: {why}{hint}")

    def second(self, facts: ProcFacts, before: dict[int, tuple[str, int, str]]) -> ProcFacts:
        """The second read: CPU gained, every thread's state then, and what each asleep thread waits on."""
        pid = facts.pid
        fields = procs.stat_fields(pid)
        times = procs.task_times(fields) if fields else None
        after = _tasks(pid)
        if times is None or not after:
            return replace(facts, error="gone", error_message=f"process {pid} exited while it was read")
        tasks = []
        for tid, (state, switches, wait) in sorted(after.items()):
            first_state, first_switches, first_wait = before.get(tid, ("R", -1, WAIT_UNKNOWN))  # a thread new in the window ran
            tasks.append(TaskFacts(tid, first_state, state, first_switches, switches, wait, first_wait))
        listening = unix_listeners(pid) if any(WAIT_ACCEPT in (t.wait, t.wait_before) for t in tasks) else ()
        cpu = times[1]
        return replace(facts, state=times[0], cpu_gained=max(0.0, cpu - facts.cpu_seconds), cpu_seconds=cpu, tasks=tuple(tasks), listening=listening)


def parse_unix_listeners(table: bytes) -> dict[int, str]:
    """inode -> path of the listening Unix sockets in the text of /proc/PID/net/unix."""
    out = {}
    for line in table.splitlines()[1:]:
        fields = line.split(None, 7)
        try:
            if len(fields) == 8 and int(fields[3], 16) & 0x10000:  # __SO_ACCEPTCON: listening
                out[int(fields[6])] = fields[7].decode("utf-8", "surrogateescape")
        except ValueError:
            continue
    return out


def unix_listeners(pid: int) -> tuple[str, ...]:
    """The paths of the Unix sockets ``pid`` listens on (a multiprocessing Manager's
    /tmp/pymp-*/listener-*), read only for a process with a thread in accept()."""
    try:
        table = parse_unix_listeners(_read(f"/proc/{pid}/net/unix", 4 << 20))
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return ()
    found = []
    for fd in fds[:4096]:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:[") and target.endswith("]"):
            path = table.get(int(target[8:-1]) if target[8:-1].isdigit() else -1)
            if path:
                found.append(path)
    return tuple(found)


def _cmdline(pid: int) -> tuple[str, ...]:
    try:
        raw = _read(f"/proc/{pid}/cmdline", _CMDLINE_CAP)
    except OSError:
        return ()
    return tuple(arg.decode("utf-8", "surrogateescape") for arg in raw.rstrip(b"\0").split(b"\0")) if raw else ()


def hidden_note(mounts: bytes, euid: int) -> str:
    """What /proc hides from this user (hidepid=2 / invisible: other users' processes are not
    even listed, so they cannot be counted), from the text of /proc/self/mounts; "" if nothing."""
    if euid == 0:
        return ""
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[1] == b"/proc" and fields[2] == b"proc":
            options = dict(o.partition(b"=")[::2] for o in fields[3].split(b","))
            if options.get(b"hidepid") in (b"2", b"invisible"):
                return "/proc is mounted with hidepid: other users' processes are invisible here, not even counted (run as root to see them)"
    return ""


def _joins(parent: Optional[ProcFacts], child: ProcFacts) -> bool:
    """Whether ``child`` belongs to its parent's tree: both Python, or both refused (a pool of
    another user is one row, not one per worker: their executables unknown, "" on both sides,
    the command lines decide), and the same program (``procs.same_program``, find_root's rule)."""
    if parent is None or parent.state in ("Z", "X") or child.state in ("Z", "X"):
        return False
    if (parent.error == "permission") != (child.error == "permission"):
        return False
    return procs.same_program(parent.exe, parent.cmdline, child.exe, child.cmdline)


def take_census(window: float = WINDOW) -> Census:
    """Every Python process on the box, with two reads ``window`` seconds apart."""
    scan = _Scan()
    taken = time.time()
    found: dict[int, ProcFacts] = {}
    me = str(os.getpid())  # pooltui itself is not a tree to look at
    for name in os.listdir("/proc"):
        if name.isdigit() and name != me:
            facts = scan.first(int(name))
            if facts is not None:
                found[facts.pid] = facts
    python = {pid for pid, f in found.items() if f.python is not None}
    # a zombie counts when its parent is Python (a dead worker not reaped); another's is not ours to list
    kept = {pid: f for pid, f in found.items() if pid in python or f.error or (f.state in ("Z", "X") and f.ppid in python)}
    opened = time.monotonic()  # the window: from the first read of the threads to the second
    before = {pid: _tasks(pid) for pid in python}
    time.sleep(max(0.0, opened + window - time.monotonic()))
    measured = time.monotonic() - opened
    for pid in python:
        kept[pid] = scan.second(kept[pid], before[pid])
    for pid, f in list(kept.items()):
        if _joins(kept.get(f.ppid), f):
            kept[pid] = replace(f, joins_parent=True)
    try:
        hidden = hidden_note(_read("/proc/self/mounts", 1 << 20), os.geteuid())
    except OSError:
        hidden = ""
    return Census(
        notes=(hidden,) if hidden else (),
        schema=CENSUS_SCHEMA,
        taken=taken,
        host=socket.gethostname(),
        window=round(measured, 4),
        cpus=procs.cpu_count(),
        processes=tuple(kept[pid] for pid in sorted(kept)),
        vanished=scan.vanished,
        unchecked=scan.unchecked,
    )

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
from typing import Optional

from pooltui.capture import procfs, procs
from pooltui.capture.errors import CaptureError, PermissionDenied, ProcessGone
from pooltui.capture.procfs import formats
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
from pooltui.model.record import replace

WINDOW = 0.25  # seconds between the two reads: long enough to see a busy thread run, short enough for ps
# libpython3.11.so, python3.11/lib-dynload, _socket.cpython-311-x86_64-linux-gnu.so, python27.zip
_MAPPED_PYTHON = re.compile(rb"libpython(\d)\.(\d+)|/python(\d)\.(\d+)/|\.cpython-(\d)(\d+)[-.]")

# x86-64 system call numbers (the project's platform) -> what a thread asleep in it waits for
_READS = {0, 17, 19, 45, 47, 295}  # read, pread64, readv, recvfrom, recvmsg, preadv
_X86_64 = platform.machine() == "x86_64"


def _maps_python(pid: int) -> Optional[str]:
    """ "3.11" when the mappings hold a libpython or CPython module, "?" for CPython without a
    version in a name, None when none. Raises CaptureError when the maps cannot be read."""
    m = _MAPPED_PYTHON.search(procfs.maps_text(pid, procfs.MAPS_SCAN_BYTES))
    if m is None:
        return None
    major, minor = next((m.group(i), m.group(i + 1)) for i in (1, 3, 5) if m.group(i))
    return f"{int(major)}.{int(minor)}"


def parse_syscall(text: bytes) -> Optional[tuple[int, tuple[int, ...]]]:
    """(number, arguments) of a thread's syscall text; None when running or malformed."""
    call = procfs.parse_syscall(0, text.decode("ascii", "replace"))
    if call is None or call.nr is None or call.nr < 0 or len(call.args) != 6:
        return None
    return call.nr, call.args


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
    call = procfs.syscall_or_none(pid, tid)
    if call is None or call.nr is None or call.nr < 0 or len(call.args) != 6:
        return WAIT_UNKNOWN
    nr, args = call.nr, call.args
    target = ""
    if nr in _READS and args[0] < 1 << 20:
        try:
            target = procfs.fd_target(pid, args[0])
        except CaptureError:
            pass
    return wait_of(nr, args, target)


def _tasks(pid: int) -> dict[int, tuple[str, int, str]]:
    """Every thread's state letter, context switches and, when asleep, what it waits on."""
    sched = procs.read_sched(pid)
    return {tid: (state, switches, WAIT_UNKNOWN if state == "R" else _thread_wait(pid, tid)) for tid, (state, switches) in sched.items()}


class _Scan:
    """One census: the first pass over /proc, then the second read of the Python processes."""

    def __init__(self) -> None:
        self.boot = procfs.boot_time()
        self.vanished = 0
        self.unchecked = 0

    def first(self, pid: int) -> Optional[ProcFacts]:
        """The process if it is Python, may be, or is a zombie (its parent decides later)."""
        try:
            raw = procfs.stat(pid)
        except CaptureError:
            self.vanished += 1
            return None
        comm = procfs.stat_comm(raw)
        fields = procfs.parse_stat(raw)
        try:
            state, ppid, flags = fields[formats.STATE].decode("ascii", "replace"), int(fields[formats.PPID]), int(fields[formats.FLAGS])
            cpu = (int(fields[formats.UTIME]) + int(fields[formats.STIME])) / formats.CLK_TCK
            created = self.boot + int(fields[formats.STARTTIME]) / formats.CLK_TCK
        except (IndexError, ValueError):
            self.unchecked += 1
            return None
        if flags & formats.PF_KTHREAD or pid == 2 or ppid == 2:
            return None
        facts = ProcFacts(pid=pid, ppid=ppid, create_time=created, comm=comm, state=state, cpu_seconds=cpu)
        if state in ("Z", "X"):
            return replace(facts, exit_code=procs.read_exit_code(pid))
        try:
            exe = procfs.exe(pid).removesuffix(" (deleted)")
        except ProcessGone:
            self.vanished += 1
            return None
        except CaptureError as exc:
            return self._unreadable(facts, "the executable", exc)
        python, source = procs.version_from_path(exe.rpartition("/")[2]), "exe"
        if python is None or "." not in python:
            try:
                mapped = _maps_python(pid)
            except ProcessGone:
                self.vanished += 1
                return None
            except CaptureError as exc:
                if python is None:
                    return self._unreadable(facts, "the memory map", exc)
                mapped = None  # named python3: Python, its minor version unknown
            if mapped is not None:
                python, source = mapped, (source if python else "maps")
        if python is None:
            return None
        return replace(facts, exe=exe, python=python, python_from=source, cmdline=_cmdline(pid))

    def _unreadable(self, facts: ProcFacts, what: str, exc: CaptureError) -> Optional[ProcFacts]:
        """A process it may not read: listed when its name or command line says Python, counted otherwise."""
        cmdline = _cmdline(facts.pid)
        if "python" not in facts.comm.lower() and not any("python" in word.lower() for word in cmdline[:2]):
            self.unchecked += 1
            return None
        why = exc.strerror or exc.message
        code = "permission" if isinstance(exc, PermissionDenied) else "unreadable"
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


def unix_listeners(pid: int) -> tuple[str, ...]:
    """The paths of the Unix sockets ``pid`` listens on (a multiprocessing Manager's
    /tmp/pymp-*/listener-*), read only for a process with a thread in accept()."""
    try:
        table = procfs.unix_listeners(pid)
        fds = procfs.fds(pid)
    except CaptureError:
        return ()
    found = []
    for fd in fds:
        path = table.get(procfs.fd_inode(pid, fd, "socket") or -1)
        if path:
            found.append(path)
    return tuple(found)


def _cmdline(pid: int) -> tuple[str, ...]:
    try:
        return procfs.cmdline(pid)
    except CaptureError:
        return ()


def hidden_note(mounts: bytes, euid: int) -> str:
    """What /proc hides from this user (hidepid=2 / invisible: other users' processes are not
    even listed, so they cannot be counted), from the text of the mounts; "" if nothing."""
    if euid == 0:
        return ""
    options = procfs.proc_mount_options(mounts) or {}
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
    for name in procfs.pids():
        if name != me:
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
        hidden = hidden_note(procfs.mounts(), os.geteuid())
    except CaptureError:
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

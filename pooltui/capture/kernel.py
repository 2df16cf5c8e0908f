"""Kernel facts about waits that Python frames cannot give: which system call a blocked
thread sits in, whether it has a timeout (a timed wait ends by itself, so it is never
"stuck"), the file descriptor of a blocked read/write, who traces a process (TracerPid)
and the pipe ends each process holds (to find who is at the other end of a pipe).

Only /proc files of the target are read (``capture.procfs``: never a path the target
names), each bounded.
System call numbers and argument positions are x86_64's (as in capture.memory); on
other machines ``syscall``/``timed`` stay unknown.
"""

from __future__ import annotations

import os
import platform
from typing import Optional

from pooltui.capture import procfs
from pooltui.capture.errors import CaptureError
from pooltui.model import PipeEnd

_X86_64 = platform.machine() == "x86_64"
MAX_FDS = procfs.MAX_FDS  # file descriptors looked at per process, at most

# nr -> (name, index of the fd argument or None, how to tell a timeout from the args)
_NO_TIMEOUT = 0xFFFFFFFFFFFFFFFF  # -1 as /proc prints a negative int argument (poll/epoll: wait forever)
_CALLS: dict[int, tuple[str, Optional[int]]] = {
    0: ("read", 0),
    1: ("write", 0),
    2: ("open", None),  # blocks on a FIFO until a process opens its other end (or on a slow file system)
    7: ("poll", None),
    17: ("pread64", 0),
    19: ("readv", 0),
    20: ("writev", 0),
    23: ("select", None),
    34: ("pause", None),  # waits for any signal (signal.pause())
    35: ("nanosleep", None),
    42: ("connect", 0),
    43: ("accept", 0),
    44: ("sendto", 0),
    45: ("recvfrom", 0),
    46: ("sendmsg", 0),
    47: ("recvmsg", 0),
    61: ("wait4", None),  # wait4(pid, ...): the pid is read by describe
    72: ("fcntl", 0),  # only its waits for a record lock (describe: F_SETLKW, F_OFD_SETLKW)
    73: ("flock", 0),
    128: ("rt_sigtimedwait", None),  # signal.sigwait/sigwaitinfo (no timeout), sigtimedwait
    130: ("rt_sigsuspend", None),  # waits for a signal with a mask (sigsuspend)
    202: ("futex", None),
    219: ("restart_syscall", None),  # an interrupted wait resumed (describe: what it tells)
    230: ("clock_nanosleep", None),
    232: ("epoll_wait", None),
    247: ("waitid", None),
    257: ("openat", None),
    270: ("pselect6", None),
    271: ("ppoll", None),
    281: ("epoll_pwait", None),
    288: ("accept4", 0),
}


_LOCK_WAITS = (7, 38)  # fcntl's F_SETLKW and F_OFD_SETLKW: wait for a record lock


def describe(nr: Optional[int], args: tuple[int, ...]) -> tuple[Optional[str], Optional[bool], Optional[int], Optional[int]]:
    """(system call name, has a timeout, fd, child pid) of one /proc/PID/task/TID/syscall
    reading: the fd of a blocked read/write/recv/send, the pid a wait4()/waitid() waits for
    (> 0; 0: any of its children -- os.wait(), a process group, a pidfd)."""
    if not _X86_64 or nr is None or nr < 0 or nr not in _CALLS:
        return None, None, None, None
    name, fd_arg = _CALLS[nr]
    if name == "fcntl" and (len(args) < 2 or args[1] not in _LOCK_WAITS):
        return None, None, None, None  # another fcntl() does not block: the thread was caught between two calls
    fd = args[fd_arg] if fd_arg is not None and len(args) > fd_arg else None
    return name, _timed(name, args), fd, _child(name, args)


_P_PID = 1  # waitid's idtype for one pid (P_ALL 0, P_PGID 2, P_PIDFD 3: some child)


def _child(name: str, args: tuple[int, ...]) -> Optional[int]:
    """The pid a blocked wait for a child waits for, 0 for any of its children (which one
    exits first is not known: wait4(-1), a process group, waitid(P_ALL / P_PGID / P_PIDFD)),
    None for another call."""
    if name == "wait4" and args:
        pid = args[0] & 0xFFFFFFFF  # a pid_t: -1 reads 0xffffffff
        return pid if 0 < pid < 1 << 22 else 0
    if name == "waitid" and len(args) > 1:
        return args[1] if args[0] == _P_PID and 0 < args[1] < 1 << 22 else 0
    return None


def _timed(name: str, args: tuple[int, ...]) -> Optional[bool]:
    def arg(i: int) -> Optional[int]:
        return args[i] if len(args) > i else None

    if name in ("nanosleep", "clock_nanosleep"):
        return True
    if name == "futex":  # futex(uaddr, op, val, timeout*, ...): sem_clockwait/sem_timedwait pass a timeout
        return None if arg(3) is None else arg(3) != 0
    if name == "poll":  # poll(fds, n, timeout_ms): -1 = forever
        return None if (ms := arg(2)) is None else (ms & 0xFFFFFFFF) != 0xFFFFFFFF
    if name in ("epoll_wait", "epoll_pwait"):
        return None if (ms := arg(3)) is None else (ms & 0xFFFFFFFF) != 0xFFFFFFFF
    if name in ("select", "pselect6"):  # the timeout pointer, NULL = forever
        return None if arg(4) is None else arg(4) != 0
    if name in ("ppoll", "rt_sigtimedwait"):  # ppoll(fds, n, timeout*, ...), rt_sigtimedwait(set, info, timeout*, size): NULL = forever
        return None if arg(2) is None else arg(2) != 0
    if name == "restart_syscall":
        # the kernel resumes through restart_syscall only a call interrupted (a ptrace stop:
        # py-spy's pause) that keeps a deadline: a sleep, a futex wait with a timeout (an
        # untimed one is re-run as futex) -- or a poll(), whose -1 timeout the registers
        # still hold (the interrupted call's arguments): forever, or not known
        return None if (ms := arg(2)) is None or (ms & 0xFFFFFFFF) == 0xFFFFFFFF else True
    if name in ("wait4", "waitid"):
        return False  # a blocking wait for a child (WNOHANG returns at once, never blocks)
    return False  # read/write/recv/send/accept: no timeout of their own (a socket timeout is a poll first)


def caught_signals(pid: int) -> Optional[int]:
    """SigCgt of the process's status: the mask of signals it has a handler for (bit
    N-1 = signal N), None when unreadable."""
    status = procfs.status_or_none(pid)
    return status.caught_signals if status is not None else None


def tracer_and_signals(pid: int) -> tuple[Optional[int], Optional[int]]:
    """``tracer_pid`` and ``caught_signals`` from one read of the process's status."""
    status = procfs.status_or_none(pid)
    return (status.tracer_pid, status.caught_signals) if status is not None else (None, None)


def tracer_pid(pid: int) -> Optional[int]:
    """TracerPid of the process's status: the pid of a debugger/strace holding it, 0 when none."""
    status = procfs.status_or_none(pid)
    return status.tracer_pid if status is not None else None


def pipe_ends(pid: int) -> tuple[PipeEnd, ...]:
    """The pipe ends ``pid`` holds: fd, inode (shared by both ends) and which end."""
    out = []
    try:
        names = procfs.fds(pid)
    except CaptureError:
        return ()
    for name in names:
        inode = procfs.fd_inode(pid, name, "pipe")
        if inode is None:
            continue
        try:
            flags = procfs.fdinfo(pid, name).flags
        except CaptureError:
            continue
        out.append(PipeEnd(fd=int(name), inode=inode, writes=flags & 0o3 == os.O_WRONLY))
    return tuple(sorted(out, key=lambda e: e.fd))

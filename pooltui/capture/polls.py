"""Which fds a thread blocked in ``select``/``poll``/``epoll_wait`` watches: its fd set, read
from its memory at the addresses its system call's arguments give (/proc/PID/task/TID/syscall;
an epoll set from ``/proc/PID/fdinfo/EPFD``). A thread that waits on other fds is not about to
write to the one ``capture.ends`` asks about. A poller caught between two polls is read again
for a moment (``POLL_REREADS_SECONDS`` for a whole capture); a timed poll() resumed through
``restart_syscall`` is read from the registers it was resumed with.

Read-only, bounded in fds (``_MAX_POLLED``) and bytes; any failure gives None ("unknown")."""

from __future__ import annotations

import os
import time
from typing import Optional

from pooltui.capture import procfs
from pooltui.capture.errors import CaptureError
from pooltui.capture.procfs.formats import SYS_FUTEX_X86_64
from pooltui.model import POLL_CALLS, Process, Thread

_MAX_POLLED = 4096  # fds of one select/poll set, at most
_SELECT = {23: (0, 1, 2), 270: (0, 1, 2)}  # nr -> (nfds, readfds*, writefds*) argument positions
_POLL = {7: (0, 1), 271: (0, 1)}  # nr -> (struct pollfd*, nfds)
_EPOLL = {232, 281, 441}  # epoll_wait, epoll_pwait, epoll_pwait2: arg 0 is the epoll fd


def _read_mem(pid: int, addr: int, size: int) -> Optional[bytes]:
    if not addr or size <= 0:
        return b""
    try:
        fd = procfs.open_mem(pid)
    except CaptureError:
        return None
    try:
        data = os.pread(fd, size, addr)
    except (OSError, OverflowError, ValueError):
        return None
    finally:
        os.close(fd)
    return data if len(data) == size else None


def _fd_set(pid: int, addr: int, nfds: int) -> Optional[set[int]]:
    data = _read_mem(pid, addr, (nfds + 7) // 8)
    if data is None:
        return None
    return {i for i in range(nfds) if data[i // 8] >> (i % 8) & 1}


def polled(pid: int, nr: Optional[int], args: tuple[int, ...]) -> Optional[tuple[int, ...]]:
    """The fds a thread blocked in select/poll/epoll watches, from its system call's
    arguments (/proc/PID/task/TID/syscall); None when not such a call or not readable."""
    if nr in _SELECT and len(args) >= 3:
        nfds = args[0]
        if not 0 <= nfds <= _MAX_POLLED:
            return None
        found: set[int] = set()
        for arg in _SELECT[nr][1:]:
            part = _fd_set(pid, args[arg], nfds) if args[arg] else set()
            if part is None:
                return None
            found |= part
        return tuple(sorted(found))
    if nr in _POLL and len(args) >= 2:
        addr, n = args[0], args[1]
        if not 0 <= n <= _MAX_POLLED:
            return None
        data = _read_mem(pid, addr, 8 * n)
        if data is None:
            return None
        fds = (int.from_bytes(data[8 * i : 8 * i + 4], "little", signed=True) for i in range(n))
        return tuple(sorted({fd for fd in fds if fd >= 0}))
    if nr in _EPOLL and args:
        try:
            return procfs.fdinfo(pid, int(args[0])).targets
        except CaptureError:
            return None
    return None


_RESTART = 219  # restart_syscall: the kernel resuming an interrupted call that keeps a deadline
_POLL_NR = 7  # the only poller resumed so: poll() with a timeout (select() and ppoll() are re-run as themselves, epoll_wait() returns EINTR)


def _at_poll(t: Thread) -> bool:
    """Its innermost Python frame calls a poll (``selector.poll(timeout)``, ``p.poll()``)."""
    f = next((f for f in t.frames if not f.native), None)
    return f is not None and "poll(" in (f.code or "")


def polls(p: Process, deadline: Optional[float] = None) -> dict[int, Optional[tuple[int, ...]]]:
    """tid -> the fds each blocked poller of ``p`` watches. A timed poll() that py-spy's pause
    interrupted is resumed through restart_syscall until its deadline (a server's
    ``serve_forever`` for its 0.5 s): the registers still hold poll()'s arguments -- read
    so where the thread's own frame says it polls (a futex wait is resumed the same way).
    ``deadline`` (monotonic): until when a poller caught running is read again (``_poll_set``)."""
    out = {}
    deadline = time.monotonic() + POLL_REREADS_SECONDS if deadline is None else deadline
    for t in p.threads:
        if t.ghost or not (t.syscall in POLL_CALLS or (t.syscall == "restart_syscall" and _at_poll(t))):
            continue
        out[t.tid] = _poll_set(p.pid, t, deadline)
    return out


POLL_REREADS_SECONDS = 0.3  # a capture's re-reads of pollers caught running, all of them
# between two polls: running (or waiting for a CPU), or taking the GIL back (a futex wait:
# the frame still at its poll() line can wait on nothing else)
_PASSING = (None, -1, SYS_FUTEX_X86_64)
POLL_REREAD_GAP = 0.01  # seconds between two


def _poll_set(pid: int, t: Thread, deadline: float) -> Optional[tuple[int, ...]]:
    """The fds ``t`` (seen in a poll by the capture) watches. A loop whose timeout ran out
    since (a server's ``serve_forever`` every 0.5 s) is between two polls for a moment -- on
    a loaded box a long one: unknown, its set made it a possible writer of every end of its
    process, and a deadlock through its process was lost (self_call, 1 CI run in 3). While it
    reads running (or in a futex wait: the GIL, taken back) it is read again, until
    ``deadline`` (shared by the capture's pollers: a busy pool's sixty-four cost what one
    does); in another call it is where it is."""
    while True:
        call = procfs.syscall_or_none(pid, t.tid)
        if call is None:
            return None  # gone, or not readable
        if call.nr == _RESTART and _at_poll(t):
            found = _resumed_poll(pid, call.args)
        else:
            found = polled(pid, call.nr, call.args)
        if found is not None or call.nr not in _PASSING or time.monotonic() >= deadline:
            return found
        time.sleep(POLL_REREAD_GAP)


def _resumed_poll(pid: int, args: tuple[int, ...]) -> Optional[tuple[int, ...]]:
    """poll()'s fd set from the registers of a restart_syscall -- kept only when every fd in
    it is one the process has open: a thread back from its poll() that waits for the GIL
    with a timeout is resumed the same way, its registers then a futex's arguments."""
    got = polled(pid, _POLL_NR, args)
    try:
        held = {int(name) for name in procfs.fds(pid) if name.isdigit()}
    except CaptureError:
        return None
    return got if got is not None and set(got) <= held else None

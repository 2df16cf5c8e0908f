"""Process exits as the kernel reports them, for the exits nobody else can see.

A pool parent reaps a dead worker within ~0.1 s (Pool's worker handler thread), so the
zombie whose wait status /proc shows (``procs.read_exit_code``) is rarely caught by a
sample, and once reaped the status is gone: only the parent's ``waitpid()`` had it. The
kernel's process-event connector (netlink ``NETLINK_CONNECTOR``/``CN_IDX_PROC``,
``CONFIG_PROC_EVENTS``; root or CAP_NET_ADMIN before Linux 6.6, any user since; the
initial pid namespace, as ``forkstat`` needs) multicasts every process's exit, with its wait status, as it happens.
Listening is read-only: nothing is sent to, or asked of, the target.

``watcher()`` is one listener per pooltui process, started on first use: it keeps the exits
of the whole machine (at most ``KEEP``; none older than a minute before the last time asked
about), each with its wall-clock time (the kernel's stamp of the event, not the time it
was read). The kernel queues the events on the socket (4 MiB with root's
``SO_RCVBUFFORCE``); ``since`` drains that queue first, so a command that asks at known
moments (``pooltui snapshot``, one sample or a few seconds apart) needs no thread:
``watcher(background=False)``. A long-lived one (the TUI, which may not ask for minutes)
has a daemon thread drain it as the exits come (``background=True``), lest the queue
overflow.
``ExitWatcher.since(t, pids)`` answers the exits since ``t`` of those pids or their
children. Where the connector cannot be used, ``reason`` says why and ``since`` answers
nothing: callers keep what /proc shows (a zombie's status, else "unknown").
"""

from __future__ import annotations

import errno
import select
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Collection
from typing import Optional

from pooltui.model import Exit

KEEP = 4096  # exits remembered at most (every process on the machine): a burst's worth
ASKED_SLACK = 60.0  # seconds of exits kept before the oldest time asked about (since)
_NETLINK_CONNECTOR = 11
_CN_IDX_PROC = 1
_CN_VAL_PROC = 1
_PROC_CN_MCAST_LISTEN = 1
_PROC_CN_MCAST_IGNORE = 2
_PROC_EVENT_EXIT = 0x80000000
_NLMSG = struct.Struct("=IHHII")  # nlmsghdr: len, type, flags, seq, pid
_CN_MSG = struct.Struct("=IIIIHH")  # cn_msg: id.idx, id.val, seq, ack, len, flags
_EVENT = struct.Struct("=IIQ")  # proc_event: what, cpu, timestamp_ns (CLOCK_MONOTONIC)
_EXIT = struct.Struct("=iiII")  # exit_proc_event: pid, tgid, exit_code (a wait status), exit_signal
_EXIT_PARENT = struct.Struct("=ii")  # parent_pid, parent_tgid: Linux >= 4.18
_NLMSG_DONE = 3


def _request(op: int) -> bytes:
    payload = struct.pack("=I", op)
    cn = _CN_MSG.pack(_CN_IDX_PROC, _CN_VAL_PROC, 0, 0, len(payload), 0) + payload
    return _NLMSG.pack(_NLMSG.size + len(cn), _NLMSG_DONE, 0, 0, 0) + cn


def parse(datagram: bytes, now_wall: float, now_mono_ns: int) -> list[Exit]:
    """The process exits in one netlink datagram (thread exits and other events skipped)."""
    out = []
    offset = 0
    while offset + _NLMSG.size <= len(datagram):
        length = _NLMSG.unpack_from(datagram, offset)[0]
        if length < _NLMSG.size or offset + length > len(datagram):
            break
        body = offset + _NLMSG.size + _CN_MSG.size
        data_len = _CN_MSG.unpack_from(datagram, offset + _NLMSG.size)[4] if body <= len(datagram) else 0
        if data_len >= _EVENT.size + _EXIT.size and body + data_len <= offset + length:
            what, _cpu, stamp = _EVENT.unpack_from(datagram, body)
            if what == _PROC_EVENT_EXIT:
                pid, tgid, status, _signal = _EXIT.unpack_from(datagram, body + _EVENT.size)
                ppid = None
                if data_len >= _EVENT.size + _EXIT.size + _EXIT_PARENT.size:
                    ppid = _EXIT_PARENT.unpack_from(datagram, body + _EVENT.size + _EXIT.size)[1]
                if pid == tgid:  # the process itself, not one of its threads
                    out.append(Exit(pid=pid, status=status, at=now_wall - (now_mono_ns - stamp) / 1e9, ppid=ppid))
        offset += (length + 3) & ~3
    return out


class ExitWatcher:
    """Listens to the kernel's process exits (see the module docstring)."""

    def __init__(self, background: bool = True) -> None:
        self.reason = ""  # why no exits can be known, in words ("" while it works or may)
        self.heard = False  # an exit (of any process) arrived: the connector does deliver here
        self.lost = False  # the socket overflowed once: some exits were dropped
        self._exits: deque[Exit] = deque(maxlen=KEEP)
        self._lock = threading.Lock()
        self._sock: Optional[socket.socket] = None
        self._thread: Optional[threading.Thread] = None
        try:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_CONNECTOR)
        except (OSError, AttributeError) as exc:  # not Linux, or netlink connector absent
            self.reason = f"the kernel's process-event connector is unavailable ({exc})"
            return
        try:
            sock.bind((0, _CN_IDX_PROC))  # 0: the kernel picks our port id
            try:
                sock.setsockopt(socket.SOL_SOCKET, 33, 4 << 20)  # SO_RCVBUFFORCE (root): bursts of forks/exits
            except OSError:
                pass
            sock.send(_request(_PROC_CN_MCAST_LISTEN))
        except OSError as exc:
            sock.close()
            self.reason = (
                f"cannot listen to the kernel's process exits ({'needs root or CAP_NET_ADMIN' if exc.errno in (errno.EPERM, errno.EACCES) else exc})"
            )
            return
        sock.setblocking(False)
        self._sock = sock
        if background:
            self.drain_in_background()

    def drain_in_background(self) -> None:
        """Start the thread that takes the exits off the socket as they come (once)."""
        if self._sock is not None and self._thread is None:
            self._thread = threading.Thread(target=self._listen, name="pooltui-exits", daemon=True)
            self._thread.start()

    @property
    def working(self) -> bool:
        return self._sock is not None

    def since(self, t: float, pids: Collection[int]) -> tuple[Exit, ...]:
        """Exits at or after wall time ``t`` of the processes ``pids`` or of their children."""
        if self._sock is None:
            return ()
        self._drain()  # an exit the listener thread has not taken yet: the kernel queued it already
        with self._lock:
            while self._exits and self._exits[0].at < t - ASKED_SLACK:  # nobody asks that far back again
                self._exits.popleft()
            return tuple(e for e in self._exits if e.at >= t and (e.pid in pids or e.ppid in pids))

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.send(_request(_PROC_CN_MCAST_IGNORE))
            except OSError:
                pass
            sock.close()

    def _listen(self) -> None:
        while self._sock is not None:
            try:
                select.select([self._sock], [], [], 1.0)
            except (OSError, ValueError):  # closed under us
                return
            self._drain()

    def _drain(self) -> None:
        with self._lock:
            sock = self._sock
            while sock is not None:
                try:
                    datagram = sock.recv(65536)
                except BlockingIOError:
                    return
                except OSError as exc:
                    if exc.errno == errno.ENOBUFS:  # overflowed: the kernel dropped some; go on
                        self.lost = True
                        continue
                    return
                found = parse(datagram, time.time(), time.monotonic_ns())
                if found:
                    self.heard = True
                    self._exits.extend(found)


_WATCHER: Optional[ExitWatcher] = None
_WATCHER_LOCK = threading.Lock()


def watcher(background: bool = True) -> ExitWatcher:
    """The process-wide listener, started on first use; ``background``: with its draining
    thread (started now if an earlier caller did without)."""
    global _WATCHER
    with _WATCHER_LOCK:
        if _WATCHER is None:
            _WATCHER = ExitWatcher(background)
        elif background:
            _WATCHER.drain_in_background()
        return _WATCHER

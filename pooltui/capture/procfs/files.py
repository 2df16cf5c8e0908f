"""The one place a ``/proc`` file is opened: bounded reads, one error translation.

Every read takes the ``/proc`` root of the active capture state (``CaptureState.proc_root``:
the system's unless a test points it at a recorded tree), a pid (or None for a file of the
system: ``sys/kernel/core_pattern``, ``stat``) and a name below it. An ``OSError`` becomes
the capture's own error, as psutil's ``wrap_exceptions`` does:

* the file gone (ENOENT) or the process gone (ESRCH) -> ``ProcessGone``;
* refused (EACCES, EPERM) -> ``PermissionDenied``;
* anything else -> ``CaptureError``.

Every read is bounded in bytes, every directory listing in entries: a hostile target makes
its own ``cmdline``, ``maps``, fd list and network tables as large as it likes.

Only files the kernel writes about a process are read here, never a path a target names:
``/proc/PID/exe`` and ``/proc/PID/root`` are kernel links (a file the target mapped, its
root directory), opened as such; a source file a target names is read by
``capture.safeopen``, with the target's own rights, under the root it gets from ``open_root``.
"""

from __future__ import annotations

import errno
import itertools
import os
from typing import Optional, Union

from pooltui.capture import state
from pooltui.capture.errors import CaptureError, PermissionDenied, ProcessGone
from pooltui.capture.procfs.formats import SYSTEM_ROOT

Pid = Union[int, str, None]  # a pid, "self", or None: a file of the system (/proc/stat)
_CHUNK = 64 << 10  # bytes asked of one read(2): a seq_file (maps) hands out a page or so per call
_GONE = (errno.ENOENT, errno.ESRCH)
_DENIED = (errno.EACCES, errno.EPERM)


def root() -> str:
    """The /proc this capture reads: the active state's (``capture.state``)."""
    return state.current().proc_root or SYSTEM_ROOT


def path(pid: Pid, name: str = "") -> str:
    """The path of ``name`` of process ``pid`` (``task/7/stat``) under the active root."""
    where = root() if pid is None else f"{root()}/{pid}"
    return f"{where}/{name}" if name else where


def translate(exc: OSError, pid: Pid, what: str) -> CaptureError:
    """The capture's error for an ``OSError`` met reading ``what`` of ``pid``."""
    subject = f"of process {pid}" if isinstance(pid, int) else f"({path(pid)})"
    error: CaptureError
    if exc.errno in _GONE and isinstance(pid, int):
        error = ProcessGone(f"process {pid} exited", pid=pid)  # no detail: the path adds nothing a user acts on
    elif exc.errno in _DENIED:
        error = PermissionDenied(f"cannot read {what} {subject}", pid=pid if isinstance(pid, int) else None, detail=str(exc))
    else:
        reason = exc.strerror or type(exc).__name__
        error = CaptureError(f"cannot read {what} {subject}: {reason}", pid=pid if isinstance(pid, int) else None, detail=str(exc))
    error.strerror = exc.strerror or type(exc).__name__
    return error


def _whole_lines(data: bytes, cap: int) -> bytes:
    """``data`` read up to ``cap`` bytes: a line cut by the bound is dropped (a maps line cut
    short would name another address range or path)."""
    return data[: data.rfind(b"\n") + 1] if len(data) >= cap else data


def read(pid: Pid, name: str, cap: int, what: str = "", *, lines: bool = False) -> bytes:
    """At most ``cap`` bytes of ``name`` of ``pid``; ``lines``: only whole lines of them."""
    try:
        fd = os.open(path(pid, name), os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise translate(exc, pid, what or name) from None
    try:
        parts = []
        left = cap
        while left > 0:
            chunk = os.read(fd, min(left, _CHUNK))
            if not chunk:
                break
            parts.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise translate(exc, pid, what or name) from None
    finally:
        os.close(fd)
    data = b"".join(parts)
    return _whole_lines(data, cap) if lines else data


def read_optional(pid: Pid, name: str, cap: int, *, lines: bool = False) -> Optional[bytes]:
    """``read``, or None when it cannot be read for any reason."""
    try:
        return read(pid, name, cap, lines=lines)
    except CaptureError:
        return None


def listdir(pid: Pid, name: str, limit: int, what: str = "") -> list[str]:
    """The first ``limit`` entries of directory ``name`` of ``pid``, in the kernel's order."""
    try:
        with os.scandir(path(pid, name)) as entries:
            return [entry.name for entry in itertools.islice(entries, limit)]
    except OSError as exc:
        raise translate(exc, pid, what or name) from None


def readlink(pid: Pid, name: str, what: str = "") -> str:
    """Where the kernel link ``name`` of ``pid`` points (``exe``, ``cwd``, ``fd/3``)."""
    try:
        return os.readlink(path(pid, name))
    except OSError as exc:
        raise translate(exc, pid, what or name) from None


def stat(pid: Pid, name: str, what: str = "") -> os.stat_result:
    try:
        return os.stat(path(pid, name))
    except OSError as exc:
        raise translate(exc, pid, what or name) from None


def exists(pid: Pid, name: str = "") -> bool:
    return os.path.exists(path(pid, name))


def open_fd(pid: int, name: str, flags: int, what: str = "") -> int:
    """A file descriptor on ``name`` of ``pid`` (``mem`` to pread, ``root`` as O_PATH); the
    caller closes it."""
    try:
        return os.open(path(pid, name), flags | os.O_CLOEXEC)
    except OSError as exc:
        raise translate(exc, pid, what or name) from None

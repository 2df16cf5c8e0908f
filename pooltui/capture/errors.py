"""Typed capture errors, each with a help text a user can act on.

A capture error never escapes as a crash: the capture layer turns it into a
``Process`` whose ``error`` field carries ``code``, ``message`` and ``help``.
"""

from __future__ import annotations

from pooltui.model.words import ErrorCode


class CaptureError(Exception):
    """Base class: something about a process could not be read."""

    code: str = ErrorCode.CAPTURE_ERROR
    help = "See `pooltui doctor PID` for what is needed to read this process."
    exit_code = 3
    strerror = ""  # the system's words for the OSError behind it ("Permission denied"), when one is

    def __init__(self, message: str, *, pid: int | None = None, detail: str = "", help: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.pid = pid
        self.detail = detail  # py-spy's own failure text, kept for the user
        if help is not None:
            self.help = help


class PermissionDenied(CaptureError):
    code = ErrorCode.PERMISSION_DENIED
    help = (
        "Reading another process's memory needs ptrace permission: run as root "
        "(sudo pooltui ...), or give the process CAP_SYS_PTRACE, or lower "
        "/proc/sys/kernel/yama/ptrace_scope to 0 (any process of the same user; at 1 only "
        "a process's own ancestors may attach, which a running service's are not). In a "
        "container, start it with --cap-add SYS_PTRACE."
    )
    # said instead when pooltui already runs as root ("run as root" would be no help)
    help_for_root = (
        "pooltui runs as root and still may not attach: Yama's ptrace_scope 3 forbids every "
        "attach (it can only be lowered by a reboot); in a container root lacks CAP_SYS_PTRACE "
        "(--cap-add SYS_PTRACE); or an LSM (SELinux, AppArmor) denies it. `pooltui doctor PID` "
        "says which."
    )

    def __init__(self, message: str, *, pid: int | None = None, detail: str = "", help: str | None = None) -> None:
        import os

        if help is None and hasattr(os, "geteuid") and os.geteuid() == 0:
            help = self.help_for_root
        super().__init__(message, pid=pid, detail=detail, help=help)


class NotPython(CaptureError):
    code = ErrorCode.NOT_PYTHON
    help = "This process is not running a CPython interpreter py-spy can read; it is shown for the tree only."


class ProcessGone(CaptureError):
    code = ErrorCode.PROCESS_GONE
    help = "The process exited while it was being read; the rest of the tree is still shown."


class DumpTimeout(CaptureError):
    code = ErrorCode.DUMP_TIMEOUT
    help = "py-spy did not answer in time. The process may be swapping or stopped; try again with a longer --timeout, or use --nonblocking."


class PySpyMissing(CaptureError):
    code = ErrorCode.PYSPY_MISSING
    help = "Install py-spy (pip install py-spy) or put it on PATH; pooltui needs it to read Python stacks."


class PySpyFailed(CaptureError):
    code = ErrorCode.PYSPY_FAILED
    help = "py-spy could not read this process; its own message is shown above."


class ThreadNotProcess(CaptureError):
    """A thread id given where a process id is wanted: /proc/TID exists for every thread."""

    code = ErrorCode.THREAD_NOT_PROCESS
    help = "Give the process id (the thread group leader): `pooltui attach` shows every thread of it."
    exit_code = 2


class Unsupported(CaptureError):
    """The target's interpreter/build/arch has no known memory layout: we say so, never guess."""

    code = ErrorCode.UNSUPPORTED
    help = "pooltui reads lock state for CPython 2.7 and 3.8-3.13 on Linux x86-64 (glibc). Stacks are still shown; lock owners are not."


ERRORS_BY_CODE = {
    cls.code: cls
    for cls in (CaptureError, PermissionDenied, NotPython, ProcessGone, DumpTimeout, PySpyMissing, PySpyFailed, ThreadNotProcess, Unsupported)
}

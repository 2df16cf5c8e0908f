"""The one data shape: frozen records (``record.Record``, msgspec Structs) for everything pooltui captures and concludes.

A ``Snapshot`` is the whole tree at one instant; a ``Timeline`` is snapshots plus
events. The package: ``tree`` (the captured tree: processes, threads, frames, waits,
locks, and the snapshot), ``verdicts`` (``Diagnosis``, its kinds, certainties and the
severity rules), ``codec`` (the versioned JSON form, ``pooltui.report/2``, used to save,
replay, diff and as test fixtures; ``upgrade`` reads an older version's), ``words`` (the
enums of the string fields). Everything is importable from ``pooltui.model``.

Fields mirror py-spy's JSON (thread_id/os_thread_id/frames) and psutil's process
fields. A process is identified by ``(pid, create_time)``, as psutil does, so a
reused pid is never mistaken for the process that had it before.
"""

from __future__ import annotations

from pooltui.model.codec import (
    LATEST_TIME,
    MAX_ID,
    MAX_REPORT_BYTES,
    SCHEMA,
    Report,
    ReportError,
    dumps,
    escape_surrogates,
    from_dict,
    loads,
    to_dict,
)
from pooltui.model.files import FD_CALLS, FILE_LOCK_CALLS, POLL_CALLS, WRITE_CALLS, FileLockWait, PipeEnd, SocketEnd
from pooltui.model.record import Record, field_names, replace
from pooltui.model.source import DEFAULT_TIMEOUT, CaptureOptions, CoreOpener, Failure, Progress, Source
from pooltui.model.tree import (
    HOW_INFERRED,
    HOW_OWNER,
    HOW_WITH,
    Event,
    EventKind,
    Exit,
    Frame,
    Local,
    Lock,
    LockHolder,
    ManagerClient,
    ManagerObject,
    ProcError,
    Process,
    Snapshot,
    Thread,
    Timeline,
    Wait,
    WaitKind,
    exit_text,
)
from pooltui.model.verdicts import (
    SEVERITY,
    Certainty,
    Diagnosis,
    Kind,
    Severity,
    pids_key,
    severity_of,
)
from pooltui.model.words import ErrorCode, LockKind, ProcessRole, ProcessStatus, SemLockKind, ThreadRole, Word

__all__ = [
    "DEFAULT_TIMEOUT",
    "FD_CALLS",
    "FILE_LOCK_CALLS",
    "HOW_INFERRED",
    "HOW_OWNER",
    "HOW_WITH",
    "LATEST_TIME",
    "MAX_ID",
    "MAX_REPORT_BYTES",
    "POLL_CALLS",
    "SCHEMA",
    "SEVERITY",
    "WRITE_CALLS",
    "CaptureOptions",
    "Certainty",
    "CoreOpener",
    "Diagnosis",
    "ErrorCode",
    "Event",
    "EventKind",
    "Exit",
    "Failure",
    "FileLockWait",
    "Frame",
    "Kind",
    "Local",
    "Lock",
    "LockHolder",
    "LockKind",
    "ManagerClient",
    "ManagerObject",
    "PipeEnd",
    "ProcError",
    "Process",
    "ProcessRole",
    "ProcessStatus",
    "Progress",
    "Record",
    "Report",
    "ReportError",
    "SemLockKind",
    "Severity",
    "Snapshot",
    "SocketEnd",
    "Source",
    "Thread",
    "ThreadRole",
    "Timeline",
    "Wait",
    "WaitKind",
    "Word",
    "dumps",
    "escape_surrogates",
    "exit_text",
    "field_names",
    "from_dict",
    "loads",
    "pids_key",
    "replace",
    "severity_of",
    "to_dict",
]

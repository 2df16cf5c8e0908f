"""The model's vocabulary: the words pooltui writes into, and compares, the model's string
fields -- a process's status and role, a thread's role, a lock's kind (and a SemLock's),
a capture error's code. Each is a (str, Enum) whose values are what every report has
saved, so a member compares equal to the saved text, prints as it and is written as it.

The fields stay ``str``: a report written by an older pooltui, or a word pooltui does not
act on (psutil's "waking", a role it does not name), loads and shows as it was read."""

from __future__ import annotations

from enum import Enum


class Word(str, Enum):
    """A (str, Enum) that prints as its value in f-strings and str(), as it compares and as
    JSON holds it (3.11+ print a (str, Enum) member as "Class.NAME"; 3.9 and 3.10 printed the value)."""

    def __str__(self) -> str:
        return str(self.value)


class ProcessStatus(Word):
    """The ``Process.status`` words pooltui acts on: psutil's ``STATUS_*`` (the kernel's state
    letter), "gone" (exited between the tree walk and its read) and "dead" (its exit seen in
    a later sample). A word pooltui does not act on (psutil's "waking", "parked", ...) is
    kept as read."""

    RUNNING = "running"
    SLEEPING = "sleeping"
    DISK_SLEEP = "disk-sleep"
    STOPPED = "stopped"
    TRACING_STOP = "tracing-stop"
    ZOMBIE = "zombie"
    DEAD = "dead"
    GONE = "gone"


class LockKind(Word):
    """``Lock.kind``: what kind of lock object was read (capture.waited names it from its
    CPython type)."""

    LOCK = "lock"  # _thread.lock (threading.Lock), 2.7's thread.lock
    RLOCK = "rlock"  # _thread.RLock, 2.7's pure-Python _RLock; an owner ident and a count
    SEMLOCK = "semlock"  # _multiprocessing.SemLock: a multiprocessing Lock, RLock or Semaphore
    SEMAPHORE = "semaphore"  # a threading.Semaphore's Condition (capture.semaphores): no owner is recorded


class SemLockKind(Word):
    """``Lock.semlock_kind``: the kind a ``_multiprocessing.SemLock`` was made as (its ``kind``
    field, 0 or 1, named as CPython's semaphore.c names them)."""

    RECURSIVE_MUTEX = "RECURSIVE_MUTEX"  # multiprocessing.RLock
    SEMAPHORE = "SEMAPHORE"  # multiprocessing.Lock, Semaphore, BoundedSemaphore


class ProcessRole(Word):
    """``Process.role``: what a process is in its tree (analysis.roles decides)."""

    OTHER = "other"  # not judged yet (a raw capture)
    POOL_PARENT = "pool parent"
    EXECUTOR_PARENT = "executor parent"
    PARENT = "parent"
    MAIN = "main"
    POOL_WORKER = "pool worker"
    EXECUTOR_WORKER = "executor worker"
    MANAGER = "manager server"
    RESOURCE_TRACKER = "resource tracker"
    FORKSERVER = "forkserver"
    MP_CHILD = "mp process"
    LOKY_WORKER = "loky worker"
    GUNICORN_ARBITER = "gunicorn arbiter"
    GUNICORN_WORKER = "gunicorn worker"
    CELERY_MAIN = "celery main"
    CELERY_WORKER = "celery pool worker"
    UWSGI_MASTER = "uwsgi master"
    UWSGI_WORKER = "uwsgi worker"
    OTHER_PYTHON = "python"
    NOT_PYTHON = "not python"
    UNREADABLE = "unreadable"
    GONE = "process gone"  # exited (a zombie not yet reaped, or gone between the tree walk and its dump)


class ThreadRole(Word):
    """``Thread.role``: what a thread is in its process (analysis.roles decides)."""

    THREAD = "thread"  # no more specific role
    MAIN = "main thread"
    FORK_GHOST = "fork ghost"  # a thread state copied at fork() with no OS thread (2.7)
    WORKER_HANDLER = "worker handler"
    TASK_HANDLER = "task handler"
    RESULT_HANDLER = "result handler"
    TIMEOUT_HANDLER = "timeout handler"
    QUEUE_FEEDER = "queue feeder"
    EXECUTOR_MANAGER = "executor manager"
    THREAD_POOL_WORKER = "thread pool worker"
    MANAGER_ACCEPTER = "manager accepter"
    MANAGER_HANDLER = "manager handler"
    GUNICORN_CONTROL = "gunicorn control server"
    GTHREAD_REQUEST = "gthread request thread"
    POOL_THREAD = "pool thread"
    CELERY_TIMER = "celery timer"
    UWSGI_CORE = "uwsgi core"


class ErrorCode(Word):
    """``ProcError.code`` and ``CaptureError.code``: why a process (or a core) could not be read."""

    CAPTURE_ERROR = "capture_error"
    PERMISSION_DENIED = "permission_denied"
    NOT_PYTHON = "not_python"
    PROCESS_GONE = "process_gone"
    DUMP_TIMEOUT = "dump_timeout"
    PYSPY_MISSING = "pyspy_missing"
    PYSPY_FAILED = "pyspy_failed"
    THREAD_NOT_PROCESS = "thread_not_process"
    UNSUPPORTED = "unsupported"
    BAD_CORE = "bad_core"
    CORE_NOT_FOUND = "core_not_found"

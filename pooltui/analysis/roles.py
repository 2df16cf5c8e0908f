"""Roles of processes and threads in a pool, from cmdline, tree shape, thread names and
the outermost ("bottom") frames of each stack.

Frames are matched by file suffix and unqualified function name, so 2.7 and 3.8-3.10
(``_handle_tasks``) read like 3.11+ (``Pool._handle_tasks``); thread names are only a
hint (2.7 threads have none in py-spy's output).

Pre-fork servers are recognised the same way (gunicorn, celery's billiard pool, joblib's
loky), and where no stack can be read, from their process titles (setproctitle:
``gunicorn: master [app]``, ``[celeryd: w@host:ForkPoolWorker-1]``, ``uWSGI worker 1``) or,
when master and workers share one command line, from the tree: the topmost is the master.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Optional, TypeVar

from pooltui.analysis.frames import find, matches
from pooltui.model import ErrorCode, Frame, Process, ProcessRole, ProcessStatus, Snapshot, Thread, ThreadRole
from pooltui.model.bounded import memoize
from pooltui.model.record import replace

# Process roles (model.ProcessRole; the names here are what the analysis has always called them)
POOL_PARENT = ProcessRole.POOL_PARENT
EXECUTOR_PARENT = ProcessRole.EXECUTOR_PARENT
PARENT = ProcessRole.PARENT
MAIN = ProcessRole.MAIN
POOL_WORKER = ProcessRole.POOL_WORKER
EXECUTOR_WORKER = ProcessRole.EXECUTOR_WORKER
MANAGER = ProcessRole.MANAGER
RESOURCE_TRACKER = ProcessRole.RESOURCE_TRACKER
FORKSERVER = ProcessRole.FORKSERVER
MP_CHILD = ProcessRole.MP_CHILD
LOKY_WORKER = ProcessRole.LOKY_WORKER
GUNICORN_ARBITER = ProcessRole.GUNICORN_ARBITER
GUNICORN_WORKER = ProcessRole.GUNICORN_WORKER
CELERY_MAIN = ProcessRole.CELERY_MAIN
CELERY_WORKER = ProcessRole.CELERY_WORKER
UWSGI_MASTER = ProcessRole.UWSGI_MASTER
UWSGI_WORKER = ProcessRole.UWSGI_WORKER
OTHER_PYTHON = ProcessRole.OTHER_PYTHON
NOT_PYTHON = ProcessRole.NOT_PYTHON
UNREADABLE = ProcessRole.UNREADABLE
GONE = ProcessRole.GONE

WORKER_ROLES = (POOL_WORKER, EXECUTOR_WORKER, LOKY_WORKER, GUNICORN_WORKER, CELERY_WORKER, UWSGI_WORKER)

# (file suffix, function names) -> process role, matched against the main thread's frames
_PROCESS_FRAMES: tuple[tuple[str, tuple[str, ...], ProcessRole], ...] = (
    ("multiprocessing/pool.py", ("worker",), POOL_WORKER),
    ("concurrent/futures/process.py", ("_process_worker",), EXECUTOR_WORKER),
    ("multiprocessing/managers.py", ("serve_forever", "_run_server"), MANAGER),
    ("multiprocessing/resource_tracker.py", ("main",), RESOURCE_TRACKER),
    ("multiprocessing/semaphore_tracker.py", ("main",), RESOURCE_TRACKER),
    ("multiprocessing/forkserver.py", ("main",), FORKSERVER),
    ("loky/process_executor.py", ("_process_worker",), LOKY_WORKER),
    ("loky/backend/resource_tracker.py", ("main",), RESOURCE_TRACKER),
    # a worker's stack starts with the arbiter's frames it was forked from: innermost wins
    ("gunicorn/workers/base.py", ("init_process",), GUNICORN_WORKER),
    ("gunicorn/arbiter.py", ("run", "start"), GUNICORN_ARBITER),
    ("billiard/pool.py", ("workloop",), CELERY_WORKER),
    ("celery/worker/worker.py", ("start",), CELERY_MAIN),
)

# cmdline fragments for processes whose stacks could not be read
_PROCESS_CMDLINE: tuple[tuple[str, ProcessRole], ...] = (
    ("resource_tracker", RESOURCE_TRACKER),
    ("semaphore_tracker", RESOURCE_TRACKER),
    ("forkserver import main", FORKSERVER),
    ("popen_loky_posix", LOKY_WORKER),
    ("gunicorn: master", GUNICORN_ARBITER),
    ("gunicorn: worker", GUNICORN_WORKER),
    (":MainProcess]", CELERY_MAIN),
    (":ForkPoolWorker-", CELERY_WORKER),
    ("uWSGI master", UWSGI_MASTER),
    ("uWSGI worker", UWSGI_WORKER),
)

# servers whose master and workers share one command line (no setproctitle): the program
# (argv[0], or the script / -m module after "python") -> (master role, worker role)
_SERVERS: dict[str, tuple[ProcessRole, ProcessRole]] = {
    "gunicorn": (GUNICORN_ARBITER, GUNICORN_WORKER),
    "uwsgi": (UWSGI_MASTER, UWSGI_WORKER),
    "celery": (CELERY_MAIN, CELERY_WORKER),  # only `celery ... worker`, not beat or flower
}

# Thread roles
MAIN_THREAD = ThreadRole.MAIN
_THREAD_FRAMES: tuple[tuple[str, tuple[str, ...], ThreadRole], ...] = (
    ("multiprocessing/pool.py", ("_handle_workers",), ThreadRole.WORKER_HANDLER),
    ("multiprocessing/pool.py", ("_handle_tasks",), ThreadRole.TASK_HANDLER),
    ("multiprocessing/pool.py", ("_handle_results",), ThreadRole.RESULT_HANDLER),
    ("multiprocessing/queues.py", ("_feed",), ThreadRole.QUEUE_FEEDER),
    ("concurrent/futures/process.py", ("_queue_management_worker", "run", "wait_result_broken_or_wakeup"), ThreadRole.EXECUTOR_MANAGER),
    ("concurrent/futures/thread.py", ("_worker",), ThreadRole.THREAD_POOL_WORKER),
    ("multiprocessing/managers.py", ("accepter",), ThreadRole.MANAGER_ACCEPTER),
    ("multiprocessing/managers.py", ("serve_client", "handle_request"), ThreadRole.MANAGER_HANDLER),
    ("loky/process_executor.py", ("_queue_management_worker", "run", "wait_result_broken_or_wakeup"), ThreadRole.EXECUTOR_MANAGER),
    ("loky/backend/queues.py", ("_feed",), ThreadRole.QUEUE_FEEDER),
    ("gunicorn/ctl/server.py", ("_run_loop",), ThreadRole.GUNICORN_CONTROL),
    # billiard's pool threads are unnamed ("Thread-3"): the class tells them apart on 3.11+
    ("billiard/pool.py", ("Supervisor.body",), ThreadRole.WORKER_HANDLER),
    ("billiard/pool.py", ("TaskHandler.body",), ThreadRole.TASK_HANDLER),
    ("billiard/pool.py", ("TimeoutHandler.body",), ThreadRole.TIMEOUT_HANDLER),
    ("billiard/pool.py", ("ResultHandler.body", "_process_result"), ThreadRole.RESULT_HANDLER),
    ("billiard/pool.py", ("body",), ThreadRole.POOL_THREAD),
    ("celery/utils/timer2.py", ("run",), ThreadRole.CELERY_TIMER),
)

# threads known by name only (no Python frame of their own)
_THREAD_NAMES: tuple[tuple[re.Pattern[str], ThreadRole], ...] = ((re.compile(r"^uWSGIWorker\d+Core\d+$"), ThreadRole.UWSGI_CORE),)

# a thread role that means something more specific in a process of this role
_THREAD_IN_PROCESS: dict[tuple[str, str], ThreadRole] = {
    (GUNICORN_WORKER, ThreadRole.THREAD_POOL_WORKER): ThreadRole.GTHREAD_REQUEST,
}


_Role = TypeVar("_Role", ProcessRole, ThreadRole)


def _match(frames: Sequence[Frame], table: tuple[tuple[str, tuple[str, ...], _Role], ...]) -> Optional[_Role]:
    """The role of the innermost matching frame: a fork child's outer frames are its
    parent's (a forkserver's child shows forkserver.main below _process_worker)."""
    for frame in frames:  # innermost first; at the same frame, the table's order decides
        if not frame.native:
            for suffix, functions, role in table:
                if matches(frame, suffix, *functions):
                    return role
    return None


@memoize(max_bytes=8 << 20)  # bounded in bytes: the frames come from the target
def _frames_role(frames: tuple[Frame, ...]) -> Optional[ThreadRole]:
    """``_match`` of a thread's frames (cached: fork siblings have the same stacks)."""
    return _match(frames, _THREAD_FRAMES)


def thread_role(thread: Thread, pid: int, process_role: str = "") -> ThreadRole:
    if thread.ghost:
        return ThreadRole.FORK_GHOST
    role = _frames_role(thread.frames)
    if role:
        return _THREAD_IN_PROCESS.get((process_role, role), role)
    # before the names: a uWSGI worker's main thread is its core 0, named uWSGIWorkerNCore0
    if thread.tid == pid or thread.name == "MainThread":
        return MAIN_THREAD
    for pattern, named in _THREAD_NAMES:
        if thread.name and pattern.match(thread.name):
            return named
    return ThreadRole.THREAD


def _main_frames(proc: Process) -> Sequence[Frame]:
    for t in proc.threads:
        if t.tid == proc.pid or t.name == "MainThread":
            return t.frames
    live = [t for t in proc.threads if not t.ghost]
    return live[0].frames if live else ()


def _own_role(proc: Process) -> Optional[ProcessRole]:
    """The role a process shows by itself (stack or cmdline), before tree shape."""
    role = _match(_main_frames(proc), _PROCESS_FRAMES)
    if role:
        return role
    cmd = " ".join(proc.cmdline)
    for fragment, cmd_role in _PROCESS_CMDLINE:
        if fragment in cmd:
            return cmd_role
    if any(find(t.frames, "multiprocessing/process.py", "_bootstrap") is not None for t in proc.threads):
        return MP_CHILD
    return None


def program_name(cmdline: Sequence[str]) -> str:
    """The program a command line runs: ``gunicorn`` for ``/venv/bin/gunicorn app:app``, ``python /venv/bin/gunicorn ...`` and
    ``python -m gunicorn ...``; "" when there is none."""
    words = list(cmdline) if len(cmdline) > 1 else " ".join(cmdline).split()
    if not words:
        return ""
    name = words[0].rpartition("/")[2]
    if not name.startswith("python"):
        return name
    rest = words[1:]
    for i, word in enumerate(rest):
        if word == "-m":
            return rest[i + 1].partition(".")[0] if i + 1 < len(rest) else ""
        if word in ("-c", "-"):
            return ""
        if not word.startswith("-") and rest[i - 1 : i] not in (["-W"], ["-X"]):  # -W/-X take a value
            return word.rpartition("/")[2]
    return ""


def _server_role(proc: Process, parent: Optional[Process]) -> Optional[ProcessRole]:
    """Master or worker of a pre-fork server, from the command line and the tree shape."""
    program = program_name(proc.cmdline)
    roles = _SERVERS.get(program)
    if roles is None or (program == "celery" and "worker" not in " ".join(proc.cmdline).split()):
        return None
    if parent is not None and program_name(parent.cmdline) == program:
        return roles[1]
    return roles[0]


def process_role(proc: Process, child_roles: Sequence[str], own: Optional[ProcessRole] = None) -> ProcessRole:
    own = own or _own_role(proc)
    if own == MP_CHILD and POOL_WORKER in child_roles:
        return POOL_PARENT  # a multiprocessing child that runs a Pool of its own (a job process): the pool is what it is
    if own:
        return own
    if proc.status in (ProcessStatus.ZOMBIE, ProcessStatus.GONE) or (proc.error is not None and proc.error.code == ErrorCode.PROCESS_GONE):
        return GONE  # a worker that retired normally is neither "not python" nor "unreadable"
    if proc.error is not None and proc.error.code == ErrorCode.NOT_PYTHON:
        return NOT_PYTHON
    if proc.python is None and proc.error is None and not proc.threads:
        return NOT_PYTHON
    if POOL_WORKER in child_roles:
        return POOL_PARENT
    if EXECUTOR_WORKER in child_roles or LOKY_WORKER in child_roles:
        return EXECUTOR_PARENT
    if proc.error is not None:
        return UNREADABLE
    if child_roles:
        return PARENT
    return OTHER_PYTHON


def assign_roles(snapshot: Snapshot, before: Optional[Snapshot] = None) -> Snapshot:
    """Every process and thread with its role; pool workers numbered per parent by start
    time. Given the sample ``before`` (analysed), a worker keeps its number and a new one
    (a replacement) takes the next unused, as Pool names its ForkPoolWorker-N."""
    by_pid = {p.pid: p for p in snapshot.processes}
    own = {p.pid: _own_role(p) for p in snapshot.processes}
    for p in snapshot.processes:
        own[p.pid] = own[p.pid] or _server_role(p, by_pid.get(p.ppid))
    below: dict[int, list[str]] = {}  # roles of all descendants (executor workers may be grandchildren via a forkserver)
    # a process running a Pool's worker handler owns the pool workers below it: its ancestors do not
    owners = {p.pid for p in snapshot.processes if any(find(t.frames, "multiprocessing/pool.py", "_handle_workers") is not None for t in p.threads)}
    for p in snapshot.processes:
        seen, parent = {p.pid}, p.ppid
        while parent in by_pid and parent not in seen:
            below.setdefault(parent, []).append(own[p.pid] or "")
            if own[p.pid] == POOL_WORKER and parent in owners:
                break
            seen.add(parent)
            parent = by_pid[parent].ppid
    roles = {p.pid: process_role(p, below.get(p.pid, []), own[p.pid]) for p in snapshot.processes}
    root = by_pid.get(snapshot.root_pid)
    if root is not None and roles[root.pid] == OTHER_PYTHON:
        roles[root.pid] = MAIN
    index: dict[int, Optional[int]] = {}
    siblings: dict[tuple[int, str], list[Process]] = {}
    for p in snapshot.processes:
        if roles[p.pid] in WORKER_ROLES:
            siblings.setdefault((p.ppid, roles[p.pid]), []).append(p)
    known = {p.key: p for p in before.processes if p.role_index is not None} if before is not None else {}
    for (ppid, role), group in siblings.items():
        kept = {p.pid: known[p.key].role_index for p in group if p.key in known and known[p.key].role == role}
        used = [q.role_index or 0 for q in known.values() if (q.ppid, q.role) == (ppid, role)]
        fresh = sorted((p for p in group if p.pid not in kept), key=lambda q: (q.create_time, q.pid))
        index.update(kept)
        index.update({p.pid: n for n, p in enumerate(fresh, start=max(used, default=0) + 1)})
    try:
        processes = tuple(
            replace(
                p,
                role=roles[p.pid],
                role_index=index.get(p.pid),
                threads=tuple(replace(t, role=thread_role(t, p.pid, roles[p.pid])) for t in p.threads),
            )
            for p in snapshot.processes
        )
    finally:
        _frames_role.cache_clear()  # what one snapshot's siblings share, not kept for good
    return snapshot.with_(processes=processes)

"""The process tree, read with psutil: one ``oneshot()`` per process, tolerant per process.

Identity is ``(pid, create_time)`` (psutil's own rule), so a pid reused between two
refreshes is a new process. A process that vanishes or refuses access while the tree
is walked becomes a ``ProcInfo`` with an error; the walk never fails because of one.
The capture's only psutil calls are here, each under the capture's /proc root
(``procfs.under_psutil_root``).
"""

from __future__ import annotations

import os
import re
from typing import Optional

import psutil

from pooltui.capture import procfs, state
from pooltui.capture.errors import CaptureError, NotPython, PermissionDenied, ProcessGone, ThreadNotProcess
from pooltui.capture.procfs import parse_stat, status_field, status_state, switches, task_times
from pooltui.capture.tasks import (
    Sched,
    any_running,
    comm_of,
    is_exiting,
    is_kernel_thread,
    ran_since,
    read_exit_code,
    read_sched,
    read_tasks,
    task_ids,
    task_state,
    thread_group_of,
)
from pooltui.model import ProcError, ProcessStatus
from pooltui.model.record import Record, field

# the kernel's view of threads moved to ``capture.tasks``, the parsers to ``capture.procfs``:
# still importable from here, where the rest of the capture has always found them
__all__ = [
    "Sched",
    "any_running",
    "comm_of",
    "is_exiting",
    "is_kernel_thread",
    "parse_stat",
    "ran_since",
    "read_exit_code",
    "read_sched",
    "read_tasks",
    "stat_fields",
    "status_field",
    "status_state",
    "switches",
    "task_ids",
    "task_state",
    "task_times",
    "thread_group_of",
]

_PY_EXE = re.compile(r"(?:^|/)(?:lib)?python(\d)\.?(\d+)?[a-z]*(?:\.so[.\d]*)?$")
stat_fields = procfs.stat_fields


class ProcInfo(Record, frozen=True):
    """What psutil says of one process at one instant."""

    pid: int
    ppid: int
    create_time: float
    name: str = ""
    exe: str = ""
    cmdline: tuple[str, ...] = ()
    status: str = ""
    cpu_time: Optional[float] = None
    runq_time: Optional[float] = None  # seconds its main thread waited runnable for a CPU (read when it runs)
    rss: Optional[int] = None
    num_threads: int = 0
    thread_cpu: dict[int, float] = field(default_factory=dict)  # tid -> user+system seconds
    sched: dict[int, Sched] = field(default_factory=dict)  # tid -> (state, context switches): did it run? (ran_since)
    blocked: dict[int, int] = field(default_factory=dict)  # tid -> voluntary context switches: how often it blocked
    python: Optional[str] = None
    error: Optional[ProcError] = None
    exit_code: Optional[int] = None  # a zombie's wait status, when the kernel shows it (read_exit_code)


def error_of(exc: CaptureError) -> ProcError:
    return ProcError(code=exc.code, message=exc.message, help=exc.help, detail=exc.detail)


def version_from_path(path: str) -> Optional[str]:
    m = _PY_EXE.search(path)
    if not m:
        return None
    return f"{m.group(1)}.{m.group(2)}" if m.group(2) else m.group(1)


def version_tuple(python: Optional[str]) -> Optional[tuple[int, int]]:
    """(major, minor) of a ``python_version`` string ("3.11"); None for none or "3" alone."""
    major, _, rest = (python or "").partition(".")
    try:
        return int(major), int(rest.partition(".")[0])
    except ValueError:
        return None


def python_version(pid: int, exe: str = "") -> Optional[str]:
    """major.minor of the CPython running in ``pid``, or None when it is not Python.

    The executable name (python3.11) says it for most installs; an interpreter linked to
    libpython (or renamed, e.g. uwsgi/gunicorn wrappers) shows it in its mappings.
    """
    version = version_from_path(exe) if exe else None
    if version and "." in version:
        return version
    try:
        mappings = procfs.maps(pid)
    except CaptureError:
        return version
    for m in mappings:
        if "python" in m.path:
            found = version_from_path(m.path)
            if found and "." in found:
                return found
    return version


@procfs.under_psutil_root
def read_proc(proc: psutil.Process) -> ProcInfo:
    """One process, in one oneshot(); errors become a ProcInfo with ``error`` set."""
    pid = proc.pid
    try:
        with proc.oneshot():
            create_time = proc.create_time()
            ppid = proc.ppid()
            name = proc.name()
            status = proc.status()
            try:
                exe = proc.exe()
            except (psutil.AccessDenied, psutil.ZombieProcess, FileNotFoundError):
                exe = ""
            try:
                cmdline = tuple(proc.cmdline())
            except psutil.ZombieProcess:
                cmdline = ()
            if status == psutil.STATUS_ZOMBIE:
                return ProcInfo(pid, ppid, create_time, name, exe, cmdline, status, exit_code=read_exit_code(pid))
            times = proc.cpu_times()
            rss = proc.memory_info().rss
        thread_cpu, sched, blocked = read_tasks(pid)
        # a process on a CPU or waiting for one: how long it waited (schedstat), for "they compete
        # for the CPUs" whatever else loads the box (analysis.timeline); not read of sleepers
        waited = procfs.run_delay_ns(pid) if status == psutil.STATUS_RUNNING else None
    except psutil.NoSuchProcess:
        return ProcInfo(pid, 0, 0.0, status=ProcessStatus.GONE, error=error_of(ProcessGone(f"process {pid} exited", pid=pid)))
    except psutil.AccessDenied:
        err = PermissionDenied(f"no permission to read process {pid}", pid=pid)
        try:
            ppid, create_time, name = proc.ppid(), proc.create_time(), proc.name()
        except psutil.Error:
            ppid, create_time, name = 0, 0.0, ""
        return ProcInfo(pid, ppid, create_time, name, error=error_of(err))
    return ProcInfo(
        pid=pid,
        ppid=ppid,
        create_time=create_time,
        name=name,
        exe=exe,
        cmdline=cmdline,
        status=status,
        cpu_time=times.user + times.system,
        runq_time=waited / 1e9 if waited is not None else None,
        rss=rss,
        num_threads=len(thread_cpu),
        thread_cpu=thread_cpu,
        sched=sched,
        blocked=blocked,
        python=_python_version(pid, create_time, exe),
    )


def _python_version(pid: int, create_time: float, exe: str) -> Optional[str]:
    """``python_version``, read at most once per process (identity): /proc/PID/maps is long.
    Kept in the capture's state (``capture.state``), least recently asked first out: a pool
    whose workers are replaced all day leaves the gone ones to be dropped, not the live."""
    versions = state.current().versions
    key = (pid, create_time)
    return versions.get_or_put(key, lambda: python_version(pid, exe))


def _is_mp_bootstrap(cmdline: tuple[str, ...]) -> bool:
    text = " ".join(cmdline)
    # loky (joblib's executor) starts its workers and resource tracker with
    # `-m joblib.externals.loky.backend.popen_loky_posix` / `-c from ...loky.backend.resource_tracker
    # import main`: match that, not any command line that mentions joblib (a job script would)
    return "multiprocessing" in text or "--multiprocessing-fork" in text or "loky.backend" in text


# process titles (setproctitle) a pre-fork server gives its master and its workers
_SERVER_TITLES = (
    re.compile(r"gunicorn: "),
    re.compile(r"\[celeryd: "),
    re.compile(r"(?:.* )?uWSGI (?:master|worker|http|mule|spooler)"),  # --procname-prefix(-spaced) goes first
)


def _same_server(parent: tuple[str, ...], child: tuple[str, ...]) -> bool:
    """Master and worker of one pre-fork server: titled differently ("gunicorn: master [app]",
    "gunicorn: worker [app]"), so their command lines never match."""
    p, c = " ".join(parent), " ".join(child)
    return any(title.match(p) and title.match(c) for title in _SERVER_TITLES)


def same_program(parent_exe: str, parent_cmdline: tuple[str, ...], exe: str, cmdline: tuple[str, ...]) -> bool:
    """Whether a child runs its parent's program, so both belong to one pool (``find_root``'s
    rule, and `pooltui ps`'s): the same executable and the same command line, a
    multiprocessing bootstrap, or both titled by one pre-fork server."""
    return parent_exe == exe and (parent_cmdline == cmdline or _is_mp_bootstrap(cmdline) or _same_server(parent_cmdline, cmdline))


@procfs.under_psutil_root
def find_root(pid: int) -> int:
    """The pool's root: walk up while the parent runs the same Python program.

    "Same program" means the same interpreter executable and either the same command
    line (fork children) or a child whose command line is a multiprocessing bootstrap
    (spawn/forkserver children, the resource tracker), or both titled by one pre-fork
    server (gunicorn, celery, uWSGI). Raises ProcessGone /
    PermissionDenied for the starting pid only.
    """
    if is_kernel_thread(pid):
        # the pid given is wrong for good: one line, no hint about "the rest of the tree"
        raise NotPython(f"pid {pid} is a kernel thread, not a Python process", pid=pid, help="")
    owner = thread_group_of(pid)
    if owner is not None and owner != pid:
        raise ThreadNotProcess(f"{pid} is a thread of process {owner}, not a process: use pid {owner}", pid=pid)
    try:
        proc = psutil.Process(pid)
        exe, cmdline = proc.exe(), tuple(proc.cmdline())
    except psutil.ZombieProcess:
        raise ProcessGone(f"process {pid} has exited (a zombie its parent has not reaped yet)", pid=pid, help="") from None
    except psutil.NoSuchProcess:
        raise ProcessGone(f"no process with pid {pid}", pid=pid, help="") from None
    except psutil.AccessDenied:
        raise PermissionDenied(f"no permission to read process {pid}", pid=pid) from None
    root = proc
    while True:
        try:
            parent = root.parent()
            if parent is None or parent.pid <= 1:
                return root.pid
            p_exe, p_cmd = parent.exe(), tuple(parent.cmdline())
        except (psutil.Error, OSError):
            return root.pid
        if not same_program(p_exe, p_cmd, exe, cmdline):
            return root.pid
        root, cmdline = parent, p_cmd


def child_pids(pid: int) -> Optional[list[int]]:
    """The pids whose parent is ``pid``, ascending, from the kernel's own lists
    (``/proc/PID/task/TID/children`` of each of its threads, Linux >= 3.5 with
    CONFIG_PROC_CHILDREN); None where the kernel has no such files."""
    try:
        tids = procfs.tids(pid)
    except CaptureError:
        return []  # gone: no children
    found: set[int] = set()
    for tid in tids:
        try:
            found.update(procfs.children(pid, tid))
        except ProcessGone:  # no such file: the thread exited meanwhile, or the kernel has none
            if not procfs.exists(pid, f"task/{tid}"):
                continue
            return None
        except CaptureError:
            continue
    return sorted(found)


@procfs.under_psutil_root
def descendants(root: psutil.Process) -> list[psutil.Process]:
    """``root.children(recursive=True)``, in the same order (depth first from the last
    child, as psutil walks), without reading the stat file of every process on the machine
    to build a parent map (psutil's way: ~6 ms with 430 processes here, far more on a
    busy server): each process of the tree lists its own children. A pid older than the
    root is a reused one, not a descendant (psutil's rule)."""
    created = root.create_time()
    out: list[psutil.Process] = []
    seen: set[int] = set()
    stack = [root.pid]
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        kids = child_pids(pid)
        if kids is None:
            return root.children(recursive=True)
        for kid in kids:
            try:
                child = psutil.Process(kid)
                if created <= child.create_time():
                    out.append(child)
                    stack.append(kid)
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                pass
    return out


@procfs.under_psutil_root
def walk_tree(root_pid: int) -> list[ProcInfo]:
    """The root and all its descendants, parents before children."""
    try:
        root = psutil.Process(root_pid)
    except psutil.NoSuchProcess:
        raise ProcessGone(f"no process with pid {root_pid}", pid=root_pid, help="") from None
    try:
        descendants_ = descendants(root)
    except psutil.NoSuchProcess:
        raise ProcessGone(f"process {root_pid} exited", pid=root_pid, help="") from None
    except psutil.AccessDenied:
        descendants_ = []
    infos = [read_proc(root)]
    infos.extend(read_proc(child) for child in descendants_)
    if infos[0].error and infos[0].error.code == ProcessGone.code:
        raise ProcessGone(f"process {root_pid} exited", pid=root_pid, help="")
    return infos


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@procfs.under_psutil_root
def is_alive(pid: int, create_time: float) -> bool:
    """The process ``(pid, create_time)`` exists and is no zombie (its pid not reused)."""
    try:
        proc = psutil.Process(pid)
        return proc.create_time() == create_time and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


@procfs.under_psutil_root
def create_time_of(pid: int) -> Optional[float]:
    """psutil's ``create_time`` of ``pid`` now; None when it is gone or may not be read."""
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None

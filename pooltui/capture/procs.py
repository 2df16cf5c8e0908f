"""The process tree, read with psutil: one ``oneshot()`` per process, tolerant per process.

Identity is ``(pid, create_time)`` (psutil's own rule), so a pid reused between two
refreshes is a new process. A process that vanishes or refuses access while the tree
is walked becomes a ``ProcInfo`` with an error; the walk never fails because of one.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Optional

import psutil

from pooltui.capture.errors import CaptureError, PermissionDenied, ProcessGone
from pooltui.model import ProcError

_PY_EXE = re.compile(r"(?:^|/)(?:lib)?python(\d)\.?(\d+)?[a-z]*(?:\.so[.\d]*)?$")


@dataclass(frozen=True)
class ProcInfo:
    """What psutil says of one process at one instant."""

    pid: int
    ppid: int
    create_time: float
    name: str = ""
    exe: str = ""
    cmdline: tuple[str, ...] = ()
    status: str = ""
    cpu_time: Optional[float] = None
    rss: Optional[int] = None
    num_threads: int = 0
    thread_cpu: dict[int, float] = field(default_factory=dict)  # tid -> user+system seconds
    python: Optional[str] = None
    error: Optional[ProcError] = None


def error_of(exc: CaptureError) -> ProcError:
    return ProcError(code=exc.code, message=exc.message, help=exc.help, detail=exc.detail)


def _version_from_path(path: str) -> Optional[str]:
    m = _PY_EXE.search(path)
    if not m:
        return None
    return f"{m.group(1)}.{m.group(2)}" if m.group(2) else m.group(1)


def python_version(pid: int, exe: str = "") -> Optional[str]:
    """major.minor of the CPython running in ``pid``, or None when it is not Python.

    The executable name (python3.11) says it for most installs; an interpreter linked to
    libpython (or renamed, e.g. uwsgi/gunicorn wrappers) shows it in its mappings.
    """
    version = _version_from_path(exe) if exe else None
    if version and "." in version:
        return version
    try:
        with open(f"/proc/{pid}/maps") as maps:
            for line in maps:
                path = line.rstrip("\n").rpartition(" ")[2]
                if "python" in path:
                    found = _version_from_path(path)
                    if found and "." in found:
                        return found
    except OSError:
        pass
    return version


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
                return ProcInfo(pid, ppid, create_time, name, exe, cmdline, status)
            times = proc.cpu_times()
            rss = proc.memory_info().rss
            threads = proc.threads()
            num_threads = len(threads)
    except psutil.NoSuchProcess:
        return ProcInfo(pid, 0, 0.0, status="gone", error=error_of(ProcessGone(f"process {pid} exited", pid=pid)))
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
        rss=rss,
        num_threads=num_threads,
        thread_cpu={t.id: t.user_time + t.system_time for t in threads},
        python=python_version(pid, exe),
    )


def _is_mp_bootstrap(cmdline: tuple[str, ...]) -> bool:
    text = " ".join(cmdline)
    return "multiprocessing" in text or "--multiprocessing-fork" in text or "joblib" in text or "loky" in text


def find_root(pid: int) -> int:
    """The pool's root: walk up while the parent runs the same Python program.

    "Same program" means the same interpreter executable and either the same command
    line (fork children) or a child whose command line is a multiprocessing bootstrap
    (spawn/forkserver children, the resource tracker). Raises ProcessGone /
    PermissionDenied for the starting pid only.
    """
    try:
        proc = psutil.Process(pid)
        exe, cmdline = proc.exe(), tuple(proc.cmdline())
    except psutil.NoSuchProcess:
        raise ProcessGone(f"no process with pid {pid}", pid=pid) from None
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
        if p_exe != exe or not (p_cmd == cmdline or _is_mp_bootstrap(cmdline)):
            return root.pid
        root, cmdline = parent, p_cmd


def walk_tree(root_pid: int) -> list[ProcInfo]:
    """The root and all its descendants, parents before children."""
    try:
        root = psutil.Process(root_pid)
    except psutil.NoSuchProcess:
        raise ProcessGone(f"no process with pid {root_pid}", pid=root_pid) from None
    try:
        descendants = root.children(recursive=True)
    except psutil.NoSuchProcess:
        raise ProcessGone(f"process {root_pid} exited", pid=root_pid) from None
    except psutil.AccessDenied:
        descendants = []
    infos = [read_proc(root)]
    infos.extend(read_proc(child) for child in descendants)
    if infos[0].error and infos[0].error.code == ProcessGone.code:
        raise ProcessGone(f"process {root_pid} exited", pid=root_pid)
    return infos


def is_kernel_thread(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            flags = int(f.read().rpartition(")")[2].split()[6])
    except (OSError, ValueError, IndexError):
        return False
    return bool(flags & 0x00200000)  # PF_KTHREAD


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


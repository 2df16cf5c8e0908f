"""The ``/proc`` files pooltui reads, one function each: its bound, its parser, its words
for what could not be read. Errors are ``files.translate``'s (``ProcessGone``,
``PermissionDenied``, ``CaptureError``)."""

from __future__ import annotations

import os
from typing import Optional

from pooltui.capture import state
from pooltui.capture.errors import CaptureError
from pooltui.capture.procfs import files, formats, tables
from pooltui.capture.procfs.files import Pid

STAT_BYTES = 64 << 10
STATUS_BYTES = 64 << 10  # Groups alone may list 65536 gids; the lines read here come before or after
SYSCALL_BYTES = 512
SCHEDSTAT_BYTES = 128  # three decimal numbers
MAPS_BYTES = 32 << 20  # 65530 mappings (vm.max_map_count) with ~500-byte paths
MAPS_SCAN_BYTES = 8 << 20  # a search through them (``pooltui ps``): a JVM's maps, not a Python's, go past it
CMDLINE_BYTES = 32 << 10
COMM_BYTES = 64
FDINFO_BYTES = 1 << 20  # an epoll set's fdinfo has a line per watched fd
NET_TCP_BYTES = 8 << 20
NET_UNIX_BYTES = 4 << 20
VMSTAT_BYTES = 64 << 10  # ~180 lines of counters
CHILDREN_BYTES = 1 << 20
SYSTEM_BYTES = 1 << 20  # the system's stat and mounts
SETTING_BYTES = 4096  # sys/kernel/* settings (core_pattern: 128 bytes at most)
CGROUP_BYTES = 64 << 10
EXE_HEAD_BYTES = 64  # an ELF header
LOCKS_BYTES = 4 << 20  # the box's file locks: ~60 bytes each
MAX_FDS = 4096  # file descriptors looked at per process, at most
MAX_TASKS = 1 << 16  # threads listed per process, at most
MAX_PIDS = 1 << 22  # processes listed, at most (the largest pid_max)


def _task(tid: Optional[int], name: str) -> str:
    return name if tid is None else f"task/{tid}/{name}"


def stat(pid: Pid, tid: Optional[int] = None) -> bytes:
    """The raw stat line of ``pid`` (``tid``: of that thread)."""
    return files.read(pid, _task(tid, "stat"), STAT_BYTES, "the state")


def mapped_file(pid: Pid, start: int, end: int) -> os.stat_result:
    """stat of the file mapped at ``start``-``end`` (``map_files``: the kernel's link to the
    file itself, followed without a path lookup; nothing is opened)."""
    return files.stat(pid, f"map_files/{start:x}-{end:x}", "a mapped file")


def stat_fields(pid: int, tid: Optional[int] = None) -> Optional[list[bytes]]:
    """``formats.parse_stat`` of ``stat``; None when it cannot be read."""
    try:
        return formats.parse_stat(stat(pid, tid))
    except CaptureError:
        return None


def status(pid: Pid, tid: Optional[int] = None) -> formats.Status:
    return formats.Status(files.read(pid, _task(tid, "status"), STATUS_BYTES, "the status"))


def status_or_none(pid: Pid, tid: Optional[int] = None) -> Optional[formats.Status]:
    try:
        return status(pid, tid)
    except CaptureError:
        return None


def pids() -> list[str]:
    """The process directories of the root (decimal names), in the kernel's order."""
    return [name for name in files.listdir(None, "", MAX_PIDS, "the processes") if name.isdigit()]


def tids(pid: int) -> list[int]:
    """The thread ids of ``pid``, in the kernel's order."""
    return [int(name) for name in files.listdir(pid, "task", MAX_TASKS, "the threads") if name.isdigit()]


def syscall(pid: int, tid: int) -> Optional[formats.Syscall]:
    """What thread ``tid`` is doing in the kernel; None when the text does not parse."""
    raw = files.read(pid, _task(tid, "syscall"), SYSCALL_BYTES, "the system calls of the threads")
    return formats.parse_syscall(tid, raw.decode("ascii", "replace"))


def syscall_or_none(pid: int, tid: int) -> Optional[formats.Syscall]:
    try:
        return syscall(pid, tid)
    except CaptureError:
        return None


def run_delay_ns(pid: int) -> Optional[int]:
    """Nanoseconds the main thread of ``pid`` has waited runnable for a CPU (``schedstat``'s
    second number); None when it cannot be read. With its CPU time: how much it wanted to run,
    whatever else the box runs."""
    try:
        words = files.read(pid, "schedstat", SCHEDSTAT_BYTES, "how long a process waited for a CPU").split()
    except CaptureError:
        return None
    return int(words[1]) if len(words) > 1 and words[1].isdigit() else None


def cpu_ns(pid: int, tid: int) -> Optional[int]:
    """Nanoseconds thread ``tid`` has spent on a CPU (``schedstat``'s first number: exact,
    brought up to date when read); None when it cannot be read (no CONFIG_SCHED_INFO)."""
    try:
        words = files.read(pid, _task(tid, "schedstat"), SCHEDSTAT_BYTES, "the CPU time of a thread").split()
    except CaptureError:
        return None
    return int(words[0]) if words and words[0].isdigit() else None


def maps_text(pid: int, cap: int = MAPS_BYTES) -> bytes:
    """Whole lines of the memory map of ``pid``, at most ``cap`` bytes."""
    return files.read(pid, "maps", cap, "the memory map", lines=True)


def maps(pid: int) -> list[formats.Mapping]:
    """The memory map of ``pid``. An empty one of a process no longer there is ``ProcessGone``."""
    raw = maps_text(pid).decode("utf-8", "replace")
    # maps text -> its (immutable) mappings, in the capture's state: a pure function of
    # the text just read from this process; the 64 workers of a fork pool have
    # byte-identical maps, parsed once instead of 64 times (~0.3 ms each)
    parsed = state.current().maps.get_or_put(raw, lambda: tuple(formats.parse_maps(raw)))
    if not parsed and not files.exists(pid):
        raise files.translate(FileNotFoundError(2, "No such file or directory"), pid, "the memory map")
    return list(parsed)


def fds(pid: int) -> list[str]:
    """The first ``MAX_FDS`` file descriptors of ``pid`` (names: decimal numbers)."""
    return files.listdir(pid, "fd", MAX_FDS, "the open files")


def fd_target(pid: int, fd: int | str) -> str:
    """Where fd ``fd`` of ``pid`` points: a path, ``pipe:[INODE]``, ``socket:[INODE]``..."""
    return files.readlink(pid, f"fd/{fd}", "an open file")


def fd_inode(pid: int, fd: int | str, kind: str) -> Optional[int]:
    """The inode of fd ``fd`` of ``pid`` when it is a ``kind`` (pipe, socket); None otherwise or unreadable."""
    try:
        return formats.fd_inode(fd_target(pid, fd), kind)
    except CaptureError:
        return None


def fdinfo(pid: int, fd: int | str) -> formats.FdInfo:
    return formats.parse_fdinfo(files.read(pid, f"fdinfo/{fd}", FDINFO_BYTES, "an open file's flags"))


def tcp(pid: int, name: str) -> list[tuple[str, str, int]]:
    """The sockets of ``net/tcp`` or ``net/tcp6`` of ``pid``'s network namespace."""
    return tables.parse_tcp(files.read(pid, f"net/{name}", NET_TCP_BYTES, "the TCP table", lines=True))


def unix_listeners(pid: int) -> dict[int, str]:
    """inode -> path of the listening Unix sockets of ``pid``'s network namespace."""
    return tables.parse_unix_listeners(files.read(pid, "net/unix", NET_UNIX_BYTES, "the Unix socket table", lines=True))


def cmdline(pid: int) -> tuple[str, ...]:
    return formats.parse_cmdline(files.read(pid, "cmdline", CMDLINE_BYTES, "the command line"))


def comm(pid: int) -> str:
    return formats.parse_comm(files.read(pid, "comm", COMM_BYTES, "the command name"))


def exe(pid: int) -> str:
    """The executable's path as the kernel links it (`` (deleted)`` kept)."""
    return files.readlink(pid, "exe", "the executable")


def exe_head(pid: int) -> bytes:
    """The first bytes of the executable, through the kernel's link (the file the target
    runs, not a path it names)."""
    return files.read(pid, "exe", EXE_HEAD_BYTES, "the executable")


def cwd(pid: int) -> str:
    return files.readlink(pid, "cwd", "the working directory")


def children(pid: int, tid: int) -> list[int]:
    """The children of thread ``tid`` of ``pid`` (Linux >= 3.5 with CONFIG_PROC_CHILDREN)."""
    raw = files.read(pid, _task(tid, "children"), CHILDREN_BYTES, "the children")
    return formats.parse_pids(raw[: raw.rfind(b" ") + 1] if len(raw) >= CHILDREN_BYTES else raw)


def boot_time() -> float:
    return formats.parse_boot_time(files.read(None, "stat", SYSTEM_BYTES, "the system's state", lines=True))


def locks() -> list[tables.FileLockEntry]:
    """The file locks of the box (``/proc/locks``), at most ``LOCKS_BYTES`` of whole lines."""
    return tables.parse_locks(files.read(None, "locks", LOCKS_BYTES, "the file locks", lines=True))


def mounts() -> bytes:
    """Whole lines of the mounts as this process sees them."""
    return files.read("self", "mounts", SYSTEM_BYTES, "the mounts", lines=True)


def setting(name: str) -> str:
    """A kernel setting (``sys/kernel/core_pattern``), stripped."""
    return files.read(None, name, SETTING_BYTES, "a kernel setting").decode("utf-8", "replace").strip()


def vmstat() -> bytes:
    """The machine's memory counters (``oom_kill``: every OOM kill since boot)."""
    return files.read(None, "vmstat", VMSTAT_BYTES, "the memory counters")


def cgroup(pid: Pid) -> str:
    return files.read(pid, "cgroup", CGROUP_BYTES, "the control groups").decode("utf-8", "replace")


def open_mem(pid: int) -> int:
    """A read-only descriptor on the memory of ``pid`` (for ``os.pread``); the caller closes it."""
    return files.open_fd(pid, "mem", os.O_RDONLY, "the memory")


def open_root(pid: int) -> int:
    """An ``O_PATH`` descriptor on the root directory of ``pid`` (whatever mount namespace it
    lives in), for ``capture.safeopen`` to resolve paths beneath; the caller closes it."""
    return files.open_fd(pid, "root", os.O_PATH | os.O_DIRECTORY, "the root directory")


def view(pid: int) -> tuple[int, int, int]:
    """(mount namespace inode, root directory's device, inode) of ``pid``."""
    ns = files.stat(pid, "ns/mnt", "the mount namespace").st_ino
    root = files.stat(pid, "root", "the root directory")
    return ns, root.st_dev, root.st_ino

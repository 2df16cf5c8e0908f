"""What the kernel says of a process's threads, from ``/proc`` alone (``capture.procfs``):
each thread's state, CPU time and context switches (``Sched``), whether one ran between two
reads, and the kernel's flags of the process (exiting, kernel thread, its thread group).
Cheap enough for every refresh; unreadable means "unknown", never an exception."""

from __future__ import annotations

from typing import Optional

from pooltui.capture import procfs
from pooltui.capture.errors import CaptureError
from pooltui.capture.procfs import formats

Sched = tuple[str, int]  # a thread's state letter (R, S, D, t, ...) and voluntary+nonvoluntary context switches


def task_state(pid: int, tid: Optional[int] = None) -> Optional[str]:
    """The kernel's one-letter state (R running, S/D asleep, Z zombie, X dead); None when gone."""
    fields = procfs.stat_fields(pid, tid)
    return fields[formats.STATE].decode("ascii", "replace") if fields else None


def task_ids(pid: int) -> set[int]:
    """The OS thread ids of ``pid`` now (empty when it is gone or unreadable)."""
    return set(_tids(pid))


def _tids(pid: int) -> list[int]:
    try:
        return procfs.tids(pid)
    except CaptureError:
        return []


def read_exit_code(pid: int) -> Optional[int]:
    """A zombie's wait status, read without reaping it: stat field 52 (``exit_code``, Linux
    >= 3.5; signal = status & 0x7f, code = status >> 8). None when the field is absent or
    the process is gone. Only meaningful for a zombie: a live process shows 0 there."""
    return procfs.stat_int(procfs.stat_fields(pid), formats.EXIT_CODE)


def read_tasks(pid: int) -> tuple[dict[int, float], dict[int, Sched], dict[int, int]]:
    """Per thread: user+system seconds (task stat), its Sched and its voluntary context
    switches (task status), in one pass over the process's tasks. A thread that exits
    meanwhile is left out."""
    cpu: dict[int, float] = {}
    sched: dict[int, Sched] = {}
    blocked: dict[int, int] = {}
    for tid in _tids(pid):
        fields = procfs.stat_fields(pid, tid)
        status = procfs.status_or_none(pid, tid)
        times = procfs.task_times(fields) if fields and status is not None else None
        if times is None or status is None:
            continue
        cpu[tid] = times[1]
        sched[tid] = (times[0], status.switches)
        if (voluntary := status.voluntary_switches) is not None:
            blocked[tid] = voluntary
    return cpu, sched, blocked


def read_sched(pid: int) -> dict[int, Sched]:
    """The Sched of every thread of ``pid`` now (empty when it cannot be read): one read
    of each thread's status file (its State line is the letter task stat shows)."""
    sched: dict[int, Sched] = {}
    for tid in _tids(pid):
        status = procfs.status_or_none(pid, tid)
        state = status.state if status is not None else None
        if status is not None and state is not None:
            sched[tid] = (state, status.switches)
    return sched


def ran_since(before: dict[int, Sched], after: dict[int, Sched]) -> bool:
    """Whether any thread may have run between two reads of ``read_sched``.

    A thread asleep at both reads with the same context-switch count was not scheduled
    in between (to run and sleep again it must be switched out, which counts), so its
    Python stack cannot have changed. A thread running or runnable (R) at either read, a
    different set of threads, or nothing read at all counts as "ran".
    """
    if not before or before.keys() != after.keys():
        return True
    return any(b[0] == "R" or a[0] == "R" or a[1] != b[1] for b, a in ((before[t], after[t]) for t in before))


def any_running(sched: dict[int, Sched]) -> bool:
    return not sched or any(state == "R" for state, _ in sched.values())


def _flags(pid: int) -> int:
    return procfs.stat_int(procfs.stat_fields(pid), formats.FLAGS) or 0


def is_exiting(pid: int) -> bool:
    """PF_EXITING: the process is inside exit() (its memory may already be gone, its
    state not yet Z)."""
    return bool(_flags(pid) & formats.PF_EXITING)


def is_kernel_thread(pid: int) -> bool:
    return bool(_flags(pid) & formats.PF_KTHREAD)


def thread_group_of(pid: int) -> Optional[int]:
    """The process (Tgid) that thread ``pid`` belongs to: itself for a process; None if unreadable."""
    status = procfs.status_or_none(pid)
    return status.tgid if status is not None else None


def comm_of(pid: int) -> str:
    """The command name of ``pid`` (its comm, as the kernel keeps it, escaped), or "?"."""
    try:
        return procfs.comm(pid) or "?"
    except CaptureError:
        return "?"

"""Waiting for a paused process's threads to be back in the calls the pause interrupted.

A py-spy dump that pauses a process (ptrace) takes every thread out of its system call;
once resumed, a thread that was asleep reads "running" (``/proc/PID/task/TID/syscall``)
until it is scheduled back into its call. On a loaded machine that is a while for all of a
process's threads, and whatever is read meanwhile is wrong: a deadlock read with no futex to
follow, an idle event loop read as running (a deadlock through an executor lost so at load
~10), a confirmation that sees the knot "move" (``capture.ends.moved``).

So a thread py-spy saw idle that reads "running" is read again while it has not been on a
CPU since it was first read so (``procfs.cpu_ns``, schedstat: unchanged = still waiting for
a CPU, however long a busy box keeps it waiting, up to ``UNSCHEDULED_SECONDS``). A thread
that has run and still reads running is running: not waited for -- except a lock wait, read
again for ``SETTLE_SECONDS`` (preempted on its way back into the call). Not restart_syscall
(219): a timed wait the pause interrupted sits in it until its deadline (a Timer's hour);
``capture.kernel.describe`` reads it as a timed wait.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Optional

from pooltui.capture import memory, procfs
from pooltui.model import Thread

RUNNING = (None, -1)  # "running", not in a system call
SETTLE_SECONDS = 0.5
UNSCHEDULED_SECONDS = 5.0
STEP = 0.02


def lockish(t: Thread) -> bool:
    """Its innermost Python frame is a lock acquire or wait (a thread whose locks get read)."""
    f = next((f for f in t.frames if not f.native), None)
    code = (f.code or "").lstrip() if f is not None else ""
    return f is not None and (f.file.endswith(("threading.py", "synchronize.py")) or code.startswith(("with ", "async with ")) or ".acquire(" in code)


def resuming(threads: Sequence[Thread], syscalls: dict[int, memory.Syscall]) -> list[Thread]:
    """Those of ``threads`` py-spy saw idle that read "running" in ``syscalls``."""
    return [t for t in threads if t.tid in syscalls and syscalls[t.tid].nr in RUNNING and not t.active and not t.ghost]


async def syscalls_settled(pid: int, threads: Sequence[Thread]) -> dict[int, memory.Syscall]:
    """The system calls of ``pid``'s threads once those of ``threads`` py-spy saw idle are
    back in a call or have run since (read every ``STEP``, without blocking the event loop).
    CaptureError when the process cannot be read."""
    start = time.monotonic()
    first_cpu: dict[int, Optional[int]] = {}  # tid -> its CPU time when first read "running"

    def not_back(t: Thread, elapsed: float) -> bool:
        if elapsed < SETTLE_SECONDS and lockish(t):
            return True
        before = first_cpu.setdefault(t.tid, procfs.cpu_ns(pid, t.tid))
        return before is not None and elapsed < UNSCHEDULED_SECONDS and procfs.cpu_ns(pid, t.tid) == before

    while True:
        syscalls = memory.thread_syscalls(pid)
        elapsed = time.monotonic() - start
        if not [t for t in resuming(threads, syscalls) if not_back(t, elapsed)]:
            return syscalls
        await asyncio.sleep(STEP)

"""The one place a process's stacks are read: ``dump`` reads them (``dump_consistent``:
py-spy, or the direct reader where it can) and redacts them (``capture.redact``) before
anything else sees them, so every path that dumps -- the capture of a tree, the lock
reader's look at a waiter's locals, a closer look a verdict asks for -- keeps no secret
in clear. Nothing else in the package calls ``dump_consistent`` (tests/unit/test_dump_seam.py).

``dump_consistent`` chooses between the two readers, so it lives here, above both:
``capture.direct`` runs ``pyspy.dump`` to check itself, and ``capture.pyspy`` knows nothing
of the direct reader (no import cycle: the acyclic_siblings contract in pyproject.toml).
"""

from __future__ import annotations

from typing import Optional

from pooltui.capture import direct, procs, pyspy, redact, worker
from pooltui.capture import settle as capture_settle
from pooltui.capture.errors import CaptureError
from pooltui.model import Thread
from pooltui.model.record import replace


async def dump(
    pid: int,
    options: pyspy.DumpOptions,
    *,
    redact_secrets: bool,
    exe: Optional[str] = None,
    sched: Optional[dict[int, procs.Sched]] = None,
    python: Optional[str] = None,
    found: Optional[direct.Attempt] = None,
    settle: bool = True,
) -> list[Thread]:
    """The threads of ``pid`` now, secret-looking locals masked unless ``redact_secrets`` is
    false (``--no-redact``; long reprs are cut either way). ``found``: a direct read of it
    made already (``read_directly``), which this goes on from. ``settle``: see ``dump_consistent``."""
    threads = await dump_consistent(pid, options, exe, sched, python, found, settle=settle)
    return redact.redact_threads(threads, redact=redact_secrets)


def direct_first(options: pyspy.DumpOptions, python: Optional[str]) -> bool:
    """Whether ``dump`` tries a direct read before py-spy (``dump_consistent``)."""
    return not options.nonblocking and not options.native and direct.usable(python, options)


def read_directly(pid: int, python: Optional[str], *, redact_secrets: bool) -> direct.Attempt:
    """``direct.attempt`` (blocking: on the capture's worker thread), its threads redacted as
    ``dump``'s: a capture takes them at once when their binary is trusted
    (``direct.trusted``), else gives the attempt to ``dump`` (``found``)."""
    found = direct.attempt(pid, python, DIRECT_TRIES)
    if found.threads is None:
        return found
    return replace(found, threads=redact.redact_threads(found.threads, redact=redact_secrets))


DIRECT_TRIES = 3  # direct reads of a process before it is read by py-spy, paused


async def dump_consistent(
    pid: int,
    options: pyspy.DumpOptions = pyspy.DumpOptions(),
    exe: Optional[str] = None,
    sched: Optional[dict[int, procs.Sched]] = None,
    python: Optional[str] = None,
    found: Optional[direct.Attempt] = None,
    *,
    settle: bool = True,
) -> list[Thread]:
    """``pyspy.dump``, pausing the process only when that is needed for a consistent read.

    Unless ``options.nonblocking`` (never pause) or ``native`` (py-spy cannot read native
    stacks without pausing), a process whose threads are all asleep is read without
    pausing it (py-spy --nonblocking), and the read is kept only if no thread was
    scheduled meanwhile (``procs.ran_since``): nothing could change under py-spy, so it is
    as consistent as a paused read, costs the target no pause, and adds none of the
    context switches a ptrace stop causes in every thread (which would make the next
    refresh see the process as "ran"). Else it is dumped paused.

    ``sched`` is what the tree walk saw (read again now when not given). A process with a
    thread running then or now, or one that was scheduled between the walk and now (a
    bursty worker that woke meanwhile), is read paused at once: an unpaused read of it
    would most likely be thrown away, and py-spy run twice.

    First, where ``capture.direct`` knows the interpreter (``python``: its X.Y), a process
    with no thread running is read without py-spy at all, kept if no thread was scheduled
    during the read; tried up to DIRECT_TRIES times, whatever the walk saw (a direct read
    costs ~1 ms, a wasted one little), on the capture's worker thread with the /proc reads
    around it (``direct.attempt``; ``found``: that attempt, made already by the caller).
    The rules above apply once it did not work.

    After a paused read, with ``settle``, it returns once the threads py-spy saw idle are back
    in the calls the pause took them out of (``capture.settle``): what is read of the
    process next (its system calls, a confirmation's two reads) is not the pause's wake.
    The capture's first dump passes False: ``locks.with_futex_settled`` waits so with the
    system calls it keeps.
    """
    if not options.nonblocking and not options.native:
        if direct.usable(python, options):
            # cheap enough to try even on a process that ran since the walk (a bursty worker
            # asleep ~95% of the time), and again if a thread woke during the read
            if found is None:
                found = await worker.run(direct.attempt, pid, python, DIRECT_TRIES)
            now, ran = found.before, found.moved or (sched is not None and procs.ran_since(sched, found.before))
            if found.threads is not None:
                read = await direct.check(pid, found, options, exe or pyspy.find_pyspy())
                if read is not direct.MOVED and read is not None:
                    return read
                if read is direct.MOVED:
                    ran, now = True, procs.read_sched(pid)
        else:
            now = procs.read_sched(pid)
            ran = sched is not None and procs.ran_since(sched, now)
        if not ran and not procs.any_running(now):
            threads = await pyspy.dump_unpaused(pid, options, exe)
            if threads is not None and not procs.ran_since(now, procs.read_sched(pid)):
                return threads
    threads = await pyspy.dump(pid, options, exe)
    if settle:
        try:
            await capture_settle.syscalls_settled(pid, threads)
        except CaptureError:
            pass  # gone or unreadable: whoever reads it next says so
    return threads

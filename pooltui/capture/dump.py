"""The one place a process's stacks are read: ``dump`` reads them (``pyspy.dump_consistent``:
py-spy, or the direct reader where it can) and redacts them (``capture.redact``) before
anything else sees them, so every path that dumps -- the capture of a tree, the lock
reader's look at a waiter's locals, a closer look a verdict asks for -- keeps no secret
in clear. Nothing else in the package calls ``dump_consistent`` (tests/unit/test_dump_seam.py).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Optional

from pooltui.capture import direct, procs, pyspy, redact
from pooltui.model import Thread


async def dump(
    pid: int,
    options: pyspy.DumpOptions,
    *,
    redact_secrets: bool,
    exe: Optional[str] = None,
    sched: Optional[dict[int, procs.Sched]] = None,
    python: Optional[str] = None,
    found: Optional[direct.Attempt] = None,
) -> list[Thread]:
    """The threads of ``pid`` now, secret-looking locals masked unless ``redact_secrets`` is
    false (``--no-redact``; long reprs are cut either way). ``found``: a direct read of it
    made already (``read_directly``), which this goes on from."""
    threads = await pyspy.dump_consistent(pid, options, exe, sched, python, found)
    return redact.redact_threads(threads, redact=redact_secrets)


def direct_first(options: pyspy.DumpOptions, python: Optional[str]) -> bool:
    """Whether ``dump`` tries a direct read before py-spy (``pyspy.dump_consistent``)."""
    return not options.nonblocking and not options.native and direct.usable(python, options)


def read_directly(pid: int, python: Optional[str], *, redact_secrets: bool) -> direct.Attempt:
    """``direct.attempt`` (blocking: on the capture's worker thread), its threads redacted as
    ``dump``'s: a capture takes them at once when their binary is trusted
    (``direct.trusted``), else gives the attempt to ``dump`` (``found``)."""
    found = direct.attempt(pid, python, pyspy.DIRECT_TRIES)
    if found.threads is None:
        return found
    return replace(found, threads=redact.redact_threads(found.threads, redact=redact_secrets))

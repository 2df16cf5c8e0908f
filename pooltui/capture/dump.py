"""The one place a process's stacks are read: ``dump`` reads them (``pyspy.dump_consistent``:
py-spy, or the direct reader where it can) and redacts them (``capture.redact``) before
anything else sees them, so every path that dumps -- the capture of a tree, the lock
reader's look at a waiter's locals, a closer look a verdict asks for -- keeps no secret
in clear. Nothing else in the package calls ``dump_consistent`` (tests/unit/test_dump_seam.py).
"""

from __future__ import annotations

from typing import Optional

from pooltui.capture import procs, pyspy, redact
from pooltui.model import Thread


async def dump(
    pid: int,
    options: pyspy.DumpOptions,
    *,
    redact_secrets: bool,
    exe: Optional[str] = None,
    sched: Optional[dict[int, procs.Sched]] = None,
    python: Optional[str] = None,
) -> list[Thread]:
    """The threads of ``pid`` now, secret-looking locals masked unless ``redact_secrets`` is
    false (``--no-redact``; long reprs are cut either way)."""
    threads = await pyspy.dump_consistent(pid, options, exe, sched, python)
    return redact.redact_threads(threads, redact=redact_secrets)

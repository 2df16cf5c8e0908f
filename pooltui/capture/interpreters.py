"""How many interpreters a process runs (sub-interpreters: ``_xxsubinterpreters`` 3.8-3.12,
``_interpreters`` 3.13).

py-spy, and pooltui's own stack reader, walk the threads of one interpreter only: the
newest (``_PyRuntime.interpreters.head``). A process that created a sub-interpreter shows
that one's threads and none of the main interpreter's (measured on 3.8-3.13: a thread
running ``run_string`` is all py-spy shows; the main thread is gone from the dump). That
is said, never left silent: ``Process.interpreters`` holds the count when it is above one
and the analysis turns it into a note (``analysis.interpreters``).

The list is read only in a process that mapped a sub-interpreter extension module: an
ordinary process pays one read of ``/proc/PID/maps`` per dump. A build with those modules
linked in statically (not pyenv's, not the distributions') is not looked at.
"""

from __future__ import annotations

from typing import Optional

from pooltui.capture import procs
from pooltui.capture.errors import CaptureError
from pooltui.capture.memory import read_maps, stacks
from pooltui.model import Process
from pooltui.model.record import replace

# the extension modules that create interpreters from Python (file names in lib-dynload)
MODULES = ("_xxsubinterpreters.", "_interpreters.", "_xxinterpchannels.", "_interpchannels.", "_interpqueues.")


def maps_subinterpreters(paths: list[str]) -> bool:
    """A sub-interpreter extension is among these mapped files."""
    return any(path.rpartition("/")[2].startswith(MODULES) for path in paths)


def count(pid: int, python: Optional[str], mapped: Optional[bool] = None) -> Optional[int]:
    """The number of interpreters ``pid`` runs; None when not known (not read, unreadable).
    ``mapped``: whether it maps a sub-interpreter module, when the caller read its maps
    already (a direct stack read did: /proc/PID/maps is not read again)."""
    version = procs.version_tuple(python)
    if version not in stacks.STACK_LAYOUTS or mapped is False:
        return None
    try:
        if mapped is None and not maps_subinterpreters([m.path for m in read_maps(pid)]):
            return None
        with stacks.StackMemory(pid, version) as mem:
            return len(mem.interpreter_ids())
    except (CaptureError, OSError):
        return None


def counted(proc: Process, mapped: Optional[bool] = None) -> Process:
    """``proc`` with ``interpreters`` set when it runs more than one (run on the capture's
    worker; ``mapped``: as for ``count``)."""
    found = count(proc.pid, proc.python, mapped) if proc.error is None and proc.threads else None
    return replace(proc, interpreters=found) if found is not None and found > 1 else proc

"""psutil's own reads of ``/proc``, under the capture's root.

psutil opens ``/proc`` itself, at the path in its module attribute ``psutil.PROCFS_PATH``:
read when a ``psutil.Process`` is made (the object keeps it for its reads) and by every
``boot_time()``, which each ``create_time()`` adds (psutil 7.2, ``_pslinux``). The capture's
root is one per capture state (``CaptureState.proc_root``, set per context); psutil's is one
per interpreter. ``psutil_root`` points psutil at the active root for a block and back after,
holding one lock while it does: no psutil read of the capture, in any thread, runs under
another state's root. With the system's root (every capture but a test's over a recorded
tree) the value it sets is the one psutil had.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator
from typing import Any, Callable, TypeVar, cast

from pooltui.capture.procfs.files import root

F = TypeVar("F", bound=Callable[..., Any])

# one PROCFS_PATH at a time; re-entrant: a walk reads each process with psutil under its own block
_PSUTIL_PATH = threading.RLock()


@contextlib.contextmanager
def psutil_root() -> Iterator[str]:
    """psutil reads the active capture state's /proc in this block (the root, yielded)."""
    import psutil  # here, not at import: the /proc module serves readers that never call psutil (a check run as nobody)

    wanted = root()
    with _PSUTIL_PATH:
        before = psutil.PROCFS_PATH
        psutil.PROCFS_PATH = wanted
        try:
            yield wanted
        finally:
            psutil.PROCFS_PATH = before


def under_psutil_root(fn: F) -> F:
    """``fn`` run inside ``psutil_root()``."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        with psutil_root():
            return fn(*args, **kwargs)

    return cast(F, run)

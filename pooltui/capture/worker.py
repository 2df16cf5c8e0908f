"""The capture's one thread for its blocking Python work: direct stack reads
(``capture.direct``), source lines (``capture.sourcelines``) and lock facts
(``capture.locks``), one process after another.

That work is Python made of many short system calls. Spread over several threads it costs
more than twice the CPU for no gain: each thread takes the GIL back after every call
(Pool(64), direct reads: 380 ms of CPU in 4 threads, 170 ms in one; source lines on the
same thread instead of asyncio's pool: another 24 ms). py-spy runs keep their own threads
(they wait on a child process, not on the GIL). A source file on a hung mount holds this
thread up to ``sourcelines.SOURCE_TIMEOUT`` once per capture (then the path is skipped).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Optional, TypeVar

T = TypeVar("T")

_EXECUTOR: Optional[ThreadPoolExecutor] = None


def run(fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
    """``fn(*args)`` on the capture's worker thread, awaitable from the running loop, in a
    copy of the caller's context (so it uses the caller's ``capture.state``)."""
    global _EXECUTOR
    if _EXECUTOR is None:
        _EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pooltui-capture")
    context = contextvars.copy_context()
    return asyncio.get_running_loop().run_in_executor(_EXECUTOR, functools.partial(context.run, fn, *args))

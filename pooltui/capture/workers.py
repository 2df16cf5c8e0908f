"""A closer look at a few processes when the analysis asks: facts the default capture
(no locals) cannot give, read with one extra ``py-spy --locals`` of just that process,
keeping only the locals that answer the question (never the rest of its data).

* ``with_maxtasks``: a ``multiprocessing.Pool`` starts a new worker when one exits. With
  ``maxtasksperchild`` that is routine (a worker retires after N tasks); without it, the
  old worker died and the task it was running is lost. The replacement's
  ``worker(..., maxtasks)`` argument says which.
* ``with_telling_locals``: a thread stuck at one line may be a retry loop after a
  failure. Exception objects, manager proxies and connection-error messages among its
  frames' locals say what failed (``exc = <BrokenPipeError at 0x…>`` next to a
  ``<DictProxy at 0x…>`` is a Manager that is gone).
"""

from __future__ import annotations

import re
from typing import Optional

from pooltui.capture import dump, procs, pyspy
from pooltui.capture.errors import CaptureError
from pooltui.capture.threads import match_tasks
from pooltui.model import Frame, Local, Process, Thread
from pooltui.model.record import replace

_WORKER = "multiprocessing/pool.py"
_OBJECT = re.compile(r"^<(?:[\w.]*(?:Error|Exception|Exit|Proxy)|AutoProxy\[[^\]]*\]) at 0x[0-9a-f]+>$")
_PROXY = re.compile(r"<(?:\w*Proxy|AutoProxy\[[^\]]*\]) at 0x[0-9a-f]+>")
_CONN_ERROR = re.compile(r"Broken pipe|Connection refused|Connection reset|EOFError|BrokenPipeError|ConnectionRefusedError|\[Errno (?:32|104|111)\]")
MAX_KEPT = 120


def _worker_index(frames: tuple[Frame, ...]) -> Optional[int]:
    for i, f in enumerate(frames):
        if not f.native and f.file.endswith(_WORKER) and f.function.rpartition(".")[2] == "worker":
            return i
    return None


async def _dump_with_locals(proc: Process, timeout: float, redact_secrets: bool) -> dict[int, Thread]:
    """tid -> thread with locals (redacted as every dump is: ``capture.dump``), for the live
    threads of ``proc`` ({} when unreadable)."""
    try:
        threads = await dump.dump(proc.pid, pyspy.DumpOptions(locals=True, timeout=timeout), redact_secrets=redact_secrets)
    except CaptureError:
        return {}
    live = set(procs.read_sched(proc.pid))
    return {t.tid: t for t in match_tasks(proc.pid, threads, live) if not t.ghost}


async def with_maxtasks(proc: Process, timeout: float = pyspy.DEFAULT_TIMEOUT, *, redact_secrets: bool = True) -> Process:
    """``proc`` with the ``maxtasks`` local on its main thread's ``worker`` frame, when
    py-spy can read it; ``proc`` unchanged otherwise (the verdict then stays a guess)."""
    main = proc.thread(proc.pid)
    at = _worker_index(main.frames) if main is not None else None
    if main is None or at is None:
        return proc
    fresh = (await _dump_with_locals(proc, timeout, redact_secrets)).get(proc.pid)
    index = _worker_index(fresh.frames) if fresh is not None else None
    local = fresh.frames[index].local("maxtasks") if fresh is not None and index is not None else None
    if local is None or not re.fullmatch(r"None|\d+", local.repr):
        return proc  # an int or None: anything else is not what CPython's worker() passes
    frames = list(main.frames)
    frames[at] = replace(frames[at], locals=(*(frames[at].locals or ()), replace(local, addr=None)))
    return replace(proc, threads=tuple(replace(t, frames=tuple(frames)) if t.tid == proc.pid else t for t in proc.threads))


def _telling(local: Local) -> Optional[Local]:
    """The part of a local worth keeping: an exception object or proxy (type and address
    only), the proxies inside a container, or a message naming a connection failure."""
    text = local.repr
    if _OBJECT.match(text):
        return Local(local.name, text, None, local.arg)
    proxies = _PROXY.findall(text)
    if proxies:
        return Local(local.name, "… " + ", ".join(proxies[:3]) + " …", None, local.arg)
    if _CONN_ERROR.search(text) and len(text) <= MAX_KEPT:
        return Local(local.name, text, None, local.arg)
    return None


async def with_telling_locals(proc: Process, timeout: float = pyspy.DEFAULT_TIMEOUT, *, redact_secrets: bool = True) -> Process:
    """``proc`` whose frames carry the telling locals (see ``_telling``) of a fresh dump;
    only threads whose stack is still the one captured are given any."""
    fresh = await _dump_with_locals(proc, timeout, redact_secrets)
    threads = []
    for t in proc.threads:
        new = fresh.get(t.tid)
        same = new is not None and [(f.function, f.line) for f in new.frames] == [(f.function, f.line) for f in t.frames]
        if not same or new is None:
            threads.append(t)
            continue
        frames = []
        for old, f in zip(t.frames, new.frames):
            kept = tuple(k for k in (_telling(loc) for loc in f.locals or ()) if k is not None)
            frames.append(replace(old, locals=(*(old.locals or ()), *kept)) if kept else old)
        threads.append(replace(t, frames=tuple(frames)))
    return replace(proc, threads=tuple(threads))

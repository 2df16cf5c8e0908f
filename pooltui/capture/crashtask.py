"""The task a dead pool worker was running, from its core file.

``multiprocessing.pool.worker()`` takes ``task = (job, i, func, args, kwds)`` from the task
queue and calls ``func(*args, **kwds)``: in the crashed thread's stack the frame just inside
``worker`` (past the pool's own ``mapstar``/``starmapstar`` of a ``map``) is the task's
function, and its arguments are that frame's arguments. pooltui's memory reader reads no
frame locals, so they come from ``py-spy dump --core --locals`` (2.7 and 3.6-3.13 alike,
from the cores the kernel writes); ``job`` and ``i`` are ``worker``'s locals when py-spy
shows them as numbers. Every value is redacted like any captured local
(``capture.redact``), cut, and escaped: it is the target's data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

from pooltui.capture import redact
from pooltui.capture.coredump import pyspy_core
from pooltui.capture.errors import CaptureError
from pooltui.model import Frame, Thread
from pooltui.model.record import Record

POOL_HELPERS = frozenset({"mapstar", "starmapstar"})  # multiprocessing/pool.py: a map's chunk, called by worker()
MAX_ARGS = 8
MAX_ARG = 80  # characters of one argument's repr
MAX_TASK = 400


def _in_pool(frame: Frame) -> bool:
    return frame.file.replace("\\", "/").endswith("multiprocessing/pool.py")


def escaped(text: str) -> str:
    """``text`` with every character that is not printable as its escape (a terminal's
    control sequence in an argument is shown, never sent)."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def _number(frame: Frame, name: str) -> Optional[str]:
    local = frame.local(name)
    return local.repr if local is not None and local.repr.isdigit() else None


class Running(Record, frozen=True):
    """What a pool worker's stack shows it running: a task, in one line, or (``initializer``)
    the pool's initializer, before any task."""

    text: str
    initializer: bool = False

    @property
    def evidence(self) -> str:
        if self.initializer:
            return f"it died in the pool's initializer, before any task (from its core): {self.text}"
        return f"the task it was running (from its core): {self.text}"

    @property
    def words(self) -> str:
        return f"in the pool's initializer {self.text}" if self.initializer else f"running {self.text}"


def _call(called: Frame) -> str:
    args = [loc for loc in called.locals or () if loc.arg]
    shown = [f"{loc.name}={redact.truncate(loc.repr, MAX_ARG)}" for loc in args[:MAX_ARGS]]
    if len(args) > MAX_ARGS:
        shown.append(f"… {len(args) - MAX_ARGS} more")
    return f"{called.function}({', '.join(shown)}) at {called.where}"


def describe_task(frames: Sequence[Frame]) -> Optional[Running]:
    """What the stack (innermost first) was running inside multiprocessing.pool's worker():
    ``parse_record(task=0, password=<redacted>) at pool.py:8 (job 3, item 0)``; None when it
    was in no task (no ``worker`` frame, or ``worker`` waiting for one)."""
    at = next((i for i, f in enumerate(frames) if f.function == "worker" and _in_pool(f)), None)
    if at is None:
        return None
    worker = frames[at]
    inner = [f for f in reversed(frames[:at]) if not f.native]  # outermost first, from worker inwards
    while inner and _in_pool(inner[0]) and inner[0].function in POOL_HELPERS:
        inner = inner[1:]
    if inner and "multiprocessing/" in inner[0].file.replace("\\", "/"):
        return None  # worker() in get(): between tasks
    # worker() binds ``task`` once it took one: before that it runs the pool's initializer
    initializer = worker.locals is not None and worker.local("task") is None
    job, item = _number(worker, "job"), _number(worker, "i")
    which = ", ".join(part for part in (f"job {job}" if job else "", f"item {item}" if item else "") if part)
    if inner:
        text = _call(inner[0])
    else:  # worker() is the innermost Python frame: it called something with none
        text = f"a function with no Python frame (a builtin or a C extension's), called by worker() at {worker.where}"
    if which and not initializer:
        text += f" ({which})"
    return Running(escaped(redact.truncate(text, MAX_TASK)), initializer)


def task_from_core(path: str, pid: int, ident: Optional[int], *, redact_secrets: bool = True) -> tuple[Optional[Running], str]:
    """(the task the thread ``ident`` of the core's process was running, or None with why).
    Locals come from py-spy (the core is read again, with ``--locals``), redacted."""
    try:
        threads = pyspy_core(path, pid, with_locals=True)
    except CaptureError as exc:
        return None, f"the task's arguments were not read: {exc.message}"
    threads = redact.redact_threads(threads, redact=redact_secrets)
    ordered: list[Thread] = sorted(threads, key=lambda t: t.ident != ident)  # the crashed thread first, then any worker
    for t in ordered:
        task = describe_task(t.frames)
        if task is not None:
            return task, ""
    return None, "no thread of it was inside multiprocessing.pool's worker() running a task"

"""py-spy's ``dump --json`` output made into model Threads and Frames, within bounds (a
process's output is the target's to shape: names, files and locals come from it). The
direct reader and core dumps make their Frames here too, so equal frames are one object.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from pooltui.capture import state
from pooltui.capture.errors import PySpyFailed
from pooltui.model import Frame, Local, Thread


def _int(value: Any, default: int = 0) -> int:
    """An id, address or line number: an int in 0..2**64-1 (py-spy's u64s), else ``default``."""
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**64 else default


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _frame(raw: dict[str, Any]) -> Frame:
    locals_: Optional[tuple[Local, ...]] = None
    if isinstance(raw.get("locals"), list):
        locals_ = tuple(
            Local(
                name=_str(loc.get("name")),
                repr=_str(loc.get("repr")),
                addr=_int(loc.get("addr")) or None,
                arg=bool(loc.get("arg")),
            )
            for loc in raw["locals"]
            if isinstance(loc, dict)
        )
    filename = _str(raw.get("filename"))
    short = _str(raw.get("short_filename")) or filename
    module = raw.get("module") if isinstance(raw.get("module"), str) else None
    return make_frame(_str(raw.get("name")), filename, _int(raw.get("line")), short, module, _is_native(raw, filename), locals_)


def make_frame(
    function: str,
    filename: str,
    line: int,
    short: str,
    module: Optional[str] = None,
    native: bool = False,
    locals_: Optional[tuple[Local, ...]] = None,
) -> Frame:
    """A Frame as py-spy's JSON gives it (``short`` empty: the file name)."""
    key = (function or "?", filename, line, short or filename, module, native)
    if locals_ is None:
        # the frames of 64 fork siblings are mostly the same: one (immutable) object each,
        # which also makes comparing and hashing equal stacks later an identity check
        # (a pure function of the key: capture.state)
        frames = state.current().frames
        known = frames.get(key)
        if known is not None:
            return known
    frame = Frame(function=key[0], file=filename, line=key[2], short_file=key[3], module=module, locals=locals_, native=key[5])
    if locals_ is None:
        frames.put(key, frame)
    return frame


MAX_CONTAINERS = 2_000_000  # JSON objects + arrays in one dump: bounds what json.loads builds (~64 B each)
MAX_FRAMES = 300_000  # frames in one dump (10,000 threads 30 deep): bounds the Frames built


def _is_native(raw: dict, filename: str) -> bool:
    """A C frame of py-spy --native: py-spy sets ``module`` (the shared object) on those
    only (0.3 and 0.4). Without it, a file that is a shared object and not Python source
    (``/root/.pyenv/.../libpython3.12.so.1.0`` is one: '.py' in a path is no sign)."""
    if isinstance(raw.get("module"), str) and raw["module"]:
        return True
    base = filename.rpartition("/")[2]
    return bool(base) and not base.endswith((".py", ".pyw", ">")) and (".so" in base or base.endswith((".c", ".h")))


def parse_dump(text: str, pid: int) -> list[Thread]:
    """py-spy's ``dump --json`` output -> Threads. Output of another shape, or more than
    the bounds above (which no real process reaches), is a PySpyFailed."""
    if text.count("{") + text.count("[") > MAX_CONTAINERS:  # counts brackets inside strings too: errs towards refusing
        raise PySpyFailed(f"py-spy printed more than {MAX_CONTAINERS:,} JSON objects for process {pid}: not read", pid=pid, detail=text[:500])
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # JSONDecodeError, and an int past 4300 digits (3.11+)
        raise PySpyFailed(f"py-spy printed output that is not JSON for process {pid}", pid=pid, detail=text[:500]) from None
    if not isinstance(data, list):
        raise PySpyFailed(f"py-spy printed JSON of an unexpected shape for process {pid}", pid=pid, detail=text[:500])
    if not all(isinstance(raw, dict) and isinstance(raw.get("frames"), list) for raw in data):
        raise PySpyFailed(f"py-spy printed a thread of an unexpected shape for process {pid}", pid=pid, detail=text[:500])
    if sum(len(raw["frames"]) for raw in data) > MAX_FRAMES:
        raise PySpyFailed(f"py-spy printed more than {MAX_FRAMES:,} frames for process {pid}: not read", pid=pid, detail=text[:500])
    threads = []
    for raw in data:
        name = raw.get("thread_name")
        threads.append(
            Thread(
                tid=_int(raw.get("os_thread_id")),
                ident=_int(raw.get("thread_id")),
                name=name if isinstance(name, str) else None,
                active=bool(raw.get("active")),
                owns_gil=bool(raw.get("owns_gil")),
                frames=tuple(_frame(f) for f in raw["frames"] if isinstance(f, dict)),
            )
        )
    return threads

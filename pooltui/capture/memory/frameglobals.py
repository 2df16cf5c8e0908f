"""The globals dicts a thread's frames run in, innermost first: where a module-level lock
waited on any number of frames down is found (``places.find_lock_place``).

A frame's ``f_globals`` is its own module's dict — or the namespace ``exec`` was given,
which no ``sys.modules`` entry and no ``__file__`` lead to. py-spy's locals give no
frame address, so the frames are reached as py-spy reaches them: ``_PyRuntime``, the
interpreter's thread states, the one whose ``thread_id`` is the thread's ident, its
frame chain (``capture.memory.stacks``' offsets, 3.8-3.13; the frame header's
``f_globals`` offset is ``Layout.frame[2]``). Bounded in threads and frames; anything
that does not validate ends the walk with what was found.
"""

from __future__ import annotations

import struct
from typing import Optional

from pooltui.capture.errors import CaptureError
from pooltui.capture.memory.lockstate import TargetMemory
from pooltui.capture.memory.reader import MemoryFault

MAX_THREADS = 4096
MAX_FRAMES = 512  # frames of one thread followed
MAX_GLOBALS = 8  # distinct globals dicts returned (each searched up to places.MAX_MODULE_OBJECTS)


def frame_globals(mem: TargetMemory, ident: Optional[int]) -> list[int]:
    """Addresses of the distinct globals dicts of thread ``ident``'s frames, innermost first
    (empty for a version the stack reader has no layout for, or when nothing validated)."""
    from pooltui.capture.memory import stacks  # the stack reader's offsets and _PyRuntime look-up

    if not ident:
        return []
    try:
        with stacks.StackMemory(mem.pid, mem.version) as reader:
            return _walk(reader, stacks.STACK_LAYOUTS[reader.version], mem.layout.frame[2], ident)
    except (CaptureError, MemoryFault, KeyError, struct.error):
        return []


def _walk(reader, lay, globals_at: int, ident: int) -> list[int]:  # type: ignore[no-untyped-def]
    _runtime, interp = reader.interpreter()
    ts, seen = reader._ptr(interp + lay.threads_head), 0
    while ts and seen < MAX_THREADS:
        seen += 1
        if reader._ptr(ts + lay.thread_id) == ident:
            break
        ts = reader._ptr(ts + lay.ts_next)
    else:
        return []
    if not ts:
        return []
    frame = reader._ptr(ts + lay.frame_at[0])
    for offset in lay.frame_at[1:]:
        frame = reader._ptr(frame + offset) if frame else 0
    out: list[int] = []
    for _ in range(MAX_FRAMES):
        if not frame or len(out) >= MAX_GLOBALS:
            break
        raw = reader._try(frame, max(lay.f_back, globals_at) + 8)
        if raw is None:
            break
        found = struct.unpack_from("<Q", raw, globals_at)[0]
        info = reader._type_of(found) if found and found % 8 == 0 else None
        if info is not None and info.name == "dict" and found not in out:
            out.append(found)
        frame = struct.unpack_from("<Q", raw, lay.f_back)[0]
    return out

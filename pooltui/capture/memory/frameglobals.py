"""The globals dicts a thread's frames run in, innermost first: where a module-level lock
waited on any number of frames down is found (``places.find_lock_place``).

A frame's ``f_globals`` is its own module's dict — or the namespace ``exec`` was given,
which no ``sys.modules`` entry and no ``__file__`` lead to. py-spy's locals give no
frame address, so the frames are reached as py-spy reaches them: the interpreter, its
thread states, the one whose ``thread_id`` is the thread's ident, its frame chain. The
frame header's ``f_globals`` offset is ``Layout.frame[2]``.

- 3.8-3.13: ``_PyRuntime`` (an exported symbol) and ``capture.memory.stacks``' offsets.
- 2.7 (``_STATIC_HEAD``): the interpreter list is the static ``interp_head``; its
  exported accessor ``PyInterpreterState_Head`` is one ``mov rax, [rip+disp32]; ret``
  (``48 8b 05 … c3``), whose operand gives the variable's address. Thread state and frame
  offsets measured with gdb on the pyenv 2.7.18 build (``&((PyThreadState*)0)->thread_id``
  = 144, ``frame`` = 16; ``PyInterpreterState.tstate_head`` = 8; ``PyFrameObject.f_back`` = 24).
- 3.6, 3.7: not read (their offsets were not measured): the search goes on by file.

Bounded in threads and frames; anything that does not validate ends the walk with what
was found.
"""

from __future__ import annotations

import struct
from typing import Optional

from pooltui.capture.errors import CaptureError
from pooltui.capture.memory import symbols
from pooltui.capture.memory.lockstate import TargetMemory
from pooltui.capture.memory.reader import MemoryFault
from pooltui.model.record import Record

MAX_THREADS = 4096
MAX_FRAMES = 512  # frames of one thread followed
MAX_GLOBALS = 8  # distinct globals dicts returned (each searched up to places.MAX_MODULE_OBJECTS)
_MOV_RAX_RIP = b"\x48\x8b\x05"  # mov rax, [rip+disp32]
_RET = 0xC3


class _Chain(Record, frozen=True):
    """Where the thread list and each frame's caller are (x86-64, GIL builds)."""

    threads_head: int
    ts_next: int
    thread_id: int
    frame_at: tuple[int, ...]
    f_back: int


# the versions whose interpreter list is the static ``interp_head``, found through its accessor
# (every other version: through ``_PyRuntime``, with the chain of ``stacks.STACK_LAYOUTS``)
_STATIC_HEAD: dict[tuple[int, int], _Chain] = {(2, 7): _Chain(threads_head=8, ts_next=0, thread_id=144, frame_at=(16,), f_back=24)}


def frame_globals(mem: TargetMemory, ident: Optional[int]) -> list[int]:
    """Addresses of the distinct globals dicts of thread ``ident``'s frames, innermost first
    (empty for a version without measured offsets, or when nothing validated)."""
    if not ident:
        return []
    try:
        found = _interpreter(mem)
        return _walk(mem, *found, mem.layout.frame[2], ident) if found else []
    except (CaptureError, MemoryFault, struct.error):
        return []


def _interpreter(mem: TargetMemory) -> Optional[tuple[_Chain, int]]:
    """(the offsets, the newest interpreter) of ``mem``'s process, or None."""
    from pooltui.capture.memory.stacks import STACK_LAYOUTS  # the stack reader's measured offsets

    version = (int(mem.version[0]), int(mem.version[1]))
    static = _STATIC_HEAD.get(version)
    if static is not None:
        accessor = _symbol(mem, "PyInterpreterState_Head")
        code = mem._try(accessor, 8) if accessor else None
        if not accessor or code is None or code[:3] != _MOV_RAX_RIP or code[7] != _RET:
            return None
        head = accessor + 7 + struct.unpack_from("<i", code, 3)[0]
        return static, _u64(mem, head)
    lay = STACK_LAYOUTS.get(version)
    runtime = _symbol(mem, "_PyRuntime") if lay else None
    if lay is None or not runtime:
        return None
    chain = _Chain(lay.threads_head, lay.ts_next, lay.thread_id, lay.frame_at, lay.f_back)
    return chain, _u64(mem, runtime + lay.interp_head)


def _symbol(mem: TargetMemory, name: str) -> Optional[int]:
    """A dynamic symbol of libpython when one is mapped, else of the executable."""
    found = symbols.interpreter_symbol(mem, name)
    return found[0] if found is not None else None


def _u64(mem: TargetMemory, addr: int) -> int:
    raw = mem._try(addr, 8) if addr else None
    return struct.unpack("<Q", raw)[0] if raw else 0


def _walk(mem: TargetMemory, chain: _Chain, interp: int, globals_at: int, ident: int) -> list[int]:
    ts = _u64(mem, interp + chain.threads_head) if interp else 0
    for _ in range(MAX_THREADS):
        if not ts or _u64(mem, ts + chain.thread_id) == ident:
            break
        ts = _u64(mem, ts + chain.ts_next)
    else:
        ts = 0  # a list this long (or a loop): not read
    if not ts:
        return []
    frame = _u64(mem, ts + chain.frame_at[0])
    for offset in chain.frame_at[1:]:
        frame = _u64(mem, frame + offset) if frame else 0
    out: list[int] = []
    for _ in range(MAX_FRAMES):
        if not frame or len(out) >= MAX_GLOBALS:
            break
        raw = mem._try(frame, max(chain.f_back, globals_at) + 8)
        if raw is None:
            break
        found = struct.unpack_from("<Q", raw, globals_at)[0]
        info = mem._type_of(found) if found and found % 8 == 0 else None
        if info is not None and info.name == "dict" and found not in out:
            out.append(found)
        frame = struct.unpack_from("<Q", raw, chain.f_back)[0]
    return out

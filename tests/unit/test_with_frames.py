"""Which frame's value stack holds a ``with``'s ``__exit__`` (capture.memory.withblocks._frame_code),
on a PyFrameObject (<= 3.10): a word past the end of the nearest frame below it is another
object's. A stale copy of a suspended coroutine's ``__exit__`` just above the executor
thread's running frame was read as that frame's ``with`` (asyncio_executor on 3.8, twice
under load: the lock's holder, a frame on no thread's stack, was never found)."""

from __future__ import annotations

import struct
from typing import Optional

from pooltui.capture.memory.layouts import layout_for
from pooltui.capture.memory.values import _TypeInfo
from pooltui.capture.memory.withblocks import _frame_code

FRAME_TYPE, CODE_TYPE, DICT_TYPE = 0x1000, 0x2000, 0x3000
CODE, GLOBALS = 0x5000, 0x6000
FRAME = 0x10000  # a frame object: header, f_code, f_globals, f_valuestack, ... f_localsplus
BASICSIZE, ITEMS = 0x180, 6  # 3.8's frame type: 384 bytes; six localsplus slots


def _info(addr: int, name: str, basicsize: int = 16, itemsize: int = 0) -> _TypeInfo:
    return _TypeInfo(addr=addr, name=name, basicsize=basicsize, itemsize=itemsize, flags=0, dictoffset=0, members=0, mro=0)


class FakeMemory:
    """Just what ``_frame_code`` reads: one frame object, a code object, a dict."""

    def __init__(self) -> None:
        self.layout = layout_for((3, 8))
        _kind, code_off, globals_off, stack_off = self.layout.frame
        words = {0: 1, 8: FRAME_TYPE, 16: ITEMS, code_off: CODE, globals_off: GLOBALS, stack_off: FRAME + BASICSIZE}
        self.bytes = bytearray(BASICSIZE + 8 * ITEMS + 512)
        for off, value in words.items():
            struct.pack_into("<Q", self.bytes, off, value)
        self.types = {FRAME_TYPE: _info(FRAME_TYPE, "frame", BASICSIZE, 8), CODE_TYPE: _info(CODE_TYPE, "code"), DICT_TYPE: _info(DICT_TYPE, "dict")}

    def _try(self, addr: int, size: int) -> Optional[bytes]:
        off = addr - FRAME
        return bytes(self.bytes[off : off + size]) if off >= 0 and off + size <= len(self.bytes) else None

    def _type_info(self, tp: int) -> Optional[_TypeInfo]:
        return self.types.get(tp)

    def _type_of(self, obj: int) -> Optional[_TypeInfo]:
        return {CODE: self.types[CODE_TYPE], GLOBALS: self.types[DICT_TYPE]}.get(obj)


def test_a_slot_in_the_frames_value_stack_is_that_frames():
    mem = FakeMemory()
    assert _frame_code(mem, FRAME + BASICSIZE + 8, floor=FRAME) == CODE  # type: ignore[arg-type]


def test_a_word_past_the_frames_end_is_not_that_frames():
    mem = FakeMemory()
    end = FRAME + BASICSIZE + 8 * ITEMS
    assert _frame_code(mem, end + 64, floor=FRAME) is None  # type: ignore[arg-type]

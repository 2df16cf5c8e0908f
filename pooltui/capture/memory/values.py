"""The smallest readers of a target's Python objects: an object's type (name, sizes, flags,
members), and the values of str and int objects, as each CPython version (2.7, 3.6-3.13)
lays them out. ``memory.objects`` walks dicts, attributes and containers over them.
"""

from __future__ import annotations

import struct
from typing import Optional

from pooltui.capture.memory.layouts import TP_BASICSIZE, TP_DICTOFFSET, TP_FLAGS, TP_ITEMSIZE, TP_MEMBERS, TP_MRO, TP_NAME, TPFLAGS_TYPE_SUBCLASS
from pooltui.capture.memory.reader import MemoryFault, ProcessMemory
from pooltui.model.record import Record

_STR_READ = 112  # bytes read at once for a str: header and a name of up to 56-72 characters


class _TypeInfo(Record, frozen=True):
    addr: int
    name: str
    basicsize: int
    itemsize: int
    flags: int
    dictoffset: int
    members: int
    mro: int


class ValueMemory(ProcessMemory):
    """ProcessMemory that reads types and small values (str, int)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._types: dict[int, Optional[_TypeInfo]] = {}
        self._interned: dict[int, str] = {}  # interned str objects (attribute names) by address

    # ---- types

    def _type_info(self, tp: int) -> Optional[_TypeInfo]:
        if tp in self._types:
            return self._types[tp]
        info = None
        raw = self._try(tp, TP_MRO + 8) if tp and tp % 8 == 0 else None
        if raw is not None:
            meta = struct.unpack_from("<Q", raw, 8)[0]
            meta_flags = self._u64(meta + TP_FLAGS) if meta else None
            if meta_flags is not None and meta_flags & TPFLAGS_TYPE_SUBCLASS:
                name = self.cstring(struct.unpack_from("<Q", raw, TP_NAME)[0])
                if name:
                    info = _TypeInfo(
                        addr=tp,
                        name=name,
                        basicsize=struct.unpack_from("<q", raw, TP_BASICSIZE)[0],
                        itemsize=struct.unpack_from("<q", raw, TP_ITEMSIZE)[0],
                        flags=struct.unpack_from("<Q", raw, TP_FLAGS)[0],
                        dictoffset=struct.unpack_from("<q", raw, TP_DICTOFFSET)[0],
                        members=struct.unpack_from("<Q", raw, TP_MEMBERS)[0],
                        mro=struct.unpack_from("<Q", raw, TP_MRO)[0],
                    )
        self._types[tp] = info
        return info

    def _type_of(self, obj: int) -> Optional[_TypeInfo]:
        if not obj or obj % 8:
            return None
        head = self._try(obj, 16)
        if head is None:
            return None
        refcnt, tp = struct.unpack("<qQ", head)
        if refcnt <= 0:
            return None
        return self._type_info(tp)

    def type_name(self, obj_addr: int) -> str:
        """``ob_type->tp_name`` (qualified for C types: '_thread.RLock'; short for classes)."""
        info = self._type_of(obj_addr)
        if info is None:
            raise MemoryFault(f"{obj_addr:#x} in process {self.pid} is not a readable Python object", pid=self.pid)
        return info.name

    # ---- small values

    def _str(self, addr: int) -> Optional[str]:
        """Value of a str object (2.7: PyStringObject; 3.x: compact PyUnicodeObject).

        One read of the header and the first bytes (names are short), a second only for
        the rest of a longer string: ~23,000 of these name one lock's place."""
        if addr in self._interned:
            return self._interned[addr]
        if not addr or addr % 8:
            return None
        raw = self._try(addr, _STR_READ) or self._try(addr, 40)
        if raw is None:
            return None
        refcnt, tp = struct.unpack_from("<qQ", raw)
        info = self._type_info(tp) if refcnt > 0 else None
        if info is None or info.name != "str":
            return None
        lay = self.layout
        if lay.str_kind == "bytes":
            size, interned = struct.unpack_from("<q", raw, 16)[0], struct.unpack_from("<i", raw, 32)[0]
            if not 0 <= size <= 4096:
                return None
            data = self._rest(raw, addr, lay.str_ascii_data, size)
            text = data.decode("latin-1") if data is not None else None
        else:
            length = struct.unpack_from("<q", raw, 16)[0]
            state = struct.unpack_from("<I", raw, 32)[0]
            interned, kind, compact, ascii_ = state & 3, (state >> 2) & 7, (state >> 5) & 1, (state >> 6) & 1
            if not compact or not 0 <= length <= 4096 or kind not in (1, 2, 4):
                return None
            if ascii_:
                data = self._rest(raw, addr, lay.str_ascii_data, length)
                text = data.decode("ascii", "replace") if data is not None else None
            else:
                data = self._rest(raw, addr, lay.str_compact_data, length * kind)
                text = data.decode({1: "latin-1", 2: "utf-16-le", 4: "utf-32-le"}[kind], "replace") if data is not None else None
        if text is not None and interned:
            self._interned[addr] = text
        return text

    def _rest(self, raw: bytes, addr: int, start: int, size: int) -> Optional[bytes]:
        """``size`` bytes at ``addr + start``: from ``raw`` (read at ``addr``) where it holds them."""
        if start + size <= len(raw):
            return raw[start : start + size]
        return self._try(addr + start, size)

    def _int(self, addr: int) -> Optional[int]:
        """Value of a Python int (2.7 PyIntObject, 3.x PyLongObject); None if not an int."""
        info = self._type_of(addr)
        if info is None or info.name not in ("int", "bool"):
            return None
        if self.layout.int_kind == "ival":
            raw = self._try(addr + 16, 8)
            return struct.unpack("<q", raw)[0] if raw is not None else None
        raw = self._try(addr + 16, 8)
        if raw is None:
            return None
        word = struct.unpack("<q", raw)[0]
        if self.layout.int_kind == "tagged":
            sign_bits, ndigits = word & 3, word >> 3
            if sign_bits == 1:
                return 0
            sign = -1 if sign_bits == 2 else 1
        else:
            sign, ndigits = (-1 if word < 0 else 1), abs(word)
        if not 0 <= ndigits <= 8:
            return None
        if ndigits == 0:
            return 0
        digits = self._try(addr + 24, 4 * ndigits)
        if digits is None:
            return None
        value = 0
        for i, d in enumerate(struct.unpack(f"<{ndigits}I", digits)):
            if d >> 30:
                return None
            value |= d << (30 * i)
        return sign * value

"""Walkers over the objects of a target's memory: dicts, instance attributes (dict, managed
dict, inline values, ``__slots__``), functions, modules, classes and container items, over
the types and str / int values ``memory.values`` reads.

Every walk is bounded (entries per dict, items per container) and every read goes through
``ProcessMemory`` (budget, error translation). A value that does not validate reads as
None or an empty result: the target keeps running while it is read.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Optional

from pooltui.capture.memory.layouts import (
    CELL_REF,
    MEMBERDEF_SIZE,
    MODULE_DICT,
    PY_RELATIVE_OFFSET,
    T_OBJECT,
    T_OBJECT_EX,
    TP_DICT,
    TPFLAGS_DICT_SUBCLASS,
    TPFLAGS_HEAPTYPE,
    TPFLAGS_INLINE_VALUES,
    TPFLAGS_LIST_SUBCLASS,
    TPFLAGS_MANAGED_DICT,
    TPFLAGS_TUPLE_SUBCLASS,
)
from pooltui.capture.memory.values import ValueMemory, _TypeInfo
from pooltui.model.record import Record

MAX_DICT_ENTRIES = 4096  # entries read from one dict unless the caller asks for fewer


class Function(Record, frozen=True):
    """What a function object says about where its variables live."""

    name: str  # __qualname__ (2.7: __name__)
    globals: int  # its module's dict
    closure: dict[str, int]  # free variable name -> the object in its cell


PLAIN_LEAF_TYPES = frozenset(
    {
        "str", "bytes", "unicode", "int", "long", "float", "complex", "bool", "NoneType", "bytearray",
        "function", "builtin_function_or_method", "method", "instancemethod", "method-wrapper",
        "wrapper_descriptor", "method_descriptor", "getset_descriptor", "member_descriptor",
        "code", "frame", "cell", "module", "classobj", "generator", "coroutine", "async_generator",
        "weakref", "weakproxy", "property", "staticmethod", "classmethod", "ellipsis", "range", "xrange",
    }
)  # fmt: skip


def _unpacked(table: Optional[tuple[bytes, int, Optional[tuple[int, ...]]]]) -> list[tuple[int, int]]:
    """(key, value) addresses of a raw entry table (``_dict_table``), empty slots left out."""
    if table is None:
        return []
    raw, esize, vals = table
    out = []
    for i in range(len(raw) // esize):
        if esize == 24:
            _h, key, value = struct.unpack_from("<qQQ", raw, i * 24)
        else:
            key, value = struct.unpack_from("<QQ", raw, i * 16)
        if vals is not None:
            value = vals[i]
        if key and value:
            out.append((key, value))
    return out


class ObjectMemory(ValueMemory):
    """ProcessMemory that reads Python objects: their attributes, dicts, functions and items."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._slots: dict[int, list[tuple[str, int]]] = {}

    # ---- attributes

    def _slot_members(self, tp: int) -> list[tuple[str, int]]:
        """(name, offset) of object members (``__slots__``) of the type and its MRO."""
        if tp in self._slots:
            return self._slots[tp]
        info = self._type_info(tp)
        types: list[int] = [tp]
        if info is not None and info.mro:
            mro_info = self._type_of(info.mro)
            n = self._u64(info.mro + 16) if mro_info is not None and mro_info.name == "tuple" else None
            if n is not None and 0 < n <= 64:
                raw = self._try(info.mro + 24, 8 * n)
                if raw is not None:
                    types = list(struct.unpack(f"<{n}Q", raw))
        out: list[tuple[str, int]] = []
        seen: set[str] = set()
        for t in types:
            t_info = self._type_info(t)
            if t_info is None or not t_info.members:
                continue
            for i in range(256):
                raw = self._try(t_info.members + i * MEMBERDEF_SIZE, MEMBERDEF_SIZE)
                if raw is None:
                    break
                name_ptr = struct.unpack_from("<Q", raw, 0)[0]
                m_type = struct.unpack_from("<i", raw, 8)[0]
                offset = struct.unpack_from("<q", raw, 16)[0]
                m_flags = struct.unpack_from("<i", raw, 24)[0]
                if not name_ptr:
                    break
                if m_type not in (T_OBJECT, T_OBJECT_EX) or offset <= 0:
                    continue
                if self.layout.member_offsets_relative and m_flags & PY_RELATIVE_OFFSET:
                    continue
                name = self.cstring(name_ptr)
                if name and name not in seen:
                    seen.add(name)
                    out.append((name, offset))
        self._slots[tp] = out
        return out

    def _dict_entries(self, dict_addr: int, limit: int = MAX_DICT_ENTRIES) -> list[tuple[int, int]]:
        """(key address, value address) of a dict object, its first ``limit`` entries;
        [] if it is not a readable dict (or a 2.7 table far larger than ``limit``)."""
        return _unpacked(self._dict_table(dict_addr, limit))

    def value_at_key(self, dict_addr: int, key_addr: int, limit: int = MAX_DICT_ENTRIES) -> Optional[int]:
        """``d[k]`` for the key object at ``key_addr`` (compared by address, not by value):
        one search of the raw entry table instead of an entry list built in Python."""
        table = self._dict_table(dict_addr, limit)
        if table is None:
            return None
        raw, esize, vals = table
        needle, at = struct.pack("<Q", key_addr), esize - 16  # the key's offset in an entry
        pos = raw.find(needle)
        while pos >= 0:
            if pos % esize == at:
                i = pos // esize
                value = vals[i] if vals is not None else struct.unpack_from("<Q", raw, pos + 8)[0]
                return value or None
            pos = raw.find(needle, pos + 1)
        return None

    def _dict_table(self, dict_addr: int, limit: int) -> Optional[tuple[bytes, int, Optional[tuple[int, ...]]]]:
        """(raw entries, entry size, split values or None) of a dict object, its first
        ``limit`` entries; None if it is not a readable dict."""
        info = self._type_of(dict_addr)
        if info is None or not info.flags & TPFLAGS_DICT_SUBCLASS:
            return None
        kind = self.layout.dict_kind
        if kind == "py27":
            head = self._try(dict_addr + 32, 16)
            if head is None:
                return None
            mask, table = struct.unpack("<qQ", head)
            if not 0 <= mask < max(4 * limit, 64):
                return None
            raw = self._try(table, (mask + 1) * 24)
            return None if raw is None else (raw, 24, None)
        head = self._try(dict_addr + 32, 16)
        if head is None:
            return None
        keys, values = struct.unpack("<QQ", head)
        return self._keys_table(keys, values + self.layout.values_header if values else 0, limit)

    def _keys_entries(self, keys: int, values: int, bound: int = MAX_DICT_ENTRIES) -> list[tuple[int, int]]:
        """Entries of a PyDictKeysObject, at most ``bound``; ``values`` = split values array (or 0)."""
        return _unpacked(self._keys_table(keys, values, bound))

    def _keys_table(self, keys: int, values: int, bound: int) -> Optional[tuple[bytes, int, Optional[tuple[int, ...]]]]:
        """(raw entries, entry size, split values or None) of a PyDictKeysObject, at most ``bound`` entries."""
        if not keys:
            return None
        if self.layout.dict_kind == "py36":
            head = self._try(keys, 40)
            if head is None:
                return None
            size = struct.unpack_from("<q", head, 8)[0]
            nentries = struct.unpack_from("<q", head, 32)[0]
            if not 0 < size <= 1 << 24 or not 0 <= nentries <= size:
                return None
            ixsize = 1 if size <= 0xFF else 2 if size <= 0xFFFF else 4 if size <= 0xFFFFFFFF else 8
            entries, esize = keys + 40 + size * ixsize, 24
        else:
            head = self._try(keys, 32)
            if head is None:
                return None
            log2_size, log2_index_bytes, dk_kind = head[8], head[9], head[10]
            nentries = struct.unpack_from("<q", head, 24)[0]
            if log2_size > 24 or log2_index_bytes > 27 or dk_kind > 2 or not 0 <= nentries <= 1 << log2_size:
                return None
            entries, esize = keys + 32 + (1 << log2_index_bytes), (24 if dk_kind == 0 else 16)
        nentries = min(nentries, bound)
        if nentries == 0:
            return None
        raw = self._try(entries, nentries * esize)
        if raw is None:
            return None
        vals: Optional[tuple[int, ...]] = None
        if values:
            vraw = self._try(values, nentries * 8)
            if vraw is None:
                return None
            vals = struct.unpack(f"<{nentries}Q", vraw)
        return raw, esize, vals

    def _named(self, entries: Sequence[tuple[int, int]], limit: Optional[int] = None) -> dict[str, int]:
        out: dict[str, int] = {}
        for key, value in entries[:limit] if limit is not None else entries:
            name = self._str(key)
            if name is not None and name not in out:
                out[name] = value
        return out

    def attrs(self, obj_addr: int, limit: Optional[int] = None) -> dict[str, int]:
        """Instance attributes of ``obj_addr``: name -> object address.

        Reads the instance dict (``tp_dictoffset``; 3.11 managed dict/values; 3.12
        tagged dict-or-values; 3.13 inline values or the materialized dict), 2.7
        old-style instances, and ``__slots__`` (``tp_members`` of the type's MRO). {} when
        there are none or the object cannot be read. ``limit``: read at most that many
        dict entries (find_locks uses it against huge instance dicts)."""
        info = self._type_of(obj_addr)
        if info is None:
            return {}
        out: dict[str, int] = {}
        for name, offset in self._slot_members(info.addr):
            value = self._u64(obj_addr + offset)
            if value:
                out[name] = value
        lay = self.layout
        bound = limit if limit is not None else MAX_DICT_ENTRIES
        entries: list[tuple[int, int]] = []
        if lay.old_instance_dict is not None and info.name == "instance":
            dict_addr = self._u64(obj_addr + lay.old_instance_dict)
            entries = self._dict_entries(dict_addr, bound) if dict_addr else []
        elif lay.managed == "313" and info.flags & TPFLAGS_INLINE_VALUES:
            head = self._try(obj_addr + info.basicsize, 4)  # capacity, size, embedded, valid
            if head is not None and head[3]:
                keys = self._u64(info.addr + (lay.cached_keys or 0))
                entries = self._keys_entries(keys or 0, obj_addr + info.basicsize + 8, bound=min(head[0], bound))
            else:
                dict_addr = self._u64(obj_addr - 24)
                entries = self._dict_entries(dict_addr, bound) if dict_addr else []
        elif lay.managed is not None and info.flags & TPFLAGS_MANAGED_DICT:
            word = self._u64(obj_addr - 24)
            if lay.managed == "312" and word and word & 1:
                keys = self._u64(info.addr + (lay.cached_keys or 0))
                entries = self._keys_entries(keys or 0, word + 1, bound)
            elif word:
                entries = self._dict_entries(word, bound)
            elif lay.managed == "311":
                values = self._u64(obj_addr - 32)
                if values:
                    keys = self._u64(info.addr + (lay.cached_keys or 0))
                    entries = self._keys_entries(keys or 0, values, bound)
        elif info.dictoffset > 0:
            dict_addr = self._u64(obj_addr + info.dictoffset)
            entries = self._dict_entries(dict_addr, bound) if dict_addr else []
        for name, value in self._named(entries, limit).items():
            out.setdefault(name, value)
        return out

    def resolve(self, obj_addr: int, path: Sequence[str]) -> Optional[int]:
        """Address of ``obj.a.b...`` following ``path`` through attrs(), or None."""
        cur: Optional[int] = obj_addr
        for name in path:
            if not cur:
                return None
            cur = self.attrs(cur).get(name)
        return cur

    # ---- functions, cells, modules, classes (for where a lock lives)

    def tuple_items(self, addr: int, limit: int = 256) -> list[int]:
        """Item addresses of a tuple (at most ``limit``); [] if it is not one."""
        info = self._type_of(addr)
        if info is None or not info.flags & TPFLAGS_TUPLE_SUBCLASS:
            return []
        n = self._u64(addr + 16)
        if n is None or not 0 <= n <= limit:
            return []
        raw = self._try(addr + 24, 8 * n) if n else b""
        return list(struct.unpack(f"<{n}Q", raw)) if raw else []

    def function(self, addr: int) -> Optional[Function]:
        """Name, globals and closure (free variable name -> cell contents) of a function."""
        info = self._type_of(addr)
        if info is None or info.name != "function":
            return None
        code_at, globals_at, closure_at, name_at, qualname_at = self.layout.function
        raw = self._try(addr, max(code_at, globals_at, closure_at, name_at, qualname_at or 0) + 8)
        if raw is None:
            return None
        field = lambda offset: struct.unpack_from("<Q", raw, offset)[0]  # noqa: E731
        name = self._str(field(qualname_at if qualname_at is not None else name_at)) or "?"
        cells = self.tuple_items(field(closure_at)) if field(closure_at) else []
        names = self.tuple_items(self._u64(field(code_at) + self.layout.code_freevar_names) or 0, 4096)
        closure = {}
        if cells and len(names) >= len(cells):
            for var, cell in zip(names[len(names) - len(cells) :], cells):
                var_name, cell_info = self._str(var), self._type_of(cell)
                value = self._u64(cell + CELL_REF) if cell_info is not None and cell_info.name == "cell" else None
                if var_name and value:
                    closure[var_name] = value
        return Function(name, field(globals_at), closure)

    def module_dict(self, addr: int) -> Optional[int]:
        info = self._type_of(addr)
        return self._u64(addr + MODULE_DICT) if info is not None and info.name == "module" else None

    def dict_items(self, dict_addr: int, limit: int = MAX_DICT_ENTRIES) -> dict[str, int]:
        """str key -> value address of a dict (its first ``limit`` entries)."""
        return self._named(self._dict_entries(dict_addr, limit))

    def class_dict(self, type_addr: int, limit: int = MAX_DICT_ENTRIES) -> dict[str, int]:
        """Attributes defined in a class's own body (``tp_dict``), dunder names left out."""
        info = self._type_info(type_addr)
        if info is None or not info.flags & TPFLAGS_HEAPTYPE:
            return {}
        dict_addr = self._u64(type_addr + TP_DICT)
        items = self.dict_items(dict_addr, limit) if dict_addr else {}
        return {k: v for k, v in items.items() if not (k.startswith("__") and k.endswith("__"))}

    # ---- containers (for find_locks)

    def _items(self, obj: int, info: _TypeInfo, limit: int) -> list[tuple[str, int]]:
        """(suffix, address) of the items of a list/tuple/deque/str-keyed dict."""
        if info.flags & (TPFLAGS_LIST_SUBCLASS | TPFLAGS_TUPLE_SUBCLASS):
            n = self._u64(obj + 16)
            if n is None or not 0 <= n < 1 << 31:
                return []
            n = min(n, limit)
            if info.flags & TPFLAGS_LIST_SUBCLASS:
                base = self._u64(obj + 24)
                if not base:
                    return []
            else:
                base = obj + 24
            raw = self._try(base, 8 * n) if n else b""
            if raw is None:
                return []
            return [(f"[{i}]", v) for i, v in enumerate(struct.unpack(f"<{n}Q", raw)) if v]
        if info.flags & TPFLAGS_DICT_SUBCLASS:
            return [(f"[{k!r}]", v) for k, v in self._named(self._dict_entries(obj, limit), limit).items()]
        if info.name == "collections.deque" and self.layout.deque_items:
            head = self._try(obj + 16, 32)  # ob_size, leftblock, rightblock, leftindex
            if head is None:
                return []
            n, block, _right, index = struct.unpack("<qQQq", head)
            out = []
            for i in range(min(max(n, 0), limit)):
                if not block or not 0 <= index < 64:
                    break
                value = self._u64(block + 8 + 8 * index)
                if value:
                    out.append((f"[{i}]", value))
                index += 1
                if index == 64:
                    block, index = self._u64(block + 8 + 64 * 8) or 0, 0
            return out
        return []

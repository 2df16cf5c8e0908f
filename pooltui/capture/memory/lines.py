"""Line numbers of a frame, as py-spy 0.4.3 computes them from a code object's line table
and the frame's instruction offset: CPython's ``PyCode_Addr2Line`` but for the marked
quirks (the direct reader's stacks must be py-spy's, and ``capture.direct`` checks that
they are). Pure functions of bytes; for ``capture.memory.stacks``."""

from __future__ import annotations

from typing import Optional

from pooltui.capture import state


def line_lnotab(table: bytes, first: int, lasti: int) -> int:
    """<= 3.9: ``co_lnotab`` pairs (bytecode delta, signed line delta); ``lasti`` in bytes."""
    line, addr = first, 0
    for i in range(0, len(table) - 1, 2):
        addr += table[i]
        if addr > lasti:
            break
        delta = table[i + 1]
        line += delta - 256 if delta >= 128 else delta
    return line


def line_310(table: bytes, first: int, lasti: int) -> int:
    """3.10: ``co_linetable`` pairs (bytecode delta, signed line delta); offset in bytes.
    py-spy skips a "no line" pair (-128) without advancing the address (CPython advances),
    and adds a pair's line delta before it compares the address."""
    line, addr = first, 0
    for i in range(0, len(table) - 1, 2):
        delta = table[i + 1]
        if delta == 128:  # -128: no line
            continue
        line += delta - 256 if delta > 128 else delta
        addr += table[i]
        if addr > lasti:
            break
    return line


def _varint(table: bytes, i: int) -> tuple[int, int]:
    """(value, index after it) of a 6-bit-chunk varint; a truncated one counts what it has."""
    value = shift = 0
    while i < len(table):
        read = table[i]
        i += 1
        value |= (read & 63) << shift
        shift += 6
        if not read & 64:
            break
    return value, i


def line_311(table: bytes, first: int, lasti: int) -> int:
    """3.11+: the location table (PEP 657 entries); ``lasti`` in bytes (code units * 2). As
    py-spy reads it, an entry without a location keeps the line before it."""
    line, addr, i, n = first, 0, 0, len(table)
    while i < n:
        head = table[i]
        i += 1
        addr += ((head & 7) + 1) * 2
        code = (head >> 3) & 15
        delta = 0
        if code in (13, 14):  # no columns / long form: a signed varint line delta (long: 3 varints more)
            raw, i = _varint(table, i)
            delta = -(raw >> 1) if raw & 1 else raw >> 1
            if code == 14:
                for _ in range(3):
                    _, i = _varint(table, i)
        elif code in (10, 11, 12):  # one line: delta 0, 1, 2; two column bytes
            delta = code - 10
            i += 2
        elif code != 15:  # short form: one column byte
            i += 1
        line += delta
        if addr > lasti:
            break
    return line


_LINES = {"lnotab": line_lnotab, "310": line_310, "311": line_311}


def line_of(kind: str, table: Optional[bytes], first: int, lasti: int) -> int:
    """The line of instruction offset ``lasti`` by line table ``table`` of kind ``kind``
    ("lnotab", "310", "311"); 0 when the table did not read (py-spy says 0). Cached in the
    capture's state (a pure function of the bytes each process's own table read gave):
    fork siblings ask for the same lines."""
    if table is None:
        return 0
    cache = state.current().lines
    key = (kind, table, first, lasti)
    found = cache.get(key)
    if found is None:
        found = cache.put(key, _LINES[kind](table, first, lasti))
    return found

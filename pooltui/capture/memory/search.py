"""Searching a process's memory for 64-bit values: where a SemLock's ``handle`` (a sem_t
address) or a lock object's address is stored.

Every 8-aligned occurrence of a value in the given mappings, read in chunks. It reads a
lot, so its callers run it under their own budget (``SCAN_BUDGET``: about 1 s per 180 MB
mapped).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from pooltui.capture.memory.kernel import Mapping
from pooltui.capture.memory.lockstate import TargetMemory
from pooltui.capture.memory.reader import Budget

SCAN_BUDGET = Budget(max_bytes=2 << 30, seconds=20.0)

_CHUNK = 16 << 20


def _chunks(mem: TargetMemory, regions: Iterable[Mapping], overlap: int) -> Iterable[tuple[int, bytes, int]]:
    """(address, data, length owned) per chunk; each chunk also carries ``overlap``
    bytes of the next one so a match may straddle the boundary."""
    for region in regions:
        pos = region.start
        while pos < region.end:
            owned = min(_CHUNK, region.end - pos)
            data = mem._try(pos, min(owned + overlap, region.end - pos))
            if data is not None:
                yield pos, data, owned
            pos += owned


def _search_words(mem: TargetMemory, regions: Iterable[Mapping], values: Iterable[int]) -> dict[int, list[int]]:
    """8-aligned addresses holding each 64-bit value. The needle is the value without its
    high zero bytes (bytes.find skips fast over zero-filled memory when the needle does
    not end in a zero byte); the zero bytes and the alignment are checked per hit."""
    needles = {}
    for v in set(values):
        raw = struct.pack("<Q", v)
        needles[v] = (raw.rstrip(b"\0") or b"\0", raw)
    hits: dict[int, list[int]] = {v: [] for v in needles}
    for pos, data, owned in _chunks(mem, regions, 7):
        for v, (needle, full) in needles.items():
            i = data.find(needle)
            while 0 <= i < owned:
                if (pos + i) % 8 == 0 and data[i : i + 8] == full:
                    hits[v].append(pos + i)
                    i = data.find(needle, i + 8)
                else:
                    i = data.find(needle, i + 1)
    return hits

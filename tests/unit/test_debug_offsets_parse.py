"""The published-offsets parser takes the target's bytes as hostile: no cookie, another
version, a free-threaded flag out of range, a truncated record or a value no struct field
could have all read as "not published" (the reader then leaves the process to py-spy)."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from pooltui.capture.memory import debugoffsets

SIZE = debugoffsets.size_of((3, 13))


def record(version_hex: int = 0x030D00F0, free_threaded: int = 0, value: int = 8) -> bytes:
    assert SIZE is not None
    return debugoffsets.COOKIE + struct.pack("<QQ", version_hex, free_threaded) + struct.pack("<Q", value) * ((SIZE - 24) // 8)


def test_a_whole_record_parses():
    parsed = debugoffsets.parse(record(), (3, 13))
    assert parsed is not None and parsed.version == (3, 13) and parsed["thread_state.thread_id"] == 8


def test_what_is_not_a_record_is_none():
    assert debugoffsets.parse(record()[:-1], (3, 13)) is None  # truncated
    assert debugoffsets.parse(b"ydebugpy" + record()[8:], (3, 13)) is None  # cookie
    assert debugoffsets.parse(record(version_hex=0x030C00F0), (3, 13)) is None  # another version
    assert debugoffsets.parse(record(free_threaded=7), (3, 13)) is None
    assert debugoffsets.parse(record(value=1 << 40), (3, 13)) is None  # not an offset
    assert debugoffsets.parse(record(), (3, 12)) is None  # no record of 3.12's (it publishes none)
    assert debugoffsets.size_of((3, 14)) is None  # 3.14 changed the struct: no record yet


@given(st.binary(max_size=2 * (SIZE or 0)))
def test_any_bytes_parse_or_are_refused(data):
    parsed = debugoffsets.parse(data, (3, 13))
    assert parsed is None or all(v < debugoffsets.MAX_OFFSET for v in parsed.fields.values())

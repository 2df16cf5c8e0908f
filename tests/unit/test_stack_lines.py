"""The direct reader's line numbers (capture.memory.lines) against CPython's own.

This Python's code objects are 3.11+ code objects: for every instruction of every function
of a few hundred stdlib modules, ``line_311`` over ``co_linetable`` must give the line
``co_lines()`` gives (where CPython knows one; where it does not, py-spy keeps the line
before, and so does the reader). The older tables (lnotab, 3.10) are checked on real
targets in tests/live/test_direct.py, against py-spy.
"""

from __future__ import annotations

import sys
import types

import pytest

from pooltui.capture.memory import lines

pytestmark = pytest.mark.unit


def _code_objects():
    import asyncio
    import concurrent.futures
    import email.parser
    import json
    import logging
    import multiprocessing.pool
    import threading

    seen = set()
    todo = [m.__dict__ for m in (asyncio, concurrent.futures, email.parser, json, logging, multiprocessing.pool, threading)]
    for namespace in todo:
        for value in list(namespace.values()):
            if isinstance(value, type):
                todo.append(dict(vars(value)))
            func = getattr(value, "__func__", value)
            code = getattr(func, "__code__", None)
            stack = [code] if isinstance(code, types.CodeType) else []
            while stack:
                c = stack.pop()
                if id(c) not in seen:
                    seen.add(id(c))
                    yield c
                    stack.extend(k for k in c.co_consts if isinstance(k, types.CodeType))


@pytest.mark.skipif(sys.version_info < (3, 11), reason="the location table is 3.11+'s; pooltui's venv may be older")
def test_the_location_table_gives_cpythons_line_at_every_instruction():
    checked = 0
    for code in _code_objects():
        for start, end, line in code.co_lines():
            if line is None:
                continue
            for offset in range(start, end, 2):
                assert lines.line_311(code.co_linetable, code.co_firstlineno, offset) == line, (code, offset)
                checked += 1
        if checked > 30_000:
            break
    assert checked > 20_000


def test_a_frame_not_started_yet_reads_its_first_line():
    # lasti -2 (3.11+: prev_instr before the first instruction), -1 (<= 3.9), -2 (3.10: 2 * -1)
    assert lines.line_311(b"\x80\x00", 7, -2) == 7
    assert lines.line_lnotab(b"\x02\x01", 7, -1) == 7
    assert lines.line_310(b"\x02\x01", 7, -2) == 8  # py-spy adds the delta before it compares


def test_py_spys_3_10_quirk_a_no_line_pair_does_not_advance_the_address():
    # pairs (bytecode delta, line delta): (4, +1), (4, no line), (4, +2)
    table = bytes([4, 1, 4, 0x80, 4, 2])
    assert [lines.line_310(table, 10, lasti) for lasti in (0, 3, 4, 7, 8)] == [11, 11, 13, 13, 13]


def test_a_truncated_or_garbage_table_never_raises():
    for table in (b"", b"\xff", b"\xf8\xff\xff\xff", bytes(range(256)), b"\x80" * 3):
        for lasti in (-2, 0, 10, 10_000):
            assert isinstance(lines.line_311(table, 1, lasti), int)
            assert isinstance(lines.line_310(table, 1, lasti), int)
            assert isinstance(lines.line_lnotab(table, 1, lasti), int)

"""Target text cannot forge lines or hide itself on screen or in a report (issue 14
item 14): control characters, newlines, bidi and other invisible characters are shown
escaped wherever a captured name, path or line is shown."""

from __future__ import annotations

import sys
import unicodedata

import pytest

from pooltui.model import Frame, Process, Thread
from pooltui.report.text import clean, one_line
from pooltui.ui import format as fmt

# default-ignorable code points that are not Cf (DerivedCoreProperties.txt)
IGNORABLE = [0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180B, 0x180C, 0x180D, 0x180F, 0x3164, 0xFFA0, *range(0xFE00, 0xFE10), 0xE0100, 0xE01EF]
NAMED = [0x061C, 0x2028, 0x2029, 0x00AD, 0x034F, 0x202E, 0x2066, 0x200B, 0xFEFF, 0xD800]


def invisible() -> list[int]:
    return [c for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) in ("Cf", "Zl", "Zp", "Cs", "Cc")]


def test_every_format_separator_surrogate_and_control_character_is_escaped():
    text = "".join(chr(c) for c in invisible() + IGNORABLE)
    out = clean(text)
    left = {f"U+{ord(ch):04X}" for ch in out if unicodedata.category(ch) in ("Cf", "Zl", "Zp", "Cs") or ord(ch) in IGNORABLE}
    assert left == set()
    assert set(one_line(text)) <= set("\\xuUnt0123456789abcdef")  # newline and tab too


@pytest.mark.parametrize("code", NAMED)
def test_named_characters_are_shown_as_escapes(code):
    assert clean(f"a{chr(code)}b") == (f"a\\u{code:04x}b")


def test_astral_format_characters_use_the_long_escape():
    assert clean("x\U000e0041y") == "x\\U000e0041y"


def test_a_newline_in_a_thread_file_or_process_name_stays_on_its_line():
    forged = "worker\n    hold  app.py:1  ▶ forged line"
    frame = Frame(function=forged, file=f"/srv/{forged}.py", line=3, short_file=f"{forged}.py", code="x = 1\nforged()")
    thread = Thread(tid=5, ident=1, name=forged, role=forged, frames=(frame,))
    proc = Process(pid=5, ppid=1, create_time=1.0, name=forged, cmdline=(forged, "--x\u2028y"), role=forged)
    for content in (fmt.frame_line(frame), fmt.thread_title(thread), fmt.process_title(proc, "idle")):
        lines = content.plain.split("\n")
        assert not any(line.startswith("    hold") for line in lines), content.plain
        assert "\u2028" not in content.plain
    assert fmt.thread_block(thread).plain.count("\n") == 1  # title + one frame line
    assert fmt.process_title(proc, "idle").plain.count("\n") == 1  # title + command line

"""Small facts about frames: whose code it is (user, library, stdlib, native) and
what function it is, the same way for 2.7 (``wait``) and 3.11+ (``Condition.wait``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Optional

from pooltui.model import Frame

_STDLIB = re.compile(r"/lib/python\d(?:\.\d+)?t?/(?!site-packages/|dist-packages/)")
_LIBRARY = re.compile(r"/(?:site|dist)-packages/")


def base_name(function: str) -> str:
    """``Condition.wait`` (3.11+ qualified names) and ``wait`` (older) both give ``wait``."""
    return function.rpartition(".")[2]


def origin(frame: Frame) -> str:
    """'native', 'stdlib', 'library' or 'user'."""
    if frame.native:
        return "native"
    if _LIBRARY.search(frame.file):
        return "library"
    if _STDLIB.search(frame.file) or frame.file.startswith("<frozen"):
        return "stdlib"
    return "user"


def is_user(frame: Frame) -> bool:
    return origin(frame) == "user"


def matches(frame: Frame, file_suffix: str, *functions: str) -> bool:
    """Frame is in a file ending with ``file_suffix`` and (if given) one of ``functions``.
    A qualified name (``Supervisor.body``) only matches 3.11+ frames, which carry one."""
    if not (frame.file.endswith(file_suffix) or frame.short_file.endswith(file_suffix)):
        return False
    return not functions or base_name(frame.function) in functions or frame.function in functions


def find(frames: Sequence[Frame], file_suffix: str, *functions: str) -> Optional[int]:
    """Index of the innermost frame matching, or None."""
    for i, frame in enumerate(frames):
        if not frame.native and matches(frame, file_suffix, *functions):
            return i
    return None


def innermost_user(frames: Sequence[Frame]) -> Optional[int]:
    for i, frame in enumerate(frames):
        if is_user(frame):
            return i
    return None


def code_text(code: str) -> str:
    """A source line without its trailing comment, for one-line summaries."""
    import io
    import tokenize

    text = code.strip()
    if "#" not in text:
        return text
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT:
                return text[: tok.start[1]].rstrip()
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return text

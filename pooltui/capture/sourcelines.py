"""Source lines for frames, read from the target's own file system view
(``/proc/PID/root``), so a containerised target shows its own files.

A C call (``with self.lock:``, ``time.sleep(5)``) has no Python frame of its own: the
line the thread stands on is the best evidence of what it waits for. Files are cached
by (path, mtime, size); a file that cannot be read just leaves ``code`` empty.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache
from typing import Optional

from pooltui.model import Frame

MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_LINE = 200


@lru_cache(maxsize=512)
def _lines(path: str, mtime: float, size: int) -> tuple[str, ...]:
    if size > MAX_FILE_BYTES:
        return ()
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES)
    except OSError:
        return ()
    return tuple(data.decode("utf-8", "replace").splitlines())


def line_of(root: str, file: str, line: int) -> Optional[str]:
    if not file.startswith("/") or line <= 0:
        return None
    path = root + file
    try:
        st = os.stat(path)
    except OSError:
        return None
    lines = _lines(path, st.st_mtime, st.st_size)
    if line > len(lines):
        return None
    return lines[line - 1].strip()[:MAX_LINE] or None


def with_code(frames: Sequence[Frame], root: str) -> tuple[Frame, ...]:
    return tuple(f if f.native or f.code else replace(f, code=line_of(root, f.file, f.line)) for f in frames)

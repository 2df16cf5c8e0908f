"""Source lines for frames, read from the target's own file system view
(``/proc/PID/root``), so a containerised target shows its own files.

A C call (``with self.lock:``, ``time.sleep(5)``) has no Python frame of its own: the
line the thread stands on is the best evidence of what it waits for. Files are cached
by (device, inode, mtime, size), so the same file seen through each worker's
``/proc/PID/root`` is read once; a file that cannot be read just leaves ``code`` empty.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from typing import Optional

from pooltui.model import Frame

MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_LINE = 200


_FILES: dict[tuple[int, int, float, int], tuple[str, ...]] = {}  # (dev, inode, mtime, size) -> lines
MAX_FILES = 512


def _lines(identity: tuple[int, int, float, int], path: str) -> tuple[str, ...]:
    cached = _FILES.get(identity)
    if cached is not None:
        return cached
    lines = _read(path) if identity[3] <= MAX_FILE_BYTES else ()
    if len(_FILES) >= MAX_FILES:
        del _FILES[next(iter(_FILES))]  # the oldest
    _FILES[identity] = lines
    return lines


def _read(path: str) -> tuple[str, ...]:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES)
    except OSError:
        return ()
    return tuple(data.decode("utf-8", "replace").splitlines())


def line_of(root: str, file: str, line: int, files: Optional[dict] = None) -> Optional[str]:
    """Line ``line`` of ``file`` as the process under ``root`` sees it. ``files`` caches
    the stat of each (root directory, file) for the duration of one capture, so fork
    siblings (same root) stat each file once."""
    if not file.startswith("/") or line <= 0:
        return None
    path = root + file
    key = (_identity(root, files), file)
    identity = files.get(key) if files is not None else None
    if identity is None:
        identity = _stat(path)
        if identity is None:
            return None
        if files is not None:
            files[key] = identity
    lines = _lines(identity, path)
    if line > len(lines):
        return None
    return lines[line - 1].strip()[:MAX_LINE] or None


def _stat(path: str) -> Optional[tuple[int, int, float, int]]:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_mtime, st.st_size)


def _identity(root: str, files: Optional[dict]) -> object:
    if files is None:
        return root
    if root not in files:
        files[root] = _stat(root) or root
    return files[root]


def with_code(frames: Sequence[Frame], root: str, files: Optional[dict] = None) -> tuple[Frame, ...]:
    return tuple(f if f.native or f.code else replace(f, code=line_of(root, f.file, f.line, files)) for f in frames)

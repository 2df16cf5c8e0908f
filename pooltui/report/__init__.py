"""Render a Snapshot (and Timeline) to JSON, Markdown or HTML; load JSON back.

Writing is atomic (temp file in the same directory, fsync, rename) and the file is
created 0600: a report may hold command lines and locals. Only a new name or an existing
regular file is written: `-o /dev/null`, a symlink, a FIFO or a directory is refused
(rename would replace the device node or the link itself). Bytes of a target that are
not UTF-8 (argv, comm, file names: surrogate-escaped strings) never stop a write:
Markdown and HTML show them as ``\\xNN``, JSON as ``\\udcNN`` escapes that load back
as the same string.

Loading reads regular files only (a FIFO or /dev/zero named as a report is refused at
once, without reading), at most ``MAX_REPORT_BYTES``.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path
from typing import Optional

from pooltui.model import MAX_REPORT_BYTES, Report, ReportError, Snapshot, Timeline, dumps, escape_surrogates, loads

FORMATS = ("json", "md", "html")


class OutputError(OSError):
    """The report could not be written; the old file (if any) is untouched."""


def format_for(path: str, explicit: Optional[str] = None) -> str:
    if explicit:
        return explicit
    suffix = Path(path).suffix.lower().lstrip(".")
    return {"md": "md", "markdown": "md", "html": "html", "htm": "html"}.get(suffix, "json")


def render(snapshot: Snapshot, fmt: str, timeline: Optional[Timeline] = None) -> str:
    if fmt == "json":
        return dumps(snapshot, timeline)
    if fmt == "md":
        from pooltui.report.markdown import render_markdown

        return escape_surrogates(render_markdown(snapshot, timeline))
    if fmt == "html":
        from pooltui.report.html import render_html

        return escape_surrogates(render_html(snapshot, timeline))
    raise ValueError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")


_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def check_output(path: str | Path) -> Path:
    """``path`` as a place a report may be written: a new name or a regular file (not
    following a symlink), in a folder that exists; else OutputError. Checked again by the
    write itself; `snapshot -o` asks first so that a capture is not taken for nothing."""
    target = Path(path)
    try:
        mode = os.lstat(target).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise OutputError(f"cannot write report to {_shown(target)}: {exc.strerror}") from None
    if mode is not None and not stat.S_ISREG(mode):
        raise OutputError(f"cannot write report: {_shown(target)} is {_kind(mode)}, not a regular file (give a new file name)")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"cannot write report: directory {_shown(folder)} does not exist")
    return target


def write_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` via a 0600 temp file + rename; raise OutputError.
    ``path`` must be a new name or an existing regular file (checked without following
    a symlink); the temp file is removed on any failure."""
    target = check_output(path)
    folder = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except FileNotFoundError as exc:
        if folder.is_dir():  # /proc, /sys: the folder is there, its filesystem creates no files
            raise OutputError(
                f"cannot write report: no new file can be created in {_shown(folder)} ({exc.strerror}; a /proc or /sys folder?)"
            ) from None
        raise OutputError(f"cannot write report: directory {_shown(folder)} does not exist") from None
    except PermissionError:
        raise OutputError(f"cannot write report: no permission to write in {_shown(folder)}") from None
    except OSError as exc:
        raise OutputError(f"cannot write report to {_shown(target)}: {exc.strerror}") from None
    try:
        # backslashreplace: a lone surrogate left in JSON becomes a \udcNN escape (loads back the same)
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as f:  # mkstemp creates it 0600
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write report to {_shown(target)}: {exc.strerror or exc}") from None
        raise
    return target


def _shown(path: Path) -> str:
    return escape_surrogates(str(path))


def save_report(path: str | Path, snapshot: Snapshot, fmt: Optional[str] = None, timeline: Optional[Timeline] = None) -> Path:
    return write_atomic(path, render(snapshot, format_for(str(path), fmt), timeline))


def read_report_text(path: str | Path) -> str:
    """The text of a report file: a regular file (opened without blocking on a FIFO and
    checked before any read), at most MAX_REPORT_BYTES, UTF-8; else a one-line ReportError."""
    p = Path(path)
    shown = _shown(p)
    cap = MAX_REPORT_BYTES // (1024 * 1024)
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise ReportError(f"no such file: {shown}") from None
    except PermissionError:
        raise ReportError(f"no permission to read {shown}") from None
    except OSError as exc:
        if exc.errno == errno.EISDIR:
            raise ReportError(f"{shown} is a directory, not a report") from None
        raise ReportError(f"cannot read {shown}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ReportError(f"{shown} is a directory, not a report")
        if not stat.S_ISREG(info.st_mode):
            raise ReportError(f"{shown} is {_kind(info.st_mode)}, not a report file (pooltui reads regular files only)")
        if info.st_size > MAX_REPORT_BYTES:
            raise ReportError(f"{shown} is {info.st_size // (1024 * 1024)} MB; pooltui reports are at most {cap} MB")
        chunks, left = [], MAX_REPORT_BYTES + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        if left <= 0:  # it grew while being read
            raise ReportError(f"{shown} is over {cap} MB; pooltui reports are at most {cap} MB")
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError:
        raise ReportError(f"{shown} is not a text file, not a pooltui report") from None
    except OSError as exc:
        raise ReportError(f"cannot read {shown}: {exc.strerror}") from None
    finally:
        os.close(fd)


def load_report(path: str | Path) -> Report:
    """Load a saved JSON report; any problem is a one-line ReportError."""
    text = read_report_text(path)
    try:
        return loads(text)
    except ReportError as exc:
        raise ReportError(f"{_shown(Path(path))}: {exc}") from None

"""Render a Snapshot (and Timeline) to JSON, Markdown or HTML; load JSON back.

Writing is atomic (temp file in the same directory, fsync, rename) and the file is
created 0600: a report may hold command lines and locals.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Optional

from pooltui.model import MAX_REPORT_BYTES, Report, ReportError, Snapshot, Timeline, dumps, loads

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

        return render_markdown(snapshot, timeline)
    if fmt == "html":
        from pooltui.report.html import render_html

        return render_html(snapshot, timeline)
    raise ValueError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")


def write_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` via a 0600 temp file + rename; raise OutputError."""
    target = Path(path)
    if target.is_dir():
        raise OutputError(f"cannot write report: {target} is a directory")
    folder = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except FileNotFoundError:
        raise OutputError(f"cannot write report: directory {folder} does not exist") from None
    except PermissionError:
        raise OutputError(f"cannot write report: no permission to write in {folder}") from None
    except OSError as exc:
        raise OutputError(f"cannot write report to {target}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:  # mkstemp creates it 0600
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise OutputError(f"cannot write report to {target}: {exc.strerror or exc}") from None
    return target


def save_report(path: str | Path, snapshot: Snapshot, fmt: Optional[str] = None, timeline: Optional[Timeline] = None) -> Path:
    return write_atomic(path, render(snapshot, format_for(str(path), fmt), timeline))


def load_report(path: str | Path) -> Report:
    """Load a saved JSON report; any problem is a one-line ReportError."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if p.is_dir():
            raise ReportError(f"{p} is a directory, not a report")
        if size > MAX_REPORT_BYTES:
            raise ReportError(f"{p} is {size // (1024 * 1024)} MB; pooltui reports are at most {MAX_REPORT_BYTES // (1024 * 1024)} MB")
        text = p.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ReportError(f"no such file: {p}") from None
    except PermissionError:
        raise ReportError(f"no permission to read {p}") from None
    except UnicodeDecodeError:
        raise ReportError(f"{p} is not a text file, not a pooltui report") from None
    except OSError as exc:
        raise ReportError(f"cannot read {p}: {exc.strerror}") from None
    try:
        return loads(text)
    except ReportError as exc:
        raise ReportError(f"{p}: {exc}") from None

"""Source lines for frames, read as the target's own user from the target's own file
system view (``/proc/PID/root``), with secrets masked.

A C call (``with self.lock:``, ``time.sleep(5)``) has no Python frame of its own: the
line the thread stands on is the best evidence of what it waits for. The path comes from
the target's code objects, so it is hostile: ``capture.safeopen`` reads it with the
target's rights only (no symlink escape, regular files only, a size cap, a deadline).
A file that is refused leaves ``code`` empty and says why in ``code_note``.

Files are cached by identity (device, inode, mtime, size) across captures; a file is
still opened as each view (root + user) before its cached lines are used, so the cache
never lends one process's rights to another. Within one capture (``files``), fork
siblings (same root, same user) open each file once.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Optional, Union

from pooltui.capture import procfs, redact, safeopen, state
from pooltui.capture.errors import CaptureError
from pooltui.model import Frame
from pooltui.model.bounded import ByteLRU
from pooltui.model.record import replace

MAX_LINE = 200
SOURCE_TIMEOUT = 2.0  # per process and capture: a FIFO never blocks, a hung mount costs this once

_QUIET = ("no such file in the target's root",)  # not worth a note: <frozen ...>, a deleted file

View = tuple[int, int, int, safeopen.Creds]  # (mount namespace, root's device, root's inode, fs credentials)
_SAME_FRAMES = object()  # key prefix, in a capture's ``files``, of frames already given their lines


def view_of(pid: int) -> Union[View, str]:
    """(mount namespace, root directory, fs credentials) of ``pid``: what decides what a
    path means and whether it may be read; or why it cannot be known."""
    creds = safeopen.creds_of(pid)
    if creds is None:
        return "the target's user could not be read (/proc/PID/status)"
    try:
        ns, root_dev, root_ino = procfs.view(pid)
    except CaptureError:
        return "the target's root directory cannot be opened (it exited?)"
    return (ns, root_dev, root_ino, creds)


def _files() -> ByteLRU[safeopen.Identity, tuple[str, ...]]:
    """identity -> lines, in the capture's state (``capture.state``), bounded in bytes."""
    return state.current().source_files


def _store(identity: safeopen.Identity, data: bytes) -> None:
    _files().put(identity, tuple(data.decode("utf-8", "replace").splitlines()))


def _absolute(pid: int, paths: Sequence[str]) -> dict[str, Optional[str]]:
    """Each path as an absolute one: a relative ``co_filename`` (``python app.py`` on <= 3.8,
    whose ``__main__`` keeps argv[0] as given; a module found through a relative sys.path
    entry) is taken against the target's working directory (``/proc/PID/cwd``, read now:
    a process that changed directory since it loaded the file gets no line, or another
    file's -- the price of showing ``with`` lines for the common case). None: not known."""
    cwd: Optional[str] = None
    out: dict[str, Optional[str]] = {}
    for p in paths:
        if p.startswith("/"):
            out[p] = p
            continue
        if cwd is None:
            try:
                cwd = procfs.cwd(pid)
            except CaptureError:
                cwd = ""
        ok = cwd.startswith("/") and not cwd.endswith(" (deleted)") and p and not p.startswith("<")
        out[p] = os.path.normpath(os.path.join(cwd, p)) if ok else None
    return out


def read_sources(
    pid: int, paths: Sequence[str], files: Optional[dict] = None, view: Union[View, str, None] = None
) -> dict[str, Union[safeopen.Identity, str]]:
    """path -> identity of its cached lines, or why it was not read."""
    view = view_of(pid) if view is None else view
    if isinstance(view, str):
        return {p: view for p in paths}
    cache = files if files is not None else {}
    known = _files()
    hung = state.current().hung  # (view, path) whose read timed out once: not tried again
    out: dict[str, Union[safeopen.Identity, str]] = {}
    missing = []
    real = _absolute(pid, paths)
    for p in paths:
        a = real[p]
        hit = cache.get((view, a))
        if a is None:
            out[p] = "a relative path, and the target's working directory is not known"
        elif hit is not None and (isinstance(hit, str) or hit in known):
            out[p] = hit
        elif (view, a) in hung:
            out[p] = f"reading it took longer than {SOURCE_TIMEOUT:g} s before"
        else:
            missing.append(a)
    if missing:
        creds = view[-1]
        assert isinstance(creds, safeopen.Creds)
        found = safeopen.read_files(pid, creds, sorted(set(missing)), SOURCE_TIMEOUT, known=set(known.keys()))
        for a, result in found.items():
            if isinstance(result, str):
                if result.startswith("reading it took longer"):
                    hung.put((view, a), True)
                cache[(view, a)] = result
                continue
            if result.data is not None:
                _store(result.identity, result.data)
            cache[(view, a)] = result.identity
        out.update({p: cache[(view, real[p])] for p in paths if p not in out and (view, real[p]) in cache})
    return out


@state.scoped
def lines_of(pid: int, path: str, files: Optional[dict] = None) -> tuple[str, ...]:
    """Every line of ``path`` as ``pid`` sees it (read as for ``with_code``; not redacted:
    callers only match code against it); () when it cannot be read."""
    result = read_sources(pid, [path], files).get(path)
    return _files().get(result, ()) if result is not None and not isinstance(result, str) else ()


def _line(identity: safeopen.Identity, line: int) -> Optional[str]:
    lines = _files().get(identity, ()) or ()
    if line > len(lines):
        return None
    return lines[line - 1].strip()[:MAX_LINE] or None


@state.scoped
def with_code(frames: Sequence[Frame], pid: int, files: Optional[dict] = None, *, redact_secrets: bool = True) -> tuple[Frame, ...]:
    """``frames`` with ``code`` (the source line, secrets masked unless ``redact_secrets``
    is off) or ``code_note`` (why it is not shown). ``files`` caches what was read for
    the duration of one capture."""
    wanted = [f for f in frames if not f.native and not f.code and f.file and not f.file.startswith("<") and f.line > 0]
    if not wanted:
        return tuple(frames)
    view = view_of(pid)
    # fork siblings (one view: same root, same user) have the same stacks: within one
    # capture the same frames in the same view get the same lines, so they are read and
    # masked once (the files were opened as this view when they were first read)
    memo = (_SAME_FRAMES, view, tuple(frames), redact_secrets)
    if files is not None and not isinstance(view, str):
        done = files.get(memo)
        if done is not None:
            return done
    found = read_sources(pid, sorted({f.file for f in wanted}), files, view)
    asked = {id(f) for f in wanted}
    out = []
    for f in frames:
        result = found.get(f.file) if id(f) in asked else None
        if result is None:
            out.append(f)
        elif isinstance(result, str):
            out.append(f if result in _QUIET else replace(f, code_note=f"source not read: {result}"))
        else:
            code = _line(result, f.line)
            out.append(replace(f, code=redact.scrub_code(code) if code and redact_secrets else code))
    if files is not None and not isinstance(view, str):
        files[memo] = tuple(out)
    return tuple(out)

"""What earlier runs learnt about an interpreter binary: did the direct stack reader agree
with py-spy on it (``capture.direct``)? Kept on disk so a new ``pooltui snapshot`` does not
run py-spy on the first process of every binary again (~10 ms of CPU, and the binary's other
processes wait for it).

A record is a trust boundary: one saying "agreed" makes every later run read that binary's
processes without py-spy. So (ARCHITECTURE.md, "Reading what a target names"):

- The binary is named by the identity of the file the target has mapped, taken with
  ``stat`` of ``/proc/PID/map_files/START-END`` (the kernel's link to the mapped file
  itself: no path the target names is looked up, and nothing is opened): device, inode,
  size, mtime and ctime (no user can set ctime: a file changed in place, or another file on
  a reused inode, has another identity). The key also holds what did the comparing: this
  pooltui's version and reader (the identity of ``memory/stacks.py`` and ``direct.py``) and
  the py-spy executable. A record is only ever looked up by that key.
- Records live in a directory of the user pooltui runs as (root: ``/var/cache/pooltui``;
  another user: ``$XDG_CACHE_HOME/pooltui`` or ``~/.cache/pooltui``; ``POOLTUI_CACHE_DIR``
  overrides, empty turns records off). It is created 0700; it is used only if it and every
  directory above it is owned by root or that user and writable by nobody else (a sticky
  directory such as /tmp allowed above it, never as it). Each record is a file of its own,
  opened relative to that directory (``dir_fd``, ``O_NOFOLLOW``, non-blocking), taken only
  if it is a regular file owned by that user, mode 0600 or stricter, at most 4 KiB, and
  names the key asked for. Written to a temporary file there and renamed over.
- Anything else -- no directory, a refused file, unreadable /proc -- is "not known": the
  comparison with py-spy runs as before. A record is never needed for a correct capture.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import stat
from typing import Optional

from pooltui import __version__

MAX_RECORD = 4096  # bytes: a record is one short JSON object
ROOT_DIRECTORY = "/var/cache/pooltui"
_OPEN_RECORD = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_OPEN_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _identity(st: os.stat_result) -> list[int]:
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def binary_identity(mapped: os.stat_result) -> list[int]:
    """The identity of a binary from the stat of its map_files link (never opened: the
    caller stats ``/proc/PID/map_files/START-END``)."""
    return _identity(mapped)


def reader_identity(files: tuple[str, ...]) -> Optional[list]:
    """What compares: this pooltui's version and the files that do (its direct reader's
    modules and the py-spy executable), None when one cannot be read."""
    try:
        return [__version__, [_identity(os.stat(path)) for path in files]]
    except OSError:
        return None


def default_directory() -> str:
    """Where this user's records go ("" when turned off)."""
    configured = os.environ.get("POOLTUI_CACHE_DIR")
    if configured is not None:
        return configured
    if os.geteuid() == 0:
        return ROOT_DIRECTORY
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "pooltui")


def _safe_directory(st: os.stat_result, uid: int, *, sticky_ok: bool) -> bool:
    if not stat.S_ISDIR(st.st_mode) or st.st_uid not in (0, uid):
        return False
    writable_by_others = st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    return not writable_by_others or (sticky_ok and bool(st.st_mode & stat.S_ISVTX))


def _open_directory(path: str) -> Optional[int]:
    """A descriptor of ``path`` (created 0700 if absent) when it and every directory above
    it are safe (``_safe_directory``), else None."""
    if not os.path.isabs(path):
        return None
    uid = os.geteuid()
    parts = [p for p in path.split("/") if p]
    fd = os.open("/", _OPEN_DIRECTORY)
    try:
        if not _safe_directory(os.fstat(fd), uid, sticky_ok=True):
            return None
        for n, part in enumerate(parts):
            last = n == len(parts) - 1
            if part in (".", ".."):
                return None
            try:
                child = os.open(part, _OPEN_DIRECTORY, dir_fd=fd)
            except FileNotFoundError:
                if not last:
                    return None
                os.mkdir(part, 0o700, dir_fd=fd)
                child = os.open(part, _OPEN_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
            if not _safe_directory(os.fstat(fd), uid, sticky_ok=not last):
                return None
        found, fd = fd, -1
        return found
    except OSError:
        return None
    finally:
        if fd >= 0:
            os.close(fd)


class CheckRecords:
    """The records of one directory (``default_directory()`` unless given); every failure
    is "not known"."""

    def __init__(self, directory: Optional[str] = None) -> None:
        self.directory = default_directory() if directory is None else directory

    @staticmethod
    def _name(key: list) -> tuple[str, str]:
        text = json.dumps(key, separators=(",", ":"))
        return "direct-" + hashlib.sha256(text.encode()).hexdigest()[:32] + ".json", text

    def lookup(self, key: list) -> Optional[bool]:
        """What was recorded for ``key`` (True: the reader agreed with py-spy), else None."""
        if not self.directory:
            return None
        folder = _open_directory(self.directory)
        if folder is None:
            return None
        name, text = self._name(key)
        try:
            fd = os.open(name, _OPEN_RECORD, dir_fd=folder)
        except OSError:
            return None
        finally:
            os.close(folder)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077 or st.st_size > MAX_RECORD:
                return None
            record = json.loads(os.read(fd, MAX_RECORD + 1)[:MAX_RECORD])
        except (OSError, ValueError):
            return None
        finally:
            os.close(fd)
        if not isinstance(record, dict) or json.dumps(record.get("key"), separators=(",", ":")) != text:
            return None
        agreed = record.get("agreed")
        return agreed if isinstance(agreed, bool) else None

    def record(self, key: list, agreed: bool) -> None:
        """Keep ``agreed`` for ``key`` (atomically: a temporary file renamed over)."""
        if not self.directory:
            return
        folder = _open_directory(self.directory)
        if folder is None:
            return
        name, _text = self._name(key)
        tmp = f".direct-{secrets.token_hex(8)}.tmp"
        created = False
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=folder)
            created = True
            with os.fdopen(fd, "w") as out:
                json.dump({"key": key, "agreed": agreed}, out)
            os.rename(tmp, name, src_dir_fd=folder, dst_dir_fd=folder)
        except OSError:
            if created:
                try:
                    os.unlink(tmp, dir_fd=folder)
                except OSError:
                    pass
        finally:
            os.close(folder)

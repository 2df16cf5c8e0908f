"""A core that systemd-coredump kept, from its store.

When ``core_pattern`` pipes cores to systemd-coredump (``|/usr/lib/systemd/systemd-coredump
%P ...``), it stores each (``Storage=external``, the default) as
``/var/lib/systemd/coredump/core.COMM.UID.BOOTID.PID.USEC`` compressed with zstd, lz4 or
xz (``.zst``, ``.lz4``, ``.xz``; none when ``Compress=no``). The one of a dead pid is
decompressed into a new private directory (0700) by the system's own tool reading stdin
and writing stdout (as ``nobody`` when pooltui is root: a hostile file meets no more than
a decompressor without rights), bounded in size and time. Where the store cannot be read
(not root, ``Storage=journal``) the caller says how to get the core with ``coredumpctl``.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
import threading
from typing import Optional

STORE = "/var/lib/systemd/coredump"
MAX_CORE_BYTES = 4 << 30
MAX_STORE_FILES = 4096
TIMEOUT = 120.0
NOBODY = 65534
TOOLS = {".zst": ("zstd", "-dc"), ".lz4": ("lz4", "-dc"), ".xz": ("xz", "-dc")}


def pipes_to_coredump(pattern: str) -> bool:
    return pattern.startswith("|") and "systemd-coredump" in (pattern[1:].split() or [""])[0]


def stored_as(name: str) -> Optional[tuple[int, int]]:
    """(pid, time in µs) in a store file's name (``core.COMM.UID.BOOTID.PID.USEC[.EXT]``:
    counted from the end, the command may hold dots), or None for another name."""
    base = name
    for ext in TOOLS:
        base = base.removesuffix(ext)
    parts = base.split(".")
    if len(parts) < 6 or parts[0] != "core" or not parts[-2].isdigit() or not parts[-1].isdigit():
        return None
    return int(parts[-2]), int(parts[-1])


def stored_cores(pid: int, store: str = STORE) -> tuple[list[str], str]:
    """(the store's files for ``pid``, newest first; or why the store cannot be read)."""
    try:
        with os.scandir(store) as entries:
            names = [e.name for _i, e in zip(range(MAX_STORE_FILES), entries)]
    except OSError as exc:
        return [], f"systemd-coredump's store {store} cannot be read ({exc.strerror})"
    mine = sorted(((at[1], n) for n in names if (at := stored_as(n)) is not None and at[0] == pid), reverse=True)
    return [os.path.join(store, n) for _usec, n in mine], ""


def extract(path: str, limit: int = MAX_CORE_BYTES, timeout: float = TIMEOUT) -> tuple[Optional[str], str]:
    """(a plain copy of the stored core at ``path`` in a new private directory, or None with
    why). The stored file is opened without following a symlink and only when regular."""
    ext = next((e for e in TOOLS if path.endswith(e)), "")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        return None, f"{path} cannot be opened ({exc.strerror})"
    out_dir = tempfile.mkdtemp(prefix="pooltui-core-")
    target = os.path.join(out_dir, os.path.basename(path)[: len(os.path.basename(path)) - len(ext)])
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return _fail(out_dir, f"{path} is not a regular file")
        with open(target, "xb") as out:
            if not ext:
                why = _copy(fd, out, limit)
            else:
                why = _decompress(fd, out, TOOLS[ext], limit, timeout)
        if why:
            return _fail(out_dir, f"{path} not decompressed: {why}")
        return target, ""
    finally:
        os.close(fd)


def _fail(out_dir: str, why: str) -> tuple[None, str]:
    shutil.rmtree(out_dir, ignore_errors=True)
    return None, why


def _copy(fd: int, out, limit: int) -> str:  # type: ignore[no-untyped-def]
    total = 0
    while chunk := os.read(fd, 1 << 20):
        total += len(chunk)
        if total > limit:
            return f"larger than {limit >> 20} MB"
        out.write(chunk)
    return ""


def _decompress(fd: int, out, tool: tuple[str, str], limit: int, timeout: float) -> str:  # type: ignore[no-untyped-def]
    exe = shutil.which(tool[0])
    if exe is None:
        return f"{tool[0]} is not installed here (or run `coredumpctl dump PID -o FILE`)"
    try:
        root = os.geteuid() == 0  # then as nobody (None: subprocess leaves the user as it is)
        child = subprocess.Popen(
            [exe, tool[1]],
            stdin=fd,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            user=NOBODY if root else None,
            group=NOBODY if root else None,
            extra_groups=[] if root else None,
        )
    except OSError as exc:
        return f"{tool[0]} could not be run ({exc.strerror})"
    assert child.stdout is not None
    total, why = 0, ""
    timer = threading.Timer(timeout, child.kill)  # a read that never ends ends with the child
    timer.start()
    try:
        while chunk := child.stdout.read(1 << 20):
            total += len(chunk)
            if total > limit:
                why = f"larger than {limit >> 20} MB decompressed"
                break
            out.write(chunk)
    finally:
        if why:
            child.kill()
        child.stdout.close()
        status = child.wait()
        timer.cancel()
    if not why and status == -9:
        why = f"not done within {timeout:g} s"
    elif not why and status != 0:
        why = f"{tool[0]} failed (exit status {status}): a truncated or foreign file"
    return why

"""The core file a dead worker left, and its last Python stack, for the verdict about its death.

When a process of the watched tree dies by a core-dumping signal (its wait status has the
core bit, 0x80), the kernel wrote a core where ``/proc/sys/kernel/core_pattern`` says
(``core`` and ``core.%p`` style patterns, relative to the process's working directory:
a pool worker's is its parent's), or the user names a directory (``--cores DIR``). The
candidates are few (a pattern's expansion, or the 64 newest files of the directory) and
each is taken only when it is a regular file (not a symlink) written since the process
started, whose own notes name the dead pid: a core is then read like any other
(``capture.coredump``, bounded, its files checked). A pattern that pipes to
systemd-coredump (``|/usr/lib/systemd/systemd-coredump %P ...``): its store (``capture.coredumpstore``) holds the core, decompressed
into a private directory when it can be read; when not, the note says
``coredumpctl dump PID -o FILE`` and ``pooltui open FILE``. Another program: the same note.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import stat
from typing import Optional

from pooltui.capture import coredumpstore, procfs
from pooltui.capture.coredump import read_core
from pooltui.capture.crashtask import Running, task_from_core
from pooltui.capture.errors import CaptureError
from pooltui.capture.memory.core import BadCore, parse_core
from pooltui.model import Process
from pooltui.model.record import Record

CORE_BIT = 0x80
MAX_CANDIDATES = 64
MAX_FRAMES = 12
MAX_STORED = 2  # systemd-coredump's newest cores of the pid decompressed at most
STORE_PLEASE = "look in systemd-coredump's store"
_SPEC = re.compile(r"%(.)")


def cwd_of(pid: int) -> Optional[str]:
    """The working directory of a live process (a dead worker's parent: a fork child's
    cwd is its parent's unless it changed it), or None."""
    try:
        cwd = procfs.cwd(pid)
    except CaptureError:
        return None
    return None if cwd.endswith(" (deleted)") else cwd


def core_dumped(status: Optional[int]) -> bool:
    return status is not None and bool(status & 0x7F) and bool(status & CORE_BIT)


def _pattern() -> tuple[str, bool]:
    try:
        pattern = procfs.setting("sys/kernel/core_pattern")
        uses_pid = procfs.setting("sys/kernel/core_uses_pid") == "1"
    except CaptureError:
        return "core", False
    return pattern, uses_pid


def pattern_glob(pattern: str, uses_pid: bool, process: Process, status: int) -> str:
    """``core_pattern`` with what is known of the dead process filled in, the rest as ``*``
    (man 5 core: %p pid, %s signal, %e/%t/%h/%u... unknown or not worth trusting)."""
    known = {"p": str(process.pid), "P": str(process.pid), "s": str(status & 0x7F), "%": "%"}
    out = _SPEC.sub(lambda m: glob.escape(known[m.group(1)]) if m.group(1) in known else "*", glob.escape(pattern))
    if uses_pid and "%p" not in pattern:
        out += f".{process.pid}"
    return out


def _candidates(process: Process, status: int, cwd: Optional[str], cores_dir: Optional[str]) -> tuple[list[str], str]:
    """(paths to try, why none can be, when that is so)."""
    if cores_dir:
        try:
            names = [os.path.join(cores_dir, n) for n in os.listdir(cores_dir)]
        except OSError as exc:
            return [], f"the cores directory {cores_dir} cannot be listed ({exc.strerror})"
        return names, ""
    pattern, uses_pid = _pattern()
    if coredumpstore.pipes_to_coredump(pattern):
        return [], STORE_PLEASE
    if pattern.startswith("|"):
        program = pattern[1:].split()[0] if pattern[1:].split() else "a program"
        return [], f"core_pattern pipes cores to {program}: get it with `coredumpctl dump {process.pid} -o FILE` (systemd), then `pooltui open FILE`"
    where = pattern_glob(pattern, uses_pid, process, status)
    if not where.startswith("/"):
        if not cwd:
            return [], "core_pattern names a file in the process's working directory, which is not known"
        where = os.path.join(glob.escape(cwd), where)
    return glob.glob(where), ""


def _newest_first(paths: list[str], since: float) -> list[str]:
    found = []
    for path in paths:
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and st.st_mtime >= since - 1:
            found.append((st.st_mtime, path))
    return [p for _, p in sorted(found, reverse=True)[:MAX_CANDIDATES]]


def _names_pid(path: str, pid: int) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        core = parse_core(fd, path)
    except (BadCore, OSError):
        return False
    finally:
        os.close(fd)
    return core.process is not None and core.process.pid == pid


def _from_store(process: Process) -> tuple[Optional[str], str]:
    """systemd-coredump's core of ``process``, decompressed (``capture.coredumpstore``)."""
    store = coredumpstore.STORE
    how = f"get it with `coredumpctl dump {process.pid} -o FILE`, then `pooltui open FILE`"
    paths, why = coredumpstore.stored_cores(process.pid, store)
    if why:
        return None, f"core_pattern pipes cores to systemd-coredump and {why}: {how}"
    fresh = _newest_first(paths, process.create_time)[:MAX_STORED]
    if not fresh:
        kept = f"whose store {store} has no core of pid {process.pid} (Storage=journal, or too big to keep?)"
        return None, f"core_pattern pipes cores to systemd-coredump, {kept}: {how}"
    for stored in fresh:
        plain, why = coredumpstore.extract(stored)
        if plain is not None and _names_pid(plain, process.pid):
            return plain, f"decompressed from systemd-coredump's {stored} (delete {os.path.dirname(plain)} when done)"
        if plain is not None:
            shutil.rmtree(os.path.dirname(plain), ignore_errors=True)
            why = f"{stored} is not a core of pid {process.pid}"
    return None, f"systemd-coredump's core was not read: {why}; {how}"


def find_core(process: Process, status: int, cwd: Optional[str], cores_dir: Optional[str] = None) -> tuple[Optional[str], str]:
    """(the core file of dead ``process`` and a note about it, or None with the reason in words)."""
    paths, why = _candidates(process, status, cwd, cores_dir)
    if why == STORE_PLEASE:
        return _from_store(process)
    if why:
        return None, why
    for path in _newest_first(paths, process.create_time):
        if _names_pid(path, process.pid):
            return path, ""
    return None, "no core file of it was found" + (f" in {cores_dir}" if cores_dir else " where core_pattern puts it")


class Crash(Record, frozen=True):
    """What a dead process's core says: where the core is (None: not found), the evidence
    lines for the verdict, and the task it was running in one line (None: not known)."""

    path: Optional[str]
    lines: tuple[str, ...]
    task: Optional[Running] = None


def last_stack(process: Process, status: int, cwd: Optional[str], cores_dir: Optional[str] = None, *, redact_secrets: bool = True) -> Crash:
    """Evidence lines for a verdict about the death of ``process``: where its core is, the
    task it was running (``capture.crashtask``) and the stack of the thread that took the
    signal (innermost first), or why there is none."""
    path, why = find_core(process, status, cwd, cores_dir)
    if path is None:
        return Crash(None, (f"no core file: {why}",))
    noted = (why,) if why else ()
    try:
        snap = read_core(path, locks=False)
    except CaptureError as exc:
        return Crash(None, (f"core file {path} not read: {exc.message}",))
    (dead,) = snap.processes
    crashed = next((t for t in dead.threads if t.active), None) or next((t for t in dead.threads if t.name == "MainThread"), None)
    if crashed is None:
        return Crash(path, (f"core file {path}: no Python thread in it",))
    task, no_task = task_from_core(path, dead.pid, crashed.ident, redact_secrets=redact_secrets)
    fault = next((n.partition(" was killed by ")[2].partition(":")[0] for n in snap.notes if " was killed by " in n), "")
    head = f"its last Python stack, from the core file {path} (`pooltui open {path}`)" + (f": {crashed.label} took {fault}" if fault else "")
    frames = [f"  {f.function} at {f.where}" + (f"    {f.code}" if f.code else "") for f in crashed.frames[:MAX_FRAMES]]
    more = [f"  ... {len(crashed.frames) - MAX_FRAMES} more frames"] if len(crashed.frames) > MAX_FRAMES else []
    said = task.evidence if task else no_task
    return Crash(path, (said, head, *noted, *frames, *more), task)

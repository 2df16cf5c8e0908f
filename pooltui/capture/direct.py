"""Stacks read without py-spy where that gives what py-spy gives, checked against py-spy.

py-spy costs ~8 ms of CPU per process, mostly re-reading the interpreter's symbols: for a
Pool(64) that is most of a snapshot. ``capture.memory.stacks`` reads the same stacks from
``/proc/PID/mem`` in ~0.3 ms, but only trusts itself where py-spy agreed: the first
processes of each interpreter binary (device, inode of libpython or the executable) are
read both ways, and the binary's processes are read directly only once a comparison came
out equal (thread idents, OS thread ids, names; every frame's function, file, short file
and line). One that differs turns the binary back to py-spy for good (and says so once on
stderr when POOLTUI_DEBUG is set). ``POOLTUI_DIRECT=0`` turns direct reads off.

Only a read that cannot differ from py-spy's is taken: every thread asleep at the walk and
now, and none scheduled between the read's start and end (``procs.ran_since``), as for
py-spy's own unpaused reads; no ``--locals`` or ``--native`` (py-spy reads those). Anything
else, and any read that does not validate, goes to py-spy as before. The reads run on the
capture's one worker thread (``capture.worker``), with the /proc reads around them
(``attempt``); only the comparison with py-spy (``check``) is the event loop's.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Optional

from pooltui.capture import checkrecords, interpreters, procfs, procs, pyspy, pyspyjson, safeopen, state
from pooltui.capture.errors import CaptureError, ProcessGone
from pooltui.capture.memory import stacks
from pooltui.model import Thread
from pooltui.model.record import Record

SHORT_TIMEOUT = 2.0  # seconds for the __init__.py look-ups of one process's files


def enabled() -> bool:
    return os.environ.get("POOLTUI_DIRECT", "1") != "0"


def version_of(python: Optional[str]) -> Optional[tuple[int, int]]:
    """(major, minor) of an interpreter the direct reader has a stack layout for, else None."""
    version = procs.version_tuple(python)
    return version if version in stacks.STACK_LAYOUTS else None


def _short_names(pid: int, files: set[str]) -> dict[str, str]:
    """py-spy's ``short_filename`` of each file: the path below the outermost directory
    chain that holds ``__init__.py`` files (``multiprocessing/pool.py``). py-spy looks as
    root; here the look-ups are made as the target's user in its root (``safeopen``)."""
    from pooltui.capture import sourcelines

    view = sourcelines.view_of(pid)
    known_short = state.current().short_names  # (view, file name) -> py-spy's short file name
    out: dict[str, str] = {}
    wanted: dict[str, list[str]] = {}
    for name in files:
        known = known_short.get((view, name))
        if known is not None:
            out[name] = known
        elif name.startswith("/"):
            parents, path = [], name.rpartition("/")[0] or "/"
            while True:
                parents.append(path)
                if path == "/":
                    break
                path = path.rpartition("/")[0] or "/"
            wanted[name] = parents
        else:  # py-spy would look relative to its own working directory: meaningless, taken as absent
            out[name] = name.rpartition("/")[2] if "/" in name else name
    if wanted:
        asked = sorted({(p.rstrip("/") + "/__init__.py") for parents in wanted.values() for p in parents})
        present = set()
        if not isinstance(view, str):
            present = safeopen.existing(pid, view[-1], asked, SHORT_TIMEOUT)
        for name, parents in wanted.items():
            top = parents[0]
            for parent in parents:
                top = parent
                if parent.rstrip("/") + "/__init__.py" not in present:
                    break
            prefix = top if top.endswith("/") else top + "/"
            out[name] = name[len(prefix) :] if name.startswith(prefix) else name
    if not isinstance(view, str):
        for name, short in out.items():
            known_short.put((view, name), short)
    return out


def _read(pid: int, version: tuple[int, int]) -> tuple[list[Thread], tuple[int, int, tuple[int, int]], Optional[tuple[int, int]], Optional[bool]]:
    with stacks.StackMemory(pid, version) as mem:
        raw = mem.threads()
        key = (*mem.binary, version)
        mapped = mem.binary_mapping
        subinterpreters = interpreters.maps_subinterpreters([m.path for m in mem.maps]) if mem.maps else None
    shorts = _short_names(pid, {f.file for t in raw for f in t.frames})
    threads = [
        Thread(
            tid=t.tid,
            ident=t.ident,
            name=t.name,
            active=False,  # every thread is asleep: read only then
            owns_gil=t.owns_gil,
            frames=tuple(pyspyjson.make_frame(f.function, f.file, max(f.line, 0), shorts.get(f.file, f.file)) for f in t.frames),
        )
        for t in raw
    ]
    return threads, key, mapped, subinterpreters


def _comparable(threads: list[Thread]) -> list[tuple]:
    return [(t.ident, t.tid, t.name, t.owns_gil, tuple((f.function, f.file, f.short_file, f.line) for f in t.frames)) for t in threads]


def _debug(message: str) -> None:
    if os.environ.get("POOLTUI_DEBUG"):
        print(f"pooltui: {message}", file=sys.stderr)


def usable(python: Optional[str], options: pyspy.DumpOptions) -> bool:
    """Whether a process of this interpreter may be read directly with these options."""
    return enabled() and not options.locals and not options.native and version_of(python) is not None


MOVED = "moved"  # a thread was scheduled during every direct read tried: worth reading otherwise


class Attempt(Record, frozen=True):
    """What ``attempt`` found: ``threads`` read directly with nothing scheduled through the
    read (None: not read so -- a thread running, every try moved, or not readable); ``key``
    their binary's (dev, inode, version); ``before`` the threads' Sched right before the
    kept read (or the last one read); ``moved``: a try was thrown away because a thread
    was scheduled during it."""

    threads: Optional[list[Thread]]
    key: Optional[tuple[int, int, tuple[int, int]]]
    before: dict[int, procs.Sched]
    moved: bool = False
    record: Optional[list] = None  # the binary's key in capture.checkrecords: none kept yet, check() keeps one
    subinterpreters: Optional[bool] = None  # a sub-interpreter module is mapped (interpreters.count), from the read's maps


def attempt(pid: int, python: Optional[str], tries: int) -> Attempt:
    """Up to ``tries`` direct reads of ``pid``, each kept only if no thread was scheduled
    between the Sched reads around it (procs.ran_since), none tried while a thread runs.
    Blocking: on the capture's worker thread, its /proc reads with the memory reads (one
    hand-off per process, not one per file). ProcessGone goes up: the process is gone."""
    now = procs.read_sched(pid)
    version = version_of(python)
    moved = False
    for _ in range(tries if version is not None else 0):
        if procs.any_running(now):
            break
        try:
            threads, key, mapped, subinterpreters = _read(pid, version)  # type: ignore[arg-type]
        except ProcessGone:
            raise
        except CaptureError as exc:
            _debug(f"process {pid} not read directly: {exc}")
            break
        after = procs.read_sched(pid)
        if not procs.ran_since(now, after):
            return Attempt(threads, key, now, moved, _recorded(pid, key, mapped), subinterpreters)
        moved, now = True, after
    return Attempt(None, None, now, moved)


def _recorded(pid: int, key: tuple[int, int, tuple[int, int]], mapped: Optional[tuple[int, int]]) -> Optional[list]:
    """A binary not known in this run yet: what an earlier run kept about it
    (capture.checkrecords) becomes known; None, or the record's key when none was kept
    (``check`` keeps one)."""
    known = state.current()
    if mapped is None or known.verified.get(key) is not None or not known.records.directory:
        return None
    try:
        binary: Optional[list[int]] = checkrecords.binary_identity(procfs.mapped_file(pid, *mapped))
    except CaptureError:
        binary = None
    reader = checkrecords.reader_identity((stacks.__file__, __file__, pyspy.find_pyspy())) if binary is not None else None
    if binary is None or reader is None:
        return None
    record = [binary, list(key[2]), reader]
    agreed = known.records.lookup(record)
    if agreed is None:
        return record
    known.verified.put(key, agreed)
    return None


def trusted(key: tuple[int, int, tuple[int, int]]) -> Optional[bool]:
    """Whether reads of this binary are taken (True), left to py-spy (False), or not known
    yet (None: ``check`` compares one with py-spy's)."""
    return state.current().verified.get(key)


async def check(pid: int, found: Attempt, options: pyspy.DumpOptions, exe: str):
    """``found.threads`` if its binary's direct reads are trusted -- compared with py-spy's
    read of the same process when that is not known yet (py-spy's read is then the answer)
    -- None when py-spy should read it, MOVED when a thread was scheduled meanwhile."""
    assert found.threads is not None and found.key is not None
    threads, key, before = found.threads, found.key, found.before
    loop = asyncio.get_running_loop()
    # (dev, inode, version) of an interpreter binary -> py-spy agreed (True) or not (False);
    # while the first process of a binary is compared, the others wait for that comparison
    known = state.current()
    checking = known.checking.get(key)
    if key not in known.verified and checking is not None and checking[0] is loop:
        await checking[1].wait()
    agreed = known.verified.get(key)
    if agreed is None:
        # read it again with py-spy, unpaused: equal reads with nothing scheduled through both
        # prove the direct reader right for this binary
        done = asyncio.Event()
        known.checking[key] = (loop, done)
        try:
            spy = await pyspy.dump_unpaused(pid, pyspy.DumpOptions(timeout=options.timeout), exe)
            if spy is None or procs.ran_since(before, procs.read_sched(pid)):
                return MOVED
            agreed = known.verified.put(key, _comparable(threads) == _comparable(spy))
            if found.record is not None:
                known.records.record(found.record, agreed)  # once per binary: the next run takes it
        finally:
            done.set()
            known.checking.pop(key, None)
        if not agreed:
            _debug(f"direct read of process {pid} differs from py-spy's: binary {key} is read by py-spy")
        return spy
    return threads if agreed else None

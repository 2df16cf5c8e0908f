"""A core file of a Python process as a Snapshot: the same stacks, waits and verdicts as a
live capture, read from the core (``capture.memory.coreimage``) by the one stack walker
(``capture.memory.stacks``).

* process: the crashed pid, its parent, name and the 80 bytes of command line the kernel
  keeps (``NT_PRPSINFO``), its end as a wait status (the signal, core dumped);
* threads: every Python thread state of the newest interpreter with its name
  (``threading._active``), its OS thread id (the ``NT_PRSTATUS`` whose ``fs_base`` is the
  thread's pthread ident), the system call it sat in (``orig_rax`` and the argument
  registers: a futex wait, a read, a poll...), the GIL holder; the thread that took the
  signal is the active one and the notes say where (``NT_SIGINFO``: the faulting address);
* source lines: read as the core file's owner (the kernel writes a core as the crashing
  process's user; a core's own claim of its uid is not trusted), under ``--sysroot`` or /.

3.8-3.13 are read directly; 2.7, 3.6 and 3.7 (whose interpreter list only py-spy's symbol
search finds) go to ``py-spy dump --core`` when that reads them, and are said to be
unreadable otherwise. A core pooltui cannot read raises a CaptureError with one line.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from typing import Optional

from pooltui.capture import holders, kernel, locks, pyspy, pyspyjson, redact, safeopen
from pooltui.capture.errors import CaptureError, Unsupported
from pooltui.capture.memory import SCAN_BUDGET, TargetMemory, stacks
from pooltui.capture.memory.core import SigInfo
from pooltui.capture.memory.coreimage import CoreImage
from pooltui.capture.memory.kernel import Syscall
from pooltui.capture.memory.reader import versions_named
from pooltui.capture.memory.scan import locks_in
from pooltui.capture.snapshot import tool_versions
from pooltui.model import Event, EventKind, Frame, Lock, Process, ProcessStatus, Snapshot, Thread
from pooltui.model.record import replace

PYSPY_TIMEOUT = 60.0
MAX_PYSPY_OUTPUT = 16 << 20
SOURCE_TIMEOUT = 2.0
MAX_LINE = 200
SEGV_CODES = {1: "SEGV_MAPERR, no mapping at that address", 2: "SEGV_ACCERR, no permission there"}
BUS_CODES = {1: "BUS_ADRALN", 2: "BUS_ADRERR, beyond the end of a mapped file", 3: "BUS_OBJERR"}


def _signal_name(signo: int) -> str:
    try:
        return signal.Signals(signo).name
    except ValueError:
        return f"signal {signo}"


def fault_text(info: Optional[SigInfo], signo: int) -> str:
    """The signal that ended the process, in words: "SIGSEGV at address 0x0 (SEGV_MAPERR: …)"."""
    text = _signal_name(signo)
    if info is not None and info.signo == signo:
        detail = {11: SEGV_CODES, 7: BUS_CODES}.get(signo, {}).get(info.code)
        if signo in (4, 7, 8, 11):
            text += f" at address {info.addr:#x}" + (f" ({detail})" if detail else "")
        elif info.code <= 0 and info.pid:
            text += f" sent by process {info.pid}"
    return text


def python_version(image: CoreImage) -> tuple[int, int]:
    names = [image.exe] + [m.path for m in image.maps]
    found = versions_named(names)
    if len(found) != 1:
        said = ", ".join(f"{a}.{b}" for a, b in sorted(found)) or "none"
        raise Unsupported(
            f"{image.path}: cannot tell which Python the process ran from the files it had mapped (versions named: {said})",
            help="Give the interpreter with --exe PYTHON3.X (a file named for its version).",
        )
    return found.pop()


def _syscalls(image: CoreImage) -> dict[int, Syscall]:
    return {t.tid: Syscall(t.tid, t.syscall_nr, t.syscall_args) for t in image.core.threads}


def _direct(image: CoreImage, pid: int, version: tuple[int, int]) -> list[Thread]:
    tids = {t.ident: t.tid for t in image.core.threads}
    try:
        with stacks.StackMemory(pid, version, image=image) as mem:
            raw = mem.threads()
    except CaptureError as exc:
        problems = "; ".join(image.problems.values())
        raise CaptureError(f"{image.path}: the Python stacks did not read ({problems or exc.message})", pid=pid) from None
    return [
        Thread(
            tid=t.tid or tids.get(t.ident, 0),
            ident=t.ident,
            name=t.name,
            owns_gil=t.owns_gil,
            frames=tuple(pyspyjson.make_frame(f.function, f.file, max(f.line, 0), "") for f in t.frames),
        )
        for t in raw
    ]


def pyspy_core(path: str, pid: int, *, with_locals: bool = False) -> list[Thread]:
    """py-spy's threads of a core (``dump --core``, ``--locals`` too when asked), bounded in
    time and output; a CaptureError whose message is py-spy's reason in a few words.
    py-spy opens the binaries the core names, unchecked: run as root, it runs as the core
    file's owner (the kernel writes a core as the crashed process's user), so a path the
    target named is opened with that user's rights only."""
    try:
        exe = pyspy.find_pyspy()
        command = [exe, "dump", "--core", path, "--json", *(["--locals"] if with_locals else [])]
        st = os.stat(path)
        # as the owner, with no other group (set by subprocess in C, between fork and exec)
        as_owner = os.geteuid() == 0 and st.st_uid != 0  # (None: subprocess leaves the user as it is)
        done = subprocess.run(
            command,
            capture_output=True,
            timeout=PYSPY_TIMEOUT,
            check=False,
            user=st.st_uid if as_owner else None,
            group=st.st_gid if as_owner else None,
            extra_groups=[] if as_owner else None,
        )
    except subprocess.TimeoutExpired:
        raise CaptureError(f"py-spy did not read it within {PYSPY_TIMEOUT:g} s", pid=pid) from None
    except (CaptureError, OSError) as exc:
        raise CaptureError(f"py-spy could not be run ({exc})", pid=pid) from None
    if done.returncode != 0 or len(done.stdout) > MAX_PYSPY_OUTPUT:
        said = pyspy._first_error_line(done.stderr.decode("utf-8", "replace")) or f"exit status {done.returncode}"
        raise CaptureError(f"py-spy dump --core: {said}", pid=pid)
    return pyspyjson.parse_dump(done.stdout.decode("utf-8", "surrogateescape"), pid)


def _by_pyspy(image: CoreImage, pid: int, version: tuple[int, int]) -> list[Thread]:
    """py-spy's stacks of a core (2.7, 3.6, 3.7): its threads and frames, or an Unsupported
    that says py-spy's reason."""
    why = f"Python {version[0]}.{version[1]} is not readable from a core by pooltui's reader (3.8-3.13)"
    try:
        threads = pyspy_core(image.path, pid)
    except CaptureError as exc:
        said = exc.message.removeprefix("py-spy dump --core: ")
        raise Unsupported(f"{why}, nor by py-spy dump --core: {said}" if said != exc.message else f"{why}, and {said}", pid=pid) from None
    # py-spy marks every thread of a core active (nothing runs in a core) and knows no OS
    # thread id before 3.11: the NT_PRSTATUS whose fs_base is the thread's ident has it
    tids = {t.ident: t.tid for t in image.core.threads}
    return [replace(t, active=False, tid=t.tid or tids.get(t.ident, 0)) for t in threads]


def _with_code(threads: list[Thread], owner: safeopen.Creds, root: str) -> list[Thread]:
    """Each frame's source line, read as the core's owner under ``root``."""
    files = sorted({f.file for t in threads for f in t.frames if f.file.startswith("/") and f.line > 0})
    found = safeopen.read_files(0, owner, files, SOURCE_TIMEOUT, root_dir=root) if files else {}
    texts: dict[str, list[str]] = {}
    for name, result in found.items():
        if not isinstance(result, str) and result.data is not None:
            texts[name] = result.data.decode("utf-8", "replace").splitlines()

    def code(f: Frame) -> Frame:
        result = found.get(f.file)
        if result is None:
            return f
        if isinstance(result, str):
            return f if result.startswith("no such file") else replace(f, code_note=f"source not read: {result}")
        lines = texts.get(f.file, [])
        line = lines[f.line - 1].strip()[:MAX_LINE] if 0 < f.line <= len(lines) else ""
        return replace(f, code=redact.scrub_code(line)) if line else f

    return [replace(t, frames=tuple(code(f) for f in t.frames)) for t in threads]


def read_core(path: str, *, exe: Optional[str] = None, sysroot: Optional[str] = None, source_lines: bool = True, locks: bool = True) -> Snapshot:
    """The Snapshot of the process a core file holds (raw: no roles or verdicts yet).
    ``locks``: scan its heap for the locks its threads wait on (the slow part of a big core)."""
    with CoreImage(path, exe=exe, sysroot=sysroot) as image:
        core = image.core
        proc = core.process
        pid = proc.pid if proc is not None else core.threads[0].tid
        version = python_version(image)
        if version in stacks.STACK_LAYOUTS:
            threads = _direct(image, pid, version)
        else:
            threads = _by_pyspy(image, pid, version)
        first = core.threads[0]
        signo = first.signal if first.signal > 0 else 0
        faulting = first.tid if signo else None
        threads = [replace(t, active=t.tid == faulting) for t in threads]
        st = os.stat(path)
        if source_lines:
            threads = _with_code(threads, safeopen.Creds(st.st_uid, st.st_gid, ()), sysroot or "/")
        syscalls = _syscalls(image)
        threads = [_blocked(t, syscalls.get(t.tid)) for t in threads]
        found, lock_notes = _locks(image, pid, version, threads) if locks else ((), [])
        problems = dict(image.problems)
    name = proc.name if proc is not None else ""
    process = Process(
        pid=pid,
        ppid=proc.ppid if proc is not None else 0,
        create_time=0.0,
        name=name,
        cmdline=tuple(proc.args.split()) if proc is not None else (),
        status=ProcessStatus.DEAD if signo else "",  # a gcore of a live process: its state is its threads' (analysis)
        python=f"{version[0]}.{version[1]}",
        num_threads=len(core.threads),
        threads=tuple(threads),
        exit_code=(signo | 0x80) if signo else None,
    )
    notes = [f"read from the core file {path} (written {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(st.st_mtime))})"]
    events = []
    if signo:
        crashed = next((t for t in threads if t.tid == faulting), None)
        who = f"thread {faulting}" + (f" ({crashed.name})" if crashed is not None and crashed.name else "")
        where = f" in {crashed.frames[0].function} at {crashed.frames[0].where}" if crashed is not None and crashed.frames else ""
        notes.append(f"process {pid} was killed by {fault_text(core.siginfo, signo)}: {who}{where} took the signal")
        events.append(Event(time=st.st_mtime, kind=EventKind.PROCESS_EXITED, pid=pid, detail=f"killed by {_signal_name(signo)} (core dumped)"))
    else:
        notes.append(f"process {pid} was not killed by a signal when this core was written (gcore of a live process?)")
    notes += [f"not read from disk: {why}" for why in problems.values()] + lock_notes
    if len(core.threads) > len(threads):
        notes.append(f"{len(core.threads) - len(threads)} of its {len(core.threads)} OS threads had no Python thread state")
    return Snapshot(
        created=st.st_mtime,
        host=os.uname().nodename,
        root_pid=pid,
        processes=(process,),
        locks=found,
        events=tuple(events),
        tools={**tool_versions(), "core": path},
        notes=tuple(notes),
    )


def _blocked(t: Thread, call: Optional[Syscall]) -> Thread:
    """The system call a thread sat in when the core was written (not the one that took the signal)."""
    if call is None or t.active:
        return t
    name, timed, fd, child = kernel.describe(call.nr, call.args)
    return replace(t, futex=call.futex_addr, futex_shared=call.shared, syscall=name, timed=timed, fd=fd, child=child)


def _locks(image: CoreImage, pid: int, version: tuple[int, int], threads: list[Thread]) -> tuple[tuple[Lock, ...], list[str]]:
    """The lock objects the threads asleep in a futex wait on: a core has no frame locals to
    follow (a live capture's way, ``capture.locks``), so its heap is scanned for lock
    objects (``memory.scan``) and the one whose ``sem_t`` is a thread's futex is its lock,
    named as the waiting line spells it."""

    def lock_wait(t: Thread) -> bool:  # as capture.locks: a Condition's or a join's own lock is no lock of the user's
        inner = t.frames[0] if t.frames else None
        return inner is not None and not (inner.file.endswith("threading.py") and inner.function.rpartition(".")[2] in locks._NOT_LOCK_WAITS)

    waiting = [t for t in threads if t.futex is not None and lock_wait(t)]
    if not waiting:
        return (), []
    try:
        with TargetMemory(pid, version, SCAN_BUDGET, image=image) as mem:
            objects = {obj.sem_addr: obj for obj in locks_in(mem) if obj.sem_addr is not None}
            maps = mem.maps
    except CaptureError as exc:
        return (), [f"lock state not read from the core: {exc.message}"]
    found: dict[int, Lock] = {}
    for t in waiting:
        obj = objects.get(t.futex or 0)
        if obj is None:
            continue
        frame = locks._waiting_frame(t.frames)
        assert frame is not None
        name = holders.name_from_code(frame) or obj.type_name
        locks._add(found, pid, t.tid, obj, name, frame.where, maps)
    return tuple(found.values()), []

"""py-spy as a subprocess: ``py-spy dump --pid P --json``, spawned and read in a worker
thread (awaited by the capture's event loop), with a timeout, typed errors kept with
py-spy's own text; its JSON made into model Threads by ``capture.pyspyjson``.

py-spy is run, never linked: a crash or hang of it never takes pooltui down, and a
timeout kills py-spy only (the target is detached by the kernel when its tracer dies).
"""

from __future__ import annotations

import asyncio
import os
import select
import shutil
import signal
import sys
import time
from typing import Optional

from pooltui.capture import kernel, procs
from pooltui.capture.errors import (
    CaptureError,
    DumpTimeout,
    NotPython,
    PermissionDenied,
    ProcessGone,
    PySpyFailed,
    PySpyMissing,
)
from pooltui.capture.pyspyjson import parse_dump
from pooltui.model import DEFAULT_TIMEOUT as MODEL_TIMEOUT
from pooltui.model import Thread
from pooltui.model.record import Record, replace

DEFAULT_TIMEOUT = MODEL_TIMEOUT  # the one default, where CaptureOptions is (pooltui.model.source)


class DumpOptions(Record, frozen=True):
    locals: bool = False
    native: bool = False
    nonblocking: bool = False
    timeout: float = DEFAULT_TIMEOUT


def find_pyspy() -> str:
    """The py-spy to run: $POOLTUI_PYSPY, else the one installed beside this Python, else PATH."""
    override = os.environ.get("POOLTUI_PYSPY")
    if override is not None:
        if os.path.isfile(override) and os.access(override, os.X_OK):
            return override
        raise PySpyMissing(f"POOLTUI_PYSPY={override!r} is not an executable file")
    # os.path, not pathlib: this runs twice per refresh, and pathlib (3.9-3.13) sys.intern()s
    # every path part; parts nothing else holds die and are interned again next time, and
    # that churn makes the interned-strings dict reallocate its ~1 MB table over and over,
    # which glibc keeps as heap (+1.3 MB RSS within minutes of fast refreshes)
    beside = os.path.join(os.path.dirname(sys.executable), "py-spy")
    if os.path.isfile(beside) and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("py-spy")
    if not found:
        raise PySpyMissing("py-spy was not found (not beside this Python, not on PATH)")
    return found


def command(pid: int, options: DumpOptions, pyspy: str) -> list[str]:
    cmd = [pyspy, "dump", "--pid", str(pid), "--json"]
    if options.locals:
        cmd.append("--locals")
    if options.native:
        cmd.append("--native")
    if options.nonblocking:
        cmd.append("--nonblocking")
    return cmd


TRANSIENT_RETRIES = 2  # a failed read that is not a known fact is tried this many more times


def transient(failure: CaptureError) -> bool:
    """A failure worth reading again: py-spy's "Failed to get stack traces" comes and goes while
    the target changes its thread states under it (a pool parent forking a worker), and so does
    "Failed to find a python interpreter in the .data section" (py-spy found the Python version
    first: it is Python; 1 dump in 150 of a crash-looping pool's parent, 3.13). Gone, not
    Python, no permission: facts, not retried."""
    return type(failure) is PySpyFailed or (type(failure) is NotPython and "in the .data section" in failure.detail)


def _first_error_line(stderr: str) -> str:
    for line in stderr.splitlines():
        line = line.strip()
        if line and not line.startswith(("Stack backtrace", "Caused by")) and not line[:1].isdigit():
            return line.removeprefix("Error: ")
    return "py-spy failed without a message"


def classify_failure(pid: int, stderr: str, returncode: int) -> CaptureError:
    """Map py-spy's failure text to a typed error, keeping the text as detail."""
    text = stderr.lower()
    detail = stderr.strip()[:2000]
    first = _first_error_line(stderr)
    # first: a process that exits mid-dump makes py-spy fail in many ways ("permission
    # denied" on its vanished /proc files among them), none of which is the user's problem
    if _exited(pid) or "no such process" in text:
        return ProcessGone(f"process {pid} exited while it was being read", pid=pid, detail=detail)
    if "permission denied" in text or "operation not permitted" in text:
        tracer = kernel.tracer_pid(pid)
        if tracer:
            return PermissionDenied(
                f"py-spy may not attach to process {pid}: another tracer holds it: TracerPid {tracer} ({procs.comm_of(tracer)})",
                pid=pid,
                detail=detail,
                help="One tracer at a time: detach that one (gdb, strace, another py-spy), or read without pausing the process: --nonblocking.",
            )
        return PermissionDenied(f"py-spy may not read process {pid}: {first}", pid=pid, detail=detail)
    if "python version" in text or "python interpreter" in text or "not a python" in text or "failed to find python" in text:
        return NotPython(f"process {pid} is not a Python process py-spy can read", pid=pid, detail=detail)
    return PySpyFailed(f"py-spy failed on process {pid} (exit {returncode}): {first}", pid=pid, detail=detail)


def _exited(pid: int) -> bool:
    """Gone, or a zombie (dead, not yet reaped by its parent): either way nothing to read."""
    return procs.task_state(pid) in (None, "Z", "X") or procs.is_exiting(pid)


MAX_OUTPUT = 16 * 2**20  # py-spy's JSON kept per process: far above a real dump, far below what hurts
MAX_STDERR = 64 * 1024


class _Child:
    """A py-spy started by ``_spawn``: its pid until it is reaped, then its exit status."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: Optional[int] = None

    def reap(self, block: bool) -> bool:
        """Collect its exit status (without waiting unless ``block``); True once reaped."""
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, 0 if block else os.WNOHANG)
            except ChildProcessError:
                # reaped by the kernel: SIGCHLD ignored (a disposition inherited across exec
                # from whoever started pooltui); the status is lost. subprocess.Popen calls that
                # 0 too: the output read decides (a failed py-spy prints no JSON)
                self.returncode = 0
                return True
            if pid == 0:
                return False
            self.returncode = os.waitstatus_to_exitcode(status)
        return True


def _kill_group(proc: _Child) -> None:
    """SIGKILL py-spy's own process group (its session, started for it), so a wrapper that
    forked cannot keep running or hold the pipes open. Only while ``proc`` is not reaped:
    until then its pid, hence the group id, cannot be anyone else's."""
    if proc.returncode is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _collect(proc: _Child, stdout: int, stderr: int, pid: int, timeout: float) -> tuple[bytes, bytes]:
    """stdout (at most MAX_OUTPUT) and stderr (the first MAX_STDERR) of ``proc`` until both
    close and it exits, within ``timeout``; raises DumpTimeout / PySpyFailed after killing
    its group. It is reaped here."""
    deadline = time.monotonic() + timeout
    out, err = bytearray(), bytearray()
    poll = select.poll()
    poll.register(stdout, select.POLLIN)
    poll.register(stderr, select.POLLIN)
    open_fds = {stdout, stderr}
    while open_fds:
        left = deadline - time.monotonic()
        if left <= 0:
            _kill_group(proc)
            raise DumpTimeout(f"py-spy did not answer within {timeout:g} s for process {pid}", pid=pid)
        for fd, _ in poll.poll(left * 1000 + 1):
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                poll.unregister(fd)
                open_fds.discard(fd)
            elif fd == stdout:
                out += chunk
                if len(out) > MAX_OUTPUT:
                    _kill_group(proc)
                    raise PySpyFailed(
                        f"py-spy printed more than {MAX_OUTPUT // 2**20} MiB for process {pid}: not read",
                        pid=pid,
                        detail=bytes(out[:500]).decode("utf-8", "replace"),
                    )
            elif len(err) < MAX_STDERR:
                err += chunk[: MAX_STDERR - len(err)]
    # both pipes closed: py-spy is exiting (or a wrapper closed them and lingers)
    delay = 0.0005
    while not proc.reap(block=False):
        left = deadline - time.monotonic()
        if left <= 0:
            _kill_group(proc)
            raise DumpTimeout(f"py-spy did not answer within {timeout:g} s for process {pid}", pid=pid)
        time.sleep(min(delay, left))
        delay = min(delay * 2, 0.05)
    return bytes(out), bytes(err)


def _env() -> dict[bytes, bytes]:
    """py-spy's environment: this one, except that a Rust backtrace would bury py-spy's own
    message (RUST_BACKTRACE=0). As bytes, copied from the dict behind ``os.environ``: a
    mapping of str costs ~40 Python-level decodes per spawn, 65 spawns per Pool(64)."""
    raw = getattr(os.environ, "_data", None)  # CPython's os._Environ keeps the bytes here
    env = dict(raw) if isinstance(raw, dict) else {os.fsencode(k): os.fsencode(v) for k, v in os.environ.items()}
    if env.get(b"RUST_BACKTRACE", b"0") != b"0":
        env[b"RUST_BACKTRACE"] = b"0"
    return env


def _spawn(cmd: list[str], env: dict[bytes, bytes]) -> tuple[_Child, int, int]:
    """py-spy started in a session of its own, stdin /dev/null, stdout and stderr to pipes:
    (child, stdout fd, stderr fd). posix_spawn (vfork + exec in glibc): a tenth of a
    millisecond of CPU where subprocess.Popen spends twice that."""
    exe = cmd[0]
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0), (os.POSIX_SPAWN_DUP2, out_w, 1), (os.POSIX_SPAWN_DUP2, err_w, 2)]
    if hasattr(os, "POSIX_SPAWN_CLOSEFROM"):  # 3.13: nothing of pooltui's leaks into py-spy, inheritable or not
        actions.append((os.POSIX_SPAWN_CLOSEFROM, 3))
    try:
        pid = os.posix_spawn(exe, cmd, env, file_actions=actions, setsid=True)
    except FileNotFoundError:
        os.close(out_r)
        os.close(err_r)
        raise PySpyMissing(f"py-spy not found at {exe}") from None
    except PermissionError:
        os.close(out_r)
        os.close(err_r)
        raise PySpyMissing(f"py-spy at {exe} is not executable") from None
    except BaseException:
        os.close(out_r)
        os.close(err_r)
        raise
    finally:
        os.close(out_w)
        os.close(err_w)
    return _Child(pid), out_r, err_r


def _run(cmd: list[str], env: dict[bytes, bytes], pid: int, timeout: float, started: list[_Child]) -> tuple[int, bytes, bytes]:
    """py-spy, run to its end (or killed at ``timeout``) in a worker thread, so that forking
    and exec'ing it never stalls the event loop and several are spawned at once. It runs in
    a session of its own: a timeout kills all it started, and its output is read with a
    cap (``_collect``)."""
    proc, stdout, stderr = _spawn(cmd, env)
    started.append(proc)
    try:
        out, err = _collect(proc, stdout, stderr, pid, timeout)
    except CaptureError:
        deadline = time.monotonic() + 5  # SIGKILLed: it is gone at once (a py-spy stuck in the kernel: left to init)
        while not proc.reap(block=False) and time.monotonic() < deadline:
            time.sleep(0.01)
        raise
    finally:
        os.close(stdout)
        os.close(stderr)
    assert proc.returncode is not None
    return proc.returncode, out, err


async def dump(pid: int, options: DumpOptions = DumpOptions(), pyspy: Optional[str] = None, retries: int = TRANSIENT_RETRIES) -> list[Thread]:
    """The Python threads of ``pid``; raises a CaptureError subclass on any failure (a
    ``transient`` one after ``retries`` more tries)."""
    exe = pyspy or find_pyspy()
    env = _env()
    for attempt in range(1 + retries):
        started: list[_Child] = []
        try:
            returncode, out, err = await asyncio.to_thread(_run, command(pid, options, exe), env, pid, options.timeout, started)
        except asyncio.CancelledError:  # a newer refresh replaced this one: stop py-spy (the thread then ends)
            for proc in started:
                _kill_group(proc)  # unless reaped already
            raise
        if returncode == 0:
            return parse_dump(out.decode("utf-8", "replace"), pid)
        failure = classify_failure(pid, err.decode("utf-8", "replace"), returncode)
        if not transient(failure) or attempt == retries:  # read again before calling a healthy process unreadable
            raise failure
    raise AssertionError("unreachable")


async def dump_unpaused(pid: int, options: DumpOptions = DumpOptions(), pyspy: Optional[str] = None) -> Optional[list[Thread]]:
    """One read without pausing ``pid`` (py-spy --nonblocking), or None when it failed the way
    a read fails while threads move under it (``transient``: py-spy then finds no interpreter
    it can walk, "in the .data section", or no stack): that says nothing about the process,
    and the caller reads it paused. A fact (gone, no permission, not Python) raises."""
    try:
        return await dump(pid, replace(options, nonblocking=True), pyspy, retries=0)
    except CaptureError as failure:
        if transient(failure):
            return None
        raise

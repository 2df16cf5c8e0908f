"""What each thread is doing, from its innermost frames: one ``WaitKind`` and a line a
person reads ("waits for a lock in `with self.lock:` in Reporter.report, app.py:18").

The rules, in order:
1. The thread sits in a known "waiting for work" loop (pool worker's ``get()``, the
   Pool's handler threads, a queue feeder, the manager server) with only stdlib frames
   inside it -> idle.
2. py-spy says the thread is active -> running.
3. The innermost stdlib frames name the wait (``Condition.wait``, ``Queue.get``,
   ``SemLock.__enter__``, ``_callmethod``...).
4. Native frames (``--native``) name the C call (``PyThread_acquire_lock_timed``,
   ``sem_wait``, ``take_gil``, ``clock_nanosleep``...).
5. The source line of the innermost user frame (a C lock's acquire has no Python
   frame: the thread is "at" its ``with self.lock:`` line).
The loops, functions and lines each rule knows are data, in ``analysis.knownwaits``.
Who *holds* a lock is the job of ``analysis.locks``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Optional

from pooltui.analysis import filelocks, iolocks
from pooltui.analysis.frames import code_text, find, innermost_user, matches, origin
from pooltui.analysis.knownwaits import C_SERVER_LOOPS, CODE_WAITS, IDLE_LOOPS, NATIVE_WAITS, STDLIB_WAITS, TASK_CALLS, Via
from pooltui.model import FD_CALLS, FILE_LOCK_CALLS, ErrorCode, Frame, Process, ProcessStatus, Snapshot, Thread, Wait, WaitKind
from pooltui.model.bounded import memoize
from pooltui.model.record import replace


def _anchor(frames: Sequence[Frame], index: Optional[int]) -> str:
    if index is None:
        return ""
    f = frames[index]
    code = f" in `{code_text(f.code)}`" if f.code and f.code.strip() else ""
    return f"{code} in {f.function}, {f.where}"


def _wait(kind: WaitKind, phrase: str, frames: Sequence[Frame], at: Optional[int]) -> Wait:
    user = innermost_user(frames)
    index = user if user is not None else at
    return Wait(kind=kind, summary=phrase + _anchor(frames, index), frame_index=index)


def _idle_loop(frames: Sequence[Frame]) -> Optional[tuple[int, str]]:
    for suffix, functions, text, via in IDLE_LOOPS:
        index = find(frames, suffix, *functions)
        if index is not None and all(_inside_loop(f, via) for f in frames[:index]):
            if _serving_request(frames, index) or _running_task(frames[: index + 1]):
                return None
            return index, text
    return None


def _serving_request(frames: Sequence[Frame], index: int) -> bool:
    """A Manager server thread inside ``serve_client`` that is not reading the next request runs
    a client's request: in C (``acquire()`` of a Manager Lock blocks right there, with no frame
    inside) or in Python (the method it was asked to call: an Event's ``wait()``, a Queue's
    ``get()`` of the object it serves). It is not idle."""
    frame = frames[index]
    if not matches(frame, "multiprocessing/managers.py", "serve_client"):
        return False
    inner = [f for f in frames[:index] if not f.native]
    if inner:  # 3.x reads the next request in Connection frames
        return not any(matches(f, "multiprocessing/connection.py") for f in inner)
    # 2.7's C recv has no frame, but its line is `request = recv()` (3.10 may report the call's
    # line as the `except` below it)
    return bool(frame.code) and "recv(" not in (frame.code or "")


def _running_task(frames: Sequence[Frame]) -> bool:
    """A loop's own frame on the line that calls its task (``knownwaits.TASK_CALLS``): the
    task runs, in C when no frame of its own is inside (a worker of ``pool.map(time.sleep,
    ...)`` is no idle worker, and a pool whose workers all run such tasks is not hung)."""
    return any(f.file.endswith(suffix) and pattern.search(f.code or "") for f in frames for suffix, pattern in TASK_CALLS)


def _inside_loop(frame: Frame, via: Via) -> bool:
    """A frame an idle thread may have inside its loop: stdlib, native, or one of the loop's own wait helpers."""
    return origin(frame) in ("stdlib", "native") or any(matches(frame, suffix, *functions) for suffix, functions in via)


# 2.7's Queue.put/get take the queue's mutex first (`self.not_full.acquire()`, the lock's C
# acquire: no frame of its own); blocked on that line they wait for the lock, not for room or items
_QUEUE_MUTEX = re.compile(r"\bnot_(?:full|empty)\.acquire\(\)")


def _stdlib_wait(frames: Sequence[Frame], contiguous: bool = False) -> Optional[tuple[int, WaitKind, str]]:
    """The innermost stdlib frame that names a wait. ``contiguous``: stop at the first
    non-stdlib frame (used to look just outside a Condition.wait)."""
    for i, frame in enumerate(frames):
        if frame.native or origin(frame) != "stdlib":
            if contiguous:
                return None
            continue
        if matches(frame, "Queue.py", "put", "get") and _QUEUE_MUTEX.search(frame.code or ""):
            return i, WaitKind.LOCK, "waits for the queue's lock (its mutex)"
        for suffix, functions, kind, phrase in STDLIB_WAITS:
            if matches(frame, suffix, *functions):
                if kind is WaitKind.CONDITION and suffix == "threading.py":
                    return _refine_condition(frames, i)
                if kind is WaitKind.CONDITION and suffix == "multiprocessing/synchronize.py" and _outer_is(frames, i, suffix, "wait"):
                    return i + 1, WaitKind.EVENT, "waits for a multiprocessing Event to be set"  # Event.wait over Condition.wait
                return i, kind, phrase
    return None


def _outer_is(frames: Sequence[Frame], i: int, suffix: str, *functions: str) -> bool:
    return i + 1 < len(frames) and matches(frames[i + 1], suffix, *functions)


def _proxy_call(frames: Sequence[Frame]) -> Optional[tuple[int, WaitKind, str]]:
    """A call through a Manager proxy: the pipe read under it is the Manager's answer. An
    AcquirerProxy's acquire (``with proxy:`` too) waits on the Manager's lock."""
    index = find(frames, "multiprocessing/managers.py", "_callmethod")
    if index is None or any(origin(f) not in ("stdlib", "native") for f in frames[:index]):
        return None
    outer = frames[index + 1] if index + 1 < len(frames) else None
    if outer is not None and matches(outer, "multiprocessing/managers.py", "acquire", "__enter__"):
        return index + 1, WaitKind.MANAGER_CALL, "waits on the Manager's lock (acquire() through its proxy)"
    return index, WaitKind.MANAGER_CALL, "waits for the Manager server to answer"


def _refine_condition(frames: Sequence[Frame], i: int) -> tuple[int, WaitKind, str]:
    """Condition.wait is the bottom of Event.wait, Queue.get, pool results...: the
    stdlib frames just outside it say what is really awaited."""
    j = i + 1
    if j < len(frames) and matches(frames[j], "threading.py", "wait"):  # Event.wait
        outer = _stdlib_wait(frames[j + 1 :], contiguous=True)
        if outer is not None:
            return j + 1 + outer[0], outer[1], outer[2]
        return j, WaitKind.EVENT, "waits for an Event to be set"
    outer = _stdlib_wait(frames[j:], contiguous=True)
    if outer is not None:
        return j + outer[0], outer[1], outer[2]
    return i, WaitKind.CONDITION, "waits on a Condition (for a notify)"


def _native_wait(frames: Sequence[Frame]) -> Optional[tuple[int, WaitKind, str]]:
    for i, frame in enumerate(frames):
        if not frame.native:
            continue
        name = frame.function
        for needles, kind, phrase in NATIVE_WAITS:
            if any(n in name for n in needles):
                return i, kind, phrase
    return None


_WRITES = ("write", "writev", "sendto", "sendmsg")
_READS = ("read", "readv", "recvfrom", "recvmsg")


def classify(thread: Thread, process_role: str = "") -> Wait:
    """The wait of ``thread``: a function of its frames, ghost, active, system call and
    whether that call is timed alone (and the process's role), so the threads of 64 fork
    siblings with one stack and one system call are classified once (``_classify``, cached:
    what it reads of the thread is passed to it, nothing else)."""
    return _classify(thread.frames, thread.ghost, thread.active, thread.syscall, thread.timed, process_role)


@memoize(max_bytes=8 << 20)  # bounded in bytes: the frames come from the target
def _classify(frames: tuple[Frame, ...], ghost: bool, active: bool, syscall: Optional[str], timed: Optional[bool], process_role: str) -> Wait:
    py = [f for f in frames if not f.native]
    if ghost:
        index = innermost_user(frames)
        return Wait(WaitKind.UNKNOWN, "not a live thread: a copy of a parent thread's state at fork()" + _anchor(frames, index), index)
    if not py and process_role in C_SERVER_LOOPS:
        return Wait(WaitKind.IDLE, C_SERVER_LOOPS[process_role])
    # a "waiting for work" loop with only stdlib code inside is idle even when the thread
    # is on a CPU at that instant (waking up for, or unpickling, its next task)
    # a queue feeder blocked in write() is not waiting for items: the pipe is full
    # (a Pool's task handler blocked writing its pipe is backpressure: the workers read it)
    feeding = syscall in _WRITES and find(frames, "multiprocessing/queues.py", "_feed") is not None
    loop = _idle_loop(frames) if py and not feeding else None
    if loop is not None:
        return Wait(WaitKind.IDLE, loop[1], loop[0])
    if active:
        index = innermost_user(frames)
        if index is None and frames:
            index = 0
        return Wait(WaitKind.RUNNING, "running" + _anchor(frames, index), index)
    if not py and syscall in _CHILD_WAITS:  # a program (a shell) waiting for its child
        return Wait(
            WaitKind.JOIN, f"blocked in {syscall}(): waits for a child to exit (no Python frame: {'a program' if not frames else 'in C code'})"
        )
    if not py and syscall in _READS + _WRITES:
        # a program with no Python stack (a subprocess a worker started: cat, gzip), or a
        # thread inside C code only: the kernel still says what it waits for
        kind = WaitKind.PIPE_WRITE if syscall in _WRITES else WaitKind.PIPE_READ
        return Wait(kind, f"blocked in {syscall}() (no Python frame: {'a program, not Python' if not frames else 'in C code'})")
    if not py:
        return Wait(WaitKind.UNKNOWN, "no Python frames")
    if py and matches(py[0], "multiprocessing/managers.py", "serve_client"):
        index = frames.index(py[0])
        return _wait(WaitKind.UNKNOWN, "runs a Manager client's request (in a C call: a lock?)", frames, index)
    inside = loop_callback(frames)
    if inside is not None:  # a coroutine (or callback) of an asyncio loop blocks the loop
        return _blocked_loop(_classify_inner(frames[:inside]), frames)
    if iolocks.waits_inside(frames, syscall, timed) and _proxy_call(frames) is None and _stdlib_wait(frames) is None:
        # at `f.readline()` but asleep in a futex, not in read(): the object's own lock
        return _wait(WaitKind.LOCK, iolocks.WAIT_WORDS, frames, frames.index(py[0]))
    return _by_syscall(_classify_inner(frames, syscall), syscall, timed, frames)


IDLE_UNKNOWN = "idle (not on CPU)"  # no frame, line or native frame names the wait
_CHILD_WAITS = ("wait4", "waitid")  # a blocking wait for a child (WNOHANG never blocks)
SIGNAL_CALLS = ("pause", "rt_sigtimedwait", "rt_sigsuspend")  # a wait only a signal ends (kill, pthread_kill, a timer)


def _by_syscall(wait: Wait, syscall: Optional[str], timed: Optional[bool], frames: Sequence[Frame]) -> Wait:
    """A wait the frames cannot name, named by the kernel: a timed sleep. 3.10 reports a
    loop's `time.sleep()` at the loop's `while True:` line, and sleeps in select() with a
    timeout (3.11+ in clock_nanosleep)."""
    if syscall in _CHILD_WAITS and wait.kind is not WaitKind.JOIN:  # os.wait(), os.waitpid(): not an Event's wait()
        return _wait(WaitKind.JOIN, f"waits for a child process to exit (in {syscall}(): os.wait/os.waitpid)", frames, wait.frame_index)
    if wait.kind is not WaitKind.UNKNOWN:
        return wait
    if syscall in ("nanosleep", "clock_nanosleep"):
        return _wait(WaitKind.SLEEP, "sleeps", frames, wait.frame_index)
    if syscall in ("open", "openat"):
        said = f"blocked in {syscall}(): opening a FIFO no process has opened the other end of yet (or a file on a stuck file system)"
        return _wait(WaitKind.UNKNOWN, said, frames, wait.frame_index)
    if syscall in SIGNAL_CALLS:
        if timed:
            return _wait(WaitKind.SLEEP, f"waits for a signal, with a timeout (in {syscall}(): signal.sigtimedwait?)", frames, wait.frame_index)
        said = f"waits for a signal, no timeout (in {syscall}(): signal.sigwait/pause): only a signal sent to it ends the wait"
        said += " (kill, a timer, pthread_kill)"
        return _wait(WaitKind.UNKNOWN, said, frames, wait.frame_index)
    if syscall == "connect":
        return _wait(WaitKind.UNKNOWN, "waits for a connection to be made (connect(): a peer that does not answer)", frames, wait.frame_index)
    if syscall in FILE_LOCK_CALLS:  # who holds it: analysis.filelocks, from the kernel's lock table
        return _wait(WaitKind.FILE_LOCK, filelocks.waiting_words(syscall), frames, wait.frame_index)
    if syscall in ("select", "pselect6") and timed:
        return _wait(WaitKind.SLEEP, "sleeps or waits with a timeout (in select(): time.sleep?)", frames, wait.frame_index)
    if syscall == "futex" and wait.summary.startswith(IDLE_UNKNOWN):
        # no source line to read a `with LOCK:` from (code run by exec, a deleted .py): the
        # kernel still says the thread sleeps in futex(), as a lock acquire does -- not idle
        return _wait(WaitKind.UNKNOWN, "blocked in futex() (a lock acquire? no source line says which)", frames, wait.frame_index)
    if syscall is not None and wait.summary.startswith(IDLE_UNKNOWN):
        # the same for any other blocking call (a write() to a pipe nobody reads, in code run by -c)
        return _wait(WaitKind.UNKNOWN, f"blocked in {syscall}() (no source line says what for)", frames, wait.frame_index)
    return wait


# the system calls a lock waits in (restart_syscall: a timed futex wait resumed after a ptrace stop)
_LOCK_CALLS = (None, "futex", "restart_syscall")


def _classify_inner(frames: Sequence[Frame], syscall: Optional[str] = None) -> Wait:
    """The wait named by stdlib frames, then the innermost line's code, then native frames.
    A line's guess of a lock (``with x:``, ``.acquire(``) is dropped where the kernel says
    the thread waits in another system call (``syscall``: ``with open(fifo) as f:`` blocks in
    openat(), not on a lock): a lock waits in futex()."""
    if not any(not f.native for f in frames):
        return Wait(WaitKind.UNKNOWN, "no Python frames")
    found = _proxy_call(frames) or _stdlib_wait(frames)
    if found is not None:
        return _wait(found[1], found[2], frames, found[0])
    # the Python frames first: native frames (`n`, --native) only add what they alone can
    # tell, so switching them on never changes a wait line the Python frames already give
    innermost = next(i for i, f in enumerate(frames) if not f.native)
    code = frames[innermost].code or ""
    for pattern, kind, phrase in CODE_WAITS:
        # the kernel overrules a line that calls two things (`f.write(x); time.sleep(1)`, in write())
        overruled = (kind is WaitKind.LOCK and syscall not in _LOCK_CALLS) or (kind is WaitKind.SLEEP and syscall in FD_CALLS)
        if pattern.search(code) and not overruled:
            return _wait(kind, phrase, frames, innermost)
    found = _native_wait(frames)
    if found is not None:
        return _wait(found[1], found[2], frames, found[0])
    phrase = "blocked in a C call" if code else IDLE_UNKNOWN
    return _wait(WaitKind.UNKNOWN, phrase, frames, innermost)


LOOP_BLOCKED = "the event loop is blocked"


def loop_callback(frames: Sequence[Frame]) -> Optional[int]:
    """Index of asyncio's ``Handle._run`` when the loop is running a callback or a task's
    step (frames inside it), else None. py-spy shows the coroutines right above it (the C
    Task's step has no frame)."""
    index = find(frames, "asyncio/events.py", "_run")
    if index is None or index == 0 or find(frames, "asyncio/base_events.py", "_run_once") is None:
        return None
    return index


def coroutine_of(frames: Sequence[Frame]) -> str:
    """The innermost user function running inside the loop's callback (the coroutine)."""
    inside = loop_callback(frames)
    user = innermost_user(frames[:inside]) if inside else None
    return frames[user].function if user is not None else (frames[0].function if frames else "?")


def _blocked_loop(inner: Wait, frames: Sequence[Frame]) -> Wait:
    """A thread of an asyncio loop, not on a CPU, inside a callback: the loop is stuck there."""
    if inner.coroutine is not None:
        return inner
    return said_in_coroutine(inner, coroutine_of(frames))


def said_in_coroutine(wait: Wait, coroutine: str) -> Wait:
    """``wait`` of a thread whose asyncio loop is blocked in ``coroutine``: said first."""
    return replace(wait, summary=f"{LOOP_BLOCKED} (in coroutine {coroutine}): {wait.summary}", coroutine=coroutine)


def classify_snapshot(snapshot: Snapshot) -> Snapshot:
    """Every thread of every process with its ``wait`` filled in (existing lock facts kept)."""
    try:
        processes = tuple(
            replace(p, threads=tuple(t if t.wait and t.wait.lock_id else replace(t, wait=classify(t, p.role)) for t in p.threads))
            for p in snapshot.processes
        )
    finally:
        _classify.cache_clear()  # what one snapshot's siblings share; stacks with locals are not kept for good
    return snapshot.with_(processes=processes)


def process_state(proc: Process) -> str:
    """One badge per process: running / idle / sleeping / waiting / blocked / stopped /
    traced / zombie / gone / crashed / not python / error. Judged by the main thread first (it is what the pool waits on),
    then by any thread stuck on a lock."""
    if proc.status == ProcessStatus.ZOMBIE:
        return "zombie"
    if proc.error is not None:
        return _ERROR_STATE.get(proc.error.code, "error")
    if proc.status == ProcessStatus.GONE:
        return "gone"
    if proc.status == ProcessStatus.DEAD and proc.exit_code:  # read from a core file the kernel wrote as it died (capture.coredump)
        return "crashed"
    if proc.tracer_pid:  # a debugger or strace holds it (stopped at a breakpoint, or running under it)
        return "traced"
    if proc.stopped:  # SIGSTOP / ctrl-z: none of its threads runs, whatever its stacks say
        return "stopped"
    kinds = [t.wait.kind for t in proc.threads if t.wait is not None and not t.ghost]
    if not kinds:
        return "not python" if proc.python is None else "idle"
    if WaitKind.RUNNING in kinds:
        return "running"
    main = next((t for t in proc.threads if t.tid == proc.pid), None)
    if any(k.is_lock for k in kinds):
        return "blocked"
    if main is not None and main.wait is not None:
        return _STATE.get(main.wait.kind, "blocked")
    return "idle"


# a process that could not be read -> the process badge (every other code: error)
_ERROR_STATE: dict[str, str] = {ErrorCode.PROCESS_GONE: "gone", ErrorCode.NOT_PYTHON: "not python"}

# the main thread's wait -> the process badge (everything else: blocked)
_STATE = {WaitKind.IDLE: "idle", WaitKind.SLEEP: "sleeping", WaitKind.SELECT: "waiting", WaitKind.RUNNING: "running"}

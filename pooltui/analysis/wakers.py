"""Who could end a wait (DESIGN.md, "wakers"), for the waits no lock holder answers: a
process-private primitive -- ``threading.Condition``/``Event``, ``queue.Queue``, a
``concurrent.futures`` Future, ``Thread.join`` -- can only be ended by a live thread of
the waiter's own process (or, in its main thread on CPython 3, by a signal handler).

``no_waker``: a thread blocked on one of them without a timeout (the kernel says: a futex
wait with no timeout) in a process where no other thread lives -- the notifier was a
thread of the parent that fork() did not copy, or it died -- waits forever: nobody can
end it. When a signal handler could (CPython 3, the main thread, a handler installed for
a signal other than SIGINT), who could is not knowable from here: that is said in words
(info), never an error.
"""

from __future__ import annotations

from typing import Optional

from pooltui.analysis import hangs
from pooltui.analysis.frames import innermost_user, matches
from pooltui.model import (
    FD_CALLS,
    POLL_CALLS,
    WRITE_CALLS,
    Certainty,
    Diagnosis,
    Kind,
    PipeEnd,
    Process,
    ProcessStatus,
    Severity,
    Snapshot,
    SocketEnd,
    Thread,
    ThreadRole,
    WaitKind,
    pids_key,
)

_PRIVATE_KINDS = (WaitKind.CONDITION, WaitKind.EVENT, WaitKind.QUEUE_GET, WaitKind.QUEUE_PUT, WaitKind.JOIN)
_PRIVATE_FRAMES = (
    ("threading.py", ("wait", "join", "_wait_for_tstate_lock", "acquire")),
    ("queue.py", ("get", "put")),
    ("Queue.py", ("get", "put")),  # 2.7
    ("concurrent/futures/_base.py", ("result", "wait", "exception")),
)
_SIGINT_BIT = 1 << 1  # SIGINT (2): its default handler raises KeyboardInterrupt -- a person's ctrl-C, not a waker
_STANDARD = (1 << 31) - 1  # signals 1-31: glibc itself catches 32 and 33 (SIGCANCEL, SIGSETXID) in every threaded process
FIX = (
    "Create threads, Events, Conditions and queue.Queues in the process that uses them (after fork, or under the "
    "'spawn'/'forkserver' start method): a thread of the parent does not exist in a forked child, so nothing there "
    "will ever set, notify or fill what it left behind. Wait with a timeout, and check the notifier is alive."
)


def primitive(t: Thread) -> Optional[str]:
    """What a thread waits on in words, when it is a process-private primitive of the
    standard library (never a multiprocessing one: another process may end that)."""
    user = innermost_user(t.frames)
    inner = t.frames[: user if user is not None else 6]  # the library frames the wait is in, above the user's call
    if not inner or any("multiprocessing/" in f.file for f in inner if not f.native):
        return None
    found = [(i, suffix) for i, f in enumerate(inner) for suffix, functions in _PRIVATE_FRAMES if not f.native and matches(f, suffix, *functions)]
    if not found:
        return None
    i, suffix = max(found)  # the outermost: Event.wait, not the Condition.wait it is built on
    f = inner[i]
    function = f.function
    if suffix == "threading.py" and function.rpartition(".")[2] == "acquire":
        # a Python-level acquire in threading.py waiting on its Condition: a Semaphore (and
        # BoundedSemaphore); 2.7's Python RLock blocks in its C lock instead (the lock rules' case)
        if not any(not g.native and matches(g, "threading.py", "wait") for g in inner[:i]):
            return None
        return "acquire() of a threading.Semaphore"
    if "." not in function and suffix == "threading.py":  # before 3.11 no qualified names: told by the shape
        waits = sum(1 for g in inner if not g.native and matches(g, "threading.py", "wait"))
        cls = {"join": "Thread", "_wait_for_tstate_lock": "Thread"}.get(function) or ("Event" if waits >= 2 else "Condition")
        function = f"{cls}.{function}"
    return f"{function.rpartition('.')[2]}() of {_owner(function, suffix)}"


def _owner(function: str, suffix: str) -> str:
    if suffix.startswith("concurrent"):
        return "a concurrent.futures Future"
    if suffix.lower() == "queue.py":
        return "a queue.Queue"
    cls = function.rpartition(".")[0]
    return f"a threading.{cls}" if cls else "a threading object"


def _alone(p: Process) -> Optional[Thread]:
    """The process's one live thread, if it has only one."""
    live = [t for t in p.threads if not t.ghost]
    return live[0] if len(live) == 1 else None


def signal_handlers(p: Process) -> Optional[bool]:
    """Whether a Python signal handler could run in the blocked main thread: CPython 2.7
    runs none while a lock acquire blocks (it is not interruptible); on 3.x any handler for
    a signal other than SIGINT could. None: not known (the mask was not read)."""
    if p.python is not None and p.python.startswith("2."):
        return False
    if p.caught_signals is None:
        return None
    return bool(p.caught_signals & _STANDARD & ~_SIGINT_BIT)


def _no_handler(p: Process, t: Thread) -> str:
    if p.python and p.python.startswith("2."):
        return "CPython 2.7 runs no signal handler while a lock acquire blocks"
    if t.tid != p.pid:
        return "it is not the main thread: no signal handler runs in it"
    return "no signal handler is installed but SIGINT's (KeyboardInterrupt)"


def private_wait(t: Thread) -> Optional[str]:
    """``primitive(t)`` when ``t`` waits on one: a Condition/Event/queue/Future/join wait, or
    a Semaphore's acquire (a lock wait to the other rules: it records no holder, and any
    thread of its process may release it)."""
    if t.wait is None or t.wait.kind not in (*_PRIVATE_KINDS, WaitKind.LOCK):
        return None
    what = primitive(t)
    return what if what is not None and (t.wait.kind is not WaitKind.LOCK or what.endswith("Semaphore")) else None


def lone_waits(snapshot: Snapshot) -> list[Diagnosis]:
    out = []
    for p in snapshot.processes:
        t = _alone(p)
        if t is None or p.status == ProcessStatus.ZOMBIE or t.wait is None or t.timed is not False:
            continue
        what = private_wait(t)
        if what is None:
            continue
        where = t.wait.summary
        ghosts = [g for g in p.threads if g.ghost]
        why = f"pid {p.pid} has no other live thread" + (
            f" (the {len(ghosts)} thread state(s) it keeps are copies of its parent's threads from fork(): they do not run here)" if ghosts else ""
        )
        handler = signal_handlers(p) if t.tid == p.pid else False
        if handler is not False:
            out.append(
                Diagnosis(
                    kind=Kind.NO_WAKER,
                    certainty=Certainty.GUESS,
                    severity=Severity.INFO,  # who could end it is not knowable: said, never a warning
                    subject=pids_key((p.pid,)),
                    summary=(
                        f"{t.label!r} (pid {p.pid}) waits, without a timeout, on {what}, and {why}: only a signal handler could "
                        "end this wait" + (" (the process has handlers installed)" if handler else " (its handlers were not read)") + "."
                    ),
                    pids=(p.pid,),
                    tids=(t.tid,),
                    evidence=(f"{t.label!r}: {where}", why),
                    fix=FIX,
                )
            )
            continue
        out.append(
            Diagnosis(
                kind=Kind.NO_WAKER,
                certainty=Certainty.FACT if t.futex is not None else Certainty.INFERRED,
                subject=pids_key((p.pid,)),
                summary=(
                    f"Nobody can end this wait: {t.label!r} (pid {p.pid}) waits, without a timeout, on {what}, a primitive only a "
                    f"thread of its own process can set or notify, and {why}."
                ),
                pids=(p.pid,),
                tids=(t.tid,),
                evidence=(
                    f"{t.label!r}: {where}",
                    why,
                    "the kernel shows it asleep in a futex wait with no timeout" if t.futex is not None else "its wait has no timeout",
                    _no_handler(p, t),
                ),
                fix=FIX,
            )
        )
    return out


RESULTS_FIX = (
    "A Pool's result handler thread ends when a callback or error_callback raises (CPython gh-103061): catch every "
    "exception inside callbacks. This pool cannot deliver another result: terminate it and make a new one."
)


def no_result_handler(snapshot: Snapshot) -> list[Diagnosis]:
    """A Pool's results are set (``ApplyResult._set``, the Event ``map()``/``get()`` waits on)
    only by its result handler thread: a parent waiting for them, without a timeout, whose
    result handler thread is gone (its worker and task handlers still there: the pool was
    not closed) waits forever, whatever its workers do."""
    out = []
    for p in snapshot.processes:
        t = hangs.waiter(p)
        if t is None or t.wait is None or t.wait.kind is WaitKind.JOIN or t.timed is True or p.status == ProcessStatus.ZOMBIE:
            continue
        handlers = (hangs.handler(p, ThreadRole.WORKER_HANDLER), hangs.handler(p, ThreadRole.TASK_HANDLER))
        if hangs.handler(p, ThreadRole.RESULT_HANDLER) is not None or None in handlers:
            continue
        out.append(
            Diagnosis(
                kind=Kind.NO_WAKER,
                certainty=Certainty.INFERRED,
                subject=pids_key((p.pid,)),
                summary=(
                    f"Nobody can end this wait: {t.label!r} (pid {p.pid}) waits for pool results ({hangs.where(t)}), which only the "
                    "pool's result handler thread delivers, and that thread is gone (a callback that raised ends it: CPython "
                    "gh-103061). No worker needs to have died: the results may sit unread in the pool's pipe."
                ),
                pids=(p.pid,),
                tids=(t.tid,),
                evidence=(
                    f"{t.label!r}: {t.wait.summary}",
                    f"pid {p.pid} threads: " + ", ".join(repr(str(x.role or x.label)) for x in p.threads if not x.ghost) + " -- no result handler",
                ),
                fix=RESULTS_FIX,
            )
        )
    return out


_MP_READS = (WaitKind.PIPE_READ, WaitKind.QUEUE_GET)  # Connection.recv(), Queue.get() (2.7: no connection.py frame)
_END_WAITS = (WaitKind.PIPE_READ, WaitKind.PIPE_WRITE, WaitKind.QUEUE_GET, WaitKind.QUEUE_PUT, WaitKind.SELECT, WaitKind.UNKNOWN)
END_FIX = (
    "Close the ends a process does not use (the writer's copy in the reader after fork(), Connection.close() of the "
    "unused half of a Pipe()): a reader never sees EOF while it holds the write end itself. Read with a timeout "
    "(Queue.get(timeout=…), Connection.poll(t)) and check the producer is alive (Process.is_alive(), exitcode)."
)


def no_hidden_threads(p: Process) -> bool:
    """The kernel counts no more threads than the stacks show live: no C thread is left that
    could read or write."""
    return not p.num_threads or p.num_threads <= len([t for t in p.threads if not t.ghost])


def unanswered_ends(snapshot: Snapshot) -> list[Diagnosis]:
    """A process's only live thread blocked reading (or writing) a pipe or socket, without a
    timeout, whose other end no other process of the tree holds: whoever was to write (or
    read) is gone -- a producer killed, a child that exited -- and the process keeps the other
    end itself (so no EOF comes), or nobody does. When the whole box was read
    (``PipeEnd.elsewhere``: nobody outside the tree holds it either) nobody can end the wait:
    an error; when it could not be, a guess. A holder outside the tree: said in the thread's
    wait (``ends.outside``), never a verdict."""
    out = []
    for p in snapshot.processes:
        t = _alone(p)
        if t is None or p.status == ProcessStatus.ZOMBIE or t.fd is None or t.syscall not in FD_CALLS or t.timed is True or not no_hidden_threads(p):
            continue
        if t.wait is None or t.wait.kind not in _END_WAITS:
            continue
        end: Optional[PipeEnd | SocketEnd] = next((e for e in p.pipes if e.fd == t.fd), None) or next((e for e in p.sockets if e.fd == t.fd), None)
        if end is None or end.elsewhere or (isinstance(end, SocketEnd) and end.peer is None):
            continue  # held outside the tree (said in words), or its other end is not known
        if _held_in_tree(snapshot, p, end):
            continue  # another process of the tree can act: the wait-for graph follows it
        if end.elsewhere is None and not (isinstance(end, PipeEnd) and t.wait.kind in _MP_READS):
            continue  # the box was not read: only a multiprocessing read is worth a guess (as before the scan)
        writing = t.syscall in WRITE_CALLS
        what = f"pipe:[{end.inode}]" if isinstance(end, PipeEnd) else f"socket:[{end.inode}]"
        side = ("read end" if writing else "write end") if isinstance(end, PipeEnd) else "other end"
        mine = sorted(e.fd for e in p.pipes if isinstance(end, PipeEnd) and e.inode == end.inode and e.writes != end.writes) or sorted(
            e.fd for e in p.sockets if isinstance(end, SocketEnd) and e.inode == end.peer
        )
        if not mine:
            continue  # nobody holds the other end: the call returns (EOF, EPIPE), it does not block
        fds = ", ".join(map(str, mine))
        gone = [c for c in snapshot.children(p.pid) if c.status == ProcessStatus.ZOMBIE]
        handler = signal_handlers(p) if t.tid == p.pid else False
        known = end.elsewhere == () and handler is False
        action = "write to" if writing else "read from"
        evidence = (
            f"{t.label!r}: {t.wait.summary}",
            f"pid {p.pid}: blocked in {t.syscall}() on fd {t.fd} ({what}), no timeout; its only live thread",
            f"{side} held by: pid {p.pid} itself (fd {fds})"
            + (
                "; no process outside this tree holds it either (every process on this box read)"
                if end.elsewhere == ()
                else "; processes outside this tree not read"
            ),
            *(f"child pid {c.pid} {c.exit_text} (not reaped)" for c in gone),
            _no_handler(p, t) if handler is False else "a signal handler could still act on it (handlers installed, or not read)",
        )
        other = "read" if writing else "write"
        if known:
            summary = (
                f"Nobody can end this wait: {t.label!r} (pid {p.pid}) waits to {action} {what} (fd {t.fd}), whose {side} only pid "
                f"{p.pid} itself holds (fd {fds}; no other process on this box does{'' if writing else ', so not even EOF comes'}), "
                f"and pid {p.pid} has no other thread to {other}."
            )
        else:
            summary = (
                f"Probably hung for good: {t.label!r} (pid {p.pid}) waits to {action} {what} (fd {t.fd}), whose {side} no other "
                f"process of the tree holds (pid {p.pid} itself does: fd {fds}), and pid {p.pid} has no other thread to {other}: "
                f"whoever was to {'read' if writing else 'send'} is gone."
            )
        out.append(
            Diagnosis(
                kind=Kind.NO_WAKER if known else Kind.DEADLOCK,
                certainty=Certainty.FACT if known else Certainty.GUESS,
                subject=f"{'pipe' if isinstance(end, PipeEnd) else 'socket'} {end.inode}",
                summary=summary,
                pids=(p.pid, *(c.pid for c in gone)),
                tids=(t.tid,),
                evidence=evidence,
                fix=END_FIX,
            )
        )
    return out


def _held_in_tree(snapshot: Snapshot, p: Process, end: PipeEnd | SocketEnd) -> bool:
    """Another live process of the tree holds the other end of ``end``."""
    for q in snapshot.processes:
        if q.pid == p.pid or q.status == ProcessStatus.ZOMBIE:
            continue
        if isinstance(end, PipeEnd) and any(e.inode == end.inode and e.writes != end.writes for e in q.pipes):
            return True
        if isinstance(end, SocketEnd) and any(e.inode == end.peer for e in q.sockets):
            return True
    return False


FUTEX_FIX = (
    "A C-level lock (inside a hashlib object, a buffered file, the import system, an extension) taken by a thread of the "
    "parent when it forked stays taken in the child, where that thread does not exist: fork only from a process with no "
    "other threads, or use the 'spawn'/'forkserver' start method; os.register_at_fork can quiesce what the code owns."
)


def lone_futex(snapshot: Snapshot) -> list[Diagnosis]:
    """A process's only thread asleep on a process-private futex (``FUTEX_PRIVATE_FLAG``: only
    a thread sharing its memory can wake it) without a timeout, with no thread the kernel
    counts beyond it: whatever lock or condition that futex is -- a C lock inside a stdlib
    object, an extension's mutex, one no rule names -- nobody can wake it. Typically a lock
    some thread of the parent held when it forked. A wait a rule above already names
    (``lone_waits``) is said there. In a CPython 3 main thread with signal handlers a handler
    could act during a Python-level lock's wait: then said as info."""
    out = []
    for p in snapshot.processes:
        t = _alone(p)
        if t is None or p.status == ProcessStatus.ZOMBIE or t.futex is None or t.futex_shared is not False or t.timed is not False:
            continue
        if t.ran or not no_hidden_threads(p) or private_wait(t) is not None:
            continue
        where = t.wait.summary if t.wait is not None else "in a C call"
        handler = signal_handlers(p) if t.tid == p.pid else False
        why = f"pid {p.pid} has no other thread (the kernel counts {p.num_threads or 1})"
        evidence = (
            f"{t.label!r}: {where}",
            f"the kernel shows it asleep in futex() on 0x{t.futex:x}, process-private (FUTEX_PRIVATE_FLAG: only a thread of "
            f"pid {p.pid} can wake it), no timeout",
            why,
            _no_handler(p, t) if handler is False else "a signal handler could still run (handlers installed, or not read)",
        )
        out.append(
            Diagnosis(
                kind=Kind.NO_WAKER,
                certainty=Certainty.FACT if handler is False else Certainty.GUESS,
                severity=Severity.ERROR if handler is False else Severity.INFO,
                subject=pids_key((p.pid,)),
                summary=(
                    f"Nobody can end this wait: {t.label!r} (pid {p.pid}) sleeps, without a timeout, on a lock or condition "
                    f"private to its process ({where}), and {why} to release it" + ("." if handler is False else "; only a signal handler could.")
                ),
                pids=(p.pid,),
                tids=(t.tid,),
                evidence=evidence,
                fix=FUTEX_FIX,
            )
        )
    return out


POLL_FIX = (
    "Something the code awaits is never done: a Future or Event nobody sets, a Queue nobody fills, in a loop with "
    "nothing else to do. Await with a timeout (asyncio.wait_for), and keep whoever should complete it alive (a task "
    "held by a reference; a producer that logs its failure)."
)


def _own_other_end(snapshot: Snapshot, p: Process, fd: int) -> Optional[PipeEnd | SocketEnd]:
    """The end ``fd`` of ``p`` when its other end only ``p`` holds, on the whole box (read:
    ``elsewhere == ()``): a pipe's read end whose write end is ``p``'s, a socket whose peer is."""
    end: Optional[PipeEnd | SocketEnd] = next((e for e in p.pipes if e.fd == fd), None) or next((e for e in p.sockets if e.fd == fd), None)
    if end is None or end.elsewhere != () or _held_in_tree(snapshot, p, end):
        return None
    if isinstance(end, PipeEnd):
        mine = not end.writes and any(e.inode == end.inode and e.writes for e in p.pipes)
    else:
        mine = end.peer is not None and any(e.inode == end.peer for e in p.sockets)
    return end if mine else None


def lone_poll(snapshot: Snapshot) -> list[Diagnosis]:
    """A process's only thread waiting, without a timeout, in select/poll/epoll on fds that
    are all ends whose other ends only it holds (on the whole box): nothing can make one
    readable -- an asyncio loop with no timer, no connection and no other thread, its
    self-pipe the only thing it watches: whatever its coroutine awaits, nobody will do it.
    With a signal handler installed (a signal writes the loop's wakeup fd) it is info."""
    out = []
    for p in snapshot.processes:
        t = _alone(p)
        if t is None or p.status == ProcessStatus.ZOMBIE or t.syscall not in POLL_CALLS or t.timed is not False or not t.polls or t.ran:
            continue
        if not no_hidden_threads(p):
            continue
        ends = [_own_other_end(snapshot, p, fd) for fd in t.polls]
        if not all(ends):
            continue  # it watches something another process or the world can make readable
        loop = any("asyncio/" in f.file for f in t.frames if not f.native)
        handler = signal_handlers(p) if t.tid == p.pid else False
        watched = ", ".join(f"fd {e.fd} ({'pipe' if isinstance(e, PipeEnd) else 'socket'}:[{e.inode}])" for e in ends if e is not None)
        what = "an asyncio event loop with no timer, no connection and nothing ready" if loop else "a poll on ends only it could write"
        out.append(
            Diagnosis(
                kind=Kind.NO_WAKER,
                certainty=Certainty.FACT if handler is False else Certainty.GUESS,
                severity=Severity.ERROR if handler is False else Severity.INFO,
                subject=pids_key((p.pid,)),
                summary=(
                    ("Nobody can end this wait: " if handler is False else "Only a signal can end this wait: ")
                    + f"{t.label!r} (pid {p.pid}) waits in {t.syscall}() without a timeout on {watched}, "
                    f"whose other end{'s' if len(ends) > 1 else ''} only pid {p.pid} itself holds, and it has no other thread: {what}"
                    + (" -- whatever its coroutine awaits, nothing will ever do it." if loop and handler is False else ".")
                ),
                pids=(p.pid,),
                tids=(t.tid,),
                evidence=(
                    f"{t.label!r}: {t.wait.summary if t.wait else 'waits'}",
                    f"the kernel shows it in {t.syscall}() with no timeout, watching {watched}",
                    f"no other process on this box holds the other end of {'any of them' if len(ends) > 1 else 'it'}; "
                    f"pid {p.pid} has no other thread",
                    _no_handler(p, t) if handler is False else "a signal handler could still wake it (handlers installed, or not read)",
                ),
                fix=POLL_FIX,
            )
        )
    return out

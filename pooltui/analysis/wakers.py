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
from pooltui.analysis.frames import find, innermost_user, matches
from pooltui.model import (
    Certainty,
    Diagnosis,
    Kind,
    Process,
    ProcessStatus,
    Severity,
    Snapshot,
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
    # the library frames the wait is in, above the user's call -- or, in a Manager's server
    # thread, above the request it runs (the served object is private to the Manager process)
    serving = find(t.frames, "multiprocessing/managers.py", "serve_client")
    inner = t.frames[:serving] if serving is not None else t.frames[: user if user is not None else 6]
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


def no_hidden_threads(p: Process) -> bool:
    """The kernel counts no more threads than the stacks show live: no C thread is left that
    could read or write."""
    return not p.num_threads or p.num_threads <= len([t for t in p.threads if not t.ghost])

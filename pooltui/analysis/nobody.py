"""Waits nobody can end, read from kernel facts rather than a rule per primitive: a
process's only thread blocked on a pipe or socket whose other end only it holds
(``unanswered_ends``), asleep on a process-private futex with no timeout (``lone_futex``:
whatever C lock it is), or polling, untimed, only such ends (``lone_poll``: an idle asyncio
loop). Who else on the box holds an end is read by ``capture.ends`` (``PipeEnd.elsewhere``).
"""

from __future__ import annotations

from typing import Optional

from pooltui.analysis.ends import own_far_fds
from pooltui.analysis.wakers import _alone, _no_handler, no_hidden_threads, private_wait, signal_handlers
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
    WaitKind,
    pids_key,
)

_MP_READS = (WaitKind.PIPE_READ, WaitKind.QUEUE_GET)  # Connection.recv(), Queue.get() (2.7: no connection.py frame)
_END_WAITS = (WaitKind.PIPE_READ, WaitKind.PIPE_WRITE, WaitKind.QUEUE_GET, WaitKind.QUEUE_PUT, WaitKind.SELECT, WaitKind.UNKNOWN)
END_FIX = (
    "Close the ends a process does not use (the writer's copy in the reader after fork(), Connection.close() of the "
    "unused half of a Pipe()): a reader never sees EOF while it holds the write end itself. Read with a timeout "
    "(Queue.get(timeout=…), Connection.poll(t)) and check the producer is alive (Process.is_alive(), exitcode)."
)


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
        mine = sorted(own_far_fds(p, t.fd))
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


def _lone_verdict(p: Process, t: Thread, certain: bool, summary: str, evidence: tuple[str, ...], fix: str) -> Diagnosis:
    """``no_waker`` for a process's only thread: a fact (error) unless a signal handler could
    still act (``certain`` false: a guess, said as info)."""
    return Diagnosis(
        kind=Kind.NO_WAKER,
        certainty=Certainty.FACT if certain else Certainty.GUESS,
        severity=Severity.ERROR if certain else Severity.INFO,
        subject=pids_key((p.pid,)),
        summary=summary,
        pids=(p.pid,),
        tids=(t.tid,),
        evidence=evidence,
        fix=fix,
    )


FUTEX_FIX = (
    "A C-level lock (inside a hashlib object, a buffered file, the import system, an extension) taken by a thread of the "
    "parent when it forked stays taken in the child, where that thread does not exist: fork only from a process with no "
    "other threads, or use the 'spawn'/'forkserver' start method; os.register_at_fork can quiesce what the code owns."
)


SHARED_FIX = (
    "Whoever was to set, notify or release this multiprocessing Event, Condition or Semaphore is gone (or never had "
    "it): keep the setter alive until the waiter is done, check it (Process.is_alive(), exitcode), and wait with a timeout."
)


def lone_futex(snapshot: Snapshot) -> list[Diagnosis]:
    """A process's only thread asleep on a process-private futex (``FUTEX_PRIVATE_FLAG``: only
    a thread sharing its memory can wake it) without a timeout, with no thread the kernel
    counts beyond it: whatever lock or condition that futex is -- a C lock inside a stdlib
    object, an extension's mutex, one no rule names -- nobody can wake it. Typically a lock
    some thread of the parent held when it forked. The same for a multiprocessing Event,
    Condition or Semaphore that no other process of the tree maps (``Thread.shared_by``: its
    setter is gone) -- a guess, as a process outside the tree could have inherited it. A wait a rule above already names
    (``lone_waits``) is said there. In a CPython 3 main thread with signal handlers a handler
    could act during a Python-level lock's wait: then said as info."""
    out = []
    for p in snapshot.processes:
        t = _alone(p)
        private = t is not None and (t.futex_shared is False or (t.shared_by == (p.pid,) and t.shared_wait))
        if t is None or p.status == ProcessStatus.ZOMBIE or t.futex is None or not private or t.timed is not False:
            continue
        if t.ran or not no_hidden_threads(p) or private_wait(t) is not None:
            continue
        where = t.wait.summary if t.wait is not None else "in a C call"
        handler = signal_handlers(p) if t.tid == p.pid else False
        why = f"pid {p.pid} has no other thread (the kernel counts {p.num_threads or 1})"
        shm = t.futex_shared is not False  # shared memory, but no other process of the tree maps it
        evidence = (
            f"{t.label!r}: {where}",
            f"the kernel shows it asleep in futex() on 0x{t.futex:x}, "
            + (
                "in shared memory (a /dev/shm semaphore) that no other process of the tree maps (a process outside it that "
                "inherited it could post it: not read)"
                if shm
                else f"process-private (FUTEX_PRIVATE_FLAG: only a thread of pid {p.pid} can wake it)"
            )
            + ", no timeout",
            why,
            _no_handler(p, t) if handler is False else "a signal handler could still run (handlers installed, or not read)",
        )
        memory = "in shared memory no other process of the tree maps" if shm else "private to its process"
        summary = (
            f"Nobody can end this wait: {t.label!r} (pid {p.pid}) sleeps, without a timeout, on a lock or condition "
            f"{memory} ({where}), and {why} to release it" + ("." if handler is False else "; only a signal handler could.")
        )
        out.append(_lone_verdict(p, t, handler is False and not shm, summary, evidence, SHARED_FIX if shm else FUTEX_FIX))
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
    if isinstance(end, PipeEnd) and end.writes:
        return None  # a write end polled for room: its reader is another question
    return end if own_far_fds(p, fd) else None


EMPTY_POLL_FIX = (
    "select()/poll() on no file descriptor and without a timeout never returns (only a signal ends it): wait on what "
    "is meant (an Event, a pipe, a socket), or pass a timeout and check why it ran out."
)


def _poll_on_nothing(p: Process, t: Thread) -> Diagnosis:
    """Its only thread polls no fd at all, with no timeout (``select.select([], [], [])``):
    no thread or process can make nothing readable."""
    handler = signal_handlers(p) if t.tid == p.pid else False
    summary = (
        "Nobody can end this wait: " if handler is False else "Only a signal can end this wait: "
    ) + f"{t.label!r} (pid {p.pid}) waits in {t.syscall}() without a timeout on no file descriptor at all, and it has no other thread."
    evidence = (
        f"{t.label!r}: {t.wait.summary if t.wait else 'waits'}",
        f"the kernel shows it in {t.syscall}() with no timeout, watching an empty set",
        _no_handler(p, t) if handler is False else "a signal handler could still wake it (handlers installed, or not read)",
    )
    return _lone_verdict(p, t, handler is False, summary, evidence, EMPTY_POLL_FIX)


def lone_poll(snapshot: Snapshot) -> list[Diagnosis]:
    """A process's only thread waiting, without a timeout, in select/poll/epoll on fds that
    are all ends whose other ends only it holds (on the whole box): nothing can make one
    readable -- an asyncio loop with no timer, no connection and no other thread, its
    self-pipe the only thing it watches: whatever its coroutine awaits, nobody will do it.
    With a signal handler installed (a signal writes the loop's wakeup fd) it is info."""
    out = []
    for p in snapshot.processes:
        t = _alone(p)
        if t is not None and t.polls == () and t.syscall in POLL_CALLS and t.timed is False and not t.ran and p.status != ProcessStatus.ZOMBIE:
            out.append(_poll_on_nothing(p, t))
            continue
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
        summary = (
            ("Nobody can end this wait: " if handler is False else "Only a signal can end this wait: ")
            + f"{t.label!r} (pid {p.pid}) waits in {t.syscall}() without a timeout on {watched}, "
            f"whose other end{'s' if len(ends) > 1 else ''} only pid {p.pid} itself holds, and it has no other thread: {what}"
            + (" -- whatever its coroutine awaits, nothing will ever do it." if loop and handler is False else ".")
        )
        evidence = (
            f"{t.label!r}: {t.wait.summary if t.wait else 'waits'}",
            f"the kernel shows it in {t.syscall}() with no timeout, watching {watched}",
            f"no other process on this box holds the other end of {'any of them' if len(ends) > 1 else 'it'}; pid {p.pid} has no other thread",
            _no_handler(p, t) if handler is False else "a signal handler could still wake it (handlers installed, or not read)",
        )
        out.append(_lone_verdict(p, t, handler is False, summary, evidence, POLL_FIX))
    return out

"""Wait-for edges through pipes and sockets: a thread blocked in ``read()``/``write()``/
``recv()``/``send()`` waits on whoever holds the other end, when that is another process
of the tree (the ends and their peers are read by ``capture.ends``)."""

from __future__ import annotations

from typing import Optional

from pooltui.analysis.edge import MACHINERY, Edge, Node, label, live
from pooltui.model import FD_CALLS, POLL_CALLS, WRITE_CALLS, Certainty, Process, ProcessStatus, Snapshot, Thread, WaitKind
from pooltui.model.record import Record, replace


def _fd_of(q: Process, inode: int, socket: bool) -> set[int]:
    """The fds through which ``q`` holds ``inode`` (a pipe, or a socket)."""
    return {e.fd for e in (q.sockets if socket else q.pipes) if e.inode == inode}


def _in_call(q: Process, fds: set[int], writing: bool) -> tuple[Thread, ...]:
    """The threads of ``q`` in a write (``writing``) or a read call on one of ``fds`` now."""
    return tuple(t for t in q.threads if not t.ghost and t.fd in fds and t.syscall in FD_CALLS and (t.syscall in WRITE_CALLS) == writing)


def _flowing(q: Process, fds: set[int], writing: bool) -> bool:
    """A thread of ``q`` is in the opposite call on the other end right now: it writes what
    the waiter reads, or reads what it writes. Neither waits on the other: a reader blocks
    only on an empty buffer, and a write into a connection whose reader waits on an empty
    one goes through (a 2.7 rpc server caught in sendall() to a worker blocked in recv()
    from it, read as a cycle with the worker's parent, was a false deadlock)."""
    return bool(_in_call(q, fds, not writing))


# the code through which a thread reads or writes a pipe or socket: a thread in a timed wait
# inside one of these (a retry loop around recv(), a selector's timeout) may act on the end
_IO_FILES = (
    "multiprocessing/connection.py",
    "multiprocessing/queues.py",
    "multiprocessing/managers.py",
    "socket.py",
    "selectors.py",
    "ssl.py",
    "socketserver.py",
    "subprocess.py",
    # 2.7's names for the same
    "SocketServer.py",
    "BaseHTTPServer.py",
    "httplib.py",
    "urllib2.py",
    "asyncore.py",
    "asynchat.py",
)
_IO_PACKAGES = ("/asyncio/", "/http/", "/urllib/", "/xmlrpc/")


def _timed_elsewhere(t: Thread) -> bool:
    """A thread in a timed wait (a sleep, ``Event.wait(timeout)``: a heartbeat, a
    ``threading.Timer``) with no frame in code that reads or writes a pipe or socket, and
    not on a CPU: it wakes by itself, but nothing on its stack could act on this end. It
    does not end the wait (it is no waker), and it vetoes no cycle (issue 26)."""
    if t.active or t.wait is None or t.wait.kind is WaitKind.RUNNING:
        return False
    # seen to run between two reads (``Thread.ran``) yet back in a wait: it polls (2.7's
    # Condition.wait(timeout) sleeps in small steps) -- a timed wait too
    polling = t.ran and t.wait.kind not in (WaitKind.UNKNOWN, WaitKind.IDLE)
    # its frame at a select()/poll() (or recv()...) call while the kernel has it in a futex wait
    # or in no call at all: not in that call but passing through it (2.7 takes the GIL back
    # in an untimed futex wait, 3.x's wait for it is timed; a thread just woken is running):
    # watched as a sleeper, as a thread waiting for the GIL on 3.x is
    leaving = t.wait.kind is WaitKind.SELECT and t.syscall in ("futex", None)
    if not (t.timed is True or t.wait.kind is WaitKind.SLEEP or polling or leaving):
        return False
    return not _in_io(t)


def _in_io(t: Thread) -> bool:
    """A frame on its stack is in code that reads or writes a pipe or socket."""
    return any(f.file.endswith(_IO_FILES) or any(d in f.file for d in _IO_PACKAGES) for f in t.frames if not f.native)


def sleepers(q: Process) -> tuple[Thread, ...]:
    """The threads of ``q`` passed over as wakers of its ends for a sleep (``_timed_elsewhere``).
    Nothing on their stacks says they will act on an end, nor that they will not (an rpc
    server sleeps before each answer, as a heartbeat does between two lines of log): a
    deadlock through ``q``'s ends stands only once they were watched waking while its knot
    did not move (``plan.confirmations``: ``Plan.watch``)."""
    return tuple(
        t
        for t in q.threads
        if not t.ghost and t.wait is not None and t.wait.kind is not WaitKind.IDLE and t.role not in MACHINERY and _timed_elsewhere(t)
    )


def _writers(
    q: Process, fds: set[int], writing: bool, waiting: set[Node], *, sole: bool = False
) -> tuple[tuple[Thread, ...], tuple[Thread, ...], bool, tuple[Thread, ...]]:
    """The threads of ``q`` that could act on the other end (its ``fds``) and end the wait:
    (those that can, those that could only once their own unknown wait ends, mutual, soft).

    Threads blocked on it the same way (both wait to read, or both to write) are the answer,
    and mutual: each waits for the other. Otherwise not the threads that wait for work (idle
    loops, the pool's and queues' own threads) or are blocked on other fds (a read, or a
    select/poll/epoll whose set is known and lacks these fds): they are not in this exchange
    -- unless ``q`` is the only process holding the other end (``sole``) and that other end
    is one the graph follows too (``waiting``): a single-threaded process blocked writing one
    pipe reads the next only once that write ends (a subprocess fed through stdin while its
    stdout fills: each waits for the other). Not when several hold it: fork siblings keep
    copies of ends they never use (a healthy rpc pool's workers each hold every worker's
    connection), and one blocked on its own connection is no party to another's.
    Of the rest, a thread in an untimed wait that the graph cannot follow (an Event nobody is
    known to set) could write only once that ends: the edge is then a guess. A thread on a
    CPU, in a timed wait (a sleep) or seen to run when read again (``Thread.ran``) could write
    any moment: it ends the wait (no edge to make a cycle of), even when it is a main loop
    that never touches the connection. A thread in a wait the graph follows with nothing on
    its stack that reads or writes a pipe or socket (a main thread in ``join()`` of a server's
    loop) is ``soft``: it could act once its own wait ends, if it ever does -- a cycle through
    the others stands without it, as a guess."""
    same = _in_call(q, fds, writing)
    if same:
        return same, (), True, ()
    can: list[Thread] = []
    soft: list[Thread] = []
    later: list[Thread] = []
    for t in q.threads:
        if t.ghost or t.wait is None or t.wait.kind is WaitKind.IDLE or t.role in MACHINERY:
            continue
        if t.syscall in FD_CALLS and t.fd is not None and t.fd not in fds:
            if sole and (q.pid, t.tid) in waiting:
                can.append(t)  # blocked on another end the graph follows: it acts here once that ends -- if it ever does
            continue  # else blocked reading or writing something else
        if t.polls and not fds & set(t.polls):
            continue  # waits in select/poll on other fds (a select on none is time.sleep() before 3.11)
        if _timed_elsewhere(t):
            continue  # a heartbeat's sleep, a Timer's wait: it wakes, but is not seen to touch this end (``sleepers``)
        free = t.active or t.ran or t.wait.kind in (WaitKind.RUNNING, WaitKind.SLEEP) or t.timed is True
        (can if free or (q.pid, t.tid) in waiting or t.polls else later).append(t)
        if not (free or t.polls or _in_io(t)) and (q.pid, t.tid) in waiting:
            soft.append(t)
    return (tuple(can), tuple(later), False, tuple(soft)) if can else (tuple(later), (), False, ())


def _blocked_on_end(t: Thread, by_fd: dict[int, tuple[str, int, Optional[int]]]) -> bool:
    """Blocked in read()/write()/recv()/send() on one of its process's pipe or socket ends,
    and not waiting for work (waiting for work is not a dependency)."""
    return live(t) and t.fd in by_fd and t.syscall in FD_CALLS and t.wait is not None and t.wait.kind is not WaitKind.IDLE


def end_edges(snapshot: Snapshot, waiting: set[Node]) -> list[Edge]:
    """A thread blocked in read()/write()/recv()/send() on a pipe or a socket waits on whoever
    holds the other end, when that is another process of the tree (or another thread of its
    own); so does a thread in select()/poll()/epoll_wait() with no timeout on a known set of
    such ends (``_poll_edge``)."""
    pipes: dict[int, list[tuple[Process, bool]]] = {}
    for p in snapshot.processes:
        for e in p.pipes:
            pipes.setdefault(e.inode, []).append((p, e.writes))
    holders: dict[int, list[Process]] = {}
    for p in snapshot.processes:
        for s in p.sockets:
            holders.setdefault(s.inode, []).append(p)
    ends = {
        p.pid: {e.fd: ("pipe", e.inode, e.inode) for e in p.pipes} | {s.fd: ("socket", s.inode, s.peer) for s in p.sockets}
        for p in snapshot.processes
    }
    blocked = [(p, t, t.fd) for p in snapshot.processes for t in p.threads if t.fd is not None and _blocked_on_end(t, ends[p.pid])]
    polling = [(p, t) for p in snapshot.processes for t in p.threads if _polling(t, ends[p.pid])]
    waiting = waiting | {(p.pid, t.tid) for p, t, _ in blocked} | {(p.pid, t.tid) for p, t in polling}
    tables = _Tables(pipes, holders, ends, waiting)
    out = [edge for p, t, fd in blocked if (edge := _fd_edge(snapshot, p, t, fd, t.syscall in WRITE_CALLS, tables)) is not None]
    return out + [edge for p, t in polling if (edge := _poll_edge(snapshot, p, t, tables)) is not None]


class _Tables(Record, frozen=True):
    pipes: dict[int, list[tuple[Process, bool]]]  # inode -> (process, writes) of every pipe end
    holders: dict[int, list[Process]]  # socket inode -> the processes holding it
    ends: dict[int, dict[int, tuple[str, int, Optional[int]]]]  # pid -> fd -> (pipe | socket, inode, the far end's inode)
    waiting: set[Node]  # the waits the graph follows


def _fd_edge(snapshot: Snapshot, p: Process, t: Thread, fd: int, writing: bool, tables: _Tables, polled: bool = False) -> Optional[Edge]:
    """``t`` waits to read from (or ``writing`` to) its end ``fd``: on the threads that could
    act on the other end; None when nobody known could, or the data is moving now."""
    what, inode, far_inode = tables.ends[p.pid][fd]
    if far_inode is None:
        return None
    far = [q for q, w in tables.pipes.get(inode, []) if w != writing] if what == "pipe" else tables.holders.get(far_inode, [])
    far = [q for q in dict.fromkeys(far) if q.pid != p.pid and q.status != ProcessStatus.ZOMBIE and q.threads]
    if any(_flowing(q, _fd_of(q, far_inode, what == "socket"), writing) for q in far):
        return None  # the data is moving between the two ends now
    mine = own_far_fds(p, fd)
    if mine and _in_call(p, mine, not writing):
        return None  # another thread of its own process is moving the data now
    return _end_edge(snapshot, (p, t), fd, (what, inode, far_inode), far, writing, tables.waiting, polled)


def _polling(t: Thread, by_fd: dict[int, tuple[str, int, Optional[int]]]) -> bool:
    """In select()/poll()/epoll_wait() with no timeout (a kernel fact), not waiting for work,
    on a set the capture read whose every fd is a pipe or socket end of its process."""
    return (
        live(t)
        and t.syscall in POLL_CALLS
        and t.timed is False
        and bool(t.polls)
        and all(fd in by_fd for fd in t.polls or ())
        and t.wait is not None
        and t.wait.kind is not WaitKind.IDLE
    )


_POLLED_SAID = 4  # fds of a poll set whose other ends are said, at most


def _poll_edge(snapshot: Snapshot, p: Process, t: Thread, tables: _Tables) -> Optional[Edge]:
    """A thread polling a set of ends with no timeout goes on once any of them is ready: it
    waits on every thread that could act on any of them -- and only when each of them has
    such threads in the tree (an end whose other side is unknown, outside the tree, or
    moving now could end it any moment: no edge). A pipe end is read or written as it was
    opened; a socket is taken as read (the poll for data)."""
    edges = []
    for fd in t.polls or ():
        pipe = next((e for e in p.pipes if e.fd == fd), None)
        edge = _fd_edge(snapshot, p, t, fd, pipe is not None and pipe.writes, tables, polled=True)
        if edge is None:
            return None
        edges.append(edge)
    if not edges:
        return None
    said = "; ".join(e.evidence for e in edges[:_POLLED_SAID]) + (f"; and {len(edges) - _POLLED_SAID} more fds" if len(edges) > _POLLED_SAID else "")
    # a thread that waits on a lock comes first: the one that would write once it has the lock
    # the poller holds is the story (the cycle is followed through the first target in it)
    locking = {(q.pid, x.tid) for q in snapshot.processes for x in q.threads if x.wait is not None and x.wait.kind.is_lock}
    return Edge(
        edges[0].waiter,
        tuple(sorted(dict.fromkeys(n for e in edges for n in e.targets), key=lambda n: n not in locking)),
        edges[0].via if len({e.via for e in edges}) == 1 else "socket",
        said,
        Certainty.GUESS if any(e.certainty is Certainty.GUESS for e in edges) else Certainty.INFERRED,
        soft=tuple(dict.fromkeys(n for e in edges for n in e.soft)),
    )


def own_far_fds(p: Process, fd: Optional[int]) -> set[int]:
    """The fds through which ``p`` holds the other end of its end ``fd``: a pipe's
    opposite end, a socketpair's peer. Its other threads could act on
    them (a thread waiting on a pipe its own process writes); a process that holds both
    ends of a pipe also never sees EOF on it."""
    pipe = next((e for e in p.pipes if e.fd == fd), None)
    if pipe is not None:
        return {e.fd for e in p.pipes if e.inode == pipe.inode and e.writes != pipe.writes}
    sock = next((e for e in p.sockets if e.fd == fd), None)
    return {e.fd for e in p.sockets if sock is not None and sock.peer is not None and e.inode == sock.peer}


def _end_edge(
    snapshot: Snapshot,
    at: tuple[Process, Thread],
    fd: int,
    end: tuple[str, int, int],
    far: list[Process],
    writing: bool,
    waiting: set[Node],
    polled: bool = False,
) -> Optional[Edge]:
    p, t = at
    what, inode, far_inode = end
    targets: list[Node] = []
    soft: list[Node] = []
    said, unless, each = [], [], False
    mine = own_far_fds(p, fd)
    for q in far:
        threads, later, mutual, maybe = _writers(q, _fd_of(q, far_inode, what == "socket"), writing, waiting, sole=len(far) == 1)
        targets += [(q.pid, x.tid) for x in threads]
        soft += [(q.pid, x.tid) for x in maybe]
        names = ", ".join(f"'{x.label}'" for x in threads)
        each = each or mutual
        if mutual:
            said.append(
                f"pid {q.pid} ({q.role_label}), whose {names} waits to {'write' if writing else 'read'} its end too: each waits for the other"
            )
        elif threads:
            said.append(f"pid {q.pid} ({q.role_label}): {names}")
        asleep = [x for x in sleepers(q) if x not in threads]
        if asleep and threads and not mutual:
            said[-1] += f" (not {', '.join(repr(x.label) for x in asleep[:4])}: asleep, with no frame that reads or writes a pipe or socket)"
        unless += [f"'{x.label}' (pid {q.pid}, which {x.wait.summary if x.wait else 'waits'})" for x in later]
    if mine:
        # its own process's other threads (never itself): one of them could write what it reads --
        # after the other processes', so that a cycle through the tree is the one followed first
        others = replace(p, threads=tuple(x for x in p.threads if x.tid != t.tid))
        threads, later, mutual, maybe = _writers(others, mine, writing, waiting, sole=not far)
        targets += [(p.pid, x.tid) for x in threads]
        soft += [(p.pid, x.tid) for x in maybe]
        names = ", ".join(f"'{x.label}'" for x in threads)
        each = each or mutual
        if mutual:
            said.append(f"its own process, whose {names} waits to {'write' if writing else 'read'} that end too: each waits for the other")
        elif threads:
            said.append(f"its own process (fd {', '.join(map(str, sorted(mine)))}): {names}")
        unless += [f"'{x.label}' (pid {p.pid}, which {x.wait.summary if x.wait else 'waits'})" for x in later]
    if not targets:
        return None
    me = (p.pid, t.tid)
    action = "write to" if writing else "read from" if what == "pipe" else "read"
    full = " — the pipe is full" if writing and what == "pipe" else ""
    how = f"is blocked in {t.syscall}(), with no timeout, until it can {action}" if polled else f"is blocked in {t.syscall}() waiting to {action}"
    text = f"{label(snapshot, me)} {how} {what}:[{inode}] (fd {fd}){full}; its other end is held by {'; '.join(said)}" + (
        "" if each else f", which {'does not read it' if writing else 'is not writing to it'}"
    )
    if unless:
        text += "; unless " + ", ".join(unless[:4]) + " answers once its own wait ends"
    return Edge(me, tuple(dict.fromkeys(targets)), what, text, Certainty.GUESS if unless else Certainty.INFERRED, soft=tuple(dict.fromkeys(soft)))


def _far_side(snapshot: Snapshot, p: Process, t: Thread) -> Optional[str]:
    """What is known of the other end of the pipe or socket ``t`` is blocked on, when no other
    process of the tree holds it (else the graph's edges say who does); None otherwise."""
    mine = sorted(own_far_fds(p, t.fd))
    pipe = next((e for e in p.pipes if e.fd == t.fd), None)
    if pipe is not None:
        others = [q for q in snapshot.processes if q.pid != p.pid and any(e.inode == pipe.inode and e.writes != pipe.writes for e in q.pipes)]
        end = "read end" if pipe.writes else "write end"
        if others:
            return None
        if pipe.elsewhere:
            return f"pipe:[{pipe.inode}] (fd {t.fd}), whose {end} is held outside this tree by {_pids(pipe.elsewhere)}"
        if mine:
            where = "no other process on this box does" if pipe.elsewhere == () else "no other process of this tree does"
            return f"pipe:[{pipe.inode}] (fd {t.fd}), whose {end} only this process holds (fd {', '.join(map(str, mine))}): {where}"
        return f"pipe:[{pipe.inode}] (fd {t.fd}), whose other end no other process of this tree holds"
    sock = next((s for s in p.sockets if s.fd == t.fd), None)
    if sock is None or (sock.peer is not None and any(s.inode == sock.peer for q in snapshot.processes if q.pid != p.pid for s in q.sockets)):
        return None
    held = f" by {_pids(sock.elsewhere)}" if sock.elsewhere else ""
    if mine:
        where = "no other process on this box does" if sock.elsewhere == () else "no other process of this tree does"
        return f"a socket (fd {t.fd}) whose other end only this process holds (fd {', '.join(map(str, mine))}): {where}"
    if sock.remote is None:
        return (
            f"a socket (fd {t.fd}) whose other end is held outside this tree{held}"
            if sock.peer is not None
            else f"a socket (fd {t.fd}) whose other end is not known (not connected, or not a TCP or Unix one)"
        )
    if sock.peer is not None:
        return f"{sock.remote} (fd {t.fd}), a process on this host outside this tree{held}"
    return f"{sock.remote} (fd {t.fd}), outside this box: no process here holds its other end"


def _pids(pids: tuple[int, ...]) -> str:
    return ", ".join(f"pid {pid}" for pid in pids)


def outside(snapshot: Snapshot) -> Snapshot:
    """Every thread blocked reading or writing a pipe or socket whose other end no other
    process of the tree holds, with that said in its wait: the address and whether it is on
    this host. Who could end such a wait is not knowable from here, so it is never a verdict
    (a server's thread reading a client is the healthy case) -- but never silence either."""
    processes = []
    for p in snapshot.processes:
        threads = []
        for t in p.threads:
            if t.ghost or t.wait is None or t.fd is None or t.syscall not in FD_CALLS:
                threads.append(t)
                continue
            far = _far_side(snapshot, p, t) if t.wait.far is None else None  # said once
            verb = "write to" if t.syscall in WRITE_CALLS else "read from"
            threads.append(replace(t, wait=replace(t.wait, summary=f"{t.wait.summary}; waits to {verb} {far}", far=far)) if far else t)
        processes.append(p if all(a is b for a, b in zip(threads, p.threads)) else replace(p, threads=tuple(threads)))
    return snapshot.with_(processes=tuple(processes))

"""Who is at the other end of a pipe or socket a thread is blocked on, read from the kernel.

- pipes: ``/proc/PID/fd`` links ``pipe:[INODE]`` (both ends share the inode) and which end
  (``capture.kernel.pipe_ends``);
- sockets: ``socket:[INODE]`` links, each with its peer's inode: a Unix socket's (a
  socketpair, a Manager connection, a unix-domain server) from sock_diag
  (``capture.sockets.unix_peers``), a TCP connection's (localhost between two processes of
  the tree) by its two addresses swapped in ``/proc/PID/net/tcp{,6}``;
- which fds a thread blocked in ``select``/``poll``/``epoll_wait`` watches (``capture.polls``: its fd set, read
  from its memory; an epoll set from ``/proc/PID/fdinfo/EPFD``): a thread that waits on other
  fds is not about to write to this one.

Then ``confirm``: the threads of a cycle found through those reads (and the other blocked
threads of its processes) are read twice more a moment apart; a thread that moved (another
system call, or context switches rising: it ran) is no longer taken as blocked
(``Thread.ran``). A deadlock from a racy read is confirmed before it is an error.

Read-only, bounded per process in fds and bytes; any failure gives "unknown", never an exception.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from typing import Optional

from pooltui.capture import filelocks, kernel, memory, polls, procfs, procs, sharers, sockets
from pooltui.capture.errors import CaptureError, NotPython, ProcessGone
from pooltui.capture.procfs.formats import Syscall
from pooltui.model import FD_CALLS, POLL_CALLS, Process, ProcessStatus, Snapshot, SocketEnd, Thread
from pooltui.model.record import replace

CONFIRM_GAP = 0.05  # seconds between the two reads that confirm a thread is still blocked


def tcp_peers(pid: int) -> tuple[dict[int, int], dict[int, str]]:
    """The TCP connections of ``pid``'s network namespace: (inode -> peer inode where the
    other end is also on this host (both addresses seen, swapped), inode -> the other
    end's address)."""
    by_pair: dict[tuple[str, str], int] = {}
    for name in ("tcp", "tcp6"):
        try:
            table = procfs.tcp(pid, name)
        except CaptureError:
            continue
        for local, remote, inode in table:
            by_pair[(local, remote)] = inode
    peers = {inode: by_pair[(remote, local)] for (local, remote), inode in by_pair.items() if (remote, local) in by_pair}
    remotes = {inode: address for (_, remote), inode in by_pair.items() if (address := procfs.tcp_address(remote)) is not None}
    return peers, remotes


def socket_ends(pid: int, peers: dict[int, int], remotes: Optional[dict[int, str]] = None) -> tuple[SocketEnd, ...]:
    """The sockets ``pid`` holds, each with its peer's inode where ``peers`` knows it and a
    TCP connection's other address (``remotes``)."""
    try:
        names = procfs.fds(pid)
    except CaptureError:
        return ()
    out = []
    for name in names:
        inode = sockets.socket_inode(pid, int(name)) if name.isdigit() else None
        if inode is not None:
            out.append(SocketEnd(fd=int(name), inode=inode, peer=peers.get(inode), remote=(remotes or {}).get(inode)))
    return tuple(sorted(out, key=lambda e: e.fd))


def _switches(pid: int, tid: int) -> Optional[int]:
    status = procfs.status_or_none(pid, tid)
    return status.switches if status is not None else None


def _program(p: Process) -> bool:
    """A process of the tree that runs no Python py-spy can read: a program a worker started
    (cat, gzip, a shell). Its pipe and socket ends join the tree's as any other's."""
    return p.error is not None and p.error.code == NotPython.code and not p.threads


def program_threads(pid: int) -> tuple[Thread, ...]:
    """The threads of a program with no Python stack, as the kernel shows them: each one's
    command name and the system call it is blocked in (its fd, its timeout)."""
    try:
        calls = memory.thread_syscalls(pid)
    except CaptureError:
        return ()
    out = []
    for tid, call in sorted(calls.items()):
        name, timed, fd, child = kernel.describe(call.nr, call.args) if call.nr is not None and call.nr >= 0 else (None, None, None, None)
        out.append(Thread(tid=tid, ident=0, name=procs.comm_of(tid), active=call.nr is None, syscall=name, timed=timed, fd=fd, child=child))
    return tuple(out)


_SCAN_LINKS = 100_000  # fd links one scan of the box reads, at most: past that, who holds an end is not known
_SCAN_HOLDERS = 8  # processes named per end, at most
_POLLED_ENDS = 16  # fds of a lone poller's set looked at, at most


def _lonely(found: dict[int, Process]) -> dict[tuple[int, int], tuple[str, int]]:
    """(pid, fd) -> (pipe/socket, the inode of its other end) of every end a live thread of
    the tree is blocked on (or a process's only thread polls, untimed) whose other end its
    own process holds, and no other process of
    the tree: if no process outside the tree does either, only its own threads can act on
    it (and a reader never sees EOF). Only those are worth reading the whole box for (a
    tenth of a second or more on a busy one); an end whose other end the tree does not hold
    at all is said in words without it (``analysis.ends.outside``)."""
    pipes: dict[int, set[tuple[int, bool]]] = {}
    socks: dict[int, set[int]] = {}
    for p in found.values():
        for e in p.pipes:
            pipes.setdefault(e.inode, set()).add((p.pid, e.writes))
        for s in p.sockets:
            socks.setdefault(s.inode, set()).add(p.pid)
    out: dict[tuple[int, int], tuple[str, int]] = {}
    for p in found.values():
        live = [t for t in p.threads if not t.ghost]
        for t in live:
            if t.fd is not None and t.syscall in FD_CALLS:
                fds: tuple[int, ...] = (t.fd,)
            elif len(live) == 1 and t.syscall in POLL_CALLS and t.timed is False and t.polls:
                fds = t.polls[:_POLLED_ENDS]  # a lone poller: can anyone write to what it watches?
            else:
                continue
            for fd in fds:
                pipe = next((e for e in p.pipes if e.fd == fd), None)
                sock = next((e for e in p.sockets if e.fd == fd), None)
                if pipe is not None and {pid for pid, writes in pipes[pipe.inode] if writes != pipe.writes} == {p.pid}:
                    out[(p.pid, fd)] = ("pipe", pipe.inode)
                elif sock is not None and sock.peer is not None and socks.get(sock.peer, set()) == {p.pid}:
                    out[(p.pid, fd)] = ("socket", sock.peer)
    return out


def holders_elsewhere(wanted: dict[int, Optional[bool]], tree: set[int]) -> Optional[dict[int, tuple[int, ...]]]:
    """inode -> the processes outside ``tree`` holding it (a pipe's: the write end when
    ``wanted[inode]`` is True, the read end when False), read from every process's fd links
    on the box; None when some process's fds could not be read or the scan passed
    ``_SCAN_LINKS`` links: then who holds them is not known. Only links are read (never a
    path a target names), and only a matching pipe's flags."""
    out: dict[int, list[int]] = {inode: [] for inode in wanted}
    links = 0
    own = procfs.status_or_none(os.getpid())
    if own is None or own.nested_pid_namespace is not False:
        return None  # in a container's pid namespace the box's other processes are not listed here
    try:
        pids = procfs.pids()
    except CaptureError:
        return None
    for name in pids:
        pid = int(name)
        if pid in tree:
            continue
        try:
            fds = procfs.fds(pid)
        except ProcessGone:
            continue
        except CaptureError:
            return None  # not readable (another pid namespace, no right): it could hold one
        if len(fds) >= procfs.MAX_FDS:
            return None  # more fds than one listing holds: one past it could be the end
        for fd in fds:
            links += 1
            if links > _SCAN_LINKS:
                return None
            try:
                target = procfs.fd_target(pid, fd)
            except CaptureError:
                continue  # closed since listed
            inode = procfs.formats.fd_inode(target, "pipe") or procfs.formats.fd_inode(target, "socket")
            if inode is None or inode not in out or pid in out[inode]:
                continue
            writes = wanted[inode]
            if writes is not None and target.startswith("pipe:"):
                try:
                    if (procfs.fdinfo(pid, fd).flags & 0o3 == os.O_WRONLY) != writes:
                        continue
                except CaptureError:
                    continue
            out[inode].append(pid)
    return {inode: tuple(pids[:_SCAN_HOLDERS]) for inode, pids in out.items()}


def _elsewhere(found: dict[int, Process]) -> dict[int, Process]:
    """``found`` with ``elsewhere`` set on every end a thread is blocked on whose other end no
    other process of the tree holds: who on the box does (a pipe's writer that left the tree,
    a server outside it), or nobody."""
    lonely = _lonely(found)
    if not lonely:
        return found
    pipes = {(pid, e.fd): e for pid, p in found.items() for e in p.pipes}
    wanted: dict[int, Optional[bool]] = {}
    for key, (_, inode) in lonely.items():
        wanted[inode] = not pipes[key].writes if key in pipes else None  # a pipe's other end; a socket's peer
    held = holders_elsewhere(wanted, set(found))
    if held is None:
        return found
    out = dict(found)
    for (pid, fd), (_, inode) in lonely.items():
        p = out[pid]
        pipes_now = tuple(replace(e, elsewhere=held[inode]) if e.fd == fd else e for e in p.pipes)
        socks_now = tuple(replace(e, elsewhere=held[inode]) if e.fd == fd else e for e in p.sockets)
        out[pid] = replace(p, pipes=pipes_now, sockets=socks_now)
    return out


def with_ends(raw: Snapshot) -> Snapshot:
    """Every process of ``raw`` with its pipe and socket ends, and its pollers' fd sets; a
    program with no Python stack with its threads as the kernel shows them (``program_threads``);
    the file lock each thread blocked in flock()/fcntl() waits for (``capture.filelocks``), and
    which processes map the shared futex a thread sleeps on untimed (``capture.sharers``)."""
    live = [p for p in raw.processes if p.status != ProcessStatus.ZOMBIE and (p.error is None or _program(p))]
    peers = sockets.unix_peers()
    remotes: dict[int, str] = {}
    if live:
        tcp, remotes = tcp_peers(live[0].pid)
        peers.update(tcp)
    found = {}
    deadline = time.monotonic() + polls.POLL_REREADS_SECONDS
    for p in live:
        if _program(p):
            p = replace(p, threads=program_threads(p.pid))
        sets = polls.polls(p, deadline)
        threads = tuple(replace(t, polls=sets[t.tid]) if sets.get(t.tid) is not None else t for t in p.threads)
        found[p.pid] = replace(p, pipes=kernel.pipe_ends(p.pid), sockets=socket_ends(p.pid, peers, remotes), threads=threads)
    found = _elsewhere(found)
    return sharers.with_sharers(filelocks.with_file_locks(raw.with_(processes=tuple(found.get(p.pid, p) for p in raw.processes))))


def confirm(raw: Snapshot, nodes: Iterable[tuple[int, int]], watch: float = 0.0, captured: Optional[float] = None) -> Snapshot:
    """``raw`` with the threads among ``nodes`` that are no longer blocked where the capture
    saw them (a different system call or fd, or context switches rising between two reads
    ``CONFIRM_GAP`` apart, or within ``watch`` seconds) marked as not blocked: their pipe,
    socket and wait4 waits were a racy read. ``captured``: see ``moved``."""
    gone = moved(raw, nodes, watch, captured)
    if not gone:
        return raw
    return raw.with_(processes=tuple(_unblock(p, gone) for p in raw.processes))


def moved(raw: Snapshot, nodes: Iterable[tuple[int, int]], watch: float = 0.0, captured: Optional[float] = None) -> set[tuple[int, int]]:
    """The threads among ``nodes`` that ran between two reads ``CONFIRM_GAP`` apart (context
    switches rising), or that are no longer in the system call (and on the fd or futex) the
    capture saw them in; a thread that cannot be read counts as moved. With ``watch``, read
    again every ``CONFIRM_GAP`` for ``watch`` seconds, and every thread that moved in any of
    those reads counts (not only up to the first: a thread outside the cycle moving says
    nothing of the cycle).

    ``captured``: when (``time.monotonic()``) the capture's walk had read the context switches
    of all ``raw``'s threads (``Thread.switches``; ``LiveCollector``: the walk's end, before
    any dump; the system calls were read after it). Then the capture's own read is the first
    of the two: a thread read now with the context switches the walk counted, in the call the
    capture saw, was not scheduled since the walk -- once ``CONFIRM_GAP`` has passed since
    then, the same gap, so no second read (issue 28: the blocked Pool(64)'s 50 ms; counting
    from the collection's end instead still waited ~20 ms). A thread that ran since (a paused
    dump of its process after the walk adds two switches to each) is read twice, a gap
    apart, as without."""
    nodes = set(nodes)
    threads = {(p.pid, t.tid): t for p in raw.processes for t in p.threads}
    if captured is not None:
        time.sleep(max(0.0, captured + CONFIRM_GAP - time.monotonic()))
    first = {n: (procfs.syscall_or_none(*n), _switches(*n)) for n in nodes}
    if captured is not None and not watch:
        first = {n: f for n, f in first.items() if not _as_captured(threads.get(n), *f)}
    deadline = time.monotonic() + watch
    out: set[tuple[int, int]] = set()
    while first:
        time.sleep(CONFIRM_GAP)
        out |= _moved_since({n: f for n, f in first.items() if n not in out}, threads)
        if out >= first.keys() or time.monotonic() >= deadline:
            break
    return out


def _as_captured(t: Optional[Thread], call: Optional[Syscall], switches: Optional[int]) -> bool:
    """``t`` read now (``call``, ``switches``) is as the capture saw it: not scheduled since,
    in the same system call on the same fd or futex."""
    if t is None or t.switches is None or t.syscall is None or call is None or switches != t.switches:
        return False
    name, _, fd, _ = kernel.describe(call.nr, call.args)
    return (name, fd) == (t.syscall, t.fd) and (t.futex is None or call.futex_addr == t.futex)


def _moved_since(
    first: dict[tuple[int, int], tuple[Optional[Syscall], Optional[int]]], threads: dict[tuple[int, int], Thread]
) -> set[tuple[int, int]]:
    out = set()
    for n, (call, before) in first.items():
        again, after = procfs.syscall_or_none(*n), _switches(*n)
        t = threads.get(n)
        if t is None or call is None or again is None or before is None or after is None or before != after:
            out.add(n)
            continue
        if kernel.describe(again.nr, again.args)[::2] != (t.syscall, t.fd) or (again.nr, again.args) != (call.nr, call.args):
            out.add(n)
    return out


def _unblock(p: Process, moved: set[tuple[int, int]]) -> Process:
    if not any((p.pid, t.tid) in moved for t in p.threads):
        return p
    return replace(p, threads=tuple(_not_blocked(t) if (p.pid, t.tid) in moved else t for t in p.threads))


def _not_blocked(t: Thread) -> Thread:
    """It ran between the two reads: it is not blocked where it was seen. What it polled
    stays: a timed poll wakes at its deadline and polls again, and one that ran while the
    knot it is no end of stayed put did not act on the knot's ends (a server's
    ``serve_forever`` loop beside a connection it does not watch)."""
    return replace(t, syscall=None, timed=None, fd=None, child=None, ran=True)

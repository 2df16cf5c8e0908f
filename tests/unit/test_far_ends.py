"""What is said of a pipe's or socket's other end outside the tree (analysis.ends.outside),
and how /proc/net/tcp addresses read (capture.procfs.tcp_address)."""

from __future__ import annotations

from pooltui.analysis import ends
from pooltui.capture.procfs import tcp_address as _address
from pooltui.model import Frame, PipeEnd, Process, Snapshot, SocketEnd, Thread, Wait, WaitKind, replace


def test_proc_net_tcp_addresses_read_as_people_write_them():
    assert _address("0100007F:1F90") == "127.0.0.1:8080"
    assert _address("0302010A:1538") == "10.1.2.3:5432"
    assert _address("00000000000000000000000001000000:0050") == "[::1]:80"
    assert _address("0000000000000000FFFF00000302010A:1538") == "10.1.2.3:5432"  # v4-mapped
    assert _address("zz:1") is None and _address("0100007F") is None and _address("01:1") is None


def _snapshot(*, sockets=(), pipes=(), others=()):
    wait = Wait(WaitKind.SELECT, "waits on I/O in `conn.recv(4096)` in ask, app.py:9")
    t = Thread(tid=11, ident=1, frames=(Frame("ask", "app.py", 9),), wait=wait, syscall="recvfrom", fd=5, timed=False)
    p = Process(pid=11, ppid=1, create_time=0.0, threads=(t,), sockets=tuple(sockets), pipes=tuple(pipes))
    return Snapshot(created=0.0, host="h", root_pid=11, processes=(p, *others))


def _said(snapshot):
    return ends.outside(snapshot).processes[0].threads[0].wait.summary


def test_a_connection_to_another_host_is_outside_this_box():
    said = _said(_snapshot(sockets=[SocketEnd(fd=5, inode=900, remote="10.1.2.3:5432")]))
    assert said.endswith("; waits to read from 10.1.2.3:5432 (fd 5), outside this box: no process here holds its other end"), said


def test_a_connection_whose_peer_is_on_this_host_but_not_in_the_tree():
    said = _said(_snapshot(sockets=[SocketEnd(fd=5, inode=900, peer=901, remote="127.0.0.1:6379")]))
    assert "127.0.0.1:6379 (fd 5), a process on this host outside this tree" in said, said


def test_an_end_held_in_the_tree_is_left_to_the_graph_and_said_once():
    peer = Process(pid=12, ppid=11, create_time=0.0, sockets=(SocketEnd(fd=3, inode=901, peer=900),))
    snap = _snapshot(sockets=[SocketEnd(fd=5, inode=900, peer=901, remote="127.0.0.1:6379")], others=(peer,))
    assert "; waits to" not in _said(snap)
    lone = _snapshot(pipes=[PipeEnd(fd=5, inode=77, writes=False)])
    once = ends.outside(ends.outside(lone))
    assert once.processes[0].threads[0].wait.summary.count("; waits to read from pipe:[77] (fd 5)") == 1


def _socket_cycle(with_sleeper, sleeper=None):
    """Two processes, each blocked reading the socket whose other end the other one holds --
    and, in the first, a thread asleep in its own code (an rpc server between two answers,
    or a heartbeat): nothing says whether it will write."""
    reader = Wait(WaitKind.SELECT, "waits on I/O in `conn.recv(4096)` in ask, app.py:9")
    a = Thread(tid=11, ident=1, name="MainThread", frames=(Frame("ask", "app.py", 9),), wait=reader, syscall="recvfrom", fd=5, timed=False)
    nap = Wait(WaitKind.SLEEP, "sleeps in `time.sleep(0.05)` in serve, app.py:20")
    sleeper = sleeper or Thread(tid=13, ident=3, name="rpc-server", frames=(Frame("serve", "app.py", 20),), wait=nap, timed=True)
    b = Thread(tid=12, ident=2, name="MainThread", frames=(Frame("ask", "app.py", 9),), wait=reader, syscall="recvfrom", fd=6, timed=False)
    first = Process(
        pid=11,
        ppid=1,
        create_time=0.0,
        threads=(a, sleeper) if with_sleeper else (a,),
        sockets=(SocketEnd(fd=5, inode=900, peer=901), SocketEnd(fd=7, inode=903, peer=902)),
    )
    second = Process(
        pid=12, ppid=11, create_time=0.0, threads=(b,), sockets=(SocketEnd(fd=6, inode=902, peer=903), SocketEnd(fd=8, inode=901, peer=900))
    )
    return Snapshot(created=0.0, host="h", root_pid=11, processes=(first, second))


def test_a_knot_whose_end_is_held_beside_a_sleeper_is_watched_before_it_stands():
    from pooltui.analysis import graph, plan

    for with_sleeper in (True, False):
        snapshot = _socket_cycle(with_sleeper)
        stuck = graph.deadlocked(graph.edges(snapshot))
        assert set(stuck) == {(11, 11), (12, 12)}, stuck
        said = stuck[(12, 12)].evidence
        assert ("not 'rpc-server': asleep" in said) is with_sleeper, said
        assert plan._watch(snapshot, frozenset(stuck)) == (plan.WATCH if with_sleeper else 0.0)
    assert [t.name for t in ends.sleepers(_socket_cycle(True).processes[0])] == ["rpc-server"]


def test_a_thread_on_its_way_out_of_a_select_is_watched_as_a_sleeper_not_a_maybe_writer():
    """2.7 takes the GIL back after select() returns in an untimed futex wait: a control
    loop's select(timeout) caught so once turned a socket deadlock (CI) into a guess."""
    from pooltui.analysis import graph
    from pooltui.model import Certainty

    polls = Wait(WaitKind.SELECT, "waits on I/O in `select.select([r], [], [], timeout)` in loop, app.py:30")
    for syscall, timed in (("futex", False), (None, None)):  # taking the GIL back (2.7), or just woken: running
        leaving = Thread(tid=13, ident=3, name="control", frames=(Frame("loop", "app.py", 30),), wait=polls, syscall=syscall, timed=timed)
        snapshot = _socket_cycle(True, leaving)
        stuck = graph.deadlocked(graph.edges(snapshot))
        assert set(stuck) == {(11, 11), (12, 12)} and all(e.certainty is Certainty.INFERRED for e in stuck.values()), stuck
        assert [t.name for t in ends.sleepers(snapshot.processes[0])] == ["control"]


def _own_end(elsewhere, *, others=(), more_threads=(), writer_fd=True, kind=WaitKind.SELECT):
    """A process whose only thread reads fd 3 of a pipe whose write end (fd 4) it holds itself."""
    wait = Wait(kind, "waits on I/O in `os.read(r, 4096)` in collect, app.py:9")
    t = Thread(tid=11, ident=1, name="MainThread", frames=(Frame("collect", "app.py", 9),), wait=wait, syscall="read", fd=3, timed=False)
    pipes = (PipeEnd(fd=3, inode=77, writes=False, elsewhere=elsewhere), *((PipeEnd(fd=4, inode=77, writes=True),) if writer_fd else ()))
    p = Process(pid=11, ppid=1, create_time=0.0, threads=(t, *more_threads), pipes=pipes, caught_signals=0)
    return Snapshot(created=0.0, host="h", root_pid=11, processes=(p, *others))


def test_a_reader_holding_its_own_write_end_with_nobody_else_on_the_box_waits_for_nobody():
    from pooltui.analysis import nobody
    from pooltui.model import Certainty, Kind, Severity

    [d] = nobody.unanswered_ends(_own_end(()))
    assert (d.kind, d.certainty, d.severity) == (Kind.NO_WAKER, Certainty.FACT, Severity.ERROR), d
    assert "whose write end only pid 11 itself holds (fd 4; no other process on this box does, so not even EOF comes)" in d.summary, d.summary
    said = ends.outside(_own_end(())).processes[0].threads[0].wait.summary
    assert said.endswith("whose write end only this process holds (fd 4): no other process on this box does"), said


def test_who_else_holds_the_write_end_decides_whether_anyone_can():
    from pooltui.analysis import nobody
    from pooltui.model import Certainty, Kind

    # the box could not be read: a guess for a multiprocessing read (Queue.get(), recv()), else nothing
    [guess] = nobody.unanswered_ends(_own_end(None, kind=WaitKind.QUEUE_GET))
    assert (guess.kind, guess.certainty) == (Kind.DEADLOCK, Certainty.GUESS), guess
    assert nobody.unanswered_ends(_own_end(None)) == []
    assert nobody.unanswered_ends(_own_end((90,))) == []  # a process outside the tree holds it
    said = ends.outside(_own_end((90,))).processes[0].threads[0].wait.summary
    assert "whose write end is held outside this tree by pid 90" in said, said
    child = Process(pid=12, ppid=11, create_time=0.0, pipes=(PipeEnd(fd=4, inode=77, writes=True),))
    assert nobody.unanswered_ends(_own_end((), others=(child,))) == []  # the tree's graph follows it
    assert nobody.unanswered_ends(_own_end((), writer_fd=False)) == []  # nobody holds it: the read returns EOF
    nap = Wait(WaitKind.SLEEP, "sleeps in `time.sleep(1)` in tick, app.py:20")
    writer = Thread(tid=13, ident=3, name="writer", frames=(Frame("tick", "app.py", 20),), wait=nap, timed=True)
    assert nobody.unanswered_ends(_own_end((), more_threads=(writer,))) == []  # a thread of its own could write


def test_the_box_scan_finds_who_holds_an_end_outside_the_tree():
    import os

    from pooltui.capture import ends as capture_ends

    r, w = os.pipe()
    try:
        inode = os.fstat(r).st_ino
        assert capture_ends.holders_elsewhere({inode: True}, set()) == {inode: (os.getpid(),)}
        assert capture_ends.holders_elsewhere({inode: True}, {os.getpid()}) == {inode: ()}  # the tree is not "elsewhere"
        os.close(w)
        assert capture_ends.holders_elsewhere({inode: True}, set()) == {inode: ()}  # a read end is not a write end
        assert capture_ends.holders_elsewhere({inode: False}, set()) == {inode: (os.getpid(),)}
    finally:
        os.close(r)
        if w is not None:
            try:
                os.close(w)
            except OSError:
                pass


def test_a_process_in_a_nested_pid_namespace_does_not_see_the_whole_box():
    from pooltui.capture.procfs.formats import Status

    assert Status(b"Name:\tpython\nNSpid:\t4242\n").nested_pid_namespace is False
    assert Status(b"Name:\tpython\nNSpid:\t4242\t7\n").nested_pid_namespace is True  # in a container: the scan says "not known"
    assert Status(b"Name:\tpython\n").nested_pid_namespace is None


def _self_call(*, main_io=False, server_polls=(3,)):
    """One process: 'job' holds STATE_LOCK and reads its own server's answer (fd 4, whose peer
    fd 5 it holds too); the handler (in socketserver's code) waits on STATE_LOCK; the server
    loop ran when read again, polling only its listening socket (fd 3); the main thread waits
    on a lock the server loop holds (it goes on whenever the loop lets it)."""
    from pooltui.model import Lock, LockHolder

    reads = Wait(WaitKind.SELECT, "waits on I/O in `urlopen(url).read()` in job, app.py:9")
    job = Thread(tid=11, ident=1, name="job", frames=(Frame("job", "app.py", 9),), wait=reads, syscall="recvfrom", fd=4, timed=False)
    handler_frames = (Frame("do_GET", "app.py", 30), Frame("handle", "/usr/lib/python3.11/socketserver.py", 755))
    handler = Thread(
        tid=12, ident=2, name="handler", frames=handler_frames, wait=Wait(WaitKind.LOCK, "waits on STATE_LOCK"), syscall="futex", timed=False
    )
    loop = Wait(WaitKind.SELECT, "waits on I/O in `self._selector.poll(timeout)`")
    server = Thread(
        tid=13,
        ident=3,
        name="http-server",
        frames=(Frame("select", "/usr/lib/python3.11/selectors.py", 415),),
        wait=loop,
        ran=True,
        polls=server_polls,
    )
    main_file = "/usr/lib/python3.11/socket.py" if main_io else "app.py"
    main = Thread(
        tid=10,
        ident=9,
        name="MainThread",
        frames=(Frame("main", main_file, 50),),
        wait=Wait(WaitKind.LOCK, "waits on SERVER_LOCK"),
        syscall="futex",
        timed=False,
    )
    locks = (
        Lock(id="a", kind="lock", name="STATE_LOCK", pid=10, addr=1, holder=LockHolder(10, tid=11, ident=1, thread_name="job"), waiters=((10, 12),)),
        Lock(
            id="b",
            kind="lock",
            name="SERVER_LOCK",
            pid=10,
            addr=2,
            holder=LockHolder(10, tid=13, ident=3, thread_name="http-server"),
            waiters=((10, 10),),
        ),
    )
    sockets = (SocketEnd(fd=3, inode=899), SocketEnd(fd=4, inode=900, peer=901), SocketEnd(fd=5, inode=901, peer=900))
    p = Process(pid=10, ppid=1, create_time=0.0, threads=(main, server, job, handler), sockets=sockets)
    return Snapshot(created=0.0, host="h", root_pid=10, processes=(p,), locks=locks)


def test_a_thread_that_could_answer_only_once_its_own_wait_ends_leaves_the_cycle_a_guess():
    """A main thread waiting on something else, with nothing on its stack that reads or
    writes a socket, could write the job's answer only once its own wait ends: the cycle
    job -> handler -> job stands without it, as a guess that names it -- not silence, as when
    it counted as a writer that can go on. One in socket code stays a writer; a server loop
    whose poll set was not read could write any moment: no cycle."""
    from pooltui.analysis import deadlocks
    from pooltui.model import Certainty

    [d] = deadlocks.diagnose(_self_call())
    assert d.certainty is Certainty.GUESS and set(d.tids) == {11, 12}, d
    assert "; unless 'MainThread' (pid 10, which waits on SERVER_LOCK) answers once its own wait ends" in " ".join(d.evidence), d.evidence
    assert deadlocks.diagnose(_self_call(main_io=True)) == []
    assert deadlocks.diagnose(_self_call(server_polls=None)) == []


def test_a_poller_read_again_after_it_woke_keeps_what_it_watched():
    """A timed poll wakes at its deadline (serve_forever's 0.5 s) while a knot is watched:
    what it polled still says it is no end of the knot's connection."""
    from pooltui.capture import ends as capture_ends

    t = Thread(tid=13, ident=3, name="http-server", syscall="poll", timed=True, polls=(3,))
    moved = capture_ends._not_blocked(t)
    assert (moved.syscall, moved.ran, moved.polls) == (None, True, (3,))


def test_a_timed_poll_resumed_after_py_spys_pause_is_read_as_the_poll_it_was(monkeypatch):
    """py-spy's pause interrupts a timed poll(): until its deadline the kernel shows
    restart_syscall, with poll()'s arguments still in the registers. A thread whose frame
    polls is read so; one whose frame does not (a timed futex wait is resumed the same way,
    its first argument a futex word, not a pollfd array) is not; nor a set naming fds the
    process does not have open (a GIL wait after the poll, resumed so: futex arguments)."""
    import ctypes
    import os

    from pooltui.capture import polls, procfs
    from pooltui.capture.procfs.formats import Syscall

    r, w = os.pipe()
    try:
        fds = (ctypes.c_int32 * 4)(r, 1, w, 4)  # two struct pollfd: {r, POLLIN}, {w, POLLOUT}
        addr = ctypes.addressof(fds)
        monkeypatch.setattr(procfs, "syscall_or_none", lambda pid, tid: Syscall(tid, 219, (addr, 2, 500, 0, 0, 0)))
        polling = Frame("select", "/usr/lib/python3.11/selectors.py", 415, code="fd_event_list = self._selector.poll(timeout)")
        waiting = Frame("wait", "/usr/lib/python3.11/threading.py", 331, code="gotit = waiter.acquire(True, timeout)")
        resumed = "restart_syscall"
        threads = (Thread(tid=1, ident=1, frames=(polling,), syscall=resumed), Thread(tid=2, ident=2, frames=(waiting,), syscall=resumed))
        p = Process(pid=os.getpid(), ppid=1, create_time=0.0, threads=threads)
        assert polls.polls(p) == {1: tuple(sorted((r, w)))}
        first_read_as_poll = Process(pid=os.getpid(), ppid=1, create_time=0.0, threads=(replace(threads[0], syscall="poll"),))
        assert polls.polls(first_read_as_poll) == {1: tuple(sorted((r, w)))}
    finally:
        os.close(r)
        os.close(w)
    assert polls.polls(p) == {1: None}  # the same numbers, no longer open: not a poll set


def test_a_poller_caught_between_two_polls_is_read_again_until_it_polls(monkeypatch):
    """serve_forever's poll times out every 0.5 s: read at that moment the loop is running (or
    in another call), its set unknown -- and a thread of unknown set could write any end of
    its process: a self_call deadlock was lost so in a CI run. It is read again until it is
    back in its poll."""
    import ctypes
    import os

    from pooltui.capture import polls, procfs
    from pooltui.capture.procfs.formats import Syscall

    r, w = os.pipe()
    try:
        fds = (ctypes.c_int32 * 2)(r, 1)  # one struct pollfd: {r, POLLIN}
        reads = iter([Syscall(1, None), Syscall(1, 202, (0, 0, 0, 0, 0, 0)), Syscall(1, 7, (ctypes.addressof(fds), 1, 500, 0, 0, 0))])
        monkeypatch.setattr(procfs, "syscall_or_none", lambda pid, tid: next(reads))
        monkeypatch.setattr(polls, "POLL_REREAD_GAP", 0.0)
        polling = Frame("select", "/usr/lib/python3.11/selectors.py", 415, code="fd_event_list = self._selector.poll(timeout)")
        p = Process(pid=os.getpid(), ppid=1, create_time=0.0, threads=(Thread(tid=1, ident=1, frames=(polling,), syscall="poll", timed=True),))
        assert polls.polls(p) == {1: (r,)}
        # in another call (a read of its own): where it is, not read again; nor past the deadline
        monkeypatch.setattr(procfs, "syscall_or_none", lambda pid, tid: Syscall(1, 0, (r, 0, 1, 0, 0, 0)))
        assert polls.polls(p) == {1: None}
        monkeypatch.setattr(procfs, "syscall_or_none", lambda pid, tid: Syscall(1, None))
        assert polls.polls(p, deadline=0.0) == {1: None}
    finally:
        os.close(r)
        os.close(w)


def test_two_threads_each_reading_a_pipe_only_the_other_writes_wait_on_each_other():
    """Both ends are the process's own; each thread is blocked reading, on another fd than
    the one it would write: it writes once its own read ends -- a cycle, not 'no writer'."""
    from pooltui.analysis import deadlocks
    from pooltui.model import Certainty

    reads = Wait(WaitKind.SELECT, "waits on I/O in `os.read(r, 1)` in side, app.py:9")
    ping = Thread(tid=11, ident=1, name="ping", frames=(Frame("side", "app.py", 9),), wait=reads, syscall="read", fd=3, timed=False)
    pong = Thread(tid=12, ident=2, name="pong", frames=(Frame("side", "app.py", 9),), wait=reads, syscall="read", fd=5, timed=False)
    pipes = (
        PipeEnd(fd=3, inode=71, writes=False),
        PipeEnd(fd=4, inode=71, writes=True),
        PipeEnd(fd=5, inode=72, writes=False),
        PipeEnd(fd=6, inode=72, writes=True),
    )
    p = Process(pid=10, ppid=1, create_time=0.0, threads=(ping, pong), pipes=pipes)
    [d] = deadlocks.diagnose(Snapshot(created=0.0, host="h", root_pid=10, processes=(p,)))
    assert set(d.tids) == {11, 12} and d.certainty is Certainty.INFERRED and "Have one side write first" in d.fix, d


def test_a_lone_thread_polling_no_fd_without_a_timeout_waits_for_nobody():
    from pooltui.analysis import nobody
    from pooltui.model import Certainty, Kind, Severity

    def one(polls, timed=False):
        wait = Wait(WaitKind.SELECT, "waits on I/O in `select.select([], [], [])` in work, app.py:5")
        t = Thread(tid=10, ident=1, name="MainThread", frames=(Frame("work", "app.py", 5),), wait=wait, syscall="pselect6", timed=timed, polls=polls)
        p = Process(pid=10, ppid=1, create_time=0.0, threads=(t,), caught_signals=0)
        return nobody.lone_poll(Snapshot(created=0.0, host="h", root_pid=10, processes=(p,)))

    [d] = one(())
    assert (d.kind, d.severity, d.certainty) == (Kind.NO_WAKER, Severity.ERROR, Certainty.FACT) and "on no file descriptor at all" in d.summary, d
    assert one((), timed=True) == [] and one(None) == []  # a sleep; a set not read

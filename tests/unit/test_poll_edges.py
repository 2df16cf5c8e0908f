"""A thread polling with no timeout waits on whoever could act on the ends it watches
(analysis.ends._poll_edge), and the capture reads its set when it holds what another thread
waits on (analysis.graph.pollers_to_read). demo/held_poll.py is the live shape."""

from __future__ import annotations

from pooltui.analysis import deadlocks, graph
from pooltui.model import Certainty, Frame, Kind, Lock, LockHolder, PipeEnd, Process, Snapshot, SocketEnd, Thread, Wait, WaitKind, replace

READER, WRITER, MAIN = 11, 12, 10


def _held_poll(*, polls=(3,), timed=False, pipes=(PipeEnd(fd=3, inode=70, writes=False), PipeEnd(fd=4, inode=70, writes=True)), sockets=()):
    """One process: 'reader' holds STATE while it polls fd 3 (the read end of a pipe whose
    write end, fd 4, only this process holds); 'writer' waits on STATE; the main thread sleeps."""
    polling = Wait(WaitKind.SELECT, "waits on I/O in `select.select([r], [], [])` in reader, app.py:9")
    reader = Thread(
        tid=READER, ident=1, name="reader", frames=(Frame("reader", "app.py", 9),), wait=polling, syscall="pselect6", timed=timed, polls=polls
    )
    writer = Thread(
        tid=WRITER,
        ident=2,
        name="writer",
        frames=(Frame("writer", "app.py", 18),),
        wait=Wait(WaitKind.LOCK, "waits on STATE"),
        syscall="futex",
        timed=False,
    )
    asleep = Wait(WaitKind.SLEEP, "sleeps in `while True: time.sleep(1)` in <module>, app.py:25")
    main = Thread(tid=MAIN, ident=9, name="MainThread", frames=(Frame("<module>", "app.py", 25),), wait=asleep, syscall="clock_nanosleep", timed=True)
    p = Process(pid=MAIN, ppid=1, create_time=0.0, threads=(main, reader, writer), pipes=tuple(pipes), sockets=tuple(sockets))
    state = Lock(
        id="a",
        kind="lock",
        name="STATE",
        pid=MAIN,
        addr=1,
        holder=LockHolder(MAIN, tid=READER, ident=1, thread_name="reader"),
        waiters=((MAIN, WRITER),),
    )
    return Snapshot(created=0.0, host="h", root_pid=MAIN, processes=(p,), locks=(state,))


def test_a_lock_held_across_a_poll_that_only_its_waiter_would_end_is_a_deadlock():
    [d] = deadlocks.diagnose(_held_poll())
    assert d.kind is Kind.DEADLOCK and d.certainty is Certainty.INFERRED and set(d.tids) == {READER, WRITER}, d
    poll = next(e for e in d.evidence if "pselect6()" in e)
    assert "with no timeout, until it can read from pipe:[70] (fd 3)" in poll and "its own process (fd 4): 'writer'" in poll, poll
    assert "not 'MainThread'" not in poll or "asleep" in poll  # the sleeper is passed over, never named a writer
    assert "holds a lock while it waits to read a pipe or socket" in d.fix, d.fix


def test_a_poll_that_could_end_another_way_draws_nothing():
    # a timed poll ends by itself
    assert deadlocks.diagnose(_held_poll(timed=True)) == []
    # a set the capture could not read: any end could be in it
    assert deadlocks.diagnose(_held_poll(polls=None)) == []
    # one fd of the set is no pipe or socket end (an eventfd, a tty): who writes it is not known
    assert deadlocks.diagnose(_held_poll(polls=(3, 9))) == []
    # a socket whose peer is not known (not connected, another host)
    assert deadlocks.diagnose(_held_poll(polls=(3, 5), sockets=(SocketEnd(fd=5, inode=80, remote="10.1.2.3:5432"),))) == []
    # the writer is not waiting on the poller: it could write any moment
    s = _held_poll()
    free = s.with_(locks=())
    assert deadlocks.diagnose(free) == []


def test_another_thread_writing_the_end_now_moves_the_poll():
    s = _held_poll()
    p = s.processes[0]
    writing = Thread(
        tid=13, ident=3, name="pump", frames=(Frame("pump", "app.py", 40),), wait=Wait(WaitKind.PIPE_WRITE, "writes"), syscall="write", fd=4
    )
    assert deadlocks.diagnose(s.with_(processes=(replace(p, threads=(*p.threads, writing)),))) == []


def test_the_capture_reads_a_poll_set_only_where_a_poller_holds_what_another_thread_waits_on():
    unread = _held_poll(polls=None, pipes=())
    assert graph.pollers_to_read(unread)
    assert not graph.pollers_to_read(unread.with_(locks=()))  # nobody waits on it: its poll is its own business
    assert not graph.pollers_to_read(_held_poll(polls=None, timed=True, pipes=()))
    assert not graph.pollers_to_read(_held_poll(polls=None))  # the ends were read already (its set could not be)

"""Waits nobody can end, from kernel facts rather than a rule per primitive
(analysis.wakers): a lone thread asleep on a process-private futex with no timeout
(``lone_futex``), and a Semaphore's acquire as a process-private wait (``private_wait``)."""

from __future__ import annotations

from pooltui.analysis import nobody, wakers
from pooltui.model import Certainty, Frame, Kind, Process, Severity, Snapshot, SocketEnd, Thread, Wait, WaitKind, replace

C_CALL = Wait(WaitKind.UNKNOWN, 'blocked in a C call in `CHECKSUM.update(b"y")` in child, app.py:9')


def _lone(thread: Thread, **process) -> Snapshot:
    p = Process(pid=40, ppid=1, create_time=0.0, threads=(thread,), **{"num_threads": 1, "caught_signals": 0, **process})
    return Snapshot(created=0.0, host="h", root_pid=40, processes=(p,))


def _asleep(**fields) -> Thread:
    base = dict(
        tid=40,
        ident=1,
        name="MainThread",
        frames=(Frame("child", "app.py", 9),),
        wait=C_CALL,
        syscall="futex",
        futex=0x7F00,
        futex_shared=False,
        timed=False,
    )
    return Thread(**{**base, **fields})


def test_a_lone_thread_on_a_private_futex_with_no_timeout_waits_for_nobody():
    [d] = nobody.lone_futex(_lone(_asleep()))
    assert (d.kind, d.severity, d.certainty, d.pids, d.tids) == (Kind.NO_WAKER, Severity.ERROR, Certainty.FACT, (40,), (40,)), d
    assert "CHECKSUM.update(" in d.summary and "pid 40 has no other thread" in d.summary, d.summary
    assert any("process-private (FUTEX_PRIVATE_FLAG" in e for e in d.evidence), d.evidence


def test_a_futex_another_process_or_thread_could_wake_draws_nothing():
    assert nobody.lone_futex(_lone(_asleep(futex_shared=True))) == []  # a multiprocessing semaphore: another process posts it
    assert nobody.lone_futex(_lone(_asleep(futex_shared=None))) == []  # not known
    assert nobody.lone_futex(_lone(_asleep(timed=True))) == []  # it wakes by itself
    assert nobody.lone_futex(_lone(_asleep(ran=True))) == []  # seen to run between two reads
    assert nobody.lone_futex(_lone(_asleep(), num_threads=2)) == []  # a C thread the stacks do not show could
    other = Thread(tid=41, ident=2, name="helper", wait=Wait(WaitKind.SLEEP, "sleeps"), timed=True)
    snap = _lone(_asleep())
    two = snap.with_(processes=(replace(snap.processes[0], threads=(*snap.processes[0].threads, other), num_threads=2),))
    assert nobody.lone_futex(two) == []  # another live thread could release it


def test_a_signal_handler_in_the_main_thread_makes_it_info():
    [d] = nobody.lone_futex(_lone(_asleep(), caught_signals=1 << 14, python="3.11.7"))  # SIGTERM handled
    assert (d.severity, d.certainty) == (Severity.INFO, Certainty.GUESS), d


def _semaphore_wait(*frames: Frame) -> Thread:
    return Thread(tid=50, ident=5, frames=frames, wait=Wait(WaitKind.LOCK, "waits on sem"), timed=False, futex=0x10, futex_shared=False)


def test_a_semaphore_acquire_is_a_process_private_wait():
    qualified = _semaphore_wait(
        Frame("Condition.wait", "/usr/lib/python3.11/threading.py", 320),
        Frame("Semaphore.acquire", "/usr/lib/python3.11/threading.py", 475),
        Frame("run", "/app/x.py", 3),
    )
    plain = _semaphore_wait(
        Frame("wait", "/usr/lib/python2.7/threading.py", 340), Frame("acquire", "/usr/lib/python2.7/threading.py", 407), Frame("run", "/app/x.py", 3)
    )
    for t in (qualified, plain):
        assert wakers.private_wait(t) == "acquire() of a threading.Semaphore", t.frames
    rlock27 = _semaphore_wait(Frame("acquire", "/usr/lib/python2.7/threading.py", 174), Frame("run", "/app/x.py", 3))
    assert wakers.private_wait(rlock27) is None  # 2.7's Python RLock blocks in its C lock: the lock rules' case
    [d] = wakers.lone_waits(_lone(replace(plain, tid=40)))
    assert d.kind is Kind.NO_WAKER and "acquire() of a threading.Semaphore" in d.summary, d.summary
    assert nobody.lone_futex(_lone(replace(plain, tid=40))) == []  # said once, by lone_waits


def _loop(*ends, polls=(4,), timed=False, others=()) -> Snapshot:
    t = Thread(
        tid=40,
        ident=1,
        name="MainThread",
        frames=(Frame("select", "/usr/lib/python3.11/asyncio/base_events.py", 1898),),
        wait=Wait(WaitKind.SELECT, "waits in select()"),
        syscall="epoll_wait",
        timed=timed,
        polls=polls,
    )
    sockets = tuple(e for e in ends if isinstance(e, SocketEnd))
    p = Process(pid=40, ppid=1, create_time=0.0, threads=(t,), num_threads=1, caught_signals=0, sockets=sockets)
    return Snapshot(created=0.0, host="h", root_pid=40, processes=(p, *others))


def test_a_lone_loop_watching_only_its_own_self_pipe_waits_for_nobody():
    self_pipe = (SocketEnd(fd=4, inode=900, peer=901, elsewhere=()), SocketEnd(fd=5, inode=901, peer=900))
    [d] = nobody.lone_poll(_loop(*self_pipe))
    assert (d.kind, d.certainty, d.severity) == (Kind.NO_WAKER, Certainty.FACT, Severity.ERROR) and "asyncio event loop" in d.summary, d
    assert nobody.lone_poll(_loop(*self_pipe, timed=True)) == []  # a timer: it wakes by itself
    assert nobody.lone_poll(_loop(SocketEnd(fd=4, inode=900, peer=901, elsewhere=None), self_pipe[1])) == []  # box not read
    assert nobody.lone_poll(_loop(SocketEnd(fd=4, inode=900, peer=901, elsewhere=(77,)), self_pipe[1])) == []  # held outside
    listening = SocketEnd(fd=6, inode=950)
    assert nobody.lone_poll(_loop(*self_pipe, listening, polls=(4, 6))) == []  # a server: a client can connect
    writer = Process(pid=41, ppid=40, create_time=0.0, sockets=(SocketEnd(fd=5, inode=901, peer=900),))
    assert nobody.lone_poll(_loop(*self_pipe, others=(writer,))) == []  # another process of the tree can write

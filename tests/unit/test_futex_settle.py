"""After a dump that paused a process, its idle threads read "running" until they are
scheduled back into the call the pause interrupted (seen on a loaded machine: a deadlock
with no futex to follow). ``with_futex_settled`` reads /proc again, bounded, while such a
thread has not been on a CPU since (its schedstat CPU time unchanged), and for a while for
threads whose frames are a lock wait; a thread that runs its own code is not waited for."""

from __future__ import annotations

import asyncio

from pooltui.capture import locks, memory, procfs, settle
from pooltui.model import Frame, Process, Thread

FUTEX = memory.Syscall(7, 202, (0x7F0000001000, 0x80, 0, 0, 0, 0))


def _proc(code: str) -> Process:
    frame = Frame("transfer", "/srv/app.py", 9, code=code)
    return Process(pid=1, ppid=0, create_time=0.0, threads=(Thread(tid=7, ident=7, frames=(frame,)),))


EPOLL = memory.Syscall(7, 232, (4, 0x7F0000003000, 1, 0xFFFFFFFFFFFFFFFF, 0, 0))


def _reads(monkeypatch, *results, cpu=None):
    """/proc's answers, one per read: the system calls, and (``cpu``) the thread's CPU time."""
    calls = iter(results)
    monkeypatch.setattr(memory, "thread_syscalls", lambda pid: {7: next(calls)})
    monkeypatch.setattr(settle, "STEP", 0.001)
    times = iter(cpu or [])
    monkeypatch.setattr(procfs, "cpu_ns", lambda pid, tid: next(times, None))


def test_a_lock_waiter_read_running_is_read_again_until_it_sleeps(monkeypatch):
    _reads(monkeypatch, memory.Syscall(7, None), memory.Syscall(7, -1), FUTEX)
    proc = asyncio.run(locks.with_futex_settled(_proc("with ACCOUNTS_LOCK:")))
    assert proc.threads[0].futex == 0x7F0000001000


def test_a_timed_wait_the_pause_interrupted_is_not_waited_for(monkeypatch):
    # restart_syscall: a futex wait with a timeout resumed after the pause; it stays in it
    # until its deadline (a Timer's hour), so reading again would only spend SETTLE_SECONDS
    restarted = memory.Syscall(7, 219, (0x7F0000001000, 0x189, 0, 0x7F0000002000, 0, 0xFFFFFFFF))
    _reads(monkeypatch, restarted)  # a second read would raise StopIteration
    proc = asyncio.run(locks.with_futex_settled(_proc("with ACCOUNTS_LOCK:")))
    assert proc.threads[0].syscall == "restart_syscall" and proc.threads[0].timed is True


def test_a_thread_running_its_own_code_is_not_waited_for(monkeypatch):
    # it has been on a CPU since it was first read "running": it runs
    _reads(monkeypatch, memory.Syscall(7, None), cpu=[1000, 5000])  # a second read would raise StopIteration
    proc = asyncio.run(locks.with_futex_settled(_proc("total += price * count")))
    assert proc.threads[0].futex is None and proc.threads[0].syscall is None


def test_any_idle_thread_not_yet_scheduled_back_is_read_again_until_it_is_in_its_call(monkeypatch):
    """An event loop py-spy saw idle in epoll_wait, read "running" after the pause while it
    waits for a CPU (its CPU time unchanged): an idle loop read as running lost a deadlock
    through an executor at load ~10. Not a lock wait: read again all the same."""
    _reads(monkeypatch, memory.Syscall(7, None), memory.Syscall(7, None), memory.Syscall(7, -1), EPOLL, cpu=[1000] * 6)
    proc = asyncio.run(locks.with_futex_settled(_proc("self._selector.select(timeout)")))
    assert proc.threads[0].syscall == "epoll_wait"


def test_without_its_cpu_time_a_thread_not_waiting_on_a_lock_is_not_waited_for(monkeypatch):
    _reads(monkeypatch, memory.Syscall(7, None))  # no schedstat (cpu_ns None); a second read would raise
    proc = asyncio.run(locks.with_futex_settled(_proc("self._selector.select(timeout)")))
    assert proc.threads[0].syscall is None


def test_the_wait_is_bounded(monkeypatch):
    _reads(monkeypatch, *[memory.Syscall(7, None)] * 100_000, cpu=[1000] * 200_000)  # never scheduled
    monkeypatch.setattr(settle, "SETTLE_SECONDS", 0.05)
    monkeypatch.setattr(settle, "UNSCHEDULED_SECONDS", 0.1)
    proc = asyncio.run(locks.with_futex_settled(_proc("with ACCOUNTS_LOCK:")))
    assert proc.threads[0].futex is None

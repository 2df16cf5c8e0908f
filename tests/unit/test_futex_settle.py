"""After a dump that paused a process, its idle threads read "running" until they are
scheduled back into the call the pause interrupted (seen on a loaded machine: a deadlock
with no futex to follow). ``with_futex_settled`` reads /proc again, bounded, for threads
whose frames are a lock wait; a thread running its own code is not waited for."""

from __future__ import annotations

import asyncio

from pooltui.capture import locks, memory
from pooltui.model import Frame, Process, Thread

FUTEX = memory.Syscall(7, 202, (0x7F0000001000, 0x80, 0, 0, 0, 0))


def _proc(code: str) -> Process:
    frame = Frame("transfer", "/srv/app.py", 9, code=code)
    return Process(pid=1, ppid=0, create_time=0.0, threads=(Thread(tid=7, ident=7, frames=(frame,)),))


def _reads(monkeypatch, *results):
    calls = iter(results)
    monkeypatch.setattr(memory, "thread_syscalls", lambda pid: {7: next(calls)})
    monkeypatch.setattr(locks, "SETTLE_STEP", 0.001)


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
    _reads(monkeypatch, memory.Syscall(7, None))  # a second read would raise StopIteration
    proc = asyncio.run(locks.with_futex_settled(_proc("total += price * count")))
    assert proc.threads[0].futex is None


def test_the_wait_is_bounded(monkeypatch):
    _reads(monkeypatch, *[memory.Syscall(7, None)] * 10_000)
    monkeypatch.setattr(locks, "SETTLE_SECONDS", 0.05)
    proc = asyncio.run(locks.with_futex_settled(_proc("with ACCOUNTS_LOCK:")))
    assert proc.threads[0].futex is None

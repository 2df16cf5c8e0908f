"""A knot (a deadlock through ends, a Manager lock's waiters, a semaphore's woken waiters) is
confirmed by reading its threads twice a gap apart (``capture.ends.moved``). Given when the
capture's kernel facts were read (``captured``), the capture's read is the first of the two:
a thread not scheduled since, in the call it was seen in, needs no second wait (issue 28);
any other thread is read twice, a gap apart, exactly as without. Reads are scripted here
(``procfs.syscall_or_none``, the context switches); no time is asserted, only which reads and
waits were made."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable
from types import SimpleNamespace

import pytest

from pooltui.capture import ends, procfs
from pooltui.capture.procfs.formats import Syscall
from pooltui.model import Process, Snapshot, Thread

FUTEX, WORD = 202, 0x7F00DEAD0000
WAITING = Syscall(1, FUTEX, (WORD, 0x80, 0, 0, 0, 0))  # FUTEX_WAIT_PRIVATE, no timeout


def _raw(*threads: Thread) -> Snapshot:
    return Snapshot(created=0.0, host="h", root_pid=10, processes=(Process(pid=10, ppid=1, create_time=0.0, threads=threads),))


def _waiter(tid: int, switches: int = 7) -> Thread:
    return Thread(tid=tid, ident=tid, syscall="futex", futex=WORD, switches=switches, timed=False)


class Script:
    """What the kernel says of each thread, read after read, and every wait asked for."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, reads: dict[int, Iterable[tuple[Syscall, int]]]) -> None:
        self.reads, self.sleeps, self.count = {tid: iter(r) for tid, r in reads.items()}, [], dict.fromkeys(reads, 0)
        self.now: dict[int, tuple[Syscall, int]] = {}
        monkeypatch.setattr(procfs, "syscall_or_none", self._call)
        monkeypatch.setattr(ends, "_switches", lambda pid, tid: self.now[tid][1])
        monkeypatch.setattr(ends, "time", SimpleNamespace(monotonic=time.monotonic, sleep=self.sleeps.append))

    def _call(self, pid: int, tid: int) -> Syscall:
        self.now[tid] = next(self.reads[tid])
        self.count[tid] += 1
        return self.now[tid][0]


def test_a_thread_not_scheduled_since_the_capture_is_confirmed_without_a_second_wait(monkeypatch):
    script = Script(monkeypatch, {1: [(WAITING, 7)], 2: [(WAITING, 7)]})
    assert ends.moved(_raw(_waiter(1), _waiter(2)), {(10, 1), (10, 2)}, captured=time.monotonic() - 1) == set()
    assert script.count == {1: 1, 2: 1} and not any(script.sleeps)  # one read each, no gap waited


def test_without_the_capture_time_every_thread_is_read_twice_a_gap_apart(monkeypatch):
    script = Script(monkeypatch, {1: [(WAITING, 7), (WAITING, 7)]})
    assert ends.moved(_raw(_waiter(1)), {(10, 1)}) == set()
    assert script.count == {1: 2} and script.sleeps == [ends.CONFIRM_GAP]


def test_a_thread_that_ran_since_the_capture_is_read_twice_and_counts_only_if_it_moves_then(monkeypatch):
    # 1: a paused dump after the walk (two switches more), asleep in the same call since: still blocked
    # 2: ran since, and runs again across the gap: moved
    script = Script(monkeypatch, {1: [(WAITING, 9), (WAITING, 9)], 2: [(WAITING, 9), (WAITING, 10)]})
    assert ends.moved(_raw(_waiter(1), _waiter(2)), {(10, 1), (10, 2)}, captured=time.monotonic() - 1) == {(10, 2)}
    assert script.count == {1: 2, 2: 2} and script.sleeps.count(ends.CONFIRM_GAP) == 1


@pytest.mark.parametrize(
    "now",
    [
        Syscall(1, FUTEX, (WORD + 8, 0x80, 0, 0, 0, 0)),  # another futex word
        Syscall(1, 0, (3, 0, 1, 0, 0, 0)),  # a read() on fd 3
        Syscall(1, None),  # running
    ],
)
def test_a_thread_with_the_same_switches_but_not_in_the_call_the_capture_saw_is_read_twice(monkeypatch, now):
    """Not taken as still from the capture's read: read again a gap later, and judged by the
    two reads as without the capture's (running, or in a call the capture did not see: moved)."""
    script = Script(monkeypatch, {1: [(now, 7), (now, 7)]})
    gone = ends.moved(_raw(_waiter(1)), {(10, 1)}, captured=time.monotonic() - 1)
    assert script.count == {1: 2} and script.sleeps == [0.0, ends.CONFIRM_GAP]
    assert gone == (set() if now.nr == FUTEX else {(10, 1)})


def test_a_capture_that_just_ended_is_given_the_gap_before_its_read_counts_as_the_first(monkeypatch):
    script = Script(monkeypatch, {1: [(WAITING, 7)]})
    assert ends.moved(_raw(_waiter(1)), {(10, 1)}, captured=time.monotonic()) == set()
    assert script.count == {1: 1} and len(script.sleeps) == 1 and script.sleeps[0] > 0  # waited before the one read


def test_a_watched_knot_is_still_read_for_the_whole_watch(monkeypatch):
    # watch: a sleeper passed over may wake later: the capture's read saves nothing there
    script = Script(monkeypatch, {1: itertools.repeat((WAITING, 7))})
    assert ends.moved(_raw(_waiter(1)), {(10, 1)}, watch=0.01, captured=time.monotonic() - 1) == set()
    assert script.count[1] > 2

"""A lock read while it changes hands is no verdict. In a healthy busy pool (64 workers
taking one multiprocessing.Lock for microseconds) the semaphore's value and the 64 counts
are read one after the other: every read can miss the holder (a false dead_holder) or name
one that has already let go (a false lock_contention). A verdict stands only when the
waiters were not woken between two reads (``Lock.confirmed``, ``capture.ends.moved``)."""

import pytest

from pooltui.analysis import analyze
from pooltui.analysis.locks import confirm, dead_semaphores
from pooltui.model import Severity, replace
from tests.conftest import fixture_names, load_fixture

DEAD = [n for n in fixture_names("dead_holder-py") if not n.endswith(".truth")]
CONTENDED = [n for n in fixture_names("contention-py") if not n.endswith(".truth")]


def _unconfirmed(raw):  # type: ignore[no-untyped-def]
    return raw.with_(locks=tuple(replace(lock, confirmed=None) for lock in raw.locks))


@pytest.mark.parametrize("name", DEAD)
def test_a_dead_holder_stands_only_when_no_waiter_was_woken_between_the_reads(name):
    raw, _ = load_fixture(name)
    raw = _unconfirmed(raw)
    dead = dead_semaphores(analyze(raw))
    assert dead, "the recorded lock reads as taken by no live process"
    waiters = {w for lock in dead for w in lock.waiters}
    still = raw.with_(locks=confirm(raw.locks, raw.locks, dead, moved=()))
    [d] = [d for d in analyze(still).diagnoses if d.kind == "dead_holder"]
    assert d.severity is Severity.ERROR and d.certainty.value == "fact" and "no waiter was woken" in " ".join(d.evidence)
    # the same two reads, but one waiter ran in between: a release woke it, the lock has a live holder
    woken = raw.with_(locks=confirm(raw.locks, raw.locks, dead, moved={sorted(waiters)[0]}))
    assert [d for d in analyze(woken).diagnoses if d.severity is not Severity.INFO] == []


@pytest.mark.parametrize("name", CONTENDED)
def test_contention_whose_waiters_moved_is_a_lock_changing_hands(name):
    raw, _ = load_fixture(name)
    [d] = [d for d in analyze(raw).diagnoses if d.kind == "lock_contention"]
    assert d.severity is Severity.WARNING
    moved = raw.with_(locks=tuple(replace(lock, confirmed=False) for lock in raw.locks))
    assert [d for d in analyze(moved).diagnoses if d.kind == "lock_contention"] == []
    still = raw.with_(locks=tuple(replace(lock, confirmed=True) for lock in raw.locks))
    [d] = [d for d in analyze(still).diagnoses if d.kind == "lock_contention"]
    assert d.severity is Severity.WARNING and d.certainty.value == "fact"


@pytest.mark.parametrize("name", CONTENDED)
def test_contention_whose_holder_is_on_a_cpu_is_said_not_warned(name):
    """The holder seen running (a worker preempted a moment while the lock changes hands
    thousands of times a second, on a loaded machine): info, never a warning."""
    raw, truth = load_fixture(name)
    holder = truth["truth"]["holder"]["pid"]

    def on_cpu(p):  # type: ignore[no-untyped-def]
        if p.pid != holder:
            return p
        main = p.thread(p.pid)
        running = replace(main, frames=tuple(f for f in main.frames if "sleep" not in f.function), active=True, syscall=None, futex=None)
        return replace(p, threads=tuple(running if t.tid == p.pid else t for t in p.threads))

    s = analyze(raw.with_(processes=tuple(on_cpu(p) for p in raw.processes)))
    assert s.process(holder).thread(holder).wait.kind.value == "running"
    [d] = [d for d in s.diagnoses if d.kind == "lock_contention"]
    assert d.severity is Severity.INFO

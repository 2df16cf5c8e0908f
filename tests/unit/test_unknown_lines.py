"""Source lines a capture could not read (a relative script path on <= 3.8 before they were
read against the target's working directory; a file the target's user cannot read; a
deleted file) never add an error: a waiter whose line is unknown could be entering a
`with` of the lock it waits on, so its `__exit__` cannot be told from a holder's. Before,
a thread waiting at `with L:` for L taken by another thread's `L.acquire()` read as a
self-deadlock whenever its line was not read."""

import pytest

from pooltui.analysis import analyze
from pooltui.model import replace
from tests.conftest import fixture_names, load_fixture

NAMES = fixture_names()


def without_lines(raw):  # type: ignore[no-untyped-def]
    strip = lambda t: replace(t, frames=tuple(replace(f, code=None) for f in t.frames))  # noqa: E731
    return raw.with_(processes=tuple(replace(p, threads=tuple(map(strip, p.threads))) for p in raw.processes))


def errors(snapshot):  # type: ignore[no-untyped-def]
    return {(d.kind, d.subject) for d in snapshot.diagnoses if d.severity.value == "error"}


@pytest.mark.parametrize("name", NAMES or [pytest.param("none", marks=pytest.mark.skip(reason="no fixtures recorded"))])
def test_unknown_lines_never_add_an_error(name):
    raw, _ = load_fixture(name)
    blind, seeing = analyze(without_lines(raw)), analyze(raw)
    assert {e for e in errors(blind) if e[0] != "no_waker"} <= errors(seeing)
    # "nobody can end this wait" needs no source line: without one it may stand where, with
    # lines, another error tells the same thread's story (a queue's mutex orphaned by fork)
    told = {tid for d in seeing.diagnoses if d.severity.value == "error" for tid in d.tids}
    assert {tid for d in blind.diagnoses if d.kind == "no_waker" for tid in d.tids} <= told


@pytest.mark.parametrize("name", fixture_names("acquire_global-") or [pytest.param("none", marks=pytest.mark.skip(reason="no fixtures recorded"))])
def test_one_waiter_entering_a_with_of_a_lock_taken_by_acquire_is_no_self_deadlock(name):
    """acquire_global with one handler: it waits at `with FLUSH_LOCK:`, its own `__exit__` the
    only live one (the flusher took the lock with acquire()). Lines read or not: no error."""
    raw, _ = load_fixture(name)
    [lock] = [lock for lock in raw.locks if lock.name.endswith("FLUSH_LOCK")]
    one = replace(lock, waiters=lock.waiters[:1], with_exits=1)
    gone = set(lock.waiters[1:])
    raw = raw.with_(
        locks=tuple(one if x is lock else x for x in raw.locks),
        processes=tuple(replace(p, threads=tuple(t for t in p.threads if (p.pid, t.tid) not in gone)) for p in raw.processes),
    )
    assert errors(analyze(raw)) == set()
    assert errors(analyze(without_lines(raw))) == set()

"""Where `enter` on a waiting thread goes (ui.follow), on captures recorded from the demos:
the live holder; for a lock inherited locked across fork(), the parent's thread that held
it at fork (the recorded truth); else a reason, never a silent nothing."""

from __future__ import annotations

import pytest

from pooltui.analysis import analyze
from pooltui.model import replace
from pooltui.ui.follow import follow
from tests.conftest import fixture_names, load_fixture


def waiting(snapshot, pid):  # type: ignore[no-untyped-def]
    return [t for t in snapshot.process(pid).threads if t.wait is not None and t.wait.lock_id]


@pytest.mark.parametrize("name", fixture_names("logging_fork-"))
def test_orphaned_lock_goes_to_the_parents_thread_that_held_it_at_fork(name):
    raw, truth = load_fixture(name)
    snap = analyze(raw)
    holder = truth["truth"]["holder"]
    for pid in truth["truth"]["worker_pids"]:
        [thread] = waiting(snap, pid)
        go = follow(snap, thread)
        assert go.fork and (go.pid, go.tid) == (holder["pid"], holder["tid"]), (pid, go)


@pytest.mark.parametrize("name", fixture_names("logging_fork-")[:1])
def test_orphaned_lock_whose_thread_ended_in_the_parent_says_why(name):
    raw, truth = load_fixture(name)
    holder = truth["truth"]["holder"]
    parent = raw.process(holder["pid"])
    # the parent as it would be once 'log-flusher' ended
    without = replace(parent, threads=tuple(t for t in parent.threads if t.tid != holder["tid"]))
    raw = raw.with_(processes=tuple(without if p.pid == parent.pid else p for p in raw.processes))
    snap = analyze(raw)
    [thread] = waiting(snap, truth["truth"]["worker_pids"][0])
    go = follow(snap, thread)
    assert not go.possible and "no longer runs in the parent" in go.why, go


@pytest.mark.parametrize("name", fixture_names("abba-") + fixture_names("contention-") + fixture_names("plain_lock-"))
def test_a_held_lock_goes_to_its_holder(name):
    snap = analyze(load_fixture(name)[0])
    gos = [follow(snap, t) for p in snap.processes for t in waiting(snap, p.pid)]
    assert gos and all(go.possible and not go.fork for go in gos)
    assert all(snap.process(go.pid) is not None for go in gos)


@pytest.mark.parametrize(("prefix", "words"), [("acquire_global-", "records no owner"), ("dead_holder-", "holder died")])
def test_no_holder_to_go_to_says_why(prefix, words):
    for name in fixture_names(prefix):
        snap = analyze(load_fixture(name)[0])
        gos = [follow(snap, t) for p in snap.processes for t in waiting(snap, p.pid)]
        assert gos and all(not go.possible and words in go.why for go in gos), (name, gos)

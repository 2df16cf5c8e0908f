"""The `/` search looks inside stacks: a function, a file, a thread name, a lock name or a
verdict finds the processes and threads it appears in (recorded logging_fork captures)."""

from __future__ import annotations

import pytest

from pooltui.analysis import analyze
from pooltui.analysis.waits import process_state
from pooltui.ui.search import hits, matches
from tests.conftest import fixture_names, load_fixture


def found(snap, needle):  # type: ignore[no-untyped-def]
    procs = [p for p in snap.processes if matches(p, process_state(p), needle, snap)]
    return hits(procs, needle, snap)


@pytest.mark.parametrize("name", fixture_names("logging_fork-"))
def test_search_finds_threads_frames_locks_and_verdicts(name):
    raw, truth = load_fixture(name)
    snap = analyze(raw)
    t = truth["truth"]
    workers, holder = set(t["worker_pids"]), t["holder"]
    lock_name = t["lock"]["name"].rsplit(".", 1)[-1]  # flush_lock
    # a lock's name: every worker's waiting thread
    assert {pid for pid, i in found(snap, lock_name) if i is not None} == workers
    # a function only the holder runs, case-blind: the parent's thread that holds the lock
    hold = t["hold_site"]["function"].upper()
    assert (holder["pid"], [th.tid for th in snap.process(holder["pid"]).threads].index(holder["tid"])) in found(snap, hold)
    # a file
    assert {pid for pid, _ in found(snap, "logging_fork.py")} >= workers | {holder["pid"]}
    # a verdict's words (orphaned lock) name the workers
    assert {pid for pid, _ in found(snap, "inherited locked")} >= workers
    assert found(snap, "no-such-thing-anywhere") == []

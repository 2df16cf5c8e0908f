"""The rules for locks and pipes nobody is left to release or write (analysis/unreleasable.py),
on recorded fixtures: what must keep them quiet."""

from __future__ import annotations

from pooltui.analysis import analyze
from pooltui.model import replace
from tests.conftest import load_fixture


def _kinds(raw) -> list[str]:
    return [d.kind for d in analyze(raw).diagnoses]


def _child(raw, truth):
    return next(p for p in raw.processes if p.pid == truth["truth"]["child_pid"])


def _with_child(raw, child):
    return raw.with_(processes=tuple(child if p.pid == child.pid else p for p in raw.processes))


def test_a_fork_child_whose_only_thread_waits_on_the_plain_lock_is_an_orphan():
    raw, _truth = load_fixture("fork_queue_lock-py3.12")
    assert "orphaned_lock" in _kinds(raw)


def test_a_thread_the_kernel_counts_but_py_spy_does_not_show_could_release_it():
    raw, truth = load_fixture("fork_queue_lock-py3.12")
    child = _child(raw, truth)
    assert "orphaned_lock" not in _kinds(_with_child(raw, replace(child, num_threads=child.num_threads + 1)))


def test_a_waiter_with_a_timeout_is_not_waiting_forever():
    raw, truth = load_fixture("fork_queue_lock-py3.12")
    child = _child(raw, truth)
    timed = replace(child, threads=tuple(replace(t, timed=True) for t in child.threads))
    assert "orphaned_lock" not in _kinds(_with_child(raw, timed))


def test_a_self_deadlock_needs_an_untimed_wait():
    raw, truth = load_fixture("plain_reentry-py3.12")
    assert "deadlock_cycle" in _kinds(raw)
    tid = truth["truth"]["reloader"]["tid"]
    root = raw.process(raw.root_pid)
    timed = replace(root, threads=tuple(replace(t, timed=True) if t.tid == tid else t for t in root.threads))
    assert "deadlock_cycle" not in _kinds(raw.with_(processes=(timed, *raw.processes[1:])))

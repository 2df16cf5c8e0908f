"""Waits no rule names by their primitive, answered by who could end them (issue 26): a
multiprocessing Event, Condition, Semaphore or full Queue that only processes waiting on
the waiter map, a Manager's Event only they could send a request to set (demo/shared_wait.py), and locks on files the kernel's lock table says who
holds (demo/file_lock.py). Each hang is an error naming the waiter; each twin is quiet."""

from __future__ import annotations

import pytest

from tests.conftest import capture, interpreter_params

pytestmark = pytest.mark.live
VERSIONS = ("2.7", "3.8", "3.11", "3.13")


def _loud(s):
    from pooltui.model import Severity

    return [d for d in s.diagnoses if d.severity is not Severity.INFO]


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
@pytest.mark.parametrize("shape", ["event", "condition", "semaphore", "queue_put", "manager_event"])
@pytest.mark.parametrize("healthy", [False, True], ids=["hung", "healthy"])
def test_a_shared_primitive_only_its_waiters_could_post_is_a_deadlock(healthy, shape, python, start_demo):
    from pooltui.model import Certainty, Kind, Severity

    demo = start_demo("shared_wait", python, "--shape", shape, *(["--healthy"] if healthy else []))
    truth = demo.truth
    s = capture(demo.pid)
    loud = _loud(s)
    if healthy:
        assert [(d.kind.value, d.summary) for d in loud] == []
        return
    assert [d.kind for d in loud] == [Kind.DEADLOCK], [(d.kind.value, d.summary) for d in loud]
    d = loud[0]
    assert truth["job_pid"] in d.pids and set(d.pids) & set(truth["waiter_pids"]), d
    if shape == "manager_event":  # through the Manager's server thread, and its accepter: who could connect is a guess
        assert d.severity is Severity.WARNING and d.certainty is Certainty.GUESS and "a request to a Manager" in d.summary, d
        return
    assert d.severity is Severity.ERROR and "a set, notify, put or release from another process" in d.summary, d
    waiter = s.process(truth["waiter_pids"][0]).thread(truth["waiter_pids"][0])
    assert waiter.shared_by is not None and truth["job_pid"] in waiter.shared_by and demo.pid not in waiter.shared_by, waiter


@pytest.mark.parametrize("python", interpreter_params(VERSIONS))
@pytest.mark.parametrize("shape", ["crossed", "self", "record", "held", "healthy"])
def test_a_wait_for_a_file_lock_names_its_holder(shape, python, start_demo):
    from pooltui.model import Certainty, Kind, Severity, WaitKind

    demo = start_demo("file_lock", python, *(["--shape", "crossed", "--healthy"] if shape == "healthy" else ["--shape", shape]))
    truth = demo.truth
    s = capture(demo.pid)
    loud = [(d.kind.value, d.summary) for d in _loud(s)]
    if shape == "healthy":
        assert loud == []
        return
    waiters = [s.process(pid).thread(pid) for pid in truth["waiter_pids"]]
    for pid, t in zip(truth["waiter_pids"], waiters):
        assert t.wait.kind is WaitKind.FILE_LOCK and t.file_lock is not None, t
        assert t.file_lock.path.startswith(truth["folder"] + "/"), t.file_lock
        holders = [h for h in truth["holder_pids"] if h != pid] or [pid]
        assert list(t.file_lock.holders) == holders and t.wait.holder and f"pid {holders[0]}" in t.wait.holder, (t.file_lock, t.wait)
    if shape == "held":
        assert loud == []
        assert "sleeps" in waiters[0].wait.summary, waiters[0].wait.summary
        return
    [d] = [d for d in _loud(s)]
    assert d.kind is Kind.DEADLOCK and d.severity is Severity.ERROR, loud
    if shape == "crossed":
        assert d.certainty is Certainty.FACT and set(d.pids) == set(truth["waiter_pids"]) and "a lock on a file" in d.summary, d
    elif shape == "self":
        assert d.certainty is Certainty.FACT and d.pids == tuple(truth["waiter_pids"]) and "waits for itself" in d.summary, d
    else:  # record: the holder waits on an Event only the waiter (or the job, joining them) would set
        assert truth["holder_pids"][0] in d.pids, d

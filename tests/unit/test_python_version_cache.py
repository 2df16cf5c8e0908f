"""capture.procs reads each process's Python version once (its identity is the key), in
the capture's state, and under worker churn forgets the gone processes, not the live
ones: the cache stays bounded in bytes however many pids come and go."""

from __future__ import annotations

import contextvars
import os

import pytest

from pooltui.capture import procs, state

GONE = 2**22 + 1  # above Linux's largest pid_max (PID_MAX_LIMIT): never a live process
EXE = "/usr/bin/python3.11"  # the version is in the name: /proc/PID/maps is not read


@pytest.fixture(autouse=True)
def fresh_state():
    with state.active(state.CaptureState()) as kept:
        yield kept


def test_a_process_is_read_once(fresh_state):
    me = (os.getpid(), 1.0)
    fresh_state.versions.put(me, "2.7")
    assert procs._python_version(*me, EXE) == "2.7"


def test_a_version_is_kept_in_the_active_state_only(fresh_state):
    assert procs._python_version(os.getpid(), 3.0, EXE) == "3.11"
    assert fresh_state.versions.get((os.getpid(), 3.0)) == "3.11"
    with state.active(state.CaptureState()) as other:
        assert (os.getpid(), 3.0) not in other.versions


def test_churn_keeps_the_cache_bounded_and_the_live_process(fresh_state):
    me = (os.getpid(), 1.0)
    fresh_state.versions.put(me, "3.11")
    for i in range(20_000):  # 20,000 processes born and gone
        assert procs._python_version(GONE + i, float(i), EXE) == "3.11"
        if i % 100 == 0:
            assert procs._python_version(*me, EXE) == "3.11"  # the live one, asked about every refresh
    assert fresh_state.versions.nbytes <= fresh_state.versions.max_bytes
    assert len(fresh_state.versions) < 20_000
    assert me in fresh_state.versions


def test_outside_any_state_nothing_is_kept():
    def alone() -> int:  # in a context where no source made a state active
        assert procs._python_version(os.getpid(), 4.0, EXE) == "3.11"
        return len(state.current().versions)

    assert contextvars.Context().run(alone) == 0

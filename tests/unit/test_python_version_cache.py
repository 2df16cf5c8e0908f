"""capture.procs reads each process's Python version once (its identity is the key) and
forgets processes that are gone: under worker churn the cache stays about the size of the
live tree instead of filling with pids that will never be asked about again."""

from __future__ import annotations

import os

import pytest

from pooltui.capture import procs

GONE = 2**22 + 1  # above Linux's largest pid_max (PID_MAX_LIMIT): never a live process
EXE = "/usr/bin/python3.11"  # the version is in the name: /proc/PID/maps is not read


@pytest.fixture(autouse=True)
def empty_cache(monkeypatch):
    monkeypatch.setattr(procs, "_VERSIONS", {})
    monkeypatch.setattr(procs, "_SWEEP_AT", 64)


def test_a_process_is_read_once():
    me = (os.getpid(), 1.0)
    procs._VERSIONS[me] = "2.7"
    assert procs._python_version(*me, EXE) == "2.7"


def test_gone_processes_are_swept_and_live_ones_kept():
    me = (os.getpid(), 1.0)
    procs._VERSIONS[me] = "3.11"
    for i in range(63):
        procs._VERSIONS[(GONE + i, 1.0)] = "3.11"
    assert procs._python_version(os.getpid(), 2.0, EXE) == "3.11"  # the 65th entry: sweeps first
    assert set(procs._VERSIONS) == {me, (os.getpid(), 2.0)}


def test_churn_keeps_the_cache_bounded():
    sizes = []
    for i in range(2000):  # 2,000 processes born and gone
        assert procs._python_version(GONE + i, float(i), EXE) == "3.11"
        sizes.append(len(procs._VERSIONS))
    assert max(sizes) <= 64

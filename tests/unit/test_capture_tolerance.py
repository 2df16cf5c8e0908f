"""capture.snapshot's per-process wording over a recorded healthy pool."""

from __future__ import annotations

from pooltui.capture.errors import NotPython
from pooltui.capture.snapshot import _python_after_all
from pooltui.model import ProcError, replace
from tests.conftest import load_fixture


def test_a_fork_child_py_spy_cannot_read_is_not_called_not_python():
    raw, _ = load_fixture("healthy-py3.12")
    parent = raw.process(raw.root_pid)
    worker = next(p for p in raw.processes if p.ppid == parent.pid)
    refused = ProcError(code=NotPython.code, message="process is not a Python process py-spy can read", help=NotPython.help)
    broken = replace(worker, threads=(), error=refused)
    stranger = replace(broken, name="sleep")  # exec'd something else: py-spy's word stands
    out = _python_after_all([parent, broken, replace(stranger, pid=worker.pid + 10_000)])
    assert out[1].error.code == "pyspy_failed" and f"forked from Python process {parent.pid}" in out[1].error.message
    assert out[2].error.code == NotPython.code
    assert out[0] == parent


def test_a_child_that_had_just_started_is_not_called_broken():
    """Between fork and exec, or before its interpreter is up, a fresh child has nothing to
    read: that is no warning (a pool starting workers all the time showed one per capture)."""
    raw, _ = load_fixture("healthy-py3.12")
    parent = raw.process(raw.root_pid)
    worker = next(p for p in raw.processes if p.ppid == parent.pid)
    refused = ProcError(code=NotPython.code, message="process is not a Python process py-spy can read", help=NotPython.help)
    young = replace(worker, threads=(), error=refused)
    out = _python_after_all([parent, young], created=young.create_time + 0.3)
    assert out[1].error.code == NotPython.code and "had just started (0.3 s before this capture)" in out[1].error.message
    old = _python_after_all([parent, young], created=young.create_time + 60)
    assert old[1].error.code == "pyspy_failed"

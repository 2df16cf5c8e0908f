"""The py-spy JSON parser: real recorded output parses; anything else is a typed error."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pooltui.capture.errors import DumpTimeout, NotPython, PermissionDenied, ProcessGone, PySpyFailed
from pooltui.capture.pyspy import classify_failure, transient
from pooltui.capture.pyspyjson import parse_dump
from tests.conftest import FIXTURES, examples

RAW = sorted((FIXTURES / "pyspy").glob("*.json"))


NO_RAW = [pytest.param(None, marks=pytest.mark.skip(reason="no raw py-spy output recorded"))]


@pytest.mark.parametrize("path", RAW or NO_RAW, ids=lambda p: p.stem if p else "none")
def test_recorded_pyspy_output_parses(path):
    data = json.loads(path.read_text())
    threads = parse_dump(json.dumps(data), 1)
    assert len(threads) == len(data)
    for raw, thread in zip(data, threads):
        assert thread.tid == raw["os_thread_id"]
        assert thread.ident == raw["thread_id"]
        assert [f.function for f in thread.frames] == [f["name"] for f in raw["frames"]]
        assert [f.line for f in thread.frames] == [f["line"] for f in raw["frames"]]


@pytest.mark.parametrize("text", ["", "{", "[1,2", '{"a": 1}', "[1]", '[{"frames": 3}]', "Error: boom"])
def test_garbage_is_a_pyspy_failure(text):
    with pytest.raises(PySpyFailed):
        parse_dump(text, 42)


@settings(max_examples=examples(300), deadline=None)
@given(st.text(max_size=300))
def test_parser_never_crashes_on_arbitrary_text(text):
    try:
        parse_dump(text, 1)
    except PySpyFailed:
        pass


@settings(max_examples=examples(100), deadline=None)
@given(st.integers(min_value=0, max_value=2000))
def test_parser_on_truncated_real_output(cut):
    if not RAW:
        pytest.skip("no raw py-spy output recorded")
    text = RAW[0].read_text()[:cut]
    try:
        parse_dump(text, 1)
    except PySpyFailed:
        pass


@pytest.mark.parametrize(
    ("stderr", "error"),
    [
        ("Permission Denied: Try running again with elevated permissions", PermissionDenied),
        ("Error: Failed to find python version from target process", NotPython),
        ("Error: something new and strange", PySpyFailed),
    ],
)
def test_failure_text_maps_to_typed_errors(stderr, error):
    exc = classify_failure(1, stderr, 1)  # pid 1 exists: not "gone"
    assert isinstance(exc, error)
    assert exc.detail == stderr
    assert exc.help


@pytest.mark.parametrize(
    ("stderr", "again"),
    [
        ("Error: Failed to get stack traces\nCaused by: ...", True),
        ("Error: Failed to find a python interpreter in the .data section\n\nStack backtrace:\n   0: anyhow", True),
        ("Error: Failed to find python version from target process", False),  # `sleep`: not Python, for good
        ("Permission Denied: Try running again with elevated permissions", False),
    ],
)
def test_only_failures_that_come_and_go_are_read_again(stderr, again):
    assert transient(classify_failure(1, stderr, 1)) is again


def test_failure_of_a_vanished_pid_is_process_gone():
    exc = classify_failure(2**22 + 12345, "Error: Failed to get process executable name. Check that the process is running.", 1)
    assert isinstance(exc, ProcessGone)


def test_timeout_error_has_help():
    assert "timeout" in DumpTimeout("x").help

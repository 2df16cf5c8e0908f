"""Bad input that needs no target process: a malformed pid or a broken report file gets one
line of error, exit code 2 and no traceback, through the real `pooltui` entry point."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

POOLTUI = [sys.executable, "-m", "pooltui.cli"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*POOLTUI, *args], capture_output=True, text=True, timeout=60, env=dict(os.environ, PYTHONIOENCODING="utf-8"))


def assert_clean_failure(out: subprocess.CompletedProcess, code: int, words: str) -> None:
    assert out.returncode == code, out.stderr
    assert "Traceback" not in out.stderr
    assert words in out.stderr, out.stderr


@pytest.mark.parametrize("pid", ["0", "-5", "abc", "1.5"])
def test_invalid_pid_is_a_usage_error(pid):
    out = run("snapshot", "--", pid)
    assert_clean_failure(out, 2, "not a process id")
    assert len(out.stderr.strip().splitlines()) == 1 and "usage:" not in out.stderr, out.stderr  # no usage dump


@pytest.mark.parametrize("pid", ["0", "-5", "abc", "1.5"])
def test_doctor_invalid_pid(pid):
    out = run("doctor", "--", pid)
    assert_clean_failure(out, 2, "not a process id")


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("", "empty file"),
        ('{"schema": "pooltui.report/1", "snapshot":', "not JSON"),
        ('{"a": 1}', "not a pooltui report"),
        ('{"schema": "pooltui.report/7", "snapshot": {}}', "not supported"),
    ],
)
def test_open_rejects_bad_reports(tmp_path, content, words):
    path = tmp_path / "r.json"
    path.write_text(content)
    out = run("open", str(path))
    assert_clean_failure(out, 2, words)

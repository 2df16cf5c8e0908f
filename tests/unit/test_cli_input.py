"""Bad input that needs no target process: a malformed pid or a broken report file gets one
line of error, exit code 2 and no traceback, through `pooltui`'s entry point (``cli.main``,
in this process; once as a real `python -m pooltui.cli` process too)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import run_cli

POOLTUI = [sys.executable, "-m", "pooltui.cli"]


def run(*args: str) -> subprocess.CompletedProcess:
    return run_cli(*args)


def test_the_real_entry_point_says_it_in_one_line():
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    out = subprocess.run([*POOLTUI, "snapshot", "--", "abc"], capture_output=True, text=True, timeout=60, env=env)
    assert_clean_failure(out, 2, "not a process id")
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr


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


def test_attach_without_a_pid_and_without_a_terminal_says_how_to_find_one(monkeypatch):
    """The picker needs a terminal: a script or cron job gets one line and exit 2, not a hung TUI."""
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False, raising=False)
    out = run("attach")
    assert_clean_failure(out, 2, "needs a terminal")
    assert "pooltui ps" in out.stderr


@pytest.mark.parametrize("fmt", ["xml", ""])
def test_ps_rejects_an_unknown_format(fmt):
    assert_clean_failure(run("ps", "--format", fmt), 2, "invalid choice")

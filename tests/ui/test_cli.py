"""`pooltui open` and `pooltui attach` fail before the TUI starts, with one line and the
documented exit code, when there is nothing to show."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.tui


def pooltui(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pooltui.cli", *args], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def test_open_a_missing_report_exits_2(tmp_path):
    out = pooltui("open", str(tmp_path / "nope.json"))
    assert out.returncode == 2 and out.stderr.startswith("pooltui: no such file") and out.stdout == ""


def test_open_garbage_exits_2(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "pooltui.report/1", "snapshot": ')
    out = pooltui("open", str(bad))
    assert out.returncode == 2 and "not JSON" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_attach_to_a_missing_process_exits_3_before_the_app():
    out = pooltui("attach", "4194304")  # above pid_max's default ceiling: never a live process
    assert out.returncode == 3 and "pooltui:" in out.stderr
    assert "\x1b[" not in out.stdout + out.stderr  # the TUI never started


def test_attach_rejects_a_bad_interval():
    out = pooltui("attach", "123", "--interval", "0")
    assert out.returncode == 2 and "must be between 0.5 and 86400 seconds" in out.stderr

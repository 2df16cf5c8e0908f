"""capture.exits against the real kernel: the exits of processes we did not watch die
(and that were reaped at once) are reported with their wait status."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from pooltui.capture import exits
from pooltui.model import exit_text

pytestmark = pytest.mark.live


def _reported(watcher: exits.ExitWatcher, since: float, pid: int, timeout: float = 5.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [e for e in watcher.since(since, {pid}) if e.pid == pid]
        if found:
            return found[0]
        time.sleep(0.01)
    return None


def test_exits_of_reaped_processes_are_reported_with_their_status():
    watcher = exits.watcher()
    if not watcher.working:
        pytest.skip(f"no process-exit events on this machine: {watcher.reason}")
    since = time.time()
    code = subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(3)"])
    code.wait()  # reaped: /proc no longer shows how it ended
    killed = subprocess.Popen(["sleep", "60"])
    killed.send_signal(signal.SIGTERM)
    killed.wait()
    by_code, by_signal = _reported(watcher, since, code.pid), _reported(watcher, since, killed.pid)
    assert by_code is not None and exit_text(by_code.status) == "exit code 3"
    assert by_signal is not None and exit_text(by_signal.status) == "killed by SIGTERM"
    assert since <= by_code.at <= time.time() and by_signal.ppid in (None, os.getpid())
    assert not watcher.since(time.time() + 1, {code.pid, killed.pid})  # nothing from the future
    assert not [e for e in watcher.since(since, {1}) if e.pid in (code.pid, killed.pid)]  # only the pids asked about (or their children)

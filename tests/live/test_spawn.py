"""py-spy is spawned with posix_spawn and reaped by pooltui: a pooltui started with SIGCHLD
ignored (a disposition that survives exec, so a parent can hand it down) has its children
reaped by the kernel, and still reads every process."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from tests.live.test_startup import sleeper  # noqa: F401 (a fixture)

pytestmark = pytest.mark.live


def test_a_snapshot_with_sigchld_ignored_reads_the_process(sleeper, tmp_path):  # noqa: F811
    report = tmp_path / "r.json"
    out = subprocess.run(
        [sys.executable, "-m", "pooltui", "snapshot", str(sleeper), "-o", str(report), "--format", "json"],
        preexec_fn=lambda: signal.signal(signal.SIGCHLD, signal.SIG_IGN),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(report.read_text())
    snapshot = data.get("snapshot", data)
    [proc] = [p for p in snapshot["processes"] if p["pid"] == sleeper]
    assert proc.get("error") is None and proc["threads"], proc

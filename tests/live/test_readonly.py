"""Read-only guarantee: pooltui refreshing a pool (stacks, futex states, lock memory)
leaves it as it was: no signal delivered, no tracer left attached, the work it computes
is bit-identical, and its progress stays within noise of an unobserved run."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from pooltui import scenarios
from pooltui.sources import LiveSource

pytestmark = pytest.mark.live
TARGET = Path(__file__).resolve().parent.parent / "targets" / "readonly_target.py"


def status(path: Path) -> dict:
    return json.loads(path.read_text())


def rate(path: Path, seconds: float) -> float:
    """Iterations per second over ``seconds`` as the target itself counts them."""
    a = status(path)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)
    b = status(path)
    return (b["iterations"] - a["iterations"]) / (b["t"] - a["t"])


def tracer_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("TracerPid:"):
            return int(line.split()[1])
    return -1


@pytest.mark.parametrize("version", ["2.7", "3.12"])
def test_observing_changes_nothing_in_the_target(version, tmp_path):
    python = scenarios.find_python(version)
    if python is None:
        pytest.skip(f"Python {version} is not installed")
    fifo, stat_file = tmp_path / "ready", tmp_path / "status.json"
    os.mkfifo(fifo)
    proc = subprocess.Popen([python, str(TARGET), str(fifo), str(stat_file)], start_new_session=True)
    try:
        info = scenarios.wait_ready(str(fifo), proc, 30)
        while not stat_file.exists():
            time.sleep(0.05)
        baseline = rate(stat_file, 3.0)

        async def observe(seconds: float) -> tuple[int, int]:
            """Refreshes made, and how many read lock memory (every process is dumped again each time)."""
            source = LiveSource(info["pid"])
            n, with_locks, deadline = 0, 0, time.monotonic() + seconds
            while time.monotonic() < deadline:
                snap = await source.capture(pids=[p.pid for p in (source.previous.processes if source.previous else [])] or None)
                n += 1
                with_locks += bool(snap.locks)
                await asyncio.sleep(0.25)
            return n, with_locks

        before = status(stat_file)
        refreshes, lock_reads = asyncio.run(observe(3.0))
        after = status(stat_file)
        observed = (after["iterations"] - before["iterations"]) / (after["t"] - before["t"])
        assert refreshes >= 8
        assert lock_reads >= refreshes // 2, "the observer must really read lock memory here"
        assert after["signals"] == 0, "a signal reached the target"
        for pid in [info["pid"], *info["workers"]]:
            assert tracer_of(pid) == 0, f"pid {pid} is still traced"
        # 2 CPUs shared by 2 spinning workers, the parent and the observer itself: noise is large
        assert observed >= 0.7 * baseline, (observed, baseline)
        for out in tmp_path.glob("status.json.out*"):
            lines = out.read_text().splitlines()
            assert lines, out
            h, n = hashlib.sha256(), 0
            for line in lines[:5]:
                upto, digest = line.split()
                while n < int(upto):
                    h.update(str(n).encode())
                    n += 1
                assert h.hexdigest() == digest, f"{out.name}: work diverged at {upto}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
        proc.wait()

"""Read-only guarantee: pooltui refreshing a pool (stacks, futex states, lock memory)
leaves it as it was: no signal delivered, no tracer left attached, the work it computes
is bit-identical, and it keeps making progress while and after it is watched.

Properties, not rates: on a shared 2-CPU machine how many refreshes fit in a second, or
how fast the target counts, says more about the other load than about pooltui (rates are
measured side by side by `make bench`: "throughput loss" in docs/speed.md)."""

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
REFRESHES = 8  # each dumps every process again and reads the lock the parent's thread waits on


def status(path: Path) -> dict:
    return json.loads(path.read_text())


def progressed(path: Path, since: dict) -> dict:
    """The target's next status that counts more work than ``since`` (waits as long as it takes)."""
    while True:
        now = status(path)
        if now["iterations"] > since["iterations"]:
            return now
        time.sleep(0.05)


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
        before = status(stat_file)

        async def observe(refreshes: int) -> int:
            """Refreshes that read lock memory (every process is dumped again each time)."""
            source = LiveSource(info["pid"])
            with_locks = 0
            for _ in range(refreshes):
                snap = await source.capture(pids=[p.pid for p in (source.previous.processes if source.previous else [])] or None)
                with_locks += bool(snap.locks)
                await asyncio.sleep(0.25)
            return with_locks

        lock_reads = asyncio.run(observe(REFRESHES))
        assert lock_reads >= REFRESHES // 2, "the observer must really read lock memory here"
        during = progressed(stat_file, before)  # the workers counted on while being dumped...
        after = progressed(stat_file, during)  # ...and go on once the observer is gone
        assert after["signals"] == 0, "a signal reached the target"
        for pid in [info["pid"], *info["workers"]]:
            assert tracer_of(pid) == 0, f"pid {pid} is still traced"
        outs = sorted(tmp_path.glob("status.json.out*"))
        assert outs, "the workers write their digests"
        for out in outs:
            while not out.read_text().splitlines():  # a worker reaches its first checkpoint in its own time
                assert proc.poll() is None, "the target died"
                time.sleep(0.05)
            lines = out.read_text().splitlines()
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

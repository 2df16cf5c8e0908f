"""Paused or unpaused, chosen from what the walk saw: a process that was scheduled since
the walk (a bursty worker) is read paused at once, with one py-spy run; one asleep
throughout is read unpaused, also with one run. Real processes, real py-spy; the runs are
counted by wrapping ``pyspy.dump``."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest

from pooltui.capture import procs, pyspy
from pooltui.capture.dump import dump_consistent

pytestmark = pytest.mark.live

BURSTY = (
    "import time\n"
    "print(flush=True)\n"
    "def burst():\n"
    "    total = 0\n"
    "    for i in range(2000):\n"
    "        total += i * i % 7\n"
    "while True:\n"
    "    time.sleep(0.01)\n"
    "    burst()\n"
)
ASLEEP = "import time\nprint(flush=True)\ntime.sleep(600)\n"


def _start(code: str):
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"\n"
    return proc


@pytest.fixture
def target(request):
    proc = _start(request.param)
    yield proc.pid
    proc.kill()
    proc.wait()


def _dump_counted(pid: int, walk: dict, monkeypatch) -> tuple[list[bool], list]:
    runs: list[bool] = []
    real = pyspy.dump

    async def counted(pid, options=pyspy.DumpOptions(), exe=None, **kwargs):
        runs.append(options.nonblocking)
        return await real(pid, options, exe, **kwargs)

    monkeypatch.setattr(pyspy, "dump", counted)
    threads = asyncio.run(dump_consistent(pid, pyspy.DumpOptions(), sched=walk))
    return runs, threads


@pytest.mark.parametrize("target", [BURSTY], indirect=True)
def test_a_process_that_ran_since_the_walk_is_read_paused_in_one_run(target, monkeypatch):
    walk = procs.read_sched(target)
    deadline = time.monotonic() + 30
    while not procs.ran_since(walk, procs.read_sched(target)):  # it wakes every 10 ms
        assert time.monotonic() < deadline, "the bursty target never ran"
        time.sleep(0.005)
    runs, threads = _dump_counted(target, walk, monkeypatch)
    assert runs == [False]  # paused, and only once
    assert [f.function for f in threads[0].frames][-1] == "<module>"


@pytest.mark.parametrize("target", [ASLEEP], indirect=True)
def test_a_process_asleep_since_the_walk_is_read_unpaused_in_one_run(target, monkeypatch):
    deadline = time.monotonic() + 30
    while procs.any_running(procs.read_sched(target)):  # it printed its line, it may not be in sleep() yet
        assert time.monotonic() < deadline, "the target never went to sleep"
        time.sleep(0.005)
    walk = procs.read_sched(target)
    runs, threads = _dump_counted(target, walk, monkeypatch)
    assert runs == [True]
    assert [f.function for f in threads[0].frames][-1] == "<module>"

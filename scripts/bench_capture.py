"""Capture measurements for scripts/bench.py: pooltui against plain py-spy on one tree.

Every function takes a running tree (root pid + pids) and returns seconds (or a dict of
numbers); nothing here prints. The caller keeps the tree alive and stops it.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import time
from dataclasses import replace
from typing import Any

from pooltui.capture import procs, pyspy, sourcelines
from pooltui.capture.snapshot import CaptureOptions
from pooltui.sources import LiveSource

PYSPY_TIMEOUT = 120.0


def pyspy_serial(pids: list[int]) -> float:
    """What a person does by hand: ``py-spy dump --pid P`` for each pid, one after another."""
    exe = pyspy.find_pyspy()
    start = time.perf_counter()
    for pid in pids:
        subprocess.run([exe, "dump", "--pid", str(pid)], capture_output=True, timeout=PYSPY_TIMEOUT)
    return time.perf_counter() - start


def pyspy_subprocesses(root: int) -> tuple[float, int]:
    """``py-spy dump --pid ROOT --subprocesses`` (text: py-spy 0.4's --json stops after the
    root). Returns the time and how many processes it printed."""
    exe = pyspy.find_pyspy()
    start = time.perf_counter()
    out = subprocess.run([exe, "dump", "--pid", str(root), "--subprocesses"], capture_output=True, text=True, timeout=PYSPY_TIMEOUT)
    return time.perf_counter() - start, out.stdout.count("\nPython v") + out.stdout.startswith("Python v")


def cold() -> None:
    """Forget what earlier captures cached, so a "first capture" is one."""
    sourcelines._FILES.clear()
    procs._python_version.cache_clear()


async def full(root: int, options: CaptureOptions = CaptureOptions()) -> tuple[float, LiveSource]:
    """pooltui's first capture of the tree (walk, stacks, locks, analysis), from cold."""
    cold()
    source = LiveSource(root, root=root, options=options)
    start = time.perf_counter()
    await source.capture()
    return time.perf_counter() - start, source


async def refreshes(source: LiveSource, count: int) -> dict[str, float]:
    """``count`` refreshes of a source that captured once already: median seconds and how
    many processes each re-dumped (median)."""
    times, dumped = [], []
    for _ in range(count):
        start = time.perf_counter()
        snapshot = await source.capture()
        times.append(time.perf_counter() - start)
        dumped.append(sum(1 for p in snapshot.processes if p.threads and not p.reused))
    return {"seconds": statistics.median(times), "dumped": statistics.median(dumped), "processes": len(snapshot.processes)}


async def concurrency_sweep(root: int, levels: tuple[int, ...], reps: int) -> dict[int, float]:
    """Full-capture time (best of ``reps``) at each number of dumps in flight."""
    out = {}
    for level in levels:
        runs = [(await full(root, CaptureOptions(concurrency=level)))[0] for _ in range(reps)]
        out[level] = min(runs)
    return out


def _torn(threads: list[Any], expect: str) -> bool:
    return not threads or not any(f.function == expect for t in threads for f in t.frames)


async def pause_modes(pid: int, expect: str, count: int) -> dict[str, dict[str, float]]:
    """Dump one running process ``count`` times paused (default py-spy) and unpaused
    (--nonblocking): per mode the mean wall time per dump and the share of dumps that
    failed or missed the function the process is known to be in (``expect``)."""
    exe = pyspy.find_pyspy()
    out = {}
    for mode, nonblocking in (("paused", False), ("unpaused", True)):
        bad, start = 0, time.perf_counter()
        for _ in range(count):
            try:
                threads = await pyspy.dump(pid, replace(pyspy.DumpOptions(), nonblocking=nonblocking), exe)
            except Exception:
                bad += 1
                continue
            bad += _torn(threads, expect)
        out[mode] = {"ms_per_dump": (time.perf_counter() - start) / count * 1000, "bad_share": bad / count}
    return out


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)

"""Capture measurements for scripts/bench.py: pooltui against plain py-spy on one tree.

Every function takes a running tree (root pid + pids) and returns seconds (or a dict of
numbers); nothing here prints. The caller keeps the tree alive and stops it.
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import subprocess
import time
from typing import Any

from pooltui.capture import pyspy
from pooltui.capture.snapshot import CaptureOptions
from pooltui.model import replace
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


def children_cpu() -> float:
    """CPU seconds (user + system) of this process's finished children: its py-spy runs."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def full(root: int, options: CaptureOptions = CaptureOptions()) -> tuple[float, LiveSource]:
    """pooltui's first capture of the tree (walk, stacks, locks, analysis), from cold: a new
    source starts with an empty capture state (capture.state)."""
    source = LiveSource(root, root=root, options=options)
    start = time.perf_counter()
    await source.capture()
    return time.perf_counter() - start, source


class DumpCounter:
    """Counts py-spy runs (every dump of pooltui's goes through ``pyspy.dump``)."""

    def __init__(self) -> None:
        self.calls = 0
        self._dump = pyspy.dump

    def __enter__(self) -> DumpCounter:
        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return await self._dump(*args, **kwargs)

        pyspy.dump = counted  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        pyspy.dump = self._dump  # type: ignore[assignment]


async def refreshes(source: LiveSource, count: int, settle: int = 60) -> dict[str, float]:
    """Refreshes of a source that captured once already: the median of the first ``count``,
    then, once a refresh runs py-spy only for the processes it re-dumps (the verdicts'
    one-off looks with locals, ``LiveCollector.look_closer``, are done; at most ``settle``
    refreshes), ``count`` more (steady state). The best time of each series (other load on
    a shared machine only adds time), the median of how many processes each re-dumped and
    how many times py-spy ran."""

    async def series(n: int) -> tuple[list[float], list[int], list[int]]:
        times, dumped, runs = [], [], []
        for _ in range(n):
            with DumpCounter() as counter:
                start = time.perf_counter()
                snapshot = await source.capture()
                times.append(time.perf_counter() - start)
            dumped.append(sum(1 for p in snapshot.processes if p.threads and not p.reused))
            runs.append(counter.calls)
        return times, dumped, runs

    first, dumped, runs = await series(count)
    for _ in range(settle):
        if runs[-1] <= dumped[-1]:  # no py-spy run beyond one per re-dumped (running) process
            break
        more = await series(1)
        dumped.append(more[1][0])
        runs.append(more[2][0])
    steady, steady_dumped, steady_runs = await series(count)
    median = statistics.median
    return {
        "seconds": min(first),
        "dumped": median(dumped),
        "pyspy_runs": median(runs[:count]),
        "settled_after": len(runs),
        "steady_seconds": min(steady),
        "steady_dumped": median(steady_dumped),
        "steady_pyspy_runs": median(steady_runs),
    }


async def concurrency_sweep(root: int, levels: tuple[int, ...], reps: int) -> dict[int, float]:
    """Full-capture time (best of ``reps``) at each number of dumps in flight."""
    out = {}
    for level in levels:
        runs = [(await full(root, CaptureOptions(concurrency=level)))[0] for _ in range(reps)]
        out[level] = min(runs)
    return out


def _shape(threads: list[Any]) -> list[tuple[str, ...]]:
    """Per thread, the functions of its stack from the outermost down to the one below the
    innermost (the innermost of a spinning thread legitimately varies)."""
    return sorted(tuple(f.function for f in t.frames[1:]) for t in threads)


async def pause_modes(pid: int, inner: set[str], count: int) -> dict[str, dict[str, float]]:
    """Dump one running process ``count`` times paused (default py-spy) and unpaused
    (--nonblocking): per mode the mean wall time per dump and the share of dumps that
    failed or are not consistent: a stack whose outer frames differ from a paused
    reference dump, or whose innermost function is not one of ``inner``."""
    exe = pyspy.find_pyspy()
    reference = _shape(await pyspy.dump(pid, pyspy.DumpOptions(), exe))
    out = {}
    for mode, nonblocking in (("paused", False), ("unpaused", True)):
        bad, start = 0, time.perf_counter()
        for _ in range(count):
            try:
                threads = await pyspy.dump(pid, replace(pyspy.DumpOptions(), nonblocking=nonblocking), exe)
            except Exception:
                bad += 1
                continue
            bad += _shape(threads) != reference or any(not t.frames or t.frames[0].function not in inner for t in threads)
        out[mode] = {"ms_per_dump": (time.perf_counter() - start) / count * 1000, "bad_share": bad / count}
    return out


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)
